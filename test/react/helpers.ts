// Shared by the React and Vue binding suites (sessions, names and until() come from test/support/util).
import type { Clock, Session, TokenSet } from '../../src/types'

export function tokens(clock: Pick<Clock, 'now'> = { now: () => Date.now() }, accessToken = 'access-token-1'): TokenSet {
  return { accessToken, expiresAt: clock.now() + 3_600_000 }
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
