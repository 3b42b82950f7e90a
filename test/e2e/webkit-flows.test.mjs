// The multi-tab flows in WebKit (WebKitGTK's MiniBrowser over WebDriver; Debian webkit2gtk-driver + xvfb),
// against the real oidc-provider: cross-tab sign-in/sign-out (XT-1, as sync.test.mjs), single-flight
// refresh across tabs (RF-2, as concurrency.test.mjs) and shared inactivity (as idle.test.mjs).
// Tabs are top-level WebDriver windows of one session; see support/webkit-harness.mjs for what differs.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createWebKitHarness, holdTokenRequests, launchWebKit, requireBundle, waitFor, delay, safeJson } from './support/webkit-harness.mjs';
import { assertNoGrantError } from './support/assertions.mjs';

requireBundle(); // fails the run (never skips) when dist/ was not built

let webkit;
before(async () => { webkit = await launchWebKit(); });
after(() => webkit?.close());

const eventsPerTab = async (h, pages, type) => {
  const out = [];
  for (const p of pages) out.push(await h.eventsOf(p, type));
  return out;
};

describe('WebKit: cross-tab sign-in and sign-out (XT-1)', () => {
  // Three windows at most per test: the session's windows are reused, and each new one costs 0.5-2 s.
  test('logout in one of 3 tabs signs every tab out (reason user) within 1 s', { timeout: 40_000 }, async (t) => {
    const h = await createWebKitHarness(t, webkit, { provider: { accessTokenTtl: 60 } });
    const pages = await h.openTabs(3);
    await h.mintAndLogin(pages[0]);
    await h.waitAll(pages, (s) => s.status === 'authenticated', { message: 'all tabs signed in' });

    const calledAt = await h.eval(pages[1], async () => {
      const at = Date.now();
      await window.session.logout();
      return at;
    });
    const logouts = await waitFor(async () => {
      const all = await eventsPerTab(h, pages, 'logout');
      return all.every((l) => l.length >= 1) ? all : false;
    }, { timeout: 3_000, message: 'a logout event in every tab' });
    const latency = logouts.map((l) => l[0].at - calledAt);
    t.diagnostic(`WebKit logout propagation per tab (ms): ${safeJson(latency)}`);
    for (const [i, list] of logouts.entries()) {
      assert.equal(list.length, 1, `tab ${i + 1}: exactly one logout event`);
      assert.equal(list[0].payload.reason, 'user', `tab ${i + 1}: reason user`);
      assert.equal(list[0].payload.remote, i !== 1, `tab ${i + 1}: remote flag`);
    }
    assert.ok(Math.max(...latency) <= 1_000, `every tab signed out within 1 s (ms: ${safeJson(latency)})`);
    const states = await h.states(pages);
    assert.ok(states.every((s) => s.status === 'anonymous' && s.reason === 'user'), safeJson(states));
    for (const p of pages) {
      const r = await h.getToken(p);
      assert.ok(r.ok && r.token === null, `getAccessToken() resolves null in ${p.tab}: ${safeJson(r)}`);
    }
    assert.equal(h.events.refreshGrants, 0);
    h.assertNoRevocation({ allowLogoutRevocation: true });
    await h.assertNoLeaks();
  });

  test('login in one tab signs the other tabs in within 1 s; a new tab restores it', { timeout: 40_000 }, async (t) => {
    const h = await createWebKitHarness(t, webkit, { provider: { accessTokenTtl: 60 } });
    const pages = await h.openTabs(2);
    assert.ok((await h.states(pages)).every((s) => s.status === 'anonymous'));
    const minted = await h.as.mintSession({ accountId: 'bob' });
    const calledAt = await h.eval(pages[1], async (tk) => {
      const at = Date.now();
      await window.session.login(tk);
      return at;
    }, { accessToken: minted.accessToken, refreshToken: minted.refreshToken, expiresAt: minted.expiresAt });
    const logins = await waitFor(async () => {
      const all = await eventsPerTab(h, pages, 'login');
      return all.every((l) => l.length >= 1) ? all : false;
    }, { timeout: 3_000, message: 'a login event in every tab' });
    const latency = logins.map((l) => l[0].at - calledAt);
    t.diagnostic(`WebKit login propagation per tab (ms): ${safeJson(latency)}`);
    assert.ok(Math.max(...latency) <= 1_000, `every tab signed in within 1 s (ms: ${safeJson(latency)})`);
    for (const [i, list] of logins.entries()) {
      assert.equal(list.length, 1, `tab ${i + 1}: exactly one login event`);
      assert.equal(list[0].payload.remote, i !== 1, `tab ${i + 1}: remote flag`);
    }
    const states = await h.states(pages);
    assert.ok(states.every((s) => s.status === 'authenticated' && s.accessToken === minted.accessToken), 'every tab holds the new session');
    // A window opened later restores the session from IndexedDB.
    const late = await h.openTab();
    const lateState = await h.state(late);
    assert.equal(lateState.status, 'authenticated', 'a new tab restores the session');
    assert.equal(lateState.accessToken, minted.accessToken);
    const r = await h.eval(late, () => window.harness.callResource());
    assert.equal(r.status, 200, 'the restored token works at the resource server');
    assert.equal(h.events.refreshGrants, 0);
    h.assertNoRevocation();
    await h.assertNoLeaks();
  });
});

describe('WebKit: single-flight refresh across tabs (RF-2)', () => {
  // No clock control over WebDriver: the SDK is told the token expires in 2 s (the AS token lives 60 s),
  // the AS holds every /token request until the test releases it, and the 100 calls are made once the
  // token has expired in every tab while the one refresh is held. Exactly one grant must reach the AS.
  test('100 getAccessToken() calls in 3 tabs on an expired token, refresh in flight: one refresh grant', { timeout: 40_000 }, async (t) => {
    const h = await createWebKitHarness(t, webkit, { provider: { accessTokenTtl: 60 }, app: { refreshLeadMs: 1_000, refreshTimeoutMs: 20_000 } });
    const pages = await h.openTabs(3);
    const gate = holdTokenRequests(h.as.server);
    t.after(() => gate.restore());
    const minted = await h.mintAndLogin(pages[0], { expiresAt: Date.now() + 2_000 });
    await h.waitAll(pages, (s) => s.status === 'authenticated' && s.accessToken === minted.accessToken, { message: 'all tabs signed in' }).catch(async (e) => {
      const logs = [];
      for (const p of pages) logs.push(await h.eval(p, () => window.log.map(({ kind, type, status, payload }) => ({ kind, type, status, remote: payload?.remote }))));
      throw new Error(`${e.message}; AS ${safeJson(h.events.summary())}; tab logs ${JSON.stringify(logs)}`);
    });

    // The lead-time refresh of one tab reaches the AS and is held there; then the token expires.
    await gate.arrived(1);
    await waitFor(() => Date.now() > minted.expiresAt + 100, { timeout: 5_000, interval: 50, message: 'the access token expired' });

    const split = [34, 33, 33];
    for (const [i, p] of pages.entries()) {
      await h.eval(p, (n) => {
        window.calls = { done: 0, results: [] };
        for (let k = 0; k < n; k++) {
          window.harness.getToken().then((r) => { window.calls.results.push(r); window.calls.done++; });
        }
      }, split[i]);
    }
    // Every call is waiting (none can be answered with the expired token), and still one request at the AS.
    const pending = [];
    for (const p of pages) pending.push(await h.eval(p, () => window.calls.done));
    assert.deepEqual(pending, [0, 0, 0], 'no call resolved while the refresh is held');
    assert.equal(gate.count, 1, 'one token request while the refresh is in flight');
    gate.release();

    const results = [];
    for (const [i, p] of pages.entries()) {
      results.push(...(await waitFor(() => h.eval(p, (n) => (window.calls.done === n ? window.calls.results : false), split[i]), { timeout: 10_000, message: `calls in ${p.tab} resolved` })));
    }
    assert.equal(results.length, 100);
    assert.deepEqual(results.filter((r) => !r.ok), [], 'every call resolved');
    const tokens = new Set(results.map((r) => r.token));
    assert.equal(tokens.size, 1, `all 100 calls got the same token (${tokens.size} distinct)`);
    const [token] = tokens;
    assert.notEqual(token, minted.accessToken, 'the expired token was never handed out');
    assert.ok(results.every((r) => r.expiresAt > r.now), 'every call saw a token that is not expired');
    assert.equal(h.events.refreshGrants, 1, `exactly one refresh grant: ${safeJson(h.events.summary())}`);
    assert.equal(gate.count, 1, 'one token request in all');
    h.assertNoRevocation();
    assertNoGrantError(h);
    assert.equal(await h.as.isAccessTokenActive(token), true, 'the new token is valid at the AS');
    await h.waitAll(pages, (s) => s.accessToken === token, { message: 'every tab holds the new token', timeout: 2_000 });
    await h.assertNoLeaks();
  });
});

describe('WebKit: inactivity across tabs', () => {
  test('trusted input in one tab, shared warning, extend from the other, sign-out together', { timeout: 40_000 }, async (t) => {
    const h = await createWebKitHarness(t, webkit, { app: { idleMs: 3_000, idleWarningMs: 1_200 } });
    const [a, b] = await h.openTabs(2);
    await h.mintAndLogin(a);
    await h.waitAll([a, b], (s) => s.status === 'authenticated', { message: 'both signed in' });

    // 4 s of WebDriver (trusted) mouse input in window A only: longer than the idle timeout. The delay
    // paces the input like a user's hand (it synchronises nothing); the loop is bounded in count and time.
    const until = Date.now() + 4_000;
    for (let i = 0; i < 30 && Date.now() < until; i++) {
      await h.mouseMove(a, 10 + (i % 5) * 20, 10 + (i % 7) * 3);
      await delay(Math.min(300, Math.max(0, until - Date.now())));
    }
    assert.deepEqual((await h.states([a, b])).map((x) => x.status), ['authenticated', 'authenticated']);
    assert.deepEqual([...(await h.eventsOf(a, 'idle-warning')), ...(await h.eventsOf(b, 'idle-warning'))], [], 'no warning while A is in use');

    // No more input: both windows enter the warning together.
    await waitFor(async () => (await h.eventsOf(a, 'idle-warning')).length && (await h.eventsOf(b, 'idle-warning')).length, { timeout: 5_000, message: 'both warned' });
    const [wa] = await h.eventsOf(a, 'idle-warning');
    const [wb] = await h.eventsOf(b, 'idle-warning');
    const skew = Math.abs(wa.at - wb.at);
    t.diagnostic(`WebKit idle warning skew between tabs: ${skew} ms`);
    assert.ok(skew < 1_000, `warnings ${skew} ms apart`);
    assert.equal(wa.payload.logoutAt, wb.payload.logoutAt, 'one shared deadline');

    // "Stay signed in" in B ends the warning in A too.
    await h.call(b, 'extend');
    await waitFor(async () => (await h.eventsOf(a, 'active')).length === 1, { timeout: 2_000, message: 'A left the warning' });
    assert.deepEqual((await h.states([a, b])).map((x) => x.idle), ['active', 'active']);

    // Still idle: both sign out with reason idle, once each.
    await h.waitAll([a, b], (s) => s.status === 'anonymous', { timeout: 8_000, message: 'both signed out' });
    for (const page of [a, b]) {
      const logouts = await h.eventsOf(page, 'logout');
      assert.equal(logouts.length, 1, safeJson(logouts));
      assert.equal(logouts[0].payload.reason, 'idle');
    }
    await h.assertNoLeaks();
  });

  test('synthetic events do not count as activity', { timeout: 30_000 }, async (t) => {
    const h = await createWebKitHarness(t, webkit, { app: { idleMs: 2_500, idleWarningMs: 1_000 } });
    const [a] = await h.openTabs(1);
    await h.mintAndLogin(a);
    const started = Date.now();
    await h.eval(a, () => {
      window.fakeActivity = setInterval(() => {
        window.dispatchEvent(new MouseEvent('pointermove'));
        document.dispatchEvent(new KeyboardEvent('keydown'));
        window.dispatchEvent(new Event('scroll'));
      }, 200);
    });
    await h.waitAll([a], (s) => s.status === 'anonymous', { timeout: 6_000, message: 'signed out despite synthetic events' });
    assert.ok(Date.now() - started >= 2_000, 'not before the timeout');
    const [logout] = await h.eventsOf(a, 'logout');
    assert.equal(logout.payload.reason, 'idle');
    await h.eval(a, () => clearInterval(window.fakeActivity));
  });
});
