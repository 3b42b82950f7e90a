// OpenID Connect around the session: RP-initiated logout (endSession), prompt=none answers, ID tokens of
// refresh responses (Core §12.2) and UserInfo (Core §5.3). Real Chromium/Firefox, stubbed HTTP.
import '../support/setup'
import { expect } from 'chai'
import { createSignIn, refreshTokenGrant, type SignInOptions, type TransactionStorage } from '../../src/oauth/index'
import type { Session, TokenSet } from '../../src/types'
import { expectError, idClaims, json, jwt, stubFetch, token, type Reply } from './helpers'
import { TAB_LOCAL, testSessions } from '../support/util'

const ISSUER = 'https://id.example.com'
const REDIRECT = 'https://app.example.com/callback'
const AFTER_LOGOUT = 'https://app.example.com/signed-out'
const OUT_KEY = 'sessionkeeper:sign-out:spa'

function memoryStorage(): TransactionStorage & { items: Map<string, string> } {
  const items = new Map<string, string>()
  return { items, getItem: (k) => items.get(k) ?? null, setItem: (k, v) => void items.set(k, v), removeItem: (k) => void items.delete(k) }
}
const discovery = (extra: Record<string, unknown> = {}) =>
  json({ issuer: ISSUER, authorization_endpoint: `${ISSUER}/auth`, token_endpoint: `${ISSUER}/token`, end_session_endpoint: `${ISSUER}/session/end?ui=x`, userinfo_endpoint: `${ISSUER}/me`, ...extra })

function setup(replies: Reply[], options: Partial<SignInOptions> = {}) {
  const fetch = stubFetch(...replies)
  const storage = memoryStorage()
  const signIn = createSignIn({ issuer: ISSUER, clientId: 'spa', redirectUri: REDIRECT, postLogoutRedirectUri: AFTER_LOGOUT, fetch, storage, ...options })
  return { fetch, storage, signIn }
}

describe('oauth: RP-initiated logout (signIn.endSession)', () => {
  let tokens: TokenSet
  beforeEach(() => {
    tokens = { accessToken: token('at'), refreshToken: token('rt'), idToken: jwt(idClaims()), expiresAt: Date.now() + 60_000 }
  })

  it('builds the end-session URL from discovery: id_token_hint, client_id, post_logout_redirect_uri and a stored state', async () => {
    const { signIn, storage, fetch } = setup([discovery()])
    const url = new URL((await signIn.endSessionUrl({ tokens }))!)
    expect(url.origin + url.pathname).to.equal(`${ISSUER}/session/end`)
    const p = url.searchParams
    expect(p.get('ui')).to.equal('x')
    expect(p.get('id_token_hint')).to.equal(tokens.idToken)
    expect(p.get('client_id')).to.equal('spa')
    expect(p.get('post_logout_redirect_uri')).to.equal(AFTER_LOGOUT)
    expect(p.get('state')).to.have.length.of.at.least(43).and.equal(storage.items.get(OUT_KEY))
    // Only the ID token goes out: never the access or refresh token.
    expect(url.href).not.to.contain(tokens.accessToken).and.not.to.contain(tokens.refreshToken)
    expect(fetch.calls).to.have.length(1)
    const again = new URL((await signIn.endSessionUrl({ tokens }))!)
    expect(again.searchParams.get('state')).not.to.equal(p.get('state'))
    expect(fetch.calls).to.have.length(1) // discovery once
  })

  it('uses a given endSessionEndpoint (no discovery with both endpoints given), without state when there is no postLogoutRedirectUri', async () => {
    const { signIn, fetch, storage } = setup([], {
      authorizationEndpoint: `${ISSUER}/auth`,
      tokenEndpoint: `${ISSUER}/token`,
      endSessionEndpoint: `${ISSUER}/logout`,
      postLogoutRedirectUri: undefined,
    } as unknown as Partial<SignInOptions>)
    const { idToken: _, ...noIdToken } = tokens
    const url = new URL((await signIn.endSessionUrl({ tokens: noIdToken }))!)
    expect(fetch.calls).to.have.length(0)
    expect(url.href).to.equal(`${ISSUER}/logout?client_id=spa`)
    expect(storage.items.size).to.equal(0)
  })

  it('says "unsupported" when the provider has no end_session_endpoint, and does not navigate', async () => {
    const { signIn, storage } = setup([discovery({ end_session_endpoint: undefined })])
    expect(await signIn.endSessionUrl({ tokens })).to.equal(undefined)
    expect(await signIn.endSession({ tokens })).to.deep.equal({ redirected: false, reason: 'unsupported' })
    expect(storage.items.size).to.equal(0)
  })

  it('rejects with the discovery error (offline) and with configuration for a non-https end_session_endpoint', async () => {
    const offline = setup([new TypeError('Failed to fetch')])
    await expectError(offline.signIn.endSession({ tokens }), 'network', true)
    const http = setup([discovery({ end_session_endpoint: 'http://id.example.com/end' })])
    await expectError(http.signIn.endSessionUrl({ tokens }), 'configuration', false)
    expect(() => createSignIn({ issuer: ISSUER, clientId: 'spa', redirectUri: REDIRECT, postLogoutRedirectUri: '/relative' })).to.throw(TypeError)
  })

  it('checks the state on return: single use, a wrong state is state_mismatch, other URLs are not a return', async () => {
    const { signIn, storage } = setup([discovery()])
    const state = new URL((await signIn.endSessionUrl({ tokens }))!).searchParams.get('state')!
    expect(signIn.handleEndSessionCallback(AFTER_LOGOUT)).to.equal(false)
    expect(signIn.handleEndSessionCallback(`${REDIRECT}?code=c&state=${state}`)).to.equal(false) // a sign-in callback
    expect(signIn.handleEndSessionCallback(`${AFTER_LOGOUT}?state=${state}`)).to.equal(true)
    expect(storage.items.has(OUT_KEY)).to.equal(false)
    expect(signIn.handleEndSessionCallback(`${AFTER_LOGOUT}?state=${state}`)).to.equal(false) // replayed
    await signIn.endSessionUrl({ tokens })
    const error = await expectError(Promise.resolve().then(() => signIn.handleEndSessionCallback(`${AFTER_LOGOUT}?state=forged`)), 'state_mismatch', false)
    expect(error.message).not.to.contain('forged')
    expect(storage.items.has(OUT_KEY)).to.equal(false)
  })

  it('removes the state from the address bar when the return is the current location', async () => {
    const { signIn } = setup([discovery()], { postLogoutRedirectUri: location.href.split('?')[0]! })
    const before = location.href
    const state = new URL((await signIn.endSessionUrl({ tokens }))!).searchParams.get('state')!
    const here = new URL(location.href)
    here.searchParams.set('state', state)
    history.replaceState(history.state, '', here.href)
    try {
      expect(signIn.handleEndSessionCallback()).to.equal(true)
      expect(new URL(location.href).searchParams.has('state')).to.equal(false)
    } finally {
      history.replaceState(history.state, '', before)
    }
  })
})

describe('oauth: prompt=none', () => {
  const callbackWith = async (error: string) => {
    const { signIn, storage } = setup([discovery()])
    const url = new URL(await signIn.authorizationUrl({ prompt: 'none' }))
    expect(url.searchParams.get('prompt')).to.equal('none')
    const { state } = JSON.parse(storage.getItem('sessionkeeper:sign-in:spa')!) as { state: string }
    return signIn.handleCallback(`${REDIRECT}?${new URLSearchParams({ error, state, iss: ISSUER })}`)
  }
  for (const answer of ['login_required', 'interaction_required', 'consent_required', 'account_selection_required']) {
    it(`${answer} -> interaction_required (oauthError ${answer}, not retryable)`, async () => {
      const error = await expectError(callbackWith(answer), 'interaction_required', false)
      expect(error.oauthError).to.equal(answer)
    })
  }
  it('other errors stay oauth_error (access_denied)', async () => {
    const error = await expectError(callbackWith('access_denied'), 'oauth_error', false)
    expect(error.oauthError).to.equal('access_denied')
  })
})

describe('oauth: ID tokens in refresh responses (OpenID Connect Core §12.2)', () => {
  let current: TokenSet
  const { make, destroyAll } = testSessions(TAB_LOCAL)
  afterEach(destroyAll)
  beforeEach(() => {
    current = { accessToken: token('at'), refreshToken: token('rt'), idToken: jwt(idClaims({ iat: Math.floor(Date.now() / 1000) - 60, nonce: 'n-1', azp: 'spa' })), expiresAt: 1 }
  })
  const warnings: string[] = []
  const refreshWith = (claims: Record<string, unknown> | string | undefined) => {
    const idToken = typeof claims === 'string' ? claims : claims && jwt(claims)
    const fetch = stubFetch(json({ access_token: token('at2'), token_type: 'Bearer', expires_in: 60, ...(idToken && { id_token: idToken }) }))
    const refresh = refreshTokenGrant({ tokenEndpoint: `${ISSUER}/token`, clientId: 'spa', fetch, onWarning: (w) => void warnings.push(w.code) })
    return refresh(current, { signal: new AbortController().signal })
  }

  it('accepts a new ID token for the same iss, sub, aud and azp, without a nonce', async () => {
    const claims = idClaims({ azp: 'spa', name: 'new name' })
    const tokens = await refreshWith(claims)
    expect(tokens.idToken).to.equal(jwt(claims))
  })
  it('keeps the current ID token (unchecked) when the response has none', async () => {
    expect((await refreshWith(undefined)).idToken).to.equal(current.idToken)
  })
  const bad: [string, Record<string, unknown> | string][] = [
    ['another sub', idClaims({ azp: 'spa', sub: 'user-2' })],
    ['another iss', idClaims({ azp: 'spa', iss: 'https://evil.example.com' })],
    ['another aud', idClaims({ azp: 'spa', aud: ['spa', 'other'] })],
    ['not for this client', idClaims({ aud: 'other', azp: 'other' })],
    ['no azp where the sign-in had one', idClaims()],
    ['issued before the sign-in', idClaims({ azp: 'spa', iat: Math.floor(Date.now() / 1000) - 120 })],
    ['without sub', idClaims({ azp: 'spa', sub: undefined })],
    ['without a numeric exp', idClaims({ azp: 'spa', exp: '2030-01-01' })],
  ]
  for (const [what, claims] of bad) {
    it(`rejects one ${what} with invalid_id_token (not retryable)`, async () => {
      await expectError(refreshWith(claims), 'invalid_id_token', false)
    })
  }
  it('does not judge exp and iat by the local clock (a wrong clock must not stop refreshes)', async () => {
    const hour = 3600
    const now = Math.floor(Date.now() / 1000)
    expect((await refreshWith(idClaims({ azp: 'spa', iat: now + 2 * hour, exp: now + 3 * hour }))).idToken).to.be.a('string')
    current = { ...current, idToken: jwt(idClaims({ azp: 'spa', iat: now - 3 * hour, exp: now - 2 * hour })) }
    expect((await refreshWith(idClaims({ azp: 'spa', iat: now - 2 * hour, exp: now - hour }))).idToken).to.be.a('string')
  })
  it('drops an id_token that is not a JWS (keeping the current one) with an invalid_id_token warning', async () => {
    warnings.length = 0
    const tokens = await refreshWith('not.a-jwt')
    expect(tokens.idToken).to.equal(current.idToken)
    expect(warnings).to.deep.equal(['invalid_id_token'])
  })
  it('checks only aud/azp/sub/exp/iat when the session had no (readable) ID token', async () => {
    current = { ...current, idToken: 'opaque-id-token' }
    expect((await refreshWith(idClaims({ iss: 'https://other.example.com' }))).idToken).to.be.a('string')
    await expectError(refreshWith(idClaims({ aud: 'other' })), 'invalid_id_token', false)
  })

  it('in a session: a mismatch is a refresh-error and the user (and tokens) stay', async () => {
    const fetch = stubFetch(json({ access_token: token('at3'), token_type: 'Bearer', expires_in: 60, id_token: jwt(idClaims({ sub: 'mallory' })) }))
    const session = make({ refresh: refreshTokenGrant({ tokenEndpoint: `${ISSUER}/token`, clientId: 'spa', fetch }) })
    await session.ready()
    const signedIn = { ...current, idToken: jwt(idClaims()), expiresAt: Date.now() + 600_000 }
    await session.login(signedIn)
    const before = session.getSnapshot()
    expect(before.user?.sub).to.equal('user-1')
    const failed = new Promise<string>((resolve) => session.on('refresh-error', ({ error }) => resolve(error.code)))
    await expectError(session.refresh(), 'invalid_id_token', false)
    expect(await failed).to.equal('invalid_id_token')
    const after = session.getSnapshot()
    if (after.status !== 'authenticated') throw new Error('signed out')
    expect(after.user).to.equal(before.user)
    expect(after.tokens.accessToken).to.equal(signedIn.accessToken)
  })
})

describe('oauth: getUserInfo', () => {
  let session: Session
  const realFetch = globalThis.fetch
  const { make, destroyAll } = testSessions(TAB_LOCAL)
  afterEach(async () => {
    globalThis.fetch = realFetch
    await destroyAll()
  })
  /** A signed-in session whose session.fetch goes to `replies` (session.fetch uses the global fetch). */
  async function signedIn(replies: Reply[], idToken: string | null = jwt(idClaims()), allowed = [ISSUER]) {
    const calls: Request[] = []
    const stub = stubFetch(...replies)
    globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      calls.push(new Request(input, init))
      return stub(input, init)
    }) as typeof fetch
    session = make({ fetch: { allowedOrigins: allowed } })
    await session.ready()
    const accessToken = token('at')
    await session.login({ accessToken, expiresAt: Date.now() + 60_000, ...(idToken && { idToken }) })
    return { calls, accessToken }
  }

  it('fetches the claims with the access token (no cookies), checks sub, and freezes them', async () => {
    const { signIn } = setup([discovery()])
    const { calls, accessToken } = await signedIn([json({ sub: 'user-1', email: 'u@example.com', address: { country: 'FR' } })])
    const info = await signIn.getUserInfo(session)
    expect(info).to.deep.equal({ sub: 'user-1', email: 'u@example.com', address: { country: 'FR' } })
    expect(Object.isFrozen(info) && Object.isFrozen(info.address)).to.equal(true)
    expect(calls[0]!.url).to.equal(`${ISSUER}/me`)
    expect(calls[0]!.headers.get('authorization')).to.equal(`Bearer ${accessToken}`)
    expect(calls[0]!.credentials).to.equal('omit')
  })
  it('rejects a UserInfo response for another subject (invalid_id_token) or that is not JSON (invalid_token_response)', async () => {
    const { signIn } = setup([discovery()])
    await signedIn([json({ sub: 'user-2' }), new Response('<html>', { status: 200 })])
    await expectError(signIn.getUserInfo(session), 'invalid_id_token', false)
    await expectError(signIn.getUserInfo(session), 'invalid_token_response', true)
  })
  it('not_authenticated without a user; configuration without a userinfo_endpoint or on a 401; origin_not_allowed outside fetch.allowedOrigins', async () => {
    const none = setup([discovery()])
    await signedIn([json({ sub: 'user-1' })], null)
    await expectError(none.signIn.getUserInfo(session), 'not_authenticated', false)
    await session.destroy()
    const noEndpoint = setup([discovery({ userinfo_endpoint: undefined })])
    await signedIn([json({ sub: 'user-1' })])
    await expectError(noEndpoint.signIn.getUserInfo(session), 'configuration', false)
    await session.destroy()
    const unauthorized = setup([discovery()])
    await signedIn([new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } })])
    await expectError(unauthorized.signIn.getUserInfo(session), 'configuration', false)
    await session.destroy()
    const elsewhere = setup([discovery()])
    await signedIn([json({ sub: 'user-1' })], jwt(idClaims()), ['https://api.example.com'])
    await expectError(elsewhere.signIn.getUserInfo(session), 'origin_not_allowed', false)
  })
})
