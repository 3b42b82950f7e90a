import type { Clock } from './types.js'

/** The largest delay timers honour; longer ones fire at once in browsers (32-bit overflow). */
export const MAX_DELAY_MS: number = 2 ** 31 - 1

/**
 * The real clock: the only place in sessionkeeper that touches `Date.now`, `performance.now` and
 * `setTimeout`. Delays are clamped to 0..2^31-1 ms; callers re-check absolute deadlines when a timer
 * fires, so a clamped (early) wake-up is harmless.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => (typeof performance === 'object' ? performance.now() : Date.now()),
  setTimeout(callback, delayMs) {
    const id = setTimeout(callback, clampDelay(delayMs))
    return () => clearTimeout(id)
  },
}

/** Clamps a delay into what `setTimeout` handles correctly. */
export function clampDelay(ms: number): number {
  return ms > 0 ? Math.min(ms, MAX_DELAY_MS) : 0
}

/** One timer at the earliest of a set of instants: `set([])` cancels it. */
export interface Alarm {
  set(at: readonly number[]): void
}

export function createAlarm(clock: Clock, fire: () => void): Alarm {
  let cancel = () => {}
  return {
    set(at) {
      cancel()
      cancel = () => {}
      const now = clock.now()
      // Instants already past (by more than a millisecond) were handled by whoever computed them.
      const next = Math.min(...at.filter((t) => t > now - 1))
      if (Number.isFinite(next)) cancel = clock.setTimeout(fire, next - now)
    },
  }
}

/** Jumps of the wall clock against the monotonic one (set forward or back, beyond `thresholdMs`), between calls. */
export function watchJumps(clock: Clock, thresholdMs: number): () => boolean {
  let lastWall = 0
  let lastMono = 0
  return () => {
    const now = clock.now()
    const steady = clock.monotonic?.()
    const drift = steady !== undefined && lastMono ? now - lastWall - (steady - lastMono) : 0
    lastWall = now
    lastMono = steady ?? 0
    return Math.abs(drift) > thresholdMs
  }
}
