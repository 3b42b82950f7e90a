import type { Clock } from '../../src/types'

/** A clock that only moves when the test says so. Timers fire in deadline order during advance(). */
export interface ManualClock extends Clock {
  /** Moves time forward by `ms`, firing due timers in order (each at its own instant). */
  advance(ms: number): Promise<void>
  /** Jumps the wall clock (not the monotonic clock) to `at`, like a user changing the system time. Fires nothing. */
  setWallClock(at: number): void
  /** Like waking from sleep: time jumps by `ms`, then every overdue timer fires once. */
  sleep(ms: number): Promise<void>
  /** Number of pending timers. */
  pending(): number
  /** Delays of every timer ever scheduled. */
  readonly delays: number[]
}

export function createManualClock(start = Date.UTC(2026, 0, 1)): ManualClock {
  let wall = start
  let mono = 1_000
  let seq = 0
  const timers = new Map<number, { at: number; fn: () => void }>()
  const delays: number[] = []
  const flush = async () => {
    for (let i = 0; i < 20; i++) await Promise.resolve()
  }
  const clock: ManualClock = {
    delays,
    now: () => wall,
    monotonic: () => mono,
    setTimeout(fn, delayMs) {
      const id = ++seq
      delays.push(delayMs)
      timers.set(id, { at: mono + Math.max(0, delayMs), fn })
      return () => void timers.delete(id)
    },
    async advance(ms) {
      const end = mono + ms
      for (let guard = 0; guard < 10_000; guard++) {
        await flush()
        let next: [number, { at: number; fn: () => void }] | undefined
        for (const entry of timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry
        if (!next) break
        timers.delete(next[0])
        wall += next[1].at - mono
        mono = next[1].at
        next[1].fn()
      }
      wall += end - mono
      mono = end
      await flush()
    },
    setWallClock(at) {
      wall = at
    },
    async sleep(ms) {
      wall += ms
      mono += ms
      const due = [...timers].filter(([, t]) => t.at <= mono)
      for (const [id] of due) timers.delete(id)
      for (const [, t] of due) t.fn()
      await flush()
    },
    pending: () => timers.size,
  }
  return clock
}
