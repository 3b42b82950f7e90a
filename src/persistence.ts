import { SessionError, toSessionError } from './errors.js'
import { readRecord, tombstone, type Persisted, type Stored } from './record.js'
import * as rescue from './disk-rescue.js'
import { createIndexedDBStorage, createMemoryStorage } from './token-storage.js'
import type { Config } from './options.js'
import type { LogoutReason, SessionEventMap, StorageNotice, TokenStorage } from './types.js'

export interface PersistenceOptions {
  config: Config
  /** The session is destroyed: nothing may reopen the database. */
  destroyed: () => boolean
  /** This tab's record (what a tab that degrades keeps in memory). */
  current: () => Persisted | null
  /** Storage notices: cleared by the browser, degraded to memory, a warning. */
  notice: (notice: StorageNotice) => void
  warn: (event: SessionEventMap['warning']) => void
}

export interface Persistence {
  /** The storage, opened on first use. */
  storage(): TokenStorage
  /** Writes the record; `null` wipes everything and leaves a tombstone (only while `only` is stored, if given). */
  save(record: Persisted | null, why?: LogoutReason, only?: string): Promise<void>
  /** The stored session, the reason a tombstone records, or `null`; this tab's record if the read failed or found junk. */
  load(): Promise<Stored>
  /** The last read failed. */
  readFailed(): boolean
  /** Storage does not hold this tab's record (memory-held by choice or degraded, or its write failed). */
  memoryHeld(): boolean
  /** The last write of this tab's record failed: storage holds an older one. */
  unsaved(): boolean
  /** The SDK's database degraded to memory in this tab. */
  degraded(): boolean
  /** The record in the database this tab's storage degraded from, read on a fresh connection (best effort). */
  stored(): Promise<Persisted | null | undefined>
  /**
   * Writes a new record of this tab's (a sign-in, a refresh). From a degraded tab it goes to the database
   * too, on a fresh connection, over nothing, a sign-out or an older generation (never over another sign-in).
   */
  commit(record: Persisted): Promise<void>
  /** After a sign-out: what may still be on disk goes (a degraded tab's database, a memory session's DPoP key). */
  forget(epoch: string, why: LogoutReason): Promise<void>
  /** The last activity any tab recorded for the sign-in `epoch`. */
  activity(epoch: string): Promise<number | undefined>
  /** Records activity for every tab (best effort: never rejects). */
  touch(epoch: string, at: number): Promise<void>
  /** Lets go of the storage; the returned function closes it (once the work still using it has settled). */
  release(): () => void
}

/**
 * The session's storage: opened lazily, degraded to memory when it fails (here or by a newer schema), and
 * closed by its owner. Holds the persisted record, the sign-out tombstone and the shared last activity.
 */
export function createPersistence({ config, destroyed, current, notice, warn }: PersistenceOptions): Persistence {
  const { options: o, name, clock } = config
  let storage: TokenStorage | null = null
  let unlisten: (() => void) | undefined
  /** The storage was shared when first opened (an injected one that reports 'memory' later has degraded). */
  let sharedAtStart = false
  let readFailed = false
  let unsaved = false

  const get = (): TokenStorage => {
    // Work still finishing after destroy() (a wipe behind the lock) must not reopen the database.
    if (destroyed()) return createMemoryStorage()
    if (!storage) {
      storage = o.storage ?? (o.persist === 'memory' ? createMemoryStorage() : createIndexedDBStorage(name, clock))
      sharedAtStart ||= storage.kind !== 'memory'
      unlisten = storage.listen?.(notice)
    }
    return storage
  }
  /** The SDK's own database backs this session (not injected, not memory by choice). */
  const ownDisk = !o.storage && o.persist !== 'memory'
  const degraded = () => get().kind === 'memory' && (storage === o.storage ? sharedAtStart : o.persist !== 'memory')

  /** The database itself, on fresh connections, while this tab's storage has degraded. */
  const disk = { open: () => createIndexedDBStorage(name, clock) }

  const save: Persistence['save'] = async (record, why, only) => {
    try {
      const s = get()
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
      if (!destroyed()) warn({ error: toSessionError(cause, 'storage_write_failed', 'write failed') })
    }
  }

  return {
    storage: get,
    save,
    async commit(record) {
      await save(record)
      if (ownDisk && degraded()) await rescue.writeThrough(disk, record)
    },
    async load() {
      let raw: unknown
      readFailed = false
      try {
        raw = await get().get('session')
      } catch {
        readFailed = true
        return current() // storage broken: memory is the truth (but a refresh must not trust it)
      }
      if (raw == null) return null
      const ended = tombstone(raw)
      if (ended) return ended
      const v = (raw as { v?: unknown }).v
      if (typeof v === 'number' && v > 1) {
        // Written by a newer sessionkeeper: never overwrite it; this tab keeps its session in memory (DB-2).
        if (storage !== o.storage) storage?.close()
        unlisten?.()
        storage = createMemoryStorage()
        const r = current()
        if (r) await storage.set('session', r)
        notice({ type: 'degraded', error: new SessionError('storage_version_newer', 'using memory') })
        return r
      }
      const record = readRecord(raw)
      if (record) return record
      warn({ error: new SessionError('storage_corrupt', 'stored session discarded') })
      // Junk is no sign-out (a sign-out leaves a valid tombstone): this tab's session stands, and its next write replaces the junk.
      return current()
    },
    readFailed: () => readFailed,
    memoryHeld: () => unsaved || get().kind === 'memory',
    unsaved: () => unsaved,
    degraded,
    stored: async () => (ownDisk ? rescue.stored(disk) : undefined),
    async forget(epoch, why) {
      // persist: 'memory' keeps no session on disk, but createDPoP({ name }) keeps its key pair in the
      // session's database: the sign-out deletes it there too (only if that database exists).
      if (o.persist === 'memory' && !o.storage) void rescue.forget(disk, name)
      // Storage that degraded to memory (before the sign-out's wipe or during it): the database may still
      // hold this sign-in, and a tab opened later would restore it.
      if (ownDisk && degraded()) await rescue.wipe(disk, epoch, why)
    },
    async activity(epoch) {
      // Untrusted: validated. One in the future was written before the wall clock was set back: it is no
      // evidence of activity since.
      const act = (await get().get('activity').catch(() => undefined)) as { epoch?: unknown; at?: unknown } | undefined
      return act?.epoch === epoch && typeof act.at === 'number' && act.at <= clock.now() ? act.at : undefined
    },
    touch: (epoch, at) => get().set('activity', { v: 1, epoch, at }).catch(() => {}),
    release() {
      unlisten?.()
      unlisten = undefined
      const s = storage
      return () => {
        // An injected storage belongs to the app (it may start this session again): only close our own.
        if (s !== o.storage) s?.close()
        if (storage === s) storage = null
      }
    },
  }
}
