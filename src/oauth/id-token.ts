// ID token claim checks: at sign-in (OpenID Connect Core §3.1.3.7) and for the ID token a refresh
// response brings (§12.2). The signature is not verified: the token comes straight from the token
// endpoint over TLS, which §3.1.3.7 (6) accepts as the trust anchor.
import type { SessionError } from '../errors.js'
import { systemClock } from '../clock.js'
import { decodePayload } from '../user.js'
import { own, fail } from './util.js'

/** @internal What an ID token must match. */
export interface IdTokenCheck {
  readonly clientId: string
  /** The expected `iss` at sign-in. */
  readonly issuer?: string | undefined
  /** The sign-in transaction's `nonce` (not required of a refreshed ID token). */
  readonly nonce?: string | undefined
  /** The claims of the session's ID token: a refreshed one must have the same `iss`, `sub`, `aud` and `azp`. */
  readonly original?: Record<string, unknown> | undefined
  /** Allowed clock difference for `exp` and `iat`. */
  readonly toleranceMs: number
}

/**
 * Checks the claims of `idToken`; returns them.
 * @throws SessionError `invalid_id_token` naming the first claim that fails (never the token).
 * @internal
 */
export function checkIdToken(idToken: string | undefined, check: IdTokenCheck): Record<string, unknown> {
  const bad = (what: string): SessionError => fail('invalid_id_token', `ID token ${what}`)
  const claims = decodePayload(idToken)
  if (!claims) throw bad(idToken ? 'malformed' : 'missing')
  const { clientId, original } = check
  const claim = (name: string, from = claims): unknown => own(from, name)
  // Same value as in the sign-in's ID token (arrays compared by content).
  const same = (name: string): boolean => !original || JSON.stringify(claim(name)) === JSON.stringify(claim(name, original))
  const aud = claim('aud')
  const azp = claim('azp')
  const exp = claim('exp')
  const iat = claim('iat')
  const sub = claim('sub')
  const iss = original ? claim('iss', original) : check.issuer
  const now = systemClock.now()
  if (iss !== undefined && claim('iss') !== iss) throw bad('iss')
  if (!(aud === clientId || (Array.isArray(aud) && aud.includes(clientId))) || (azp !== undefined && azp !== clientId) || !same('aud') || !same('azp')) throw bad('aud')
  if (check.nonce !== undefined && claim('nonce') !== check.nonce) throw bad('nonce')
  if (typeof sub !== 'string' || !sub || !same('sub')) throw bad('sub')
  if (typeof exp !== 'number' || exp * 1000 + check.toleranceMs <= now) throw bad('exp')
  // Not issued in the future, nor (after a refresh) before the sign-in's ID token.
  if (typeof iat !== 'number' || iat * 1000 - check.toleranceMs > now || iat < Number(claim('iat', original ?? {}) ?? 0)) throw bad('iat')
  return claims
}
