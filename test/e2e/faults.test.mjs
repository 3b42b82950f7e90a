// RF-7 / RF-8 / F17 / F20 / F21 / F11: transient token-endpoint failures keep the session in every tab
// and it recovers once the fault is lifted; a definitive invalid_grant signs every tab out exactly once
// with reason 'reauth-required'.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, requireBundle, waitFor, delay, safeJson } from './support/harness.mjs';
import { launchChromium } from './support/browser.mjs';
import { assertSameValidToken, assertNoGrantError, eventsPerTab } from './support/assertions.mjs';

requireBundle(); // fails the run (never skips) when dist/ was not built

const TTL = 4; // s
const LEAD = 1_500; // ms: proactive refresh attempts start 2.5 s after sign-in

/** Signs in `n` tabs, installs `fault` on the token endpoint for every tab, waits until the AT expired. */
async function faultScenario(t, browser, { n = 3, app = {}, install, lift }) {
  const h = await createHarness(t, { browser, provider: { accessTokenTtl: TTL }, app: { refreshLeadMs: LEAD, ...app } });
  const pages = await h.openTabs(n);
  const minted = await h.mintAndLogin(pages[0]);
  await h.waitAll(pages, (s) => s.status === 'authenticated', { message: 'all tabs signed in' });
  const hits = { count: 0 };
  await install(h, hits);
  // Through the lead window and past expiry: the SDK keeps trying (proactively) and keeps failing.
  await waitFor(() => Date.now() > minted.expiresAt + 1_000, { timeout: TTL * 1000 + 3_000, interval: 100, message: 'the access token expired' });
  const during = await h.states(pages);
  return { h, pages, minted, hits, during, lift: () => lift(h) };
}

/** Asserts the session survived the fault everywhere and recovers on demand once it is lifted. */
async function assertKeptThenRecovers(t, { h, pages, minted, hits, during, lift }, { code, maxAttempts = 12 }) {
  const summary = () => safeJson(h.events.summary());
  assert.ok(during.every((s) => s.status === 'authenticated'), `session kept in every tab during the fault: ${safeJson(during)}`);
  assert.ok(during.every((s) => s.accessToken === minted.accessToken), 'still the original tokens');
  assert.ok(hits.count >= 1, 'the SDK did try to refresh during the fault');
  assert.ok(hits.count <= maxAttempts, `no retry storm: ${hits.count} token requests during the fault`);
  const errors = (await eventsPerTab(h, pages, 'refresh-error')).flat();
  assert.ok(errors.length >= 1, 'refresh-error was emitted');
  for (const e of errors) {
    assert.equal(e.payload.error.code, code, `refresh-error code: ${safeJson(e.payload.error)}`);
    assert.equal(e.payload.error.retryable, true, 'transient errors are retryable');
    assert.equal(typeof e.payload.retryAt, 'number', 'a retry is scheduled');
  }
  const logouts = (await eventsPerTab(h, pages, 'logout')).flat();
  assert.deepEqual(logouts, [], 'no logout event during the fault');

  // On demand, with the token expired and the fault still on: a typed, retryable rejection, no logout.
  const onDemand = await h.getToken(pages[1]);
  assert.equal(onDemand.ok, false, `getAccessToken() with an expired token during the fault must not resolve a token: ${safeJson(onDemand)}`);
  assert.equal(onDemand.error.code, code);
  assert.equal(onDemand.error.retryable, true);
  assert.equal(h.events.refreshGrants, 0, 'no grant reached the AS during the fault');

  await lift();
  const t0 = Date.now();
  const recovered = await h.getToken(pages[1]);
  assert.ok(recovered.ok && recovered.token && recovered.token !== minted.accessToken, `recovers once the fault is lifted: ${safeJson(recovered)}`);
  await h.waitAll(pages, (s) => s.accessToken === recovered.token, { message: 'every tab adopted the recovered token', timeout: 3_000 });
  t.diagnostic(`recovered in ${Date.now() - t0} ms after ${hits.count} failed token requests; AS ${summary()}`);
  assert.ok(h.events.refreshGrants >= 1 && h.events.refreshGrants <= 2, `one recovery grant (a scheduled retry may add one more): ${summary()}`);
  h.assertNoRevocation();
  assertNoGrantError(h);
  await assertSameValidToken(h, pages);
  assert.deepEqual((await eventsPerTab(h, pages, 'logout')).flat(), [], 'still no logout event');
  await h.assertNoLeaks();
}

describe('token endpoint faults (RF-7, RF-8)', {}, () => {
  let browser;
  before(async () => { browser = await launchChromium(); });
  after(() => browser?.close());

  test('500 from the token endpoint: session kept, no logout, recovers (F17)', { timeout: 40_000 }, async (t) => {
    let handler;
    const s = await faultScenario(t, browser, {
      install: async (h, hits) => {
        handler = (route) => {
          hits.count++;
          return route.fulfill({ status: 500, contentType: 'application/json', body: '{"error":"server_error"}' });
        };
        await h.context.route(h.as.tokenEndpoint, handler);
      },
      lift: (h) => h.context.unroute(h.as.tokenEndpoint, handler),
    });
    await assertKeptThenRecovers(t, s, { code: 'server_error' });
  });

  test('hanging token endpoint: aborted at refreshTimeoutMs, lock released, recovers (F21, RF-8)', { timeout: 40_000 }, async (t) => {
    let handler;
    const pending = [];
    const s = await faultScenario(t, browser, {
      app: { refreshTimeoutMs: 800 },
      install: async (h, hits) => {
        handler = (route) => {
          hits.count++;
          pending.push(route); // never answered
        };
        await h.context.route(h.as.tokenEndpoint, handler);
      },
      lift: async (h) => {
        await h.context.unroute(h.as.tokenEndpoint, handler);
        for (const r of pending) await r.abort().catch(() => {});
      },
    });
    const errors = (await eventsPerTab(s.h, s.pages, 'refresh-error')).flat();
    assert.ok(errors.length >= 1 && errors.every((e) => e.payload.error.code === 'timeout'), `refresh-error code timeout: ${safeJson(errors.map((e) => e.payload.error.code))}`);
    // The lock is free: no tab holds or waits for it once no refresh is in flight.
    const locks = await s.pages[0].evaluate(async () => {
      const q = await navigator.locks.query();
      return { held: q.held.map((l) => l.name), pending: q.pending.map((l) => l.name) };
    });
    t.diagnostic(`locks after the timeouts: ${safeJson(locks)}`);
    await assertKeptThenRecovers(t, s, { code: 'timeout' });
  });

  test('context offline: network error, session kept, retried on online (F20)', { timeout: 40_000 }, async (t) => {
    const s = await faultScenario(t, browser, {
      install: async (h, hits) => {
        h.context.on('request', (r) => { if (r.url() === h.as.tokenEndpoint) hits.count++; });
        await h.context.setOffline(true);
      },
      lift: (h) => h.context.setOffline(false),
    });
    // Offline requests still show up as 'request' events in Chromium, so hits counts attempts.
    const { h, pages } = s;
    const summary = () => safeJson(h.events.summary());
    assert.ok(s.during.every((x) => x.status === 'authenticated'), 'kept while offline');
    const errors = (await eventsPerTab(h, pages, 'refresh-error')).flat();
    assert.ok(errors.length >= 1, 'refresh-error while offline');
    assert.ok(errors.every((e) => e.payload.error.code === 'network' && e.payload.error.retryable), `network, retryable: ${safeJson(errors.map((e) => e.payload.error))}`);
    assert.deepEqual((await eventsPerTab(h, pages, 'logout')).flat(), [], 'no logout while offline');
    const onDemand = await h.getToken(pages[1]);
    assert.equal(onDemand.ok, false, 'no expired token handed out while offline');
    assert.equal(onDemand.error.code, 'network');

    // Back online: the SDK retries at once on the `online` event, nobody has to call it.
    const t0 = Date.now();
    await s.lift();
    await waitFor(() => h.events.refreshGrants >= 1, { timeout: 3_000, message: `a refresh on 'online' (AS ${summary()})` });
    const { token } = await waitFor(async () => {
      try {
        return await assertSameValidToken(h, pages);
      } catch {
        return false;
      }
    }, { timeout: 3_000, message: 'every tab on the refreshed token' });
    t.diagnostic(`refreshed ${Date.now() - t0} ms after going online; AS ${summary()}`);
    assert.notEqual(token, s.minted.accessToken);
    assert.equal(h.events.refreshGrants, 1, `exactly one grant after going online: ${summary()}`);
    h.assertNoRevocation();
    assertNoGrantError(h);
    await h.assertNoLeaks();
  });
});

describe('definitive refresh failure (RF-7, F11)', {}, () => {
  let browser;
  before(async () => { browser = await launchChromium(); });
  after(() => browser?.close());

  /** Waits until every tab has signed out and checks: once each, reason reauth-required. */
  async function assertSignedOutOnce(h, pages) {
    const logouts = await waitFor(async () => {
      const all = await eventsPerTab(h, pages, 'logout');
      return all.every((l) => l.length >= 1) ? all : false;
    }, { timeout: TTL * 1000 + 5_000, message: 'a logout event in every tab' });
    await delay(300); // a duplicate would follow right away: give it a chance to show
    const again = await eventsPerTab(h, pages, 'logout');
    for (const [i, list] of again.entries()) {
      assert.equal(list.length, 1, `tab ${i + 1}: signed out exactly once (${safeJson(list.map((e) => e.payload))})`);
      assert.equal(list[0].payload.reason, 'reauth-required',
        `SDK BUG (reason lost): tab ${i + 1} was signed out with reason '${list[0].payload.reason}' instead of 'reauth-required' ` +
        `(remote=${list[0].payload.remote}). A tab that finds the session gone by re-reading storage (after taking the refresh ` +
        `lock, or with its logout message coalesced into a running sync) falls back to 'user'. All tabs: ` +
        safeJson(again.map((l) => l.map((e) => e.payload))));
    }
    const states = await h.states(pages);
    assert.ok(states.every((s) => s.status === 'anonymous' && s.reason === 'reauth-required'), safeJson(states));
    return logouts;
  }

  test('grant revoked at the AS: every tab (5) signed out exactly once, reason reauth-required', { timeout: 30_000 }, async (t) => {
    const h = await createHarness(t, { browser, provider: { accessTokenTtl: TTL }, app: { refreshLeadMs: LEAD } });
    const pages = await h.openTabs(5);
    const minted = await h.mintAndLogin(pages[0]);
    await h.waitAll(pages, (s) => s.status === 'authenticated', { message: 'all tabs signed in' });
    await h.as.revokeGrant(minted.grantId); // admin "sign out everywhere"
    // The proactive refresh (timer) meets invalid_grant.
    await assertSignedOutOnce(h, pages);
    assert.equal(h.events.grantError.invalid_grant, 1, `exactly one invalid_grant: no retries, no other tab tried (${safeJson(h.events.summary())})`);
    assert.equal(h.events.refreshGrants, 0);
    // Storage is empty: a new tab starts signed out.
    const late = await h.openTab();
    assert.equal((await h.state(late)).status, 'anonymous');
    await h.assertNoLeaks();
  });

  test('grant revoked, then 5 tabs ask for a token at once (expired AT): one invalid_grant, all out with reauth-required', { timeout: 30_000 }, async (t) => {
    const h = await createHarness(t, { browser, provider: { accessTokenTtl: 30 }, app: { refreshLeadMs: LEAD } });
    await h.context.clock.install({ time: Date.now() });
    const pages = await h.openTabs(5);
    await h.context.clock.pauseAt(Date.now() + 2_000); // no SDK timer runs from here on
    const minted = await h.mintAndLogin(pages[0]);
    await h.waitAll(pages, (s) => s.status === 'authenticated', { message: 'all tabs signed in' });
    await h.as.revokeGrant(minted.grantId);
    await h.context.clock.setSystemTime(minted.expiresAt + 2_000);
    const results = await Promise.all(pages.map((p) => h.getToken(p)));
    assert.ok(results.every((r) => (r.ok && r.token === null) || (!r.ok && r.error.code === 'reauth_required')), `no token handed out: ${safeJson(results)}`);
    await assertSignedOutOnce(h, pages);
    assert.equal(h.events.grantError.invalid_grant, 1,
      `SDK BUG (dead refresh token sent again): ${h.events.grantError.invalid_grant} invalid_grant at the AS; expected 1. The tab that ` +
      `got invalid_grant releases the refresh lock before end() wipes storage, so the next tab in the lock queue re-reads the ` +
      `dead record and sends the same rejected refresh token. AS ${safeJson(h.events.summary())}`);
    assert.equal(h.events.refreshGrants, 0);
    await h.assertNoLeaks();
  });

  test('refresh token replayed by a third party: the family dies, every tab (3) signed out once', { timeout: 30_000 }, async (t) => {
    const h = await createHarness(t, { browser, provider: { accessTokenTtl: 30 }, app: { refreshLeadMs: LEAD } });
    const pages = await h.openTabs(3);
    const minted = await h.mintAndLogin(pages[0]);
    await h.waitAll(pages, (s) => s.status === 'authenticated', { message: 'all tabs signed in' });
    // One legitimate rotation in tab 2...
    assert.ok((await h.call(pages[1], 'refresh')).ok);
    await h.waitAll(pages, (s) => s.refreshToken !== minted.refreshToken, { message: 'all tabs hold the rotated RT' });
    // ...then an attacker replays the stolen original RT: the AS detects reuse and revokes the grant.
    const replay = await fetch(h.as.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: minted.refreshToken, client_id: 'spa' }),
    });
    assert.equal(replay.status, 400);
    assert.equal(h.events.grantRevoked, 1, 'the AS revoked the family (this revocation is the point of the test)');
    // The next refresh, in tab 3, is rejected: every tab ends the session once.
    const r = await h.call(pages[2], 'refresh');
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'reauth_required');
    await assertSignedOutOnce(h, pages);
    assert.equal(h.events.grantError.invalid_grant, 2, `the replay and the SDK's one attempt (${safeJson(h.events.summary())})`);
    assert.equal(h.events.grantRevoked, 1, 'the SDK itself never replayed');
    await h.assertNoLeaks();
  });
});
