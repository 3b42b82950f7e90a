// Small internal helpers of the oauth entry: base64url, randomness, hashing, safe JSON, URL checks.
import { SessionError } from '../errors.js'

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

/**
 * Parses a JSON object. `__proto__` members are dropped by the reviver, so copying the result can never
 * change a prototype; anything that is not a plain object gives `undefined`.
 */
export function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text, (key, v: unknown) => (key === '__proto__' ? undefined : v))
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** Own member only: a polluted `Object.prototype` cannot supply a missing field. */
export const own = (o: Record<string, unknown> | undefined, key: string): unknown =>
  o && Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined

/**
 * Checks an endpoint: absolute, `https:` (plain `http:` only on loopback) and no fragment.
 * @throws TypeError when not a string; SessionError `configuration` otherwise
 */
export function checkUrl(value: unknown, name: string): string {
  if (typeof value !== 'string' || !value) throw new TypeError(`sessionkeeper/oauth: ${name} must be a URL string`)
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
    throw new SessionError('configuration', `sessionkeeper/oauth: ${name} must be an https URL (http only on loopback) without a fragment`)
  }
  return value
}

/** A required non-empty string option. */
export function checkString(value: unknown, name: string): string {
  if (typeof value !== 'string' || !value) throw new TypeError(`sessionkeeper/oauth: ${name} must be a non-empty string`)
  return value
}
