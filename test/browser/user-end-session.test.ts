import '../support/setup'
import { expect } from 'chai'
import { createMemoryStorage } from '../../src/index'
import type { EndedSession, Session, SessionOptions, SyncChannel, SyncMessage, TokenSet } from '../../src/types'
import { createManualClock, type ManualClock } from '../support/manual-clock'
import { makeTokens, nextEvent, settled, TAB_LOCAL, testSessions, uniqueName, until } from '../support/util'

const b64u = (text: string) => btoa(String.fromCharCode(...new TextEncoder().encode(text))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
const jwt = (claims: Record<string, unknown>) => `${b64u('{"alg":"RS256"}')}.${b64u(JSON.stringify(claims))}.c2ln`

/** A sync channel that records what the session posts. */
function recordingChannel(): SyncChannel & { posted: SyncMessage[] } {
  const posted: SyncMessage[] = []
  return { posted, post: (m) => void posted.push(m), listen: () => () => {}, close: () => {} }
}

describe('session: the user in the snapshot', () => {
  let clock: ManualClock
  let session: Session
  const { make, destroyAll } = testSessions(() => ({ clock, ...TAB_LOCAL }))
  beforeEach(() => {
    clock = createManualClock()
  })
  afterEach(destroyAll)
  const start = async (options: Partial<SessionOptions> = {}) => {
    session = make(options)
    await session.ready()
  }
  const authed = () => {
    const s = session.getSnapshot()
    if (s.status !== 'authenticated') throw new Error(`not authenticated: ${s.status}`)
    return s
  }

  it('carries the ID token claims, deeply frozen, and the same object until the ID token changes', async () => {
    await start({ idle: { timeoutMs: 600_000, warningMs: 60_000 } })
    expect(session.getSnapshot().user).to.equal(undefined)
    const claims = { iss: 'https://id.example.com', sub: 'alice', aud: ['spa', 'api'], name: 'Alice Ä', address: { country: 'FR' } }
    await session.login(makeTokens(clock.now(), { idToken: jwt(claims) }))
    const first = authed()
    expect(first.user).to.deep.equal(claims)
    expect(Object.isFrozen(first.user)).to.equal(true)
    expect(Object.isFrozen(first.user!.aud)).to.equal(true)
    expect(Object.isFrozen(first.user!.address)).to.equal(true)
    expect(() => ((first.user as { sub: string }).sub = 'mallory')).to.throw(TypeError)
    expect(JSON.stringify(first.user)).not.to.contain('AT-') // claims only, never a token
    // Another snapshot of the same sign-in (the idle warning starts): the same user object.
    await clock.advance(540_001)
    const warned = authed()
    expect(warned).not.to.equal(first)
    expect(warned.idle.phase).to.equal('warning')
    expect(warned.user).to.equal(first.user)
  })

  it('keeps the user object across a refresh that brings no new ID token, and replaces it on a new one', async () => {
    const idToken = jwt({ sub: 'bob', iat: 1 })
    let next: Partial<TokenSet> = {}
    await start({ refresh: async () => ({ accessToken: `AT-refreshed-${Math.random()}aaaaaaaaaaaa`, expiresAt: clock.now() + 3_600_000, ...next }) })
    await session.login(makeTokens(clock.now(), { idToken }))
    const before = authed().user
    await session.refresh()
    expect(authed().user).to.equal(before)
    next = { idToken: jwt({ sub: 'bob', iat: 2, name: 'Bob' }) }
    await session.refresh()
    expect(authed().user).to.deep.equal({ sub: 'bob', iat: 2, name: 'Bob' })
  })

  it('is undefined without an ID token, or with one that is not a JWS with a JSON object and a string sub', async () => {
    await start()
    const bad = [undefined, 'abc', 'a.b', 'a.!!!.c', `x.${b64u('[1]')}.y`, `x.${b64u('{"sub":5}')}.y`, `x.${b64u('not json')}.y`, 'a.b.c.d']
    for (const idToken of bad) {
      await session.login(makeTokens(clock.now(), idToken === undefined ? {} : { idToken }))
      expect(authed().user, String(idToken)).to.equal(undefined)
    }
    await session.logout()
    const out = session.getSnapshot()
    expect(out.status).to.equal('anonymous')
    expect('user' in out).to.equal(false)
  })
})

describe('session: endSession (RP-initiated logout) after the local sign-out', () => {
  let clock: ManualClock
  let session: Session
  const { make, destroyAll } = testSessions({}, { start: false })
  beforeEach(() => {
    clock = createManualClock()
  })
  afterEach(destroyAll)

  /** A session whose revoke waits for the test, and whose endSession records the state it saw. */
  async function setup(revokeMode: 'pending' | 'ok' | 'none' = 'pending') {
    const channel = recordingChannel()
    const order: string[] = []
    let finishRevoke = () => {}
    const seen: { ended: EndedSession; status: string; posted: string[]; stored: unknown }[] = []
    const storage = createMemoryStorage()
    session = make({
      clock,
      storage,
      sync: channel,
      ...(revokeMode !== 'none' && {
        revoke: () => {
          order.push('revoke:start')
          if (revokeMode === 'ok') return Promise.resolve().then(() => void order.push('revoke:done'))
          return new Promise<void>((resolve) => {
            finishRevoke = () => {
              order.push('revoke:done')
              resolve()
            }
          })
        },
      }),
      endSession: async (ended) => {
        order.push('endSession')
        seen.push({ ended, status: session.getSnapshot().status, posted: channel.posted.map((m) => m.type), stored: await storage.get('session') })
      },
    })
    session.on('logout', () => void order.push('logout-event'))
    session.start()
    await session.ready()
    return { channel, order, seen, finishRevoke: () => finishRevoke() }
  }

  it('runs after every tab is told and storage is wiped, and after the revocation settled; logout() does not wait for it', async () => {
    const t = await setup('pending')
    const tokens = makeTokens(clock.now(), { idToken: jwt({ sub: 'carol' }) })
    await session.login(tokens)
    await session.logout()
    // logout() resolved: signed out here, the other tabs told, the revocation still in flight, no endSession yet.
    expect(session.getSnapshot().status).to.equal('anonymous')
    expect(t.channel.posted.map((m) => m.type)).to.include('logout')
    expect(t.order).to.deep.equal(['logout-event', 'revoke:start'])
    t.finishRevoke()
    await settled()
    expect(t.order).to.deep.equal(['logout-event', 'revoke:start', 'revoke:done', 'endSession'])
    expect(t.seen).to.have.length(1)
    const [call] = t.seen
    expect(call!.ended.reason).to.equal('user')
    expect(call!.ended.tokens.idToken).to.equal(tokens.idToken)
    expect(call!.status).to.equal('anonymous')
    expect(call!.posted).to.include('logout')
    expect(call!.stored).to.deep.equal({ v: 1, ended: 'user' }) // only the token-free tombstone is left
    expect(clock.pending()).to.equal(0) // the 5 s bound was cancelled
  })

  it('does not wait more than 5 s for a revocation that hangs', async () => {
    const t = await setup('pending')
    await session.login(makeTokens(clock.now()))
    await session.logout()
    await clock.advance(4_999)
    expect(t.order).not.to.include('endSession')
    await clock.advance(1)
    expect(t.order).to.deep.equal(['logout-event', 'revoke:start', 'endSession'])
    t.finishRevoke()
  })

  it('runs at once without a revoke function', async () => {
    const t = await setup('none')
    await session.login(makeTokens(clock.now()))
    await session.logout()
    await settled()
    expect(t.order).to.deep.equal(['logout-event', 'endSession'])
  })

  it('is not called for other reasons, or when already signed out', async () => {
    const t = await setup('ok')
    for (const reason of ['idle', 'max-session', 'reauth-required'] as const) {
      await session.login(makeTokens(clock.now()))
      await session.logout({ reason })
    }
    await session.logout() // already signed out
    await clock.advance(6_000)
    expect(t.order).not.to.include('endSession')
  })

  it('is called in the tab that logged out only, not in the tabs that follow it', async () => {
    const name = uniqueName()
    const calls: string[] = []
    const tab = (id: string) => make({ name, endSession: () => void calls.push(id) })
    session = tab('a')
    const other = tab('b')
    try {
      session.start()
      other.start()
      await Promise.all([session.ready(), other.ready()])
      await session.login(makeTokens(Date.now()))
      await until(() => other.getSnapshot().status === 'authenticated', 3000, 'tab b signed in')
      await session.logout()
      await until(() => other.getSnapshot().status === 'anonymous', 3000, 'tab b signed out')
      await until(() => calls.length > 0, 3000, 'endSession in tab a')
      expect(calls).to.deep.equal(['a'])
    } finally {
      await other.destroy()
    }
  })

  it('reports a failing endSession as a warning (the local sign-out stands)', async () => {
    const channel = recordingChannel()
    session = make({
      clock,
      persist: 'memory',
      sync: channel,
      endSession: () => Promise.reject(new TypeError('offline')),
    })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now()))
    const warning = nextEvent(session, 'warning')
    await session.logout()
    await settled()
    const { error } = await warning
    expect(error.code).to.equal('configuration')
    expect(session.getSnapshot().status).to.equal('anonymous')
  })
})
