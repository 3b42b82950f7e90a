// The persisted record: validation of untrusted input, ordering of records between tabs, the snapshot view.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { load } from './load.mjs'

const { checkTokens, readRecord, newer, viewOf, transientCode, tombstone } = await load('record')

const NOW = 1_800_000_000_000
const tokens = { accessToken: 'at-1', refreshToken: 'rt-1', idToken: 'id-1', expiresAt: NOW + 60_000, scope: 'openid', tokenType: 'Bearer' }
const record = (extra = {}) => ({ v: 1, epoch: 'e1', authAt: NOW, at: NOW, gen: 0, tokens, ...extra })

test('checkTokens keeps the known fields, frozen, and rejects bad ones with the given code', () => {
  const t = checkTokens({ ...tokens, extra: 'dropped' }, NOW, 'invalid_argument')
  assert.deepEqual(t, tokens)
  assert.ok(Object.isFrozen(t))
  for (const bad of [null, 'x', {}, { ...tokens, accessToken: '' }, { ...tokens, refreshToken: 5 }, { ...tokens, accessToken: 'a'.repeat(16 * 1024 + 1) }, { ...tokens, expiresAt: Infinity }, { ...tokens, expiresAt: NOW + 400 * 86_400_000 }]) {
    assert.throws(() => checkTokens(bad, NOW, 'invalid_token_response'), (e) => e.code === 'invalid_token_response')
  }
})

test('readRecord accepts a valid record and refuses malformed or foreign ones', () => {
  assert.deepEqual(readRecord(record({ seq: 3 })), record({ seq: 3 }))
  assert.equal(readRecord(record({ v: 2 })), null)
  assert.equal(readRecord(record({ epoch: 'x'.repeat(65) })), null)
  assert.equal(readRecord(record({ authAt: 'now' })), null)
  assert.equal(readRecord(record({ tokens: { accessToken: 'a' } })), null)
  assert.equal(readRecord(null), null)
  // A missing generation reads as 0; a failure record with an unknown code is a server error.
  assert.equal(readRecord(record({ gen: undefined })).gen, 0)
  assert.equal(readRecord(record({ fail: { n: 1, at: NOW, until: NOW + 1, code: 'evil' } })).fail.code, 'server_error')
  assert.equal(readRecord(record({ fail: { n: 1, at: NOW, until: NOW + 1, code: 'network' } })).fail.code, 'network')
  assert.equal(readRecord(record({ fail: { n: 'x' } })).fail, undefined)
})

test('newer: a later sign-in by number, then by time; within a sign-in the later generation, then the later failure', () => {
  assert.ok(newer(record({ epoch: 'b', seq: 2, authAt: NOW - 1 }), record({ epoch: 'a', seq: 1 })))
  assert.ok(!newer(record({ epoch: 'a', seq: 1 }), record({ epoch: 'b', seq: 2, authAt: NOW - 1 })))
  assert.ok(newer(record({ epoch: 'b', authAt: NOW + 1 }), record({ epoch: 'a' })))
  assert.ok(newer(record({ epoch: 'b' }), record({ epoch: 'a' }))) // a tie: a total order still
  assert.ok(newer(record({ gen: 2 }), record({ gen: 1 })))
  assert.ok(!newer(record({ gen: 1 }), record({ gen: 1 })))
  assert.ok(newer(record({ gen: 1, fail: { n: 1, at: NOW + 5, until: 0, code: 'network' } }), record({ gen: 1 })))
})

test('the view shows neither the refresh token nor the ID token', () => {
  const v = viewOf(tokens)
  assert.deepEqual(v, { accessToken: 'at-1', expiresAt: NOW + 60_000, scope: 'openid', tokenType: 'Bearer' })
  assert.ok(Object.isFrozen(v))
})

test('transient codes and tombstones', () => {
  assert.equal(transientCode('timeout'), 'timeout')
  assert.equal(transientCode('oauth_error'), 'server_error')
  assert.equal(tombstone({ v: 1, ended: 'idle' }), 'idle')
  assert.equal(tombstone({ v: 1, ended: 'bogus' }), undefined)
  assert.equal(tombstone(null), undefined)
})
