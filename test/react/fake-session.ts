// A minimal in-test Session: a settable snapshot plus spies on start/stop/subscribe/extend.
// Used where the test needs exact control (listener counts, selector memoization); the integration
// cases use the real createSession.
import type { Session, SessionSnapshot } from '../../src/types'

export interface FakeSession extends Session {
  set(snapshot: SessionSnapshot): void
  readonly listeners: () => number
  readonly running: () => number
  readonly calls: { start: number; stop: number; extend: number }
}

export function createFakeSession(initial: SessionSnapshot = { status: 'loading' }): FakeSession {
  let snapshot = initial
  let running = 0
  const listeners = new Set<() => void>()
  const calls = { start: 0, stop: 0, extend: 0 }
  const unsupported = () => Promise.reject(new Error('not in the fake'))
  return {
    calls,
    set(next) {
      snapshot = next
      for (const l of [...listeners]) l()
    },
    listeners: () => listeners.size,
    running: () => running,
    start() {
      calls.start++
      running++
      let stopped = false
      return () => {
        if (stopped) return
        stopped = true
        calls.stop++
        running--
      }
    },
    getSnapshot: () => snapshot,
    subscribe(listener) {
      const l = () => listener()
      listeners.add(l)
      return () => void listeners.delete(l)
    },
    extend() {
      calls.extend++
    },
    touch() {},
    ready: unsupported,
    login: unsupported,
    logout: unsupported,
    getAccessToken: () => Promise.resolve(snapshot.status === 'authenticated' ? snapshot.tokens.accessToken : null),
    refresh: unsupported,
    fetch: unsupported,
    on: () => () => {},
    destroy: () => Promise.resolve(),
  }
}
