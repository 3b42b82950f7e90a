import { createBroadcastSync, isReason, parseMessage } from './cross-tab.js'
import { createEmitter } from './emitter.js'
import { SessionError, toSessionError, type SessionErrorCode } from './errors.js'
import { createLock } from './refresh-lock.js'
import { createBrowserPage } from './page-lifecycle.js'
import { createStore } from './store.js'
import { systemClock } from './clock.js'
import { createIndexedDBStorage, createMemoryStorage } from './token-storage.js'
import { userOf } from './user.js'
import type {
  IdleState,
  LogoutReason,
  PageEvent,
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
// Not 'scroll': script-driven scrolling (an auto-scrolling log) fires trusted scroll events too.
const DEFAULT_ACTIVITY_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'visibilitychange']
/** Minimum spacing of proactive refreshes, and the cap per minute (TM-6). */
const MIN_REFRESH_GAP = 5_000
const MAX_REFRESH_PER_MIN = 12
const MAX_BACKOFF = 5 * 60_000
const CLOCK_JUMP = 30_000
/** Storage re-read interval on fallback transports, which can lose messages. */
const POLL_MS = 10_000
/** How long a tab that keeps its session in memory waits for siblings' records before refreshing. */
const ASK_MS = 150
/** Codes a shared failure record may carry (it is read from storage: untrusted). */
const TRANSIENT_CODES = ['network', 'timeout', 'server_error', 'rate_limited', 'invalid_token_response', 'lock_timeout']

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
  /**
   * Sign-in number: one more than the highest this tab had seen. Orders sign-ins between tabs without
   * trusting wall clocks (one set back would make a new sign-in look older).
   */
  seq?: number
  tokens: TokenSet
  /**
   * The last failed refresh attempt of these tokens, shared by every tab so that an outage costs one
   * token-endpoint attempt per backoff step for the whole origin, whatever the number of tabs.
   */
  fail?: Fail
}
interface Fail {
  /** Consecutive failures. */
  n: number
  /** When the attempt failed (epoch ms). */
  at: number
  /** No attempt before this instant (epoch ms), unless asked for explicitly. */
  until: number
  code: SessionErrorCode
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
  const page = o.page === false ? undefined : (o.page ?? createBrowserPage())

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
  /** destroy() has begun: no new refresh request or lock wait starts. */
  let closing = false
  /** Aborts lock waits when the session is destroyed. */
  const lockAbort = new AbortController()
  /** Bumped by stop(): work of an earlier start (a hydration still reading) is ignored. */
  let runs = 0
  /** A sibling keeps its session in memory (it said hello): login/refresh messages carry the record. */
  let memorySiblings = false
  /**
   * Records may go to sibling tabs: over a channel that never touches disk, and only where Web Locks
   * coordinate the tabs (without shared storage, nothing else keeps two tabs from presenting the same
   * refresh token: memory-held sessions then stay per tab).
   */
  const canShare = () => withLock.webLocks && !!channel?.inMemory
  /** Storage does not hold this tab's record (memory-held by choice or degraded, or its write failed). */
  const memoryHeld = () => unsaved || getStorage().kind === 'memory'
  /** The storage was shared when first opened (an injected one that reports 'memory' later has degraded). */
  let sharedAtStart = false
  /** The last storage read failed. */
  let readFailed = false
  /** The last write of this tab's record failed: storage holds an older one. */
  let unsaved = false
  /** Storage has been read once (until then the snapshot stays `loading` unless a sign-in happens). */
  let loaded = false
  /** The highest sign-in number seen (see Persisted.seq). */
  let seen = 0
  /** Records of this tab's sign-in received from siblings. */
  let answers = 0
  /** The page was in the bfcache or frozen since the last refresh (messages may have been missed). */
  let away = false
  /** Another tab has been heard from. */
  let peers = false
  const pause = () => new Promise<void>((resolve) => clock.setTimeout(resolve, ASK_MS))
  /** The tokens the snapshot shows: never the refresh token or the ID token. */
  let view: TokenSet | null = null

  const getStorage = (): TokenStorage => {
    // Work still finishing after destroy() (a wipe behind the lock) must not reopen the database.
    if (destroyed) return createMemoryStorage()
    if (!storage) {
      storage = o.storage ?? (o.persist === 'memory' ? createMemoryStorage() : createIndexedDBStorage(name, clock))
      sharedAtStart ||= storage.kind !== 'memory'
      const unlisten = storage.listen?.((notice) => {
        if (notice.type === 'cleared') {
          if (current) void end('storage-cleared', true, false)
        } else {
          events.emit(notice.type === 'degraded' ? 'storage-degraded' : 'warning', { error: notice.error })
          // This tab can no longer re-read siblings' rotations: from now on they send it their records.
          if (notice.type === 'degraded') post('hello')
        }
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
    const share = canShare() && current && (type === 'login' || type === 'refresh') && (memorySiblings || memoryHeld())
    channel.post({ v: 1, type, from: tabId, epoch: current?.epoch ?? null, ...extra, ...(share ? { record: current } : {}) })
  }
  // Tabs share a refresh token through storage, or through messages when storage is per tab.
  const shared = () => o.sync !== false || getStorage().kind !== 'memory'
  const withLock = createLock({ name: `sessionkeeper:${name}:refresh`, locks: o.locks, storage: getStorage, shared, clock, waitMs: timeoutMs + 5_000, leaseMs: timeoutMs + 10_000 })
  /**
   * Sign-in and sign-out writes take the refresh lock too, so a refresh committing in another tab can
   * never land on top of them (XT-9, ER-3). Bounded: if the lock cannot be had in time, write anyway.
   */
  const writes = new Set<Promise<void>>()
  const exclusive = (write: () => Promise<void>): Promise<void> => {
    const done = withLock(write, lockAbort.signal).catch(write)
    writes.add(done)
    return done.finally(() => writes.delete(done))
  }
  /** Bumped by every sign-in and sign-out in this tab: an in-flight refresh that sees it change discards its result. */
  let version = 0
  /** Sign-ins (epochs) that ended in this tab. */
  const ended = new Map<string, LogoutReason>()

  // --- snapshot --------------------------------------------------------------------------------------------
  let reason: LogoutReason | null = null
  // user: the ID token's claims, decoded once per ID token (the same object until the ID token changes).
  let user: [string | undefined, UserClaims | undefined] = [undefined, undefined]
  const publish = () => {
    if (destroyed) return
    const prev = store.get()
    if (!current) {
      // Signed out is only known once storage has been read (a refresh() before that must not say so).
      if (prev.status === 'loading' && !loaded) return
      if (prev.status !== 'anonymous' || prev.reason !== reason) store.set(Object.freeze({ status: 'anonymous', reason }))
      return
    }
    const idleState: IdleState = warningAt === null ? ACTIVE : Object.freeze({ phase: 'warning', logoutAt: warningAt })
    if (user[0] !== current.tokens.idToken) user = [current.tokens.idToken, userOf(current.tokens.idToken)] // user
    if (
      prev.status === 'authenticated' &&
      prev.tokens === view &&
      prev.refreshing === refreshing &&
      prev.refreshError === refreshError &&
      prev.authenticatedAt === current.authAt &&
      prev.user === user[1] && // user
      (prev.idle.phase === 'active' ? warningAt === null : prev.idle.logoutAt === warningAt)
    )
      return
    store.set(Object.freeze({ status: 'authenticated', tokens: view as TokenSet, user: user[1], refreshing, refreshError, idle: idleState, authenticatedAt: current.authAt }))
  }

  // --- persistence -----------------------------------------------------------------------------------------
  /** Writes the record; `null` wipes everything and leaves a token-free tombstone saying why. */
  const save = async (record: Persisted | null, why?: LogoutReason, only?: string) => {
    try {
      const s = getStorage()
      if (record) {
        await s.set('session', record)
        unsaved = false
      } else if (only === undefined || readRecord(await s.get('session'))?.epoch === only) {
        await s.clear()
        // Tabs that notice the sign-out by reading storage (not through a message) learn the reason here.
        await s.set('session', { v: 1, ended: why })
      }
    } catch (cause) {
      // Storage still holds the previous record (a consumed refresh token, perhaps): until a write
      // succeeds, siblings get this tab's record with its signals.
      if (record) unsaved = true
      if (!destroyed) events.emit('warning', { error: toSessionError(cause, 'storage_write_failed', 'write failed') })
    }
  }
  /** The stored session, `null` if none, or the reason of the sign-out a tombstone records. */
  const load = async (): Promise<Persisted | LogoutReason | null> => {
    let raw: unknown
    readFailed = false
    try {
      raw = await getStorage().get('session')
    } catch {
      readFailed = true
      return current // storage broken: memory is the truth (but a refresh must not trust it: see run())
    }
    if (raw == null) return null
    const ended = (raw as { ended?: unknown }).ended
    if (isReason(ended)) return ended
    const v = (raw as { v?: unknown }).v
    if (typeof v === 'number' && v > 1) {
      // Written by a newer sessionkeeper: never overwrite it; this tab keeps its session in memory (DB-2).
      if (storage !== o.storage) storage?.close()
      storage = createMemoryStorage()
      if (current) await storage.set('session', current)
      events.emit('storage-degraded', { error: new SessionError('storage_version_newer', 'using memory') })
      post('hello')
      return current
    }
    const record = readRecord(raw)
    if (!record) events.emit('warning', { error: new SessionError('storage_corrupt', 'stored session discarded') })
    return record
  }

  // --- transitions -------------------------------------------------------------------------------------------
  /** `activeAt`: the last activity known for that sign-in (stored, or sent with the record). */
  const adopt = (record: Persisted, remote: boolean, restored = false, activeAt?: number) => {
    seen = Math.max(seen, record.seq ?? 0)
    if (ended.has(record.epoch)) return
    const isNew = current?.epoch !== record.epoch
    const changed = current?.tokens.accessToken !== record.tokens.accessToken
    if (isNew || changed) {
      // New tokens: earlier refresh failures (and a stopped auto-refresh) no longer apply.
      refreshError = null
      failures = 0
      retryAt = null
      view = Object.freeze({ accessToken: record.tokens.accessToken, expiresAt: record.tokens.expiresAt, ...pick(record.tokens) })
    }
    // Another tab's failed attempt: this tab waits for the same backoff step (one attempt per step).
    if (!changed && record.fail && retryAt !== Infinity) retryAt = Math.max(retryAt ?? 0, record.fail.until)
    // Per-sign-in state of the authorizer (a cached DPoP key) belongs to the sign-in being replaced, and
    // so does a refresh in flight: its result is dropped (version).
    if (isNew && current) {
      version++
      o.fetch?.authorizer?.clear?.()
    }
    if (isNew) {
      warningAt = null
      // The idle period of a new sign-in starts at sign-in (or its last known activity), never at an
      // earlier sign-in's activity (which may lie in the future after the wall clock was set back).
      lastActivity = Math.min(Math.max(activeAt ?? 0, record.authAt), clock.now())
      activityMono = mono() - (clock.now() - lastActivity)
      // (A sign-in time in the future: the wall clock was set back since; the lifetime counts from now.)
      authMono = mono() - Math.max(0, clock.now() - record.authAt)
    }
    current = record
    reason = null
    publish()
    if (isNew) events.emit('login', { remote, restored })
    else if (changed) events.emit('refresh', { expiresAt: record.tokens.expiresAt, remote })
  }

  /**
   * Signs out in this tab. `wipe` clears storage: a remote sign-out (told by another tab) wipes only
   * while storage still holds that sign-in, so it never erases a newer one.
   */
  const end = async (why: LogoutReason, remote: boolean, wipe = !remote, locked = false) => {
    let revoked: Promise<unknown> | undefined // endSession waits for it
    version++
    const had = current
    // This sign-in is over for good: never adopt it again, even from a read that beats the wipe.
    if (had) ended.set(had.epoch, why)
    current = null
    warningAt = null
    refreshError = null
    retryAt = null
    abortRefresh?.abort(signedOut())
    reason = why
    // This tab is signed out at once (state, event) and tells the others at once, naming the sign-in:
    // a page that navigates away right after logout() still reaches them, and each of them wipes storage
    // too while it still holds that sign-in. Storage is wiped next, under the refresh lock.
    publish()
    schedule()
    if (!remote && had) post('logout', { reason: why, epoch: had.epoch })
    const only = remote ? had?.epoch : undefined
    // A page closed right after logout() may never get the lock: wipe this sign-in at once as well (the
    // wipe under the lock then also removes a refresh committed in between).
    if (wipe && !locked && had && !remote) void save(null, why, had.epoch)
    const wiped = wipe ? (locked ? save(null, why, only) : exclusive(() => save(null, why, only))) : undefined
    // Storage that degraded to memory: the database may still hold this sign-in (reload would restore it).
    if (had && !remote && degraded() && ownDisk()) void wipeDisk(had.epoch, why)
    // persist: 'memory' keeps no session on disk, but createDPoP({ name }) keeps its key pair in the
    // session's database: the sign-out deletes it there too (only if that database exists).
    if (had && !remote && o.persist === 'memory' && !o.storage) void forgetDisk()
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
    // Again once storage is wiped: a tab that opened meanwhile may have read the session before the wipe.
    if (!remote) post('logout', { reason: why, epoch: had?.epoch ?? null })
    // RP-initiated logout: after every tab is signed out and the revocation settled (at most 5 s), never awaited by logout().
    if (had && !remote && why === 'user' && o.endSession) {
      let cancel = () => {}
      void Promise.race([revoked, new Promise((r) => (cancel = clock.setTimeout(() => r(0), 5_000)))])
        .then(() => (cancel(), o.endSession?.({ tokens: had.tokens, reason: why })))
        .catch((cause: unknown) => events.emit('warning', { error: toSessionError(cause, 'configuration', 'end session failed', [had.tokens.accessToken, had.tokens.refreshToken, had.tokens.idToken]) }))
    }
  }
  /** The default IndexedDB storage has degraded to memory in this tab. */
  const degraded = () => getStorage().kind === 'memory' && (storage === o.storage ? sharedAtStart : o.persist !== 'memory')
  /** The SDK's own database backs this session (not injected, not memory by choice). */
  const ownDisk = () => !o.storage && o.persist !== 'memory' 
  const forgetDisk = async () => {
    try {
      if (!(await indexedDB.databases()).some((d) => d.name === `sessionkeeper:${name}`)) return
    } catch {
      return // no IndexedDB, or no way to ask without creating the database
    }
    const disk = createIndexedDBStorage(name, clock)
    await disk.clear().catch(() => {})
    disk.close()
  }
  /** Best effort: a fresh connection wipes the database if it still holds the sign-in that ended. */
  const wipeDisk = (epoch: string, why: LogoutReason) =>
    onDisk(async (disk, stored) => {
      if (stored?.epoch === epoch) {
        await disk.clear()
        await disk.set('session', { v: 1, ended: why })
      }
    })
  /**
   * From a degraded tab: the record goes to the database through a fresh connection too, where nothing
   * or a sign-out is stored, or an older generation of this sign-in (never a newer record or sign-in).
   */
  const writeThrough = (record: Persisted) =>
    onDisk(async (disk, stored, raw) => {
      if (raw == null || isReason((raw as { ended?: unknown }).ended) || (stored?.epoch === record.epoch && stored.gen < record.gen)) await disk.set('session', record)
    })
  /**
   * Runs `op` on a fresh connection to the database this tab's storage degraded from (best effort: the
   * failure that degraded it may have been transient), with the record stored there now.
   */
  const onDisk = async <T>(op: (disk: TokenStorage, stored: Persisted | null, raw: unknown) => Promise<T>): Promise<T | undefined> => {
    if (!ownDisk()) return undefined
    const disk = createIndexedDBStorage(name, clock)
    try {
      const raw = await disk.get('session')
      return disk.kind === 'memory' ? undefined : await op(disk, readRecord(raw), raw)
    } catch {
      return undefined // still unusable: nothing more can be done from this tab
    } finally {
      disk.close()
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
            // Storage is the truth between tabs (sign-ins are written under the lock): another sign-in
            // there replaces ours whatever the clocks say; within one sign-in, the later generation wins.
            if (!current || stored.epoch !== current.epoch || newer(stored, current)) adopt(stored, true)
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
    peers = true
    if (m.type === 'activity' || m.type === 'extend') {
      if (!current || m.epoch !== current.epoch) return
      const at = Math.min(m.at ?? 0, clock.now())
      if (m.type === 'extend' || warningAt === null || idle?.activityEndsWarning) noteActivity(at, m.type === 'extend')
      return
    }
    if (m.type === 'hello') {
      // It holds a sign-in that ended here while it was away (bfcache, frozen): tell it again.
      const over = m.epoch && ended.get(m.epoch)
      if (over) return post('logout', { epoch: m.epoch, reason: over })
      // A tab that keeps its session in memory (by choice or degraded) cannot read ours from storage.
      memorySiblings = true
      // As a 'refresh' (not a fresh sign-in), with the last activity so its idle period matches ours.
      // (Without a record where records cannot travel: it still learns that siblings exist.)
      if (current) post('refresh', { epoch: current.epoch, at: lastActivity })
      return
    }
    if (m.type === 'warning') {
      // A sibling thinks the user is idle, but this tab knows of activity it missed (it was stopped or
      // frozen meanwhile): tell it, as the extend it is.
      if (idle && current && m.epoch === current.epoch && warningAt === null && idleElapsed() < idle.timeoutMs - warningMs) post('extend', { at: lastActivity })
      return evaluate()
    }
    // Never adopt that sign-in again, even from a read that beats its wipe.
    if (m.type === 'logout' && m.epoch) ended.set(m.epoch, m.reason ?? 'user')
    // A logout that names our sign-in ends it (one that names none only makes this tab re-read storage).
    if (m.type === 'logout' && current && m.epoch === current.epoch) {
      // That sign-in is over in every tab, whatever this tab's storage still says (memory, degraded).
      // Echoed once: a tab that opened meanwhile may have been handed the session by a tab that had not
      // heard of the sign-out yet.
      const epoch = current.epoch
      void end(m.reason ?? 'user', true, true).then(() => post('logout', { reason: m.reason ?? 'user', epoch }))
      return
    }
    const record = m.record !== undefined && channel?.inMemory ? readRecord(m.record) : null
    if (record && record.epoch === current?.epoch) {
      answers++
      // The sender is behind on our sign-in (it was away): send it ours before it presents a spent token.
      if (current.gen > record.gen) return post('refresh')
    }
    if (record && (!current || newer(record, current))) {
      // A newer record from a tab whose storage cannot hold it: take it, and try to persist it here.
      adopt(record, true, false, m.at === undefined ? undefined : Math.min(m.at, clock.now()))
      void save(record)
      return
    }
    // Storage here cannot show a sibling's rotation: ask for the record instead of keeping a spent one.
    if (!record && (m.type === 'login' || m.type === 'refresh') && canShare() && getStorage().kind === 'memory') post('hello')
    void sync(m)
  }

  // --- idle -----------------------------------------------------------------------------------------------
  /** The wall clock was set back behind the last activity: readings from now on start over. */
  const setBack = () => lastActivity > clock.now()
  const noteActivity = (at: number, extend: boolean) => {
    const back = setBack()
    if (at <= lastActivity && !extend && !back) return
    if (at > lastActivity || back) {
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
    // (Measured on the monotonic clock: the wall clock may have been set back.)
    if (!extend && mono() - activityMono < 1000) return
    noteActivity(now, extend)
    post(extend ? 'extend' : 'activity', { at: now }) // at most once a second: the gate above
    if (extend || now - lastSavedActivity >= 5000 || now < lastSavedActivity) {
      lastSavedActivity = now
      getStorage().set('activity', { v: 1, epoch: current.epoch, at: now }).catch(() => {})
    }
  }
  /**
   * The idle deadline (or the warning) looks due. This tab may have missed activity elsewhere (it was
   * frozen, in the bfcache, or throttled), so first read the shared last-activity record.
   */
  let idleCheck: Promise<void> | null = null
  /**
   * The last activity any tab recorded for this sign-in (untrusted: validated). One in the future was
   * written before the wall clock was set back: it is no evidence of activity since.
   */
  const storedActivity = async (r: Persisted): Promise<number | undefined> => {
    const act = (await getStorage().get('activity').catch(() => undefined)) as { epoch?: unknown; at?: unknown } | undefined
    return act?.epoch === r.epoch && typeof act.at === 'number' && act.at <= clock.now() ? act.at : undefined
  }
  const checkIdle = (): Promise<void> =>
    (idleCheck ??= (async () => {
      const r = current
      if (!idle || !r) return
      const at = await storedActivity(r)
      if (current !== r) return
      if (at !== undefined && (at > lastActivity || setBack())) noteActivity(at, true)
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

  // --- deadlines -------------------------------------------------------------------------------------------
  const leadFor = (r: Persisted) => Math.min(leadMs, Math.max(0, (r.tokens.expiresAt - r.at) / 2))

  /** Re-checks every deadline against the wall clock; arms one timer for the next one. Idempotent. */
  const evaluate = (): void => {
    // Deadlines apply before start() and after the last stop too: getAccessToken() runs this first.
    if (destroyed || !current) return schedule()
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
    if (starts && o.refresh && r.tokens.refreshToken && !inflight && retryAt === null && !hidden() && now >= r.tokens.expiresAt - leadFor(r)) {
      background()
    }
    schedule()
  }

  const schedule = () => {
    cancelTimer()
    cancelTimer = () => {}
    if (destroyed || !starts) return
    const now = clock.now()
    const at: number[] = []
    // A fallback transport (no BroadcastChannel) can lose messages: re-read storage now and then (XT-1).
    if (channel?.lossy) at.push((nextPoll ??= now + POLL_MS))
    const r = current
    if (!r) return arm(at, now)
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
      at.push(Math.max(r.tokens.expiresAt - lead + jitter(lead), Math.min(recent[recent.length - 1] ?? 0, now) + MIN_REFRESH_GAP))
    }
    arm(at, now)
  }
  const arm = (at: number[], now: number) => {
    const next = Math.min(...at.filter((t) => t > now - 1))
    if (Number.isFinite(next)) cancelTimer = clock.setTimeout(onTimer, next - now)
  }
  let nextPoll: number | undefined
  const onTimer = () => {
    if (nextPoll !== undefined && clock.now() >= nextPoll) {
      nextPoll = undefined
      void sync()
    }
    if (retryAt !== null && clock.now() >= retryAt) {
      retryAt = null
      // If another tab already tried in this backoff step, its shared record says so.
      if (current) background(false, true)
    }
    evaluate()
  }
  const jitter = (lead: number) => Math.random() * Math.min(lead / 5, 3_000)
  const hidden = () => page?.hidden() ?? false

  // --- refresh ---------------------------------------------------------------------------------------------
  const background = (force = false, retry = false) => {
    refreshNow(force, retry).catch(() => {}) // failures are reported through refresh-error and the snapshot
  }

  /**
   * `force`: refresh even if the token is not due, and even inside the shared backoff step unless
   * another tab failed after we asked (explicit refresh(), back online). `retry`: a backoff step ended:
   * refresh even if not due, unless another tab already tried in this step. `demand`: a caller needs a
   * token now (getAccessToken): the caller's pace, not the backoff, unless another tab failed after we
   * asked (so a burst of callers in many tabs costs one attempt). Background retries alone keep the step.
   */
  const refreshNow = (force: boolean, retry = false, demand = false): Promise<TokenSet> =>
    (inflight ??= Promise.resolve().then(() => run(force, retry, demand)).finally(() => {
      inflight = null
      refreshing = false
      publish()
      schedule()
    }))

  const run = async (force: boolean, retry: boolean, demand: boolean): Promise<TokenSet> => {
    // Asked before storage was read: the stored session (if any) is the one to refresh.
    if (!loaded && !current) await hydrate()
    if (destroyed || closing) throw gone()
    if (!current) throw signedOut()
    const refresh = o.refresh
    if (!refresh || !current.tokens.refreshToken) throw new SessionError('refresh_unavailable', 'cannot refresh')
    const startEpoch = current.epoch
    const startVersion = version
    const seen = current.tokens.accessToken
    const asked = clock.now()
    const knownFails = current.fail?.n ?? 0
    /** When the next attempt is due, from the failure record every tab shares. */
    let until: number | undefined
    refreshing = true
    publish()
    try {
      return await withLock(async () => {
        // Another tab may have refreshed (or logged out) while we waited: adopt what is stored (RF-3).
        await sync()
        // A tab that keeps its session in memory (by choice, or storage degraded, perhaps on that very read)
        // cannot re-read a sibling's rotation it missed (in the bfcache, or a message that raced the lock
        // grant): it asks for their records first; back from the bfcache or frozen even before any sibling
        // was heard from, since it may have missed them all.
        if (canShare() && memoryHeld() && (peers || away)) {
          const heard = answers
          post('hello')
          await pause()
          // Back from the bfcache and no sibling answered: the one holding the current refresh token may
          // be away itself, and presenting ours could replay a spent one (revoking the grant for it too).
          // Wait while the access token lasts; then sign out here only, unannounced and not remembered as
          // ended, so a sibling that comes back can hand this tab the session again.
          if (away && answers === heard && current) {
            if (clock.now() < current.tokens.expiresAt) throw new SessionError('storage_unavailable', 'no sibling answered', { retryable: true })
            const epoch = current.epoch
            await end('reauth-required', true, true, true)
            ended.delete(epoch)
            throw signedOut()
          }
          away = false
        }
        // The read failed: this tab cannot know whether a sibling rotated the refresh token it holds.
        if (readFailed) throw new SessionError('storage_unavailable', 'storage read failed', { retryable: true })
        // Storage degraded here: the database may still be readable on a fresh connection, and hold a
        // sibling's rotation this tab never heard of.
        const disk = degraded() ? await onDisk(async (_, stored) => stored) : undefined
        if (disk && current && disk.epoch === current.epoch && disk.gen > current.gen) adopt(disk, true)
        if (closing) throw gone()
        // Degraded, with siblings sharing this refresh token, and neither a lock nor a way to learn their
        // rotations: presenting it could replay one. The access token serves until it expires.
        if (degraded() && peers && (!withLock.webLocks || (!channel?.inMemory && !disk))) throw new SessionError('storage_unavailable', 'cannot coordinate tabs', { retryable: false })
        const r = current as Persisted | null
        if (!r || r.epoch !== startEpoch || version !== startVersion) throw signedOut()
        if (r.tokens.accessToken !== seen || (!force && !retry && clock.now() < r.tokens.expiresAt - leadFor(r))) return r.tokens
        // One attempt per backoff step for the whole origin: another tab failed since we asked, or the
        // step is not over (unless the app asked explicitly).
        const f = r.fail
        if (f && ((f.n > knownFails && f.at >= asked) || (!force && !demand && clock.now() < f.until))) {
          until = f.until
          throw new SessionError(f.code, 'refresh failed (backoff shared by all tabs)', { retryable: true })
        }
        const now = clock.now()
        recent = recent.filter((t) => t > now - 60_000 && t <= now) // (<= now: the clock may have been set back)
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
          // A 400/401 without an OAuth error body (some providers answer every failed refresh so) ends the
          // session once the access token has expired; before that it is retried like any transient error.
          const dead = e.code === 'reauth_required' || (e.code === 'server_error' && !e.oauthError && (e.status === 400 || e.status === 401) && clock.now() >= r.tokens.expiresAt)
          // Wipe before the lock is released, so no other tab re-sends the rejected refresh token.
          if (dead) await end('reauth-required', false, true, true)
          else if (e.retryable && current === r) {
            // Shared before the lock is released: the next holder sees this step is taken.
            const n = (r.fail?.n ?? 0) + 1
            const t = clock.now()
            until = t + Math.max(e.retryAfterMs ?? 0, Math.random() * Math.min(MAX_BACKOFF, 1000 * 2 ** n))
            const failed: Persisted = { ...r, fail: { n, at: t, until, code: TRANSIENT_CODES.includes(e.code) ? e.code : 'server_error' } }
            await save(failed)
            if (current === r) current = failed
            post('refresh')
          }
          throw dead && e.code !== 'reauth_required' ? new SessionError('reauth_required', 'refresh token rejected', { cause: e }) : e
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
        // Fenced: a holder whose lease lapsed (a frozen page) never overwrites a newer generation, nor
        // another sign-in made meanwhile (the rotated refresh token of the old one is then moot).
        const stored = await load()
        if (typeof stored === 'object' && stored && (stored.epoch === startEpoch ? stored.gen > r.gen : !unsaved && !ended.has(stored.epoch))) {
          adopt(stored, true)
          if (stored.epoch !== startEpoch) throw signedOut()
          return stored.tokens
        }
        if (current?.epoch !== startEpoch || version !== startVersion) throw signedOut()
        const record: Persisted = { v: 1, epoch: startEpoch, authAt: r.authAt, at: clock.now(), gen: r.gen + 1, tokens }
        // Commit before the lock is released, so the next holder reads the rotated refresh token (RF-4);
        // from a degraded tab, through a fresh connection too (never over another sign-in or a newer record).
        await save(record)
        if (degraded()) await writeThrough(record)
        // A sign-out or sign-in in this tab during the write: its own write (queued behind this one) wins.
        if (version !== startVersion) throw signedOut()
        adopt(record, false)
        post('refresh')
        // Kept in memory only (storage cannot hold it): siblings learn the rotated refresh token from this
        // message alone, so it gets a head start on the next lock holder (one may be opening right now).
        if (canShare() && memoryHeld()) await pause()
        // Committed (the rotated refresh token is safe), but an answer processed this late (a page frozen
        // meanwhile) carries an access token that has already expired: never hand that out.
        if (tokens.expiresAt <= clock.now()) throw new SessionError('invalid_token_response', 'token expired on arrival')
        return tokens
      }, lockAbort.signal)
    } catch (error) {
      const e = toSessionError(error, 'server_error', 'refresh failed')
      if (e.code !== 'reauth_required' && current?.epoch === startEpoch && e.code !== 'not_authenticated' && e.code !== 'destroyed') {
        failures++
        // Not retryable (configuration, oauth_error): automatic refresh stops (Infinity) until a new sign-in,
        // tokens from another tab, or an explicit refresh(); the access token stays usable until it expires.
        retryAt = e.retryable ? (until ?? clock.now() + Math.max(e.retryAfterMs ?? 0, Math.random() * Math.min(MAX_BACKOFF, 1000 * 2 ** failures))) : Infinity
        refreshError = e
        publish()
        events.emit('refresh-error', { error: e, retryAt: e.retryable ? retryAt : null })
      }
      throw e
    }
  }

  // --- lifecycle ---------------------------------------------------------------------------------------------
  const onPage = (event: PageEvent) => {
    // Going into the bfcache or frozen: memory may be stale when the page comes back. Until the re-read
    // on pageshow/resume has landed, getAccessToken() waits for it (XT-7, XT-8).
    if (event === 'pagehide' || event === 'freeze') {
      stale = away = true
      // A storage lease held by a page that may never come back would stall the other tabs until it lapses;
      // but not while a refresh request is out (a sibling taking over would present the same token).
      if (event === 'pagehide' && !abortRefresh) withLock.release()
      return
    }
    if (event === 'online' && retryAt !== null && retryAt < Infinity) {
      retryAt = null
      background(true)
    }
    if (event === 'focus' || event === 'online' || event === 'hidden') return evaluate()
    // Visible again, restored from bfcache, resumed from freeze: storage may have moved on, and messages
    // may have been missed; a tab that keeps its session in memory asks its siblings.
    void sync()
    if (event !== 'visible' && canShare() && getStorage().kind === 'memory') post('hello')
  }

  const hydrate = (): Promise<void> =>
    (hydrated ??= (async () => {
      const run = runs
      const record = await load()
      // Stopped meanwhile (React StrictMode: start, stop, start): the next start's own read decides.
      if (run !== runs) return
      const active = typeof record === 'object' && record ? await storedActivity(record) : undefined
      if (run !== runs) return
      // Only now is the read over: until here nothing may publish 'anonymous'.
      loaded = true
      if (destroyed || current) return publish()
      if (typeof record === 'object' && record) adopt(record, false, true, active)
      // (Also when that sign-in ended meanwhile, which adopt() refuses: loading is over either way.)
      publish()
    })())

  const attach = () => {
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
    if (page) {
      detach.push(page.listen(onPage))
      if (idle) detach.push(page.activity(idle.events ?? DEFAULT_ACTIVITY_EVENTS, () => localActivity(false)))
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
    runs++
    cancelTimer()
    cancelTimer = () => {}
    for (const fn of detach.splice(0)) fn()
    hydrated = null
    // A refresh whose request is out must still commit the rotated refresh token (other tabs would
    // replay the spent one): storage closes once it and pending writes have settled.
    const s = storage
    const close = () => {
      // An injected storage belongs to the app (it may start this session again): only close our own.
      if (s !== o.storage) s?.close()
      if (storage === s) storage = null
    }
    if (!inflight && !writes.size) return close()
    void Promise.allSettled([inflight, ...writes]).then(() => {
      if (!starts || destroyed) close()
    })
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
      const record: Persisted = { v: 1, epoch: randomId(), authAt: now, at: now, gen: 0, seq: seen + 1, tokens: valid }
      version++
      abortRefresh?.abort(signedOut())
      await exclusive(async () => {
        await save(record)
        if (degraded()) await writeThrough(record)
      })
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
      // Not started (or stopped): no channel tells this instance about other tabs, so read storage first.
      else if (stale || syncing || !starts) await sync()
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
      let failed: unknown
      await refreshNow(false, false, true).catch((error: unknown) => (failed = error))
      // Time passed while refreshing (a lock wait): the deadlines again, before anything is handed out.
      evaluate()
      const still = current as Persisted | null
      if (!still) return null
      if (!failed || clock.now() < still.tokens.expiresAt) return still.tokens.accessToken
      // Inside the lead window the old token is still valid: a failed early refresh is not the caller's problem.
      throw failed
    },
    // The snapshot's view: refresh tokens never leave the SDK.
    refresh: () => refreshNow(true).then(() => view ?? Promise.reject(signedOut())),
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
        // No new request or lock wait from now on; a refresh still waiting for the lock gives up.
        closing = true
        lockAbort.abort()
        // A sign-out's wipe still waiting for the lock, and a refresh whose request is out (its rotated
        // refresh token must be committed, or other tabs replay the spent one), land before the database closes.
        await Promise.allSettled([...writes, inflight])
        stop()
        destroyed = true
        starts = 0
        events.clear()
      })())
    },
  }
  return session
}

// --- validation ----------------------------------------------------------------------------------------------

function validateOptions(o: SessionOptions): SessionOptions {
  const bad = (what: string): never => {
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
  const allowed = o.fetch?.allowedOrigins
  if (allowed === undefined) return o
  // An array of origins, compared exactly after normalisation (a string here would match substrings).
  if (!Array.isArray(allowed)) bad('fetch.allowedOrigins (an array of origins)')
  const origins = allowed.map((origin: unknown) => {
    try {
      const url = new URL(origin as string)
      if (url.origin !== 'null' && (url.protocol === 'https:' || url.protocol === 'http:')) return url.origin
    } catch {
      // reported below
    }
    return bad(`fetch.allowedOrigins entry ${JSON.stringify(String(origin)).slice(0, 80)}`)
  })
  return { ...o, fetch: { ...o.fetch, allowedOrigins: origins } }
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
  const f = r.fail as Record<string, unknown> | undefined
  const fail = f && typeof f === 'object' && num(f.n) && num(f.at) && num(f.until) && typeof f.code === 'string' ? { n: f.n as number, at: f.at as number, until: f.until as number, code: (TRANSIENT_CODES.includes(f.code) ? f.code : 'server_error') as SessionErrorCode } : undefined
  try {
    return { v: 1, epoch: r.epoch, authAt: r.authAt as number, at: r.at as number, gen: num(r.gen) ? (r.gen as number) : 0, ...(num(r.seq) && { seq: r.seq as number }), tokens: checkTokens(r.tokens, r.at as number, 'invalid_token_response'), ...(fail && { fail }) }
  } catch {
    return null
  }
}

/** Whether `a` supersedes `b`: a later sign-in, a later refresh of the same sign-in, or a later failure of it. */
function newer(a: Persisted, b: Persisted): boolean {
  const [x, y] = [a.seq ?? 0, b.seq ?? 0]
  if (a.epoch !== b.epoch) return x !== y ? x > y : a.authAt !== b.authAt ? a.authAt > b.authAt : a.epoch > b.epoch
  return a.gen > b.gen || (a.gen === b.gen && (a.fail?.at ?? 0) > (b.fail?.at ?? 0))
}

/** The optional token fields the snapshot may show. */
function pick(t: TokenSet): Partial<TokenSet> {
  return { ...(t.scope && { scope: t.scope }), ...(t.tokenType && { tokenType: t.tokenType }) }
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}
