import '../support/setup'
import { expect } from 'chai'
import { clampDelay, MAX_DELAY_MS } from '../../src/clock'

describe('test rig', () => {
  it('runs in a real browser with IndexedDB, BroadcastChannel and Web Locks', () => {
    expect(typeof indexedDB.open).to.equal('function')
    expect(typeof BroadcastChannel).to.equal('function')
    expect(typeof navigator.locks.request).to.equal('function')
  })
  it('clamps timer delays to 2^31-1 ms', () => {
    expect(clampDelay(2 ** 40)).to.equal(MAX_DELAY_MS)
    expect(clampDelay(-5)).to.equal(0)
  })
  it('flags a leaked timer', async () => {
    const { leakedSince, snapshot } = await import('../support/leaks')
    const before = snapshot()
    const id = setTimeout(() => {}, 60_000)
    expect(leakedSince(before)).to.have.length(1)
    clearTimeout(id)
    expect(leakedSince(before)).to.have.length(0)
  })
})
