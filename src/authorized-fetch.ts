import { SessionError } from './errors.js'
import type { SessionOptions, TokenSet } from './types.js'

export interface AuthorizedFetchOptions {
  options: SessionOptions
  /** The current tokens (for the authorizer and the token type). */
  tokens: () => TokenSet | undefined
  /** A fresh access token. */
  token: () => Promise<string | null>
  /** Refreshes now; resolves with the new tokens. */
  refresh: () => Promise<TokenSet>
}

/**
 * `session.fetch`: adds the access token (Bearer, or DPoP through the authorizer) to requests for the
 * allowed origins only, and retries once after a refresh when the answer is 401.
 */
export function createAuthorizedFetch({ options: o, tokens: current, token, refresh }: AuthorizedFetchOptions): (input: RequestInfo | URL, init?: RequestInit) => Promise<Response> {
  return async (input, init) => {
    const request = new Request(input, init)
    const allowed = o.fetch?.allowedOrigins ?? (typeof location === 'object' ? [location.origin] : [])
    if (!allowed.includes(new URL(request.url).origin)) throw new SessionError('origin_not_allowed', 'origin not allowed')
    const authorizer = o.fetch?.authorizer
    const send = async (value: string | null) => {
      const tokens = current()
      if (!value || !tokens) throw new SessionError('not_authenticated', 'signed out')
      let out: Request
      if (authorizer) out = await authorizer.authorize(request.clone(), tokens)
      else {
        const headers = new Headers(request.headers)
        headers.set('Authorization', `${/^dpop$/i.test(tokens.tokenType ?? '') ? 'DPoP' : 'Bearer'} ${value}`)
        out = new Request(request.clone(), { headers })
      }
      const response = await globalThis.fetch(out)
      return authorizer?.retry && (await authorizer.retry(response, out)) ? globalThis.fetch(await authorizer.authorize(request.clone(), tokens)) : response
    }
    const first = await send(await token())
    if (first.status !== 401 || !o.refresh || !current()?.refreshToken) return first
    return send((await refresh()).accessToken)
  }
}
