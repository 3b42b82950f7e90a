import { SessionError } from './errors.js'
import type { Clock, LockPort, TokenStorage } from './types.js'

/** Runs `task` while holding the named cross-tab lock. */
export type LockRunner = <T>(task: () => Promise<T>) => Promise<T>

/**
 * The cross-tab refresh lock.
 *
 * - Web Locks where present: the browser releases the lock when the holding tab closes or crashes, so a
 *   dead tab never wedges the others.
 * - Otherwise, with shared storage: a lease record written with add-if-absent in one IndexedDB
 *   transaction; a lease older than `leaseMs` (a crashed holder) is taken over.
 * - Otherwise (no shared storage either): the in-tab single-flight is all there is.
 *
 * Waiting is bounded by `waitMs`, then `lock_timeout` (transient). Callers abort their work before
 * `leaseMs` runs out, so a lease never expires under a live holder.
 */
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

export function createLock({ name, locks: port, storage, shared, clock, waitMs, leaseMs }: LockOptions): LockRunner {
  const locks = port === false ? undefined : (port ?? (typeof navigator === 'object' ? (navigator.locks as LockPort | undefined) : undefined))
  const timeout = () => new SessionError('lock_timeout', 'lock wait timed out')
  if (locks?.request) {
    return (task) => {
      // A tab that shares nothing with other tabs has nothing to coordinate.
      if (!shared()) return task()
      const controller = new AbortController()
      const cancel = clock.setTimeout(() => controller.abort(), waitMs)
      return (
        locks.request(name, { mode: 'exclusive', signal: controller.signal }, () => {
          cancel()
          return task()
        })
      )
        .catch((error: unknown) => {
          throw controller.signal.aborted && (error as Error)?.name === 'AbortError' ? timeout() : error
        })
        .finally(cancel)
    }
  }
  const id = Math.random().toString(36).slice(2)
  return async (task) => {
    const store = storage()
    if (!shared() || store.kind === 'memory' || !store.add) return task()
    const deadline = clock.now() + waitMs
    for (let attempt = 0; ; attempt++) {
      if (clock.now() > deadline || attempt > 200) throw timeout()
      const mine = { owner: id, until: clock.now() + leaseMs }
      const held = (await store.add('lock', mine)) as { owner?: unknown; until?: unknown } | undefined
      if (held?.owner === id) break
      if (typeof held?.until !== 'number' || held.until < clock.now()) {
        await store.set('lock', null) // stale lease from a crashed tab
        continue
      }
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 25 + Math.random() * 75))
    }
    try {
      return await task()
    } finally {
      await store.set('lock', null).catch(() => {})
    }
  }
}
