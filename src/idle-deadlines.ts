/** Idle and absolute-lifetime arithmetic: pure functions of instants, shared by the checks and the timer. */

/**
 * Elapsed time as the larger of wall-clock and monotonic elapsed time (F29/TM-3): setting the clock back
 * extends no timeout, and sleep (where the monotonic clock stops) still counts. Wall-clock elapsed unless
 * the wall clock fell more than a second behind, so that all tabs share one deadline in the normal case.
 */
export const elapsed = (wall: number, steady: number): number => (steady > wall + 1000 ? steady : wall)

export interface IdleDeadlines {
  /** When the session signs out for inactivity. */
  logoutAt: number
  /** When the warning starts. */
  warnAt: number
}

/** The deadlines of an idle period that has lasted `idleFor` at `now`. */
export const idleDeadlines = (now: number, idleFor: number, timeoutMs: number, warningMs: number): IdleDeadlines => {
  const logoutAt = now + timeoutMs - idleFor
  return { logoutAt, warnAt: logoutAt - warningMs }
}

/** What is due at `now`: the sign-out, the warning (unless it shows already), or nothing. */
export const idleDue = (now: number, d: IdleDeadlines, warning: boolean): 'idle' | 'warn' | null =>
  now >= d.logoutAt ? 'idle' : !warning && now >= d.warnAt ? 'warn' : null
