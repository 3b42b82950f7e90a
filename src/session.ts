import { createAlarm, watchJumps } from './clock.js'
import { coalesce } from './coalesce.js'
import { createEmitter } from './emitter.js'
import { gone, SessionError, signedOut } from './errors.js'
import { createIdleTracker } from './idle-tracker.js'
import { createLifecycle } from './lifecycle.js'
import { onPageEvent } from './page-lifecycle.js'
import { resolveOptions } from './options.js'
import { createPersistence } from './persistence.js'
import { newer, randomId, signIn, type Persisted } from './record.js'
import { createLock } from './refresh-lock.js'
import { createRefresher } from './refresher.js'
import { createSiblings, type Records } from './siblings.js'
import { createSnapshots, LOADING } from './snapshot.js'
import { createStore } from './store.js'
import { createAuthorizedFetch } from './authorized-fetch.js'
import { createProviderSignOut } from './sign-out.js'
import type { LogoutReason, Session, SessionEventMap, SessionOptions, SessionSnapshot, StorageNotice, SyncMessage } from './types.js'

/** A wall-clock jump beyond this (against the monotonic clock) is reported as a `clock_jump` warning. */
const CLOCK_JUMP = 30_000

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
  // The composition root: it owns the record protocol (current, adopt, end, sync) and the lifecycle, and
  // wires the modules, each of which owns its own state and returns its disposer.
  const config = resolveOptions(options)
  const { options: o, name, clock, page, timeoutMs } = config
  const tabId = randomId()
  /** A throwing listener is reported (as an uncaught error), never allowed to break the session's own flow. */
  const report = (error: unknown) => queueMicrotask(() => { throw error })
  const store = createStore<SessionSnapshot>(LOADING, report)
  const events = createEmitter<SessionEventMap>(report)
  const snapshots = createSnapshots(store)

  // --- the record protocol ----------------------------------------------------------------------------
  let current: Persisted | null = null
  /** Bumped by every sign-in and sign-out in this tab: an in-flight refresh that sees it change drops its result. */
  let version = 0
  /** The highest sign-in number seen (see Persisted.seq). */
  let seen = 0
  let reason: LogoutReason | null = null
  /** Storage has been read once (until then the snapshot stays `loading` unless a sign-in happens). */
  let loaded = false
  /** The first read of storage, once per run (a stop makes the next start, or call, read afresh). */
  let hydrated: { run: number; read: Promise<void> } | undefined
  /** Memory may be stale (the page was away): the next getAccessToken() re-reads storage first. */
  let stale = false
  const life = createLifecycle({ attach, release: () => p.release(), pending: () => [refresher.busy(), ...lock.writes()], final: () => events.clear(),
    detach: () => alarm.set([]) })
  const destroyed = life.destroyed

  const p = createPersistence({ config, destroyed, current: () => current, notice: onNotice, warn: (e) => events.emit('warning', e) })
  // Tabs share a refresh token through storage, or through messages when storage is per tab.
  const shared = () => o.sync !== false || p.storage().kind !== 'memory'
  const lock = createLock({ name: `sessionkeeper:${name}:refresh`, locks: o.locks, storage: p.storage, shared, clock, waitMs: timeoutMs + 5_000, leaseMs: timeoutMs + 10_000 })
  const records: Records = { current: () => current, adopt, end, sync, ended: new Map() }
  const tracker = createIdleTracker({ config, persistence: p, current: () => current, destroyed, changed: publish, evaluate, schedule, emit: events.emit,
    post: (type, extra) => siblings.post(type, extra), end: (why) => end(why, false) })
  const siblings = createSiblings({ config, tabId, records, persistence: p, tracker, webLocks: lock.webLocks, live: () => !destroyed() && life.started() })
  const refresher = createRefresher({ config, persistence: p, siblings, lock, signal: life.signal, closing: life.closing, started: life.started, changed: publish, evaluate, schedule,
    records: { ...records, version: () => version, hydrate, loaded: () => loaded, replace: (r) => (current = r) }, emit: events.emit })
  const alarm = createAlarm(clock, () => {
    refresher.onTimer()
    evaluate()
  })
  const jumped = watchJumps(clock, CLOCK_JUMP)
  const providerSignOut = createProviderSignOut({ options: o, clock, warn: (e) => events.emit('warning', e) })

  function publish(): void {
    if (!destroyed()) snapshots.publish({ record: current, loaded, reason, warningAt: tracker.warningAt(), refreshing: refresher.refreshing(), refreshError: refresher.error() })
  }
  function onNotice(notice: StorageNotice): void {
    if (notice.type === 'cleared') return void (current && end('storage-cleared', true, false))
    events.emit(notice.type === 'degraded' ? 'storage-degraded' : 'warning', { error: notice.error })
    // This tab can no longer re-read siblings' rotations: from now on they send it their records.
    if (notice.type === 'degraded') siblings.post('hello')
  }

  /** Takes `record` as this tab's session. `activeAt`: the last activity known for that sign-in (stored, or sent with the record). */
  function adopt(record: Persisted, remote: boolean, restored = false, activeAt?: number): void {
    seen = Math.max(seen, record.seq ?? 0)
    if (records.ended.has(record.epoch)) return
    const isNew = current?.epoch !== record.epoch
    const changed = current?.tokens.accessToken !== record.tokens.accessToken
    // New tokens: earlier refresh failures (and a stopped auto-refresh) no longer apply.
    if (isNew || changed) refresher.reset()
    // Another tab's failed attempt: this tab waits for the same backoff step (one attempt per step).
    if (!changed && record.fail) refresher.backoff(record.fail.until)
    // Per-sign-in state of the authorizer (a cached DPoP key) belongs to the sign-in being replaced, and
    // so does a refresh in flight: its result is dropped (version).
    if (isNew && current) {
      version++
      o.fetch?.authorizer?.clear?.()
    }
    if (isNew) tracker.begin(record, activeAt)
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
  async function end(why: LogoutReason, remote: boolean, wipe = !remote, locked = false): Promise<void> {
    version++
    const had = current
    // This sign-in is over for good: never adopt it again, even from a read that beats the wipe.
    if (had) records.ended.set(had.epoch, why)
    current = null
    tracker.clear()
    refresher.clear()
    reason = why
    // This tab is signed out at once (state, event) and tells the others at once, naming the sign-in:
    // a page that navigates away right after logout() still reaches them, and each of them wipes storage
    // too while it still holds that sign-in. Storage is wiped next, under the refresh lock.
    publish()
    schedule()
    if (!remote && had) siblings.post('logout', { reason: why, epoch: had.epoch })
    const only = remote ? had?.epoch : undefined
    // A page closed right after logout() may never get the lock: wipe this sign-in at once as well (the
    // wipe under the lock then also removes a refresh committed in between).
    if (wipe && !locked && had && !remote) void p.save(null, why, had.epoch)
    // Storage that degraded (before this wipe or during it) leaves this sign-in in the database, where a tab
    // opened later would restore it: it goes there too, under the lock (a sign-in may be writing).
    const clear = () => p.save(null, why, only).then(() => (had && !remote ? p.forget(had.epoch, why) : undefined))
    const wiped = wipe ? (locked ? clear() : lock.write(clear, life.signal)) : undefined
    if (had) {
      o.fetch?.authorizer?.clear?.()
      events.emit('logout', { reason: why, remote })
    }
    // Revocation and RP-initiated logout (after every tab is told and storage is wiped), never awaited here.
    const done = Promise.resolve(wiped).then(() => {
      // Again once storage is wiped: a tab that opened meanwhile may have read the session before the wipe.
      if (!remote) siblings.post('logout', { reason: why, epoch: had?.epoch ?? null })
    })
    if (had && !remote) providerSignOut(had.tokens, why, done)
    await done
  }

  /** A sync was asked for before the first read: it runs once that read is over. */
  let deferred = false
  /** Re-reads storage and reconciles (another tab signed in, out, or refreshed). Coalesces bursts of messages. */
  const syncing = coalesce<SyncMessage>(async (hint) => {
    const before = current
    const stored = await p.load()
    if (destroyed()) return 'stop'
    // A transition in this tab during the read makes the read stale: read again.
    if (current !== before) return 'again'
    if (typeof stored === 'object' && stored) {
      // Storage is the truth between tabs (sign-ins are written under the lock): another sign-in
      // there replaces ours whatever the clocks say; within one sign-in, the later generation wins.
      if (!current || stored.epoch !== current.epoch || newer(stored, current)) adopt(stored, true)
    } else if (current && (p.storage().kind !== 'memory' || hint?.type === 'logout')) {
      await end(stored ?? hint?.reason ?? 'user', true)
    }
  }, () => {
    stale = false
    evaluate()
  })
  function sync(hint?: SyncMessage): Promise<void> {
    if (store.get().status !== 'loading') return syncing(hint)
    deferred = true
    return Promise.resolve()
  }

  /** Re-checks every deadline against the clocks; arms one timer for the next one. Idempotent. */
  function evaluate(): void {
    // Deadlines apply before start() and after the last stop too: getAccessToken() runs this first.
    if (destroyed() || !current) return schedule()
    if (jumped()) events.emit('warning', { error: new SessionError('clock_jump', 'wall clock jumped') })
    const r = current
    if (!tracker.evaluate(r)) return
    refresher.evaluate(r)
    schedule()
  }
  function schedule(): void {
    const now = clock.now()
    const r = current
    alarm.set(destroyed() || !life.started() || !r ? [] : [...tracker.deadlines(now, r), ...refresher.deadlines(now, r)])
  }

  const onPage = onPageEvent({
    away(hide) {
      // Until the re-read on pageshow/resume has landed, getAccessToken() waits for it (XT-7, XT-8).
      stale = true
      siblings.leave()
      // A storage lease held by a page that may never come back would stall the other tabs until it lapses;
      // but not while a refresh request is out (a sibling taking over would present the same token).
      if (hide && !refresher.requestOut()) lock.release()
    },
    back(wake) {
      // Storage may have moved on and messages may have been missed; a tab keeping its session in memory asks its siblings.
      void sync()
      if (wake && siblings.canShare() && p.storage().kind === 'memory') siblings.post('hello')
    },
    online: () => refresher.online(),
    check: evaluate,
  })

  function hydrate(): Promise<void> {
    const run = life.run()
    if (hydrated?.run === run) return hydrated.read
    const read = (async () => {
      const record = await p.load()
      // Stopped meanwhile (React StrictMode: start, stop, start): the next start's own read decides.
      if (run !== life.run()) return
      const active = typeof record === 'object' && record ? await p.activity(record.epoch) : undefined
      if (run !== life.run()) return
      // Only now is the read over: until here nothing may publish 'anonymous'.
      loaded = true
      if (destroyed() || current) return publish()
      if (typeof record === 'object' && record) adopt(record, false, true, active)
      // A tab that ended this sign-in, or holds a later generation of it than storage, answers.
      if (record && current === record) siblings.post('restored')
      // (Also when that sign-in ended meanwhile, which adopt() refuses: loading is over either way.)
      publish()
    })()
    hydrated = { run, read }
    return read
  }

  function attach() {
    const offs = [siblings.listen()]
    if (page) offs.push(page.listen(onPage), tracker.listen())
    void hydrate().then(() => {
      if (!current && p.storage().kind === 'memory') siblings.post('hello')
      if (deferred) {
        deferred = false
        void sync()
      }
      evaluate()
    }, report)
    return offs
  }

  // --- public API -------------------------------------------------------------------------------------------
  const session: Session = {
    start: life.start,
    ready() {
      const s = store.get()
      if (s.status !== 'loading' || destroyed()) return Promise.resolve(s)
      if (!life.started()) void hydrate().catch(report)
      return store.when((next) => next.status !== 'loading')
    },
    async login(tokens) {
      if (destroyed()) throw gone()
      const now = clock.now()
      const record = signIn(tokens, now, seen + 1)
      version++
      refresher.abort()
      await lock.write(() => p.commit(record), life.signal)
      adopt(record, false) // a sign-in counts as activity: adopt() starts the idle period at authAt
      await p.touch(record.epoch, now)
      siblings.post('login', { epoch: record.epoch })
      evaluate()
    },
    logout(opts) {
      if (destroyed()) return Promise.resolve()
      return end(opts?.reason ?? 'user', false, true)
    },
    async getAccessToken() {
      if (destroyed()) return null
      if (store.get().status === 'loading') await (life.started() ? session.ready() : hydrate())
      // Not started (or stopped): no channel tells this instance about other tabs, so read storage first.
      else if (stale || syncing.running() || !life.started()) await sync()
      // Idle/absolute deadlines first: never hand out a token of a session that should be over (ID-6).
      evaluate()
      if (current && tracker.over()) await tracker.check()
      return current ? refresher.token(current) : null
    },
    // The snapshot's view: refresh tokens never leave the SDK.
    refresh: () => refresher.refresh(true).then(() => (current ? snapshots.view(current) : Promise.reject(signedOut()))),
    fetch: createAuthorizedFetch({ options: o, tokens: () => current?.tokens, token: () => session.getAccessToken(), refresh: () => session.refresh() }),
    extend: () => tracker.local(true),
    touch: () => tracker.local(false),
    getSnapshot: () => store.get(),
    subscribe: (listener) => store.subscribe(listener),
    on: (type, handler) => events.on(type, handler),
    destroy: life.destroy,
  }
  return session
}
