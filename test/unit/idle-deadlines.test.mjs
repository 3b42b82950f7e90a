// Idle and lifetime arithmetic: elapsed time against two clocks, the warning and logout instants.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { load } from './load.mjs'

const { elapsed, idleDeadlines, idleDue } = await load('idle-deadlines')

test('elapsed time is wall-clock time unless the monotonic clock says more than a second longer', () => {
  assert.equal(elapsed(10_000, 10_000), 10_000)
  assert.equal(elapsed(10_000, 10_900), 10_000) // within a second: tabs keep one shared deadline
  assert.equal(elapsed(10_000, 11_001), 11_001)
  // The wall clock was set back an hour: the monotonic clock still counts the 10 s that passed.
  assert.equal(elapsed(-3_590_000, 10_000), 10_000)
  // The wall clock jumped forward (or the machine slept, where monotonic time stops): wall time counts.
  assert.equal(elapsed(3_600_000, 5_000), 3_600_000)
})

test('deadlines of an idle period: logout at timeout, warning before it', () => {
  assert.deepEqual(idleDeadlines(100_000, 30_000, 120_000, 20_000), { logoutAt: 190_000, warnAt: 170_000 })
})

test('what is due: nothing, the warning (once), the sign-out', () => {
  const d = { logoutAt: 190_000, warnAt: 170_000 }
  assert.equal(idleDue(169_999, d, false), null)
  assert.equal(idleDue(170_000, d, false), 'warn')
  assert.equal(idleDue(170_000, d, true), null) // the warning shows already
  assert.equal(idleDue(190_000, d, true), 'idle')
  assert.equal(idleDue(190_000, d, false), 'idle')
})
