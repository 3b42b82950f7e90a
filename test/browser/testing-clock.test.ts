import '../support/setup'
import { expect } from 'chai'
import { createSession } from '../../src/index'
import type { Session } from '../../src/types'
import { createManualClock, settled, type ManualClock } from '../../src/testing'
import { makeTokens, uniqueName } from '../support/util'

/** The error a sync or async call throws/rejects with. */
async function failure(fn: () => unknown): Promise<unknown> {
  try {
    await fn()
  } catch (error) {
    return error
  }
  throw new Error('expected a failure')
}

/** A promise chain `steps` microtasks long; `done` is set at its end. */
function chain(steps: number, state: { done: boolean }): Promise<void> {
  let p = Promise.resolve()
  for (let i = 0; i < steps; i++) p = p.then(() => undefined)
  return p.then(() => void (state.done = true))
}

describe('sessionkeeper/testing: the manual clock', () => {
  let clock: ManualClock
  beforeEach(() => {
    clock = createManualClock()
  })

  it('starts at a fixed instant (or the given one) and never moves on its own', async () => {
    expect(clock.now()).to.equal(Date.UTC(2026, 0, 1))
    expect(clock.monotonic()).to.equal(1_000)
    expect(createManualClock({ now: 42 }).now()).to.equal(42)
    await settled()
    expect(clock.now()).to.equal(Date.UTC(2026, 0, 1))
    expect(clock.pending()).to.equal(0)
  })

  it('fires timers in deadline order, ties in the order set, each at its own instant', async () => {
    const t0 = clock.now()
    const fired: string[] = []
    const at = (name: string) => () => fired.push(`${name}@${clock.now() - t0}/${clock.monotonic() - 1_000}`)
    clock.setTimeout(at('c'), 30)
    clock.setTimeout(at('a'), 10)
    clock.setTimeout(at('b'), 20)
    clock.setTimeout(at('a2'), 10)
    clock.setTimeout(at('zero'), -5) // not positive: due now
    expect(clock.pending()).to.equal(5)
    expect(clock.delays).to.deep.equal([30, 10, 20, 10, -5])
    await clock.advance(100)
    expect(fired).to.deep.equal(['zero@0/0', 'a@10/10', 'a2@10/10', 'b@20/20', 'c@30/30'])
    expect(clock.now() - t0).to.equal(100)
    expect(clock.monotonic()).to.equal(1_100)
    expect(clock.pending()).to.equal(0)
  })

  it('cancels: the canceller stops the timer, and is harmless twice or after firing', async () => {
    let fired = 0
    const cancel = clock.setTimeout(() => fired++, 10)
    const other = clock.setTimeout(() => fired++, 5)
    cancel()
    cancel()
    expect(clock.pending()).to.equal(1)
    await clock.advance(20)
    expect(fired).to.equal(1)
    other()
    expect(clock.pending()).to.equal(0)
  })

  it('advance fires only what is due by its end, including timers set by callbacks, and stops at each deadline', async () => {
    const fired: number[] = []
    const t0 = clock.now()
    clock.setTimeout(() => {
      fired.push(clock.now() - t0)
      clock.setTimeout(() => fired.push(clock.now() - t0), 5) // due at 15, inside this advance
      clock.setTimeout(() => fired.push(clock.now() - t0), 50) // due at 60, not yet
    }, 10)
    await clock.advance(10)
    expect(fired).to.deep.equal([10])
    await clock.advance(5)
    expect(fired).to.deep.equal([10, 15])
    await clock.advance(44)
    expect(fired).to.deep.equal([10, 15])
    expect(clock.pending()).to.equal(1)
    await clock.advance(1)
    expect(fired).to.deep.equal([10, 15, 60])
    await clock.advance(0)
    expect(clock.now() - t0).to.equal(60)
  })

  it('runs a promise chain of any length between two timers', async () => {
    // The old "20 microtasks" flush lost this: a chain longer than 20 steps set its timer too late.
    const fired: number[] = []
    const t0 = clock.now()
    clock.setTimeout(() => {
      void chain(500, { done: false }).then(() => clock.setTimeout(() => fired.push(clock.now() - t0), 10))
    }, 10)
    await clock.advance(20)
    expect(fired).to.deep.equal([20])
  })

  it('sleep fires every overdue timer once, in deadline order, at the wake-up time', async () => {
    const fired: string[] = []
    const t0 = clock.now()
    clock.setTimeout(() => fired.push(`late@${clock.now() - t0}`), 3_000)
    clock.setTimeout(() => {
      fired.push(`early@${clock.now() - t0}`)
      cancelDropped() // cancelling an overdue timer from a callback is honoured
      clock.setTimeout(() => fired.push(`set-on-wake@${clock.now() - t0}`), 0) // fires on the next advance, not in this sleep
    }, 1_000)
    const cancelDropped = clock.setTimeout(() => fired.push('dropped'), 2_000)
    clock.setTimeout(() => fired.push('future'), 60_000)
    await clock.sleep(10_000)
    expect(fired).to.deep.equal(['early@10000', 'late@10000'])
    expect(clock.monotonic()).to.equal(11_000)
    expect(clock.pending()).to.equal(2)
    await clock.advance(0)
    expect(fired).to.deep.equal(['early@10000', 'late@10000', 'set-on-wake@10000'])
    await clock.sleep(0)
    expect(fired).to.have.length(3)
  })

  it('setWallClock moves only the wall clock and fires nothing', async () => {
    let fired = 0
    clock.setTimeout(() => fired++, 1_000)
    clock.setWallClock(clock.now() + 3_600_000)
    expect(clock.monotonic()).to.equal(1_000)
    await settled()
    expect(fired).to.equal(0)
    expect(clock.pending()).to.equal(1)
    const wall = clock.now()
    await clock.advance(999)
    expect(fired).to.equal(0)
    await clock.advance(1)
    expect(fired).to.equal(1)
    expect(clock.now()).to.equal(wall + 1_000)
    clock.setWallClock(0) // the epoch is a valid instant
    expect(clock.now()).to.equal(0)
  })

  it('settled() waits for queued microtask chains of any length; clock.settled is the same', async () => {
    const long = { done: false }
    void chain(5_000, long)
    await settled()
    expect(long.done).to.equal(true)
    const again = { done: false }
    void chain(5_000, again)
    await clock.settled()
    expect(again.done).to.equal(true)
    expect(clock.settled).to.equal(settled)
  })

  it('rejects bad arguments with a TypeError and leaves the clock as it was', async () => {
    const before = [clock.now(), clock.monotonic()]
    for (const ms of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5' as unknown as number]) {
      expect(await failure(() => clock.advance(ms)), `advance(${String(ms)})`).to.be.instanceOf(TypeError)
      expect(await failure(() => clock.sleep(ms)), `sleep(${String(ms)})`).to.be.instanceOf(TypeError)
    }
    for (const at of [Number.NaN, Number.NEGATIVE_INFINITY, undefined as unknown as number]) {
      expect(await failure(() => clock.setWallClock(at)), `setWallClock(${String(at)})`).to.be.instanceOf(TypeError)
    }
    expect(await failure(() => clock.setTimeout('alert(1)' as unknown as () => void, 1))).to.be.instanceOf(TypeError)
    expect(await failure(() => createManualClock({ now: Number.NaN }))).to.be.instanceOf(TypeError)
    expect([clock.now(), clock.monotonic()]).to.deep.equal(before)
    expect(clock.pending()).to.equal(0)
  })

  it('gives up on a timer that keeps rescheduling itself instead of hanging', async function () {
    this.timeout(30_000)
    let runs = 0
    const loop = () => void (runs++, clock.setTimeout(loop, 0))
    clock.setTimeout(loop, 0)
    const error = await failure(() => clock.advance(1))
    expect(error).to.be.instanceOf(Error).and.to.have.property('message').that.matches(/more than 10000 timers/)
    expect(runs).to.equal(10_000)
    expect(clock.pending()).to.equal(1)
  })
})

describe('sessionkeeper/testing: an idle dialog driven by the clock', () => {
  const MIN = 60_000
  let session: Session | undefined
  afterEach(async () => {
    await session?.destroy()
    session = undefined
  })

  it('shows the idle warning one minute before the timeout, then signs out with reason idle', async () => {
    const clock = createManualClock()
    session = createSession({ name: uniqueName('idle-ui'), clock, persist: 'memory', sync: false, idle: { timeoutMs: 15 * MIN, warningMs: MIN } })
    // The "app": a dialog rendered from the snapshot.
    const dialog = { open: false, logoutAt: 0, signedOut: '' }
    const s = session
    s.subscribe(() => {
      const snap = s.getSnapshot()
      dialog.open = snap.status === 'authenticated' && snap.idle.phase === 'warning'
      if (snap.status === 'authenticated' && snap.idle.phase === 'warning') dialog.logoutAt = snap.idle.logoutAt
      if (snap.status === 'anonymous') dialog.signedOut = snap.reason ?? ''
    })
    const stop = s.start()
    await s.ready()
    await s.login(makeTokens(clock.now()))
    const t0 = clock.now()

    await clock.advance(14 * MIN - 1)
    expect(s.getSnapshot()).to.have.nested.property('idle.phase', 'active')
    expect(dialog.open).to.equal(false)

    await clock.advance(1)
    expect(s.getSnapshot()).to.have.nested.property('idle.phase', 'warning')
    expect(dialog).to.deep.include({ open: true, logoutAt: t0 + 15 * MIN })

    await clock.advance(MIN - 1)
    expect(s.getSnapshot().status).to.equal('authenticated')
    await clock.advance(1)
    expect(s.getSnapshot()).to.deep.equal({ status: 'anonymous', reason: 'idle' })
    expect(dialog).to.deep.include({ open: false, signedOut: 'idle' })
    stop()
  })

  it('"Stay signed in" closes the dialog and restarts the idle period', async () => {
    const clock = createManualClock()
    session = createSession({ name: uniqueName('idle-ui'), clock, persist: 'memory', sync: false, idle: { timeoutMs: 10 * MIN, warningMs: MIN } })
    const stop = session.start()
    await session.ready()
    await session.login(makeTokens(clock.now()))
    await clock.advance(9 * MIN)
    expect(session.getSnapshot()).to.have.nested.property('idle.phase', 'warning')
    session.extend()
    await clock.settled()
    expect(session.getSnapshot()).to.have.nested.property('idle.phase', 'active')
    await clock.advance(9 * MIN - 1)
    expect(session.getSnapshot()).to.have.nested.property('idle.phase', 'active')
    await clock.advance(1)
    expect(session.getSnapshot()).to.have.nested.property('idle.phase', 'warning')
    stop()
  })
})
