// The simulated browser origin: N tabs of the real session code (bundled from src/) over simulated
// ports, one virtual clock and one seeded PRNG. Every port operation completes as a scheduled event;
// between events the microtask queue is drained, so a run is a pure function of (config, commands, seed).
import { createHash } from 'node:crypto'
import { loadSdk } from './bundle.mjs'
import { createRng, hashSeed } from './prng.mjs'

const EPOCH = Date.UTC(2030, 0, 1) // virtual wall clock at t = 0
const TOKEN_ENDPOINT = 'https://as.example/token'
const API = 'https://api.example'
const MAX_EVENTS_PER_RUN = 200_000

/** Default configuration; a schedule overrides any of it. */
export const DEFAULT_CONFIG = Object.freeze({
  tabs: 2, // tabs opened at start
  persist: 'indexeddb', // or 'memory' (the SDK's real memory storage)
  storage: 'owned', // 'owned': the session creates (and closes) its simulated IndexedDB adapter itself; 'injected': SessionOptions.storage
  locks: 'web', // or 'lease'
  channel: 'native', // or 'fallback' (not in memory, delays, reorders, may drop)
  dropRate: 0, // fallback channel only
  idle: null, // { timeoutMs, warningMs }
  maxSessionMs: null,
  tokenLifetimeMs: 120_000,
  refreshTimeoutMs: 10_000,
  refreshLeadMs: 60_000,
  rotate: true,
})

/** Signs-out must reach a live tab within this (the sign-out's wipe may wait for the refresh lock: wait + timeout). */
export const signoutBound = (config) => config.refreshTimeoutMs + 5_000 + 2_000

const abortError = () => new DOMException('The operation was aborted.', 'AbortError')

export async function createWorld(options) {
  const sdk = await loadSdk()
  const config = { ...DEFAULT_CONFIG, ...options.config }
  const seed = options.seed ?? 1
  const w = new World(sdk, config, seed)
  return w
}

class World {
  constructor(sdk, config, seed) {
    this.sdk = sdk
    this.config = config
    this.seed = seed
    this.rng = createRng(`${seed}:init`)
    this.t = 0
    this.wallOffset = 0
    this.wallJumps = [] // { t, ms }
    this.seq = 0
    this.heap = []
    this.events = 0
    this.hash = createHash('sha256')
    this.tabs = []
    this.violations = []
    this.leakTexts = 0
    this.tokenParts = new Set()
    this.store = new Map() // the origin's IndexedDB: key -> structured clone
    this.lockHolder = null
    this.lockQueue = []
    this.channel = { lastDelivery: new Map() }
    this.as = new SimAS(this)
    this.net = { outageUntil: -1, faults: [], outages: [] }
    this.grantsByAt = new Map()
    this.clockTabs = new WeakMap()
    this.trace = []
    this.keepTrace = false
  }

  // --- time and scheduling -------------------------------------------------------------------------------
  wall() {
    return EPOCH + this.t + this.wallOffset
  }
  /** Schedules `fn` at virtual time `time`; `owner` (a tab or null) decides freeze/close semantics. */
  at(time, owner, label, fn) {
    const ev = { time: Math.max(time, this.t), seq: this.seq++, owner, label, fn, cancelled: false }
    heapPush(this.heap, ev)
    return ev
  }
  after(delay, owner, label, fn) {
    return this.at(this.t + delay, owner, label, fn)
  }
  record(line) {
    this.hash.update(`${this.t}|${line}\n`)
    if (this.keepTrace) this.trace.push(`${this.t} ${line}`)
  }
  /** Runs every event due up to `t + ms`, draining microtasks after each. */
  async runFor(ms) {
    const until = this.t + ms
    // Work started by the command (or the last event) may schedule port operations in microtasks: let
    // it, before looking at the queue, or time would jump past them.
    await drain()
    for (;;) {
      const top = this.heap[0]
      if (!top || top.time > until) break
      heapPop(this.heap)
      if (top.cancelled) continue
      const tab = top.owner
      if (tab && tab.closed) continue
      if (tab && tab.frozen) {
        if (!(tab.bfcached && top.dropInCache)) tab.held.push(top)
        continue
      }
      this.t = top.time
      if (++this.events > MAX_EVENTS_PER_RUN) throw new Error('simulation: event budget exceeded (livelock?)')
      this.record(`${tab ? `tab${tab.id}` : 'world'} ${top.label}`)
      try {
        top.fn()
      } catch (error) {
        this.violation('sim-internal', `event ${top.label} threw ${error?.stack ?? error}`)
      }
      await drain()
    }
    this.t = until
  }

  // --- ambient replacements (see bundle.mjs) -------------------------------------------------------------
  install() {
    const w = this
    globalThis.__SIM__ = {
      now: () => w.wall(),
      random: () => w.rng.next(),
      getRandomValues(array) {
        for (let i = 0; i < array.length; i++) array[i] = Math.floor(w.rng.next() * 256)
        return array
      },
      monotonic: () => w.t,
      queueMicrotask: (fn) =>
        queueMicrotask(() => {
          try {
            fn()
          } catch (error) {
            w.leak('uncaught', error)
            w.violation('uncaught', `the SDK reported an error: ${describe(error)}`)
          }
        }),
      fetch: (input, init) => w.apiFetch(input, init),
      createIndexedDBStorage(_name, clock) {
        const tab = w.clockTabs.get(clock)
        const adapter = new IdbAdapter(tab, true)
        tab.adapters.push(adapter)
        return adapter
      },
      realTimerUsed() {
        w.violation('sim-internal', 'the SDK used a real timer')
        return 0
      },
    }
    this.onRejection = (reason) => {
      this.leak('unhandled', reason)
      this.violation('unhandled-rejection', describe(reason))
    }
    // The SDK's own floating promises (`void sync()`) may reject: that is a finding of this run, not a
    // crash of the test runner, so the runner's listeners are set aside while the world runs.
    this.savedRejectionListeners = process.rawListeners('unhandledRejection')
    process.removeAllListeners('unhandledRejection')
    process.on('unhandledRejection', this.onRejection)
  }
  uninstall() {
    process.off('unhandledRejection', this.onRejection)
    for (const l of this.savedRejectionListeners ?? []) process.on('unhandledRejection', l)
    delete globalThis.__SIM__
  }

  // --- invariants bookkeeping ---------------------------------------------------------------------------------
  violation(inv, detail, extra = {}) {
    const key = extra.key ?? detail
    if (this.violations.some((v) => v.inv === inv && (v.key ?? v.detail) === key)) return
    this.violations.push({ inv, detail, t: this.t, step: this.stepIndex, ...extra })
    this.record(`VIOLATION ${inv}: ${detail}`)
  }
  registerToken(token) {
    for (let i = 0; i + 12 <= token.length; i++) this.tokenParts.add(token.slice(i, i + 12))
  }
  /** Everything observable by the app or written to a channel goes through here (LEAK-CHECK). */
  leak(where, value) {
    const text = flatten(value)
    this.leakTexts++
    for (let i = 0; i + 12 <= text.length; i++) {
      if (this.tokenParts.has(text.slice(i, i + 12))) {
        this.violation('token-leak', `${where} contains a token substring`)
        return
      }
    }
  }

  // --- tabs --------------------------------------------------------------------------------------------------
  openTab({ strict = false } = {}) {
    const tab = new Tab(this, this.tabs.length)
    this.tabs.push(tab)
    tab.create()
    if (strict) {
      const stop = tab.session.start()
      stop()
    }
    tab.start()
    tab.watchReady()
    this.record(`open tab${tab.id}${strict ? ' strict' : ''}`)
    return tab
  }
  live() {
    return this.tabs.filter((t) => !t.closed && !t.destroyCalled)
  }

  // --- locks (Web Locks shape) -----------------------------------------------------------------------------
  lockPort(tab) {
    const w = this
    return {
      request(name, options, task) {
        w.portUse(tab, 'lock')
        return new Promise((resolve, reject) => {
          const signal = options?.signal
          if (signal?.aborted) return reject(signal.reason ?? abortError())
          const req = { tab, task, resolve, reject, granted: false }
          w.lockQueue.push(req)
          signal?.addEventListener('abort', () => {
            const i = w.lockQueue.indexOf(req)
            if (i >= 0 && !req.granted) {
              w.lockQueue.splice(i, 1)
              reject(signal.reason ?? abortError())
            }
          }, { once: true })
          w.pumpLock()
        })
      },
    }
  }
  pumpLock() {
    if (this.lockHolder || !this.lockQueue.length) return
    const req = this.lockQueue.shift()
    req.granted = true
    this.lockHolder = req
    this.after(this.rng.int(0, 2), req.tab, 'lock granted', () => {
      if (this.lockHolder !== req) return
      Promise.resolve()
        .then(req.task)
        .then(req.resolve, req.reject)
        .finally(() => {
          if (this.lockHolder === req) {
            this.lockHolder = null
            this.pumpLock()
          }
        })
    })
  }
  releaseLocksOf(tab) {
    this.lockQueue = this.lockQueue.filter((r) => r.tab !== tab)
    if (this.lockHolder?.tab === tab) {
      this.lockHolder = null
      this.pumpLock()
    }
  }

  // --- cross-tab channel -----------------------------------------------------------------------------------
  post(from, message) {
    const native = this.config.channel === 'native'
    // Over the in-memory channel, memory-mode tabs may hand their record over by design (§0.3): only
    // that field of that channel is exempt from the leak check.
    const { record, ...rest } = message
    this.leak('channel message', native ? rest : message)
    this.record(`post ${message.type} from tab${from.id}`)
    for (const to of this.tabs) {
      if (to === from || to.closed || !to.endpoint.listeners.size) continue
      if (!native && this.rng.chance(this.config.dropRate)) {
        this.record(`drop ${message.type} -> tab${to.id}`)
        this.drops = (this.drops ?? 0) + 1
        continue
      }
      let time
      if (native) {
        const key = `${from.id}>${to.id}`
        time = Math.max(this.t + this.rng.int(1, 5), this.channel.lastDelivery.get(key) ?? 0)
        this.channel.lastDelivery.set(key, time)
      } else time = this.t + this.rng.int(1, 80)
      const copy = structuredClone(message)
      const ev = this.at(time, to, `deliver ${message.type} from tab${from.id}`, () => {
        if (!to.endpoint.isReady) return
        for (const l of [...to.endpoint.listeners]) l(structuredClone(copy))
      })
      ev.dropInCache = true // a page in the bfcache never gets it
    }
  }

  // --- the resource server (session.fetch) -------------------------------------------------------------------
  async apiFetch(input) {
    const request = input instanceof Request ? input : new Request(input)
    const auth = request.headers.get('authorization') ?? ''
    const token = auth.replace(/^(Bearer|DPoP) /, '')
    const tab = this.tabs.find((t) => t.pendingUse > 0 && !t.closed) ?? null
    this.checkHandedOut(tab, token, 'session.fetch Authorization')
    const info = this.grantsByAt.get(token)
    const ok = info && !this.as.grants.get(info.grant).revoked && this.t < info.expT
    return new Response(ok ? '{"ok":true}' : '', { status: ok ? 200 : 401 })
  }

  /** A token left the SDK (getAccessToken result or Authorization header): check it is still allowed. */
  checkHandedOut(tab, token, where) {
    if (!token) return
    const info = this.grantsByAt.get(token)
    if (!info) return this.violation('unknown-token', `${where}: not a token the AS issued`)
    const g = this.as.grants.get(info.grant)
    const bound = signoutBound(this.config)
    const awake = tab ? tab.awakeSince : 0
    if (g.endedAt !== null && this.t - Math.max(g.endedAt, awake) > bound) {
      this.violation('token-after-signout', `${where} in tab${tab?.id}: sign-in ${g.id} ended (${g.endReason}) at ${g.endedAt}, ${this.t - g.endedAt} ms ago`, { tab: tab?.id, grant: g.id, endReason: g.endReason, key: `${tab?.id}:${g.id}:${where}` })
    }
    const cfg = this.config
    if (cfg.maxSessionMs && this.t - g.loginT > cfg.maxSessionMs + 1_500) {
      this.violation('token-past-max-session', `${where} in tab${tab?.id}: ${this.t - g.loginT} ms after sign-in (max ${cfg.maxSessionMs})`, { tab: tab?.id })
    }
    if (cfg.idle && this.t - g.lastActivity > cfg.idle.timeoutMs + 2_500) {
      this.violation('token-past-idle', `${where} in tab${tab?.id}: ${this.t - g.lastActivity} ms after the last activity (timeout ${cfg.idle.timeoutMs})`, { tab: tab?.id })
    }
    if (!this.wallJumps.some((j) => j.t >= info.issuedT) && this.t > info.expT + 1_000) {
      // `late`: how long the token response took to reach the tab's code (frozen page, slow response).
      this.violation('expired-token', `${where} in tab${tab?.id}: expired ${this.t - info.expT} ms ago (its token response was processed ${(info.deliveredT ?? info.issuedT) - info.issuedT} ms after the AS issued it)`, { tab: tab?.id, expiredMs: this.t - info.expT, lateMs: (info.deliveredT ?? info.issuedT) - info.issuedT, key: `${tab?.id}:${token}` })
    }
  }
}

// --- one tab ---------------------------------------------------------------------------------------------------
class Tab {
  constructor(world, id) {
    this.w = world
    this.id = id
    this.openedAt = world.t
    this.awakeSince = world.t
    this.closed = false
    this.frozen = false
    this.bfcached = false
    this.hidden = false
    this.held = []
    this.driftMs = world.rng.int(0, 40)
    this.timers = new Set()
    this.pageListeners = new Set()
    this.activityListeners = new Set()
    this.stops = []
    this.pendingApi = 0
    this.pendingUse = 0
    this.destroyCalled = false
    this.destroyedAt = null
    this.grant = null
    this.snapshot = null
    this.everReady = false
    this.storageFaults = [] // { kind, count }: the next storage operations of this tab fail
    this.adapters = [] // every simulated IndexedDB adapter this tab's session used
    if (world.config.persist !== 'memory' && world.config.storage === 'injected') this.adapters.push(new IdbAdapter(this, false))
    this.endpoint = new Endpoint(this)
  }
  create() {
    const w = this.w
    const cfg = w.config
    const tab = this
    const clock = {
      now: () => w.wall(),
      monotonic: () => w.t - tab.openedAt + 1_000,
      setTimeout(callback, delay) {
        w.portUse(tab, 'timer')
        let d = Math.min(Math.max(0, Number(delay) || 0), 2 ** 31 - 1)
        d += w.rng.int(0, tab.driftMs)
        let time = w.t + d
        if (tab.hidden) time = Math.ceil(time / 1000) * 1000 // background throttling
        const ev = w.at(time, tab, 'timer', () => {
          tab.timers.delete(ev)
          callback()
        })
        tab.timers.add(ev)
        return () => {
          ev.cancelled = true
          tab.timers.delete(ev)
        }
      },
    }
    const page = {
      hidden: () => tab.hidden,
      listen(listener) {
        tab.pageListeners.add(listener)
        return () => void tab.pageListeners.delete(listener)
      },
      activity(_types, listener) {
        tab.activityListeners.add(listener)
        return () => void tab.activityListeners.delete(listener)
      },
    }
    w.clockTabs.set(clock, tab)
    const refresh = w.sdk.oauth.refreshTokenGrant({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'spa', fetch: (url, init) => w.as.fetch(tab, url, init) })
    this.session = w.sdk.createSession({
      name: 'sim',
      refresh,
      refreshTimeoutMs: cfg.refreshTimeoutMs,
      refreshLeadMs: cfg.refreshLeadMs,
      ...(cfg.idle && { idle: { timeoutMs: cfg.idle.timeoutMs, warningMs: cfg.idle.warningMs } }),
      ...(cfg.maxSessionMs && { maxSessionMs: cfg.maxSessionMs }),
      fetch: { allowedOrigins: [API] },
      clock,
      ...(cfg.persist === 'memory' ? { persist: 'memory' } : cfg.storage === 'injected' ? { storage: this.adapters[0] } : {}),
      sync: this.endpoint,
      locks: cfg.locks === 'web' ? w.lockPort(this) : false,
      page,
    })
    for (const type of ['login', 'logout', 'refresh', 'refresh-error', 'idle-warning', 'active', 'storage-degraded', 'warning']) {
      this.session.on(type, (event) => this.onEvent(type, event))
    }
    this.session.subscribe(() => this.onSnapshot())
  }
  start() {
    this.stops.push(this.session.start())
  }
  stopAll() {
    for (const stop of this.stops.splice(0)) stop()
  }
  /** The adapter in use (the last one created), or a stand-in for the SDK's own memory storage. */
  get storage() {
    return this.adapters[this.adapters.length - 1] ?? MEMORY_STAND_IN
  }
  get degradedEver() {
    return this.adapters.some((a) => a.degraded)
  }
  get started() {
    return this.stops.length > 0
  }
  watchReady() {
    const w = this.w
    const at = w.t
    // What the origin stores right now: a ready() that says "anonymous" while a live sign-in is stored is wrong.
    this.session.ready().then((snap) => {
      this.everReady = true
      const stored = w.store.get('session')
      const g = stored?.tokens?.accessToken && w.grantsByAt.get(stored.tokens.accessToken)
      const grant = g && w.as.grants.get(g.grant)
      if (snap.status === 'anonymous' && grant && grant.endedAt === null && !grant.revoked && stored.v === 1 && this.storage.kind !== 'memory' && w.t - at < 5_000) {
        w.violation('ready-anonymous', `tab${this.id}: ready() resolved anonymous while sign-in ${grant.id} is stored`, { tab: this.id })
      }
    }, (e) => w.violation('sim-internal', `ready rejected ${describe(e)}`))
  }
  onSnapshot() {
    const snap = this.session.getSnapshot()
    this.snapshot = snap
    if (snap.status === 'authenticated') {
      const info = this.w.grantsByAt.get(snap.tokens.accessToken)
      if (!info) this.w.violation('unknown-token', `tab${this.id} snapshot holds a token the AS never issued`)
      else this.grant = info.grant
    }
    this.w.leak(`tab${this.id} snapshot.refreshError`, snap.refreshError ?? null)
  }
  onEvent(type, event) {
    const w = this.w
    w.leak(`tab${this.id} ${type} event`, event)
    w.record(`tab${this.id} event ${type} ${type === 'logout' ? event.reason + (event.remote ? ' remote' : '') : type === 'refresh-error' ? event.error?.code : type === 'warning' || type === 'storage-degraded' ? event.error?.code : ''}`)
    if (type === 'storage-degraded') this.degradedEvent = true
    if (type === 'logout') {
      const g = this.grant !== null ? w.as.grants.get(this.grant) : null
      if (!event.remote && g && g.endedAt === null) {
        g.endedAt = w.t
        g.endReason = event.reason
        g.endedBy = this.id
        // Whether any other tab was awake to hear the sign-out (if the ender then leaves at once, nothing can).
        g.endedWithPeers = w.tabs.some((t) => t !== this && !t.closed && !t.frozen && t.started)
      }
      if (event.reason === 'idle' && !event.remote && w.config.idle && g) {
        const quiet = w.t - g.lastActivity
        // Slack: activity is persisted for new tabs at most every 5 s, and messages take a few ms.
        if (quiet < w.config.idle.timeoutMs - 6_000) {
          w.violation('premature-idle', `tab${this.id} signed out as idle ${quiet} ms after activity (timeout ${w.config.idle.timeoutMs})`, { tab: this.id })
        }
      }
      if (event.reason === 'reauth-required' && g) {
        this.reauth ??= new Map()
        const n = (this.reauth.get(g.id) ?? 0) + 1
        this.reauth.set(g.id, n)
        if (n > 1) w.violation('reauth-twice', `tab${this.id} ended sign-in ${g.id} as reauth-required ${n} times`, { tab: this.id })
      }
    }
  }
  /** The tab's page emits a lifecycle event (as a scheduled event: frozen tabs get it on resume). */
  emitPage(event) {
    for (const l of [...this.pageListeners]) l(event)
  }
  freeze(bfcache) {
    this.emitPage(bfcache ? 'pagehide' : 'freeze')
    this.goneAt = this.w.t
    this.frozen = true
    this.bfcached = bfcache
  }
  resume() {
    if (!this.frozen) return
    const wasCache = this.bfcached
    this.frozen = false
    this.bfcached = false
    this.awakeSince = this.w.t
    // The lifecycle event first, then whatever came due while the page was frozen.
    this.w.after(0, this, wasCache ? 'pageshow' : 'resume', () => this.emitPage(wasCache ? 'pageshow' : 'resume'))
    const held = this.held.splice(0)
    for (const ev of held) if (!ev.cancelled) this.w.at(this.w.t, this, ev.label, ev.fn)
  }
  close() {
    this.goneAt ??= this.w.t
    this.closed = true
    this.held = []
    this.w.releaseLocksOf(this)
    this.endpoint.listeners.clear()
  }
}

// --- storage ---------------------------------------------------------------------------------------------------
/**
 * One tab's view of the origin's IndexedDB, with the contract of the real adapter: operations run one at
 * a time in call order; a failing operation is retried once on a fresh connection, then the adapter
 * degrades to an (empty) in-memory store with one `degraded` notice. Faults are injected per tab.
 */
class IdbAdapter {
  constructor(tab, owned) {
    this.tab = tab
    this.w = tab.w
    this.owned = owned
    this.closed = false
    this.degraded = null
    this.listeners = new Set()
    this.queue = Promise.resolve()
  }
  get kind() {
    return this.degraded ? 'memory' : 'indexeddb'
  }
  op(name, key, apply) {
    this.w.portUse(this.tab, `storage.${name}`)
    const next = this.queue.then(() => this.attempt(name, key, apply, 0))
    this.queue = next.catch(() => {})
    return next
  }
  attempt(name, key, apply, tries) {
    const w = this.w
    return new Promise((resolve, reject) => {
      // Like the real adapter: once closed, every operation fails (its connection is gone).
      if (this.closed) return reject(new w.sdk.SessionError('destroyed', 'closed'))
      w.after(w.rng.int(0, 3), this.tab, `idb ${name} ${key ?? ''}`, () => {
        if (this.closed && !this.degraded) return reject(new w.sdk.SessionError('destroyed', 'closed'))
        if (this.degraded) return resolve(apply(this.degraded, true))
        const faults = this.tab.storageFaults
        const fault = faults[0]
        if (fault) {
          if (--fault.count <= 0) faults.shift()
          if (fault.kind === 'reject') return reject(Object.assign(new Error(`simulated ${name} failure`), { name: 'UnknownError' }))
          if (tries === 0) return resolve(this.attempt(name, key, apply, 1))
          this.degraded = new Map()
          w.record(`tab${this.tab.id} storage degraded (${fault.kind})`)
          for (const l of [...this.listeners]) l({ type: 'degraded', error: new w.sdk.SessionError('storage_unavailable', 'using memory', { cause: new DOMException('simulated', fault.kind === 'quota' ? 'QuotaExceededError' : fault.kind === 'abort' ? 'AbortError' : 'InvalidStateError') }) })
          return resolve(apply(this.degraded, true))
        }
        try {
          resolve(apply(w.store, false))
        } catch (error) {
          reject(error)
        }
      })
    })
  }
  get(key) {
    return this.op('get', key, (m) => structuredClone(m.get(key)))
  }
  set(key, value) {
    const copy = structuredClone(value)
    return this.op('set', key, (m) => void m.set(key, copy))
  }
  add(key, value) {
    const copy = structuredClone(value)
    return this.op('add', key, (m) => {
      if (m.get(key) == null) m.set(key, copy)
      return structuredClone(m.get(key))
    })
  }
  /** Atomic read-modify-write (one transaction in the real adapter): the lease lock's compare-and-swap. */
  update(key, fn) {
    return this.op('update', key, (m) => {
      const next = fn(structuredClone(m.get(key)))
      if (next === undefined) m.delete(key)
      else m.set(key, structuredClone(next))
      return structuredClone(next)
    })
  }
  clear() {
    // Like the real adapter: the lock lease survives a wipe (its holder releases it by compare-and-swap).
    return this.op('clear', null, (m) => {
      for (const k of ['session', 'activity', 'dpop']) m.delete(k)
    })
  }
  listen(listener) {
    this.listeners.add(listener)
    return () => void this.listeners.delete(listener)
  }
  close() {
    this.closed = true
    this.listeners.clear()
  }
}

/** `persist: 'memory'` uses the SDK's real memory storage; the sim only needs to know its kind. */
const MEMORY_STAND_IN = Object.freeze({ kind: 'memory', listeners: new Set(), degraded: null, closed: false })

// --- channel endpoint ------------------------------------------------------------------------------------------
class Endpoint {
  constructor(tab) {
    this.tab = tab
    this.w = tab.w
    this.listeners = new Set()
    this.inMemory = this.w.config.channel === 'native'
    this.lossy = !this.inMemory
    this.isReady = this.inMemory
    if (!this.inMemory) {
      // The lazily loaded fallback transport: listens (and sends what was queued) a little later.
      this.queued = []
      this.ready = new Promise((resolve) => {
        this.w.after(this.w.rng.int(5, 30), tab, 'fallback channel ready', () => {
          this.isReady = true
          for (const m of this.queued.splice(0)) this.w.post(this.tab, m)
          resolve()
        })
      })
    }
  }
  post(message) {
    this.w.portUse(this.tab, 'channel.post')
    if (this.closed) return
    if (!this.isReady) return void this.queued.push(structuredClone(message))
    this.w.post(this.tab, message)
  }
  listen(listener) {
    this.closed = false
    this.listeners.add(listener)
    return () => void this.listeners.delete(listener)
  }
  close() {
    this.closed = true
    this.listeners.clear()
  }
}

// --- the authorization server ----------------------------------------------------------------------------------
class SimAS {
  constructor(w) {
    this.w = w
    this.grants = new Map()
    this.rts = new Map()
    this.requests = []
    this.nextGrant = 1
  }
  issue(grant) {
    const w = this.w
    const at = w.rng.token(32)
    const rt = w.rng.token(40)
    w.registerToken(at)
    w.registerToken(rt)
    w.grantsByAt.set(at, { grant: grant.id, issuedT: w.t, expT: w.t + w.config.tokenLifetimeMs })
    this.rts.set(rt, { grant: grant.id, rotatedBy: null })
    grant.current = rt
    grant.atExpT = w.t + w.config.tokenLifetimeMs
    return { at, rt }
  }
  /** The app's sign-in (authorization-code exchange, outside the SDK): a new grant. */
  login() {
    const w = this.w
    const grant = { id: `g${this.nextGrant++}`, revoked: false, current: null, loginT: w.t, lastActivity: w.t, endedAt: null, endReason: null, bodyless: 0 }
    this.grants.set(grant.id, grant)
    const { at, rt } = this.issue(grant)
    return { grant, tokens: { accessToken: at, refreshToken: rt, expiresAt: w.wall() + w.config.tokenLifetimeMs, tokenType: 'Bearer' } }
  }
  takeFault() {
    const f = this.w.net.faults[0]
    if (!f) return null
    if (--f.count <= 0) this.w.net.faults.shift()
    return f.kind
  }
  /** The `fetch` given to refreshTokenGrant in one tab. */
  fetch(tab, url, init) {
    const w = this.w
    w.portUse(tab, 'token request')
    return new Promise((resolve, reject) => {
      const signal = init?.signal
      if (signal?.aborted) return reject(signal.reason ?? abortError())
      const params = new URLSearchParams(String(init?.body ?? ''))
      const rt = params.get('refresh_token')
      const req = { id: this.requests.length, tab: tab.id, sentT: w.t, rt, onDemand: tab.pendingApi > 0, outcome: 'pending', aborted: false, delivered: false, processed: false, fault: null }
      this.requests.push(req)
      if (tab.destroyCalled) w.violation('request-after-destroy', `tab${tab.id} sent a token request after destroy() was called`, { tab: tab.id })
      let done = false
      signal?.addEventListener('abort', () => {
        if (done) return
        done = true
        req.aborted = true
        reject(signal.reason ?? abortError())
      }, { once: true })
      if (w.t < w.net.outageUntil) {
        req.outcome = 'offline'
        return w.after(w.rng.int(1, 30), tab, 'token request fails (offline)', () => {
          if (done) return
          done = true
          reject(new TypeError('Failed to fetch'))
        })
      }
      const fault = this.takeFault()
      req.fault = fault
      w.after(w.rng.int(5, 60), null, `AS receives request ${req.id} from tab${tab.id}`, () => {
        let status = 200
        let body = ''
        const headers = { 'content-type': 'application/json', 'cache-control': 'no-store' }
        if (fault === '5xx') status = 503
        else if (fault === '429') {
          status = 429
          headers['retry-after'] = '3'
        } else if (fault === '400' || fault === '401') {
          status = Number(fault)
          delete headers['content-type']
          const g = this.grantOf(rt)
          // Transient while the access token is valid (retried with backoff); once it has expired, the first
          // body-less answer must end the sign-in in every tab: a second one means the origin still retries.
          if (g && w.t >= g.atExpT) g.bodyless++
          if (g && g.bodyless > 1) w.violation('endless-4xx-retry', `sign-in ${g.id}: ${g.bodyless} body-less HTTP ${fault} answers after the access token expired: the origin still retries`)
        } else {
          const result = this.process(req, tab)
          status = result.status
          body = JSON.stringify(result.body)
        }
        req.outcome = status
        const delay = fault === 'slow' ? w.rng.int(6_000, 14_000) : w.rng.int(5, 60)
        w.after(delay, tab, `token response ${req.id} (${status})`, () => {
          if (done) return
          done = true
          if (fault === 'lost') {
            req.lost = true
            return reject(new TypeError('Failed to fetch'))
          }
          req.delivered = true
          if (req.processed) {
            this.checkReplay(req)
            const info = w.grantsByAt.get(JSON.parse(body).access_token)
            if (info) info.deliveredT = w.t
          }
          resolve(new Response(body || null, { status, headers }))
        })
      })
    })
  }
  grantOf(rt) {
    const info = this.rts.get(rt)
    return info ? this.grants.get(info.grant) : null
  }
  process(req) {
    const w = this.w
    const info = this.rts.get(req.rt)
    if (!info) return { status: 400, body: { error: 'invalid_grant', error_description: 'unknown refresh token' } }
    const grant = this.grants.get(info.grant)
    if (info.rotatedBy !== null) {
      // Reuse of a rotated refresh token: the whole grant is revoked (RFC 9700 §4.14.2).
      grant.revoked = true
      w.record(`AS: reuse of a rotated refresh token by tab${req.tab}: grant ${grant.id} revoked`)
      this.checkReplay(req)
      return { status: 400, body: { error: 'invalid_grant', error_description: 'refresh token reuse' } }
    }
    if (grant.revoked) return { status: 400, body: { error: 'invalid_grant', error_description: 'grant revoked' } }
    if (!w.config.rotate) {
      const at = w.rng.token(32)
      w.registerToken(at)
      w.grantsByAt.set(at, { grant: grant.id, issuedT: w.t, expT: w.t + w.config.tokenLifetimeMs })
      req.processed = true
      return { status: 200, body: { access_token: at, token_type: 'Bearer', expires_in: w.config.tokenLifetimeMs / 1000 } }
    }
    const { at, rt } = this.issue(grant)
    info.rotatedBy = req.id
    req.processed = true
    return { status: 200, body: { access_token: at, token_type: 'Bearer', expires_in: w.config.tokenLifetimeMs / 1000, refresh_token: rt } }
  }
  /**
   * "No refresh token is ever presented twice by the origin": a second presentation is only excused when
   * every earlier successful presentation's answer never reached a live tab (lost, timed out, tab closed):
   * then the origin cannot know about the rotation (RF-9).
   */
  checkReplay(req) {
    const same = this.requests.filter((r) => r.rt === req.rt && r.outcome !== 'offline' && r.fault === null)
    const rotated = same.find((r) => r.processed)
    if (!rotated || same.length < 2) return
    // In the order they were sent: a later presentation is excused only when every earlier one never
    // answered a live tab (lost, timed out, or its tab closed with the request out): then the origin
    // cannot know whether the token was consumed (RF-9; an AS reuse interval is the remedy).
    const sorted = [...same].sort((a, b) => a.sentT - b.sentT || a.id - b.id)
    const unknowable = (r) => !r.delivered && (r.lost || r.aborted || this.w.tabs[r.tab].closed)
    const later = sorted.filter((r, i) => i > 0 && !sorted.slice(0, i).every(unknowable))
    if (later.length) {
      this.w.violation('rt-presented-twice', `a rotated refresh token (rotated by tab${rotated.tab}@${rotated.sentT}) presented again by ${later.map((r) => `tab${r.tab}@${r.sentT}`).join(', ')}`, { tab: later[0].tab })
    }
  }
}

// --- helpers ---------------------------------------------------------------------------------------------------
World.prototype.portUse = function portUse(tab, what) {
  if (tab.destroyedAt !== null && this.t > tab.destroyedAt) {
    this.violation('runs-after-destroy', `tab${tab.id} used ${what} after destroy() resolved`, { tab: tab.id })
  }
}

function drain() {
  return new Promise((resolve) => setImmediate(resolve))
}

function heapPush(h, ev) {
  h.push(ev)
  let i = h.length - 1
  while (i > 0) {
    const p = (i - 1) >> 1
    if (less(h[p], h[i])) break
    ;[h[p], h[i]] = [h[i], h[p]]
    i = p
  }
}
function heapPop(h) {
  const top = h[0]
  const last = h.pop()
  if (h.length) {
    h[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < h.length && less(h[l], h[m])) m = l
      if (r < h.length && less(h[r], h[m])) m = r
      if (m === i) break
      ;[h[m], h[i]] = [h[i], h[m]]
      i = m
    }
  }
  return top
}
function less(a, b) {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq)
}

/** Every string reachable from a value: messages, stacks, causes (deep), own properties. */
export function flatten(value, seen = new Set(), depth = 0) {
  if (value == null || depth > 8) return ''
  if (typeof value === 'string') return value + '\n'
  if (typeof value !== 'object' && typeof value !== 'function') return String(value) + '\n'
  if (seen.has(value)) return ''
  seen.add(value)
  let out = ''
  if (value instanceof Error) out += `${value.name}\n${value.message}\n${value.stack ?? ''}\n` + flatten(value.cause, seen, depth + 1)
  for (const key of Object.keys(value)) out += key + '\n' + flatten(value[key], seen, depth + 1)
  return out
}

export function describe(error) {
  return error instanceof Error ? `${error.name}: ${error.message}${error.code ? ` (${error.code})` : ''}` : String(error)
}

export { hashSeed, EPOCH, API }
