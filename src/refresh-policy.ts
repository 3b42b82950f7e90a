/**
 * When to refresh and when to try again: pure functions of the token lifetime, earlier requests and
 * failures (randomness is passed in, so tests can pin it).
 */

/** Minimum spacing of proactive refreshes (TM-6). */
export const MIN_REFRESH_GAP: number = 5_000
/** Refresh requests per tab per minute before `refresh_loop_detected` (TM-6). */
export const MAX_REFRESH_PER_MIN: number = 12
export const MAX_BACKOFF: number = 5 * 60_000

/**
 * How long before expiry to refresh: `leadMs`, but at most half the lifetime the tokens had when they
 * arrived (`receivedAt`), so short-lived tokens are not refreshed right away.
 */
export const leadFor = (expiresAt: number, receivedAt: number, leadMs: number): number => Math.min(leadMs, Math.max(0, (expiresAt - receivedAt) / 2))

/**
 * When the proactive refresh is due: `lead` before expiry, later by up to a fifth of the lead (at most
 * 3 s; jitter spreads tabs so the first one usually refreshes before the others even wake up), and never
 * sooner than {@link MIN_REFRESH_GAP} after the last request (`lastAt`; one in the future — the clock was
 * set back — counts as now).
 */
export const refreshDueAt = (o: { expiresAt: number; lead: number; lastAt: number; now: number; random: number }): number =>
  Math.max(o.expiresAt - o.lead + o.random * Math.min(o.lead / 5, 3_000), Math.min(o.lastAt, o.now) + MIN_REFRESH_GAP)

/** The next attempt after failure number `n`: full-jitter exponential backoff, capped, and never before the server's `Retry-After`. */
export const backoffUntil = (now: number, n: number, retryAfterMs: number | undefined, random: number): number =>
  now + Math.max(retryAfterMs ?? 0, random * Math.min(MAX_BACKOFF, 1000 * 2 ** n))

/**
 * The per-minute cap: the request times of the last minute with `now` added, or `null` when the cap is
 * reached. (Times after `now` are dropped: the clock was set back.)
 */
export const admit = (recent: readonly number[], now: number): number[] | null => {
  const kept = recent.filter((t) => t > now - 60_000 && t <= now)
  return kept.length >= MAX_REFRESH_PER_MIN ? null : [...kept, now]
}
