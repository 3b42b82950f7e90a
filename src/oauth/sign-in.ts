// Authorization-code sign-in with PKCE (RFC 6749 §4.1, RFC 7636 S256), OpenID Connect nonce and ID-token
// claim checks, RFC 9207 `iss` checks (RF-13), `prompt=none`; RP-initiated logout and UserInfo against the
// same provider. Never the implicit grant.
import { SessionError } from '../errors.js'
import type { EndedSession, Session, TokenSet, UserClaims } from '../types.js'
import { deepFreeze } from '../user.js'

import { readObject, responseError, send, tokenRequest, toTokenSet } from './token-request.js'
import { checkString, checkUrl, own, parseObject, random, sha256, fail } from './util.js'
import type { DPoP } from './dpop.js'
import { checkIdToken } from './id-token.js'

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
  /**
   * The provider's `end_session_endpoint` (OpenID Connect RP-Initiated Logout 1.0); read from discovery
   * when absent. Without one, {@link SignIn.endSession} resolves `{ redirected: false }`.
   */
  readonly endSessionEndpoint?: string
  /** The provider's `userinfo_endpoint`, for {@link SignIn.getUserInfo}; read from discovery when absent. */
  readonly userinfoEndpoint?: string
  /**
   * Where the provider sends the browser back after {@link SignIn.endSession}, registered for the client
   * exactly (`post_logout_redirect_uris`). A `state` goes with it and is checked by
   * {@link SignIn.handleEndSessionCallback}. Without it, the browser stays on the provider's page.
   */
  readonly postLogoutRedirectUri?: string
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
  /**
   * `prompt`: `login`, `consent`, `select_account`... With `none` the provider must answer without
   * showing a page (a top-level redirect, no iframe): signed in again if its session and the consent are
   * still there; otherwise `handleCallback` rejects with `interaction_required` (the provider's answer in
   * `oauthError`) and the app starts an interactive sign-in.
   */
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
   * @throws SessionError `state_mismatch` (no transaction, wrong `state` or `iss`), `interaction_required`
   *   (`prompt: 'none'` needs the user), `oauth_error` (error response, rejected code), `invalid_id_token`,
   *   `invalid_token_response`, and the transport errors of {@link refreshTokenGrant}.
   */
  handleCallback(url?: string): Promise<TokenSet>
  /**
   * Ends the session at the provider (OpenID Connect RP-Initiated Logout 1.0): navigates the page with
   * `location.assign` to the `end_session_endpoint` with `id_token_hint`, `client_id` and, with
   * `postLogoutRedirectUri`, `post_logout_redirect_uri` and a new `state`. Made for
   * `createSession({ endSession: signIn.endSession })`, which calls it after the local sign-out and the
   * revocation. Resolves `{ redirected: false, reason: 'unsupported' }` when the provider has no
   * `end_session_endpoint`: its session lives on (tell the user to close the browser).
   * @throws SessionError from discovery (`network`, `configuration`...).
   */
  endSession(ended: Pick<EndedSession, 'tokens'>): Promise<EndSessionResult>
  /** Like {@link SignIn.endSession} but returns the URL (`undefined` without an `end_session_endpoint`) instead of navigating. */
  endSessionUrl(ended: Pick<EndedSession, 'tokens'>): Promise<string | undefined>
  /**
   * On the post-logout redirect URI: whether `url` is the provider's return from {@link SignIn.endSession}
   * in this tab. When it is, the `state` is checked, forgotten (single use) and removed from the address
   * bar (when `url` is the current location). False for any other URL, sign-in callbacks included.
   * @throws SessionError `state_mismatch` when the `state` is not the one sent.
   */
  handleEndSessionCallback(url?: string): boolean
  /**
   * The UserInfo claims of the signed-in user (OpenID Connect Core §5.3), with the session's fresh access
   * token (DPoP when `dpop` is given). The response's `sub` must be the ID token's. Deeply frozen.
   * @throws SessionError `not_authenticated` (signed out, or no ID token), `configuration` (no
   *   `userinfo_endpoint`; 401), `invalid_id_token` (`sub` differs), `invalid_token_response` (not a JSON
   *   object), and the transport errors of {@link refreshTokenGrant}.
   */
  getUserInfo(session: Session): Promise<UserClaims>
}

/** What {@link SignIn.endSession} did. */
export type EndSessionResult =
  /** The page is navigating to the provider's `end_session_endpoint`. */
  | { readonly redirected: true }
  /** The provider has no `end_session_endpoint`: only the local session ended. */
  | { readonly redirected: false; readonly reason: 'unsupported' }

interface Transaction {
  state: string
  verifier: string
  redirectUri: string
  nonce?: string
  issuer?: string
}

/** The endpoint options; each is read from discovery (as snake_case) when not given. The first two are required. */
const ENDPOINTS = ['authorizationEndpoint', 'tokenEndpoint', 'endSessionEndpoint', 'userinfoEndpoint'] as const

interface Endpoints {
  authorizationEndpoint: string
  tokenEndpoint: string
  endSessionEndpoint?: string | undefined
  userinfoEndpoint?: string | undefined
  /** The server announced `authorization_response_iss_parameter_supported` (RFC 9207 §3). */
  requireIss: boolean
}

const ERROR_SYNTAX = /^[\x20\x21\x23-\x5B\x5D-\x7E]{1,64}$/
/** OpenID Connect Core §3.1.2.6: the answers to `prompt=none` that mean "the user is needed". */
const INTERACTION = /^(login|interaction|consent|account_selection)_required$/
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
  if (openid && !issuer) throw new TypeError('sessionkeeper/oauth: openid needs issuer')
  if (!issuer && !(options.authorizationEndpoint && options.tokenEndpoint)) {
    throw new TypeError('sessionkeeper/oauth: issuer or endpoints needed')
  }
  const given: Partial<Record<(typeof ENDPOINTS)[number], string>> = {}
  for (const name of ENDPOINTS) if (options[name] !== undefined) given[name] = checkUrl(options[name], name)
  const postLogout = options.postLogoutRedirectUri
  if (postLogout !== undefined) new URL(postLogout) // TypeError when not absolute
  const key = `sessionkeeper:sign-in:${clientId}`
  const logoutKey = `sessionkeeper:sign-out:${clientId}`
  const storage = (): TransactionStorage => options.storage ?? sessionStorage
  let endpoints: Promise<Endpoints> | undefined

  const discover = async (): Promise<Endpoints> => {
    if (given.authorizationEndpoint && given.tokenEndpoint) return { ...given, requireIss: false } as Endpoints
    const http = { fetch: options.fetch, secrets: [] }
    const response = await send(`${issuer!.replace(/\/$/, '')}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } }, http)
    const body = await readObject(response, http)
    if (!response.ok) throw responseError(response, body, { refresh: false, secrets: [] })
    if (!body) throw fail('server_error', 'bad discovery document')
    // OpenID Connect Discovery §4.3: the document must name exactly the issuer we asked for.
    if (own(body, 'issuer') !== issuer) throw fail('configuration', 'discovery issuer mismatch')
    const found = { requireIss: own(body, 'authorization_response_iss_parameter_supported') === true } as Endpoints
    ENDPOINTS.forEach((name, i) => {
      const member = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
      const value = given[name] ?? own(body, member)
      // The optional ones: absent (or not a string) means unsupported.
      if (i < 2 || typeof value === 'string') found[name] = checkUrl(value, member)
    })
    return found
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
    storage().setItem(key, JSON.stringify(tx))
    return withParams(authorizationEndpoint, params)
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
        fail('state_mismatch', `callback ${what} mismatch`)
      const state = params.get('state')
      if (!tx || !state || state !== tx.state || tx.issuer !== issuer) throw mismatch('state')
      const { tokenEndpoint, requireIss } = await resolve()
      const iss = params.get('iss')
      if (issuer && (iss === null ? requireIss : iss !== issuer)) throw mismatch('iss')
      const error = params.get('error')
      if (error !== null) {
        const description = params.get('error_description')?.slice(0, 256)
        const oauthError = ERROR_SYNTAX.test(error) ? error : undefined
        throw fail(INTERACTION.test(error) ? 'interaction_required' : 'oauth_error', `authorization failed${oauthError ? `: ${oauthError}` : ''}`, {
          ...(oauthError && { oauthError }),
          ...(description && { description }),
        })
      }
      const code = params.get('code')
      if (!code) throw fail('oauth_error', 'no code')
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
      if (tx.nonce) checkIdToken(tokens.idToken, { issuer, clientId, nonce: tx.nonce, toleranceMs: options.clockToleranceMs ?? 600_000 })
      return tokens
    } finally {
      clean(url, RESPONSE_PARAMS)
    }
  }

  const endSessionUrl = async ({ tokens }: Pick<EndedSession, 'tokens'>): Promise<string | undefined> => {
    const { endSessionEndpoint } = await resolve()
    if (!endSessionEndpoint) return undefined
    const state = random()
    if (postLogout) storage().setItem(logoutKey, state)
    return withParams(endSessionEndpoint, {
      // The ID token is the one token that leaves the app in a URL: RP-Initiated Logout §2 asks for it as the hint.
      ...(tokens.idToken && { id_token_hint: tokens.idToken }),
      client_id: clientId,
      ...(postLogout && { post_logout_redirect_uri: postLogout, state }),
    })
  }

  return {
    authorizationUrl,
    async start(request) {
      location.assign(await authorizationUrl(request))
    },
    endSessionUrl,
    async endSession(ended) {
      const href = await endSessionUrl(ended)
      if (!href) return { redirected: false, reason: 'unsupported' }
      location.assign(href)
      return { redirected: true }
    },
    handleEndSessionCallback(href = location.href) {
      const url = new URL(href)
      const params = url.searchParams
      const state = params.get('state')
      const sent = storage().getItem(logoutKey)
      if (!state || !sent || params.has('code') || params.has('error')) return false
      storage().removeItem(logoutKey) // single use
      clean(url, ['state'])
      if (state !== sent) throw fail('state_mismatch', 'sign-out state mismatch')
      return true
    },
    async getUserInfo(session) {
      const { userinfoEndpoint } = await resolve()
      const sub = session.getSnapshot().user?.sub
      if (!userinfoEndpoint || !sub) throw fail(sub ? 'configuration' : 'not_authenticated', 'no userinfo_endpoint or no user')
      // session.fetch: a fresh token, the DPoP authorizer, one refresh and retry on 401, and fetch.allowedOrigins.
      const response = await session.fetch(userinfoEndpoint, { credentials: 'omit', redirect: 'manual' })
      const http = { secrets: [] }
      const body = await readObject(response, http)
      if (!response.ok) throw responseError(response, body, { refresh: false, secrets: [] })
      // OpenID Connect Core §5.3.4: never use UserInfo claims of another subject.
      if (own(body, 'sub') !== sub) throw fail(body ? 'invalid_id_token' : 'invalid_token_response', 'bad UserInfo response (sub)')
      return deepFreeze(body as UserClaims)
    },
    isCallback(href = location.href) {
      const params = new URL(href).searchParams
      return params.has('state') && (params.has('code') || params.has('error'))
    },
    handleCallback,
  }
}

/** `endpoint` with `params` added (replacing any of the same name). */
function withParams(endpoint: string, params: Record<string, string>): string {
  const url = new URL(endpoint)
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value)
  return url.href
}

/** Removes the protocol's `names` from the address bar when `url` is the current location. */
function clean(url: URL, names: readonly string[]): void {
  if (typeof location === 'object' && url.href === location.href) {
    for (const name of names) url.searchParams.delete(name)
    history.replaceState(history.state, '', url.href)
  }
}
