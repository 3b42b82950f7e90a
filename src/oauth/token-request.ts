// The token endpoint round trip shared by the refresh grant and the authorization-code exchange:
// request (RFC 6749 §4.1.3, §6), response validation (§5.1, RF-11) and error classification (§5.2, RF-7).
import { mentions, SessionError, toSessionError, type SessionErrorCode } from '../errors.js'
import { systemClock } from '../clock.js'
import type { TokenSet } from '../types.js'
import { own, parseObject, fail } from './util.js'
import { nonceUnavailable, tokenNonce, tokenProof, type DPoP } from './dpop.js'

const MAX_BODY = 65_536
const MAX_TOKEN = 16_384
const YEAR_S = 31_536_000
/** RFC 6749 §5.2 `error` syntax (NQSCHAR), length-capped. */
const ERROR_SYNTAX = /^[\x20\x21\x23-\x5B\x5D-\x7E]{1,64}$/
const CLIENT_ERRORS = ['invalid_client', 'unauthorized_client', 'unsupported_grant_type']

type Fetch = typeof fetch

/** @internal */
export interface HttpOptions {
  readonly fetch?: Fetch | undefined
  readonly signal?: AbortSignal | undefined
  /** Token values in scope: never echoed into an error. */
  readonly secrets: readonly (string | undefined)[]
}

/**
 * `fetch` without cookies and without following redirects (a redirected POST would carry the grant
 * elsewhere). A rejection becomes `timeout` (aborted) or `network` (offline, DNS, CORS).
 * @internal
 */
export async function send(url: string, init: RequestInit, http: HttpOptions): Promise<Response> {
  try {
    return await (http.fetch ?? fetch)(url, { ...init, signal: http.signal ?? null, credentials: 'omit', redirect: 'manual' })
  } catch (error) {
    throw fetchError(error, http)
  }
}

function fetchError(error: unknown, http: HttpOptions, reading?: boolean): SessionError {
  const name = (error as Error | undefined)?.name
  // Firefox reports a body that breaks off as an AbortError too: only our signal means "timed out" then.
  return http.signal?.aborted || name === 'TimeoutError' || (name === 'AbortError' && !reading)
    ? toSessionError(error, 'timeout', 'sessionkeeper/oauth: timed out', http.secrets)
    : toSessionError(error, 'network', 'sessionkeeper/oauth: no response (offline, server down or CORS)', http.secrets)
}

/**
 * Reads a JSON object body of at most 64 KB; `undefined` for anything else (HTML, oversize, arrays).
 * @internal
 */
export async function readObject(response: Response, http: HttpOptions): Promise<Record<string, unknown> | undefined> {
  try {
    if (Number(response.headers.get('content-length')) > MAX_BODY) {
      await response.body?.cancel()
      return undefined
    }
    const text = await response.text()
    return text.length > MAX_BODY ? undefined : parseObject(text)
  } catch (error) {
    throw fetchError(error, http, true)
  }
}

/** @internal */
export interface TokenRequest extends HttpOptions {
  readonly url: string
  readonly params: Readonly<Record<string, string>>
  /** `invalid_grant` means "sign in again" for a refresh, but only "this code failed" at sign-in. */
  readonly refresh: boolean
  /** Sends a DPoP proof; for a refresh the key must already exist (DP-5). */
  readonly dpop?: DPoP | undefined
}

/**
 * @internal A successful token response: the JSON object and when the request was sent (epoch ms). The
 * server issued the token no earlier, so an expiry counted from there is never later than the server's,
 * however late the answer is processed (a slow response, a page frozen meanwhile).
 */
export interface TokenReply {
  readonly body: Record<string, unknown> | undefined
  readonly receivedAt: number
}

/**
 * POSTs a form to the token endpoint. Resolves with the body of a 2xx answer (validate it with
 * {@link toTokenSet}); rejects with a classified SessionError otherwise.
 * @internal
 */
export async function tokenRequest(request: TokenRequest): Promise<TokenReply> {
  const { url, dpop } = request
  for (let attempt = 0; ; attempt++) {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }
    // A new proof (new jti) for every attempt, retries included (RFC 9449 §4.3 / DP-2).
    if (dpop) headers.dpop = await tokenProof(dpop, url, !request.refresh)
    const sentAt = systemClock.now()
    const response = await send(url, { method: 'POST', headers, body: new URLSearchParams(request.params).toString() }, request)
    const receivedAt = sentAt
    const nonce = dpop && tokenNonce(dpop, url, response)
    const body = await readObject(response, request)
    if (response.ok) return { body, receivedAt }
    // use_dpop_nonce (RFC 9449 §8): retry exactly once with the nonce the server just sent.
    if (dpop && !attempt && own(body, 'error') === 'use_dpop_nonce') {
      if (!nonce) throw nonceUnavailable()
      continue
    }
    throw responseError(response, body, request)
  }
}

/**
 * Classifies a failed response (see the table in the entry's docs). Only the status, the validated OAuth
 * `error` and a capped `error_description` are kept; the body is never put in the error.
 * @internal
 */
export function responseError(
  response: Response,
  body: Record<string, unknown> | undefined,
  request: Pick<TokenRequest, 'refresh' | 'secrets'>,
): SessionError {
  const status = response.status
  const rawError = own(body, 'error')
  const error = typeof rawError === 'string' && ERROR_SYNTAX.test(rawError) ? rawError : undefined
  const rawDescription = own(body, 'error_description')
  const description = typeof rawDescription === 'string' ? rawDescription.slice(0, 256) : undefined
  const retryAfterMs = retryAfter(response.headers.get('retry-after'))
  const code: SessionErrorCode =
    status === 429 || (status === 503 && retryAfterMs !== undefined)
      ? 'rate_limited'
      : status === 408 || status >= 500
        ? 'server_error'
        : status < 400 // opaque redirect (0) or 3xx: the endpoint URL is wrong
          ? 'configuration'
          : error === 'invalid_grant' && request.refresh
            ? 'reauth_required'
            : (error && CLIENT_ERRORS.includes(error)) || (status === 401 && !error && !request.refresh)
              ? 'configuration'
              : error
                ? 'oauth_error'
                : 'server_error'
  // A server that echoes a token back into its error fields loses them.
  const safeError = error && !mentions(error, request.secrets) ? error : undefined
  return new SessionError(
    code,
    `sessionkeeper/oauth: HTTP ${status}${safeError ? ` ${safeError}` : ''}`,
    {
      status,
      ...(safeError && { oauthError: safeError }),
      ...(description && !mentions(description, request.secrets) && { description }),
      ...(retryAfterMs !== undefined && { retryAfterMs }),
    },
  )
}

/** `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3), in ms; `undefined` if absent/invalid. */
function retryAfter(value: string | null): number | undefined {
  if (!value) return undefined
  const ms = /^\s*\d+\s*$/.test(value) ? Number(value) * 1000 : Date.parse(value) - systemClock.now()
  return Number.isNaN(ms) ? undefined : Math.max(0, ms)
}

/** @internal */
export interface TokenSetOptions {
  /** Tokens being refreshed: their refresh and ID tokens are kept when the response has none (RF-10). */
  readonly current?: TokenSet | undefined
  /** Scope requested, used when the response has no `scope` (RFC 6749 §5.1). */
  readonly scope?: string | undefined
  readonly defaultExpiresInMs: number
  /** A DPoP key was used for the request. */
  readonly dpop: boolean
  /** Reject a Bearer answer to a DPoP request (RFC 9449 §5, DP-4). */
  readonly requireDPoP: boolean
  readonly onWarning?: ((warning: SessionError) => void) | undefined
}

/**
 * Validates a 2xx token response (RFC 6749 §5.1, RF-11) into a TokenSet. The access token stays
 * opaque: its expiry is the receipt time plus `expires_in`.
 * @internal
 */
export function toTokenSet({ body, receivedAt }: TokenReply, options: TokenSetOptions): TokenSet {
  const bad = (member: string): SessionError =>
    fail('invalid_token_response', `bad token response (${member})`)
  if (!body) throw bad('not a JSON object of at most 64 KB')
  const accessToken = own(body, 'access_token')
  if (typeof accessToken !== 'string' || !accessToken || accessToken.length > MAX_TOKEN) throw bad('access_token')
  const type = own(body, 'token_type')
  const tokenType = typeof type === 'string' ? type.toLowerCase() : ''
  if (tokenType !== 'bearer' && tokenType !== 'dpop') throw bad('token_type')
  if (tokenType === 'dpop' && !options.dpop) throw bad('token_type DPoP without a DPoP key')
  if (tokenType === 'bearer' && options.dpop && options.requireDPoP) {
    throw fail('dpop_downgrade', 'Bearer token, DPoP required')
  }
  const expiresIn = own(body, 'expires_in')
  let lifetimeMs = options.defaultExpiresInMs
  if (expiresIn === undefined) {
    options.onWarning?.(
      fail('token_lifetime_unknown', `no expires_in, assuming ${lifetimeMs} ms`),
    )
  } else {
    const seconds =
      typeof expiresIn === 'number' ? expiresIn : typeof expiresIn === 'string' && /^\d+(\.\d+)?$/.test(expiresIn) ? Number(expiresIn) : NaN
    if (!(seconds > 0 && seconds <= YEAR_S)) throw bad('expires_in')
    lifetimeMs = seconds * 1000
  }
  const optional = (member: string): string | undefined => {
    const value = own(body, member)
    if (value == null) return undefined
    if (typeof value !== 'string' || (!value && member !== 'scope') || value.length > MAX_BODY) throw bad(member)
    return value
  }
  const refreshToken = optional('refresh_token') ?? options.current?.refreshToken
  const idToken = optional('id_token') ?? options.current?.idToken
  const scope = optional('scope') ?? options.scope ?? options.current?.scope
  return {
    accessToken,
    expiresAt: receivedAt + lifetimeMs,
    tokenType: tokenType === 'dpop' ? 'DPoP' : 'Bearer',
    ...(refreshToken && { refreshToken }),
    ...(idToken && { idToken }),
    ...(scope !== undefined && { scope }),
  }
}
