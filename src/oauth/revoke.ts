import { SessionError } from '../errors.js'
import type { TokenSet } from '../types.js'
import { readObject, responseError, send } from './token-request.js'
import { checkString, checkUrl, fail } from './util.js'

/** Options of {@link revokeTokens}. */
export interface RevokeTokensOptions {
  /** The authorization server's revocation endpoint (RFC 7009 §2). `https:`, or `http:` on loopback only. */
  readonly revocationEndpoint: string
  /** The public client's `client_id`. */
  readonly clientId: string
  /** The `fetch` to use. @default globalThis.fetch */
  readonly fetch?: typeof fetch
}

/**
 * Creates the `revoke` function for `createSession({ revoke })`: on sign-out it revokes the refresh token
 * (which ends the grant at most servers), then the access token, as a public client (RFC 7009 §2.1:
 * `token`, `token_type_hint`, `client_id`, no cookies). Both are attempted; the first failure rejects
 * with a {@link SessionError} `revocation_failed` whose `cause` is the classified error (`network`,
 * `server_error`, `oauth_error`...). No token appears in any error.
 *
 * @throws TypeError for a missing `clientId` or `revocationEndpoint`; SessionError `configuration` for a
 *   non-https (non-loopback) endpoint.
 * @example
 * ```ts
 * createSession({
 *   refresh: refreshTokenGrant({ tokenEndpoint, clientId: 'spa' }),
 *   revoke: revokeTokens({ revocationEndpoint: 'https://id.example.com/revoke', clientId: 'spa' }),
 * })
 * ```
 * @see {@link https://www.rfc-editor.org/rfc/rfc7009 | RFC 7009} (token revocation)
 */
export function revokeTokens(options: RevokeTokensOptions): (tokens: TokenSet) => Promise<void> {
  const clientId = checkString(options?.clientId, 'clientId')
  const url = checkUrl(options.revocationEndpoint, 'revocationEndpoint')
  return async (tokens) => {
    const secrets = [tokens.refreshToken, tokens.accessToken, tokens.idToken]
    let failure: unknown
    for (const [token, hint] of [[tokens.refreshToken, 'refresh_token'], [tokens.accessToken, 'access_token']] as const) {
      if (!token) continue
      try {
        const http = { fetch: options.fetch, secrets }
        const response = await send(
          url,
          {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ token, token_type_hint: hint, client_id: clientId }).toString(),
          },
          http,
        )
        const body = await readObject(response, http)
        if (!response.ok) throw responseError(response, body, { refresh: false, secrets })
      } catch (error) {
        failure ??= error
      }
    }
    if (failure) {
      const { status, oauthError } = failure as SessionError
      throw fail('revocation_failed', `revocation failed (${(failure as SessionError).code})`, {
        cause: failure,
        ...(status !== undefined && { status }),
        ...(oauthError !== undefined && { oauthError }),
      })
    }
  }
}
