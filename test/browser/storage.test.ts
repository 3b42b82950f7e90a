import '../support/setup'
import { expect } from 'chai'
import { openDB } from 'idb'
import { createIndexedDBStorage } from '../../src/index'
import { systemClock } from '../../src/clock'
import type { SessionEventMap } from '../../src/types'
import { leaks, makeTokens, nextEvent, testSessions, uniqueName, until } from '../support/util'

const dbName = (name: string) => `sessionkeeper:${name}`

/** Reads every raw record of the SDK database (as an attacker dumping storage would). */
async function dump(name: string): Promise<Record<string, unknown>> {
  const db = await openDB(dbName(name))
  try {
    const out: Record<string, unknown> = {}
    for (const store of db.objectStoreNames) {
      const keys = await db.getAllKeys(store)
      for (const key of keys) out[`${store}/${String(key)}`] = await db.get(store, key)
    }
    return out
  } finally {
    db.close()
  }
}

function rawText(value: unknown): string {
  const parts: string[] = []
  const walk = (v: unknown) => {
    if (v instanceof ArrayBuffer) parts.push(new TextDecoder().decode(v))
    else if (ArrayBuffer.isView(v)) parts.push(new TextDecoder().decode(v as Uint8Array))
    else if (typeof v === 'object' && v !== null) Object.values(v).forEach(walk)
    else parts.push(String(v))
  }
  walk(value)
  return parts.join('|')
}

describe('storage: IndexedDB, encrypted at rest', () => {
  const { make, destroyAll } = testSessions({ sync: false }, { start: false })
  afterEach(destroyAll)

  it('stores ciphertext only, under a non-extractable key, and restores it in a new instance', async () => {
    const name = uniqueName()
    const a = make({ name })
    const stopA = a.start()
    await a.ready()
    const tokens = makeTokens(Date.now(), { idToken: 'ID-token-iiiiiiiiiiiiiiiiiiii' })
    await a.login(tokens)
    const records = await dump(name)
    expect(Object.keys(records).sort()).to.deep.equal(['kv/activity', 'kv/aes', 'kv/session'])
    expect(leaks(rawText(records), [tokens.accessToken, tokens.refreshToken, tokens.idToken])).to.equal(false)
    const key = records['kv/aes'] as CryptoKey
    expect(key).to.be.instanceOf(CryptoKey)
    expect(key.extractable).to.equal(false)
    const exported = await crypto.subtle.exportKey('raw', key).then(() => 'exported', (e: Error) => e.name)
    expect(exported).to.equal('InvalidAccessError')
    stopA()

    const b = make({ name }) // a reload / a new tab
    b.start()
    const restored = nextEvent(b, 'login')
    const snap = await b.ready()
    expect(snap.status).to.equal('authenticated')
    expect(await restored).to.deep.equal({ remote: false, restored: true })
    expect(await b.getAccessToken()).to.equal(tokens.accessToken)
  })

  it('a lifecycle event during hydration does not turn the restore into a remote login', async () => {
    const name = uniqueName()
    const a = make({ name })
    a.start()
    await a.ready()
    await a.login(makeTokens(Date.now()))
    const b = make({ name }) // a plain page load: pageshow fires while the session is still loading
    const logins: unknown[] = []
    b.on('login', (e) => logins.push(e))
    b.start()
    window.dispatchEvent(new Event('pageshow'))
    document.dispatchEvent(new Event('visibilitychange'))
    await b.ready()
    await until(async () => {
      await new Promise((r) => setTimeout(r, 20))
      return true
    })
    expect(logins).to.deep.equal([{ remote: false, restored: true }])
  })

  it('destroy() right after a logout (an unmount on sign-out) still wipes storage', async () => {
    const name = uniqueName()
    const s = make({ name })
    s.start()
    await s.ready()
    await s.login(makeTokens(Date.now()))
    const done = new Promise<void>((resolve) => s.on('logout', () => void s.destroy().then(resolve)))
    void s.logout()
    await done
    const again = make({ name })
    again.start()
    expect(await again.ready()).to.deep.equal({ status: 'anonymous', reason: null })
  })

  it("persist: 'memory' writes nothing to IndexedDB", async () => {
    const name = uniqueName()
    const s = make({ name, persist: 'memory' })
    s.start()
    await s.ready()
    await s.login(makeTokens(Date.now()))
    const dbs = await indexedDB.databases()
    expect(dbs.map((d) => d.name)).to.not.include(dbName(name))
  })

  it('logout wipes every record but the key, leaving only a token-free tombstone', async () => {
    const name = uniqueName()
    const s = make({ name })
    s.start()
    await s.ready()
    const tokens = makeTokens(Date.now())
    await s.login(tokens)
    await s.logout()
    const records = await dump(name)
    expect(Object.keys(records).sort()).to.deep.equal(['kv/aes', 'kv/session'])
    expect(leaks(rawText(records), [tokens.accessToken, tokens.refreshToken])).to.equal(false)
    const again = make({ name })
    again.start()
    expect(await again.ready()).to.deep.equal({ status: 'anonymous', reason: null })
  })

  it('discards corrupt or hostile records: signed-out start, storage_corrupt warning, no throw, no pollution', async () => {
    const name = uniqueName()
    // Let the SDK create its database and key, then tamper with the records.
    const s0 = make({ name })
    s0.start()
    await s0.ready()
    await s0.login(makeTokens(Date.now()))
    await s0.destroy()
    const hostile: unknown[] = [
      JSON.parse('{"v":1,"iv":"nope","data":"x","__proto__":{"admin":true}}'),
      { v: 1, iv: new Uint8Array(12), data: new ArrayBuffer(64) }, // does not decrypt
      { v: 1, iv: new Uint8Array(12), data: new ArrayBuffer(5 * 1024 * 1024) }, // 5 MB blob
      'truncated {"accessToken":',
      42,
    ]
    for (const record of hostile) {
      const db = await openDB(dbName(name))
      await db.put('kv', record, 'session')
      db.close()
      const s = make({ name })
      const warnings: string[] = []
      s.on('warning', (e) => warnings.push(e.error.code))
      s.start()
      expect(await s.ready()).to.deep.equal({ status: 'anonymous', reason: null })
      expect(warnings).to.include('storage_corrupt')
      expect(({} as Record<string, unknown>).admin).to.equal(undefined)
      await s.destroy()
    }
  })

  it('a record from a newer SDK is never overwritten: memory mode instead', async () => {
    const name = uniqueName()
    const db = await openDB(dbName(name), 7, { upgrade: (d) => void d.createObjectStore('future') })
    await db.put('future', { keep: 'me' }, 'x')
    db.close()
    const s = make({ name })
    const degraded = nextEvent(s, 'storage-degraded')
    s.start()
    await s.ready()
    expect((await degraded).error.code).to.equal('storage_version_newer')
    await s.login(makeTokens(Date.now()))
    expect(s.getSnapshot().status).to.equal('authenticated')
    const after = await openDB(dbName(name))
    expect(after.version).to.equal(7)
    expect(await after.get('future', 'x')).to.deep.equal({ keep: 'me' })
    after.close()
  })

  it('falls back to memory with one storage-degraded event when IndexedDB throws', async () => {
    const realOpen = IDBFactory.prototype.open
    IDBFactory.prototype.open = function () {
      throw new DOMException('denied', 'SecurityError')
    }
    try {
      const s = make()
      const degraded: SessionEventMap['storage-degraded'][] = []
      s.on('storage-degraded', (e) => degraded.push(e))
      s.start()
      await s.ready()
      const tokens = makeTokens(Date.now())
      await s.login(tokens)
      await s.logout()
      await s.login(tokens)
      expect(degraded.map((d) => d.error.code)).to.deep.equal(['storage_unavailable'])
      expect(await s.getAccessToken()).to.equal(tokens.accessToken)
    } finally {
      IDBFactory.prototype.open = realOpen
    }
  })

  it('a failed write keeps the tokens in memory and is retried once on a fresh connection', async () => {
    const name = uniqueName()
    const s = make({ name })
    s.start()
    await s.ready()
    const realPut = IDBObjectStore.prototype.put
    let failures = 1
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
      if (failures-- > 0) throw new DOMException('full', 'QuotaExceededError')
      return realPut.apply(this, args)
    }
    try {
      const degraded: unknown[] = []
      s.on('storage-degraded', (e) => degraded.push(e))
      const tokens = makeTokens(Date.now())
      await s.login(tokens)
      expect(degraded).to.have.length(0) // the retry succeeded
      expect(await s.getAccessToken()).to.equal(tokens.accessToken)
    } finally {
      IDBObjectStore.prototype.put = realPut
    }
    const other = make({ name })
    other.start()
    expect((await other.ready()).status).to.equal('authenticated')
  })

  it('closes its connection on versionchange so another tab can upgrade', async () => {
    const name = uniqueName()
    const s = make({ name })
    s.start()
    await s.ready()
    await s.login(makeTokens(Date.now()))
    const upgraded = await new Promise<number>((resolve, reject) => {
      const request = indexedDB.open(dbName(name), 2)
      request.onsuccess = () => {
        request.result.close()
        resolve(request.result.version)
      }
      request.onerror = () => reject(request.error)
      request.onblocked = () => reject(new Error('blocked: the SDK did not close its connection'))
    })
    expect(upgraded).to.equal(2)
  })

  it('signs out with reason storage-cleared when the database is deleted elsewhere', async () => {
    const name = uniqueName()
    const s = make({ name })
    s.start()
    await s.ready()
    await s.login(makeTokens(Date.now()))
    const logout = nextEvent(s, 'logout')
    const deleted = new Promise<string>((resolve) => {
      const request = indexedDB.deleteDatabase(dbName(name))
      request.onsuccess = () => resolve('deleted')
      request.onblocked = () => resolve('blocked')
    })
    expect(await logout).to.deep.equal({ reason: 'storage-cleared', remote: true })
    expect(await deleted).to.equal('deleted')
  })

  it('the adapter encrypts values and reads them back', async () => {
    const name = uniqueName()
    const storage = createIndexedDBStorage(name, systemClock)
    try {
      await storage.set('activity', { at: 123 })
      expect(await storage.get('activity')).to.deep.equal({ at: 123 })
      expect(await storage.add?.('lock', { owner: 'a' })).to.deep.equal({ owner: 'a' })
      expect(await storage.add?.('lock', { owner: 'b' })).to.deep.equal({ owner: 'a' })
      await storage.clear()
      expect(await storage.get('activity')).to.equal(undefined)
    } finally {
      storage.close()
    }
    await until(async () => (await indexedDB.databases()).some((d) => d.name === dbName(name)), 1000, 'db')
  })
})
