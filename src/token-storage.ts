import { openDB, type IDBPDatabase } from 'idb'
import { SessionError } from './errors.js'
import type { Clock, StorageKey, StorageNotice, TokenStorage } from './types.js'

/** Bump only with a forward-only, idempotent migration in `upgrade`. */
const DB_VERSION = 1
const STORE = 'kv'
const KEY = 'aes'
/** How long an upgrade may stay `blocked` by a tab that ignores `versionchange` before we give up (DB-3). */
const BLOCKED_MS = 3000

type Listener = (notice: StorageNotice) => void

/** Data kept in this tab only. Also what the IndexedDB adapter degrades to. */
export function createMemoryStorage(): TokenStorage {
  const data = new Map<StorageKey, unknown>()
  return {
    kind: 'memory',
    get: async (key) => data.get(key),
    set: async (key, value) => void data.set(key, value),
    async add(key, value) {
      if (data.get(key) == null) data.set(key, value)
      return data.get(key)
    },
    async update(key, fn) {
      const next = fn(data.get(key))
      if (next === undefined) data.delete(key)
      else data.set(key, next)
      return next
    },
    clear: async () => data.clear(),
    close() {},
  }
}

/**
 * The SDK's own IndexedDB database `sessionkeeper:<name>`. Values other than `dpop` (CryptoKeyPairs,
 * stored as structured clones) are encrypted with AES-GCM under a non-extractable key kept in the same
 * database: it defeats storage dumps and disk forensics, not script running in the page (XSS can call
 * the same key). Any failure degrades to memory with one `degraded` notice; the session never loses its
 * in-memory state because of storage.
 */
export function createIndexedDBStorage(name: string, clock: Clock): TokenStorage {
  const dbName = `sessionkeeper:${name}`
  let conn: Promise<IDBPDatabase> | null = null
  let aes: Promise<CryptoKey> | null = null
  let fallback: TokenStorage | null = null
  let closed = false
  const listeners = new Set<Listener>()
  const notify = (notice: StorageNotice) => listeners.forEach((l) => l(notice))

  const degrade = (code: 'storage_unavailable' | 'storage_version_newer', cause?: unknown) => {
    if (!fallback) {
      fallback = createMemoryStorage()
      drop()
      notify({ type: 'degraded', error: new SessionError(code, 'using memory', { cause }) })
    }
    return fallback
  }
  const drop = () => {
    const old = conn
    conn = null
    aes = null
    old?.then((db) => db.close(), () => {})
  }

  const open = (): Promise<IDBPDatabase> => {
    if (closed) return Promise.reject(new SessionError('destroyed', 'closed'))
    return (conn ??= new Promise<IDBPDatabase>((resolve, reject) => {
      let cancelBlocked = () => {}
      openDB(dbName, DB_VERSION, {
        upgrade(db) {
          if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE)
        },
        blocked() {
          // Another tab holds an older version open and ignores versionchange: don't hang forever.
          cancelBlocked = clock.setTimeout(() => reject(new SessionError('storage_unavailable', 'upgrade blocked')), BLOCKED_MS)
        },
        blocking(_current, next) {
          // Let other tabs upgrade (next = a version) or delete (next = null) the database.
          drop()
          if (next === null) notify({ type: 'cleared' })
        },
        terminated() {
          // The browser closed the connection: storage cleared by devtools/Clear-Site-Data, or evicted.
          conn = null
          aes = null
          notify({ type: 'cleared' })
        },
      }).then(
        (db) => {
          cancelBlocked()
          if (closed) db.close()
          resolve(db)
        },
        (error) => {
          cancelBlocked()
          reject(error)
        },
      )
    }).catch((error: unknown) => {
      conn = null
      throw error
    }))
  }

  const key = (): Promise<CryptoKey> =>
    (aes ??= (async () => {
      const db = await open()
      const existing = await db.get(STORE, KEY)
      if (existing instanceof CryptoKey) return existing
      const fresh = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
      // Another tab may have created one meanwhile: keep theirs (add-if-absent in one transaction).
      const tx = db.transaction(STORE, 'readwrite')
      const current = await tx.store.get(KEY)
      if (!(current instanceof CryptoKey)) await tx.store.put(fresh, KEY)
      await tx.done
      return current instanceof CryptoKey ? current : fresh
    })().catch((error: unknown) => {
      aes = null
      throw error
    }))

  const encode = async (storageKey: StorageKey, value: unknown) => {
    if (unencrypted(storageKey) || value == null) return value
    const iv = crypto.getRandomValues(new Uint8Array(12))
    const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, await key(), new TextEncoder().encode(JSON.stringify(value)))
    return { v: 1, iv, data }
  }
  const decode = async (storageKey: StorageKey, stored: unknown): Promise<unknown> => {
    if (unencrypted(storageKey) || stored == null) return stored
    const record = stored as { v?: unknown; iv?: unknown; data?: unknown }
    if (typeof record.v === 'number' && record.v > 1) return { v: record.v }
    if (!(record.iv instanceof Uint8Array) || !(record.data instanceof ArrayBuffer) || record.data.byteLength > 1 << 20) throw new Error('bad record')
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: record.iv as Uint8Array<ArrayBuffer> }, await key(), record.data)
    return JSON.parse(new TextDecoder().decode(plain))
  }

  /**
   * Operations run one at a time in call order: encryption is async, so without this a write issued
   * before a `clear()` could land after it and resurrect data.
   */
  let queue: Promise<unknown> = Promise.resolve()
  const run = <T>(op: (db: IDBPDatabase) => Promise<T>, onFail: (memory: TokenStorage) => Promise<T>): Promise<T> => {
    const next = queue.then(() => attempt(op, onFail))
    queue = next.catch(() => {})
    return next
  }
  /** Runs `op` on a connection; on failure retries once on a fresh one (DB-4), then degrades to memory. */
  const attempt = async <T>(op: (db: IDBPDatabase) => Promise<T>, onFail: (memory: TokenStorage) => Promise<T>): Promise<T> => {
    if (fallback) return onFail(fallback)
    for (let tries = 0; ; tries++) {
      let db: IDBPDatabase
      try {
        if (typeof indexedDB === 'undefined') throw new Error('no indexedDB')
        db = await open()
      } catch (error) {
        if (closed) throw new SessionError('destroyed', 'closed')
        const name = (error as { name?: string } | null)?.name
        if (name === 'VersionError') return onFail(degrade('storage_version_newer', error))
        // SecurityError / InvalidStateError on open: IndexedDB is off here (private modes); don't insist.
        if (tries > 0 || name === 'SecurityError' || name === 'InvalidStateError' || typeof indexedDB === 'undefined') return onFail(degrade('storage_unavailable', error))
        continue
      }
      try {
        return await op(db)
      } catch (error) {
        if (closed) throw new SessionError('destroyed', 'closed')
        // Quota, abort, or a connection closed under us (another tab upgrading): once more on a fresh one.
        drop()
        if (tries > 0) return onFail(degrade('storage_unavailable', error))
      }
    }
  }

  return {
    get kind() {
      return fallback ? 'memory' : 'indexeddb'
    },
    get: (storageKey) =>
      run(
        async (db) => {
          const raw = await db.get(STORE, storageKey)
          try {
            return await decode(storageKey, raw)
          } catch (cause) {
            // Unreadable (corrupt, tampered, or written under a key that no longer exists): discard it.
            await db.delete(STORE, storageKey)
            notify({ type: 'warning', error: new SessionError('storage_corrupt', `${storageKey} discarded`, { cause }) })
            return undefined
          }
        },
        (memory) => memory.get(storageKey),
      ),
    set: (storageKey, value) =>
      run(
        async (db) => void (await db.put(STORE, await encode(storageKey, value), storageKey)),
        (memory) => memory.set(storageKey, value),
      ),
    add: (storageKey, value) =>
      run(
        async (db) => {
          const tx = db.transaction(STORE, 'readwrite')
          const current = await tx.store.get(storageKey)
          if (current == null) await tx.store.put(await encodeSync(storageKey, value), storageKey)
          await tx.done
          return current == null ? value : decode(storageKey, current)
        },
        (memory) => memory.add!(storageKey, value),
      ),
    update: (storageKey, fn) =>
      run(
        async (db) => {
          encodeSync(storageKey, null)
          const tx = db.transaction(STORE, 'readwrite')
          const next = fn(await tx.store.get(storageKey))
          await (next === undefined ? tx.store.delete(storageKey) : tx.store.put(next, storageKey))
          await tx.done
          return next
        },
        (memory) => memory.update!(storageKey, fn),
      ),
    clear: () =>
      run(
        async (db) => {
          const tx = db.transaction(STORE, 'readwrite')
          // Keep the AES key: alone it protects nothing, and reusing it saves a key generation. Keep the
          // lock lease: a sign-out wipes under the lock, and the holder releases it by compare-and-swap.
          await Promise.all((['session', 'activity', 'dpop'] as const).map((k) => tx.store.delete(k)))
          await tx.done
        },
        (memory) => memory.clear(),
      ),
    listen(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    close() {
      closed = true
      listeners.clear()
      drop()
    },
  }
}

/** `add` must stay inside one transaction, so only unencrypted values (DPoP key pairs, leases) go through it. */
function encodeSync(storageKey: StorageKey, value: unknown): unknown {
  if (!unencrypted(storageKey)) throw new TypeError(storageKey)
  return value
}

/** Keys stored as they are: CryptoKeyPairs (opaque to script anyway) and lock leases. The rest is encrypted. */
function unencrypted(storageKey: StorageKey): boolean {
  return storageKey === 'dpop' || storageKey === 'lock'
}
