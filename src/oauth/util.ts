// Small internal helpers of the oauth entry: base64url, randomness, hashing, safe JSON, URL checks.
import { SessionError, type SessionErrorCode, type SessionErrorDetails } from '../errors.js'

/** A SessionError of the oauth entry (message prefixed with the entry's name). */
export const fail = (code: SessionErrorCode, message: string, details?: SessionErrorDetails): SessionError =>
  new SessionError(code, `sessionkeeper/oauth: ${message}`, details)

/** Safe JSON object parsing, shared with the core (the snapshot's `user`). */
export { parseObject } from '../user.js'

/** base64url without padding (RFC 7515 §2). */
export function b64u(input: ArrayBuffer | Uint8Array | string): string {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : new Uint8Array(input)
  let s = ''
  for (const b of bytes) s += String.fromCharCode(b)
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** `n` random bytes as base64url (32 bytes = 256 bits by default). */
export const random = (n = 32): string => b64u(crypto.getRandomValues(new Uint8Array(n)))

/** base64url(SHA-256(ascii)), as PKCE S256 and DPoP `ath` need. */
export const sha256 = async (text: string): Promise<string> =>
  b64u(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))

/** Own member only: a polluted `Object.prototype` cannot supply a missing field. */
export const own = (o: Record<string, unknown> | undefined, key: string): unknown =>
  o && Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined

/**
 * Checks an endpoint: absolute, `https:` (plain `http:` only on loopback) and no fragment.
 * @throws TypeError when not a string; SessionError `configuration` otherwise
 */
export function checkUrl(value: unknown, name: string): string {
  if (typeof value !== 'string' || !value) throw new TypeError(`sessionkeeper/oauth: ${name}: URL expected`)
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {
    // reported below
  }
  if (
    !url ||
    url.hash ||
    !(url.protocol === 'https:' || (url.protocol === 'http:' && /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/.test(url.hostname)))
  ) {
    throw fail('configuration', `${name}: https URL expected (http on loopback), no fragment`)
  }
  return value
}

/** A required non-empty string option. */
export function checkString(value: unknown, name: string): string {
  if (typeof value !== 'string' || !value) throw new TypeError(`sessionkeeper/oauth: ${name}: string expected`)
  return value
}
