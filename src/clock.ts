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
