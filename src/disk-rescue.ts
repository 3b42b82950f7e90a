/**
 * Work on the SDK's database from a tab whose storage degraded to memory (the failure may have been
 * transient), each over a fresh connection that is closed again, best effort. The caller (persistence)
 * owns how connections are opened (`open`).
 */
import { readRecord, tombstone, type Persisted } from './record.js'
import type { LogoutReason, TokenStorage } from './types.js'

export interface Disk {
  /** A fresh connection to the database. */
  open: () => TokenStorage
}

async function onDisk<T>({ open }: Disk, op: (disk: TokenStorage, stored: Persisted | null, raw: unknown) => Promise<T>): Promise<T | undefined> {
  const disk = open()
  try {
    const raw = await disk.get('session')
    return disk.kind === 'memory' ? undefined : await op(disk, readRecord(raw), raw)
  } catch {
    return undefined // still unusable: nothing more can be done from this tab
  } finally {
    disk.close()
  }
}

/** The record stored there (a sibling's rotation this tab never heard of, perhaps). */
export const stored = (disk: Disk): Promise<Persisted | null | undefined> => onDisk(disk, async (_, record) => record)

/** The record goes there too, over nothing, a sign-out or an older generation of it (never a newer record or sign-in). */
export const writeThrough = (disk: Disk, record: Persisted): Promise<unknown> =>
  onDisk(disk, async (s, stored, raw) => {
    if (raw == null || tombstone(raw) || (stored?.epoch === record.epoch && stored.gen < record.gen)) await s.set('session', record)
  })

/** The sign-in `epoch` ended: wiped there too if it still holds it (a reload would restore it), leaving the tombstone. */
export const wipe = (disk: Disk, epoch: string, why: LogoutReason): Promise<unknown> =>
  onDisk(disk, async (s, stored) => {
    if (stored?.epoch !== epoch) return
    await s.clear()
    await s.set('session', { v: 1, ended: why })
  })

/** Clears the database of session `name` if it exists (never creating it just to clear it). */
export async function forget({ open }: Disk, name: string): Promise<void> {
  try {
    if (!(await indexedDB.databases()).some((d) => d.name === `sessionkeeper:${name}`)) return
  } catch {
    return // no IndexedDB, or no way to ask without creating the database
  }
  const disk = open()
  await disk.clear().catch(() => {})
  disk.close()
}
