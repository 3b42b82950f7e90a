import { gone, lockTimeout } from './errors.js'
import type { Lock, LockOptions } from './refresh-lock.js'
import type { TokenStorage } from './types.js'

export type LeaseOptions = Pick<LockOptions, 'storage' | 'clock' | 'waitMs' | 'leaseMs'>

interface Lease {
  owner?: unknown
  until?: unknown
}

/**
 * The cross-tab lock where Web Locks are missing, over storage that updates atomically (the caller
 * checked): a lease record taken, taken over (when it lapsed: a crashed holder) and released by
 * compare-and-swap in one IndexedDB transaction each, so two tabs can never both hold it.
 */
export function createLease({ storage, clock, waitMs, leaseMs }: LeaseOptions): Lock {
  const id = Math.random().toString(36).slice(2)
  let held: TokenStorage | null = null
  const free = (store: TokenStorage) => store.update!('lock', (lease) => ((lease as Lease | undefined)?.owner === id ? undefined : lease))
  const run = async <T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> => {
    const store = storage()
    const deadline = clock.now() + waitMs
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) throw gone()
      if (clock.now() > deadline || attempt > 200) throw lockTimeout()
      const now = clock.now()
      // Compare-and-swap: take the lease only if it is free or lapsed, in one transaction.
      const lease = (await store.update!('lock', (current) => {
        const c = current as Lease | undefined
        // Lapsed, or far longer than any lease (the wall clock was set back; clocks of tabs may differ a little): free.
        return c == null || c.owner === id || typeof c.until !== 'number' || c.until < now || c.until > now + 2 * leaseMs ? { owner: id, until: now + leaseMs } : current
      })) as Lease | undefined
      if (lease?.owner === id) break
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 25 + Math.random() * 75))
    }
    held = store
    try {
      return await task()
    } finally {
      held = null
      // Released only if still ours: a lease that lapsed and was taken over stays with its new owner.
      await free(store).catch(() => {})
    }
  }
  return Object.assign(run, {
    release() {
      if (held) void free(held).catch(() => {})
    },
    webLocks: false,
  })
}
