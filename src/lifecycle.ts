import { gone } from './errors.js'

export interface LifecycleOptions {
  /** The first start(): attaches listeners and channels, begins the first read; returns the disposers. */
  attach(): (() => void)[]
  /** The last stop, and destroy(): stops this run's timers and reads. */
  detach(): void
  /** Lets go of storage; the function it returns closes it. */
  release(): () => void
  /**
   * Work that must land before storage closes: a refresh whose request is out (its rotated refresh
   * token must be committed, or other tabs replay the spent one) and sign-in/sign-out writes.
   */
  pending(): readonly (Promise<unknown> | null)[]
  /** destroy() is over. */
  final(): void
}

export interface Lifecycle {
  /** Ref-counted: the first call attaches, the last returned stop detaches. */
  start(): () => void
  /** Final and idempotent. */
  destroy(): Promise<void>
  started(): boolean
  destroyed(): boolean
  /** destroy() has begun: no new refresh request or lock wait starts. */
  closing(): boolean
  /** Bumped by every stop: work of an earlier start (a read still going) is ignored. */
  run(): number
  /** Aborted by destroy(): a refresh or write still waiting for the lock gives up. */
  readonly signal: AbortSignal
}

/** `start()`/`destroy()` of a session: React StrictMode's start, stop, start is safe; destroy is final. */
export function createLifecycle(o: LifecycleOptions): Lifecycle {
  let starts = 0
  let runs = 0
  let destroyed = false
  let closing = false
  let destroying: Promise<void> | undefined
  let offs: (() => void)[] = []
  const abort = new AbortController()
  const pending = () => o.pending().filter(Boolean)

  const stop = () => {
    runs++
    o.detach()
    for (const off of offs.splice(0)) off()
    const close = o.release()
    const left = pending()
    if (!left.length) return close()
    void Promise.allSettled(left).then(() => {
      if (!starts || destroyed) close()
    })
  }

  return {
    start() {
      if (destroyed) throw gone()
      if (starts++ === 0) offs = o.attach()
      let stopped = false
      return () => {
        if (stopped || destroyed) return
        stopped = true
        if (--starts === 0) stop()
      }
    },
    destroy() {
      return (destroying ??= (async () => {
        closing = true
        abort.abort()
        // Work that began meanwhile lands too (the wipe of a sign-out another tab announced); bounded.
        for (let round = 0; round < 5; round++) {
          const left = pending()
          if (!left.length) break
          await Promise.allSettled(left)
        }
        stop()
        destroyed = true
        starts = 0
        o.final()
      })())
    },
    started: () => starts > 0,
    destroyed: () => destroyed,
    closing: () => closing,
    run: () => runs,
    signal: abort.signal,
  }
}
