// Shared by the React and Vue binding suites.
import { createSession } from '../../src/index'
import type { Clock, Session, SessionOptions, SessionSnapshot, TokenSet } from '../../src/types'

let seq = 0
/** A name no other test (or earlier run) uses, so sessions of different tests never see each other. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${++seq}-${Math.random().toString(36).slice(2, 8)}`
}

/** A single-tab session: memory persistence, no cross-tab sync. */
export function memorySession(prefix: string, options: SessionOptions = {}): Session {
  return createSession({ name: uniqueName(prefix), persist: 'memory', sync: false, ...options })
}

export function tokens(clock: Pick<Clock, 'now'> = { now: () => Date.now() }, accessToken = 'access-token-1'): TokenSet {
  return { accessToken, expiresAt: clock.now() + 3_600_000 }
}

/** Resolves when `session`'s snapshot satisfies `predicate` (checked now and after every change). */
export function until(session: Session, predicate: (s: SessionSnapshot) => boolean): Promise<SessionSnapshot> {
  return new Promise((resolve) => {
    const check = () => {
      const s = session.getSnapshot()
      if (!predicate(s)) return false
      off?.()
      resolve(s)
      return true
    }
    let off: (() => void) | undefined
    if (check()) return
    off = session.subscribe(check)
  })
}

/** `session` with `subscribe` wrapped to count live listeners. */
export function countingSubscribe<S extends Session>(session: S): S & { listeners: () => number } {
  let live = 0
  return {
    ...session,
    subscribe(listener: () => void) {
      const off = session.subscribe(listener)
      live++
      let done = false
      return () => {
        if (done) return
        done = true
        live--
        off()
      }
    },
    listeners: () => live,
  }
}

/** `session` with `start` wrapped to count net running starts. */
export function countingStart<S extends Session>(session: S): S & { running: () => number; starts: () => number } {
  let running = 0
  let starts = 0
  return {
    ...session,
    start() {
      starts++
      running++
      const stop = session.start()
      let done = false
      return () => {
        if (done) return
        done = true
        running--
        stop()
      }
    },
    running: () => running,
    starts: () => starts,
  }
}

/** A clock wrapper that counts timers armed through it and still pending (for the hooks' countdown). */
export function countingClock(clock: Pick<Clock, 'now' | 'setTimeout'>): Pick<Clock, 'now' | 'setTimeout'> & { pending: () => number } {
  let pending = 0
  return {
    now: () => clock.now(),
    setTimeout(callback, delayMs) {
      pending++
      let live = true
      const done = () => {
        if (live) pending--
        live = false
      }
      const cancel = clock.setTimeout(() => {
        done()
        callback()
      }, delayMs)
      return () => {
        done()
        cancel()
      }
    },
    pending: () => pending,
  }
}
