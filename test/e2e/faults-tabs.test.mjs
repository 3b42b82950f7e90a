// Fault list §2.2 F12, §2.6 F44–F46 and §2.7 F53–F54, plus logout revocation (ST-7/ST-8), against the
// real oidc-provider with several tabs of one browser context. Every test asserts the AS-side
// invariants (exact grant counts, no grant revoked by a replay) and ends with the LEAK-CHECK.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, requireBundle, waitFor, safeJson } from './support/harness.mjs';
import { launchChromium } from './support/browser.mjs';
import { assertSameValidToken, assertNoGrantError, eventsPerTab } from './support/assertions.mjs';

requireBundle(); // fails the run (never skips) when dist/ was not built

/**
 * The SDK's stored session record, decrypted in the page with the database's own (non-extractable) key:
 * `{ ended }` for the token-free sign-out tombstone, 'session' for a live session, null when absent.
 */
const storedSession = (page, name = 'e2e') =>
  page.evaluate(async (db) => {
    const conn = await new Promise((resolve, reject) => {
      const r = indexedDB.open(`sessionkeeper:${db}`);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    try {
      const get = (key) => new Promise((resolve) => {
        const q = conn.transaction('kv').objectStore('kv').get(key);
        q.onsuccess = () => resolve(q.result);
      });
      const [raw, key] = [await get('session'), await get('aes')];
      if (!raw) return null;
      const plain = JSON.parse(new TextDecoder().decode(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: raw.iv }, key, raw.data)));
      return plain.ended ? { ended: plain.ended } : plain.tokens ? 'session' : 'unknown';
    } finally {
      conn.close();
    }
  }, name);

/** A loopback server that accepts requests and never answers. */
async function blackHole() {
  const { createServer } = await import('node:http');
  const held = new Set();
  const server = createServer((req, res) => { held.add(res); req.on('close', () => held.delete(res)); });
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/token`,
    pending: () => held.size,
    close: () => new Promise((resolve) => { server.close(() => resolve()); for (const s of sockets) s.destroy(); }),
  };
}

describe('multi-tab faults against oidc-provider', { timeout: 120_000 }, () => {
  let browser;
  before(async () => { browser = await launchChromium(); });
  after(() => browser?.close());

  test('F12/RF-3: a tab holding a stale RT re-reads storage under the lock and never sends it', async (t) => {
    const h = await createHarness(t, { browser, provider: { accessTokenTtl: 60 } });
    const a = await h.openTab();
    const b = await h.openTab({ sync: '0' }); // B hears no messages: its memory goes stale
    const minted = await h.mintAndLogin(a);
    await b.reload(); // B picks the session up from storage
    await h.ready(b);
    assert.equal((await h.state(b)).refreshToken, minted.refreshToken);
    assert.ok((await h.call(a, 'refresh')).ok);
    const rotated = (await h.state(a)).refreshToken;
    assert.notEqual(rotated, minted.refreshToken);
    assert.equal((await h.state(b)).refreshToken, minted.refreshToken, 'B still holds the consumed RT in memory');
    const r = await h.call(b, 'refresh');
    assert.ok(r.ok, safeJson(r));
    assert.equal((await h.state(b)).refreshToken, rotated, 'B adopted the stored tokens');
    assert.equal(h.events.refreshGrants, 1, `B sent nothing: ${safeJson(h.events.summary())}`);
    h.assertNoRevocation();
    assertNoGrantError(h);
    await h.assertNoLeaks();
  });

  test('F44/XT-2/ST-5: no BroadcastChannel → sync through the fallback, no token in its on-disk messages', async (t) => {
    const h = await createHarness(t, { browser, provider: { accessTokenTtl: 60 } });
    await h.context.addInitScript('delete window.BroadcastChannel');
    const pages = await h.openTabs(3);
    assert.equal(await pages[0].evaluate(() => typeof window.BroadcastChannel), 'undefined');
    const minted = await h.mintAndLogin(pages[0]);
    await h.waitAll(pages, (s) => s.status === 'authenticated', { message: 'login reached every tab through the fallback', timeout: 5_000 });
    assert.ok((await h.call(pages[1], 'refresh')).ok);
    await h.waitAll(pages, (s) => s.accessToken !== minted.accessToken, { message: 'refresh reached every tab', timeout: 5_000 });
    await assertSameValidToken(h, pages);
    // Snapshot the fallback's persisted messages (IndexedDB `pubkey.broadcast-channel-0-*`, localStorage
    // `pubkey.broadcastChannel-*`) while they are still there: the LEAK-CHECK below dumps both.
    const stores = await pages[0].evaluate(async () => ({
      idb: (await indexedDB.databases()).map((d) => d.name),
      ls: Object.keys(localStorage),
    }));
    t.diagnostic(`fallback storage: ${safeJson(stores)}`);
    assert.ok(stores.idb.some((n) => n.startsWith('pubkey.broadcast-channel')) || stores.ls.some((k) => k.startsWith('pubkey.broadcastChannel')), 'a fallback method was used');
    await h.call(pages[2], 'logout');
    await h.waitAll(pages, (s) => s.status === 'anonymous', { message: 'logout reached every tab', timeout: 5_000 });
    for (const [i, list] of (await eventsPerTab(h, pages, 'logout')).entries()) assert.equal(list.length, 1, `tab ${i + 1}: one logout`);
    assert.equal(h.events.refreshGrants, 1);
    h.assertNoRevocation();
    await h.assertNoLeaks();
  });

  test('F45/XT-3: no navigator.locks → lease lock keeps RF-2: 3 tabs, expired AT, 1 grant, 0 revoked', async (t) => {
    const h = await createHarness(t, { browser, provider: { accessTokenTtl: 60 } });
    await h.context.addInitScript('delete Navigator.prototype.locks');
    await h.context.clock.install({ time: Date.now() });
    const pages = await h.openTabs(3);
    await h.context.clock.pauseAt(Date.now() + 2_000);
    assert.equal(await pages[0].evaluate(() => 'locks' in navigator), false);
    const minted = await h.mintAndLogin(pages[0]);
    await h.waitAll(pages, (s) => s.status === 'authenticated', { message: 'all tabs signed in' });
    await h.context.clock.setSystemTime(minted.expiresAt + 1_000);
    await h.context.clock.resume(); // the lease lock polls with timers: let them run
    const results = (await Promise.all(pages.map((p) => p.evaluate(() => window.harness.getTokens(5))))).flat();
    assert.deepEqual(results.filter((r) => !r.ok), [], 'every call resolved');
    assert.equal(new Set(results.map((r) => r.token)).size, 1, 'one token for all 15 calls');
    assert.equal(h.events.refreshGrants, 1, `one refresh grant: ${safeJson(h.events.summary())}`);
    h.assertNoRevocation();
    assertNoGrantError(h);
    await h.assertNoLeaks();
  });

  for (const variant of ['Web Locks', 'lease (no navigator.locks)']) {
    test(`F46/XT-4 (${variant}): a tab closed while holding the lock does not wedge the others`, async (t) => {
      const h = await createHarness(t, { browser, provider: { accessTokenTtl: 60 }, app: { refreshTimeoutMs: 2_000 } });
      if (variant !== 'Web Locks') await h.context.addInitScript('delete Navigator.prototype.locks');
      await h.context.clock.install({ time: Date.now() });
      // A's token endpoint is a loopback black hole: its refresh hangs while holding the lock, and the
      // request dies with the tab (a routed request would be let through to the AS when the tab closes).
      const hole = await blackHole();
      t.after(() => hole.close());
      const a = await h.openTab({ tokenEndpoint: hole.url });
      const b = await h.openTab();
      await h.context.clock.pauseAt(Date.now() + 2_000);
      const minted = await h.mintAndLogin(a);
      await h.waitAll([a, b], (s) => s.status === 'authenticated', { message: 'both signed in' });
      void a.evaluate(() => window.harness.call('refresh')).catch(() => {}); // A is closed mid-call
      await waitFor(() => hole.pending() === 1, { timeout: 3_000, message: "A's refresh request is in flight" });
      await a.close();
      // Web Locks release with the tab; a lease expires (refreshTimeoutMs + 10 s): move the clock past it.
      // (61 s on: past the access token's expiry and past the 12 s lease alike)
      await h.context.clock.setSystemTime(minted.expiresAt + 1_000);
      const t0 = Date.now();
      const r = await h.getToken(b);
      t.diagnostic(`B got a token ${Date.now() - t0} ms after A closed: ${safeJson({ ok: r.ok, code: r.error?.code })}`);
      assert.ok(r.ok && r.token && r.token !== minted.accessToken, `B refreshed: ${safeJson(r)}; B's events: ${safeJson((await h.log(b)).filter((e) => e.kind === 'event').map((e) => [e.type, e.payload.reason ?? e.payload.error?.code]))}; AS ${safeJson(h.events.log)}`);
      assert.equal(h.events.refreshGrants, 1);
      h.assertNoRevocation();
      await h.assertNoLeaks();
    });
  }

  test('F53/ER-3: logout() during an in-flight refresh → signed out everywhere, result discarded, nothing written after', async (t) => {
    const h = await createHarness(t, { browser, provider: { accessTokenTtl: 60 } });
    const [a, b] = await h.openTabs(2);
    const minted = await h.mintAndLogin(a);
    await h.waitAll([a, b], (s) => s.status === 'authenticated', { message: 'both signed in' });
    let release;
    const gate = new Promise((r) => (release = r));
    await h.context.route(h.as.tokenEndpoint, async (route) => {
      const res = await route.fetch(); // the AS answers (and rotates)...
      await gate; // ...but the answer is held until after the logout
      await route.fulfill({ response: res }).catch(() => {}); // the SDK may have aborted it
    });
    const pending = a.evaluate(() => window.harness.call('refresh'));
    await waitFor(() => h.events.refreshGrants === 1, { timeout: 3_000, message: 'the AS issued new tokens' });
    await h.call(a, 'logout');
    release();
    const r = await pending;
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'not_authenticated', safeJson(r.error));
    await h.waitAll([a, b], (s) => s.status === 'anonymous', { message: 'both signed out' });
    // Nothing resurrects the session: storage holds only the token-free tombstone, in both tabs' view.
    assert.deepEqual(await storedSession(a), { ended: 'user' });
    const late = await h.openTab();
    assert.equal((await h.state(late)).status, 'anonymous', 'a new tab starts signed out');
    for (const [i, list] of (await eventsPerTab(h, [a, b], 'logout')).entries()) assert.deepEqual(list.map((e) => e.payload.reason), ['user'], `tab ${i + 1}`);
    assert.deepEqual((await eventsPerTab(h, [a, b], 'refresh')).flat(), [], 'the discarded result was never adopted');
    assert.notEqual(minted.accessToken, null);
    await h.assertNoLeaks();
  });

  test('F54/XT-9: user 2 signs in in tab A while tab B refreshes user 1 → user 2 everywhere', async (t) => {
    const h = await createHarness(t, { browser, provider: { accessTokenTtl: 60 } });
    const [a, b] = await h.openTabs(2);
    await h.mintAndLogin(a, { accountId: 'user1' });
    await h.waitAll([a, b], (s) => s.status === 'authenticated', { message: 'both signed in as user 1' });
    let release;
    const gate = new Promise((r) => (release = r));
    let held = 0;
    await b.route(h.as.tokenEndpoint, async (route) => {
      held++;
      const res = await route.fetch();
      await gate;
      await route.fulfill({ response: res }).catch(() => {});
    });
    const pending = b.evaluate(() => window.harness.call('refresh'));
    await waitFor(() => h.events.refreshGrants === 1 && held === 1, { timeout: 3_000, message: "B's refresh reached the AS" });
    await h.call(a, 'logout');
    const user2 = await h.mintAndLogin(a, { accountId: 'user2' });
    release();
    const r = await pending;
    assert.equal(r.ok, false, `B's stale result is dropped: ${safeJson(r)}`);
    const states = await h.waitAll([a, b], (s) => s.accessToken === user2.accessToken, { message: 'user 2 in both tabs', timeout: 3_000 });
    assert.ok(states.every((s) => s.refreshToken === user2.refreshToken));
    const later = await h.openTab();
    assert.equal((await h.state(later)).accessToken, user2.accessToken, 'storage holds user 2');
    const rs = await a.evaluate(() => window.harness.sessionFetch());
    assert.equal(rs.status, 200);
    await h.assertNoLeaks();
  });
});

describe('logout revocation (ST-7, ST-8) with a fixture-side RFC 7009 revoke function', { timeout: 120_000 }, () => {
  let browser;
  before(async () => { browser = await launchChromium(); });
  after(() => browser?.close());

  const revokeRt = (h, rt) =>
    fetch(h.as.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt, client_id: 'spa' }),
    });

  test('ST-8: logout revokes the refresh token: the old RT then gets invalid_grant', async (t) => {
    const h = await createHarness(t, { browser, provider: { accessTokenTtl: 60, revocation: true } });
    h.defaults.revocationEndpoint = `${h.as.issuer}/token/revocation`;
    const pages = await h.openTabs(2);
    const minted = await h.mintAndLogin(pages[0]);
    await h.waitAll(pages, (s) => s.status === 'authenticated', { message: 'both signed in' });
    await h.call(pages[1], 'logout');
    await h.waitAll(pages, (s) => s.status === 'anonymous', { message: 'both signed out' });
    await waitFor(async () => !(await h.as.isRefreshTokenActive(minted.refreshToken)), { timeout: 3_000, message: 'RT revoked at the AS' });
    const res = await revokeRt(h, minted.refreshToken);
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error, 'invalid_grant');
    assert.deepEqual((await eventsPerTab(h, pages, 'warning')).flat(), [], 'no revocation_failed warning');
    h.assertNoRevocation({ allowLogoutRevocation: true });
    await h.assertNoLeaks();
  });

  test('ST-7: offline logout in 1 of 3 tabs signs every tab out, clears storage, one revocation_failed warning', async (t) => {
    const h = await createHarness(t, { browser, provider: { accessTokenTtl: 60, revocation: true } });
    h.defaults.revocationEndpoint = `${h.as.issuer}/token/revocation`;
    const pages = await h.openTabs(3);
    const minted = await h.mintAndLogin(pages[0]);
    await h.waitAll(pages, (s) => s.status === 'authenticated', { message: 'all signed in' });
    await h.context.setOffline(true);
    const t0 = Date.now();
    await h.call(pages[0], 'logout');
    await h.waitAll(pages, (s) => s.status === 'anonymous', { message: 'every tab signed out while offline', timeout: 1_000 });
    t.diagnostic(`all tabs signed out ${Date.now() - t0} ms after logout() (offline)`);
    const warnings = await waitFor(async () => {
      const all = (await eventsPerTab(h, pages, 'warning')).flat();
      return all.length ? all : false;
    }, { timeout: 3_000, message: 'a revocation_failed warning' });
    assert.deepEqual(warnings.map((w) => w.payload.error.code), ['revocation_failed'], 'exactly one, in the tab that logged out');
    assert.deepEqual(await storedSession(pages[1]), { ended: 'user' }, 'storage cleared (token-free tombstone only)');
    for (const [i, list] of (await eventsPerTab(h, pages, 'logout')).entries()) assert.deepEqual(list.map((e) => e.payload.reason), ['user'], `tab ${i + 1}`);
    await h.context.setOffline(false);
    assert.equal(await h.as.isRefreshTokenActive(minted.refreshToken), true, 'the RT survived at the AS (revocation could not be sent)');
    await h.assertNoLeaks();
  });
});
