/**
 * React bindings for sessionkeeper: `sessionkeeper/react`.
 *
 * The built entry (dist/react.js) starts with a `'use client'` directive (added by rollup's `banner`:
 * bundlers drop module-level directives), so React Server Components frameworks treat it as client code.
 *
 * A thin adapter over the {@link Session} store contract (`subscribe` + `getSnapshot`). It has no runtime
 * import from the core, only types, so the entry stays a few hundred bytes and the session object can
 * come from anywhere (the package entry, a test fake).
 *
 * @packageDocumentation
 */
import {
  createContext,
  createElement,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type Context,
  type ReactElement,
  type ReactNode,
} from 'react'
import type { Clock, Session, SessionSnapshot } from '../types.js'

/** What the provider puts in context. */
interface Bound {
  readonly session: Session
  readonly clock: Pick<Clock, 'now' | 'setTimeout'>
}

const SessionContext: Context<Bound | null> = createContext<Bound | null>(null)

/** The server (and hydration) snapshot: SSR renders `loading`, so hydration cannot mismatch. */
const LOADING: SessionSnapshot = { status: 'loading' }
const getServerSnapshot = (): SessionSnapshot => LOADING

// The real clock; only used for the idle-warning countdown. Callers inject the session's clock in tests.
const systemClock: Bound['clock'] = {
  now: () => Date.now(),
  setTimeout(callback, delayMs) {
    const id = setTimeout(callback, delayMs)
    return () => clearTimeout(id)
  },
}

/**
 * Props of {@link SessionProvider}.
 *
 * @example
 * ```tsx
 * // In a test, the countdown of useIdleWarning reads the same manual clock as the session.
 * import { createManualClock } from 'sessionkeeper/testing'
 * const clock = createManualClock()
 * const session = createSession({ name: 'test', persist: 'memory', sync: false, clock, idle: { timeoutMs: 60_000 } })
 * render(<SessionProvider session={session} clock={clock}><IdleDialog /></SessionProvider>)
 * ```
 */
export interface SessionProviderProps {
  /** The session from `createSession()`. Create it once, outside the component (module scope). */
  readonly session: Session
  /**
   * The clock the idle-warning countdown reads. Pass the same clock you gave `createSession` (tests);
   * apps leave it out.
   * @default the system clock (`Date.now` / `setTimeout`)
   */
  readonly clock?: Pick<Clock, 'now' | 'setTimeout'>
  readonly children?: ReactNode
}

/**
 * Makes `session` available to the hooks below and runs it while mounted: `session.start()` in an
 * effect, its stop function on cleanup. `start()` is ref-counted, so StrictMode's mount, unmount, mount
 * leaves exactly one running session, and two providers for one session are fine.
 *
 * @example
 * ```tsx
 * import { createSession } from 'sessionkeeper'
 * import { SessionProvider } from 'sessionkeeper/react'
 *
 * const session = createSession({ refresh: refreshTokenGrant({ tokenEndpoint, clientId }) })
 *
 * createRoot(el).render(
 *   <SessionProvider session={session}>
 *     <App />
 *   </SessionProvider>,
 * )
 * ```
 */
export function SessionProvider({ session, clock = systemClock, children }: SessionProviderProps): ReactElement {
  useEffect(() => session.start(), [session])
  // A stable context value: consumers re-render only when the props change.
  const value = useMemo(() => ({ session, clock }), [session, clock])
  return createElement(SessionContext.Provider, { value }, children)
}

function useBound(hook: string): Bound {
  const bound = useContext(SessionContext)
  if (!bound) throw new Error(`sessionkeeper: ${hook}() must be used inside <SessionProvider>`)
  return bound
}

/**
 * The session's current snapshot, or a slice of it. Re-renders only when the snapshot (or the selected
 * slice) changes. On the server and during hydration it renders `{ status: 'loading' }`.
 *
 * A selector may return a new object or array on every call: the result is memoized per snapshot, and
 * compared with `isEqual` (default `Object.is`) to the previous one, so this never loops. Pass a
 * shallow-equality function when a selector builds objects, to also skip re-renders for equal results.
 *
 * @throws Error outside a {@link SessionProvider}.
 * @example
 * ```tsx
 * function Header() {
 *   const snapshot = useSession()
 *   if (snapshot.status === 'loading') return <Spinner />
 *   return snapshot.status === 'authenticated' ? <UserMenu /> : <SignInButton />
 * }
 *
 * // A slice: re-renders only when the status changes, not on every token refresh.
 * const status = useSession((s) => s.status)
 * ```
 */
export function useSession(): SessionSnapshot
/**
 * Selects a slice of the snapshot; the component re-renders only when the selection changes.
 * @param selector picks what the component needs from the snapshot.
 * @param isEqual decides whether a new selection equals the previous one. @default Object.is
 */
export function useSession<T>(selector: (snapshot: SessionSnapshot) => T, isEqual?: (a: T, b: T) => boolean): T
export function useSession<T>(
  selector?: (snapshot: SessionSnapshot) => T,
  isEqual: (a: T, b: T) => boolean = Object.is,
): T | SessionSnapshot {
  const { session } = useBound('useSession')
  const memo = useRef<{ snapshot: SessionSnapshot; select: typeof selector; value: T } | null>(null)
  const select = (snapshot: SessionSnapshot): T | SessionSnapshot => {
    if (!selector) return snapshot
    const last = memo.current
    if (last && last.snapshot === snapshot && last.select === selector) return last.value
    const next = selector(snapshot)
    // An equal result keeps the previous reference, so useSyncExternalStore sees "no change".
    const value = last && isEqual(last.value, next) ? last.value : next
    memo.current = { snapshot, select: selector, value }
    return value
  }
  return useSyncExternalStore(
    session.subscribe,
    () => select(session.getSnapshot()),
    () => select(getServerSnapshot()),
  )
}

/**
 * The session object itself, for imperative calls (`login`, `logout`, `fetch`, `on`...).
 *
 * @throws Error outside a {@link SessionProvider}.
 * @example
 * ```tsx
 * function SignOut() {
 *   const session = useSessionClient()
 *   return <button onClick={() => session.logout()}>Sign out</button>
 * }
 * ```
 */
export function useSessionClient(): Session {
  return useBound('useSessionClient').session
}

/**
 * A stable function that resolves a fresh access token (refreshing first when needed), or `null` when
 * signed out. Call it inside effects and event handlers, right before each request: never keep the
 * token in state, it goes stale.
 *
 * @throws Error outside a {@link SessionProvider}.
 * @example
 * ```tsx
 * const getAccessToken = useAccessToken()
 * useEffect(() => {
 *   const controller = new AbortController()
 *   void (async () => {
 *     const token = await getAccessToken()
 *     if (!token) return
 *     const res = await fetch('/api/me', { headers: { Authorization: `Bearer ${token}` }, signal: controller.signal })
 *     setMe(await res.json())
 *   })()
 *   return () => controller.abort()
 * }, [getAccessToken])
 * ```
 */
export function useAccessToken(): () => Promise<string | null> {
  const { session } = useBound('useAccessToken')
  return useCallback(() => session.getAccessToken(), [session])
}

/**
 * What {@link useIdleWarning} returns.
 *
 * @example
 * ```tsx
 * const { warning, logoutAt, remainingMs, extend }: IdleWarning = useIdleWarning()
 * ```
 */
export interface IdleWarning {
  /** The idle warning is showing: the session signs out at `logoutAt` unless someone calls `extend()`. */
  readonly warning: boolean
  /** When the session will sign out for inactivity (epoch ms), while the warning shows; otherwise `null`. */
  readonly logoutAt: number | null
  /** Milliseconds until `logoutAt` (0 when no warning). Display `Math.ceil(remainingMs / 1000)` seconds. */
  readonly remainingMs: number
  /** "Stay signed in": ends the warning in every tab. Stable across renders. */
  readonly extend: () => void
}

/**
 * The idle (inactivity) warning as state, for a "You will be signed out in N s" dialog. While the
 * warning shows, the component re-renders once a second (on whole seconds of `remainingMs`); otherwise
 * it holds no timer and re-renders only when the warning starts or ends.
 *
 * @throws Error outside a {@link SessionProvider}.
 * @example
 * ```tsx
 * function IdleDialog() {
 *   const { warning, remainingMs, extend } = useIdleWarning()
 *   if (!warning) return null
 *   return (
 *     <dialog open>
 *       You will be signed out in {Math.ceil(remainingMs / 1000)} s.
 *       <button onClick={extend}>Stay signed in</button>
 *     </dialog>
 *   )
 * }
 * ```
 */
export function useIdleWarning(): IdleWarning {
  const { session, clock } = useBound('useIdleWarning')
  const logoutAt = useSession(warningDeadline)
  const [tick, setTick] = useState(0)
  const remainingMs = logoutAt === null ? 0 : Math.max(0, logoutAt - clock.now())
  useEffect(() => {
    if (logoutAt === null || remainingMs <= 0) return
    // Wake on the next whole second of the remaining time; the next render schedules the one after.
    return clock.setTimeout(() => setTick((n) => n + 1), remainingMs % 1000 || 1000)
  }, [logoutAt, tick, clock]) // eslint-disable-line react-hooks/exhaustive-deps -- remainingMs derives from these
  const extend = useCallback(() => session.extend(), [session])
  return { warning: logoutAt !== null, logoutAt, remainingMs, extend }
}

function warningDeadline(snapshot: SessionSnapshot): number | null {
  return snapshot.status === 'authenticated' && snapshot.idle.phase === 'warning' ? snapshot.idle.logoutAt : null
}
