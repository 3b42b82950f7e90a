// Refresh policy: when the proactive refresh is due, the backoff after failures, the per-minute cap.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { load } from './load.mjs'

const { leadFor, refreshDueAt, backoffUntil, admit, MIN_REFRESH_GAP, MAX_REFRESH_PER_MIN, MAX_BACKOFF } = await load('refresh-policy')

test('the lead is the configured one, but at most half the lifetime the tokens arrived with', () => {
  assert.equal(leadFor(1_000_000 + 3_600_000, 1_000_000, 60_000), 60_000)
  assert.equal(leadFor(1_000_000 + 30_000, 1_000_000, 60_000), 15_000)
  // Tokens that arrived already expired (or at expiry): no negative lead.
  assert.equal(leadFor(1_000_000, 1_000_001, 60_000), 0)
})

test('the refresh is due at expiry minus the lead, plus jitter of at most a fifth of the lead and 3 s', () => {
  const base = { expiresAt: 1_000_000, lead: 60_000, lastAt: 0, now: 900_000 }
  assert.equal(refreshDueAt({ ...base, random: 0 }), 940_000)
  assert.equal(refreshDueAt({ ...base, random: 1 }), 943_000) // min(60 000 / 5, 3 000)
  assert.equal(refreshDueAt({ ...base, lead: 10_000, random: 1 }), 992_000) // min(10 000 / 5, 3 000)
})

test('proactive refreshes are spaced by the minimum gap; a last request in the future counts as now', () => {
  const due = refreshDueAt({ expiresAt: 100_000, lead: 60_000, lastAt: 39_000, now: 40_000, random: 0 })
  assert.equal(due, 39_000 + MIN_REFRESH_GAP)
  // The wall clock was set back: the last request lies in the future; the gap counts from now.
  assert.equal(refreshDueAt({ expiresAt: 100_000, lead: 60_000, lastAt: 500_000, now: 40_000, random: 0 }), 40_000 + MIN_REFRESH_GAP)
})

test('backoff is full-jitter exponential, capped, and never sooner than Retry-After', () => {
  assert.equal(backoffUntil(0, 1, undefined, 1), 2_000)
  assert.equal(backoffUntil(0, 3, undefined, 1), 8_000)
  assert.equal(backoffUntil(0, 3, undefined, 0.5), 4_000)
  assert.equal(backoffUntil(0, 30, undefined, 1), MAX_BACKOFF)
  assert.equal(backoffUntil(100, 1, 30_000, 1), 30_100)
  assert.equal(backoffUntil(100, 1, undefined, 0), 100)
})

test('the per-minute cap admits MAX_REFRESH_PER_MIN requests in any minute, and forgets older ones', () => {
  let recent = []
  for (let i = 0; i < MAX_REFRESH_PER_MIN; i++) {
    recent = admit(recent, 1_000 + i * 1_000)
    assert.ok(recent, `request ${i + 1} admitted`)
  }
  assert.equal(admit(recent, 20_000), null)
  // A minute after the first one, there is room again.
  assert.deepEqual(admit(recent, 61_001)?.length, MAX_REFRESH_PER_MIN)
  // Times after now (the clock was set back) are dropped.
  assert.deepEqual(admit([50_000, 60_000], 10_000), [10_000])
})
