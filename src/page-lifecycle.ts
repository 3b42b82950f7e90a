import type { PageEvent, PagePort } from './types.js'

/**
 * The page port over `window`/`document`: lifecycle events reduced to what the session reacts to, and
 * trusted user input. `undefined` outside a browser (SSR, workers without a document).
 */
export function createBrowserPage(): PagePort | undefined {
  if (typeof window !== 'object' || typeof document !== 'object') return undefined
  const target = (type: string): EventTarget => (type === 'visibilitychange' || type === 'resume' || type === 'freeze' ? document : window)
  const on = (type: string, fn: (event: Event) => void, opts?: AddEventListenerOptions) => {
    const t = target(type)
    t.addEventListener(type, fn, opts)
    return () => t.removeEventListener(type, fn, opts)
  }
  const hidden = () => document.visibilityState === 'hidden'
  return {
    hidden,
    listen(listener) {
      const offs = (['visibilitychange', 'pageshow', 'pagehide', 'freeze', 'resume', 'focus', 'online'] as const).map((type) =>
        on(type, () => listener(type === 'visibilitychange' ? (hidden() ? 'hidden' : 'visible') : (type as PageEvent))),
      )
      return () => offs.forEach((off) => off())
    },
    activity(types, listener) {
      // The hot path: runs for every pointer move. One property read and a compare until a second has
      // passed since the last counted event (event.timeStamp is free; reading a clock is not).
      let last = -1e9
      const fn = (event: Event) => {
        const stamp = event.timeStamp
        if (!event.isTrusted || (stamp - last < 1000 && stamp >= last)) return
        if (event.type === 'visibilitychange' && hidden()) return
        last = stamp
        listener()
      }
      const offs = types.map((type) => on(type, fn, { passive: true, capture: true }))
      return () => offs.forEach((off) => off())
    },
  }
}

/** What a session does about page events, reduced to four cases (see {@link onPageEvent}). */
export interface PageReactions {
  /** Into the bfcache or frozen: memory may be stale on return. `hide`: pagehide (the page may never come back). */
  away(hide: boolean): void
  /** Visible again (`wake` false), or restored from the bfcache or resumed from freeze (`wake` true). */
  back(wake: boolean): void
  /** Back online. */
  online(): void
  /** A deadline may have passed meanwhile (focus, hidden, online). */
  check(): void
}

export const onPageEvent =
  (r: PageReactions) =>
  (event: PageEvent): void => {
    if (event === 'pagehide' || event === 'freeze') return r.away(event === 'pagehide')
    if (event === 'online') r.online()
    if (event === 'focus' || event === 'online' || event === 'hidden') return r.check()
    r.back(event !== 'visible')
  }
