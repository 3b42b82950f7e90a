/**
 * Vue 3 bindings for sessionkeeper: `sessionkeeper/vue`.
 *
 * A thin adapter over the {@link Session} store contract (`subscribe` + `getSnapshot`): a plugin that
 * provides and runs the session, and composables returning shallow refs. No runtime import from the core.
 *
 * @packageDocumentation
 */
import {
  computed,
  inject,
  onScopeDispose,
  shallowReadonly,
  shallowRef,
  ssrContextKey,
  watch,
  type App,
  type InjectionKey,
  type Plugin,
  type Ref,
  type ShallowRef,
} from 'vue'
import type { Clock, Session, SessionSnapshot } from '../types.js'

interface Bound {
  readonly session: Session
  readonly clock: Pick<Clock, 'now' | 'setTimeout'>
}

const KEY: InjectionKey<Bound> = Symbol('sessionkeeper')
const LOADING: SessionSnapshot = { status: 'loading' }

// The real clock; only used for the idle-warning countdown. Tests inject the session's clock.
const systemClock: Bound['clock'] = {
  now: () => Date.now(),
  setTimeout(callback, delayMs) {
    const id = setTimeout(callback, delayMs)
    return () => clearTimeout(id)
  },
}

/**
 * Options of {@link createSessionPlugin}.
 *
 * @example
 * ```ts
 * // In a test, the countdown of useIdleWarning reads the same manual clock as the session.
 * import { createManualClock } from 'sessionkeeper/testing'
 * const clock = createManualClock()
 * const session = createSession({ name: 'test', persist: 'memory', sync: false, clock, idle: { timeoutMs: 60_000 } })
 * createApp(IdleDialog).use(createSessionPlugin(session, { clock })).mount(el)
 * ```
 */
export interface SessionPluginOptions {
  /**
   * The clock the idle-warning countdown reads. Pass the same clock you gave `createSession` (tests);
   * apps leave it out.
   * @default the system clock (`Date.now` / `setTimeout`)
   */
  readonly clock?: Pick<Clock, 'now' | 'setTimeout'>
}

/**
 * A Vue plugin that provides `session` to {@link useSession} and {@link useIdleWarning} and runs it while
 * the app is mounted: `session.start()` when `app.mount()` is called, the returned stop function on
 * `app.unmount()`. On the server (`renderToString`) the app is never mounted, so nothing starts there.
 * `start()` is ref-counted, so several apps may share one session.
 *
 * @example
 * ```ts
 * import { createApp } from 'vue'
 * import { createSession } from 'sessionkeeper'
 * import { createSessionPlugin } from 'sessionkeeper/vue'
 *
 * const session = createSession({ refresh: refreshTokenGrant({ tokenEndpoint, clientId }) })
 * createApp(App).use(createSessionPlugin(session)).mount('#app')
 * ```
 */
export function createSessionPlugin(session: Session, options: SessionPluginOptions = {}): Plugin {
  return {
    install(app: App) {
      app.provide(KEY, { session, clock: options.clock ?? systemClock })
      let stop: (() => void) | undefined
      const stopOnce = () => {
        stop?.()
        stop = undefined
      }
      const mount = app.mount
      app.mount = (...args) => {
        stop ??= session.start()
        return mount.apply(app, args)
      }
      // Vue >= 3.5 has onUnmount; on 3.3/3.4 wrap unmount instead.
      if (app.onUnmount) app.onUnmount(stopOnce)
      else {
        const unmount = app.unmount
        app.unmount = () => {
          unmount.call(app)
          stopOnce()
        }
      }
    },
  }
}

function useBound(composable: string): Bound {
  const bound = inject(KEY, null)
  if (!bound) throw new Error(`sessionkeeper: ${composable}() needs the session plugin: app.use(createSessionPlugin(session))`)
  return bound
}

/**
 * The session's snapshot (or a slice of it) as a read-only shallow ref, updated on every change and
 * unsubscribed when the calling component (or effect scope) is disposed. During server rendering it
 * holds `{ status: 'loading' }` and subscribes to nothing.
 *
 * With a selector, the ref only changes when the selection changes by `isEqual` (default `Object.is`),
 * so return primitives, or pass a shallow-equality function when the selector builds objects.
 *
 * @throws Error when the plugin is not installed (or when called outside `setup()`).
 * @example
 * ```vue
 * <script setup lang="ts">
 * import { useSession } from 'sessionkeeper/vue'
 * const session = useSession()
 * const status = useSession((s) => s.status)
 * </script>
 * <template>
 *   <Spinner v-if="status === 'loading'" />
 *   <UserMenu v-else-if="session.status === 'authenticated'" :tokens="session.tokens" />
 *   <SignInButton v-else />
 * </template>
 * ```
 */
export function useSession(): Readonly<ShallowRef<SessionSnapshot>>
/**
 * Selects a slice of the snapshot; the component re-renders only when the selection changes.
 * @param selector picks what the component needs from the snapshot.
 * @param isEqual decides whether a new selection equals the previous one. @default Object.is
 */
export function useSession<T>(
  selector: (snapshot: SessionSnapshot) => T,
  isEqual?: (a: T, b: T) => boolean,
): Readonly<ShallowRef<T>>
export function useSession<T>(
  selector?: (snapshot: SessionSnapshot) => T,
  isEqual: (a: T, b: T) => boolean = Object.is,
): Readonly<ShallowRef<T | SessionSnapshot>> {
  const { session } = useBound('useSession')
  const select = (snapshot: SessionSnapshot) => (selector ? selector(snapshot) : snapshot)
  // Server rendering: render `loading` (like React's server snapshot) and hold no listener.
  if (inject(ssrContextKey, null)) return shallowReadonly(shallowRef(select(LOADING)))
  const state = shallowRef(select(session.getSnapshot()))
  onScopeDispose(
    session.subscribe(() => {
      const next = select(session.getSnapshot())
      if (!isEqual(state.value as T, next as T)) state.value = next
    }),
  )
  return shallowReadonly(state)
}

/**
 * The session object itself, for imperative calls (`login`, `logout`, `fetch`, `getAccessToken`...).
 *
 * @throws Error when the plugin is not installed.
 * @example
 * ```ts
 * const session = useSessionClient()
 * const me = await (await session.fetch('/api/me')).json()
 * ```
 */
export function useSessionClient(): Session {
  return useBound('useSessionClient').session
}

/**
 * What {@link useIdleWarning} returns: refs, so it can be destructured.
 *
 * @example
 * ```ts
 * const { warning, logoutAt, remainingMs, extend }: IdleWarning = useIdleWarning()
 * watch(warning, (on) => {
 *   if (on) document.title = 'Still there?'
 * })
 * ```
 */
export interface IdleWarning {
  /** The idle warning is showing: the session signs out at `logoutAt` unless someone calls `extend()`. */
  readonly warning: Readonly<Ref<boolean>>
  /** When the session will sign out for inactivity (epoch ms), while the warning shows; otherwise `null`. */
  readonly logoutAt: Readonly<Ref<number | null>>
  /** Milliseconds until `logoutAt` (0 when no warning), updated once a second while the warning shows. */
  readonly remainingMs: Readonly<Ref<number>>
  /** "Stay signed in": ends the warning in every tab. */
  readonly extend: () => void
}

/**
 * The idle (inactivity) warning as refs, for a "You will be signed out in N s" dialog. `remainingMs`
 * updates once a second (on whole seconds) while the warning shows; otherwise no timer exists.
 *
 * @throws Error when the plugin is not installed.
 * @example
 * ```vue
 * <script setup lang="ts">
 * import { useIdleWarning } from 'sessionkeeper/vue'
 * const { warning, remainingMs, extend } = useIdleWarning()
 * </script>
 * <template>
 *   <dialog :open="warning">
 *     You will be signed out in {{ Math.ceil(remainingMs / 1000) }} s.
 *     <button @click="extend">Stay signed in</button>
 *   </dialog>
 * </template>
 * ```
 */
export function useIdleWarning(): IdleWarning {
  const { session, clock } = useBound('useIdleWarning')
  const logoutAt = useSession(warningDeadline)
  const remainingMs = shallowRef(0)
  let cancel: (() => void) | undefined
  const update = () => {
    cancel?.()
    cancel = undefined
    const at = logoutAt.value
    const remaining = at === null ? 0 : Math.max(0, at - clock.now())
    remainingMs.value = remaining
    // Wake on the next whole second of the remaining time.
    if (remaining > 0) cancel = clock.setTimeout(update, remaining % 1000 || 1000)
  }
  watch(logoutAt, update, { immediate: true })
  onScopeDispose(() => cancel?.())
  return {
    warning: computed(() => logoutAt.value !== null),
    logoutAt,
    remainingMs: shallowReadonly(remainingMs),
    extend: () => session.extend(),
  }
}

function warningDeadline(snapshot: SessionSnapshot): number | null {
  return snapshot.status === 'authenticated' && snapshot.idle.phase === 'warning' ? snapshot.idle.logoutAt : null
}
