import { SessionError, type SessionErrorCode } from './errors.js'
import type { LogoutReason, TokenSet } from './types.js'
import { isReason } from './cross-tab.js'

const MAX_TOKEN = 16 * 1024
/** Codes a shared failure record may carry (it is read from storage: untrusted). */
const TRANSIENT_CODES: readonly string[] = ['network', 'timeout', 'server_error', 'rate_limited', 'invalid_token_response', 'lock_timeout']

/** The persisted session record (encrypted at rest by the IndexedDB adapter). */
export interface Persisted {
  v: 1
  epoch: string
  /** Sign-in time: the absolute lifetime counts from here. */
  authAt: number
  /** When these tokens were received: the lead time is clamped to half of `expiresAt - at`. */
  at: number
  /** Refresh generation within this sign-in: orders token sets without trusting clocks. */
  gen: number
  /**
   * Sign-in number: one more than the highest this tab had seen. Orders sign-ins between tabs without
   * trusting wall clocks (one set back would make a new sign-in look older).
   */
  seq?: number
  tokens: TokenSet
  /**
   * The last failed refresh attempt of these tokens, shared by every tab so that an outage costs one
   * token-endpoint attempt per backoff step for the whole origin, whatever the number of tabs.
   */
  fail?: Fail
}

export interface Fail {
  /** Consecutive failures. */
  n: number
  /** When the attempt failed (epoch ms). */
  at: number
  /** No attempt before this instant (epoch ms), unless asked for explicitly. */
  until: number
  code: SessionErrorCode
}

/** What storage holds under `session`: a record, the reason of a sign-out (a tombstone), or nothing. */
export type Stored = Persisted | LogoutReason | null

/** The code a shared failure record may carry: a transient one, or `server_error`. */
export const transientCode = (code: string): SessionErrorCode => (TRANSIENT_CODES.includes(code) ? code : 'server_error') as SessionErrorCode

/** The reason a tombstone records, if `raw` is one. */
export const tombstone = (raw: unknown): LogoutReason | undefined => {
  const ended = (raw as { ended?: unknown } | null | undefined)?.ended
  return isReason(ended) ? ended : undefined
}

/**
 * Validates a token set from an untrusted place (the app, a refresh function, storage) and returns a
 * frozen copy with only the known fields.
 */
export function checkTokens(value: unknown, now: number, code: 'invalid_argument' | 'invalid_token_response'): TokenSet {
  const fail = (what: string): never => {
    throw new SessionError(code, `invalid ${what}`)
  }
  if (typeof value !== 'object' || value === null) fail('tokens')
  const t = value as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const key of ['accessToken', 'refreshToken', 'idToken', 'scope', 'tokenType']) {
    const v = t[key]
    if (v === undefined && key !== 'accessToken') continue
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_TOKEN) fail(key)
    out[key] = v
  }
  const expiresAt = t.expiresAt
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt) || expiresAt > now + 366 * 86_400_000) fail('expiresAt')
  out.expiresAt = expiresAt
  return Object.freeze(out) as unknown as TokenSet
}

/** The record of a new sign-in: the tokens validated and not yet expired, `seq` one above the highest seen. */
export function signIn(tokens: unknown, now: number, seq: number): Persisted {
  const valid = checkTokens(tokens, now, 'invalid_argument')
  if (valid.expiresAt <= now) throw new SessionError('invalid_argument', 'expired')
  return { v: 1, epoch: randomId(), authAt: now, at: now, gen: 0, seq, tokens: valid }
}

/** A stored record, validated (it is untrusted: another version, a tampered database); `null` if unusable. */
export function readRecord(raw: unknown): Persisted | null {
  if (typeof raw !== 'object' || raw === null) return null
  const r = raw as Record<string, unknown>
  const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
  if (r.v !== 1 || typeof r.epoch !== 'string' || r.epoch.length > 64 || !num(r.authAt) || !num(r.at)) return null
  const f = r.fail as Record<string, unknown> | undefined
  const fail = f && typeof f === 'object' && num(f.n) && num(f.at) && num(f.until) && typeof f.code === 'string' ? { n: f.n, at: f.at, until: f.until, code: transientCode(f.code) } : undefined
  try {
    return { v: 1, epoch: r.epoch, authAt: r.authAt, at: r.at, gen: num(r.gen) ? r.gen : 0, ...(num(r.seq) && { seq: r.seq }), tokens: checkTokens(r.tokens, r.at, 'invalid_token_response'), ...(fail && { fail }) }
  } catch {
    return null
  }
}

/** Whether `a` supersedes `b`: a later sign-in, a later refresh of the same sign-in, or a later failure of it. */
export function newer(a: Persisted, b: Persisted): boolean {
  const [x, y] = [a.seq ?? 0, b.seq ?? 0]
  if (a.epoch !== b.epoch) return x !== y ? x > y : a.authAt !== b.authAt ? a.authAt > b.authAt : a.epoch > b.epoch
  return a.gen > b.gen || (a.gen === b.gen && (a.fail?.at ?? 0) > (b.fail?.at ?? 0))
}

/** The tokens the snapshot shows: never the refresh token or the ID token. */
export function viewOf(t: TokenSet): TokenSet {
  return Object.freeze({ accessToken: t.accessToken, expiresAt: t.expiresAt, ...(t.scope && { scope: t.scope }), ...(t.tokenType && { tokenType: t.tokenType }) })
}

/** The secrets of a token set, for scrubbing them from errors. */
export const secretsOf = (t: TokenSet): (string | undefined)[] => [t.accessToken, t.refreshToken, t.idToken]

export function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}
