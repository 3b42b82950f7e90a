import { SessionError } from '../errors.js'
import type { RefreshFunction } from '../types.js'
import { tokenRequest, toTokenSet } from './token-request.js'
import { checkString, checkUrl, fail } from './util.js'
import type { DPoP } from './dpop.js'
import { checkIdToken } from './id-token.js'
import { decodePayload } from '../user.js'

/** Options of {@link refreshTokenGrant}. */
export interface RefreshTokenGrantOptions {
  /** The authorization server's token endpoint. `https:`, or `http:` on loopback only. */
  readonly tokenEndpoint: string
  /** The public client's `client_id`. No client secret is ever sent. */
  readonly clientId: string
  /** Asks for a narrower scope (RFC 6749 §6). Omit to keep the granted scope. */
  readonly scope?: string
  /** More form parameters (e.g. `resource`). They cannot override the grant's own parameters. */
  readonly extraParams?: Readonly<Record<string, string>>
  /**
   * The `fetch` to use (tests, instrumentation).
   * @default globalThis.fetch
   */
  readonly fetch?: typeof fetch
  /**
   * Access-token lifetime assumed when the response has no `expires_in` (RFC 6749 §5.1 makes it optional).
   * @default 300_000
   */
  readonly defaultExpiresInMs?: number
  /** Called with a `token_lifetime_unknown` warning when `expires_in` is missing. */
  readonly onWarning?: (warning: SessionError) => void
  /**
   * Sender-constrains the tokens with DPoP (RFC 9449): every request carries a fresh proof, and a
   * `use_dpop_nonce` answer is retried once with the server's nonce. The key must be the one the refresh
   * token is bound to: when it is gone the refresh fails with `reauth_required` (no new key is minted).
   */
  readonly dpop?: DPoP
  /**
   * With `dpop`: reject a `Bearer` answer with `dpop_downgrade` (RFC 9449 §5).
   * @default true when `dpop` is given
   */
  readonly requireDPoP?: boolean
}

/**
 * Creates a {@link RefreshFunction} that runs the OAuth 2.0 refresh-token grant of a public client
 * (RFC 6749 §6) for `createSession({ refresh })`.
 *
 * The request is a `POST` of `grant_type=refresh_token&refresh_token=…&client_id=…` (+ `scope`) as
 * `application/x-www-form-urlencoded`, without cookies, aborted through the session's signal. The
 * response is validated (JSON ≤ 64 KB, `access_token` ≤ 16 KB, `token_type` Bearer/DPoP, `expires_in`
 * in (0, 1 year]); the access token is never decoded. A response without `refresh_token` keeps the
 * current one. Failures reject with a {@link SessionError}:
 *
 * | answer | `code` | `retryable` |
 * |---|---|---|
 * | 2xx with a bad body (HTML, bad/missing fields, > 64 KB) | `invalid_token_response` | yes |
 * | 400 `invalid_grant` | `reauth_required` | no |
 * | `invalid_client`, `unauthorized_client`, `unsupported_grant_type`; a redirect | `configuration` | no |
 * | any other OAuth `error` (`invalid_request`, `invalid_scope`, unknown) | `oauth_error` | no |
 * | 400/401 without a JSON `error` (`status` set, no `oauthError`): retried while the access token is valid; once it has expired the session ends with `reauth-required` | `server_error` | yes |
 * | other 4xx without a JSON `error` | `server_error` | yes |
 * | 408, 5xx | `server_error` | yes |
 * | 429; 503 with `Retry-After` | `rate_limited` (+ `retryAfterMs`) | yes |
 * | fetch rejected (offline, DNS, CORS) | `network` | yes |
 * | aborted (`context.signal`) | `timeout` | yes |
 * | no refresh token in the current set | `refresh_unavailable` | no |
 * | with `dpop`: the key is gone | `reauth_required` | no |
 * | with `dpop`: `use_dpop_nonce` without a readable `DPoP-Nonce` | `dpop_nonce_unavailable` | no |
 * | with `dpop`: a second `use_dpop_nonce` in a row | `oauth_error` | no |
 * | with `dpop` and `requireDPoP`: `token_type` Bearer | `dpop_downgrade` | no |
 * | a new `id_token` for another `iss`, `sub`, `aud` or `azp`, or issued before the sign-in's | `invalid_id_token` | no |
 *
 * A new ID token in the response is checked against the session's one (OpenID Connect Core §12.2: same
 * `iss`, `sub`, `aud` and `azp`; numeric `exp` and `iat`, `iat` not before the sign-in's ID token's; no
 * `nonce` required). `exp` and `iat` are not compared with the local clock: a wrong clock must not stop
 * refreshes (access tokens never depend on it either). On a mismatch the refresh fails and the session
 * keeps its tokens and its `user` (automatic refresh stops; sign in again). An `id_token` that is not a
 * JWS with a JSON payload cannot be about anyone: it is dropped (the current one is kept) with an
 * `invalid_id_token` warning (`onWarning`), so the rotated refresh token is not lost over it.
 *
 * The OAuth `error` is kept in `oauthError` and `error_description` in `description` (untrusted, at most
 * 256 chars). Error messages hold only the status and the error code, never a token or the body.
 * A cross-origin server must list `Retry-After` in `Access-Control-Expose-Headers` for `retryAfterMs`.
 *
 * @throws TypeError when `tokenEndpoint` or `clientId` is missing or not a string, or
 *   `defaultExpiresInMs` is not a positive number; SessionError `configuration` when `tokenEndpoint`
 *   is not an absolute `https:` URL (plain `http:` is allowed on loopback only).
 * @example
 * ```ts
 * import { createSession } from 'sessionkeeper'
 * import { refreshTokenGrant } from 'sessionkeeper/oauth'
 *
 * const session = createSession({
 *   refresh: refreshTokenGrant({ tokenEndpoint: 'https://id.example.com/token', clientId: 'spa' }),
 * })
 * ```
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-6 | RFC 6749 §6} (refreshing an access token)
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-5.2 | RFC 6749 §5.2} (error response)
 */
export function refreshTokenGrant(options: RefreshTokenGrantOptions): RefreshFunction {
  const clientId = checkString(options?.clientId, 'clientId')
  const url = checkUrl(options.tokenEndpoint, 'tokenEndpoint')
  const defaultExpiresInMs = options.defaultExpiresInMs ?? 300_000
  if (!(defaultExpiresInMs > 0 && defaultExpiresInMs < Infinity)) {
    throw new TypeError('sessionkeeper/oauth: invalid defaultExpiresInMs')
  }
  return async (current, context) => {
    const refreshToken = current?.refreshToken
    if (!refreshToken) throw fail('refresh_unavailable', 'no refresh token')
    const params: Record<string, string> = {
      ...options.extraParams,
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: clientId,
    }
    if (options.scope) params.scope = options.scope
    const secrets = [refreshToken, current.accessToken, current.idToken]
    const { dpop } = options
    const reply = await tokenRequest({ url, params, fetch: options.fetch, signal: context?.signal, secrets, refresh: true, dpop })
    const tokens = toTokenSet(reply, {
      current,
      scope: options.scope,
      defaultExpiresInMs,
      dpop: !!dpop,
      requireDPoP: options.requireDPoP ?? true,
      onWarning: options.onWarning,
    })
    // OpenID Connect Core §12.2: a new ID token must be about the same user, for the same client.
    if (tokens.idToken !== current.idToken) {
      if (!decodePayload(tokens.idToken)) {
        options.onWarning?.(fail('invalid_id_token', 'ID token malformed (ignored)'))
        const { idToken: _, ...rest } = tokens
        return { ...rest, ...(current.idToken && { idToken: current.idToken }) }
      }
      checkIdToken(tokens.idToken, { clientId, original: decodePayload(current.idToken), toleranceMs: Infinity })
    }
    return tokens
  }
}
