import { elapsed, idleDeadlines, idleDue } from './idle-deadlines.js'
import type { Config } from './options.js'
import type { Persistence } from './persistence.js'
import type { Persisted } from './record.js'
import type { LogoutReason, SessionEventMap, SyncMessage } from './types.js'

// Not 'scroll': script-driven scrolling (an auto-scrolling log) fires trusted scroll events too.
const DEFAULT_ACTIVITY_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'visibilitychange']

export interface IdleTrackerOptions {
  config: Config
  persistence: Pick<Persistence, 'activity' | 'touch'>
  current: () => Persisted | null
  destroyed: () => boolean
  /** The warning started or ended: the snapshot shows it. */
  changed: () => void
  post: (type: 'activity' | 'extend' | 'warning', extra?: Partial<SyncMessage>) => void
  emit: <K extends 'idle-warning' | 'active'>(type: K, event: SessionEventMap[K]) => void
  /** Signs out in this tab (and so in every tab). */
  end: (why: LogoutReason) => Promise<void>
  /** Re-checks every deadline (activity moved them). */
  evaluate: () => void
  /** Re-arms the timer (an idle check is over). */
  schedule: () => void
}

export interface IdleTracker {
  /** `logoutAt` while the warning shows, else `null`. */
  warningAt(): number | null
  /** The last activity known in this tab (epoch ms). */
  lastActivity(): number
  /** A new sign-in: its idle period starts at sign-in or at `activeAt`, its lifetime at sign-in. */
  begin(record: Persisted, activeAt?: number): void
  /** Signed out: no warning. */
  clear(): void
  /** Activity in this tab (`extend`: "stay signed in", which also ends the warning). */
  local(extend: boolean): void
  /** An `activity`, `extend` or `warning` message from another tab about the current sign-in. */
  remote(m: SyncMessage): void
  /** The idle deadline or the warning looks due: re-checks against the shared activity, then acts. */
  check(): Promise<void>
  /** Applies the absolute lifetime and starts an idle check when one is due; `false` if the session ended. */
  evaluate(r: Persisted): boolean
  /** The instants at which {@link IdleTracker.evaluate} must run again. */
  deadlines(now: number, r: Persisted): number[]
  /** The idle timeout has passed (by this tab's knowledge). */
  over(): boolean
  /** Listens to user input through the page port; returns the disposer. */
  listen(): () => void
}

/**
 * Inactivity and absolute lifetime of the current sign-in: activity (shared by every tab through
 * messages and a stored last-activity record), the warning phase, and the deadlines.
 */
export function createIdleTracker(opts: IdleTrackerOptions): IdleTracker {
  const { config, persistence, current, post, emit, evaluate } = opts
  const { clock, idle, warningMs, mono, page } = config
  const maxSessionMs = config.options.maxSessionMs
  let lastActivity = 0
  let lastSavedActivity = 0
  let warningAt: number | null = null
  let idleCheck: Promise<void> | null = null
  // Each instant gets a monotonic twin when this tab learns it (see elapsed()).
  let activityMono = 0
  let authMono = 0
  const idleElapsed = () => elapsed(clock.now() - lastActivity, mono() - activityMono)
  const deadlines = (now: number) => idleDeadlines(now, idleElapsed(), idle?.timeoutMs ?? 0, warningMs)
  /** The wall clock was set back behind the last activity: readings from now on start over. */
  const setBack = () => lastActivity > clock.now()

  const note = (at: number, extend: boolean) => {
    const back = setBack()
    if (at <= lastActivity && !extend && !back) return
    if (at > lastActivity || back) {
      lastActivity = at
      activityMono = mono() - (clock.now() - at)
    } else if (extend) activityMono = Math.max(activityMono, mono() - (clock.now() - at))
    if (warningAt !== null && (extend || idle?.activityEndsWarning)) {
      warningAt = null
      opts.changed()
      emit('active', {})
      idle?.onActive?.()
    }
    evaluate()
  }

  const local = (extend: boolean) => {
    const r = current()
    if (!r || opts.destroyed()) return
    const now = clock.now()
    if (warningAt !== null && !extend && !idle?.activityEndsWarning) return
    // Cheap path: at most one state update per second however fast events come.
    // (Measured on the monotonic clock: the wall clock may have been set back.)
    if (!extend && mono() - activityMono < 1000) return
    note(now, extend)
    post(extend ? 'extend' : 'activity', { at: now }) // at most once a second: the gate above
    if (extend || now - lastSavedActivity >= 5000 || now < lastSavedActivity) {
      lastSavedActivity = now
      persistence.touch(r.epoch, now)
    }
  }

  const check = (): Promise<void> =>
    (idleCheck ??= (async () => {
      const r = current()
      if (!idle || !r) return
      // This tab may have missed activity elsewhere (it was frozen, in the bfcache, or throttled).
      const at = await persistence.activity(r.epoch)
      if (current() !== r) return
      if (at !== undefined && (at > lastActivity || setBack())) note(at, true)
      const now = clock.now()
      const d = deadlines(now)
      const logoutAt = d.logoutAt
      const due = idleDue(now, d, warningAt !== null)
      if (due === 'idle') {
        if (idle.onIdle?.() === false) note(now, true) // the app took over (a lock screen): a new idle period starts
        else await opts.end('idle')
      } else if (due === 'warn') {
        warningAt = logoutAt
        opts.changed()
        post('warning')
        emit('idle-warning', { logoutAt, remainingMs: logoutAt - now })
        idle.onWarning?.({ logoutAt, remainingMs: logoutAt - now })
      }
    })().finally(() => {
      idleCheck = null
      opts.schedule()
    }))

  return {
    warningAt: () => warningAt,
    lastActivity: () => lastActivity,
    begin(record, activeAt) {
      warningAt = null
      const now = clock.now()
      // The idle period of a new sign-in starts at sign-in (or its last known activity), never at an
      // earlier sign-in's activity (which may lie in the future after the wall clock was set back).
      lastActivity = Math.min(Math.max(activeAt ?? 0, record.authAt), now)
      activityMono = mono() - (now - lastActivity)
      // (A sign-in time in the future: the wall clock was set back since; the lifetime counts from now.)
      authMono = mono() - Math.max(0, now - record.authAt)
    },
    clear() {
      warningAt = null
    },
    local,
    remote(m) {
      const r = current()
      if (!r || m.epoch !== r.epoch) return m.type === 'warning' ? evaluate() : undefined
      if (m.type === 'warning') {
        // A sibling thinks the user is idle, but this tab knows of activity it missed (it was stopped or
        // frozen meanwhile): tell it, as the extend it is.
        if (idle && warningAt === null && idleElapsed() < idle.timeoutMs - warningMs) post('extend', { at: lastActivity })
        return evaluate()
      }
      const at = Math.min(m.at ?? 0, clock.now())
      if (m.type === 'extend' || warningAt === null || idle?.activityEndsWarning) note(at, m.type === 'extend')
    },
    check,
    evaluate(r) {
      if (maxSessionMs !== undefined && elapsed(clock.now() - r.authAt, mono() - authMono) >= maxSessionMs) {
        void opts.end('max-session')
        return false
      }
      const now = clock.now()
      if (idle && idleDue(now, deadlines(now), warningAt !== null)) void check()
      return true
    },
    deadlines(now, r) {
      const at: number[] = []
      if (maxSessionMs !== undefined) at.push(now + maxSessionMs - elapsed(now - r.authAt, mono() - authMono))
      // While an idle check reads storage, its own completion re-arms the timer (no 0 ms re-wakes).
      if (idle && !idleCheck) {
        const d = deadlines(now)
        at.push(warningAt ?? d.warnAt, d.logoutAt)
      }
      return at
    },
    over: () => !!idle && idleElapsed() >= idle.timeoutMs,
    listen: () => (idle && page ? page.activity(idle.events ?? DEFAULT_ACTIVITY_EVENTS, () => local(false)) : () => {}),
  }
}
