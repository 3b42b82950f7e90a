import '../support/setup'
import { expect } from 'chai'
import { refreshTokenGrant, type RefreshTokenGrantOptions } from '../../src/oauth/index'
import { SessionError } from '../../src/errors'
import type { TokenSet } from '../../src/types'
import { expectError, expectNoLeak, idClaims, json, jwt, stubFetch, token, type Reply } from './helpers'

const TOKEN_ENDPOINT = 'https://as.example.com/token'

describe('oauth: refreshTokenGrant', () => {
  let current: TokenSet
  let newAt: string
  let newRt: string

  beforeEach(() => {
    current = { accessToken: token('at'), refreshToken: token('rt'), idToken: token('id'), expiresAt: 1, scope: 'openid api' }
    newAt = token('at2')
    newRt = token('rt2')
  })

  function grant(replies: Reply[], options: Partial<RefreshTokenGrantOptions> = {}) {
    const fetch = stubFetch(...replies)
    const refresh = refreshTokenGrant({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'spa', fetch, ...options })
    const run = (tokens: TokenSet = current, signal = new AbortController().signal) => refresh(tokens, { signal })
    return { fetch, run }
  }
  const ok = (extra: Record<string, unknown> = {}) => json({ access_token: newAt, token_type: 'Bearer', expires_in: 3600, refresh_token: newRt, ...extra })

  describe('options (validated when the function is created)', () => {
    it('throws TypeError without a clientId or tokenEndpoint', () => {
      expect(() => refreshTokenGrant({ tokenEndpoint: TOKEN_ENDPOINT } as RefreshTokenGrantOptions)).to.throw(TypeError)
      expect(() => refreshTokenGrant({ tokenEndpoint: TOKEN_ENDPOINT, clientId: '' })).to.throw(TypeError)
      expect(() => refreshTokenGrant({ clientId: 'spa' } as RefreshTokenGrantOptions)).to.throw(TypeError)
      expect(() => refreshTokenGrant(undefined as unknown as RefreshTokenGrantOptions)).to.throw(TypeError)
    })
    it('rejects a non-https, non-loopback, relative or fragment endpoint with configuration', () => {
      for (const tokenEndpoint of ['http://as.example.com/token', '/token', 'ftp://as.example.com/t', 'https://as.example.com/token#x', 'http://10.0.0.1/token']) {
        let error: unknown
        try {
          refreshTokenGrant({ tokenEndpoint, clientId: 'spa' })
        } catch (e) {
          error = e
        }
        expect(error, tokenEndpoint).to.be.instanceOf(SessionError)
        expect((error as SessionError).code).to.equal('configuration')
        expect((error as SessionError).retryable).to.equal(false)
      }
    })
    it('accepts https and loopback http endpoints', () => {
      for (const tokenEndpoint of [TOKEN_ENDPOINT, 'http://127.0.0.1:3000/token', 'http://localhost:8080/token', 'http://[::1]/token']) {
        expect(refreshTokenGrant({ tokenEndpoint, clientId: 'spa' })).to.be.a('function')
      }
    })
    it('rejects a bad defaultExpiresInMs', () => {
      for (const defaultExpiresInMs of [0, -1, NaN, Infinity]) {
        expect(() => refreshTokenGrant({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'spa', defaultExpiresInMs })).to.throw(TypeError)
      }
    })
  })

  describe('RF-1 request', () => {
    it('POSTs a form with grant_type, refresh_token and client_id, no secret, no cookies, with the signal', async () => {
      const { fetch, run } = grant([ok()])
      const controller = new AbortController()
      await run(current, controller.signal)
      expect(fetch.calls).to.have.length(1)
      const [call] = fetch.calls
      expect(call!.url).to.equal(TOKEN_ENDPOINT)
      expect(call!.init.method).to.equal('POST')
      expect(call!.headers.get('content-type')).to.match(/^application\/x-www-form-urlencoded/)
      expect(call!.headers.get('accept')).to.equal('application/json')
      expect(call!.headers.has('authorization')).to.equal(false)
      expect(call!.init.credentials).to.equal('omit')
      expect(call!.init.signal).to.equal(controller.signal)
      expect(Object.fromEntries(call!.form)).to.deep.equal({
        grant_type: 'refresh_token',
        refresh_token: current.refreshToken,
        client_id: 'spa',
      })
    })
    it('sends scope and extra params, which cannot override the grant', async () => {
      const { fetch, run } = grant([ok()], {
        scope: 'api',
        extraParams: { resource: 'https://api.example.com', grant_type: 'password', client_id: 'evil', refresh_token: 'x' },
      })
      await run()
      const form = fetch.calls[0]!.form
      expect(form.get('scope')).to.equal('api')
      expect(form.get('resource')).to.equal('https://api.example.com')
      expect(form.getAll('grant_type')).to.deep.equal(['refresh_token'])
      expect(form.getAll('client_id')).to.deep.equal(['spa'])
      expect(form.getAll('refresh_token')).to.deep.equal([current.refreshToken])
    })
    it('throws refresh_unavailable without a refresh token and sends nothing', async () => {
      const { fetch, run } = grant([ok()])
      const { refreshToken: _, ...withoutRt } = current
      await expectError(run(withoutRt), 'refresh_unavailable', false)
      expect(fetch.calls).to.have.length(0)
    })
  })

  describe('200 responses', () => {
    it('maps a valid response to a TokenSet, expiry from receipt time', async () => {
      const idToken = jwt(idClaims())
      const { run } = grant([ok({ id_token: idToken, scope: 'openid' })])
      const before = Date.now()
      const tokens = await run()
      const after = Date.now()
      expect(tokens.accessToken).to.equal(newAt)
      expect(tokens.refreshToken).to.equal(newRt)
      expect(tokens.idToken).to.equal(idToken)
      expect(tokens.tokenType).to.equal('Bearer')
      expect(tokens.scope).to.equal('openid')
      expect(tokens.expiresAt).to.be.within(before + 3_600_000, after + 3_600_000)
    })
    it('F1: treats the access token as opaque ("abc", 2 segments, bad base64url, non-JSON payload)', async () => {
      for (const accessToken of ['abc', 'a.b', '!!!.@@@.###', 'eyJub3Q.bm90IGpzb24.x']) {
        const { run } = grant([json({ access_token: accessToken, token_type: 'Bearer', expires_in: 60 })])
        expect((await run()).accessToken).to.equal(accessToken)
      }
    })
    it('F1: accepts a 16 KB access token and rejects 16 KB + 1 and 1 MB', async () => {
      const { run } = grant([json({ access_token: 'a'.repeat(16_384), token_type: 'Bearer', expires_in: 60 })])
      expect((await run()).accessToken).to.have.length(16_384)
      for (const size of [16_385, 1_000_000]) {
        const bad = grant([json({ access_token: 'a'.repeat(size), token_type: 'Bearer', expires_in: 60 })])
        await expectError(bad.run(), 'invalid_token_response', true)
      }
    })
    it('F2: without expires_in uses defaultExpiresInMs (300 s by default) and warns token_lifetime_unknown', async () => {
      const warnings: SessionError[] = []
      const { run } = grant([json({ access_token: newAt, token_type: 'Bearer' })], { onWarning: (w) => warnings.push(w) })
      const before = Date.now()
      const tokens = await run()
      expect(tokens.expiresAt).to.be.within(before + 300_000, Date.now() + 300_000)
      expect(warnings.map((w) => w.code)).to.deep.equal(['token_lifetime_unknown'])
      const custom = grant([json({ access_token: newAt, token_type: 'Bearer' })], { defaultExpiresInMs: 60_000 })
      expect((await custom.run()).expiresAt).to.be.within(before + 60_000, Date.now() + 60_000)
    })
    it('F3: accepts expires_in "3600", 1.5 and one year', async () => {
      for (const [expiresIn, ms] of [['3600', 3_600_000], [1.5, 1_500], [31_536_000, 31_536_000_000]] as const) {
        const { run } = grant([json({ access_token: newAt, token_type: 'Bearer', expires_in: expiresIn })])
        const before = Date.now()
        expect((await run()).expiresAt).to.be.within(before + ms, Date.now() + ms)
      }
    })
    it('F3: rejects expires_in 0, -5, "NaN", "abc", 1e12, null, over a year, "", true, "-5"', async () => {
      for (const expiresIn of [0, -5, 'NaN', 'abc', 1e12, null, 31_536_001, '', true, '-5', '1e3', {}]) {
        const { run } = grant([json({ access_token: newAt, token_type: 'Bearer', expires_in: expiresIn })])
        await expectError(run(), 'invalid_token_response', true)
      }
      const nan = grant([json('{"access_token":"abcdefgh","token_type":"Bearer","expires_in":NaN}')])
      await expectError(nan.run(), 'invalid_token_response', true)
    })
    it('F4: rejects a missing, empty or non-string access_token', async () => {
      for (const accessToken of [undefined, '', 5, null, ['x'], { a: 1 }]) {
        const { run } = grant([json({ access_token: accessToken, token_type: 'Bearer', expires_in: 60 })])
        await expectError(run(), 'invalid_token_response', true)
      }
    })
    it('F5: token_type is case-insensitive Bearer; missing, "mac" or non-string is rejected', async () => {
      for (const type of ['bearer', 'BEARER', 'Bearer']) {
        const { run } = grant([json({ access_token: newAt, token_type: type, expires_in: 60 })])
        expect((await run()).tokenType).to.equal('Bearer')
      }
      for (const type of [undefined, 'mac', '', 5, 'Bearer ']) {
        const { run } = grant([json({ access_token: newAt, token_type: type, expires_in: 60 })])
        await expectError(run(), 'invalid_token_response', true)
      }
    })
    it('rejects token_type DPoP when no DPoP key was used', async () => {
      const { run } = grant([json({ access_token: newAt, token_type: 'DPoP', expires_in: 60 })])
      await expectError(run(), 'invalid_token_response', true)
    })
    it('F7/RF-10: keeps the current refresh and ID tokens when the response has none', async () => {
      const { run } = grant([json({ access_token: newAt, token_type: 'Bearer', expires_in: 60 })])
      const tokens = await run()
      expect(tokens.refreshToken).to.equal(current.refreshToken)
      expect(tokens.idToken).to.equal(current.idToken)
      expect(tokens.scope).to.equal(current.scope)
      const same = grant([json({ access_token: newAt, token_type: 'Bearer', expires_in: 60, refresh_token: current.refreshToken, refresh_token_expires_in: 5 })])
      expect((await same.run()).refreshToken).to.equal(current.refreshToken)
      const nulls = grant([json({ access_token: newAt, token_type: 'Bearer', expires_in: 60, refresh_token: null, id_token: null })])
      expect((await nulls.run()).refreshToken).to.equal(current.refreshToken)
    })
    it('rejects a non-string or empty refresh_token / id_token and a non-string scope', async () => {
      for (const extra of [{ refresh_token: 5 }, { refresh_token: '' }, { id_token: {} }, { id_token: '' }, { scope: 42 }]) {
        const { run } = grant([ok(extra)])
        await expectError(run(), 'invalid_token_response', true)
      }
    })
    it('F8: HTML or non-JSON 200 is invalid_token_response (retryable)', async () => {
      for (const body of ['<html><body>Captive portal</body></html>', '', 'null', '[]', '"token"', '{"access_token":']) {
        const { run } = grant([new Response(body, { status: 200, headers: { 'content-type': 'text/html' } })])
        await expectError(run(), 'invalid_token_response', true)
      }
    })
    it('F9: ignores unknown members; __proto__ keys do not pollute', async () => {
      const body = `{"access_token":"${newAt}","token_type":"Bearer","expires_in":60,"unknown":{"deep":[1,2]},` +
        `"__proto__":{"polluted":"yes","refresh_token":"evil-refresh-token"},"constructor":{"prototype":{"polluted":"yes"}}}`
      const { run } = grant([json(body)])
      const tokens = await run()
      expect(tokens.accessToken).to.equal(newAt)
      expect(tokens.refreshToken).to.equal(current.refreshToken)
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined)
      expect(Object.prototype).not.to.have.property('polluted')
      expect(Object.getPrototypeOf(tokens)).to.equal(Object.prototype)
    })
    it('F9: a polluted Object.prototype cannot supply a missing member', async () => {
      const proto = Object.prototype as Record<string, unknown>
      proto.refresh_token = 'polluted-refresh-token'
      try {
        const { run } = grant([json({ access_token: newAt, token_type: 'Bearer', expires_in: 60 })])
        expect((await run()).refreshToken).to.equal(current.refreshToken)
      } finally {
        delete proto.refresh_token
      }
    })
    it('F9: a body over 64 KB is invalid_token_response (by length and by Content-Length)', async () => {
      const big = grant([ok({ padding: 'x'.repeat(70_000) })])
      await expectError(big.run(), 'invalid_token_response', true)
      const declared = grant([new Response(JSON.stringify({ access_token: newAt, token_type: 'Bearer' }), { status: 200, headers: { 'content-length': '100000' } })])
      await expectError(declared.run(), 'invalid_token_response', true)
    })
    it('F10: exposes a narrower granted scope', async () => {
      const { run } = grant([ok({ scope: 'openid' })], { scope: 'openid api' })
      expect((await run()).scope).to.equal('openid')
      const requested = grant([json({ access_token: newAt, token_type: 'Bearer', expires_in: 60 })], { scope: 'api' })
      expect((await requested.run()).scope).to.equal('api')
    })
  })

  describe('error responses (RF-7, §1.8)', () => {
    const cases: [string, () => Response, string, boolean, string?][] = [
      ['F11 400 invalid_grant', () => json({ error: 'invalid_grant', error_description: 'grant request is invalid' }, 400), 'reauth_required', false, 'invalid_grant'],
      ['F13 400 invalid_client', () => json({ error: 'invalid_client' }, 400), 'configuration', false, 'invalid_client'],
      ['F13 401 invalid_client', () => json({ error: 'invalid_client' }, 401, { 'www-authenticate': 'Basic' }), 'configuration', false, 'invalid_client'],
      ['F13 400 unauthorized_client', () => json({ error: 'unauthorized_client' }, 400), 'configuration', false, 'unauthorized_client'],
      ['F13 400 unsupported_grant_type', () => json({ error: 'unsupported_grant_type' }, 400), 'configuration', false, 'unsupported_grant_type'],
      ['F14 400 invalid_request', () => json({ error: 'invalid_request' }, 400), 'oauth_error', false, 'invalid_request'],
      ['F14 400 invalid_scope', () => json({ error: 'invalid_scope' }, 400), 'oauth_error', false, 'invalid_scope'],
      ['F14 400 unknown error', () => json({ error: 'something_new' }, 400), 'oauth_error', false, 'something_new'],
      ['F15 400 empty body', () => new Response('', { status: 400 }), 'server_error', true],
      ['F15 400 HTML body', () => new Response('<html>Bad Request</html>', { status: 400, headers: { 'content-type': 'text/html' } }), 'server_error', true],
      ['F15 400 JSON without error', () => json({ message: 'nope' }, 400), 'server_error', true],
      ['F15 400 non-string error', () => json({ error: 42 }, 400), 'server_error', true],
      ['F15 403 non-JSON', () => new Response('Forbidden', { status: 403 }), 'server_error', true],
      // No OAuth error body: transient while the access token is valid; the session ends it once the token expired.
      ['F16 401 WWW-Authenticate, no body', () => new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer realm="x"' } }), 'server_error', true],
      ['F17 500', () => new Response('oops', { status: 500 }), 'server_error', true],
      ['F17 502', () => new Response('<html>Bad Gateway</html>', { status: 502 }), 'server_error', true],
      ['F17 503 without Retry-After', () => new Response(null, { status: 503 }), 'server_error', true],
      ['F17 504', () => new Response(null, { status: 504 }), 'server_error', true],
      ['F17 500 with an OAuth error body', () => json({ error: 'server_error' }, 500), 'server_error', true, 'server_error'],
      ['408', () => new Response(null, { status: 408 }), 'server_error', true],
      ['302 redirect', () => Response.redirect('https://elsewhere.example.com/login', 302), 'configuration', false],
    ]
    for (const [name, reply, code, retryable, oauthError] of cases) {
      it(`${name} -> ${code} (retryable ${retryable})`, async () => {
        const { run } = grant([reply])
        const error = await expectError(run(), code as SessionError['code'], retryable)
        expect(error.status).to.be.a('number')
        expect(error.oauthError).to.equal(oauthError)
      })
    }
    it('F18: 429 with Retry-After: 30 -> rate_limited with retryAfterMs 30000', async () => {
      const { run } = grant([json({ error: 'slow_down' }, 429, { 'retry-after': '30' })])
      const error = await expectError(run(), 'rate_limited', true)
      expect(error.retryAfterMs).to.equal(30_000)
      expect(error.status).to.equal(429)
    })
    it('F18: Retry-After as an HTTP date, on 429 and 503', async () => {
      for (const status of [429, 503]) {
        const date = new Date(Date.now() + 60_000).toUTCString()
        const { run } = grant([new Response(null, { status, headers: { 'retry-after': date } })])
        const error = await expectError(run(), 'rate_limited', true)
        expect(error.retryAfterMs).to.be.within(58_000, 60_000)
      }
      const past = grant([new Response(null, { status: 429, headers: { 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' } })])
      expect((await expectError(past.run(), 'rate_limited', true)).retryAfterMs).to.equal(0)
    })
    it('F18: 429 without (or with an unreadable) Retry-After is still rate_limited', async () => {
      for (const headers of [{}, { 'retry-after': 'soon' }]) {
        const { run } = grant([new Response(null, { status: 429, headers })])
        expect((await expectError(run(), 'rate_limited', true)).retryAfterMs).to.equal(undefined)
      }
    })
    it('keeps error_description only in description, capped at 256 chars', async () => {
      const { run } = grant([json({ error: 'invalid_grant', error_description: 'd'.repeat(1000) }, 400)])
      const error = await expectError(run(), 'reauth_required', false)
      expect(error.description).to.equal('d'.repeat(256))
      expect(error.message).not.to.include('ddd')
    })
    it('drops an error or description that echoes a token, and a malformed error value', async () => {
      const echo = grant([json({ error: 'invalid_grant', error_description: `bad token ${current.refreshToken}` }, 400)])
      const e1 = await expectError(echo.run(), 'reauth_required', false)
      expect(e1.description).to.equal(undefined)
      const inError = grant([json({ error: `x${current.refreshToken!.slice(0, 40)}` }, 400)])
      const e2 = await expectError(inError.run(), 'oauth_error', false)
      expect(e2.oauthError).to.equal(undefined)
      const quoted = grant([json({ error: 'bad"quote' }, 400)])
      expect((await expectError(quoted.run(), 'server_error', true)).oauthError).to.equal(undefined)
    })
  })

  describe('transport failures', () => {
    it('F20/F23: fetch TypeError -> network with a CORS/offline hint, cause scrubbed of tokens', async () => {
      const { run } = grant([new TypeError('Failed to fetch')])
      const error = await expectError(run(), 'network', true)
      expect(error.message).to.match(/offline/).and.match(/CORS/)
      expect(error.cause).to.be.instanceOf(TypeError)
      const leaky = grant([new TypeError(`NetworkError when posting refresh_token=${current.refreshToken}`)])
      const scrubbed = await expectError(leaky.run(), 'network', true)
      expect(scrubbed.cause).to.be.instanceOf(Error)
    })
    it('F21: an aborted request -> timeout (retryable)', async () => {
      const fetch = (async (_url: RequestInfo | URL, init?: RequestInit) =>
        new Promise<Response>((_, reject) => {
          init!.signal!.addEventListener('abort', () => reject(new DOMException('The operation was aborted.', 'AbortError')))
        })) as typeof globalThis.fetch
      const refresh = refreshTokenGrant({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'spa', fetch })
      const controller = new AbortController()
      const pending = refresh(current, { signal: controller.signal })
      controller.abort(new Error('refresh timed out'))
      await expectError(pending, 'timeout', true)
    })
    it('a TimeoutError (AbortSignal.timeout) -> timeout', async () => {
      const { run } = grant([new DOMException('signal timed out', 'TimeoutError')])
      await expectError(run(), 'timeout', true)
    })
    it('a body that fails while reading -> network', async () => {
      const stream = new ReadableStream({ pull: (c) => c.error(new TypeError('connection reset')) })
      const { run } = grant([() => new Response(stream, { status: 200 })])
      await expectError(run(), 'network', true)
    })
    it('uses the global fetch when none is given', async () => {
      const original = globalThis.fetch
      const stub = stubFetch(ok())
      globalThis.fetch = stub
      try {
        const refresh = refreshTokenGrant({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'spa' })
        expect((await refresh(current, { signal: new AbortController().signal })).accessToken).to.equal(newAt)
        expect(stub.calls).to.have.length(1)
      } finally {
        globalThis.fetch = original
      }
    })
  })

  it('LEAK-CHECK: no error of a full fault sweep carries a 12-char slice of a token', async () => {
    const replies: (() => Response | Error)[] = [
      () => json({ error: 'invalid_grant', error_description: `RT ${current.refreshToken} AT ${current.accessToken}` }, 400),
      () => json({ error: 'invalid_client', error_description: current.idToken }, 401),
      () => json({ access_token: newAt, token_type: 'mac', expires_in: 60, refresh_token: newRt }),
      () => json({ access_token: newAt, token_type: 'Bearer', expires_in: -1, refresh_token: newRt }),
      () => new Response(`<html>${current.refreshToken}</html>`, { status: 200 }),
      () => new Response(`<html>${current.refreshToken}</html>`, { status: 500 }),
      () => new Response(`${current.refreshToken}`, { status: 429, headers: { 'retry-after': '5' } }),
      () => new TypeError(`Failed to fetch ${current.refreshToken} ${current.accessToken}`),
      () => new Error(`boom ${current.refreshToken}`),
    ]
    for (const reply of replies) {
      const r = reply()
      const { run } = grant([r])
      let error: unknown
      try {
        await run()
      } catch (e) {
        error = e
      }
      expect(error).to.be.instanceOf(SessionError)
      expectNoLeak(error, [newAt, newRt])
    }
  })
})
