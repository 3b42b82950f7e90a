import '../support/setup'
// Fault list §2.5 (F34–F42) and F36/RF-4 in real Chromium and Firefox ESR: IndexedDB missing, refusing
// to open, failing writes, corrupt / newer / foreign records, a newer database version, an upgrade from
// another "tab", deletion while running and eviction between loads. Each case asserts the documented
// outcome (typed code, session kept or cleanly signed out, exactly the right events) and runs a
// LEAK-CHECK over every event payload, error and the page's web storage.
//
// Globals are patched only for the duration of one test and always restored in `finally`.
import { expect } from 'chai'
import { createSession, isSessionError, SessionError } from '../../src/index'
import type { TokenSet } from '../../src/types'
import { createManualClock, type ManualClock } from '../support/manual-clock'
import { errorText, leaks, makeTokens, TAB_LOCAL, testSessions, uniqueName, until, type Recorder } from '../support/util'

/** LEAK-CHECK for the browser suites: events (with errors, stacks, causes) and web storage. */
function assertNoLeak(recorded: readonly Recorder[], secrets: readonly (string | undefined)[]): void {
  const texts: string[] = []
  for (const r of recorded) {
    for (const e of r.events) {
      const err = (e.payload as { error?: unknown }).error
      texts.push(JSON.stringify(e.payload) ?? '', err ? errorText(err) : '')
    }
  }
  for (const store of [localStorage, sessionStorage]) {
    for (let i = 0; i < store.length; i++) texts.push(`${store.key(i)}=${store.getItem(store.key(i) ?? '')}`)
  }
  texts.push(document.cookie, location.href)
  const found = texts.filter((t) => leaks(t, secrets))
  expect(found, `LEAK-CHECK: token material in ${found.join(' | ').slice(0, 300)}`).to.deep.equal([])
}

// --- raw IndexedDB helpers (what another tab, devtools or an older/newer SDK would do) --------------------
const req = <T>(r: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result)
    r.onerror = () => reject(r.error)
  })

function rawOpen(name: string, version?: number, upgrade?: (db: IDBDatabase) => void): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = version === undefined ? indexedDB.open(name) : indexedDB.open(name, version)
    r.onupgradeneeded = () => upgrade?.(r.result)
    r.onsuccess = () => resolve(r.result)
    r.onerror = () => reject(r.error)
  })
}

async function rawGet(name: string, store: string, key: string): Promise<unknown> {
  const db = await rawOpen(name)
  try {
    return await req(db.transaction(store, 'readonly').objectStore(store).get(key))
  } finally {
    db.close()
  }
}

async function rawPut(name: string, store: string, key: string, value: unknown): Promise<void> {
  const db = await rawOpen(name)
  try {
    const tx = db.transaction(store, 'readwrite')
    tx.objectStore(store).put(value, key)
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve()
      tx.onerror = () => reject(tx.error)
    })
  } finally {
    db.close()
  }
}

function deleteDb(name: string): Promise<{ blocked: boolean }> {
  return new Promise((resolve, reject) => {
    let blocked = false
    const r = indexedDB.deleteDatabase(name)
    r.onblocked = () => (blocked = true)
    r.onsuccess = () => resolve({ blocked })
    r.onerror = () => reject(r.error)
  })
}

/** Removes a global (own or inherited accessor) until the returned function puts it back. */
function removeGlobal(key: string): () => void {
  let owner: object | null = window
  while (owner && !Object.prototype.hasOwnProperty.call(owner, key)) owner = Object.getPrototypeOf(owner)
  if (!owner) throw new Error(`no global ${key}`)
  const descriptor = Object.getOwnPropertyDescriptor(owner, key)!
  expect(Reflect.deleteProperty(owner, key), `delete ${key}`).to.equal(true)
  return () => Object.defineProperty(owner, key, descriptor)
}

/** Replaces `proto[key]` until the returned function restores it. */
function patch<T extends object, K extends keyof T>(proto: T, key: K, replacement: (original: T[K]) => T[K]): () => void {
  const original = proto[key]
  proto[key] = replacement(original)
  return () => {
    proto[key] = original
  }
}

const dbName = (name: string) => `sessionkeeper:${name}`

describe('faults: IndexedDB (F34–F42)', function () {
  this.timeout(15_000)
  let clock: ManualClock
  const restore: (() => void)[] = []
  const names: string[] = []
  const { makeRecorded: make, recorders: made, destroyAll } = testSessions(() => ({ clock }))
  const fresh = () => {
    const name = uniqueName('fault')
    names.push(name)
    return name
  }
  beforeEach(() => {
    clock = createManualClock(Date.now())
  })
  afterEach(async () => {
    while (restore.length) restore.pop()!()
    await destroyAll()
    for (const name of names.splice(0)) await deleteDb(dbName(name)).catch(() => {})
  })

  it('F34: window.indexedDB undefined → memory mode, one storage_unavailable, session works in-tab', async () => {
    const name = fresh()
    restore.push(removeGlobal('indexedDB'))
    expect(typeof indexedDB).to.equal('undefined')
    const a = make({ name })
    expect((await a.session.ready()).status).to.equal('anonymous')
    const tokens = makeTokens(clock.now())
    await a.session.login(tokens)
    expect(await a.session.getAccessToken()).to.equal(tokens.accessToken)
    await a.session.logout()
    await a.session.login(makeTokens(clock.now()))
    expect(a.codes('storage-degraded')).to.deep.equal(['storage_unavailable'])
    expect(a.of('logout')).to.have.length(1)
    expect(a.codes('refresh-error')).to.deep.equal([])
    // "After reload" (a new instance once IndexedDB is back): nothing was persisted, signed out.
    restore.pop()!()
    const b = make({ name })
    expect((await b.session.ready()).status).to.equal('anonymous')
    assertNoLeak(made, [tokens.accessToken, tokens.refreshToken])
  })

  for (const errorName of ['SecurityError', 'InvalidStateError']) {
    it(`F35: indexedDB.open throws ${errorName} → memory mode, one storage_unavailable, session works`, async () => {
      const name = fresh()
      let calls = 0
      restore.push(
        patch(IDBFactory.prototype, 'open', (original) =>
          function (this: IDBFactory, n: string, v?: number) {
            if (n === dbName(name)) {
              calls++
              throw new DOMException('refused by the test', errorName)
            }
            return v === undefined ? original.call(this, n) : original.call(this, n, v)
          } as IDBFactory['open'],
        ),
      )
      const a = make({ name })
      expect((await a.session.ready()).status).to.equal('anonymous')
      const tokens = makeTokens(clock.now())
      await a.session.login(tokens)
      expect(await a.session.getAccessToken()).to.equal(tokens.accessToken)
      expect(a.codes('storage-degraded')).to.deep.equal(['storage_unavailable'])
      expect(calls, 'open is not retried in a loop').to.be.within(1, 2)
      expect(a.of('logout')).to.deep.equal([])
      assertNoLeak(made, [tokens.accessToken, tokens.refreshToken])
    })
  }

  /**
   * A tab whose storage degraded (or whose write failed) asks its siblings for newer records around a
   * refresh (a short wait on the session clock): drive the manual clock until the call settles.
   */
  const settle = async <T>(call: Promise<T>): Promise<T> => {
    let done = false
    void call.finally(() => (done = true)).catch(() => {})
    for (let i = 0; i < 200 && !done; i++) {
      await clock.advance(50)
      await new Promise((r) => setTimeout(r, 5))
    }
    return call
  }

  it('F36/RF-4: put throws QuotaExceededError during a refresh → new tokens kept, typed notice, old RT never reused in this tab', async () => {
    const name = fresh()
    const presented: string[] = []
    let n = 0
    const refresh = async (current: TokenSet): Promise<TokenSet> => {
      presented.push(current.refreshToken!)
      n++
      return { accessToken: `AT-q${n}-${'a'.repeat(20)}`, refreshToken: `RT-q${n}-${'r'.repeat(20)}`, expiresAt: clock.now() + 600_000 }
    }
    const a = make({ name, refresh })
    await a.session.ready()
    const tokens = makeTokens(clock.now())
    await a.session.login(tokens)
    let fail = true
    restore.push(
      patch(IDBObjectStore.prototype, 'put', (original) =>
        function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
          if (fail) throw new DOMException('quota exceeded (test)', 'QuotaExceededError')
          return original.apply(this, args)
        } as IDBObjectStore['put'],
      ),
    )
    const first = await settle(a.session.refresh())
    expect(first.accessToken).to.equal('AT-q1-' + 'a'.repeat(20))
    const snap = a.session.getSnapshot()
    expect(snap.status === 'authenticated' && snap.tokens.accessToken).to.equal(first.accessToken)
    // The SDK reports the failed write as a degradation to memory (code storage_unavailable) rather than
    // a `storage_write_failed` warning; either is a typed notice (see FAULTS.md).
    const notices = [...a.codes('storage-degraded'), ...a.codes('warning')]
    expect(notices, 'a typed storage notice').to.have.length.greaterThan(0)
    expect(notices.every((c) => c === 'storage_unavailable' || c === 'storage_write_failed'), notices.join()).to.equal(true)
    fail = false
    await settle(a.session.refresh())
    expect(presented).to.deep.equal([tokens.refreshToken, `RT-q1-${'r'.repeat(20)}`])
    expect(a.of('logout')).to.deep.equal([])
    assertNoLeak(made, [tokens.accessToken, tokens.refreshToken, first.accessToken, `RT-q1-${'r'.repeat(20)}`])
  })

  it('F36/RF-4 (two tabs): a tab whose write failed must not leave the consumed RT for its sibling to replay', async () => {
    // A fake AS with strict rotation: a refresh token works once; presenting it again is a replay.
    const name = fresh()
    const used = new Set<string>()
    const replays: string[] = []
    let n = 0
    const refresh = async (current: TokenSet): Promise<TokenSet> => {
      const rt = current.refreshToken!
      if (used.has(rt)) {
        replays.push(rt)
        throw new SessionError('reauth_required', 'replayed refresh token')
      }
      used.add(rt)
      n++
      return { accessToken: `AT-s${n}-${'a'.repeat(20)}`, refreshToken: `RT-s${n}-${'r'.repeat(20)}`, expiresAt: clock.now() + 600_000 }
    }
    const a = make({ name, refresh })
    const b = make({ name, refresh })
    await Promise.all([a.session.ready(), b.session.ready()])
    const tokens = makeTokens(clock.now())
    await a.session.login(tokens)
    await until(() => b.session.getSnapshot().status === 'authenticated', 3000, 'tab B signed in')
    let fail = true
    restore.push(
      patch(IDBObjectStore.prototype, 'put', (original) =>
        function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
          if (fail) throw new DOMException('quota exceeded (test)', 'QuotaExceededError')
          return original.apply(this, args)
        } as IDBObjectStore['put'],
      ),
    )
    await settle(a.session.refresh()) // RT0 consumed; the new tokens could not be written
    fail = false
    // Tab B now refreshes (its token is due): it must not present RT0 again.
    const err = await settle(b.session.refresh()).then(() => null, (e: unknown) => e)
    expect(
      replays,
      'SDK BUG (RF-4 across tabs): after a failed write tab A degrades to memory and skips the cross-tab lock, while IndexedDB ' +
        'still holds the consumed refresh token; tab B re-reads it and replays it (with a rotating AS this revokes the grant and ' +
        `signs every tab out). B's refresh: ${err ? (err as SessionError).code : 'ok'}`,
    ).to.deep.equal([])
    expect(b.of('logout')).to.deep.equal([])
  })

  it('F36: a transaction AbortError on one write is retried once on a fresh connection and persists', async () => {
    const name = fresh()
    const a = make({ name, refresh: async () => ({ accessToken: `AT-abort-${'a'.repeat(20)}`, refreshToken: `RT-abort-${'r'.repeat(20)}`, expiresAt: clock.now() + 600_000 }) })
    await a.session.ready()
    const tokens = makeTokens(clock.now())
    await a.session.login(tokens)
    let failures = 1
    restore.push(
      patch(IDBObjectStore.prototype, 'put', (original) =>
        function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
          if (failures > 0) {
            failures--
            throw new DOMException('transaction aborted (test)', 'AbortError')
          }
          return original.apply(this, args)
        } as IDBObjectStore['put'],
      ),
    )
    const next = await a.session.refresh()
    restore.pop()!()
    expect(a.codes('storage-degraded')).to.deep.equal([])
    const b = make({ name })
    const snap = await b.session.ready()
    expect(snap.status === 'authenticated' && snap.tokens.accessToken, 'the retried write persisted').to.equal(next.accessToken)
    assertNoLeak(made, [tokens.accessToken, tokens.refreshToken, next.accessToken, next.refreshToken])
  })

  describe('F37: corrupt records → signed-out start, storage_corrupt, no throw, no pollution', () => {
    const variants: [string, (key: CryptoKey) => Promise<unknown>][] = [
      ['plain object with wrong types and __proto__', async () => JSON.parse('{"accessToken":42,"expiresAt":"soon","__proto__":{"admin":true}}')],
      ['truncated ciphertext', async () => ({ v: 1, iv: new Uint8Array(12), data: new Uint8Array([1, 2, 3]).buffer })],
      ['5 MB blob', async () => ({ v: 1, iv: new Uint8Array(12), data: new ArrayBuffer(5 * 1024 * 1024) })],
      ['a string', async () => '{"v":1,"epoch":'],
      [
        'validly encrypted JSON with wrong types and __proto__ keys',
        async (key) => {
          const iv = crypto.getRandomValues(new Uint8Array(12))
          const json = '{"v":1,"epoch":"e1","authAt":"soon","at":1,"tokens":{"accessToken":42,"expiresAt":"x"},"__proto__":{"admin":true}}'
          const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode(json))
          return { v: 1, iv, data }
        },
      ],
      [
        'validly encrypted truncated JSON',
        async (key) => {
          const iv = crypto.getRandomValues(new Uint8Array(12))
          const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode('{"v":1,"epoch":"e1","tok'))
          return { v: 1, iv, data }
        },
      ],
    ]
    for (const [label, build] of variants) {
      it(label, async () => {
        const name = fresh()
        // A first run creates the database and its AES key (as a real earlier visit would).
        const seed = make({ name })
        await seed.session.ready()
        const tokens = makeTokens(clock.now())
        await seed.session.login(tokens)
        await seed.session.destroy()
        const key = (await rawGet(dbName(name), 'kv', 'aes')) as CryptoKey
        expect(key).to.be.instanceOf(CryptoKey)
        await rawPut(dbName(name), 'kv', 'session', await build(key))
        const errors: unknown[] = []
        const onError = (e: ErrorEvent | PromiseRejectionEvent) => errors.push('reason' in e ? e.reason : e.error)
        addEventListener('unhandledrejection', onError)
        try {
          const a = make({ name })
          const snap = await a.session.ready()
          expect(snap.status).to.equal('anonymous')
          await until(() => a.codes('warning').length > 0, 2000, 'a storage_corrupt warning')
          expect(a.codes('warning')).to.deep.equal(['storage_corrupt'])
          expect(a.of('login')).to.deep.equal([])
          expect(await a.session.getAccessToken()).to.equal(null)
          expect(({} as Record<string, unknown>).admin, 'Object.prototype polluted').to.equal(undefined)
          expect(errors).to.deep.equal([])
          // The session can sign in again afterwards.
          await a.session.login(makeTokens(clock.now()))
          expect(a.session.getSnapshot().status).to.equal('authenticated')
        } finally {
          removeEventListener('unhandledrejection', onError)
        }
        assertNoLeak(made, [tokens.accessToken, tokens.refreshToken])
      })
    }
  })

  it('F38: a record from a newer SDK (v: 2) is neither deleted nor overwritten; storage_version_newer', async () => {
    const name = fresh()
    const seed = make({ name })
    await seed.session.ready()
    await seed.session.login(makeTokens(clock.now()))
    await seed.session.destroy()
    const future = { v: 2, written: 'by sessionkeeper 2.x', payload: new Uint8Array([9, 9, 9]) }
    await rawPut(dbName(name), 'kv', 'session', future)
    const a = make({ name })
    expect((await a.session.ready()).status).to.equal('anonymous')
    expect(await rawGet(dbName(name), 'kv', 'session'), 'not deleted on read').to.deep.equal(future)
    const codes = [...a.codes('warning'), ...a.codes('storage-degraded')]
    await a.session.login(makeTokens(clock.now()))
    const after = await rawGet(dbName(name), 'kv', 'session')
    expect(
      { codes, overwritten: JSON.stringify(after) !== JSON.stringify(future) },
      'SDK BUG (DB-2): a session record with a newer schema version is reported as storage_corrupt and the next login overwrites it; ' +
        'expected storage_version_newer and memory/read-only mode',
    ).to.deep.equal({ codes: ['storage_version_newer'], overwritten: false })
  })

  it('F39: database at a higher version (VersionError) → storage_version_newer, memory mode, database untouched', async () => {
    const name = fresh()
    const db = await rawOpen(dbName(name), 7, (d) => {
      d.createObjectStore('future-store').put({ keep: 'me' }, 'k')
    })
    db.close()
    const a = make({ name })
    expect((await a.session.ready()).status).to.equal('anonymous')
    const tokens = makeTokens(clock.now())
    await a.session.login(tokens)
    expect(await a.session.getAccessToken()).to.equal(tokens.accessToken)
    expect(a.codes('storage-degraded')).to.deep.equal(['storage_version_newer'])
    const check = await rawOpen(dbName(name))
    try {
      expect(check.version).to.equal(7)
      expect([...check.objectStoreNames]).to.deep.equal(['future-store'])
      expect(await req(check.transaction('future-store').objectStore('future-store').get('k'))).to.deep.equal({ keep: 'me' })
    } finally {
      check.close()
    }
    assertNoLeak(made, [tokens.accessToken, tokens.refreshToken])
  })

  it('F40: a newer SDK in another tab upgrades the database: not blocked by us (< 3 s), we stay signed in (in memory)', async () => {
    const name = fresh()
    const a = make({ name })
    await a.session.ready()
    const tokens = makeTokens(clock.now())
    await a.session.login(tokens)
    const t0 = performance.now()
    let blocked = false
    const upgraded = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open(dbName(name), 2)
      r.onblocked = () => (blocked = true)
      r.onupgradeneeded = () => r.result.createObjectStore('v2-only')
      r.onsuccess = () => resolve(r.result)
      r.onerror = () => reject(r.error)
    })
    const ms = performance.now() - t0
    upgraded.close()
    expect(ms, `upgrade took ${ms} ms (blocked: ${blocked})`).to.be.below(3000)
    // The old tab keeps its session; its next storage access finds the newer version and goes to memory.
    await a.session.touch()
    const snap = a.session.getSnapshot()
    expect(snap.status).to.equal('authenticated')
    await a.session.logout()
    await a.session.login(makeTokens(clock.now()))
    expect(a.codes('storage-degraded')).to.deep.equal(['storage_version_newer'])
    expect(a.of('logout').map((l) => l.reason)).to.deep.equal(['user'])
    assertNoLeak(made, [tokens.accessToken, tokens.refreshToken])
  })

  it('F41: database deleted by another tab while running → every tab signed out once with storage-cleared; delete not blocked', async () => {
    const name = fresh()
    const a = make({ name })
    const b = make({ name })
    await Promise.all([a.session.ready(), b.session.ready()])
    const tokens = makeTokens(clock.now())
    await a.session.login(tokens)
    await until(() => b.session.getSnapshot().status === 'authenticated', 3000, 'tab B signed in')
    await b.session.getAccessToken() // both tabs hold an open connection
    const t0 = performance.now()
    const { blocked } = await deleteDb(dbName(name))
    const deleteMs = performance.now() - t0
    await until(() => a.of('logout').length && b.of('logout').length, 3000, 'both tabs signed out')
    await new Promise((r) => setTimeout(r, 50)) // a duplicate logout would follow at once
    expect(deleteMs, 'deleteDatabase completes promptly').to.be.below(3000)
    expect(blocked, 'deleteDatabase was not blocked').to.equal(false)
    for (const r of [a, b]) {
      expect(r.of('logout')).to.have.length(1)
      expect(r.of('logout')[0]!.reason).to.equal('storage-cleared')
      expect(r.session.getSnapshot()).to.deep.equal({ status: 'anonymous', reason: 'storage-cleared' })
    }
    assertNoLeak(made, [tokens.accessToken, tokens.refreshToken])
  })

  it('F42: store evicted between visits → clean signed-out start, no error or warning event', async () => {
    const name = fresh()
    const seed = make({ name })
    await seed.session.ready()
    const tokens = makeTokens(clock.now())
    await seed.session.login(tokens)
    await seed.session.destroy()
    expect((await deleteDb(dbName(name))).blocked).to.equal(false)
    const a = make({ name })
    expect((await a.session.ready()).status).to.equal('anonymous')
    expect(await a.session.getAccessToken()).to.equal(null)
    expect(a.events.map((e) => e.type)).to.deep.equal([])
    assertNoLeak(made, [tokens.accessToken, tokens.refreshToken])
  })
})

describe('faults: custom refresh function and configuration (F55, F56)', () => {
  let clock: ManualClock
  const { makeRecorded, recorders: made, destroyAll } = testSessions(() => ({ clock }))
  beforeEach(() => {
    clock = createManualClock()
  })
  afterEach(destroyAll)

  it('F55: throws a string / returns undefined / never resolves / returns {accessToken: 5} → typed errors, session kept until expiry', async () => {
    const outcomes: (() => Promise<unknown>)[] = [
      async () => {
        throw 'boom RT-55-rrrrrrrrrrrrrrrrrrrrrrrr'
      },
      async () => undefined,
      () => new Promise(() => {}),
      async () => ({ accessToken: 5, expiresAt: clock.now() + 1000 }),
    ]
    let i = 0
    const r = makeRecorded({ ...TAB_LOCAL, refreshTimeoutMs: 2_000, refresh: () => outcomes[i]!() as Promise<TokenSet> })
    await r.session.ready()
    const tokens = makeTokens(clock.now(), { expiresAt: clock.now() + 3_600_000, refreshToken: 'RT-55-rrrrrrrrrrrrrrrrrrrrrrrr' })
    await r.session.login(tokens)
    const codes: string[] = []
    for (i = 0; i < outcomes.length; i++) {
      const pending = r.session.refresh().then(() => null, (e: unknown) => e)
      if (i === 2) await clock.advance(2_001)
      const err = await pending
      expect(err).to.be.instanceOf(SessionError)
      codes.push((err as SessionError).code)
      await clock.advance(6 * 60_000) // past any backoff (the scheduled retries fail the same way)
      // A scheduled retry (its backoff is random) may have started at the very end: let it end (at worst it
      // times out) before the next outcome is chosen, or it would run with that one and the next refresh()
      // would join it.
      for (let k = 0; k < 5 && r.session.getSnapshot().status === 'authenticated' && (r.session.getSnapshot() as { refreshing: boolean }).refreshing; k++) await clock.advance(2_001)
      expect((r.session.getSnapshot() as { refreshing?: boolean }).refreshing, 'no refresh left running').to.equal(false)
    }
    expect(codes).to.deep.equal(['server_error', 'invalid_token_response', 'timeout', 'invalid_token_response'])
    const snap = r.session.getSnapshot()
    expect(snap.status === 'authenticated' && snap.tokens.accessToken, 'kept until expiry').to.equal(tokens.accessToken)
    expect(r.of('logout')).to.deep.equal([])
    expect(r.codes('refresh-error').length).to.be.greaterThan(3)
    // After expiry: on demand it rejects with the typed error, and the refresh token is kept for later.
    i = 3
    await clock.advance(3_600_000)
    const err = await r.session.getAccessToken().then(() => null, (e: unknown) => e)
    expect(isSessionError(err, 'invalid_token_response')).to.equal(true)
    const after = r.session.getSnapshot()
    expect(after.status, 'the session (and its refresh token) is kept for later').to.equal('authenticated')
    assertNoLeak(made, [tokens.accessToken, tokens.refreshToken])
  })

  it('F56: bad configuration fails at construction, not at the first refresh', async () => {
    const { refreshTokenGrant } = await import('../../src/oauth/index')
    const bad: [string, () => unknown][] = [
      ['warning ≥ idle', () => createSession({ idle: { timeoutMs: 1000, warningMs: 1000 } })],
      ['negative refreshTimeoutMs', () => createSession({ refreshTimeoutMs: -1 })],
      ['negative refreshLeadMs', () => createSession({ refreshLeadMs: -5 })],
      ['zero maxSessionMs', () => createSession({ maxSessionMs: 0 })],
      ['NaN idle timeout', () => createSession({ idle: { timeoutMs: Number.NaN } })],
      ['missing client_id', () => refreshTokenGrant({ tokenEndpoint: 'https://id.example.com/token' } as never)],
      ['empty client_id', () => refreshTokenGrant({ tokenEndpoint: 'https://id.example.com/token', clientId: '' })],
    ]
    for (const [label, build] of bad) expect(build, label).to.throw(TypeError)
    for (const endpoint of ['http://id.example.com/token', 'ftp://127.0.0.1/token', '/token', 'https://id.example.com/token#x']) {
      let caught: unknown
      try {
        refreshTokenGrant({ tokenEndpoint: endpoint, clientId: 'spa' })
      } catch (e) {
        caught = e
      }
      expect(isSessionError(caught, 'configuration'), endpoint).to.equal(true)
    }
    expect(() => refreshTokenGrant({ tokenEndpoint: 'http://127.0.0.1:1/token', clientId: 'spa' })).not.to.throw()
  })
})
