// sessionkeeper/testing: a manual clock for tests, so an app can drive its idle dialog, refresh and
// sign-out deterministically. Not part of the core: src/clock.ts stays the only place in the CORE that
// touches real timers; this separate test-only entry uses one real task per settle (MessageChannel, or
// setTimeout 0 as a fallback) and nothing else. It imports only types from the core, so it adds no
// runtime code of the core to a test bundle.
import type { Clock } from './types.js'

/** The most timers one `advance()` fires before it gives up: a guard against timer loops. (`sleep()` fires a fixed list.) */
const MAX_TIMERS = 10_000

/**
 * A {@link Clock} that only moves when the test says so. Pass it as `clock` to `createSession` (and to
 * the React/Vue bindings for the idle countdown), then move time with {@link ManualClock.advance}.
 *
 * Timers fire in deadline order (ties in the order they were set), each at its own instant, and every
 * pending promise chain runs between two timers (see {@link settled}).
 */
export interface ManualClock extends Clock {
  /** Wall-clock time, epoch ms. Moves with `advance`/`sleep`; jumps with `setWallClock`. */
  now(): number
  /** Monotonic ms. Moves with `advance`/`sleep` only; `setWallClock` leaves it alone. */
  monotonic(): number
  /**
   * Schedules `callback` `delayMs` from now on this clock (a delay that is not positive, or NaN, means
   * 0). Returns a function that cancels it (calling it again, or after the timer fired, does nothing).
   * @throws TypeError when `callback` is not a function
   */
  setTimeout(callback: () => void, delayMs: number): () => void
  /**
   * Moves time forward by `ms`, firing every timer due by then in deadline order, each at its own
   * instant (`now()` reads the timer's deadline inside its callback), settling before each timer and
   * once at the end. Timers set by a callback fire in the same call if they fall due within `ms`.
   * `advance(0)` just fires what is due now and settles.
   * @throws TypeError when `ms` is negative, NaN or infinite
   * @throws Error when more than 10,000 timers fire in one call (a timer that keeps rescheduling itself)
   */
  advance(ms: number): Promise<void>
  /**
   * Jumps the wall clock (not the monotonic clock) to `at`, like a user changing the system time.
   * Fires nothing: the next `advance` does.
   * @throws TypeError when `at` is not a finite number
   */
  setWallClock(at: number): void
  /**
   * Like waking from sleep: both clocks jump by `ms` at once, then every timer overdue by then fires
   * once, in deadline order, settling before each (unlike `advance`, the callbacks all see the wake-up
   * time). Timers those callbacks set do not fire until the next `advance`.
   * @throws TypeError when `ms` is negative, NaN or infinite
   */
  sleep(ms: number): Promise<void>
  /** Resolves once every queued promise chain has run: the same as the standalone {@link settled}. */
  settled(): Promise<void>
  /** Number of timers set and not yet fired or cancelled. */
  pending(): number
  /** The delay of every timer ever set on this clock, in order, as passed (not clamped). */
  readonly delays: readonly number[]
}

/** Options of {@link createManualClock}. */
export interface ManualClockOptions {
  /**
   * The wall-clock start, epoch ms.
   * @default Date.UTC(2026, 0, 1) (fixed, so runs are reproducible)
   */
  readonly now?: number
}

/**
 * Resolves after one real macrotask (a `MessageChannel` message, or `setTimeout(0)` where there is no
 * `MessageChannel`). Every microtask queued before it (a promise chain of any length that does not wait
 * for I/O or a timer) has run by then. IndexedDB, network and other I/O complete on their own tasks:
 * await those explicitly.
 *
 * @example
 * ```ts
 * session.extend()
 * await settled()
 * expect(dialog.hidden).toBe(true)
 * ```
 */
export function settled(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof MessageChannel !== 'function') return void setTimeout(resolve, 0)
    const { port1, port2 } = new MessageChannel()
    port1.onmessage = () => {
      port1.close()
      port2.close()
      resolve()
    }
    port2.postMessage(null)
  })
}

function duration(name: string, ms: number): number {
  if (typeof ms !== 'number' || !(ms >= 0) || ms === Infinity) throw new TypeError(`${name}: expected a finite number of ms >= 0, got ${String(ms)}`)
  return ms
}

/**
 * Creates a {@link ManualClock}: a clock for tests that only moves when told to. For tests only; apps
 * use the system clock (leave `clock` out of `createSession`).
 *
 * @example
 * ```ts
 * import { createSession } from 'sessionkeeper'
 * import { createManualClock } from 'sessionkeeper/testing'
 *
 * it('warns one minute before the idle sign-out, then signs out', async () => {
 *   const clock = createManualClock()
 *   const session = createSession({ clock, persist: 'memory', sync: false, idle: { timeoutMs: 15 * 60_000, warningMs: 60_000 } })
 *   session.start()
 *   await session.ready()
 *   await session.login({ accessToken: 'at', refreshToken: 'rt', expiresAt: clock.now() + 3_600_000 })
 *
 *   await clock.advance(14 * 60_000)
 *   expect(session.getSnapshot()).toMatchObject({ status: 'authenticated', idle: { phase: 'warning' } })
 *
 *   await clock.advance(60_000)
 *   expect(session.getSnapshot()).toEqual({ status: 'anonymous', reason: 'idle' })
 *   await session.destroy()
 * })
 * ```
 * @throws TypeError when `options.now` is given and is not a finite number
 */
export function createManualClock(options: ManualClockOptions = {}): ManualClock {
  const start = options.now ?? Date.UTC(2026, 0, 1)
  if (typeof start !== 'number' || !Number.isFinite(start)) throw new TypeError(`createManualClock: now must be a finite number, got ${String(start)}`)
  let wall = start
  let mono = 1_000
  let seq = 0
  const timers = new Map<number, { at: number; fn: () => void }>()
  const delays: number[] = []
  /** The earliest timer due by `by` (ties: the first set), or undefined. */
  const next = (by: number) => {
    let found: [number, { at: number; fn: () => void }] | undefined
    for (const entry of timers) if (entry[1].at <= by && (!found || entry[1].at < found[1].at)) found = entry
    return found
  }
  const tooMany = () => new Error(`ManualClock.advance: more than ${MAX_TIMERS} timers fired; does a timer keep rescheduling itself?`)
  return {
    delays,
    now: () => wall,
    monotonic: () => mono,
    setTimeout(callback, delayMs) {
      if (typeof callback !== 'function') throw new TypeError('ManualClock.setTimeout: callback must be a function')
      const id = ++seq
      delays.push(delayMs)
      timers.set(id, { at: mono + (delayMs > 0 ? delayMs : 0), fn: callback })
      return () => void timers.delete(id)
    },
    async advance(ms) {
      const end = mono + duration('ManualClock.advance', ms)
      for (let fired = 0; ; fired++) {
        await settled()
        const due = next(end)
        if (!due) break
        if (fired >= MAX_TIMERS) throw tooMany()
        timers.delete(due[0])
        wall += due[1].at - mono
        mono = due[1].at
        due[1].fn()
      }
      wall += end - mono
      mono = end
      await settled()
    },
    setWallClock(at) {
      if (typeof at !== 'number' || !Number.isFinite(at)) throw new TypeError(`ManualClock.setWallClock: expected a finite epoch ms, got ${String(at)}`)
      wall = at
    },
    async sleep(ms) {
      duration('ManualClock.sleep', ms)
      wall += ms
      mono += ms
      // Only the timers overdue at wake-up, each once; a callback's cancel of a later one is honoured.
      const overdue = [...timers].filter(([, t]) => t.at <= mono).sort((a, b) => a[1].at - b[1].at)
      for (const [id, t] of overdue) {
        await settled()
        if (timers.delete(id)) t.fn()
      }
      await settled()
    },
    settled,
    pending: () => timers.size,
  }
}
