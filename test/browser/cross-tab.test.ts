import '../support/setup'
import { expect } from 'chai'
import type { TokenSet } from '../../src/types'
import { createManualClock } from '../support/manual-clock'
import { makeTokens, nextEvent, testSessions, uniqueName, until } from '../support/util'

// Two sessions with the same name in one page share IndexedDB, the channel and the Web Locks, exactly
// like two tabs of the app. (Whole-browser multi-tab runs live in test/e2e.)

describe('cross-tab', () => {
  let name: string
  const { make: tab, destroyAll } = testSessions(() => ({ name }))
  beforeEach(() => {
    name = uniqueName('xt')
  })
  afterEach(destroyAll)

  it('login in one tab signs in the others; logout signs them all out with the reason', async () => {
    const a = tab()
    const b = tab()
    const c = tab()
    await Promise.all([a.ready(), b.ready(), c.ready()])
    const tokens = makeTokens(Date.now())
    const bLogin = nextEvent(b, 'login')
    await a.login(tokens)
    expect(await bLogin).to.deep.equal({ remote: true, restored: false })
    await until(() => c.getSnapshot().status === 'authenticated', 2000, 'c signed in')
    expect(await c.getAccessToken()).to.equal(tokens.accessToken)
    const bOut = nextEvent(b, 'logout')
    const cOut = nextEvent(c, 'logout')
    await a.logout()
    expect(await bOut).to.deep.equal({ reason: 'user', remote: true })
    expect(await cOut).to.deep.equal({ reason: 'user', remote: true })
  })

  it('refresh happens once across tabs; the others adopt the stored result', async () => {
    let calls = 0
    const refresh = async (current: TokenSet): Promise<TokenSet> => {
      calls++
      await new Promise((r) => setTimeout(r, 30))
      return { accessToken: `AT-${calls}-from-${current.refreshToken?.slice(0, 6)}-zzzzzzzz`, refreshToken: `RT-rotated-${calls}-zzzzzzzzzzzz`, expiresAt: Date.now() + 600_000 }
    }
    const clock = createManualClock(Date.now())
    const a = tab({ refresh, clock })
    const b = tab({ refresh, clock })
    const c = tab({ refresh, clock })
    await Promise.all([a.ready(), b.ready(), c.ready()])
    await a.login(makeTokens(clock.now(), { expiresAt: clock.now() + 600_000 }))
    await until(() => b.getSnapshot().status === 'authenticated' && c.getSnapshot().status === 'authenticated', 2000, 'all signed in')
    clock.setWallClock(clock.now() + 590_000) // inside the refresh lead in every tab (no timer has fired)
    // All three ask at once for a token that is inside the refresh lead.
    const results = await Promise.all([a, b, c].flatMap((s) => [s.getAccessToken(), s.getAccessToken()]))
    expect(calls).to.equal(1)
    expect(new Set(results).size).to.equal(1)
    expect(results[0]).to.match(/^AT-1-/)
    // Every tab holds the new set, and the refresh token behind it is the rotated one: the next refresh,
    // from another tab, presents it (nobody re-sends the old one). The snapshot never shows it.
    for (const s of [a, b, c]) {
      await until(() => (s.getSnapshot() as { tokens?: TokenSet }).tokens?.accessToken === results[0], 2000, 'adopted')
      expect((s.getSnapshot() as { tokens?: TokenSet }).tokens).not.to.have.property('refreshToken')
    }
    expect((await c.refresh()).accessToken).to.match(/^AT-2-from-RT-rot-/)
  })

  it('a tab whose in-memory refresh token is stale adopts the stored one instead of sending it', async () => {
    const seen: string[] = []
    const refresh = async (current: TokenSet): Promise<TokenSet> => {
      seen.push(current.refreshToken ?? '')
      return { accessToken: `AT-r${seen.length}-zzzzzzzzzzzzzz`, refreshToken: `RT-r${seen.length}-zzzzzzzzzzzzzz`, expiresAt: Date.now() + 600_000 }
    }
    const a = tab({ refresh })
    const b = tab({ refresh, sync: false }) // b misses every message: memory goes stale
    await Promise.all([a.ready(), b.ready()])
    const tokens = makeTokens(Date.now())
    await a.login(tokens)
    await b.refresh().catch(() => {}) // b has no session in memory yet (no messages): nothing sent
    expect(seen).to.deep.equal([])
    // b picks the session up from storage on its next re-read, like a tab waking up.
    document.dispatchEvent(new Event('visibilitychange'))
    await until(() => b.getSnapshot().status === 'authenticated', 2000, 'b restored')
    await a.refresh()
    expect(seen).to.deep.equal([tokens.refreshToken])
    const bTokens = await b.refresh() // forced: b takes the lock, re-reads, sees a newer token set
    expect(seen).to.deep.equal([tokens.refreshToken]) // the rotated-away RT was never re-sent
    expect(bTokens.accessToken).to.equal('AT-r1-zzzzzzzzzzzzzz')
    expect(bTokens, 'refresh tokens never leave the SDK').not.to.have.property('refreshToken')
  })

  it('forged, malformed and flooding messages change nothing', async () => {
    const a = tab()
    await a.ready()
    const tokens = makeTokens(Date.now())
    await a.login(tokens)
    const before = a.getSnapshot()
    const channel = new BroadcastChannel(`sessionkeeper:${name}`)
    const events: string[] = []
    for (const type of ['login', 'logout', 'refresh', 'warning'] as const) a.on(type, () => events.push(type))
    try {
      channel.postMessage({ v: 1, type: 'login', from: 'evil', epoch: 'e', tokens: { accessToken: 'EVIL-TOKEN', expiresAt: Date.now() + 1e6 } })
      channel.postMessage(JSON.parse('{"v":1,"type":"refresh","from":"x","epoch":null,"__proto__":{"polluted":true}}'))
      channel.postMessage('x'.repeat(1024 * 1024))
      channel.postMessage({ v: 2, type: 'logout', from: 'x', epoch: null })
      channel.postMessage({ v: 1, type: 'logout', from: 'x', epoch: null, reason: 'hacked' })
      channel.postMessage(null)
      for (let i = 0; i < 1000; i++) channel.postMessage({ v: 1, type: 'refresh', from: `f${i}`, epoch: null })
      await until(async () => {
        // The storm is coalesced into a handful of re-reads; wait until the channel has drained.
        await new Promise((r) => setTimeout(r, 50))
        return true
      })
    } finally {
      channel.close()
    }
    expect(a.getSnapshot()).to.equal(before)
    expect(events).to.deep.equal([])
    expect(await a.getAccessToken()).to.equal(tokens.accessToken)
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined)
  })

  it('sessions with different names never interfere', async () => {
    const a = tab()
    name = uniqueName('other')
    const b = tab()
    await Promise.all([a.ready(), b.ready()])
    await a.login(makeTokens(Date.now()))
    await b.login(makeTokens(Date.now()))
    await a.logout()
    expect(b.getSnapshot().status).to.equal('authenticated')
  })

  describe('idle, shared by every tab', () => {
    const idle = { timeoutMs: 1_500, warningMs: 700, activityEndsWarning: false }

    it('activity in one tab keeps the others signed in', async () => {
      const slow = { timeoutMs: 2_500, warningMs: 1_000 }
      const a = tab({ idle: slow })
      const b = tab({ idle: slow })
      await Promise.all([a.ready(), b.ready()])
      await a.login(makeTokens(Date.now()))
      await until(() => b.getSnapshot().status === 'authenticated', 2000, 'b in')
      const logouts: string[] = []
      a.on('logout', (e) => logouts.push(`a:${e.reason}`))
      b.on('logout', (e) => logouts.push(`b:${e.reason}`))
      // 4 s of activity in tab a only (touch() stands in for user input), spaced above the 1 s throttle.
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 1_010))
        a.touch()
      }
      expect(logouts).to.deep.equal([])
      expect(b.getSnapshot().status).to.equal('authenticated')
    })

    it('both tabs warn together, extend() in one clears both, then both sign out together', async () => {
      const a = tab({ idle })
      const b = tab({ idle })
      await Promise.all([a.ready(), b.ready()])
      await a.login(makeTokens(Date.now()))
      await until(() => b.getSnapshot().status === 'authenticated', 2000, 'b in')
      const [wa, wb] = await Promise.all([nextEvent(a, 'idle-warning'), nextEvent(b, 'idle-warning')])
      expect(Math.abs(wa.logoutAt - wb.logoutAt)).to.be.below(50)
      const aActive = nextEvent(a, 'active')
      b.extend()
      await aActive
      expect(a.getSnapshot()).to.have.nested.property('idle.phase', 'active')
      expect(b.getSnapshot()).to.have.nested.property('idle.phase', 'active')
      const [la, lb] = await Promise.all([nextEvent(a, 'logout'), nextEvent(b, 'logout')])
      expect(la.reason).to.equal('idle')
      expect(lb.reason).to.equal('idle')
    })
  })
})
