import '../support/setup'
import { expect } from 'chai'
import { createSignIn, type SignInOptions, type TransactionStorage } from '../../src/oauth/index'
import { SessionError } from '../../src/errors'
import { expectError, expectNoLeak, json, stubFetch, token, type Reply } from './helpers'

const ISSUER = 'https://id.example.com'
const REDIRECT = 'https://app.example.com/callback'
const KEY = 'sessionkeeper:sign-in:spa'

const b64u = (text: string) => btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
function jwt(claims: Record<string, unknown>): string {
  return `${b64u(JSON.stringify({ alg: 'RS256', kid: 'k1' }))}.${b64u(JSON.stringify(claims))}.c2lnbmF0dXJl`
}
async function s256(verifier: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)))
  return b64u(String.fromCharCode(...digest))
}

function memoryStorage(): TransactionStorage & { items: Map<string, string> } {
  const items = new Map<string, string>()
  return {
    items,
    getItem: (k) => items.get(k) ?? null,
    setItem: (k, v) => void items.set(k, v),
    removeItem: (k) => void items.delete(k),
  }
}

const discovery = (extra: Record<string, unknown> = {}) =>
  json({
    issuer: ISSUER,
    authorization_endpoint: `${ISSUER}/auth?tenant=a`,
    token_endpoint: `${ISSUER}/token`,
    ...extra,
  })

describe('oauth: createSignIn (authorization code + PKCE)', () => {
  let accessToken: string
  let refreshToken: string

  beforeEach(() => {
    accessToken = token('at')
    refreshToken = token('rt')
  })

  function setup(replies: Reply[], options: { [K in keyof SignInOptions]?: SignInOptions[K] | undefined } = {}) {
    const fetch = stubFetch(...replies)
    const storage = memoryStorage()
    const signIn = createSignIn({ issuer: ISSUER, clientId: 'spa', redirectUri: REDIRECT, fetch, storage, ...options } as SignInOptions)
    return { fetch, storage, signIn }
  }
  const tx = (storage: TransactionStorage) => JSON.parse(storage.getItem(KEY)!) as Record<string, string>
  const claims = (nonce: string, extra: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000)
    return { iss: ISSUER, aud: 'spa', sub: 'user-1', nonce, iat: now, exp: now + 3600, ...extra }
  }
  /** A token response built when the token request arrives, with the transaction's nonce. */
  const tokenReply = (storageRef: { nonce?: string | undefined }, extra: (nonce: string) => Record<string, unknown> = () => ({})) => () =>
    json({
      access_token: accessToken,
      refresh_token: refreshToken,
      token_type: 'Bearer',
      expires_in: 300,
      id_token: jwt(claims(storageRef.nonce!)),
      ...extra(storageRef.nonce!),
    })
  async function begin(replies: (ref: { nonce?: string | undefined }) => Reply[], options: Partial<SignInOptions> = {}) {
    const ref: { nonce?: string | undefined } = {}
    const ctx = setup(replies(ref), options)
    const url = new URL(await ctx.signIn.authorizationUrl())
    const transaction = tx(ctx.storage)
    ref.nonce = transaction.nonce
    const callback = (params: Record<string, string>) => `${REDIRECT}?${new URLSearchParams(params)}`
    return { ...ctx, url, transaction, callback, ref }
  }

  describe('options', () => {
    it('throws TypeError for a missing clientId/redirectUri, openid without issuer, or no endpoints', () => {
      expect(() => createSignIn({ issuer: ISSUER, redirectUri: REDIRECT } as SignInOptions)).to.throw(TypeError)
      expect(() => createSignIn({ issuer: ISSUER, clientId: 'spa' } as SignInOptions)).to.throw(TypeError)
      expect(() => createSignIn({ issuer: ISSUER, clientId: 'spa', redirectUri: '/callback' })).to.throw(TypeError)
      expect(() => createSignIn({ clientId: 'spa', redirectUri: REDIRECT, authorizationEndpoint: `${ISSUER}/auth`, tokenEndpoint: `${ISSUER}/token` })).to.throw(TypeError)
      expect(() => createSignIn({ clientId: 'spa', redirectUri: REDIRECT, scope: 'api', tokenEndpoint: `${ISSUER}/token` })).to.throw(TypeError)
    })
    it('rejects a non-https issuer or endpoint with configuration', () => {
      for (const options of [{ issuer: 'http://id.example.com' }, { tokenEndpoint: 'http://id.example.com/token' }]) {
        let error: unknown
        try {
          createSignIn({ issuer: ISSUER, clientId: 'spa', redirectUri: REDIRECT, ...options })
        } catch (e) {
          error = e
        }
        expect((error as SessionError).code).to.equal('configuration')
      }
    })
    it('is pure: nothing is fetched or stored on creation', () => {
      const { fetch, storage } = setup([discovery()])
      expect(fetch.calls).to.have.length(0)
      expect(storage.items.size).to.equal(0)
    })
  })

  describe('authorization request', () => {
    it('builds a PKCE S256 request with state and nonce and stores the transaction', async () => {
      const { url, transaction, fetch } = await begin(() => [discovery()])
      expect(fetch.calls[0]!.url).to.equal(`${ISSUER}/.well-known/openid-configuration`)
      expect(fetch.calls[0]!.init.credentials).to.equal('omit')
      expect(url.origin + url.pathname).to.equal(`${ISSUER}/auth`)
      const p = url.searchParams
      expect(p.get('tenant')).to.equal('a')
      expect(p.get('response_type')).to.equal('code')
      expect(p.get('client_id')).to.equal('spa')
      expect(p.get('redirect_uri')).to.equal(REDIRECT)
      expect(p.get('scope')).to.equal('openid')
      expect(p.get('code_challenge_method')).to.equal('S256')
      expect(p.get('state')).to.equal(transaction.state).and.to.have.length.of.at.least(43)
      expect(p.get('nonce')).to.equal(transaction.nonce).and.to.have.length.of.at.least(43)
      expect(transaction.verifier).to.match(/^[A-Za-z0-9_-]{43,128}$/)
      expect(p.get('code_challenge')).to.equal(await s256(transaction.verifier!))
      expect(p.has('code_verifier')).to.equal(false)
      expect(transaction.redirectUri).to.equal(REDIRECT)
      expect(transaction.issuer).to.equal(ISSUER)
    })
    it('adds login_hint, prompt and extra params, which cannot override protocol params', async () => {
      const { signIn } = setup([discovery()])
      const url = new URL(
        await signIn.authorizationUrl({
          loginHint: 'ada@example.com',
          prompt: 'consent',
          extraParams: { resource: 'https://api.example.com', state: 'fixed', code_challenge_method: 'plain', response_type: 'token' },
        }),
      )
      const p = url.searchParams
      expect(p.get('login_hint')).to.equal('ada@example.com')
      expect(p.get('prompt')).to.equal('consent')
      expect(p.get('resource')).to.equal('https://api.example.com')
      expect(p.get('state')).not.to.equal('fixed')
      expect(p.get('code_challenge_method')).to.equal('S256')
      expect(p.get('response_type')).to.equal('code')
    })
    it('uses fresh state, nonce and verifier each time and discovers once', async () => {
      const { signIn, fetch, storage } = setup([discovery()])
      const a = new URL(await signIn.authorizationUrl())
      const first = tx(storage)
      const b = new URL(await signIn.authorizationUrl())
      const second = tx(storage)
      expect(a.searchParams.get('state')).not.to.equal(b.searchParams.get('state'))
      expect(first.verifier).not.to.equal(second.verifier)
      expect(first.nonce).not.to.equal(second.nonce)
      expect(fetch.calls).to.have.length(1)
    })
    it('skips discovery when both endpoints are given, and nonce without openid', async () => {
      const { signIn, fetch, storage } = setup([], {
        issuer: undefined,
        scope: 'api offline_access',
        authorizationEndpoint: 'http://127.0.0.1:3000/auth',
        tokenEndpoint: 'http://127.0.0.1:3000/token',
      })
      const url = new URL(await signIn.authorizationUrl())
      expect(fetch.calls).to.have.length(0)
      expect(url.searchParams.has('nonce')).to.equal(false)
      expect(tx(storage).nonce).to.equal(undefined)
    })
    it('discovery: issuer mismatch -> configuration; failures are not cached', async () => {
      const wrong = setup([discovery({ issuer: 'https://evil.example.com' })])
      await expectError(wrong.signIn.authorizationUrl(), 'configuration', false)
      const flaky = setup([new TypeError('Failed to fetch'), new Response('oops', { status: 500 }), discovery()])
      await expectError(flaky.signIn.authorizationUrl(), 'network', true)
      await expectError(flaky.signIn.authorizationUrl(), 'server_error', true)
      expect(await flaky.signIn.authorizationUrl()).to.be.a('string')
      const http = setup([discovery({ token_endpoint: 'http://id.example.com/token' })])
      await expectError(http.signIn.authorizationUrl(), 'configuration', false)
      const html = setup([new Response('<html>', { status: 200 })])
      await expectError(html.signIn.authorizationUrl(), 'server_error', true)
      expect(flaky.storage.items.size).to.equal(1)
    })
    it('uses sessionStorage under a namespaced key by default', async () => {
      const fetch = stubFetch(discovery())
      const signIn = createSignIn({ issuer: ISSUER, clientId: 'spa', redirectUri: REDIRECT, fetch })
      try {
        await signIn.authorizationUrl()
        expect(JSON.parse(sessionStorage.getItem(KEY)!)).to.have.property('verifier')
      } finally {
        sessionStorage.removeItem(KEY)
      }
    })
  })

  describe('callback', () => {
    it('exchanges the code with the verifier and returns validated tokens; the transaction is single-use', async () => {
      const { signIn, fetch, storage, transaction, callback, ref } = await begin((ref) => [discovery(), tokenReply(ref)])
      const url = callback({ code: 'the-code', state: transaction.state! })
      expect(signIn.isCallback(url)).to.equal(true)
      const before = Date.now()
      const tokens = await signIn.handleCallback(url)
      expect(tokens.accessToken).to.equal(accessToken)
      expect(tokens.refreshToken).to.equal(refreshToken)
      expect(tokens.idToken).to.be.a('string')
      expect(tokens.scope).to.equal('openid')
      expect(tokens.expiresAt).to.be.within(before + 300_000, Date.now() + 300_000)
      const call = fetch.calls[1]!
      expect(call.url).to.equal(`${ISSUER}/token`)
      expect(call.init.method).to.equal('POST')
      expect(call.init.credentials).to.equal('omit')
      expect(Object.fromEntries(call.form)).to.deep.equal({
        grant_type: 'authorization_code',
        code: 'the-code',
        redirect_uri: REDIRECT,
        code_verifier: transaction.verifier,
        client_id: 'spa',
      })
      expect(storage.items.size).to.equal(0)
      await expectError(signIn.handleCallback(url), 'state_mismatch', false)
      expect(fetch.calls).to.have.length(2)
      expect(ref.nonce).to.equal(transaction.nonce)
    })
    it('state mismatch: tampered, missing, or no transaction -> state_mismatch, nothing exchanged', async () => {
      const a = await begin((ref) => [discovery(), tokenReply(ref)])
      await expectError(a.signIn.handleCallback(a.callback({ code: 'c', state: `${a.transaction.state}x` })), 'state_mismatch', false)
      // the transaction was consumed: even the right state fails now
      await expectError(a.signIn.handleCallback(a.callback({ code: 'c', state: a.transaction.state! })), 'state_mismatch', false)
      const b = await begin((ref) => [discovery(), tokenReply(ref)])
      await expectError(b.signIn.handleCallback(b.callback({ code: 'c' })), 'state_mismatch', false)
      const c = setup([discovery()])
      await expectError(c.signIn.handleCallback(`${REDIRECT}?code=c&state=s`), 'state_mismatch', false)
      const d = await begin((ref) => [discovery(), tokenReply(ref)])
      d.storage.setItem(KEY, '{"state":5}')
      await expectError(d.signIn.handleCallback(d.callback({ code: 'c', state: d.transaction.state! })), 'state_mismatch', false)
      for (const ctx of [a, b, c, d]) expect(ctx.fetch.calls.filter((call) => call.url.endsWith('/token'))).to.have.length(0)
    })
    it('error response -> oauth_error with the OAuth error and capped description', async () => {
      const { signIn, callback, transaction } = await begin(() => [discovery()])
      const error = await expectError(
        signIn.handleCallback(callback({ error: 'access_denied', error_description: 'x'.repeat(500), state: transaction.state! })),
        'oauth_error',
        false,
      )
      expect(error.oauthError).to.equal('access_denied')
      expect(error.description).to.equal('x'.repeat(256))
    })
    it('RFC 9207: a wrong iss -> state_mismatch; a missing iss is rejected when the server announces it', async () => {
      const wrong = await begin((ref) => [discovery(), tokenReply(ref)])
      await expectError(wrong.signIn.handleCallback(wrong.callback({ code: 'c', state: wrong.transaction.state!, iss: 'https://evil.example.com' })), 'state_mismatch', false)
      const required = await begin((ref) => [discovery({ authorization_response_iss_parameter_supported: true }), tokenReply(ref)])
      await expectError(required.signIn.handleCallback(required.callback({ code: 'c', state: required.transaction.state! })), 'state_mismatch', false)
      const right = await begin((ref) => [discovery({ authorization_response_iss_parameter_supported: true }), tokenReply(ref)])
      const tokens = await right.signIn.handleCallback(right.callback({ code: 'c', state: right.transaction.state!, iss: ISSUER }))
      expect(tokens.accessToken).to.equal(accessToken)
    })
    it('a rejected code (invalid_grant) is oauth_error, not reauth_required', async () => {
      const { signIn, callback, transaction } = await begin(() => [discovery(), json({ error: 'invalid_grant' }, 400)])
      const error = await expectError(signIn.handleCallback(callback({ code: 'c', state: transaction.state! })), 'oauth_error', false)
      expect(error.oauthError).to.equal('invalid_grant')
    })
    it('validates the token response like the refresh grant', async () => {
      const { signIn, callback, transaction } = await begin((ref) => [discovery(), tokenReply(ref, () => ({ token_type: 'mac' }))])
      await expectError(signIn.handleCallback(callback({ code: 'c', state: transaction.state! })), 'invalid_token_response', true)
    })

    const now = () => Math.floor(Date.now() / 1000)
    const bad: [string, (nonce: string) => Record<string, unknown>][] = [
      ['missing', () => ({ id_token: undefined })],
      ['"abc"', () => ({ id_token: 'abc' })],
      ['2 segments', () => ({ id_token: 'a.b' })],
      ['5 segments (JWE)', () => ({ id_token: 'a.b.c.d.e' })],
      ['invalid base64url', () => ({ id_token: 'a.!!!.c' })],
      ['non-JSON payload', () => ({ id_token: `a.${b64u('not json')}.c` })],
      ['array payload', () => ({ id_token: `a.${b64u('[1]')}.c` })],
      ['wrong iss', (n) => ({ id_token: jwt(claims(n, { iss: 'https://evil.example.com' })) })],
      ['wrong aud', (n) => ({ id_token: jwt(claims(n, { aud: 'other' })) })],
      ['aud array without the client', (n) => ({ id_token: jwt(claims(n, { aud: ['a', 'b'] })) })],
      ['wrong azp', (n) => ({ id_token: jwt(claims(n, { aud: ['spa', 'api'], azp: 'api' })) })],
      ['wrong nonce', (n) => ({ id_token: jwt(claims(`${n}x`)) })],
      ['missing nonce', (n) => ({ id_token: jwt(claims(n, { nonce: undefined })) })],
      ['missing sub', (n) => ({ id_token: jwt(claims(n, { sub: undefined })) })],
      ['expired beyond 600 s', (n) => ({ id_token: jwt(claims(n, { exp: now() - 700 })) })],
      ['iat beyond 600 s in the future', (n) => ({ id_token: jwt(claims(n, { iat: now() + 700 })) })],
      ['exp as a string', (n) => ({ id_token: jwt(claims(n, { exp: String(now() + 100) })) })],
    ]
    for (const [name, mutate] of bad) {
      it(`F1: ID token ${name} -> invalid_id_token`, async () => {
        const { signIn, callback, transaction } = await begin((ref) => [discovery(), tokenReply(ref, mutate)])
        await expectError(signIn.handleCallback(callback({ code: 'c', state: transaction.state! })), 'invalid_id_token', false)
      })
    }
    it('accepts exp/iat within the default 600 s of leeway (TM-4: clock ±10 min), an aud array with azp, and unknown claims', async () => {
      const ok = await begin((ref) => [
        discovery(),
        tokenReply(ref, (n) => ({ id_token: jwt(claims(n, { exp: now() - 590, iat: now() + 590, aud: ['spa', 'api'], azp: 'spa', extra: { x: 1 } })) })),
      ])
      const tokens = await ok.signIn.handleCallback(ok.callback({ code: 'c', state: ok.transaction.state! }))
      expect(tokens.accessToken).to.equal(accessToken)
    })
    it('clockToleranceMs widens the leeway (client clock behind)', async () => {
      const ok = await begin(
        (ref) => [discovery(), tokenReply(ref, (n) => ({ id_token: jwt(claims(n, { iat: now() + 800 })) }))],
        { clockToleranceMs: 900_000 },
      )
      expect((await ok.signIn.handleCallback(ok.callback({ code: 'c', state: ok.transaction.state! }))).accessToken).to.equal(accessToken)
    })
    it('clockToleranceMs can narrow the leeway below the default', async () => {
      const { signIn, callback, transaction } = await begin(
        (ref) => [discovery(), tokenReply(ref, (n) => ({ id_token: jwt(claims(n, { iat: now() + 400 })) }))],
        { clockToleranceMs: 300_000 },
      )
      await expectError(signIn.handleCallback(callback({ code: 'c', state: transaction.state! })), 'invalid_id_token', false)
    })
    it('OAuth-only (no openid): no ID token needed', async () => {
      const ctx = setup([json({ access_token: accessToken, token_type: 'Bearer', expires_in: 60 })], {
        issuer: undefined,
        scope: 'api',
        authorizationEndpoint: `${ISSUER}/auth`,
        tokenEndpoint: `${ISSUER}/token`,
      })
      const url = new URL(await ctx.signIn.authorizationUrl())
      const tokens = await ctx.signIn.handleCallback(`${REDIRECT}?code=c&state=${url.searchParams.get('state')}`)
      expect(tokens.scope).to.equal('api')
    })
    it('isCallback only for authorization responses', () => {
      const { signIn } = setup([])
      expect(signIn.isCallback(`${REDIRECT}?code=a&state=b`)).to.equal(true)
      expect(signIn.isCallback(`${REDIRECT}?error=access_denied&state=b`)).to.equal(true)
      expect(signIn.isCallback(`${REDIRECT}?code=a`)).to.equal(false)
      expect(signIn.isCallback(REDIRECT)).to.equal(false)
    })
  })

  describe('address bar cleanup (the code never stays in the URL)', () => {
    let original: string
    beforeEach(() => {
      original = location.href
    })
    afterEach(() => {
      history.replaceState(history.state, '', original)
    })
    const withParams = (params: Record<string, string>) => {
      const url = new URL(original)
      url.searchParams.set('keep', '1')
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
      history.replaceState(history.state, '', url.href)
    }
    const assertClean = () => {
      const params = new URL(location.href).searchParams
      for (const name of ['code', 'state', 'iss', 'error', 'error_description', 'session_state']) expect(params.has(name), name).to.equal(false)
      expect(params.get('keep')).to.equal('1')
    }
    it('after success, with the current location as default', async () => {
      const { signIn, transaction } = await begin((ref) => [discovery(), tokenReply(ref)])
      withParams({ code: 'secret-code-1234567890', state: transaction.state!, iss: ISSUER, session_state: 'x' })
      expect(signIn.isCallback()).to.equal(true)
      await signIn.handleCallback()
      assertClean()
    })
    it('after a failure too', async () => {
      const { signIn, transaction } = await begin(() => [discovery(), json({ error: 'invalid_grant' }, 400)])
      withParams({ code: 'secret-code-1234567890', state: transaction.state! })
      await expectError(signIn.handleCallback(), 'oauth_error', false)
      assertClean()
      withParams({ error: 'access_denied', error_description: 'no', state: 'forged' })
      await expectError(signIn.handleCallback(), 'state_mismatch', false)
      assertClean()
    })
  })

  it('LEAK-CHECK: sign-in errors never carry the code, verifier or tokens', async () => {
    const code = token('code')
    const mutations: ((ref: { nonce?: string | undefined }) => Reply)[] = [
      () => json({ error: 'invalid_grant', error_description: `code ${code}` }, 400),
      (ref) => tokenReply(ref, () => ({ token_type: 'mac' })),
      (ref) => tokenReply(ref, (n) => ({ id_token: jwt(claims(`${n}x`)) })),
      (ref) => tokenReply(ref, (n) => ({ id_token: jwt(claims(n, { aud: accessToken })) })),
      () => new TypeError(`Failed to fetch code=${code}`),
      () => new Response(`<html>${code}</html>`, { status: 502 }),
    ]
    for (const mutation of mutations) {
      const ctx = await begin((ref) => [discovery(), mutation(ref)])
      let error: unknown
      try {
        await ctx.signIn.handleCallback(ctx.callback({ code, state: ctx.transaction.state! }))
      } catch (e) {
        error = e
      }
      expect(error).to.be.instanceOf(SessionError)
      expectNoLeak(error, [ctx.transaction.verifier!, accessToken, refreshToken])
    }
  })
})
