import { gone, SessionError, signedOut, toSessionError } from './errors.js'
import { checkTokens, newer, secretsOf, transientCode, type Persisted } from './record.js'
import { admit, backoffUntil, MIN_REFRESH_GAP } from './refresh-policy.js'
import type { Config } from './options.js'
import type { Persistence } from './persistence.js'
import type { Records, Siblings } from './siblings.js'
import type { SessionEventMap, TokenSet } from './types.js'

/** What a refresh started from: a sign-in, in a version, with an access token, at an instant. */
export interface Attempt {
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

/** The record protocol as a refresh needs it. */
export interface RefreshRecords extends Records {
  /** Bumped by every sign-in and sign-out in this tab: a refresh that sees it change drops its result. */
  version(): number
  /** Reads storage once (the first read of a session not started yet). */
  hydrate(): Promise<void>
  /** Storage has been read once. */
  loaded(): boolean
  /** Replaces the record of the current sign-in with an equal one plus a failure, announcing nothing. */
  replace(record: Persisted): void
}

export interface AttemptOptions {
  config: Config
  records: RefreshRecords
  persistence: Persistence
  siblings: Siblings
  /** Web Locks coordinate the tabs (the lease does not keep a frozen holder's lock). */
  webLocks: boolean
  /** destroy() has begun. */
  closing: () => boolean
  emit: (type: 'warning', event: SessionEventMap['warning']) => void
  /** The proactive refresh of `r` is due (the refresher's rule). */
  due: (r: Persisted) => boolean
}

export interface Attempts {
  /**
   * One refresh attempt, run while holding the cross-tab lock: catches up with other tabs, decides
   * whether the server must be asked, asks, and commits the new tokens before the lock is released.
   * Resolves with the tokens this tab holds afterwards (perhaps another tab's).
   */
  run(a: Attempt): Promise<TokenSet>
  /** Drops the request that is out (a sign-in or sign-out in this tab). */
  abort(): void
  /** A request is out: its rotated refresh token must still be committed. */
  requestOut(): boolean
  /** When the last request was made (epoch ms; 0 before the first). */
  lastAt(): number
}

/** Refresh attempts under the lock: the protocol that keeps a rotating refresh token from being presented twice. */
export function createAttempts(opts: AttemptOptions): Attempts {
  const { config, records, persistence, siblings, emit } = opts
  const { options: o, clock, leadMs, timeoutMs } = config
  let abortRefresh: AbortController | null = null
  let recent: number[] = [] // refresh request times, for the per-minute cap
  let loopWarned = false
  const { due } = opts

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
    if (persistence.readFailed()) throw new SessionError('storage_unavailable', 'storage read failed', { retryable: true })
    // Storage degraded here: the database may still be readable on a fresh connection, and hold a
    // sibling's rotation, or a later sign-in, that this tab never heard of.
    const disk = persistence.degraded() ? await persistence.stored() : undefined
    const current = records.current()
    if (disk && current && newer(disk, current)) {
      records.adopt(disk, true)
      // Into this tab's own (memory) storage too: its next re-read would bring the older record back.
      await persistence.save(disk)
    }
    if (opts.closing()) throw gone()
    // Degraded, with siblings sharing this refresh token, and neither a lock nor a way to learn their
    // rotations: presenting it could replay one. The access token serves until it expires.
    if (persistence.degraded() && siblings.peers() && (!opts.webLocks || (!siblings.inMemory() && !disk))) throw new SessionError('storage_unavailable', 'cannot coordinate tabs', { retryable: false })
    const r = records.current()
    if (!r || r.epoch !== a.epoch || records.version() !== a.version) throw signedOut()
    // Another tab refreshed meanwhile (or nothing is due): its tokens, unless they are due already (they
    // expired on arrival there: a response processed long after it was sent, by a page back from the bfcache).
    if (!due(r) && (r.tokens.accessToken !== a.seen || (!a.force && !a.retry))) return r.tokens
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
        await persistence.save(failed)
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
    const stored = await persistence.load()
    if (typeof stored === 'object' && stored && (stored.epoch === a.epoch ? stored.gen > r.gen : !persistence.unsaved() && !records.ended.has(stored.epoch))) {
      records.adopt(stored, true)
      if (stored.epoch !== a.epoch) throw signedOut()
      return stored.tokens
    }
    if (moved()) throw signedOut()
    const record: Persisted = { v: 1, epoch: a.epoch, authAt: r.authAt, at: clock.now(), gen: r.gen + 1, tokens }
    await persistence.commit(record)
    // A sign-out or sign-in in this tab during the write: its own write (queued behind this one) wins.
    if (records.version() !== a.version) throw signedOut()
    records.adopt(record, false)
    siblings.post('refresh')
    // Kept in memory only (storage cannot hold it): siblings learn the rotated refresh token from this
    // message alone, so it gets a head start on the next lock holder (one may be opening right now).
    if (siblings.canShare() && persistence.memoryHeld()) await siblings.pause()
    // Committed (the rotated refresh token is safe), but an answer processed this late (a page frozen
    // meanwhile) carries an access token that has already expired: never hand that out.
    if (tokens.expiresAt <= clock.now()) throw new SessionError('invalid_token_response', 'token expired on arrival')
    return tokens
  }

  return {
    run: locked,
    abort: () => abortRefresh?.abort(signedOut()),
    requestOut: () => !!abortRefresh,
    lastAt: () => recent[recent.length - 1] ?? 0,
  }
}
