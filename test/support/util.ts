import { createSession } from '../../src/index'
import type { SessionError } from '../../src/errors'
import type { Session, SessionEventMap, SessionEventType, SessionOptions, SessionSnapshot, TokenSet } from '../../src/types'

let seq = 0
/** A unique session name per test, so tests never see each other's database or channel. */
export const uniqueName = (prefix = 't'): string => `${prefix}-${Date.now().toString(36)}-${++seq}`

/** A recognisable token set; `secret` strings are long enough for the 12-char leak check. */
export function makeTokens(now: number, overrides: Partial<TokenSet> = {}, n = ++seq): TokenSet {
  return {
    accessToken: `AT-${n}-aaaaaaaaaaaaaaaaaaaaaaaa`,
    refreshToken: `RT-${n}-rrrrrrrrrrrrrrrrrrrrrrrr`,
    expiresAt: now + 3_600_000,
    ...overrides,
  }
}

/** Resolves with the next event of `type`. */
export function nextEvent<K extends SessionEventType>(session: Session, type: K): Promise<SessionEventMap[K]> {
  return new Promise((resolve) => {
    const off = session.on(type, (event) => {
      off()
      resolve(event)
    })
  })
}

/**
 * Waits (real time, bounded) until a condition holds; rejects with `timed out waiting for <what>` after
 * `timeoutMs`. Two forms:
 * - `until(check, timeoutMs?, what?)` polls `check` every 10 ms (for IndexedDB/channel round trips) and
 *   resolves with its first truthy value;
 * - `until(session, predicate, timeoutMs?, what?)` checks the snapshot now and on every change (no
 *   polling, so a passing state is never missed) and resolves with the first snapshot that satisfies it.
 */
export function until(session: Session, predicate: (s: SessionSnapshot) => boolean, timeoutMs?: number, what?: string): Promise<SessionSnapshot>
export function until<T>(check: () => T | Promise<T>, timeoutMs?: number, what?: string): Promise<T>
export function until(subject: Session | (() => unknown), a?: unknown, b?: unknown, c?: unknown): Promise<unknown> {
  if (typeof subject === 'function') return poll(subject, a as number | undefined, b as string | undefined)
  return onSnapshot(subject, a as (s: SessionSnapshot) => boolean, b as number | undefined, c as string | undefined)
}

async function poll<T>(check: () => T | Promise<T>, timeoutMs = 3000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs
  for (let i = 0; i < 1000; i++) {
    const value = await check()
    if (value) return value
    if (Date.now() > end) break
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

function onSnapshot(session: Session, predicate: (s: SessionSnapshot) => boolean, timeoutMs = 3000, what = 'snapshot'): Promise<SessionSnapshot> {
  return new Promise((resolve, reject) => {
    let off: (() => void) | undefined
    let timer: ReturnType<typeof setTimeout> | undefined
    const check = () => {
      const s = session.getSnapshot()
      if (!predicate(s)) return false
      off?.()
      if (timer !== undefined) clearTimeout(timer)
      resolve(s)
      return true
    }
    if (check()) return
    off = session.subscribe(check)
    timer = setTimeout(() => {
      off?.()
      reject(new Error(`timed out waiting for ${what} (last: ${session.getSnapshot().status})`))
    }, timeoutMs)
  })
}

/** One real macrotask: every microtask chain queued before the call has run (the public testing entry's). */
export { settled } from '../../src/testing'

// --- events ------------------------------------------------------------------------------------------

/** Every key of SessionEventMap, once: a missing or unknown event type does not compile. */
const EVENT_TYPE_SET: Record<SessionEventType, true> = {
  login: true,
  logout: true,
  refresh: true,
  'refresh-error': true,
  'idle-warning': true,
  active: true,
  'storage-degraded': true,
  warning: true,
}
/** Every session event type (derived from SessionEventMap; see EVENT_TYPE_SET). */
export const EVENT_TYPES = Object.freeze(Object.keys(EVENT_TYPE_SET)) as readonly SessionEventType[]

/** One emitted event, as recorded. */
export type RecordedEvent = { [K in SessionEventType]: { readonly type: K; readonly payload: SessionEventMap[K] } }[SessionEventType]

export interface Recorder {
  readonly session: Session
  /** Every event of every type, in emission order. */
  readonly events: RecordedEvent[]
  /** The payloads of the events of `type`, in order. */
  of<K extends SessionEventType>(type: K): SessionEventMap[K][]
  /** The error codes of the events of `type`, in order. */
  codes(type: 'warning' | 'storage-degraded' | 'refresh-error'): string[]
  /** Stops recording. */
  off(): void
}

/** Records every event of every type `session` emits from now on. */
export function recordEvents(session: Session): Recorder {
  const events: RecordedEvent[] = []
  const offs = EVENT_TYPES.map((type) => session.on(type, (payload) => void events.push({ type, payload } as RecordedEvent)))
  return {
    session,
    events,
    of: <K extends SessionEventType>(type: K) => events.filter((e) => e.type === type).map((e) => e.payload as SessionEventMap[K]),
    codes: (type) => events.filter((e) => e.type === type).map((e) => (e.payload as { error: SessionError }).error.code),
    off: () => offs.forEach((off) => off()),
  }
}

// --- sessions ----------------------------------------------------------------------------------------

/** Tab-local sessions: memory persistence, no cross-tab channel. */
export const TAB_LOCAL = Object.freeze({ persist: 'memory', sync: false } as const satisfies Partial<SessionOptions>)

export interface MakeOptions {
  /** Call `start()` on the new session (default: the factory's `start`). */
  readonly start?: boolean
  /** Prefix of the unique name given when the options name none (default: the factory's `prefix`). */
  readonly prefix?: string
}

export interface TestSessions {
  /** A new session: defaults, then `options`; a unique name unless one is given; started unless told not to. */
  make(options?: Partial<SessionOptions>, how?: MakeOptions): Session
  /** Like make(), with every event recorded from before start(). */
  makeRecorded(options?: Partial<SessionOptions>, how?: MakeOptions): Recorder
  /** The recorders of makeRecorded() since the last destroyAll(), in order. */
  readonly recorders: readonly Recorder[]
  /** Destroys every session made so far (in order), for an afterEach; the leak check then sees them closed. */
  destroyAll(): Promise<void>
}

/**
 * The session factory of the browser suites. `defaults` (an object, or a function read at each make(),
 * e.g. `() => ({ clock, name })` for the current test's clock and shared tab name) go under each call's
 * options. Every session made is tracked until destroyAll().
 */
export function testSessions(
  defaults: Partial<SessionOptions> | (() => Partial<SessionOptions>) = {},
  config: { readonly start?: boolean; readonly prefix?: string } = {},
): TestSessions {
  const made: Session[] = []
  const recorders: Recorder[] = []
  const create = (options: Partial<SessionOptions>, how: MakeOptions, before?: (s: Session) => void) => {
    const base = typeof defaults === 'function' ? defaults() : defaults
    const session = createSession({ name: uniqueName(how.prefix ?? config.prefix), ...base, ...options })
    made.push(session)
    before?.(session)
    if (how.start ?? config.start ?? true) session.start()
    return session
  }
  return {
    make: (options = {}, how = {}) => create(options, how),
    makeRecorded(options = {}, how = {}) {
      let recorder: Recorder | undefined
      create(options, how, (s) => recorders.push((recorder = recordEvents(s))))
      return recorder!
    },
    recorders,
    async destroyAll() {
      recorders.length = 0
      for (const session of made.splice(0)) await session.destroy()
    },
  }
}

/** True if `text` contains any 12-char substring of any secret. */
export function leaks(text: string, secrets: readonly (string | undefined)[]): boolean {
  for (const s of secrets) {
    if (!s) continue
    for (let i = 0; i + 12 <= s.length; i++) if (text.includes(s.slice(i, i + 12))) return true
  }
  return false
}

/** Everything an error exposes, as text. */
export function errorText(error: unknown): string {
  const parts: string[] = []
  let e: unknown = error
  for (let depth = 0; e && depth < 5; depth++) {
    if (e instanceof Error) {
      parts.push(e.name, e.message, e.stack ?? '', JSON.stringify(e))
      e = e.cause
    } else {
      parts.push(String(e))
      break
    }
  }
  return parts.join('\n')
}
