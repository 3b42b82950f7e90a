import { SessionError, toSessionError } from './errors.js'
import { checkTokens, secretsOf, transientCode, type Persisted } from './record.js'
import { admit, backoffUntil, leadFor, MIN_REFRESH_GAP, refreshDueAt } from './refresh-policy.js'
import type { Config } from './options.js'
import type { Persistence } from './persistence.js'
import type { LockRunner } from './refresh-lock.js'
import type { Records, Siblings } from './siblings.js'
import type { SessionEventMap, TokenSet } from './types.js'

export const signedOut = (): SessionError => new SessionError('not_authenticated', 'signed out')
export const gone = (): SessionError => new SessionError('destroyed', 'destroyed')

export interface RefresherOptions {
  config: Config
  records: Records & {
    /** Bumped by every sign-in and sign-out in this tab: a refresh that sees it change drops its result. */
    version(): number
    /** Reads storage once (the first read of a session not started yet). */
    hydrate(): Promise<void>
    /** Storage has been read once. */
    loaded(): boolean
    /** Replaces the record of the current sign-in with an equal one plus a failure, announcing nothing. */
    replace(record: Persisted): void
  }
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
  const { config, records, persistence: p, siblings, lock, emit } = opts
  const { options: o, clock, leadMs, timeoutMs, page } = config
  let inflight: Promise<TokenSet> | null = null
  let abortRefresh: AbortController | null = null
  let refreshing = false
  let refreshError: SessionError | null = null
  let failures = 0
  /** The next automatic attempt after a failure; `Infinity`: none until new tokens or an explicit refresh. */
  let retryAt: number | null = null
  let recent: number[] = [] // refresh request times, for the per-minute cap
  let loopWarned = false
  const lead = (r: Persisted) => leadFor(r.tokens.expiresAt, r.at, leadMs)
  const due = (r: Persisted) => clock.now() >= r.tokens.expiresAt - lead(r)
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

  /** What a refresh started from: a sign-in, in a version, with an access token, at an instant. */
  interface Attempt {
    force: boolean
    retry: boolean
    demand: boolean
    epoch: string
    version: number
    seen: string
    asked: number
    knownFails: number
    /** When the next attempt is due, from the failure record every tab shares. */
    until?: number
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
      return await lock(() => locked(a), opts.signal)
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

  /** Under the lock: catch up with other tabs, decide whether to ask the server, ask, commit. */
  const locked = async (a: Attempt): Promise<TokenSet> => {
    // Another tab may have refreshed (or logged out) while we waited: adopt what is stored (RF-3).
    await records.sync()
    // A tab that keeps its session in memory cannot re-read a sibling's rotation it missed (in the bfcache,
    // or a message that raced the lock grant): it asks for their records first.
    if (!(await siblings.ask()) && records.current()) {
      // Back from the bfcache and no sibling answered: the one holding the current refresh token may be away
      // itself, and presenting ours could replay a spent one (revoking the grant for it too). Wait while the
      // access token lasts; then sign out here only, unannounced and not remembered as ended, so a sibling
      // that comes back can hand this tab the session again.
      const current = records.current() as Persisted
      if (clock.now() < current.tokens.expiresAt) throw new SessionError('storage_unavailable', 'no sibling answered', { retryable: true })
      await records.end('reauth-required', true, true, true)
      records.ended.delete(current.epoch)
      throw signedOut()
    }
    // The read failed: this tab cannot know whether a sibling rotated the refresh token it holds.
    if (p.readFailed()) throw new SessionError('storage_unavailable', 'storage read failed', { retryable: true })
    // Storage degraded here: the database may still be readable on a fresh connection, and hold a
    // sibling's rotation this tab never heard of.
    const disk = p.degraded() ? await p.stored() : undefined
    const current = records.current()
    if (disk && current && disk.epoch === current.epoch && disk.gen > current.gen) records.adopt(disk, true)
    if (opts.closing()) throw gone()
    // Degraded, with siblings sharing this refresh token, and neither a lock nor a way to learn their
    // rotations: presenting it could replay one. The access token serves until it expires.
    if (p.degraded() && siblings.peers() && (!lock.webLocks || (!siblings.inMemory() && !disk))) throw new SessionError('storage_unavailable', 'cannot coordinate tabs', { retryable: false })
    const r = records.current()
    if (!r || r.epoch !== a.epoch || records.version() !== a.version) throw signedOut()
    if (r.tokens.accessToken !== a.seen || (!a.force && !a.retry && !due(r))) return r.tokens
    // One attempt per backoff step for the whole origin: another tab failed since we asked, or the step
    // is not over (unless the app asked explicitly).
    const f = r.fail
    if (f && ((f.n > a.knownFails && f.at >= a.asked) || (!a.force && !a.demand && clock.now() < f.until))) {
      a.until = f.until
      throw new SessionError(f.code, 'refresh failed (backoff shared by all tabs)', { retryable: true })
    }
    const admitted = admit(recent, clock.now())
    if (!admitted) throw new SessionError('refresh_loop_detected', 'too many refreshes', { retryable: true })
    recent = admitted
    return commit(a, r, await request(a, r))
  }

  /** The refresh function, bounded by the timeout and aborted by a sign-out; failures shared or fatal. */
  const request = async (a: Attempt, r: Persisted): Promise<TokenSet> => {
    const controller = new AbortController()
    abortRefresh = controller
    const cancel = clock.setTimeout(() => controller.abort(new SessionError('timeout', 'timed out')), timeoutMs)
    try {
      return await Promise.race([
        Promise.resolve().then(() => o.refresh!(r.tokens, { signal: controller.signal })),
        new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true })),
      ])
    } catch (error) {
      if (records.current()?.epoch !== a.epoch) throw signedOut()
      const e = toSessionError(error, 'server_error', 'refresh failed', secretsOf(r.tokens))
      // A 400/401 without an OAuth error body (some providers answer every failed refresh so) ends the
      // session once the access token has expired; before that it is retried like any transient error.
      const dead = e.code === 'reauth_required' || (e.code === 'server_error' && !e.oauthError && (e.status === 400 || e.status === 401) && clock.now() >= r.tokens.expiresAt)
      // Wipe before the lock is released, so no other tab re-sends the rejected refresh token.
      if (dead) await records.end('reauth-required', false, true, true)
      else if (e.retryable && records.current() === r) {
        // Shared before the lock is released: the next holder sees this step is taken.
        const n = (r.fail?.n ?? 0) + 1
        const t = clock.now()
        a.until = backoffUntil(t, n, e.retryAfterMs, Math.random())
        const failed: Persisted = { ...r, fail: { n, at: t, until: a.until, code: transientCode(e.code) } }
        await p.save(failed)
        // (Not adopt(): the same tokens, nothing to announce in this tab.)
        if (records.current() === r) records.replace(failed)
        siblings.post('refresh')
      }
      throw dead && e.code !== 'reauth_required' ? new SessionError('reauth_required', 'refresh token rejected', { cause: e }) : e
    } finally {
      cancel()
      abortRefresh = null
    }
  }

  /** Commits the new tokens before the lock is released, so the next holder reads the rotated refresh token (RF-4). */
  const commit = async (a: Attempt, r: Persisted, next: TokenSet): Promise<TokenSet> => {
    const valid = checkTokens(next, clock.now(), 'invalid_token_response')
    // Rotation is optional (RF-10): keep the refresh token (and ID token) we have when none comes back.
    const { refreshToken, idToken } = r.tokens
    const tokens: TokenSet = Object.freeze({ ...(refreshToken && { refreshToken }), ...(idToken && { idToken }), ...valid })
    // A logout or a new sign-in during the request wins: drop the result (XT-9, ER-3).
    const moved = () => records.current()?.epoch !== a.epoch || records.version() !== a.version
    if (moved()) throw signedOut()
    if (tokens.expiresAt - clock.now() <= Math.min(leadMs, MIN_REFRESH_GAP) && !loopWarned) {
      loopWarned = true
      emit('warning', { error: new SessionError('refresh_loop_detected', 'tokens expire too soon') })
    }
    // Fenced: a holder whose lease lapsed (a frozen page) never overwrites a newer generation, nor
    // another sign-in made meanwhile (the rotated refresh token of the old one is then moot).
    const stored = await p.load()
    if (typeof stored === 'object' && stored && (stored.epoch === a.epoch ? stored.gen > r.gen : !p.unsaved() && !records.ended.has(stored.epoch))) {
      records.adopt(stored, true)
      if (stored.epoch !== a.epoch) throw signedOut()
      return stored.tokens
    }
    if (moved()) throw signedOut()
    const record: Persisted = { v: 1, epoch: a.epoch, authAt: r.authAt, at: clock.now(), gen: r.gen + 1, tokens }
    // From a degraded tab, through a fresh connection too (never over another sign-in or a newer record).
    await p.save(record)
    if (p.degraded()) await p.writeThrough(record)
    // A sign-out or sign-in in this tab during the write: its own write (queued behind this one) wins.
    if (records.version() !== a.version) throw signedOut()
    records.adopt(record, false)
    siblings.post('refresh')
    // Kept in memory only (storage cannot hold it): siblings learn the rotated refresh token from this
    // message alone, so it gets a head start on the next lock holder (one may be opening right now).
    if (siblings.canShare() && p.memoryHeld()) await siblings.pause()
    // Committed (the rotated refresh token is safe), but an answer processed this late (a page frozen
    // meanwhile) carries an access token that has already expired: never hand that out.
    if (tokens.expiresAt <= clock.now()) throw new SessionError('invalid_token_response', 'token expired on arrival')
    return tokens
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
    requestOut: () => !!abortRefresh,
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
      abortRefresh?.abort(signedOut())
    },
    abort: () => abortRefresh?.abort(signedOut()),
    evaluate(r) {
      if (opts.started() && canRefresh(r) && !inflight && retryAt === null && !page?.hidden() && due(r)) background()
    },
    deadlines(now, r) {
      if (retryAt !== null) return [retryAt]
      if (!canRefresh(r) || inflight) return []
      const l = lead(r)
      return [refreshDueAt({ expiresAt: r.tokens.expiresAt, lead: l, lastAt: recent[recent.length - 1] ?? 0, now, random: Math.random() })]
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
