import '../support/setup'
import { expect } from 'chai'
import { revokeTokens, type RevokeTokensOptions } from '../../src/oauth/index'
import { SessionError } from '../../src/errors'
import type { TokenSet } from '../../src/types'
import { expectError, expectNoLeak, json, stubFetch, token, type Reply } from './helpers'

const ENDPOINT = 'https://as.example.com/revoke'

describe('oauth: revokeTokens (RFC 7009)', () => {
  let tokens: TokenSet
  beforeEach(() => {
    tokens = { accessToken: token('at'), refreshToken: token('rt'), expiresAt: 1 }
  })
  const setup = (...replies: Reply[]) => {
    const fetch = stubFetch(...replies)
    return { fetch, revoke: revokeTokens({ revocationEndpoint: ENDPOINT, clientId: 'spa', fetch }) }
  }

  it('validates options', () => {
    expect(() => revokeTokens({ revocationEndpoint: ENDPOINT } as RevokeTokensOptions)).to.throw(TypeError)
    expect(() => revokeTokens({ revocationEndpoint: 'http://as.example.com/revoke', clientId: 'spa' })).to.throw(SessionError)
  })
  it('revokes the refresh token, then the access token, as a public client', async () => {
    const { fetch, revoke } = setup(new Response(null, { status: 200 }))
    await revoke(tokens)
    expect(fetch.calls.map((c) => Object.fromEntries(c.form))).to.deep.equal([
      { token: tokens.refreshToken, token_type_hint: 'refresh_token', client_id: 'spa' },
      { token: tokens.accessToken, token_type_hint: 'access_token', client_id: 'spa' },
    ])
    for (const call of fetch.calls) {
      expect(call.url).to.equal(ENDPOINT)
      expect(call.init.method).to.equal('POST')
      expect(call.init.credentials).to.equal('omit')
      expect(call.headers.get('content-type')).to.match(/^application\/x-www-form-urlencoded/)
    }
  })
  it('skips a missing refresh token', async () => {
    const { fetch, revoke } = setup(new Response(null, { status: 200 }))
    const { refreshToken: _, ...accessOnly } = tokens
    await revoke(accessOnly)
    expect(fetch.calls).to.have.length(1)
  })
  it('tries both, then rejects revocation_failed with the first classified error as cause', async () => {
    const { fetch, revoke } = setup(json({ error: 'unsupported_token_type', error_description: tokens.refreshToken }, 400), new Response(null, { status: 200 }))
    const error = await expectError(revoke(tokens), 'revocation_failed', false)
    expect(fetch.calls).to.have.length(2)
    expect(error.status).to.equal(400)
    expect(error.oauthError).to.equal('unsupported_token_type')
    expect((error.cause as SessionError).code).to.equal('oauth_error')
    const offline = setup(new TypeError(`Failed to fetch ${tokens.refreshToken}`))
    const e2 = await expectError(offline.revoke(tokens), 'revocation_failed', false)
    expect((e2.cause as SessionError).code).to.equal('network')
    expectNoLeak(e2)
  })
})
