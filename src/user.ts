// The signed-in user of the snapshot: the claims of the session's ID token, decoded once per ID token.
// No validation here: `sessionkeeper/oauth` validated the token at sign-in (and every refreshed one);
// tokens given to `login()` by other code are that code's responsibility.
import type { UserClaims } from './types.js'

/**
 * Parses a JSON object. `__proto__` members are dropped by the reviver, so copying the result can never
 * change a prototype; anything that is not a plain object gives `undefined`.
 * @internal
 */
export function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text, (key, v: unknown) => (key === '__proto__' ? undefined : v))
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/**
 * The payload of a JWS in compact form (three base64url parts), as a JSON object; `undefined` when it is
 * absent or not one. The signature is not checked.
 * @internal
 */
export function decodePayload(jwt: string | undefined): Record<string, unknown> | undefined {
  const parts = jwt?.split('.') ?? []
  try {
    const binary = atob(parts[1]!.replace(/-/g, '+').replace(/_/g, '/'))
    return parts.length === 3 ? parseObject(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))) : undefined
  } catch {
    return undefined
  }
}

/**
 * Freezes `value` and everything in it.
 * @internal
 */
export const deepFreeze = <T>(value: T): T => {
  if (value && typeof value === 'object') Object.values(Object.freeze(value)).forEach(deepFreeze)
  return value
}

/**
 * The claims of an ID token, deeply frozen; `undefined` when there is no ID token or its payload is not
 * a JSON object with a string `sub`.
 * @internal
 */
export function userOf(idToken: string | undefined): UserClaims | undefined {
  const claims = decodePayload(idToken)
  // (parseObject's objects come from JSON.parse: `sub` cannot come from a polluted prototype unless the page is already compromised.)
  return typeof claims?.sub === 'string' ? deepFreeze(claims as UserClaims) : undefined
}
