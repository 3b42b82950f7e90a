// Leak tracker for the browser suites. Imported first by every test file (through setup.ts), it counts
// what is open: timers, DOM listeners on window/document, BroadcastChannels, IndexedDB connections and
// Web Locks requests. A root afterEach asserts every count is back to its baseline, so a test that forgets
// to destroy() a session, or a session whose destroy() forgets something, fails.

type Kind = 'timers' | 'listeners' | 'channels' | 'databases' | 'locks'
const open: Record<Kind, Map<unknown, string>> = {
  timers: new Map(),
  listeners: new Map(),
  channels: new Map(),
  databases: new Map(),
  locks: new Map(),
}
let installed = false

function where(): string {
  return (new Error().stack ?? '').split('\n').slice(3, 7).join(' | ')
}

export function installLeakTracker(): void {
  if (installed) return
  installed = true
  const g = globalThis as typeof globalThis & Record<string, any>

  const realSetTimeout = g.setTimeout.bind(g)
  const realClearTimeout = g.clearTimeout.bind(g)
  g.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const id = realSetTimeout((...a: unknown[]) => {
      open.timers.delete(id)
      fn(...a)
    }, ms, ...args)
    // Timers of 0 ms are microtask-like hand-offs (libraries, promises); they cannot outlive a test.
    if ((ms ?? 0) > 0) open.timers.set(id, `setTimeout(${ms}) ${where()}`)
    return id
  }) as typeof setTimeout
  g.clearTimeout = ((id: any) => {
    open.timers.delete(id)
    realClearTimeout(id)
  }) as typeof clearTimeout
  const realSetInterval = g.setInterval.bind(g)
  const realClearInterval = g.clearInterval.bind(g)
  g.setInterval = ((fn: () => void, ms?: number) => {
    const id = realSetInterval(fn, ms)
    open.timers.set(id, `setInterval(${ms}) ${where()}`)
    return id
  }) as typeof setInterval
  g.clearInterval = ((id: any) => {
    open.timers.delete(id)
    realClearInterval(id)
  }) as typeof clearInterval

  for (const target of [window, document] as EventTarget[]) {
    const add = target.addEventListener.bind(target)
    const remove = target.removeEventListener.bind(target)
    const keys = new WeakMap<object, Map<string, object>>()
    const keyOf = (type: string, fn: object, options?: boolean | EventListenerOptions) => {
      const capture = typeof options === 'boolean' ? options : !!options?.capture
      let byType = keys.get(fn)
      if (!byType) keys.set(fn, (byType = new Map()))
      const k = `${type}|${capture}`
      let key = byType.get(k)
      if (!key) byType.set(k, (key = {}))
      return key
    }
    target.addEventListener = (type: string, fn: any, options?: boolean | AddEventListenerOptions) => {
      if (fn) open.listeners.set(keyOf(type, fn, options), `${target === window ? 'window' : 'document'}.${type} ${where()}`)
      add(type, fn, options)
    }
    target.removeEventListener = (type: string, fn: any, options?: boolean | EventListenerOptions) => {
      if (fn) open.listeners.delete(keyOf(type, fn, options))
      remove(type, fn, options)
    }
  }

  if (g.BroadcastChannel) {
    const Native = g.BroadcastChannel as typeof BroadcastChannel
    const close = Native.prototype.close
    Native.prototype.close = function (this: BroadcastChannel) {
      open.channels.delete(this)
      close.call(this)
    }
    g.BroadcastChannel = class extends Native {
      constructor(name: string) {
        super(name)
        open.channels.set(this, `BroadcastChannel(${name}) ${where()}`)
      }
    }
  }

  if (g.indexedDB) {
    const factory = IDBFactory.prototype
    const realOpen = factory.open
    factory.open = function (this: IDBFactory, name: string, version?: number) {
      const request = version === undefined ? realOpen.call(this, name) : realOpen.call(this, name, version)
      const stack = where()
      request.addEventListener('success', () => {
        const db = request.result
        open.databases.set(db, `indexedDB.open(${name}) ${stack}`)
        db.addEventListener('close', () => open.databases.delete(db))
      })
      return request
    }
    const realClose = IDBDatabase.prototype.close
    IDBDatabase.prototype.close = function (this: IDBDatabase) {
      open.databases.delete(this)
      realClose.call(this)
    }
  }

  if (g.navigator?.locks) {
    const locks = navigator.locks as LockManager
    const request = locks.request.bind(locks) as (...args: unknown[]) => Promise<unknown>
    ;(locks as any).request = (name: string, ...rest: unknown[]) => {
      const token = {}
      open.locks.set(token, `locks.request(${name}) ${where()}`)
      return request(name, ...rest).finally(() => open.locks.delete(token))
    }
  }
}

/** What is open now, as readable strings per kind. */
export function openResources(): Record<Kind, string[]> {
  return Object.fromEntries(Object.entries(open).map(([k, m]) => [k, [...m.values()]])) as Record<Kind, string[]>
}

/** A snapshot of the current handles, to diff against after a test. */
export function snapshot(): Record<Kind, Set<unknown>> {
  return Object.fromEntries(Object.entries(open).map(([k, m]) => [k, new Set(m.keys())])) as Record<Kind, Set<unknown>>
}

/** Handles opened since `before` and still open. */
export function leakedSince(before: Record<Kind, Set<unknown>>): string[] {
  const leaks: string[] = []
  for (const [kind, map] of Object.entries(open) as [Kind, Map<unknown, string>][]) {
    for (const [handle, label] of map) if (!before[kind].has(handle)) leaks.push(`${kind}: ${label}`)
  }
  return leaks
}
