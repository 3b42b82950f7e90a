import '../support/setup'
import { expect } from 'chai'
import { createSession, SessionError, isSessionError } from '../../src/index'
import type { Session, SessionOptions, TokenSet } from '../../src/types'
import { createManualClock, type ManualClock } from '../support/manual-clock'
import { errorText, leaks, makeTokens, nextEvent, TAB_LOCAL, testSessions, uniqueName } from '../support/util'

describe('session: lifecycle and store contract', () => {
  let clock: ManualClock
  let session: Session
  /** Tab-local sessions on this test's manual clock: memory storage, no channel, not started. */
  const { make: local, destroyAll } = testSessions(() => ({ clock, ...TAB_LOCAL }), { start: false })
  beforeEach(() => {
    clock = createManualClock()
  })
  afterEach(async () => {
    await session?.destroy() // the one made by createSession() itself
    await destroyAll()
  })

  it('createSession is pure: loading, nothing opened, no timers', () => {
    session = createSession({ name: uniqueName(), clock })
    expect(session.getSnapshot()).to.deep.equal({ status: 'loading' })
    expect(clock.pending()).to.equal(0)
  })

  it('rejects bad options at construction with a TypeError', () => {
    const bad: unknown[] = [
      { persist: 'localstorage' },
      { refreshLeadMs: -1 },
      { refreshTimeoutMs: Number.NaN },
      { maxSessionMs: 0 },
      { idle: { timeoutMs: 1000, warningMs: 1000 } },
      { idle: { warningMs: 10 } },
      { name: 'has spaces' },
      { refresh: 'nope' },
    ]
    for (const options of bad) expect(() => createSession(options as SessionOptions), JSON.stringify(options)).to.throw(TypeError)
  })

  it('starts anonymous, signs in, exposes a stable snapshot, and signs out with a reason', async () => {
    session = local()
    const stop = session.start()
    expect((await session.ready()).status).to.equal('anonymous')
    let notified = 0
    const off = session.subscribe(() => notified++)
    const tokens = makeTokens(clock.now())
    const login = nextEvent(session, 'login')
    await session.login(tokens)
    expect(await login).to.deep.equal({ remote: false, restored: false })
    const snap = session.getSnapshot()
    expect(snap.status).to.equal('authenticated')
    expect(session.getSnapshot()).to.equal(snap) // same reference until a change
    if (snap.status !== 'authenticated') throw new Error('unreachable')
    expect(snap.tokens.accessToken).to.equal(tokens.accessToken)
    expect(snap.idle).to.deep.equal({ phase: 'active' })
    expect(await session.getAccessToken()).to.equal(tokens.accessToken)
    const logout = nextEvent(session, 'logout')
    await session.logout()
    expect(await logout).to.deep.equal({ reason: 'user', remote: false })
    expect(session.getSnapshot()).to.deep.equal({ status: 'anonymous', reason: 'user' })
    expect(await session.getAccessToken()).to.equal(null)
    expect(notified).to.be.greaterThan(1)
    off()
    off() // idempotent
    stop()
  })

  it('subscribe/getSnapshot work unbound (useSyncExternalStore style)', async () => {
    session = local()
    const { subscribe, getSnapshot } = session
    let calls = 0
    const off = subscribe(() => calls++)
    session.start()
    await session.ready()
    expect(getSnapshot().status).to.equal('anonymous')
    expect(calls).to.be.greaterThan(0)
    off()
  })

  it('start() is ref-counted and restartable (StrictMode mount/unmount/mount)', async () => {
    // An absolute lifetime, so a running signed-in session has exactly one timer armed.
    session = local({ maxSessionMs: 60 * 60_000 })
    const a = session.start()
    a()
    const b = session.start()
    const c = session.start()
    await session.ready()
    await session.login(makeTokens(clock.now()))
    b()
    expect(clock.pending(), 'still running: c has not stopped').to.equal(1)
    c()
    c() // a second call of the same stop does nothing
    expect(clock.pending(), 'stopped by the last stop').to.equal(0)
    const d = session.start()
    d()
  })

  it('destroy() is final and idempotent', async () => {
    session = local()
    session.start()
    await session.ready()
    await session.destroy()
    await session.destroy()
    expect(() => session.start()).to.throw(SessionError)
    expect(await session.getAccessToken()).to.equal(null)
  })

  it('login() rejects bad token sets with a typed error, stores nothing and never echoes a token', async () => {
    session = local()
    session.start()
    await session.ready()
    const secret = 'SECRET-TOKEN-VALUE-0123456789'
    const now = clock.now()
    const bad: unknown[] = [
      undefined,
      {},
      { accessToken: '', expiresAt: now + 1000 },
      { accessToken: 42, expiresAt: now + 1000 },
      { accessToken: secret, expiresAt: Number.NaN },
      { accessToken: secret, expiresAt: now - 1 },
      { accessToken: secret, expiresAt: 'soon' },
      { accessToken: 'x'.repeat(16 * 1024 + 1), expiresAt: now + 1000 },
      { accessToken: secret, refreshToken: 5, expiresAt: now + 1000 },
    ]
    for (const tokens of bad) {
      let caught: unknown
      await session.login(tokens as TokenSet).catch((e: unknown) => (caught = e))
      expect(isSessionError(caught, 'invalid_argument'), JSON.stringify(tokens)?.slice(0, 60)).to.equal(true)
      expect(leaks(errorText(caught), [secret])).to.equal(false)
    }
    expect(session.getSnapshot().status).to.equal('anonymous')
  })

  it('keeps only known token fields and ignores prototype keys', async () => {
    session = local()
    session.start()
    await session.ready()
    const hostile = JSON.parse(`{"accessToken":"AT-proto-xxxxxxxxxxxx","expiresAt":${clock.now() + 60_000},"__proto__":{"admin":true},"extra":1}`)
    await session.login(hostile)
    const snap = session.getSnapshot()
    if (snap.status !== 'authenticated') throw new Error('not authenticated')
    expect(Object.keys(snap.tokens).sort()).to.deep.equal(['accessToken', 'expiresAt'])
    expect(({} as Record<string, unknown>).admin).to.equal(undefined)
  })
})

describe('session: refresh', () => {
  let clock: ManualClock
  let session: Session
  /** Tab-local sessions on this test's manual clock: memory storage, no channel, not started. */
  const { make: local, destroyAll } = testSessions(() => ({ clock, ...TAB_LOCAL }), { start: false })
  beforeEach(() => {
    clock = createManualClock()
  })
  afterEach(destroyAll)

  const rotated = (clockNow: () => number, lifetime = 600_000) => {
    let n = 0
    const calls: TokenSet[] = []
    const fn = async (current: TokenSet) => {
      calls.push(current)
      n++
      return { accessToken: `AT-new-${n}-zzzzzzzzzzzzzzzz`, refreshToken: `RT-new-${n}-zzzzzzzzzzzzzzzz`, expiresAt: clockNow() + lifetime }
    }
    return { fn, calls }
  }

  it('refreshes proactively at expiresAt - lead and reports it', async () => {
    const r = rotated(() => clock.now())
    session = local({ refresh: r.fn, refreshLeadMs: 60_000 })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now(), { expiresAt: clock.now() + 600_000 }))
    await clock.advance(600_000 - 60_000 - 1)
    expect(r.calls).to.have.length(0)
    const refreshed = nextEvent(session, 'refresh')
    await clock.advance(3_001) // jitter is at most 3 s
    expect((await refreshed).remote).to.equal(false)
    expect(r.calls).to.have.length(1)
    expect(await session.getAccessToken()).to.equal('AT-new-1-zzzzzzzzzzzzzzzz')
  })

  it('clamps the lead to half the token lifetime', async () => {
    const r = rotated(() => clock.now(), 60_000)
    session = local({ refresh: r.fn, refreshLeadMs: 10 * 60_000 })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now(), { expiresAt: clock.now() + 60_000 }))
    await clock.advance(29_000)
    expect(r.calls).to.have.length(0)
    await clock.advance(10_000)
    expect(r.calls).to.have.length(1)
  })

  it('single-flight: 100 concurrent getAccessToken() calls on an expired token make one refresh', async () => {
    const r = rotated(() => clock.now())
    session = local({ refresh: r.fn })
    await session.login(makeTokens(clock.now(), { expiresAt: clock.now() + 1000 }))
    clock.setWallClock(clock.now() + 5000)
    const results = await Promise.all(Array.from({ length: 100 }, () => session.getAccessToken()))
    expect(r.calls).to.have.length(1)
    expect(new Set(results)).to.deep.equal(new Set(['AT-new-1-zzzzzzzzzzzzzzzz']))
  })

  it('keeps the refresh token when the response has none (rotation is optional)', async () => {
    const presented: (string | undefined)[] = []
    session = local({ refresh: async (t) => (presented.push(t.refreshToken), { accessToken: `AT-norotate-${presented.length}-yyyyyyyyyyyy`, expiresAt: clock.now() + 600_000 }) })
    const tokens = makeTokens(clock.now())
    await session.login(tokens)
    const next = await session.refresh()
    expect(next.accessToken).to.equal('AT-norotate-1-yyyyyyyyyyyy')
    expect(next, 'refresh tokens never leave the SDK').not.to.have.property('refreshToken')
    await session.refresh()
    expect(presented).to.deep.equal([tokens.refreshToken, tokens.refreshToken])
  })

  it('a transient failure keeps the session, is typed, shows in the snapshot and retries with backoff', async () => {
    let fail = true
    const r = rotated(() => clock.now())
    const refresh = async (t: TokenSet) => {
      if (fail) throw new SessionError('server_error', 'HTTP 503', { status: 503 })
      return r.fn(t)
    }
    session = local({ refresh })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now()))
    const errored = nextEvent(session, 'refresh-error')
    await session.refresh().catch(() => {})
    const { error, retryAt } = await errored
    expect(error.code).to.equal('server_error')
    expect(error.retryable).to.equal(true)
    expect(retryAt).to.be.a('number')
    const snap = session.getSnapshot()
    expect(snap.status).to.equal('authenticated')
    if (snap.status === 'authenticated') expect(snap.refreshError?.code).to.equal('server_error')
    fail = false
    const ok = nextEvent(session, 'refresh')
    await clock.advance((retryAt as number) - clock.now() + 1)
    await ok
    const after = session.getSnapshot()
    if (after.status !== 'authenticated') throw new Error('lost the session')
    expect(after.refreshError).to.equal(null)
  })

  it('honours Retry-After: no retry before it', async () => {
    let calls = 0
    session = local({
      refresh: async () => {
        calls++
        throw new SessionError('rate_limited', 'HTTP 429', { status: 429, retryAfterMs: 30_000 })
      },
    })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now()))
    await session.refresh().catch(() => {})
    expect(calls).to.equal(1)
    await clock.advance(29_000)
    expect(calls).to.equal(1)
  })

  it('reauth_required ends the session once with reason reauth-required', async () => {
    session = local({
      refresh: async () => {
        throw new SessionError('reauth_required', 'invalid_grant', { oauthError: 'invalid_grant' })
      },
    })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now()))
    const logouts: unknown[] = []
    session.on('logout', (e) => logouts.push(e))
    const err = await session.refresh().catch((e: unknown) => e)
    expect(isSessionError(err, 'reauth_required')).to.equal(true)
    expect(logouts).to.deep.equal([{ reason: 'reauth-required', remote: false }])
    expect(session.getSnapshot()).to.deep.equal({ status: 'anonymous', reason: 'reauth-required' })
  })

  it('maps a custom refresh function that throws a string, returns undefined or garbage to typed errors', async () => {
    const outcomes: (() => unknown)[] = [
      () => {
        throw 'boom RT-1-rrrrrrrrrrrrrrrrrrrrrrrr'
      },
      () => undefined,
      () => ({ accessToken: 5, expiresAt: clock.now() + 1000 }),
      () => ({ accessToken: 'ok-token-value-123456', expiresAt: Number.POSITIVE_INFINITY }),
    ]
    let i = 0
    session = local({ refresh: async () => outcomes[i]!() as TokenSet })
    session.start()
    await session.ready()
    const tokens = makeTokens(clock.now(), {}, 1)
    await session.login(tokens)
    const codes: string[] = []
    for (i = 0; i < outcomes.length; i++) {
      const err = await session.refresh().catch((e: unknown) => e)
      expect(err).to.be.instanceOf(SessionError)
      codes.push((err as SessionError).code)
      expect(leaks(errorText(err), [tokens.accessToken, tokens.refreshToken])).to.equal(false, `leak in ${errorText(err)}`)
      await clock.advance(10 * 60_000) // past any backoff
    }
    expect(codes).to.deep.equal(['server_error', 'invalid_token_response', 'invalid_token_response', 'invalid_token_response'])
    expect(session.getSnapshot().status).to.equal('authenticated')
  })

  it('a refresh that never resolves times out (transient) and the signal is aborted', async () => {
    let signal: AbortSignal | undefined
    session = local({
      refreshTimeoutMs: 5_000,
      refresh: (_t, ctx) => {
        signal = ctx.signal
        return new Promise<TokenSet>(() => {})
      },
    })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now()))
    const pending = session.refresh().catch((e: unknown) => e)
    // The backoff after the timeout is random: a near-zero one would retry within the advance and
    // replace `signal` with the retry's (a CI flake). Pinned, the retry comes a second later.
    const random = Math.random
    Math.random = () => 0.5
    try {
      await clock.advance(5_001)
    } finally {
      Math.random = random
    }
    const err = await pending
    expect(isSessionError(err, 'timeout')).to.equal(true)
    expect(signal?.aborted).to.equal(true)
    expect(session.getSnapshot().status).to.equal('authenticated')
  })

  it('logout during an in-flight refresh wins: the result is discarded', async () => {
    let release: (t: TokenSet) => void = () => {}
    session = local({ refresh: () => new Promise<TokenSet>((r) => (release = r)) })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now()))
    const pending = session.refresh().catch((e: unknown) => e)
    await clock.advance(10)
    await session.logout()
    release({ accessToken: 'AT-resurrected-qqqqqqqqqq', expiresAt: clock.now() + 600_000 })
    const err = await pending
    expect(isSessionError(err, 'not_authenticated')).to.equal(true)
    expect(session.getSnapshot()).to.deep.equal({ status: 'anonymous', reason: 'user' })
  })

  it('never arms a timer beyond 2^31-1 ms, and does not loop on a 30-day token', async () => {
    const r = rotated(() => clock.now())
    session = local({ refresh: r.fn })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now(), { expiresAt: clock.now() + 30 * 86_400_000 }))
    await clock.advance(5 * 60_000)
    expect(r.calls).to.have.length(0)
    // The manual clock records requested delays; the system clock clamps them (see clock.ts).
    expect(Math.max(...clock.delays)).to.be.greaterThan(2 ** 31 - 1)
    const { clampDelay } = await import('../../src/clock')
    expect(clampDelay(Math.max(...clock.delays))).to.equal(2 ** 31 - 1)
  })

  it('caps refreshes when the server hands out tokens that expire at once', async () => {
    const r = rotated(() => clock.now(), 2_000)
    session = local({ refresh: r.fn })
    session.start()
    await session.ready()
    const warnings: string[] = []
    session.on('warning', (e) => warnings.push(e.error.code))
    await session.login(makeTokens(clock.now(), { expiresAt: clock.now() + 2_000 }))
    await clock.advance(60_000)
    expect(r.calls.length).to.be.at.most(12)
    expect(r.calls.length).to.be.greaterThan(2)
    expect(warnings).to.include('refresh_loop_detected')
  })

  it('getAccessToken returns null rather than an expired token when there is no refresh function', async () => {
    session = local()
    await session.login(makeTokens(clock.now(), { expiresAt: clock.now() + 10_000 }))
    expect(await session.getAccessToken()).to.be.a('string')
    clock.setWallClock(clock.now() + 11_000)
    expect(await session.getAccessToken()).to.equal(null)
  })
})

describe('session: fetch', () => {
  let clock: ManualClock
  let session: Session
  /** Tab-local sessions on this test's manual clock: memory storage, no channel, not started. */
  const { make: local, destroyAll } = testSessions(() => ({ clock, ...TAB_LOCAL }), { start: false })
  const realFetch = globalThis.fetch
  let seen: Request[] = []
  let status = 200
  beforeEach(() => {
    clock = createManualClock(Date.now())
    seen = []
    status = 200
    globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init)
      seen.push(request)
      const s = status
      status = 200
      return new Response('{}', { status: s })
    }
  })
  afterEach(async () => {
    globalThis.fetch = realFetch
    await destroyAll()
  })

  it('adds the token for the page origin only, and refuses other origins', async () => {
    session = local()
    await session.login(makeTokens(clock.now()))
    await session.fetch('/api/me')
    expect(seen[0]?.headers.get('authorization')).to.match(/^Bearer AT-/)
    const err = await session.fetch('https://evil.example/steal').catch((e: unknown) => e)
    expect(isSessionError(err, 'origin_not_allowed')).to.equal(true)
    expect(seen).to.have.length(1)
  })

  it('refreshes and retries once on 401', async () => {
    let n = 0
    session = local({ refresh: async () => ({ accessToken: `AT-after-401-${++n}-zzzzzzzz`, refreshToken: 'RT-x-zzzzzzzzzzzzzzz', expiresAt: clock.now() + 600_000 }) })
    await session.login(makeTokens(clock.now()))
    status = 401
    const response = await session.fetch('/api/me', { method: 'POST', body: 'hello' })
    expect(response.status).to.equal(200)
    expect(seen).to.have.length(2)
    expect(seen[1]?.headers.get('authorization')).to.equal('Bearer AT-after-401-1-zzzzzzzz')
    expect(await seen[1]?.text()).to.equal('hello')
  })
})

describe('session: idle and absolute lifetime', () => {
  let clock: ManualClock
  let session: Session
  /** Tab-local sessions on this test's manual clock: memory storage, no channel, not started. */
  const { make: local, destroyAll } = testSessions(() => ({ clock, ...TAB_LOCAL }), { start: false })
  beforeEach(() => {
    clock = createManualClock()
  })
  afterEach(destroyAll)
  const MIN = 60_000

  it('warns at timeout - warning, then signs out with reason idle', async () => {
    const warned: unknown[] = []
    session = local({ idle: { timeoutMs: 15 * MIN, warningMs: MIN, onWarning: (i) => warned.push(i) } })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now()))
    const t0 = clock.now()
    await clock.advance(14 * MIN - 1)
    expect(session.getSnapshot()).to.have.nested.property('idle.phase', 'active')
    const warning = nextEvent(session, 'idle-warning')
    await clock.advance(1)
    expect(await warning).to.deep.equal({ logoutAt: t0 + 15 * MIN, remainingMs: MIN })
    expect(warned).to.have.length(1)
    expect(session.getSnapshot()).to.have.nested.property('idle.logoutAt', t0 + 15 * MIN)
    const logout = nextEvent(session, 'logout')
    await clock.advance(MIN)
    expect(await logout).to.deep.equal({ reason: 'idle', remote: false })
  })

  it('extend() ends the warning and restarts the idle period; plain activity does not by default', async () => {
    let active = 0
    session = local({ idle: { timeoutMs: 10 * MIN, warningMs: MIN, onActive: () => active++ } })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now()))
    await clock.advance(9 * MIN)
    expect(session.getSnapshot()).to.have.nested.property('idle.phase', 'warning')
    session.touch()
    expect(session.getSnapshot()).to.have.nested.property('idle.phase', 'warning')
    session.extend()
    expect(session.getSnapshot()).to.have.nested.property('idle.phase', 'active')
    expect(active).to.equal(1)
    await clock.advance(9 * MIN - 1)
    expect(session.getSnapshot().status).to.equal('authenticated')
  })

  it('trusted activity counts; synthetic events and refreshes do not', async () => {
    let n = 0
    session = local({
      idle: { timeoutMs: 10 * MIN, warningMs: MIN },
      refresh: async () => ({ accessToken: `AT-idle-${++n}-zzzzzzzzzzzz`, refreshToken: 'RT-idle-zzzzzzzzzzzzz', expiresAt: clock.now() + 2 * MIN }),
    })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now(), { expiresAt: clock.now() + 2 * MIN }))
    for (let i = 0; i < 10; i++) {
      window.dispatchEvent(new MouseEvent('pointermove'))
      document.dispatchEvent(new KeyboardEvent('keydown'))
      await clock.advance(MIN)
    }
    expect(n).to.be.greaterThan(2) // refreshes kept happening...
    expect(session.getSnapshot()).to.deep.equal({ status: 'anonymous', reason: 'idle' }) // ...but did not keep it alive
  })

  it('touch() records activity and postpones the deadline', async () => {
    session = local({ idle: { timeoutMs: 10 * MIN, warningMs: MIN } })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now()))
    for (let i = 0; i < 5; i++) {
      await clock.advance(5 * MIN)
      session.touch()
    }
    expect(session.getSnapshot().status).to.equal('authenticated')
  })

  it('onIdle returning false keeps the session (the app shows a lock screen)', async () => {
    let idled = 0
    session = local({ idle: { timeoutMs: 10 * MIN, warningMs: MIN, onIdle: () => (idled++, false) } })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now()))
    await clock.advance(10 * MIN)
    expect(idled).to.equal(1)
    expect(session.getSnapshot().status).to.equal('authenticated')
  })

  it('the absolute lifetime ends the session whatever the activity', async () => {
    session = local({ maxSessionMs: 30 * MIN, idle: { timeoutMs: 10 * MIN } })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now()))
    const logout = nextEvent(session, 'logout')
    for (let i = 0; i < 7; i++) {
      await clock.advance(5 * MIN)
      session.touch()
    }
    expect(await logout).to.deep.equal({ reason: 'max-session', remote: false })
  })

  it('after a sleep past the idle deadline, no token is handed out: sign-out comes first', async () => {
    session = local({ idle: { timeoutMs: 10 * MIN } })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now()))
    clock.setWallClock(clock.now() + 20 * MIN) // slept; no timer has fired yet
    expect(await session.getAccessToken()).to.equal(null)
    expect(session.getSnapshot()).to.deep.equal({ status: 'anonymous', reason: 'idle' })
  })

  it('setting the clock back extends neither the idle nor the absolute timeout', async () => {
    session = local({ idle: { timeoutMs: 10 * MIN, warningMs: MIN }, maxSessionMs: 30 * MIN })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now()))
    clock.setWallClock(clock.now() - 60 * MIN)
    window.dispatchEvent(new Event('focus'))
    const logout = nextEvent(session, 'logout')
    await clock.advance(10 * MIN + 1)
    expect(await logout).to.deep.equal({ reason: 'idle', remote: false })
  })

  it('reports a wall-clock jump and applies deadlines at once', async () => {
    session = local({ idle: { timeoutMs: 60 * MIN } })
    session.start()
    await session.ready()
    await session.login(makeTokens(clock.now()))
    const warning = nextEvent(session, 'warning')
    const logout = nextEvent(session, 'logout')
    clock.setWallClock(clock.now() + 2 * 60 * MIN)
    window.dispatchEvent(new Event('focus'))
    expect((await warning).error.code).to.equal('clock_jump')
    expect(await logout).to.deep.equal({ reason: 'idle', remote: false })
  })
})
