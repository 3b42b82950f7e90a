import { gone, SessionError, signedOut, toSessionError } from './errors.js'
import { createAttempts, type Attempt, type RefreshRecords } from './refresh-attempt.js'
import type { Persisted } from './record.js'
import { backoffUntil, leadFor, refreshDueAt } from './refresh-policy.js'
import type { Config } from './options.js'
import type { Persistence } from './persistence.js'
import type { LockRunner } from './refresh-lock.js'
import type { Siblings } from './siblings.js'
import type { SessionEventMap, TokenSet } from './types.js'

export interface RefresherOptions {
  config: Config
  records: RefreshRecords
  persistence: Persistence
  siblings: Siblings
  lock: LockRunner
  /** Lock waits give up when this aborts (destroy). */
  signal: AbortSignal
  /** destroy() has begun: no new request or lock wait starts. */
  closing: () => boolean
  /** The session is started: background refreshes may run. */
  started: () => boolean
  /** The snapshot shows `refreshing` and `refreshError`. */
  changed: () => void
  evaluate: () => void
  schedule: () => void
  emit: <K extends 'refresh-error' | 'warning'>(type: K, event: SessionEventMap[K]) => void
}

export interface Refresher {
  /**
   * Refreshes once in this tab however many callers ask (and once across tabs, under the lock).
   * `force`: even if not due, and inside the shared backoff step unless another tab failed after we asked
   * (explicit refresh(), back online). `retry`: a backoff step ended: even if not due, unless another tab
   * already tried in this step. `demand`: a caller needs a token now (getAccessToken): the caller's pace,
   * not the backoff, unless another tab failed after we asked (a burst of callers in many tabs costs one
   * attempt). Background retries alone keep the step.
   */
  refresh(force: boolean, retry?: boolean, demand?: boolean): Promise<TokenSet>
  /** A fresh access token for `r`, refreshing first if it is due; `null` if there is none. */
  token(r: Persisted): Promise<string | null>
  refreshing(): boolean
  error(): SessionError | null
  /** A refresh request is out (its rotated refresh token must still be committed). */
  busy(): Promise<TokenSet> | null
  requestOut(): boolean
  /** New tokens (another sign-in, or a refresh anywhere): earlier failures no longer apply. */
  reset(): void
  /** Another tab's failed attempt of these tokens: wait for the same backoff step. */
  backoff(until: number): void
  /** Signed out: no error, no retry, the request in flight is dropped. */
  clear(): void
  /** A sign-in in this tab: the request in flight is dropped. */
  abort(): void
  /** Starts a background refresh when one is due. */
  evaluate(r: Persisted): void
  /** When {@link Refresher.evaluate} must run again. */
  deadlines(now: number, r: Persisted): number[]
  /** A timer fired: a backoff step that ended retries. */
  onTimer(): void
  /** Back online: a transient failure's retry happens now. */
  online(): void
}

/** Silent refresh: single-flight in the tab and under the cross-tab lock, with backoff shared by every tab. */
export function createRefresher(opts: RefresherOptions): Refresher {
  const { config, records, lock, emit } = opts
  const { options: o, clock, leadMs, page } = config
  let inflight: Promise<TokenSet> | null = null
  let refreshing = false
  let refreshError: SessionError | null = null
  let failures = 0
  /** The next automatic attempt after a failure; `Infinity`: none until new tokens or an explicit refresh. */
  let retryAt: number | null = null
  const lead = (r: Persisted) => leadFor(r.tokens.expiresAt, r.at, leadMs)
  const due = (r: Persisted) => clock.now() >= r.tokens.expiresAt - lead(r)
  const attempts = createAttempts({ config, records, persistence: opts.persistence, siblings: opts.siblings, webLocks: lock.webLocks, closing: opts.closing, emit, due })
  const canRefresh = (r: Persisted) => !!o.refresh && !!r.tokens.refreshToken

  const refresh = (force: boolean, retry = false, demand = false): Promise<TokenSet> =>
    (inflight ??= Promise.resolve().then(() => run(force, retry, demand)).finally(() => {
      inflight = null
      refreshing = false
      opts.changed()
      opts.schedule()
    }))
  const background = (force = false, retry = false) => {
    refresh(force, retry).catch(() => {}) // failures are reported through refresh-error and the snapshot
  }

  const run = async (force: boolean, retry: boolean, demand: boolean): Promise<TokenSet> => {
    // Asked before storage was read: the stored session (if any) is the one to refresh.
    if (!records.loaded() && !records.current()) await records.hydrate()
    if (opts.closing()) throw gone()
    const r = records.current()
    if (!r) throw signedOut()
    if (!canRefresh(r)) throw new SessionError('refresh_unavailable', 'cannot refresh')
    const a: Attempt = { force, retry, demand, epoch: r.epoch, version: records.version(), seen: r.tokens.accessToken, asked: clock.now(), knownFails: r.fail?.n ?? 0 }
    refreshing = true
    opts.changed()
    try {
      return await lock(() => attempts.run(a), opts.signal)
    } catch (error) {
      const e = toSessionError(error, 'server_error', 'refresh failed')
      if (e.code !== 'reauth_required' && records.current()?.epoch === a.epoch && e.code !== 'not_authenticated' && e.code !== 'destroyed') {
        failures++
        // Not retryable (configuration, oauth_error): automatic refresh stops (Infinity) until a new sign-in,
        // tokens from another tab, or an explicit refresh(); the access token stays usable until it expires.
        retryAt = e.retryable ? (a.until ?? backoffUntil(clock.now(), failures, e.retryAfterMs, Math.random())) : Infinity
        refreshError = e
        opts.changed()
        emit('refresh-error', { error: e, retryAt: e.retryable ? retryAt : null })
      }
      throw e
    }
  }

  return {
    refresh,
    async token(r) {
      const now = clock.now()
      if (now < r.tokens.expiresAt - lead(r)) return r.tokens.accessToken
      if (!canRefresh(r)) return now < r.tokens.expiresAt ? r.tokens.accessToken : null
      if (retryAt === Infinity) {
        if (now < r.tokens.expiresAt) return r.tokens.accessToken
        throw refreshError ?? signedOut()
      }
      let failed: unknown
      await refresh(false, false, true).catch((error: unknown) => (failed = error))
      // Time passed while refreshing (a lock wait): the deadlines again, before anything is handed out.
      opts.evaluate()
      const still = records.current()
      if (!still) return null
      if (!failed || clock.now() < still.tokens.expiresAt) return still.tokens.accessToken
      // Inside the lead window the old token is still valid: a failed early refresh is not the caller's problem.
      throw failed
    },
    refreshing: () => refreshing,
    error: () => refreshError,
    busy: () => inflight,
    requestOut: attempts.requestOut,
    reset() {
      refreshError = null
      failures = 0
      retryAt = null
    },
    backoff(until) {
      if (retryAt !== Infinity) retryAt = Math.max(retryAt ?? 0, until)
    },
    clear() {
      refreshError = null
      retryAt = null
      attempts.abort()
    },
    abort: attempts.abort,
    evaluate(r) {
      if (opts.started() && canRefresh(r) && !inflight && retryAt === null && !page?.hidden() && due(r)) background()
    },
    deadlines(now, r) {
      // A retry instant already past (time moved on while the failure was recorded: a frozen or throttled
      // page) is due now; the alarm ignores past instants, and nothing else would ever retry.
      if (retryAt !== null) return [Math.max(retryAt, now)]
      if (!canRefresh(r) || inflight) return []
      const l = lead(r)
      return [refreshDueAt({ expiresAt: r.tokens.expiresAt, lead: l, lastAt: attempts.lastAt(), now, random: Math.random() })]
    },
    onTimer() {
      if (retryAt !== null && clock.now() >= retryAt) {
        retryAt = null
        // If another tab already tried in this backoff step, its shared record says so.
        if (records.current()) background(false, true)
      }
    },
    online() {
      if (retryAt !== null && retryAt < Infinity) {
        retryAt = null
        background(true)
      }
    },
  }
}
