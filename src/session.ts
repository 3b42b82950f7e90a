import { createBroadcastSync, parseMessage } from './cross-tab.js'
import { createEmitter } from './emitter.js'
import { SessionError, toSessionError } from './errors.js'
import { createLock } from './refresh-lock.js'
import { createStore } from './store.js'
import { systemClock } from './clock.js'
import { createIndexedDBStorage, createMemoryStorage } from './token-storage.js'
import { userOf } from './user.js'
import type {
  IdleState,
  LogoutReason,
  Session,
  SessionEventMap,
  SessionOptions,
  SessionSnapshot,
  SyncChannel,
  SyncMessage,
  TokenSet,
  TokenStorage,
  UserClaims,
} from './types.js'

const MAX_TOKEN = 16 * 1024
const DEFAULT_ACTIVITY_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'scroll', 'visibilitychange']
const LIFECYCLE_EVENTS = ['visibilitychange', 'pageshow', 'focus', 'online', 'resume', 'pagehide', 'freeze']
/** Minimum spacing of proactive refreshes, and the cap per minute (TM-6). */
const MIN_REFRESH_GAP = 5_000
const MAX_REFRESH_PER_MIN = 12
const MAX_BACKOFF = 5 * 60_000
const CLOCK_JUMP = 30_000

/** The persisted session record (encrypted at rest by the IndexedDB adapter). */
interface Persisted {
  v: 1
  epoch: string
  /** Sign-in time: the absolute lifetime counts from here. */
  authAt: number
  /** When these tokens were received: the lead time is clamped to half of `expiresAt - at`. */
  at: number
  /** Refresh generation within this sign-in: orders token sets without trusting clocks. */
  gen: number
  tokens: TokenSet
}

const signedOut = () => new SessionError('not_authenticated', 'signed out')
const gone = () => new SessionError('destroyed', 'destroyed')

const LOADING: SessionSnapshot = Object.freeze({ status: 'loading' })
const ACTIVE: IdleState = Object.freeze({ phase: 'active' })

/**
 * Creates a session. Pure: no I/O, no timers and no listeners until {@link Session.start} (or a call
 * that needs storage) — safe to call during server rendering and at module scope.
 *
 * @throws TypeError on invalid options (unknown `persist`, non-positive durations, warning ≥ timeout...).
 * @example
 * ```ts
 * import { createSession } from 'sessionkeeper'
 * import { refreshTokenGrant } from 'sessionkeeper/oauth'
 *
 * const session = createSession({
 *   refresh: refreshTokenGrant({ tokenEndpoint: 'https://id.example.com/token', clientId: 'spa' }),
 *   idle: { timeoutMs: 15 * 60_000, warningMs: 60_000 },
 * })
 * session.start()
 * const response = await session.fetch('/api/me')
 * ```
 */
export function createSession(options: SessionOptions = {}): Session {
  const o = validateOptions(options)
  const name = o.name ?? 'default'
  const clock = o.clock ?? systemClock
  const idle = o.idle
  const warningMs = idle ? (idle.warningMs ?? Math.min(60_000, idle.timeoutMs / 5)) : 0
  const leadMs = o.refreshLeadMs ?? 60_000
  const timeoutMs = o.refreshTimeoutMs ?? 10_000
  const tabId = randomId()

  const report = (error: unknown) => queueMicrotask(() => {
    throw error
  })
  const store = createStore<SessionSnapshot>(LOADING, report)
  const events = createEmitter<SessionEventMap>(report)

  // --- state -------------------------------------------------------------------------------------------
  let current: Persisted | null = null
  let lastActivity = 0
  // Idle and absolute timeouts count elapsed time as the larger of wall-clock and monotonic elapsed
  // time (F29/TM-3): setting the clock back extends neither; sleep (where the monotonic clock stops)
  // still counts. Each instant gets a monotonic twin when this tab learns it.
  const mono = () => clock.monotonic?.() ?? clock.now()
  let activityMono = 0
  let authMono = 0
  // Wall-clock elapsed unless the wall clock fell behind (set back): then all tabs still share one
  // deadline (lastActivity + timeoutMs) in the normal case, to the millisecond.
  const elapsed = (wallSince: number, monoSince: number) => {
    const wall = clock.now() - wallSince
    const steady = mono() - monoSince
    return steady > wall + 1000 ? steady : wall
  }
  const idleElapsed = () => elapsed(lastActivity, activityMono)
  const sessionElapsed = (r: Persisted) => elapsed(r.authAt, authMono)
  let warningAt: number | null = null // logoutAt while the warning shows
  let refreshError: SessionError | null = null
  let refreshing = false
  let inflight: Promise<TokenSet> | null = null
  let abortRefresh: AbortController | null = null
  let failures = 0
  let retryAt: number | null = null
  let recent: number[] = [] // refresh request times, for the per-minute cap
  let loopWarned = false
  let destroyed = false
  let destroying: Promise<void> | undefined
  let starts = 0
  let hydrated: Promise<void> | null = null
  let storage: TokenStorage | null = null
  let channel: SyncChannel | null = null
  let cancelTimer = () => {}
  let lastWall = 0
  let lastMono = 0
  let lastSavedActivity = 0
  let detach: (() => void)[] = []
  let syncing: Promise<void> | null = null
  let syncAgain = false

  const getStorage = (): TokenStorage => {
    // Work still finishing after destroy() (a wipe behind the lock) must not reopen the database.
    if (destroyed) return createMemoryStorage()
    if (!storage) {
      storage = o.storage ?? (o.persist === 'memory' ? createMemoryStorage() : createIndexedDBStorage(name, clock))
      const unlisten = storage.listen?.((notice) => {
        if (notice.type === 'cleared') {
          if (current) void end('storage-cleared', true, false)
        } else events.emit(notice.type === 'degraded' ? 'storage-degraded' : 'warning', { error: notice.error })
      })
      if (unlisten) detach.push(unlisten)
    }
    return storage
  }
  /**
   * Signals other tabs. A tab whose session lives only in memory (by choice, or because storage failed)
   * also sends its record, so siblings never fall back to a refresh token it has already rotated
   * (requirement stance §0.3: tokens only over a channel that never writes to disk).
   */
  const post = (type: SyncMessage['type'], extra?: Partial<SyncMessage>) => {
    if (o.sync === false || destroyed || !starts) return
    channel ??= o.sync ?? createBroadcastSync(name)
    const share = channel.inMemory && current && (type === 'login' || type === 'refresh') && getStorage().kind === 'memory'
    channel.post({ v: 1, type, from: tabId, epoch: current?.epoch ?? null, ...extra, ...(share ? { record: current } : {}) })
  }
  // Tabs share a refresh token through storage, or through messages when storage is per tab.
  const shared = () => o.sync !== false || getStorage().kind !== 'memory'
  const withLock = createLock(`sessionkeeper:${name}:refresh`, getStorage, shared, clock, timeoutMs + 5_000, timeoutMs + 10_000)
  /**
   * Sign-in and sign-out writes take the refresh lock too, so a refresh committing in another tab can
   * never land on top of them (XT-9, ER-3). Bounded: if the lock cannot be had in time, write anyway.
   */
  const writes = new Set<Promise<void>>()
  const exclusive = (write: () => Promise<void>): Promise<void> => {
    const done = withLock(write).catch(write)
    writes.add(done)
    return done.finally(() => writes.delete(done))
  }
  /** Bumped by every sign-in and sign-out in this tab: an in-flight refresh that sees it change discards its result. */
  let version = 0
  /** Sign-ins (epochs) that ended in this tab. */
  const ended = new Set<string>()

  // --- snapshot --------------------------------------------------------------------------------------------
  let reason: LogoutReason | null = null
  // user: the ID token's claims, decoded once per ID token (the same object until the ID token changes).
  let user: [string | undefined, UserClaims | undefined] = [undefined, undefined]
  const publish = () => {
    if (destroyed) return
    const prev = store.get()
    if (!current) {
      if (prev.status !== 'anonymous' || prev.reason !== reason) store.set(Object.freeze({ status: 'anonymous', reason }))
      return
    }
    const idleState: IdleState = warningAt === null ? ACTIVE : Object.freeze({ phase: 'warning', logoutAt: warningAt })
    if (user[0] !== current.tokens.idToken) user = [current.tokens.idToken, userOf(current.tokens.idToken)] // user
    if (
      prev.status === 'authenticated' &&
      prev.tokens === current.tokens &&
      prev.refreshing === refreshing &&
      prev.refreshError === refreshError &&
      prev.authenticatedAt === current.authAt &&
      prev.user === user[1] && // user
      (prev.idle.phase === 'active' ? warningAt === null : prev.idle.logoutAt === warningAt)
    )
      return
    store.set(Object.freeze({ status: 'authenticated', tokens: current.tokens, user: user[1], refreshing, refreshError, idle: idleState, authenticatedAt: current.authAt }))
  }

  // --- persistence -----------------------------------------------------------------------------------------
  /** Writes the record; `null` wipes everything and leaves a token-free tombstone saying why. */
  const save = async (record: Persisted | null, why?: LogoutReason) => {
    try {
      const s = getStorage()
      if (record) await s.set('session', record)
      else {
        await s.clear()
        // Tabs that notice the sign-out by reading storage (not through a message) learn the reason here.
        await s.set('session', { v: 1, ended: why })
      }
    } catch (cause) {
      if (!destroyed) events.emit('warning', { error: toSessionError(cause, 'storage_write_failed', 'write failed') })
    }
  }
  /** The stored session, `null` if none, or the reason of the sign-out a tombstone records. */
  const load = async (): Promise<Persisted | LogoutReason | null> => {
    let raw: unknown
    try {
      raw = await getStorage().get('session')
    } catch {
      return current // storage broken: memory is the truth
    }
    if (raw == null) return null
    const ended = (raw as { ended?: LogoutReason }).ended
    if (ended) return ended
    const v = (raw as { v?: unknown }).v
    if (typeof v === 'number' && v > 1) {
      // Written by a newer sessionkeeper: never overwrite it; this tab keeps its session in memory (DB-2).
      if (storage !== o.storage) storage?.close()
      storage = createMemoryStorage()
      if (current) await storage.set('session', current)
      events.emit('storage-degraded', { error: new SessionError('storage_version_newer', 'using memory') })
      return current
    }
    const record = readRecord(raw)
    if (!record) events.emit('warning', { error: new SessionError('storage_corrupt', 'stored session discarded') })
    return record
  }

  // --- transitions -------------------------------------------------------------------------------------------
  const adopt = (record: Persisted, remote: boolean, restored = false) => {
    if (ended.has(record.epoch)) return
    const isNew = current?.epoch !== record.epoch
    const changed = current?.tokens.accessToken !== record.tokens.accessToken
    if (isNew || changed) {
      // New tokens: earlier refresh failures (and a stopped auto-refresh) no longer apply.
      refreshError = null
      failures = 0
      retryAt = null
    }
    if (isNew) {
      warningAt = null
      lastActivity = Math.max(lastActivity, record.authAt)
      activityMono = mono() - (clock.now() - lastActivity)
      authMono = mono() - (clock.now() - record.authAt)
    }
    current = record
    reason = null
    publish()
    if (isNew) events.emit('login', { remote, restored })
    else if (changed) events.emit('refresh', { expiresAt: record.tokens.expiresAt, remote })
  }

  /** Signs out in this tab; `broadcast` tells the others, `wipe` clears storage. */
  const end = async (why: LogoutReason, remote: boolean, wipe = !remote, locked = false) => {
    let revoked: Promise<unknown> | undefined // endSession waits for it
    version++
    const had = current
    // This sign-in is over for good: never adopt it again, even from a read that beats the wipe.
    if (had) ended.add(had.epoch)
    current = null
    warningAt = null
    refreshError = null
    retryAt = null
    abortRefresh?.abort(signedOut())
    reason = why
    // This tab is signed out at once (state, event); storage is wiped next, under the refresh lock, and
    // only then are the other tabs told, so their re-read finds the wipe.
    publish()
    schedule()
    const wiped = wipe ? (locked ? save(null, why) : exclusive(() => save(null, why))) : undefined
    if (had) {
      o.fetch?.authorizer?.clear?.()
      events.emit('logout', { reason: why, remote })
      // Best effort, after the local sign-out; a rejected refresh token needs no revocation.
      if (!remote && o.revoke && why !== 'reauth-required' && why !== 'storage-cleared') {
        revoked = Promise.resolve()
          .then(() => o.revoke?.(had.tokens))
          .catch((cause: unknown) => events.emit('warning', { error: toSessionError(cause, 'revocation_failed', 'revocation failed', [had.tokens.accessToken, had.tokens.refreshToken]) }))
      }
    }
    await wiped
    if (!remote) post('logout', { reason: why, epoch: null })
    // RP-initiated logout: after every tab is signed out and the revocation settled (at most 5 s), never awaited by logout().
    if (had && !remote && why === 'user' && o.endSession) {
      let cancel = () => {}
      void Promise.race([revoked, new Promise((r) => (cancel = clock.setTimeout(() => r(0), 5_000)))])
        .then(() => (cancel(), o.endSession?.({ tokens: had.tokens, reason: why })))
        .catch((cause: unknown) => events.emit('warning', { error: toSessionError(cause, 'configuration', 'end session failed', [had.tokens.accessToken, had.tokens.refreshToken, had.tokens.idToken]) }))
    }
  }

  /** Re-reads storage and reconciles (other tab logged in/out/refreshed). Coalesces bursts of messages. */
  let deferred = false
  let stale = false
  const sync = (hint?: SyncMessage): Promise<void> => {
    // Before hydration has finished, the first read is still to come: re-read once after it instead.
    if (store.get().status === 'loading') {
      deferred = true
      return Promise.resolve()
    }
    if (syncing) {
      syncAgain = true
      return syncing
    }
    return (syncing = (async () => {
      try {
        for (let round = 0; round < 5; round++) {
          syncAgain = false
          const before = current
          const stored = await load()
          if (destroyed) return
          // A transition in this tab during the read makes the read stale: read again.
          if (current !== before) {
            syncAgain = true
          } else if (typeof stored === 'object' && stored) {
            // Newer sign-in (by sign-in time) or newer tokens of this sign-in win; older ones are stale.
            if (!current || newer(stored, current)) adopt(stored, true)
          } else if (current && (getStorage().kind !== 'memory' || hint?.type === 'logout')) {
            await end(stored ?? hint?.reason ?? 'user', true)
          }
          if (!syncAgain) break
        }
      } finally {
        syncing = null
      }
      stale = false
      evaluate()
    })())
  }

  const onMessage = (data: unknown) => {
    const m = parseMessage(data)
    if (!m || m.from === tabId || destroyed) return
    if (m.type === 'activity' || m.type === 'extend') {
      if (!current || m.epoch !== current.epoch) return
      const at = Math.min(m.at ?? 0, clock.now())
      if (m.type === 'extend' || warningAt === null || idle?.activityEndsWarning) noteActivity(at, m.type === 'extend')
      return
    }
    if (m.type === 'hello') {
      if (current && getStorage().kind === 'memory') post('login', { epoch: current.epoch })
      return
    }
    if (m.type === 'warning') return evaluate()
    const record = m.record !== undefined && channel?.inMemory ? readRecord(m.record) : null
    if (record && (!current || (newer(record, current)))) {
      // A newer record from a tab whose storage cannot hold it: take it, and try to persist it here.
      adopt(record, true)
      void save(record)
      return
    }
    void sync(m)
  }

  // --- idle -----------------------------------------------------------------------------------------------
  const noteActivity = (at: number, extend: boolean) => {
    if (at <= lastActivity && !extend) return
    if (at > lastActivity) {
      lastActivity = at
      activityMono = mono() - (clock.now() - at)
    } else if (extend) activityMono = Math.max(activityMono, mono() - (clock.now() - at))
    if (warningAt !== null && (extend || idle?.activityEndsWarning)) {
      warningAt = null
      publish()
      events.emit('active', {})
      idle?.onActive?.()
    }
    evaluate()
  }
  const localActivity = (extend: boolean) => {
    if (!current || destroyed) return
    const now = clock.now()
    if (warningAt !== null && !extend && !idle?.activityEndsWarning) return
    // Cheap path: at most one state update per second however fast events come.
    if (!extend && now - lastActivity < 1000) return
    noteActivity(now, extend)
    post(extend ? 'extend' : 'activity', { at: now }) // at most once a second: the gate above
    if (extend || now - lastSavedActivity >= 5000) {
      lastSavedActivity = now
      getStorage().set('activity', { v: 1, epoch: current.epoch, at: now }).catch(() => {})
    }
  }
  /**
   * The idle deadline (or the warning) looks due. This tab may have missed activity elsewhere (it was
   * frozen, in the bfcache, or throttled), so first read the shared last-activity record.
   */
  let idleCheck: Promise<void> | null = null
  /** The last activity any tab recorded for this sign-in (untrusted: validated, never in the future). */
  const storedActivity = async (r: Persisted): Promise<number | undefined> => {
    const act = (await getStorage().get('activity').catch(() => undefined)) as { epoch?: unknown; at?: unknown } | undefined
    return act?.epoch === r.epoch && typeof act.at === 'number' && Number.isFinite(act.at) ? Math.min(act.at, clock.now()) : undefined
  }
  const checkIdle = (): Promise<void> =>
    (idleCheck ??= (async () => {
      const r = current
      if (!idle || !r) return
      const at = await storedActivity(r)
      if (current !== r) return
      if (at !== undefined && at > lastActivity) noteActivity(at, true)
      const now = clock.now()
      const logoutAt = now + idle.timeoutMs - idleElapsed()
      if (now >= logoutAt) {
        if (idle.onIdle?.() === false) {
          noteActivity(now, true) // the app took over (a lock screen): a new idle period starts
        } else {
          await end('idle', false)
        }
      } else if (now >= logoutAt - warningMs && warningAt === null) {
        warningAt = logoutAt
        publish()
        post('warning')
        events.emit('idle-warning', { logoutAt, remainingMs: logoutAt - now })
        idle.onWarning?.({ logoutAt, remainingMs: logoutAt - now })
      }
    })().finally(() => {
      idleCheck = null
      schedule()
    }))

  // The hot path: runs for every pointer move. One property read and a compare until a second has
  // passed since the last counted event (event.timeStamp is free; reading a clock is not).
  let lastStamp = -1e9
  const onDomActivity = (event: Event) => {
    const stamp = event.timeStamp
    if (!event.isTrusted || (stamp - lastStamp < 1000 && stamp >= lastStamp)) return
    if (event.type === 'visibilitychange' && document.visibilityState !== 'visible') return
    lastStamp = stamp
    localActivity(false)
  }

  // --- deadlines -------------------------------------------------------------------------------------------
  const leadFor = (r: Persisted) => Math.min(leadMs, Math.max(0, (r.tokens.expiresAt - r.at) / 2))

  /** Re-checks every deadline against the wall clock; arms one timer for the next one. Idempotent. */
  const evaluate = (): void => {
    if (destroyed || !starts || !current) return schedule()
    const now = clock.now()
    const steady = clock.monotonic?.()
    const drift = steady !== undefined && lastMono ? now - lastWall - (steady - lastMono) : 0
    lastWall = now
    lastMono = steady ?? 0
    if (Math.abs(drift) > CLOCK_JUMP) events.emit('warning', { error: new SessionError('clock_jump', 'wall clock jumped') })
    const r = current
    if (o.maxSessionMs !== undefined && sessionElapsed(r) >= o.maxSessionMs) {
      void end('max-session', false)
      return
    }
    const idleFor = idle ? idleElapsed() : 0
    if (idle && (idleFor >= idle.timeoutMs || (warningAt === null && idleFor >= idle.timeoutMs - warningMs))) {
      void checkIdle()
    }
    if (o.refresh && r.tokens.refreshToken && !inflight && retryAt === null && !hidden() && now >= r.tokens.expiresAt - leadFor(r)) {
      background()
    }
    schedule()
  }

  const schedule = () => {
    cancelTimer()
    cancelTimer = () => {}
    if (destroyed || !starts || !current) return
    const r = current
    const now = clock.now()
    const at: number[] = []
    if (o.maxSessionMs !== undefined) at.push(now + o.maxSessionMs - sessionElapsed(r))
    // While an idle check reads storage, its own completion re-arms the timer (no 0 ms re-wakes).
    if (idle && !idleCheck) {
      const logoutAt = now + idle.timeoutMs - idleElapsed()
      at.push(warningAt ?? logoutAt - warningMs, logoutAt)
    }
    if (retryAt !== null) at.push(retryAt)
    else if (o.refresh && r.tokens.refreshToken && !inflight) {
      // Jitter spreads tabs so the first one usually refreshes before the others even wake up.
      const lead = leadFor(r)
      at.push(Math.max(r.tokens.expiresAt - lead + jitter(lead), (recent[recent.length - 1] ?? 0) + MIN_REFRESH_GAP))
    }
    const next = Math.min(...at.filter((t) => t > now - 1))
    if (Number.isFinite(next)) cancelTimer = clock.setTimeout(onTimer, next - now)
  }
  const onTimer = () => {
    if (retryAt !== null && clock.now() >= retryAt) {
      retryAt = null
      if (current) background(true)
    }
    evaluate()
  }
  const jitter = (lead: number) => Math.random() * Math.min(lead / 5, 3_000)
  const hidden = () => typeof document === 'object' && document.visibilityState === 'hidden'

  // --- refresh ---------------------------------------------------------------------------------------------
  const background = (force = false) => {
    refreshNow(force).catch(() => {}) // failures are reported through refresh-error and the snapshot
  }

  const refreshNow = (force: boolean): Promise<TokenSet> =>
    (inflight ??= Promise.resolve().then(() => run(force)).finally(() => {
      inflight = null
      refreshing = false
      publish()
      schedule()
    }))

  const run = async (force: boolean): Promise<TokenSet> => {
    if (destroyed) throw gone()
    if (!current) throw signedOut()
    const refresh = o.refresh
    if (!refresh || !current.tokens.refreshToken) throw new SessionError('refresh_unavailable', 'cannot refresh')
    const startEpoch = current.epoch
    const startVersion = version
    const seen = current.tokens.accessToken
    refreshing = true
    publish()
    try {
      return await withLock(async () => {
        // Another tab may have refreshed (or logged out) while we waited: adopt what is stored (RF-3).
        await sync()
        const r = current as Persisted | null
        if (!r || r.epoch !== startEpoch || version !== startVersion) throw signedOut()
        if (r.tokens.accessToken !== seen || (!force && clock.now() < r.tokens.expiresAt - leadFor(r))) return r.tokens
        const now = clock.now()
        recent = recent.filter((t) => t > now - 60_000)
        if (recent.length >= MAX_REFRESH_PER_MIN) throw new SessionError('refresh_loop_detected', 'too many refreshes', { retryable: true })
        recent.push(now)
        const controller = new AbortController()
        abortRefresh = controller
        const cancel = clock.setTimeout(() => controller.abort(new SessionError('timeout', 'timed out')), timeoutMs)
        let next: TokenSet
        try {
          next = await Promise.race([
            Promise.resolve().then(() => refresh(r.tokens, { signal: controller.signal })),
            new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true })),
          ])
        } catch (error) {
          if (current?.epoch !== startEpoch) throw signedOut()
          const e = toSessionError(error, 'server_error', 'refresh failed', [r.tokens.accessToken, r.tokens.refreshToken, r.tokens.idToken])
          // Wipe before the lock is released, so no other tab re-sends the rejected refresh token.
          if (e.code === 'reauth_required') await end('reauth-required', false, true, true)
          throw e
        } finally {
          cancel()
          abortRefresh = null
        }
        const valid = checkTokens(next, clock.now(), 'invalid_token_response')
        // Rotation is optional (RF-10): keep the refresh token (and ID token) we have when none comes back.
        const { refreshToken, idToken } = r.tokens
        const tokens: TokenSet = Object.freeze({ ...(refreshToken && { refreshToken }), ...(idToken && { idToken }), ...valid })
        // A logout or a new sign-in during the request wins: drop the result (XT-9, ER-3).
        if (current?.epoch !== startEpoch || version !== startVersion) throw signedOut()
        if (tokens.expiresAt - clock.now() <= Math.min(leadMs, MIN_REFRESH_GAP) && !loopWarned) {
          loopWarned = true
          events.emit('warning', { error: new SessionError('refresh_loop_detected', 'tokens expire too soon') })
        }
        const record: Persisted = { v: 1, epoch: startEpoch, authAt: r.authAt, at: clock.now(), gen: r.gen + 1, tokens }
        // Commit before the lock is released, so the next holder reads the rotated refresh token (RF-4).
        await save(record)
        // A sign-out or sign-in in this tab during the write: its own write (queued behind this one) wins.
        if (version !== startVersion) throw signedOut()
        adopt(record, false)
        post('refresh')
        return tokens
      })
    } catch (error) {
      const e = toSessionError(error, 'server_error', 'refresh failed')
      if (e.code !== 'reauth_required' && current?.epoch === startEpoch && e.code !== 'not_authenticated' && e.code !== 'destroyed') {
        failures++
        // Not retryable (configuration, oauth_error): automatic refresh stops (Infinity) until a new sign-in,
        // tokens from another tab, or an explicit refresh(); the access token stays usable until it expires.
        retryAt = e.retryable ? clock.now() + Math.max(e.retryAfterMs ?? 0, Math.random() * Math.min(MAX_BACKOFF, 1000 * 2 ** failures)) : Infinity
        refreshError = e
        publish()
        events.emit('refresh-error', { error: e, retryAt: e.retryable ? retryAt : null })
      }
      throw e
    }
  }

  // --- lifecycle ---------------------------------------------------------------------------------------------
  const onLifecycle = (event: Event) => {
    // Going into the bfcache or frozen: memory may be stale when the page comes back. Until the re-read
    // on pageshow/resume has landed, getAccessToken() waits for it (XT-7, XT-8).
    if (event.type === 'pagehide' || event.type === 'freeze') {
      stale = true
      return
    }
    if (event.type === 'online' && retryAt !== null && retryAt < Infinity) {
      retryAt = null
      background(true)
    }
    if (event.type === 'focus' || event.type === 'online' || (event.type === 'visibilitychange' && hidden())) evaluate()
    else void sync() // visible again, restored from bfcache, resumed from freeze: storage may have moved on
  }

  const hydrate = (): Promise<void> =>
    (hydrated ??= (async () => {
      const record = await load()
      if (destroyed || current) return publish()
      if (typeof record === 'object' && record) {
        lastActivity = (await storedActivity(record)) ?? lastActivity
        adopt(record, false, true)
      } else publish()
    })())

  const attach = () => {
    const add = (target: EventTarget, type: string, fn: (e: Event) => void, opts?: AddEventListenerOptions) => {
      target.addEventListener(type, fn, opts)
      detach.push(() => target.removeEventListener(type, fn, opts))
    }
    if (o.sync !== false) {
      channel ??= o.sync ?? createBroadcastSync(name)
      const ch = channel
      detach.push(ch.listen(onMessage), () => {
        ch.close()
        if (channel === ch) channel = null
      })
      // A lazily loaded transport missed whatever was posted before it listened: re-read once it does.
      void ch.ready?.then(() => {
        if (channel === ch && !destroyed) void sync()
      })
    }
    if (typeof window === 'object') {
      for (const type of LIFECYCLE_EVENTS) add(type === 'visibilitychange' || type === 'resume' || type === 'freeze' ? document : window, type, onLifecycle)
      if (idle) {
        for (const type of idle.events ?? DEFAULT_ACTIVITY_EVENTS) add(type === 'visibilitychange' ? document : window, type, onDomActivity, { passive: true, capture: true })
      }
    }
    void hydrate().then(() => {
      if (!current && getStorage().kind === 'memory') post('hello')
      if (deferred) {
        deferred = false
        void sync()
      }
      evaluate()
    }, report)
  }

  const stop = () => {
    cancelTimer()
    cancelTimer = () => {}
    for (const fn of detach.splice(0)) fn()
    // An injected storage belongs to the app (it may start this session again): only close our own.
    if (storage !== o.storage) storage?.close()
    storage = null
    hydrated = null
    abortRefresh?.abort(gone())
  }

  // --- public API -------------------------------------------------------------------------------------------
  const session: Session = {
    start() {
      if (destroyed) throw gone()
      if (starts++ === 0) attach()
      let stopped = false
      return () => {
        if (stopped || destroyed) return
        stopped = true
        if (--starts === 0) stop()
      }
    },
    ready() {
      const s = store.get()
      if (s.status !== 'loading' || destroyed) return Promise.resolve(s)
      if (!starts) void hydrate().catch(report)
      return new Promise((resolve) => {
        const off = store.subscribe(() => {
          const next = store.get()
          if (next.status !== 'loading') {
            off()
            resolve(next)
          }
        })
      })
    },
    async login(tokens) {
      if (destroyed) throw gone()
      const now = clock.now()
      const valid = checkTokens(tokens, now, 'invalid_argument')
      if (valid.expiresAt <= now) throw new SessionError('invalid_argument', 'expired')
      const record: Persisted = { v: 1, epoch: randomId(), authAt: now, at: now, gen: 0, tokens: valid }
      version++
      abortRefresh?.abort(signedOut())
      await exclusive(() => save(record))
      adopt(record, false) // a sign-in counts as activity: adopt() starts the idle period at authAt
      await getStorage().set('activity', { v: 1, epoch: record.epoch, at: now }).catch(() => {})
      post('login', { epoch: record.epoch })
      evaluate()
    },
    logout(opts) {
      if (destroyed) return Promise.resolve()
      return end(opts?.reason ?? 'user', false, true)
    },
    async getAccessToken() {
      if (destroyed) return null
      if (store.get().status === 'loading') await (starts ? session.ready() : hydrate())
      else if (stale || syncing) await sync()
      // Idle/absolute deadlines first: never hand out a token of a session that should be over (ID-6).
      evaluate()
      if (idle && current && idleElapsed() >= idle.timeoutMs) await checkIdle()
      const r = current
      if (!r) return null
      const now = clock.now()
      if (now < r.tokens.expiresAt - leadFor(r)) return r.tokens.accessToken
      if (!o.refresh || !r.tokens.refreshToken) return now < r.tokens.expiresAt ? r.tokens.accessToken : null
      if (retryAt === Infinity) {
        if (now < r.tokens.expiresAt) return r.tokens.accessToken
        throw refreshError ?? signedOut()
      }
      try {
        return (await refreshNow(false)).accessToken
      } catch (error) {
        // Inside the lead window the old token is still valid: a failed early refresh is not the caller's problem.
        const still = current as Persisted | null
        if (still && clock.now() < still.tokens.expiresAt) return still.tokens.accessToken
        if (!still) return null
        throw error
      }
    },
    refresh: () => refreshNow(true),
    async fetch(input, init) {
      const request = new Request(input, init)
      const allowed = o.fetch?.allowedOrigins ?? (typeof location === 'object' ? [location.origin] : [])
      if (!allowed.includes(new URL(request.url).origin)) throw new SessionError('origin_not_allowed', 'origin not allowed')
      const authorizer = o.fetch?.authorizer
      const send = async (token: string | null) => {
        const tokens = current?.tokens
        if (!token || !tokens) throw signedOut()
        let out: Request
        if (authorizer) out = await authorizer.authorize(request.clone(), tokens)
        else {
          const headers = new Headers(request.headers)
          headers.set('Authorization', `${/^dpop$/i.test(tokens.tokenType ?? '') ? 'DPoP' : 'Bearer'} ${token}`)
          out = new Request(request.clone(), { headers })
        }
        const response = await globalThis.fetch(out)
        return authorizer?.retry && (await authorizer.retry(response, out)) ? globalThis.fetch(await authorizer.authorize(request.clone(), tokens)) : response
      }
      const first = await send(await session.getAccessToken())
      if (first.status !== 401 || !o.refresh || !current?.tokens.refreshToken) return first
      return send((await session.refresh()).accessToken)
    },
    extend() {
      localActivity(true)
    },
    touch() {
      localActivity(false)
    },
    getSnapshot: () => store.get(),
    subscribe: (listener) => store.subscribe(listener),
    on: (type, handler) => events.on(type, handler),
    destroy() {
      return (destroying ??= (async () => {
        // A sign-out's wipe still waiting for the lock must land before the database closes.
        await Promise.allSettled([...writes])
        const wait = inflight
        stop()
        destroyed = true
        starts = 0
        events.clear()
        await wait?.catch(() => {})
      })())
    },
  }
  return session
}

// --- validation ----------------------------------------------------------------------------------------------

function validateOptions(o: SessionOptions): SessionOptions {
  const bad = (what: string) => {
    throw new TypeError(`createSession: invalid ${what}`)
  }
  if (typeof o !== 'object' || o === null) bad('options')
  const idle = o.idle
  const durations = { refreshLeadMs: o.refreshLeadMs, refreshTimeoutMs: o.refreshTimeoutMs, maxSessionMs: o.maxSessionMs, 'idle.timeoutMs': idle ? idle.timeoutMs ?? 0 : 1, 'idle.warningMs': idle?.warningMs }
  for (const [key, v] of Object.entries(durations)) if (v !== undefined && !(typeof v === 'number' && v > 0 && v < Infinity)) bad(key)
  if (idle?.warningMs && idle.warningMs >= idle.timeoutMs) bad('idle.warningMs (must be < timeoutMs)')
  if (o.name !== undefined && !/^[\w.:-]{1,64}$/.test(o.name)) bad('name')
  if (o.persist !== undefined && o.persist !== 'indexeddb' && o.persist !== 'memory') bad('persist')
  if (o.refresh !== undefined && typeof o.refresh !== 'function') bad('refresh')
  return o
}

/**
 * Validates a token set from an untrusted place (the app, a refresh function, storage) and returns a
 * frozen copy with only the known fields.
 * @internal
 */
export function checkTokens(value: unknown, now: number, code: 'invalid_argument' | 'invalid_token_response'): TokenSet {
  const fail = (what: string): never => {
    throw new SessionError(code, `invalid ${what}`)
  }
  if (typeof value !== 'object' || value === null) fail('tokens')
  const t = value as Record<string, unknown>
  const str = (key: string, required: boolean) => {
    const v = t[key]
    if (v === undefined && !required) return undefined
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_TOKEN) fail(key)
    return v as string
  }
  const accessToken = str('accessToken', true) as string
  const refreshToken = str('refreshToken', false)
  const idToken = str('idToken', false)
  const scope = str('scope', false)
  const tokenType = str('tokenType', false)
  const expiresAt = t.expiresAt
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt) || expiresAt > now + 366 * 86_400_000) fail('expiresAt')
  return Object.freeze({
    accessToken,
    expiresAt: expiresAt as number,
    ...(refreshToken && { refreshToken }),
    ...(idToken && { idToken }),
    ...(scope && { scope }),
    ...(tokenType && { tokenType }),
  })
}

function readRecord(raw: unknown): Persisted | null {
  if (typeof raw !== 'object' || raw === null) return null
  const r = raw as Record<string, unknown>
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v)
  if (r.v !== 1 || typeof r.epoch !== 'string' || r.epoch.length > 64 || !num(r.authAt) || !num(r.at)) return null
  try {
    return { v: 1, epoch: r.epoch, authAt: r.authAt as number, at: r.at as number, gen: num(r.gen) ? (r.gen as number) : 0, tokens: checkTokens(r.tokens, r.at as number, 'invalid_token_response') }
  } catch {
    return null
  }
}

/** Whether `a` supersedes `b`: a later sign-in, or a later refresh of the same sign-in. */
function newer(a: Persisted, b: Persisted): boolean {
  return a.epoch !== b.epoch ? a.authAt >= b.authAt : a.gen > b.gen
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}
