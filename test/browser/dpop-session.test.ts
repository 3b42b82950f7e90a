import '../support/setup'
import { expect } from 'chai'
import { openDB } from 'idb'
import { createDPoP } from '../../src/oauth/index'
import { makeTokens, TAB_LOCAL, testSessions, uniqueName, until } from '../support/util'

const b64uJson = (part: string) => JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')))
const header = (jwt: string) => b64uJson(jwt.split('.')[0]!)
const payload = (jwt: string) => b64uJson(jwt.split('.')[1]!)

async function rawKeyRecord(name: string): Promise<unknown> {
  const db = await openDB(`sessionkeeper:${name}`)
  try {
    return await db.get('kv', 'dpop')
  } finally {
    db.close()
  }
}

describe('DPoP wired into a session (RFC 9449)', () => {
  const { make, destroyAll } = testSessions()
  const realFetch = globalThis.fetch
  let sent: Request[] = []
  beforeEach(() => {
    sent = []
    globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
      sent.push(new Request(input, init))
      return new Response('{}', { status: 200 })
    }
  })
  afterEach(async () => {
    globalThis.fetch = realFetch
    await destroyAll()
  })

  it('signs every request with one non-extractable key kept in the SDK database, shared by tabs, deleted at sign-out', async () => {
    const name = uniqueName('dpop')
    const dpopA = createDPoP({ name })
    const dpopB = createDPoP({ name }) // another tab
    const a = make({ name, fetch: { authorizer: dpopA } })
    await a.ready()
    await a.login(makeTokens(Date.now(), { tokenType: 'DPoP' }))

    await a.fetch('/api/one?x=1#frag')
    await a.fetch('/api/two', { method: 'POST', body: 'x' })
    const proofs = sent.map((r) => r.headers.get('dpop') as string)
    expect(sent.map((r) => r.headers.get('authorization')?.split(' ')[0])).to.deep.equal(['DPoP', 'DPoP'])
    expect(header(proofs[0]!)).to.include({ typ: 'dpop+jwt', alg: 'ES256' })
    expect(header(proofs[0]!).jwk).to.not.have.property('d')
    expect(payload(proofs[0]!)).to.include({ htm: 'GET', htu: `${location.origin}/api/one` })
    expect(payload(proofs[1]!).htm).to.equal('POST')
    expect(payload(proofs[0]!).jti).to.not.equal(payload(proofs[1]!).jti)
    expect(payload(proofs[0]!).ath).to.be.a('string')

    const stored = (await rawKeyRecord(name)) as CryptoKeyPair
    expect(stored.privateKey).to.be.instanceOf(CryptoKey)
    expect(stored.privateKey.extractable).to.equal(false)
    const exported = await crypto.subtle.exportKey('jwk', stored.privateKey).then(() => 'exported', (e: Error) => e.name)
    expect(exported).to.equal('InvalidAccessError')

    const proofB = await dpopB.proof({ method: 'GET', url: 'https://rs.example/x' })
    expect(header(proofB).jwk).to.deep.equal(header(proofs[0]!).jwk)

    await a.logout()
    expect(await rawKeyRecord(name)).to.equal(undefined)
    // A new sign-in gets a new key, never the old one.
    await a.login(makeTokens(Date.now(), { tokenType: 'DPoP' }))
    await a.fetch('/api/three')
    expect(header(sent[2]!.headers.get('dpop')!).jwk).to.not.deep.equal(header(proofs[0]!).jwk)
  })

  it("persist: 'memory': the key pair createDPoP({ name }) keeps in the database is deleted at sign-out", async () => {
    const name = uniqueName('dpopmem')
    const dpop = createDPoP({ name })
    const a = make({ name, ...TAB_LOCAL, fetch: { authorizer: dpop } })
    await a.ready()
    await a.login(makeTokens(Date.now(), { tokenType: 'DPoP' }))
    await a.fetch('/api/one')
    expect(((await rawKeyRecord(name)) as CryptoKeyPair).privateKey).to.be.instanceOf(CryptoKey)
    await a.logout()
    await until(async () => (await rawKeyRecord(name)) === undefined, 2000, 'key deleted')
    // Signing out without DPoP never creates the database in memory mode.
    const other = uniqueName('nodb')
    const b = make({ name: other, ...TAB_LOCAL })
    await b.login(makeTokens(Date.now()))
    await b.logout()
    await new Promise((r) => setTimeout(r, 50))
    expect((await indexedDB.databases()).some((d) => d.name === `sessionkeeper:${other}`)).to.equal(false)
  })

  it('tabs bootstrapping at once end up with exactly one key', async () => {
    const name = uniqueName('dpop5')
    const handles = Array.from({ length: 5 }, () => createDPoP({ name }))
    const proofs = await Promise.all(handles.map((h) => h.proof({ method: 'POST', url: 'https://as.example/token' })))
    const keys = new Set(proofs.map((p) => JSON.stringify(header(p).jwk)))
    expect(keys.size).to.equal(1)
    const ids = new Set(proofs.map((p) => payload(p).jti))
    expect(ids.size).to.equal(5)
  })
})
