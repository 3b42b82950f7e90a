// Authorization-code sign-in with PKCE (RFC 6749 §4.1, RFC 7636 S256), OpenID Connect nonce and ID-token
// claim checks, RFC 9207 `iss` checks (RF-13). Never the implicit grant.
import { SessionError } from '../errors.js'
import { systemClock } from '../clock.js'
import type { TokenSet } from '../types.js'
import { readObject, responseError, send, tokenRequest, toTokenSet } from './token-request.js'
import { checkString, checkUrl, own, parseObject, random, sha256 } from './util.js'
import type { DPoP } from './dpop.js'

/** The subset of `Storage` the sign-in transaction needs. */
export type TransactionStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>

/** Options of {@link createSignIn}. */
export interface SignInOptions {
  /**
   * The issuer identifier. Required for OpenID Connect (`scope` with `openid`): it is compared to the
   * ID token's `iss`, to the callback's `iss` (RFC 9207) and to the discovery document. Endpoints that
   * are not given are read from `<issuer>/.well-known/openid-configuration` (once, then cached).
   */
  readonly issuer?: string
  /** The authorization endpoint; read from discovery when absent. */
  readonly authorizationEndpoint?: string
  /** The token endpoint; read from discovery when absent. */
  readonly tokenEndpoint?: string
  /** The public client's `client_id`. */
  readonly clientId: string
  /** The redirect URI registered for the client, exactly. */
  readonly redirectUri: string
  /**
   * Space-separated scopes. With `openid`, a `nonce` is sent and the ID token is checked.
   * @default 'openid'
   */
  readonly scope?: string
  /** The `fetch` to use. @default globalThis.fetch */
  readonly fetch?: typeof fetch
  /** Access-token lifetime assumed when the token response has no `expires_in`. @default 300_000 */
  readonly defaultExpiresInMs?: number
  /** Allowed clock difference for the ID token's `exp` and `iat` (TM-4: a client clock up to 10 min off still signs in). @default 600_000 */
  readonly clockToleranceMs?: number
  /** Where the transaction waits during the redirect. @default sessionStorage */
  readonly storage?: TransactionStorage
  /** Binds the tokens to this DPoP key (RFC 9449): the code exchange carries a proof (the key is created if needed). */
  readonly dpop?: DPoP
  /** With `dpop`: reject a `Bearer` answer with `dpop_downgrade`. @default true when `dpop` is given */
  readonly requireDPoP?: boolean
}

/** Per-request options of {@link SignIn.start}. */
export interface SignInRequestOptions {
  /** `login_hint`: the user's name or e-mail, to prefill the login form. */
  readonly loginHint?: string
  /** `prompt`: `login`, `consent`, `none`, `select_account`... */
  readonly prompt?: string
  /** More authorization parameters (e.g. `resource`, `acr_values`). They cannot override the protocol's own. */
  readonly extraParams?: Readonly<Record<string, string>>
}

/** An authorization-code + PKCE sign-in, created by {@link createSignIn}. */
export interface SignIn {
  /**
   * Creates and stores a new transaction (`state`, `nonce`, PKCE `code_verifier`) and navigates to the
   * authorization endpoint with `location.assign`. A later `start` replaces an unfinished transaction.
   */
  start(options?: SignInRequestOptions): Promise<void>
  /** Like {@link SignIn.start} but returns the authorization URL instead of navigating. */
  authorizationUrl(options?: SignInRequestOptions): Promise<string>
  /** Whether `url` looks like an authorization response (has `state` and `code` or `error`). */
  isCallback(url?: string): boolean
  /**
   * Completes the sign-in on the redirect URI: checks `state` (the transaction is single-use) and `iss`,
   * exchanges the code with the `code_verifier`, validates the token response and the ID token claims,
   * then removes the authorization response parameters from the address bar with `history.replaceState`
   * (whatever the outcome) when `url` is the current location.
   * @throws SessionError `state_mismatch` (no transaction, wrong `state` or `iss`), `oauth_error`
   *   (error response, rejected code), `invalid_id_token`, `invalid_token_response`, and the transport
   *   errors of {@link refreshTokenGrant}.
   */
  handleCallback(url?: string): Promise<TokenSet>
}

interface Transaction {
  state: string
  verifier: string
  redirectUri: string
  nonce?: string
  issuer?: string
}

interface Endpoints {
  authorizationEndpoint: string
  tokenEndpoint: string
  /** The server announced `authorization_response_iss_parameter_supported` (RFC 9207 §3). */
  requireIss: boolean
}

const ERROR_SYNTAX = /^[\x20\x21\x23-\x5B\x5D-\x7E]{1,64}$/
const RESPONSE_PARAMS = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri', 'session_state']

/**
 * Creates an authorization-code sign-in with PKCE (S256) for a public browser client, with OpenID
 * Connect `nonce` and ID-token claim checks. Pure: nothing is fetched or stored until `start` or
 * `handleCallback`. The ID token signature is not verified: it comes straight from the token endpoint
 * over TLS, which OpenID Connect Core §3.1.3.7 (6) accepts as the trust anchor; its claims (`iss`,
 * `aud`, `azp`, `nonce`, `exp`, `iat`, `sub`) are checked.
 *
 * @throws TypeError when `clientId` or `redirectUri` is missing, neither `issuer` nor both endpoints are
 *   given, or `scope` has `openid` without `issuer`; SessionError `configuration` for a non-https
 *   (non-loopback) issuer or endpoint.
 * @example
 * ```ts
 * const signIn = createSignIn({ issuer: 'https://id.example.com', clientId: 'spa', redirectUri: `${location.origin}/callback` })
 * // on the login button:
 * await signIn.start()
 * // on /callback:
 * if (signIn.isCallback()) await session.login(await signIn.handleCallback())
 * ```
 * @see {@link https://www.rfc-editor.org/rfc/rfc7636 | RFC 7636} (PKCE),
 *   {@link https://www.rfc-editor.org/rfc/rfc9207 | RFC 9207} (`iss` in the authorization response),
 *   {@link https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation | OpenID Connect Core §3.1.3.7}
 */
export function createSignIn(options: SignInOptions): SignIn {
  const clientId = checkString(options?.clientId, 'clientId')
  const redirectUri = checkString(options.redirectUri, 'redirectUri')
  new URL(redirectUri) // TypeError when not absolute
  const scope = options.scope ?? 'openid'
  const openid = scope.split(' ').includes('openid')
  const issuer = options.issuer === undefined ? undefined : checkUrl(options.issuer, 'issuer')
  if (openid && !issuer) throw new TypeError('sessionkeeper/oauth: issuer is required with scope openid')
  if (!issuer && !(options.authorizationEndpoint && options.tokenEndpoint)) {
    throw new TypeError('sessionkeeper/oauth: give issuer, or authorizationEndpoint and tokenEndpoint')
  }
  const given = {
    authorizationEndpoint: options.authorizationEndpoint && checkUrl(options.authorizationEndpoint, 'authorizationEndpoint'),
    tokenEndpoint: options.tokenEndpoint && checkUrl(options.tokenEndpoint, 'tokenEndpoint'),
  }
  const key = `sessionkeeper:sign-in:${clientId}`
  const storage = (): TransactionStorage => options.storage ?? sessionStorage
  let endpoints: Promise<Endpoints> | undefined

  const discover = async (): Promise<Endpoints> => {
    if (given.authorizationEndpoint && given.tokenEndpoint) {
      return { authorizationEndpoint: given.authorizationEndpoint, tokenEndpoint: given.tokenEndpoint, requireIss: false }
    }
    const http = { fetch: options.fetch, secrets: [] }
    const response = await send(`${issuer!.replace(/\/$/, '')}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } }, http)
    const body = await readObject(response, http)
    if (!response.ok) throw responseError(response, body, { refresh: false, secrets: [] })
    if (!body) throw new SessionError('server_error', 'sessionkeeper/oauth: discovery document is not a JSON object')
    // OpenID Connect Discovery §4.3: the document must name exactly the issuer we asked for.
    if (own(body, 'issuer') !== issuer) throw new SessionError('configuration', 'sessionkeeper/oauth: discovery issuer mismatch')
    return {
      authorizationEndpoint: given.authorizationEndpoint ?? checkUrl(own(body, 'authorization_endpoint'), 'authorization_endpoint'),
      tokenEndpoint: given.tokenEndpoint ?? checkUrl(own(body, 'token_endpoint'), 'token_endpoint'),
      requireIss: own(body, 'authorization_response_iss_parameter_supported') === true,
    }
  }
  const resolve = (): Promise<Endpoints> =>
    (endpoints ??= discover().catch((error: unknown) => {
      endpoints = undefined // let a later call try again
      throw error
    }))

  const authorizationUrl = async (request: SignInRequestOptions = {}): Promise<string> => {
    const { authorizationEndpoint } = await resolve()
    const tx: Transaction = { state: random(), verifier: random(), redirectUri, ...(openid && { nonce: random() }), ...(issuer && { issuer }) }
    const params: Record<string, string> = {
      ...request.extraParams,
      response_type: 'code',
      client_id: clientId,
      redirect_uri: redirectUri,
      scope,
      state: tx.state,
      code_challenge: await sha256(tx.verifier),
      code_challenge_method: 'S256',
    }
    if (tx.nonce) params.nonce = tx.nonce
    if (request.loginHint) params.login_hint = request.loginHint
    if (request.prompt) params.prompt = request.prompt
    const url = new URL(authorizationEndpoint)
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value)
    storage().setItem(key, JSON.stringify(tx))
    return url.href
  }

  const takeTransaction = (): Transaction | undefined => {
    try {
      const tx = parseObject(storage().getItem(key) ?? '')
      storage().removeItem(key) // single-use: a replayed callback finds nothing
      const str = (name: string): boolean => typeof own(tx, name) === 'string'
      return str('state') && str('verifier') && str('redirectUri') ? (tx as unknown as Transaction) : undefined
    } catch {
      return undefined
    }
  }

  const handleCallback = async (href: string = location.href): Promise<TokenSet> => {
    const url = new URL(href)
    const params = url.searchParams
    const tx = takeTransaction()
    try {
      const mismatch = (what: string): SessionError =>
        new SessionError('state_mismatch', `sessionkeeper/oauth: the sign-in callback does not match this client's transaction (${what})`)
      const state = params.get('state')
      if (!tx || !state || state !== tx.state || tx.issuer !== issuer) throw mismatch('state')
      const { tokenEndpoint, requireIss } = await resolve()
      const iss = params.get('iss')
      if (issuer && (iss === null ? requireIss : iss !== issuer)) throw mismatch('iss')
      const error = params.get('error')
      if (error !== null) {
        const description = params.get('error_description')?.slice(0, 256)
        const oauthError = ERROR_SYNTAX.test(error) ? error : undefined
        throw new SessionError('oauth_error', `sessionkeeper/oauth: authorization failed${oauthError ? `: ${oauthError}` : ''}`, {
          ...(oauthError && { oauthError }),
          ...(description && { description }),
        })
      }
      const code = params.get('code')
      if (!code) throw new SessionError('oauth_error', 'sessionkeeper/oauth: the sign-in callback has no code')
      const reply = await tokenRequest({
        url: tokenEndpoint,
        params: { grant_type: 'authorization_code', code, redirect_uri: tx.redirectUri, code_verifier: tx.verifier, client_id: clientId },
        fetch: options.fetch,
        secrets: [code, tx.verifier],
        refresh: false,
        dpop: options.dpop,
      })
      const tokens = toTokenSet(reply, {
        scope,
        defaultExpiresInMs: options.defaultExpiresInMs ?? 300_000,
        dpop: !!options.dpop,
        requireDPoP: options.requireDPoP ?? true,
      })
      if (tx.nonce) checkIdToken(tokens.idToken, issuer!, clientId, tx.nonce, options.clockToleranceMs ?? 600_000)
      return tokens
    } finally {
      if (typeof location === 'object' && url.href === location.href) {
        for (const name of RESPONSE_PARAMS) params.delete(name)
        history.replaceState(history.state, '', url.href)
      }
    }
  }

  return {
    authorizationUrl,
    async start(request) {
      location.assign(await authorizationUrl(request))
    },
    isCallback(href = location.href) {
      const params = new URL(href).searchParams
      return params.has('state') && (params.has('code') || params.has('error'))
    },
    handleCallback,
  }
}

/** OpenID Connect Core §3.1.3.7 claim checks (the signature is not verified, see createSignIn). */
function checkIdToken(idToken: string | undefined, issuer: string, clientId: string, nonce: string, toleranceMs: number): void {
  const fail = (what: string): SessionError => new SessionError('invalid_id_token', `sessionkeeper/oauth: ID token ${what}`)
  const parts = idToken?.split('.')
  if (parts?.length !== 3) throw fail(idToken ? 'is not a JWS' : 'is missing')
  let claims: Record<string, unknown> | undefined
  try {
    const binary = atob(parts[1]!.replace(/-/g, '+').replace(/_/g, '/'))
    claims = parseObject(new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))))
  } catch {
    // reported below
  }
  if (!claims) throw fail('payload is not a JSON object')
  const aud = own(claims, 'aud')
  const azp = own(claims, 'azp')
  const exp = own(claims, 'exp')
  const iat = own(claims, 'iat')
  const sub = own(claims, 'sub')
  const now = systemClock.now()
  if (own(claims, 'iss') !== issuer) throw fail('iss')
  if (!(aud === clientId || (Array.isArray(aud) && aud.includes(clientId))) || (azp !== undefined && azp !== clientId)) throw fail('aud')
  if (own(claims, 'nonce') !== nonce) throw fail('nonce')
  if (typeof sub !== 'string' || !sub) throw fail('sub')
  if (typeof exp !== 'number' || exp * 1000 + toleranceMs <= now) throw fail('exp')
  if (typeof iat !== 'number' || iat * 1000 - toleranceMs > now) throw fail('iat')
}
