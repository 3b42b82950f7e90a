import '../support/setup'
import { expect } from 'chai'
import { createIndexedDBStorage, createMemoryStorage, createSession, SessionError, systemClock } from '../../src/index'
import type { TokenSet } from '../../src/types'
import { createManualClock, type ManualClock } from '../support/manual-clock'
import { errorText, leaks, makeTokens, nextEvent, recordEvents, testSessions, uniqueName, until } from '../support/util'

// Regression tests for the defects an independent review found (issue 10), and a few the simulation found.
// Each one failed before its fix.
// Sessions with the same name in one page share IndexedDB, the channel and Web Locks, like tabs.

describe('review fixes (issue 10)', () => {
  let name: string
  const { make: tab, destroyAll } = testSessions(() => ({ name }))
  beforeEach(() => {
    name = uniqueName('rv')
  })
  afterEach(destroyAll)

  describe('sign-out reaches tabs that keep the session in memory', () => {
    it("persist: 'memory': logout in A signs B out, and a tab opened afterwards is handed nothing", async () => {
      const a = tab({ persist: 'memory' })
      const b = tab({ persist: 'memory' })
      await Promise.all([a.ready(), b.ready()])
      await a.login(makeTokens(Date.now()))
      await until(() => b.getSnapshot().status === 'authenticated', 2000, 'b handed the session')
      const bOut = nextEvent(b, 'logout')
      await a.logout()
      expect(await bOut).to.deep.equal({ reason: 'user', remote: true })
      expect(await b.getAccessToken()).to.equal(null)
      const c = tab({ persist: 'memory' })
      expect((await c.ready()).status).to.equal('anonymous')
      // A hello round trip later, still nobody has handed it the ended session.
      await new Promise((r) => setTimeout(r, 100))
      expect(c.getSnapshot().status).to.equal('anonymous')
    })

    it('a tab whose storage is memory is signed out by an IndexedDB tab, and its own logout wipes the database', async () => {
      const a = tab()
      const b = tab({ storage: createMemoryStorage() }) // like a tab whose IndexedDB degraded
      await Promise.all([a.ready(), b.ready()])
      await a.login(makeTokens(Date.now()))
      await until(() => b.getSnapshot().status === 'authenticated', 2000, 'b has the record')
      const bOut = nextEvent(b, 'logout')
      await a.logout()
      expect((await bOut).remote).to.equal(true)
      // Reversed: the memory tab signs out; the IndexedDB tab hears it and wipes storage, so a reload starts signed out.
      await a.login(makeTokens(Date.now()))
      await until(() => b.getSnapshot().status === 'authenticated', 2000, 'b signed in again')
      const aOut = nextEvent(a, 'logout')
      await b.logout()
      expect((await aOut).remote).to.equal(true)
      await until(async () => {
        const disk = createIndexedDBStorage(name, systemClock)
        try {
          return ((await disk.get('session')) as { ended?: string } | undefined)?.ended === 'user'
        } finally {
          disk.close()
        }
      }, 2000, 'the database holds the sign-out')
      const reload = tab()
      expect((await reload.ready()).status).to.equal('anonymous')
    })
  })

  it('a tab keeping its session in memory is sent every rotation: no refresh token is presented twice', async () => {
    const presented: string[] = []
    let n = 0
    const refresh = async (t: TokenSet): Promise<TokenSet> => {
      presented.push(t.refreshToken!)
      n++
      return { accessToken: `AT-rot-${n}-zzzzzzzzzzzz`, refreshToken: `RT-rot-${n}-zzzzzzzzzzzz`, expiresAt: Date.now() + 600_000 }
    }
    const a = tab({ refresh })
    const b = tab({ refresh, storage: createMemoryStorage() })
    await Promise.all([a.ready(), b.ready()])
    await a.login(makeTokens(Date.now()))
    await until(() => b.getSnapshot().status === 'authenticated', 2000, 'b has the record')
    for (const s of [a, b, a, b]) {
      const at = await s.refresh()
      await until(() => [a, b].every((x) => (x.getSnapshot() as { tokens?: TokenSet }).tokens?.accessToken === at.accessToken), 2000, 'both adopted')
    }
    expect(presented).to.have.length(4)
    expect(new Set(presented).size, presented.join()).to.equal(4)
  })

  it('destroy() while a refresh waits for the lock: the request is never sent', async () => {
    const presented: string[] = []
    let release = () => {}
    const gate = new Promise<void>((r) => (release = r))
    const refresh = async (t: TokenSet): Promise<TokenSet> => {
      presented.push(t.refreshToken!)
      await gate
      return { accessToken: `AT-d-${presented.length}-zzzzzzzzzz`, refreshToken: `RT-d-${presented.length}-zzzzzzzzzz`, expiresAt: Date.now() + 600_000 }
    }
    const a = tab({ refresh })
    const b = tab({ refresh })
    await Promise.all([a.ready(), b.ready()])
    await a.login(makeTokens(Date.now()))
    await until(() => b.getSnapshot().status === 'authenticated', 2000, 'b signed in')
    const first = a.refresh()
    await until(() => presented.length === 1, 2000, 'a holds the lock')
    const waiting = b.refresh().then(() => 'resolved', (e: unknown) => (e as SessionError).code)
    const destroyed = b.destroy()
    release()
    await first
    expect(await waiting).to.equal('destroyed')
    await destroyed
    expect(presented).to.have.length(1)
  })

  it('destroy() during a refresh request commits the rotated refresh token before closing storage', async () => {
    const presented: string[] = []
    let release = () => {}
    const gate = new Promise<void>((r) => (release = r))
    const refresh = async (t: TokenSet): Promise<TokenSet> => {
      presented.push(t.refreshToken!)
      if (presented.length === 1) await gate
      return { accessToken: `AT-c-${presented.length}-zzzzzzzzzz`, refreshToken: `RT-c-${presented.length}-zzzzzzzzzz`, expiresAt: Date.now() + 600_000 }
    }
    const a = tab({ refresh })
    await a.ready()
    await a.login(makeTokens(Date.now()))
    void a.refresh().catch(() => {})
    await until(() => presented.length === 1, 2000, 'request out')
    const gone = a.destroy()
    release()
    await gone
    const next = tab({ refresh })
    await next.ready()
    await next.refresh()
    expect(presented[1], 'the rotated refresh token was committed').to.equal('RT-c-1-zzzzzzzzzz')
  })

  describe('deadlines and sign-outs apply without start()', () => {
    let clock: ManualClock
    beforeEach(() => {
      clock = createManualClock(Date.now())
    })
    it('getAccessToken() before start() hands out nothing past maxSessionMs', async () => {
      const a = tab({ clock, maxSessionMs: 60_000 }, { start: false })
      await a.login(makeTokens(clock.now()))
      expect(await a.getAccessToken()).to.be.a('string')
      clock.setWallClock(clock.now() + 61_000)
      expect(await a.getAccessToken()).to.equal(null)
      expect(a.getSnapshot()).to.deep.equal({ status: 'anonymous', reason: 'max-session' })
    })
    it("getAccessToken() after the last stop sees another tab's logout", async () => {
      const a = tab()
      const b = tab({}, { start: false })
      const stop = b.start()
      await Promise.all([a.ready(), b.ready()])
      await a.login(makeTokens(Date.now()))
      await until(() => b.getSnapshot().status === 'authenticated', 2000, 'b signed in')
      stop()
      await a.logout()
      expect(await b.getAccessToken()).to.equal(null)
    })
  })

  it('wall clock set back: a working user is not signed out as idle', async () => {
    const clock = createManualClock(Date.now())
    const a = tab({ clock, persist: 'memory', sync: false, idle: { timeoutMs: 10 * 60_000, warningMs: 60_000 } })
    await a.ready()
    await a.login(makeTokens(clock.now()))
    clock.setWallClock(clock.now() - 60 * 60_000)
    const out: unknown[] = []
    a.on('logout', (e) => out.push(e))
    // Active every 2 minutes for 30 minutes (three idle timeouts).
    for (let i = 0; i < 15; i++) {
      await clock.advance(2 * 60_000)
      a.touch()
    }
    expect(out).to.deep.equal([])
    expect(a.getSnapshot().status).to.equal('authenticated')
  })

  describe('no token in error causes', () => {
    it('an HTTP-client error carrying the request body, a circular one, and a SessionError with such a cause', async () => {
      const clock = createManualClock(Date.now())
      const tokens = makeTokens(clock.now())
      const axiosLike = Object.assign(new Error('Request failed with status code 503'), { config: { data: `grant_type=refresh_token&refresh_token=${tokens.refreshToken}` } })
      const circular: Record<string, unknown> = { token: tokens.refreshToken }
      circular.self = circular
      const wrapped = new SessionError('server_error', 'upstream', { cause: axiosLike, status: 503 })
      const thrown = [axiosLike, circular, wrapped]
      let i = 0
      const a = tab({ clock, persist: 'memory', sync: false, refresh: async () => Promise.reject(thrown[i++]) })
      await a.ready()
      const seen = recordEvents(a)
      await a.login(tokens)
      const errors: unknown[] = []
      for (let k = 0; k < thrown.length; k++) errors.push(await a.refresh().catch((e: unknown) => e))
      const snap = a.getSnapshot()
      const text = [...errors, ...seen.events.map((e) => (e.payload as { error?: unknown }).error), snap.status === 'authenticated' ? snap.refreshError : null].map(errorText).join('\n')
      expect(errors.every((e) => e instanceof SessionError)).to.equal(true)
      expect(leaks(text, [tokens.refreshToken, tokens.accessToken]), text).to.equal(false)
    })
  })

  describe('storage-lease lock (no Web Locks)', () => {
    it('single-flight across tabs, and a lapsed lease is taken over by exactly one tab', async () => {
      let calls = 0
      const refresh = async (): Promise<TokenSet> => {
        calls++
        await new Promise((r) => setTimeout(r, 20))
        return { accessToken: `AT-l-${calls}-zzzzzzzzzzzz`, refreshToken: `RT-l-${calls}-zzzzzzzzzzzz`, expiresAt: Date.now() + 600_000 }
      }
      const tabs = [tab({ refresh, locks: false }), tab({ refresh, locks: false }), tab({ refresh, locks: false })]
      await Promise.all(tabs.map((t) => t.ready()))
      await tabs[0]!.login(makeTokens(Date.now(), { expiresAt: Date.now() + 30_000 }))
      await until(() => tabs.every((t) => t.getSnapshot().status === 'authenticated'), 2000, 'all signed in')
      // A crashed holder left a lapsed lease: every tab races to take it over.
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const req = indexedDB.open(`sessionkeeper:${name}`)
        req.onsuccess = () => resolve(req.result)
        req.onerror = () => reject(req.error)
      })
      await new Promise<void>((resolve, reject) => {
        const tx = db.transaction('kv', 'readwrite')
        tx.objectStore('kv').put({ owner: 'crashed', until: Date.now() - 1 }, 'lock')
        tx.oncomplete = () => resolve()
        tx.onerror = () => reject(tx.error)
      })
      db.close()
      // Every tab asks at once; the first holder refreshes, the others find the new tokens after it.
      const results = (await Promise.all(tabs.map((t) => t.refresh()))).map((t) => t.accessToken)
      expect(calls).to.equal(1)
      expect(new Set(results).size).to.equal(1)
    })
  })

  it("'scroll' is not activity: script-driven scrolling does not keep an idle session alive", async () => {
    const clock = createManualClock(Date.now())
    const filler = document.body.appendChild(document.createElement('div'))
    filler.style.height = '5000px'
    try {
      const a = tab({ clock, persist: 'memory', sync: false, idle: { timeoutMs: 10 * 60_000, warningMs: 60_000 } })
      await a.ready()
      await a.login(makeTokens(clock.now()))
      const out = nextEvent(a, 'logout')
      await clock.advance(5 * 60_000)
      let onScroll = (_: Event) => {}
      const scrolled = new Promise<Event>((r) => (onScroll = r))
      window.addEventListener('scroll', onScroll)
      window.scrollTo(0, 1000) // a trusted scroll event
      expect((await scrolled).isTrusted).to.equal(true)
      window.removeEventListener('scroll', onScroll)
      await clock.advance(5 * 60_000 + 1)
      expect(await out).to.deep.equal({ reason: 'idle', remote: false })
    } finally {
      window.scrollTo(0, 0)
      filler.remove()
    }
  })

  it('React StrictMode (start, stop, start): ready() resolves the stored session', async () => {
    const a = tab()
    await a.ready()
    await a.login(makeTokens(Date.now()))
    const b = tab({}, { start: false })
    const stop = b.start()
    stop()
    b.start()
    expect((await b.ready()).status).to.equal('authenticated')
  })

  it('a tombstone with an invalid reason does not wedge startup', async () => {
    const storage = createMemoryStorage()
    await storage.set('session', { v: 1, ended: {} })
    const a = tab({ storage, sync: false })
    const warned = nextEvent(a, 'warning')
    expect(await a.ready()).to.deep.equal({ status: 'anonymous', reason: null })
    expect((await warned).error.code).to.equal('storage_corrupt')
  })

  it('fetch.allowedOrigins: a string is refused, entries are normalised and compared exactly', async () => {
    expect(() => createSession({ name, fetch: { allowedOrigins: 'https://api.example.com' as unknown as string[] } })).to.throw(TypeError)
    expect(() => createSession({ name, fetch: { allowedOrigins: ['not a url'] } })).to.throw(TypeError)
    const a = tab({ persist: 'memory', sync: false, fetch: { allowedOrigins: ['HTTPS://API.example.com:443/v1/'] } })
    await a.ready()
    await a.login(makeTokens(Date.now()))
    const err = await a.fetch('https://api.example.co/x').catch((e: unknown) => e)
    expect((err as SessionError).code).to.equal('origin_not_allowed')
    const sent: string[] = []
    const real = globalThis.fetch
    globalThis.fetch = (async (req: Request) => (sent.push(req.url), new Response('ok'))) as typeof fetch
    try {
      expect((await a.fetch('https://api.example.com/x')).status).to.equal(200)
    } finally {
      globalThis.fetch = real
    }
    expect(sent).to.deep.equal(['https://api.example.com/x'])
  })

  describe('a refresh answered 400/401 without an OAuth error body', () => {
    const bodyless = (status: number) => new SessionError('server_error', `HTTP ${status}`, { status })
    it('is retried while the access token is valid, and ends the session once in every tab after it expired', async () => {
      const clock = createManualClock(Date.now())
      let calls = 0
      const refresh = async (): Promise<TokenSet> => {
        calls++
        throw bodyless(calls % 2 ? 400 : 401)
      }
      const a = tab({ clock, refresh })
      const b = tab({ clock, refresh })
      await Promise.all([a.ready(), b.ready()])
      await a.login(makeTokens(clock.now(), { expiresAt: clock.now() + 120_000 }))
      await until(() => b.getSnapshot().status === 'authenticated', 2000, 'b signed in')
      const kept = (await a.refresh().catch((e: unknown) => e)) as SessionError
      expect(kept.retryable, 'transient while the token is valid').to.equal(true)
      expect(a.getSnapshot().status).to.equal('authenticated')
      const logouts: [string, unknown][] = []
      a.on('logout', (e) => logouts.push(['a', e]))
      b.on('logout', (e) => logouts.push(['b', e]))
      clock.setWallClock(clock.now() + 121_000)
      const results = await Promise.all([a.getAccessToken().catch((e: unknown) => (e as SessionError).code), b.getAccessToken().catch((e: unknown) => (e as SessionError).code)])
      await until(() => logouts.length === 2, 2000, 'both signed out')
      expect(results.every((r) => r === null || r === 'reauth_required'), String(results)).to.equal(true)
      expect(logouts.map(([t, e]) => [t, (e as { reason: string }).reason]).sort()).to.deep.equal([['a', 'reauth-required'], ['b', 'reauth-required']])
      const before = calls
      await clock.advance(10 * 60_000)
      expect(calls, 'the dead refresh token is not sent again').to.equal(before)
    })
  })

  it('an outage costs one token-endpoint attempt per backoff step, whatever the number of tabs', async () => {
    const random = Math.random
    Math.random = () => 0.5
    try {
      const attempts = async (n: number) => {
        name = uniqueName('rv-outage')
        const clock = createManualClock(Date.now())
        let calls = 0
        const refresh = async (): Promise<TokenSet> => {
          calls++
          throw new SessionError('server_error', 'HTTP 503', { status: 503 })
        }
        const tabs = Array.from({ length: n }, () => tab({ clock, refresh }))
        await Promise.all(tabs.map((t) => t.ready()))
        await tabs[0]!.login(makeTokens(clock.now(), { expiresAt: clock.now() + 30 * 60_000 }))
        await until(() => tabs.every((t) => t.getSnapshot().status === 'authenticated'), 2000, 'all signed in')
        // Into the refresh lead, then 20 minutes of outage in 10 s steps; after each step the refreshes it
        // started settle (they do real IndexedDB and lock I/O, which fake time must not outrun).
        const settled = () => until(() => tabs.every((t) => !(t.getSnapshot() as { refreshing?: boolean }).refreshing), 3000, 'refreshes settled')
        clock.setWallClock(clock.now() + 29 * 60_000)
        window.dispatchEvent(new Event('focus')) // every tab re-checks its deadlines
        await settled()
        for (let i = 0; i < 120; i++) {
          await clock.advance(10_000)
          await settled()
        }
        await Promise.all(tabs.map((t) => t.destroy()))
        return calls
      }
      const one = await attempts(1)
      const four = await attempts(4)
      expect(one).to.be.greaterThan(5)
      expect(four, `1 tab: ${one} attempts, 4 tabs: ${four}`).to.be.at.most(one + 1)
    } finally {
      Math.random = random
    }
  })

  it('a retry whose instant passed before it was scheduled still happens (time moved on during the failure)', async () => {
    // The failure is recorded (a storage write) while the clock moves past the retry instant: a frozen or
    // throttled page, or fake time outrunning real I/O. The retry must be armed as due, not dropped.
    const random = Math.random
    Math.random = () => 0.5
    try {
      const clock = createManualClock(Date.now())
      const memory = createMemoryStorage()
      const storage = {
        ...memory,
        kind: 'memory' as const,
        async set(key: Parameters<typeof memory.set>[0], value: unknown) {
          if ((value as { fail?: unknown } | null)?.fail) clock.setWallClock(clock.now() + 5_000)
          return memory.set(key, value)
        },
      }
      let calls = 0
      const a = tab({ clock, storage, sync: false, refresh: async (): Promise<TokenSet> => {
        calls++
        throw new SessionError('server_error', 'HTTP 503', { status: 503 })
      } })
      await a.ready()
      await a.login(makeTokens(clock.now(), { expiresAt: clock.now() + 30 * 60_000 }))
      const first = await a.refresh().then(() => null, (e: unknown) => e)
      expect((first as SessionError).code).to.equal('server_error')
      expect(calls).to.equal(1)
      await clock.advance(60_000)
      expect(calls, 'the backoff step ended while the failure was written: the retry is still made').to.be.greaterThan(1)
    } finally {
      Math.random = random
    }
  })

  it('the snapshot, refresh() and events never show the refresh token or the ID token', async () => {
    const clock = createManualClock(Date.now())
    const tokens = makeTokens(clock.now(), { idToken: 'ID-token-iiiiiiiiiiiiiiiiiiii', scope: 'openid', tokenType: 'Bearer' })
    const a = tab({ clock, persist: 'memory', sync: false, refresh: async () => ({ accessToken: 'AT-view-2-zzzzzzzzzzzz', refreshToken: 'RT-rotated-secret-qqqqqqqq', expiresAt: clock.now() + 600_000 }) })
    await a.ready()
    const seen = recordEvents(a)
    await a.login(tokens)
    const snap = a.getSnapshot()
    if (snap.status !== 'authenticated') throw new Error('not signed in')
    expect(snap.tokens).to.deep.equal({ accessToken: tokens.accessToken, expiresAt: tokens.expiresAt, scope: 'openid', tokenType: 'Bearer' })
    expect(Object.isFrozen(snap.tokens)).to.equal(true)
    const next = await a.refresh()
    expect(next).to.deep.equal({ accessToken: 'AT-view-2-zzzzzzzzzzzz', expiresAt: clock.now() + 600_000 })
    const text = JSON.stringify([seen.events, a.getSnapshot(), next])
    expect(leaks(text, [tokens.refreshToken, 'RT-rotated-secret-qqqqqqqq', tokens.idToken]), text).to.equal(false)
  })
  describe('found by the multi-tab simulation (test/sim/scenarios.mjs replays each; here with real IndexedDB)', () => {
    it('tokens another tab received already expired are not handed out: the waiting tab refreshes again (seed 3571)', async () => {
      const clock = createManualClock(Date.now())
      let release!: () => void
      const gate = new Promise<void>((r) => (release = r))
      let calls = 0
      let expired: TokenSet | undefined
      const refresh = async () => {
        // The first answer is processed long after it was sent (a page back from the bfcache): expired on arrival.
        if (++calls === 1) return gate.then(() => (expired = makeTokens(clock.now(), { expiresAt: clock.now() - 1_000 })))
        return makeTokens(clock.now())
      }
      // Not started: no timers, so only the two calls below refresh.
      const a = tab({ clock, refresh }, { start: false })
      const b = tab({ clock, refresh }, { start: false })
      await Promise.all([a.ready(), b.ready()])
      await a.login(makeTokens(clock.now(), { expiresAt: clock.now() + 30_000 }))
      await clock.advance(20_000) // inside the lead window: due
      const aRefresh = a.refresh().then(() => 'resolved', (e: unknown) => (e as SessionError).code)
      await until(() => calls === 1, 2000, 'a holds the lock and its request is out')
      const bToken = b.getAccessToken()
      release()
      expect(await aRefresh).to.equal('invalid_token_response')
      const token = await bToken
      expect(token).to.be.a('string')
      expect(token).to.not.equal(expired?.accessToken)
      expect(calls).to.equal(2)
    })

    it('junk in the stored session is no sign-out: the signed-in tab keeps its session, warns, and its next write replaces the junk (seed 649)', async () => {
      const a = tab({ sync: false, refresh: async () => makeTokens(Date.now()) }, { start: false })
      await a.ready()
      await a.login(makeTokens(Date.now()))
      const disk = createIndexedDBStorage(name, systemClock)
      try {
        await disk.set('session', { v: 1, ended: {} }) // a tombstone with an invalid reason: junk
        const warned = nextEvent(a, 'warning')
        // Not started: getAccessToken() re-reads storage first.
        expect(await a.getAccessToken()).to.be.a('string')
        expect((await warned).error.code).to.equal('storage_corrupt')
        expect(a.getSnapshot().status).to.equal('authenticated')
        const { accessToken } = await a.refresh()
        const stored = (await disk.get('session')) as { tokens?: { accessToken?: unknown } } | undefined
        expect(stored?.tokens?.accessToken).to.equal(accessToken)
      } finally {
        disk.close()
      }
    })
  })
})
