import '../support/setup'
import { expect } from 'chai'
import { createDPoP, createSignIn, refreshTokenGrant, type DPoPKeyStorage } from '../../src/oauth/index'
import { SessionError } from '../../src/errors'
import type { TokenSet } from '../../src/types'
import { expectError, expectNoLeak, json, stubFetch, token, type Reply } from './helpers'

const TOKEN_ENDPOINT = 'https://as.example.com/token'

function decode(part: string): Record<string, any> {
  const binary = atob(part.replace(/-/g, '+').replace(/_/g, '/'))
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))))
}
function parse(proof: string) {
  const [h, p, s] = proof.split('.')
  return { header: decode(h!), payload: decode(p!), input: `${h}.${p}`, signature: s! }
}
async function verify(proof: string): Promise<boolean> {
  const { header, input, signature } = parse(proof)
  const key = await crypto.subtle.importKey('jwk', header.jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify'])
  const bytes = Uint8Array.from(atob(signature.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0))
  return crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, bytes, new TextEncoder().encode(input))
}
async function s256(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))
  return btoa(String.fromCharCode(...digest)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}
/** A recording key storage with add semantics. */
function keyStorage(initial?: CryptoKeyPair): DPoPKeyStorage & { saved: CryptoKeyPair[]; pair: CryptoKeyPair | undefined } {
  const store = {
    saved: [] as CryptoKeyPair[],
    pair: initial,
    load: async () => store.pair,
    save: async (pair: CryptoKeyPair) => {
      store.saved.push(pair)
      return (store.pair ??= pair)
    },
  }
  return store
}

function txStorage() {
  const items = new Map<string, string>()
  return { getItem: (k: string) => items.get(k) ?? null, setItem: (k: string, v: string) => void items.set(k, v), removeItem: (k: string) => void items.delete(k) }
}

describe('oauth: DPoP', () => {
  let current: TokenSet
  let newAt: string

  beforeEach(() => {
    current = { accessToken: token('at'), refreshToken: token('rt'), expiresAt: 1, tokenType: 'DPoP' }
    newAt = token('at2')
  })
  const dpopOk = (headers: Record<string, string> = {}) => json({ access_token: newAt, token_type: 'DPoP', expires_in: 60 }, 200, headers)

  /** A grant whose key already exists (as after a DPoP sign-in). */
  async function setup(replies: Reply[], options: { requireDPoP?: boolean } = {}) {
    const storage = keyStorage()
    const dpop = createDPoP({ storage })
    await dpop.proof({ method: 'GET', url: 'https://rs.example.com/' })
    const fetch = stubFetch(...replies)
    const refresh = refreshTokenGrant({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'spa', fetch, dpop, ...options })
    const run = () => refresh(current, { signal: new AbortController().signal })
    const proofs = () => fetch.calls.map((c) => c.headers.get('dpop')!)
    return { storage, dpop, fetch, run, proofs }
  }

  describe('proofs (DP-2)', () => {
    it('has typ dpop+jwt, ES256, a public jwk only, jti, htm, htu without query/fragment, iat; verifies with the jwk', async () => {
      const dpop = createDPoP()
      const before = Math.floor(Date.now() / 1000)
      const proof = await dpop.proof({ method: 'POST', url: 'https://as.example.com/token?x=1#frag' })
      const { header, payload } = parse(proof)
      expect(header.typ).to.equal('dpop+jwt')
      expect(header.alg).to.equal('ES256')
      expect(Object.keys(header.jwk).sort()).to.deep.equal(['crv', 'kty', 'x', 'y'])
      expect(header.jwk).to.include({ kty: 'EC', crv: 'P-256' })
      expect(header.jwk).not.to.have.property('d')
      expect(payload.htm).to.equal('POST')
      expect(payload.htu).to.equal('https://as.example.com/token')
      expect(payload.iat).to.be.within(before, Math.floor(Date.now() / 1000))
      expect(atob(payload.jti.replace(/-/g, '+').replace(/_/g, '/')).length).to.be.at.least(12)
      expect(payload).not.to.have.property('nonce')
      expect(payload).not.to.have.property('ath')
      expect(await verify(proof)).to.equal(true)
      const tampered = `${proof.slice(0, proof.lastIndexOf('.'))}.${parse(await dpop.proof({ method: 'GET', url: 'https://x.example.com/' })).signature}`
      expect(await verify(tampered)).to.equal(false)
    })
    it('jti is unique and the key is the same across proofs', async () => {
      const dpop = createDPoP()
      const proofs = await Promise.all(Array.from({ length: 20 }, () => dpop.proof({ method: 'GET', url: 'https://rs.example.com/a' })))
      expect(new Set(proofs.map((p) => parse(p).payload.jti)).size).to.equal(20)
      expect(new Set(proofs.map((p) => JSON.stringify(parse(p).header.jwk))).size).to.equal(1)
    })
    it('headers(): Authorization DPoP <at> and a proof with ath = base64url(SHA-256(at))', async () => {
      const dpop = createDPoP()
      const h = await dpop.headers({ method: 'GET', url: 'https://rs.example.com/data?page=2', accessToken: current.accessToken })
      expect(h.Authorization).to.equal(`DPoP ${current.accessToken}`)
      const { payload } = parse(h.DPoP)
      expect(payload.ath).to.equal(await s256(current.accessToken))
      expect(payload.htu).to.equal('https://rs.example.com/data')
      expect(payload.htm).to.equal('GET')
      expect(await verify(h.DPoP)).to.equal(true)
    })
  })

  describe('key (DP-1, DP-5, DP-6)', () => {
    it('is a non-extractable P-256 key: exporting the private key rejects', async () => {
      const storage = keyStorage()
      await createDPoP({ storage }).proof({ method: 'GET', url: 'https://rs.example.com/' })
      const pair = storage.pair!
      expect(pair.privateKey.extractable).to.equal(false)
      expect(pair.privateKey.algorithm).to.deep.include({ name: 'ECDSA', namedCurve: 'P-256' })
      for (const format of ['jwk', 'pkcs8'] as const) {
        let rejected = false
        try {
          await crypto.subtle.exportKey(format, pair.privateKey)
        } catch {
          rejected = true
        }
        expect(rejected, format).to.equal(true)
      }
    })
    it('creates one key for concurrent proofs and keeps the pair another tab stored first', async () => {
      const storage = keyStorage()
      const dpop = createDPoP({ storage })
      await Promise.all([1, 2, 3].map(() => dpop.proof({ method: 'GET', url: 'https://rs.example.com/' })))
      expect(storage.saved).to.have.length(1)
      const other = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])
      const racing = keyStorage()
      racing.load = async () => undefined // this tab read before the other tab's add
      racing.pair = other
      const proof = await createDPoP({ storage: racing }).proof({ method: 'GET', url: 'https://rs.example.com/' })
      const expected = await crypto.subtle.exportKey('jwk', other.publicKey)
      expect(parse(proof).header.jwk.x).to.equal(expected.x)
    })
    it('F43: refresh with the key gone -> reauth_required, no request and no new key', async () => {
      const storage = keyStorage()
      const fetch = stubFetch(dpopOk())
      const refresh = refreshTokenGrant({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'spa', fetch, dpop: createDPoP({ storage }) })
      await expectError(refresh(current, { signal: new AbortController().signal }), 'reauth_required', false)
      expect(fetch.calls).to.have.length(0)
      expect(storage.saved).to.have.length(0)
    })
    it('clear() forgets the in-memory key and the nonces', async () => {
      const dpop = createDPoP()
      const a = parse(await dpop.proof({ method: 'GET', url: 'https://rs.example.com/' })).header.jwk
      dpop.clear()
      const b = parse(await dpop.proof({ method: 'GET', url: 'https://rs.example.com/' })).header.jwk
      expect(a.x).not.to.equal(b.x)
    })
    it('rejects a grant with a dpop that does not come from createDPoP', async () => {
      const fake = { proof: async () => 'x' } as unknown as ReturnType<typeof createDPoP>
      const refresh = refreshTokenGrant({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'spa', fetch: stubFetch(dpopOk()), dpop: fake })
      let error: unknown
      try {
        await refresh(current, { signal: new AbortController().signal })
      } catch (e) {
        error = e
      }
      expect(error).to.be.instanceOf(TypeError)
    })
  })

  describe('token endpoint', () => {
    it('sends a proof for POST <token endpoint> and accepts token_type DPoP (any case)', async () => {
      const { run, proofs, fetch } = await setup([json({ access_token: newAt, token_type: 'dpop', expires_in: 60 })])
      const tokens = await run()
      expect(tokens.tokenType).to.equal('DPoP')
      expect(tokens.refreshToken).to.equal(current.refreshToken)
      const [proof] = proofs()
      expect(parse(proof!).payload).to.include({ htm: 'POST', htu: TOKEN_ENDPOINT })
      expect(parse(proof!).payload).not.to.have.property('ath')
      expect(await verify(proof!)).to.equal(true)
      expect(fetch.calls[0]!.form.get('grant_type')).to.equal('refresh_token')
    })
    it('F19/DP-3: use_dpop_nonce -> exactly one retry with a fresh proof carrying the nonce', async () => {
      const { run, proofs, fetch } = await setup([
        json({ error: 'use_dpop_nonce', error_description: 'nonce required' }, 400, { 'dpop-nonce': 'n-1' }),
        dpopOk(),
      ])
      expect((await run()).accessToken).to.equal(newAt)
      expect(fetch.calls).to.have.length(2)
      const [first, second] = proofs().map((p) => parse(p).payload)
      expect(first!.jti).not.to.equal(second!.jti)
      expect(first).not.to.have.property('nonce')
      expect(second!.nonce).to.equal('n-1')
    })
    it('F19: a second use_dpop_nonce stops after 2 requests (no loop)', async () => {
      const { run, fetch } = await setup([json({ error: 'use_dpop_nonce' }, 400, { 'dpop-nonce': 'n-1' }), json({ error: 'use_dpop_nonce' }, 400, { 'dpop-nonce': 'n-2' })])
      const error = await expectError(run(), 'oauth_error', false)
      expect(error.oauthError).to.equal('use_dpop_nonce')
      expect(fetch.calls).to.have.length(2)
    })
    it('F19: use_dpop_nonce with an unreadable (or invalid) DPoP-Nonce -> dpop_nonce_unavailable after 1 request', async () => {
      for (const headers of [{}, { 'dpop-nonce': 'bad nonce with spaces' }]) {
        const { run, fetch } = await setup([json({ error: 'use_dpop_nonce' }, 400, headers)])
        await expectError(run(), 'dpop_nonce_unavailable', false)
        expect(fetch.calls).to.have.length(1)
      }
    })
    it('remembers a nonce from a successful answer for the next proof to that origin', async () => {
      const { run, proofs } = await setup([dpopOk({ 'dpop-nonce': 'n-9' })])
      await run()
      await run()
      expect(parse(proofs()[1]!).payload.nonce).to.equal('n-9')
    })
    it('F6/DP-4: a Bearer answer -> dpop_downgrade (unless requireDPoP: false)', async () => {
      const strict = await setup([json({ access_token: newAt, token_type: 'Bearer', expires_in: 60 })])
      await expectError(strict.run(), 'dpop_downgrade', false)
      const lax = await setup([json({ access_token: newAt, token_type: 'Bearer', expires_in: 60 })], { requireDPoP: false })
      expect((await lax.run()).tokenType).to.equal('Bearer')
    })
    it('sign-in: the code exchange carries a proof and creates the key', async () => {
      const storage = keyStorage()
      const dpop = createDPoP({ storage })
      const fetch = stubFetch(json({ access_token: newAt, token_type: 'DPoP', expires_in: 60 }))
      const signIn = createSignIn({
        clientId: 'spa',
        redirectUri: 'https://app.example.com/cb',
        scope: 'api',
        authorizationEndpoint: 'https://as.example.com/auth',
        tokenEndpoint: TOKEN_ENDPOINT,
        fetch,
        dpop,
        storage: txStorage(),
      })
      const state = new URL(await signIn.authorizationUrl()).searchParams.get('state')!
      const tokens = await signIn.handleCallback(`https://app.example.com/cb?code=c&state=${state}`)
      expect(tokens.tokenType).to.equal('DPoP')
      expect(storage.saved).to.have.length(1)
      expect(parse(fetch.calls[0]!.headers.get('dpop')!).payload).to.include({ htm: 'POST', htu: TOKEN_ENDPOINT })
    })
  })

  describe('resource requests (session.fetch authorizer)', () => {
    it('authorize(): DPoP scheme and a proof with ath for DPoP tokens, Bearer otherwise', async () => {
      const dpop = createDPoP()
      const request = new Request('https://rs.example.com/items?x=1', { method: 'PUT', headers: { 'x-app': '1' }, body: 'b' })
      const authorized = await dpop.authorize(request, current)
      expect(authorized.headers.get('authorization')).to.equal(`DPoP ${current.accessToken}`)
      expect(authorized.headers.get('x-app')).to.equal('1')
      expect(await authorized.text()).to.equal('b')
      const { payload } = parse(authorized.headers.get('dpop')!)
      expect(payload).to.include({ htm: 'PUT', htu: 'https://rs.example.com/items', ath: await s256(current.accessToken) })
      const bearer = await dpop.authorize(new Request('https://rs.example.com/'), { ...current, tokenType: 'Bearer' })
      expect(bearer.headers.get('authorization')).to.equal(`Bearer ${current.accessToken}`)
      expect(bearer.headers.has('dpop')).to.equal(false)
    })
    it('retry(): a 401 use_dpop_nonce challenge with a new nonce -> true once; the next proof carries it', async () => {
      const dpop = createDPoP()
      const request = new Request('https://rs.example.com/items')
      const challenge = () =>
        new Response(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"', 'dpop-nonce': 'rs-1' } })
      expect(dpop.retry(challenge(), request)).to.equal(true)
      expect(dpop.retry(challenge(), request)).to.equal(false) // same nonce again: no second retry
      const retried = await dpop.authorize(new Request('https://rs.example.com/items'), current)
      expect(parse(retried.headers.get('dpop')!).payload.nonce).to.equal('rs-1')
      expect(dpop.retry(new Response('ok'), request)).to.equal(false)
      expect(dpop.retry(new Response(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_token"' } }), request)).to.equal(false)
      expect(dpop.retry(new Response(null, { status: 401 }), request)).to.equal(false)
    })
    it('retry(): a readable challenge without a readable nonce -> dpop_nonce_unavailable', async () => {
      const dpop = createDPoP()
      let error: unknown
      try {
        dpop.retry(new Response(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"' } }), new Request('https://rs.example.com/'))
      } catch (e) {
        error = e
      }
      expect((error as SessionError).code).to.equal('dpop_nonce_unavailable')
    })
  })

  it('LEAK-CHECK: DPoP errors carry no token or proof slice', async () => {
    const { run, proofs } = await setup([json({ error: 'use_dpop_nonce', error_description: current.refreshToken }, 400)])
    const error = await expectError(run(), 'dpop_nonce_unavailable', false)
    expectNoLeak(error, proofs())
    const downgrade = await setup([json({ access_token: newAt, token_type: 'Bearer', expires_in: 60 })])
    expectNoLeak(await expectError(downgrade.run(), 'dpop_downgrade', false), [...downgrade.proofs(), newAt])
  })
})
