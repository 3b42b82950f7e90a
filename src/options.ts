import { systemClock } from './clock.js'
import { createBrowserPage } from './page-lifecycle.js'
import type { Clock, IdleOptions, PagePort, SessionOptions } from './types.js'

/** The validated options with every default applied: what the modules of a session are built from. */
export interface Config {
  readonly options: SessionOptions
  readonly name: string
  readonly clock: Clock
  readonly idle: IdleOptions | undefined
  /** Length of the idle warning (0 without an idle timeout). */
  readonly warningMs: number
  readonly leadMs: number
  /** How long one refresh request may take. */
  readonly timeoutMs: number
  readonly page: PagePort | undefined
  /** Monotonic time (the wall clock where the clock has none). */
  readonly mono: () => number
}

/** Validates `options` (throwing `TypeError` at the call site) and applies the defaults. */
export function resolveOptions(options: SessionOptions): Config {
  const o = validateOptions(options)
  const clock = o.clock ?? systemClock
  const idle = o.idle
  return {
    options: o,
    name: o.name ?? 'default',
    clock,
    idle,
    warningMs: idle ? (idle.warningMs ?? Math.min(60_000, idle.timeoutMs / 5)) : 0,
    leadMs: o.refreshLeadMs ?? 60_000,
    timeoutMs: o.refreshTimeoutMs ?? 10_000,
    page: o.page === false ? undefined : (o.page ?? createBrowserPage()),
    mono: () => clock.monotonic?.() ?? clock.now(),
  }
}

function validateOptions(o: SessionOptions): SessionOptions {
  const bad = (what: string): never => {
    throw new TypeError(`createSession: invalid ${what}`)
  }
  if (typeof o !== 'object' || o === null) bad('options')
  const idle = o.idle
  const durations = { refreshLeadMs: o.refreshLeadMs, refreshTimeoutMs: o.refreshTimeoutMs, maxSessionMs: o.maxSessionMs, 'idle.timeoutMs': idle ? idle.timeoutMs ?? 0 : 1, 'idle.warningMs': idle?.warningMs }
  for (const [key, v] of Object.entries(durations)) if (v !== undefined && !(typeof v === 'number' && v > 0 && v < Infinity)) bad(key)
  if (idle?.warningMs && idle.warningMs >= idle.timeoutMs) bad('idle.warningMs (must be < timeoutMs)')
  if (o.name !== undefined && !/^[\w.:-]{1,64}$/.test(o.name)) bad('name')
  if (o.persist !== undefined && o.persist !== 'indexeddb' && o.persist !== 'memory') bad('persist')
  if (o.refresh !== undefined && typeof o.refresh !== 'function') bad('refresh')
  const allowed = o.fetch?.allowedOrigins
  if (allowed === undefined) return o
  // An array of origins, compared exactly after normalisation (a string here would match substrings).
  if (!Array.isArray(allowed)) bad('fetch.allowedOrigins (an array of origins)')
  const origins = allowed.map((origin: unknown) => {
    try {
      const url = new URL(origin as string)
      if (url.origin !== 'null' && (url.protocol === 'https:' || url.protocol === 'http:')) return url.origin
    } catch {
      // reported below
    }
    return bad(`fetch.allowedOrigins entry ${JSON.stringify(String(origin)).slice(0, 80)}`)
  })
  return { ...o, fetch: { ...o.fetch, allowedOrigins: origins } }
}
