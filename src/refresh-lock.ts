import { gone, lockTimeout } from './errors.js'
import { createLease } from './lease-lock.js'
import type { Clock, LockPort, TokenStorage } from './types.js'

/** Runs `task` while holding the named cross-tab lock; `signal` abandons the wait. */
export interface Lock {
  <T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T>
  /** Gives up a storage lease this tab holds (the page is going away); a no-op with Web Locks. */
  release(): void
  /** Web Locks are in use: tabs are coordinated whether or not they share storage. */
  readonly webLocks: boolean
}

export interface LockRunner extends Lock {
  /**
   * Runs a sign-in or sign-out write under the lock, so that a refresh committing in another tab can
   * never land on top of it (XT-9, ER-3). Bounded: if the lock cannot be had in time, it writes anyway.
   */
  write(write: () => Promise<void>, signal: AbortSignal): Promise<void>
  /** The writes still running. */
  writes(): Promise<void>[]
}

export interface LockOptions {
  name: string
  /** Web Locks (or a stand-in); `false` forces the lease fallback; default `navigator.locks`. */
  locks: LockPort | false | undefined
  storage: () => TokenStorage
  /** Whether anything is shared with other tabs (nothing to coordinate otherwise). */
  shared: () => boolean
  clock: Clock
  waitMs: number
  leaseMs: number
}

/**
 * The cross-tab refresh lock.
 *
 * - Web Locks where present: the browser releases the lock when the holding tab closes or crashes, so a
 *   dead tab never wedges the others.
 * - Otherwise, with shared storage that can update atomically: a lease record taken, taken over (when it
 *   lapsed: a crashed holder) and released by compare-and-swap in one IndexedDB transaction each, so two
 *   tabs can never both hold it; released on `pagehide` too.
 * - Otherwise (no shared storage either): the in-tab single-flight is all there is.
 *
 * Waiting is bounded by `waitMs`, then `lock_timeout` (transient). Callers abort their work before
 * `leaseMs` runs out, so a lease never lapses under a live holder.
 */
export function createLock({ name, locks: port, storage, shared, clock, waitMs, leaseMs }: LockOptions): LockRunner {
  const locks = port === false ? undefined : (port ?? (typeof navigator === 'object' ? (navigator.locks as LockPort | undefined) : undefined))
  if (locks?.request) {
    const run = <T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> => {
      // A tab that shares nothing with other tabs has nothing to coordinate.
      if (!shared()) return task()
      if (signal?.aborted) return Promise.reject(gone())
      const controller = new AbortController()
      const cancel = clock.setTimeout(() => controller.abort(lockTimeout()), waitMs)
      const quit = () => controller.abort(gone())
      signal?.addEventListener('abort', quit)
      return locks
        .request(name, { mode: 'exclusive', signal: controller.signal }, () => {
          cancel()
          signal?.removeEventListener('abort', quit)
          return task()
        })
        .catch((error: unknown) => {
          throw controller.signal.aborted ? controller.signal.reason : error
        })
        .finally(() => {
          cancel()
          signal?.removeEventListener('abort', quit)
        })
    }
    return withWrites(run, { release() {}, webLocks: true })
  }
  // No Web Locks (Safari < 15.4 only): a lease in storage that updates atomically, else nothing to hold.
  const lease = createLease({ storage, clock, waitMs, leaseMs })
  const run = <T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> => {
    const store = storage()
    return !shared() || store.kind === 'memory' || !store.update ? task() : lease(task, signal)
  }
  return withWrites(run, { release: lease.release, webLocks: false })
}

function withWrites(run: <T>(task: () => Promise<T>, signal?: AbortSignal) => Promise<T>, extra: Pick<Lock, 'release' | 'webLocks'>): LockRunner {
  const writes = new Set<Promise<void>>()
  return Object.assign(run, extra, {
    write(write: () => Promise<void>, signal: AbortSignal) {
      const done = run(write, signal).catch(write)
      writes.add(done)
      return done.finally(() => writes.delete(done))
    },
    writes: () => [...writes],
  })
}
