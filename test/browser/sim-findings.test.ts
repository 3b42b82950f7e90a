import '../support/setup'
import { expect } from 'chai'
import { createIndexedDBStorage, systemClock } from '../../src/index'
import { makeTokens, nextEvent, testSessions, uniqueName } from '../support/util'

// Defects the multi-tab simulation found (test/sim/scenarios.mjs replays each one; these check the same
// behaviour with real IndexedDB). Each failed before its fix.

describe('simulation findings', () => {
  let name: string
  const { make: tab, destroyAll } = testSessions(() => ({ name }))
  beforeEach(() => {
    name = uniqueName('sf')
  })
  afterEach(destroyAll)

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
