// Fault list §2.1–§2.3 against the real oidc-provider: token-response mutations (F1–F10), token-endpoint
// errors (F13–F18) and transport faults (F22–F25), each through `page.route` on the token endpoint.
//
// Every case signs in with a freshly minted grant (a new session epoch), so cases are independent, and
// calls `refresh()` itself: Playwright's clock is installed and paused in every tab, so no SDK timer runs
// unless a case moves the clock (backoff, Retry-After). Each case asserts the documented outcome: the
// typed error `code` and `retryable`, the session kept (same access token, no logout) or the mutated
// response accepted, and the number of requests that reached the token endpoint. The group ends with the
// LEAK-CHECK over every tab, console, event payload and IndexedDB record.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, requireBundle, waitFor, safeJson } from './support/harness.mjs';
import { launchChromium } from './support/browser.mjs';

requireBundle(); // fails the run (never skips) when dist/ was not built

/** Distinct, non-repetitive filler (repetitive filler would make the 12-char leak check match anything). */
const filler = (n, seed = 'f') => {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `${seed}${i.toString(36)}-`;
  return s.slice(0, n);
};

/** A world with one paused clock, `tabs` tabs, and helpers to run one fault case in tab 1. */
async function world(browser, { tabs = 1, provider = {}, app = {} } = {}) {
  const h = await createHarness(null, { browser, provider: { accessTokenTtl: 120, ...provider }, app });
  await h.context.clock.install({ time: Date.now() });
  const pages = await h.openTabs(tabs);
  await h.context.clock.pauseAt(Date.now() + 2_000);
  const page = pages[0];
  const extraTokens = [];
  const cors = () => ({ 'access-control-allow-origin': h.app.origin, 'access-control-expose-headers': 'retry-after', 'cache-control': 'no-store' });
  const hits = { count: 0 };

  /** Installs `handler` on the token endpoint for every tab (counting requests) until `lift()`. */
  const routeToken = async (handler, target = h.context) => {
    const wrapped = (route) => {
      hits.count++;
      return handler(route);
    };
    await target.route(h.as.tokenEndpoint, wrapped);
    return () => target.unroute(h.as.tokenEndpoint, wrapped);
  };

  /** Fetches the real token response, lets `mutate(body)` change it, and answers with the result. */
  const mutate = (fn) => async (route) => {
    const res = await route.fetch();
    const headers = { ...res.headers() };
    delete headers['content-length'];
    const text = await res.text();
    const out = fn(JSON.parse(text));
    const body = typeof out === 'string' ? out : JSON.stringify(out);
    await route.fulfill({ status: res.status(), headers: { ...headers, 'content-type': typeof out === 'string' ? 'text/html' : 'application/json' }, body });
  };
  /** A synthetic answer (the fault never reaches the AS). */
  const answer = (status, body, { headers = {}, contentType = 'application/json' } = {}) => (route) =>
    route.fulfill({ status, headers: { ...cors(), 'content-type': contentType, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  /**
   * Signs in with a freshly minted grant. Cases move the fake clock (Retry-After, backoff, expiry), so the
   * page clock is first put back on real time (no timer fires), or a minted expiry could already be past.
   */
  const login = async () => {
    // One tab: a reload gives every case a fresh SDK instance (its per-minute refresh cap and backoff
    // state start over) while storage and the clock carry on.
    if (pages.length === 1) {
      await page.reload();
      await h.ready(page);
    }
    await h.context.clock.setSystemTime(Date.now());
    const minted = await h.mintAndLogin(page);
    await h.waitAll(pages, (s) => s.accessToken === minted.accessToken, { message: 'all tabs on the new sign-in', timeout: 3_000 });
    return minted;
  };

  const logSince = async (from) => (await h.log(page)).slice(from).filter((e) => e.kind === 'event');

  /**
   * One case: sign in fresh, install the fault, refresh once. Returns what happened.
   * @returns {Promise<{ minted, result, state, events, requests: number }>}
   */
  const runCase = async (handler) => {
    const minted = await login();
    const from = (await h.log(page)).length;
    const before = hits.count;
    const lift = await routeToken(handler);
    try {
      const result = await h.call(page, 'refresh');
      const state = await h.state(page);
      return { minted, result, state, events: await logSince(from), requests: hits.count - before, from };
    } finally {
      await lift();
    }
  };

  /** The documented "keep" outcome: typed rejection, same tokens, one refresh-error, no logout. */
  const assertKept = (label, c, { code, retryable }) => {
    assert.equal(c.result.ok, false, `${label}: refresh() must reject: ${safeJson(c.result)}`);
    assert.equal(c.result.error.code, code, `${label}: code ${safeJson(c.result.error)}`);
    assert.equal(c.result.error.retryable, retryable, `${label}: retryable`);
    assert.equal(c.state.status, 'authenticated', `${label}: session kept`);
    assert.equal(c.state.accessToken, c.minted.accessToken, `${label}: previous access token kept`);
    assert.equal(c.state.refreshToken, c.minted.refreshToken, `${label}: previous refresh token kept`);
    const errors = c.events.filter((e) => e.type === 'refresh-error');
    assert.equal(errors.length, 1, `${label}: one refresh-error: ${safeJson(errors)}`);
    assert.equal(errors[0].payload.error.code, code);
    assert.equal(errors[0].payload.retryAt === null, !retryable, `${label}: a retry is scheduled iff retryable (${errors[0].payload.retryAt})`);
    assert.deepEqual(c.events.filter((e) => e.type === 'logout'), [], `${label}: no logout`);
    assert.equal(c.requests, 1, `${label}: exactly one token request`);
  };

  /** Accepted: refresh() resolves and the tab holds the (possibly mutated) new access token. */
  const assertAccepted = (label, c, accessToken) => {
    assert.equal(c.result.ok, true, `${label}: refresh() must resolve: ${safeJson(c.result)}`);
    assert.equal(c.state.status, 'authenticated');
    if (accessToken) assert.equal(c.state.accessToken, accessToken, `${label}: the new access token is used`);
    else assert.notEqual(c.state.accessToken, c.minted.accessToken, `${label}: a new access token`);
    assert.deepEqual(c.events.filter((e) => e.type === 'logout' || e.type === 'refresh-error'), [], `${label}: no logout, no refresh-error`);
  };

  return { h, pages, page, extraTokens, hits, cors, routeToken, mutate, answer, login, runCase, assertKept, assertAccepted, logSince };
}

describe('token responses and endpoint errors F1–F18, F23, F24 against oidc-provider', { timeout: 120_000 }, () => {
  let browser;
  let w;
  before(async () => {
    browser = await launchChromium();
    w = await world(browser, { tabs: 1 });
  });
  after(async () => {
    await w?.h.close();
    await browser?.close();
  });

  test('F1: malformed JWT-looking access tokens are opaque and accepted; a 1 MB one is invalid_token_response', async () => {
    for (const at of ['abc-opaque-token-value-01', 'twoseg.ments-opaque-0002', '!!!.@@@.###-not-base64url', 'eyJhbGciOiJub25lIn0.bm90IGpzb24gYXQgYWxs.c2ln']) {
      w.extraTokens.push(at);
      const c = await w.runCase(w.mutate((b) => ({ ...b, access_token: at })));
      w.assertAccepted(`AT ${at}`, c, at);
    }
    const c = await w.runCase(w.mutate((b) => ({ ...b, access_token: filler(1024 * 1024, 'big') })));
    w.assertKept('1 MB AT', c, { code: 'invalid_token_response', retryable: true });
    // A malformed ID token in a refresh response: the refresh path keeps it opaque (no decode, no throw).
    const d = await w.runCase(w.mutate((b) => ({ ...b, id_token: 'not.a.jwt-id-token-value' })));
    w.assertAccepted('malformed id_token', d);
  });

  test('F2: expires_in missing → accepted with the default lifetime, token_lifetime_unknown, reactive refresh on 401', async () => {
    const c = await w.runCase(w.mutate((b) => {
      delete b.expires_in;
      return b;
    }));
    w.assertAccepted('no expires_in', c);
    const warnings = c.events.filter((e) => e.type === 'oauth-warning' || e.type === 'warning').map((e) => e.payload.error.code);
    assert.deepEqual(warnings, ['token_lifetime_unknown']);
    assert.equal(c.state.expiresAt - c.state.now, 300_000, 'defaultExpiresInMs (300 s) from receipt');
    // The AT dies at the AS before the assumed lifetime: the first RS 401 leads to one refresh and a retry.
    const grants = w.h.events.refreshGrants;
    await (await w.h.as.provider.AccessToken.find(c.state.accessToken))?.destroy();
    const r = await w.page.evaluate(() => window.harness.sessionFetch());
    assert.deepEqual(r, { ok: true, status: 200 }, `401 → refresh → retry succeeds: ${safeJson(r)}`);
    assert.equal(w.h.events.refreshGrants - grants, 1, 'exactly one reactive refresh');
  });

  test('F3: expires_in "3600" accepted; 0, -5, "NaN", "abc", 1e12, null → invalid_token_response, kept', async () => {
    const ok = await w.runCase(w.mutate((b) => ({ ...b, expires_in: '3600' })));
    w.assertAccepted('"3600"', ok);
    assert.equal(ok.state.expiresAt - ok.state.now, 3_600_000);
    for (const v of [0, -5, 'NaN', 'abc', 1e12, null]) {
      const c = await w.runCase(w.mutate((b) => ({ ...b, expires_in: v })));
      w.assertKept(`expires_in ${v}`, c, { code: 'invalid_token_response', retryable: true });
    }
  });

  test('F4: access_token missing, "" or non-string → invalid_token_response, kept', async () => {
    for (const [label, fn] of [
      ['missing', (b) => { delete b.access_token; return b; }],
      ['empty', (b) => ({ ...b, access_token: '' })],
      ['number', (b) => ({ ...b, access_token: 12345 })],
      ['object', (b) => ({ ...b, access_token: { v: 'x' } })],
    ]) {
      w.assertKept(`access_token ${label}`, await w.runCase(w.mutate(fn)), { code: 'invalid_token_response', retryable: true });
    }
  });

  test('F5: token_type missing or "mac" rejected; lowercase "bearer" accepted', async () => {
    w.assertKept('token_type missing', await w.runCase(w.mutate((b) => { delete b.token_type; return b; })), { code: 'invalid_token_response', retryable: true });
    w.assertKept('token_type mac', await w.runCase(w.mutate((b) => ({ ...b, token_type: 'mac' }))), { code: 'invalid_token_response', retryable: true });
    w.assertAccepted('token_type bearer', await w.runCase(w.mutate((b) => ({ ...b, token_type: 'bearer' }))));
  });

  test('F8: HTML 200 (captive portal) → invalid_token_response (transient), kept, retried with backoff', async () => {
    const c = await w.runCase(w.mutate(() => '<!doctype html><html><body>Please sign in to the Wi-Fi</body></html>'));
    w.assertKept('HTML 200', c, { code: 'invalid_token_response', retryable: true });
    const retryAt = c.events.find((e) => e.type === 'refresh-error').payload.retryAt;
    assert.ok(retryAt > c.state.now && retryAt <= c.state.now + 2_000, `backoff with jitter (first: ≤ 2 s): ${retryAt - c.state.now} ms`);
  });

  test('F9: unknown members and __proto__ keys ignored (no pollution); a body > 64 KB → invalid_token_response', async () => {
    const c = await w.runCase(w.mutate((b) => `{"__proto__":{"polluted":"yes"},"x_unknown":[1,2,{"a":null}],${JSON.stringify(b).slice(1)}`));
    // (sent as text/html by `mutate` for strings: the SDK reads JSON whatever the content type says)
    w.assertAccepted('unknown members', c);
    for (const p of w.pages) assert.equal(await p.evaluate(() => ({}).polluted ?? null), null, 'Object.prototype not polluted');
    const big = await w.runCase(w.mutate((b) => ({ ...b, padding: filler(70 * 1024, 'pad') })));
    w.assertKept('70 KB body', big, { code: 'invalid_token_response', retryable: true });
  });

  test('F10: a narrower granted scope is accepted and exposed; no refresh loop to regain it', async () => {
    const c = await w.runCase(w.mutate((b) => ({ ...b, scope: 'openid' })));
    w.assertAccepted('narrow scope', c);
    assert.equal(c.state.scope, 'openid');
    const before = w.hits.count;
    const grants = w.h.events.refreshGrants;
    await w.h.context.clock.runFor(20_000);
    assert.equal(w.h.events.refreshGrants, grants, 'no refresh to regain the scope');
    assert.equal(w.hits.count, before);
  });

  test('F13: invalid_client / unauthorized_client / unsupported_grant_type → configuration, auto-refresh stopped, AT kept, no retries', async () => {
    for (const error of ['invalid_client', 'unauthorized_client', 'unsupported_grant_type']) {
      const c = await w.runCase(w.answer(error === 'invalid_client' ? 401 : 400, { error, error_description: 'client problem' }));
      w.assertKept(error, c, { code: 'configuration', retryable: false });
      assert.equal(c.result.error.oauthError, error);
      // Leave the fault in place for 5 minutes of fake time: no retry storm, still signed in.
      const lift = await w.routeToken(w.answer(400, { error }));
      const before = w.hits.count;
      // In 10 s steps, letting each request finish, so a retry loop would show.
      for (let i = 0; i < 30; i++) {
        await w.h.context.clock.runFor(10_000);
        await waitFor(async () => !(await w.h.state(w.page)).refreshing, { timeout: 3_000, message: 'no refresh in flight' });
      }
      await lift();
      const s = await w.h.state(w.page);
      assert.ok(w.hits.count - before <= 1,
        `SDK BUG (F13/RF-7: configuration errors must stop auto-refresh): ${error}: ${w.hits.count - before} token requests in ` +
        '5 min of fake time, expected ≤ 1. run() sets retryAt = null for a non-retryable error, and schedule()/evaluate() treat ' +
        '"retryAt === null" as "refresh when due", so once the token is inside the lead window the refresh is re-sent every ' +
        'MIN_REFRESH_GAP (5 s) until the 12/min cap throws refresh_loop_detected (retryable, with backoff) and it starts over.');
      assert.equal(s.status, 'authenticated', `${error}: the AT stays usable until it expires`);
    }
  });

  test('F14: invalid_request, invalid_scope and an unknown error → oauth_error (non-retryable), no logout loop', async () => {
    for (const error of ['invalid_request', 'invalid_scope', 'something_new']) {
      const c = await w.runCase(w.answer(400, { error }));
      w.assertKept(error, c, { code: 'oauth_error', retryable: false });
    }
  });

  test('F15: 400 with an empty or non-JSON body → server_error (transient), kept', async () => {
    w.assertKept('400 empty', await w.runCase(w.answer(400, '', { contentType: 'text/plain' })), { code: 'server_error', retryable: true });
    w.assertKept('400 text', await w.runCase(w.answer(400, 'Bad Request', { contentType: 'text/plain' })), { code: 'server_error', retryable: true });
    w.assertKept('400 JSON without error', await w.runCase(w.answer(400, { message: 'nope' })), { code: 'server_error', retryable: true });
  });

  test('F16: 401 with WWW-Authenticate and no OAuth body from the token endpoint → transient while the AT is valid, AT kept', async () => {
    const c = await w.runCase(w.answer(401, '', { contentType: 'text/plain', headers: { 'www-authenticate': 'Basic realm="token"' } }));
    w.assertKept('401', c, { code: 'server_error', retryable: true });
  });

  test('F17: 500, 502, 503, 504 → server_error (transient), kept; after expiry getAccessToken rejects retryable, RT kept, no logout', async () => {
    for (const status of [500, 502, 503, 504]) {
      const c = await w.runCase(w.answer(status, status === 502 ? '<html>Bad gateway</html>' : { error: 'server_error' }, status === 502 ? { contentType: 'text/html' } : {}));
      w.assertKept(`HTTP ${status}`, c, { code: 'server_error', retryable: true });
    }
    // The AT expires while the endpoint keeps failing: typed retryable rejection, the session is not lost.
    const minted = await w.login();
    const lift = await w.routeToken(w.answer(503, { error: 'temporarily_unavailable' }));
    try {
      await w.h.context.clock.setSystemTime(minted.expiresAt + 1_000);
      const r = await w.h.getToken(w.page);
      assert.equal(r.ok, false, `no expired token handed out: ${safeJson(r)}`);
      assert.equal(r.error.code, 'server_error');
      assert.equal(r.error.retryable, true);
      const s = await w.h.state(w.page);
      assert.equal(s.status, 'authenticated', 'not a logout (supabase-kt#724)');
      assert.equal(s.refreshToken, minted.refreshToken, 'RT kept');
    } finally {
      await lift();
    }
    // Fault lifted: the next call recovers with the kept RT.
    const ok = await w.h.getToken(w.page);
    assert.ok(ok.ok && ok.token && ok.token !== minted.accessToken, `recovers: ${safeJson(ok)}`);
  });

  test('F18: 429 with Retry-After: 30 → rate_limited, no request before 30 s of fake time, kept', async () => {
    const minted = await w.login();
    const from = (await w.h.log(w.page)).length;
    const lift = await w.routeToken(w.answer(429, { error: 'slow_down' }, { headers: { 'retry-after': '30' } }));
    try {
      const before = w.hits.count;
      const r = await w.h.call(w.page, 'refresh');
      assert.equal(r.error?.code, 'rate_limited', safeJson(r));
      assert.equal(r.error.retryAfterMs, 30_000, 'Retry-After read (exposed through CORS)');
      const events = await w.logSince(from);
      const err = events.find((e) => e.type === 'refresh-error');
      const now = (await w.h.state(w.page)).now;
      assert.ok(err.payload.retryAt >= now + 30_000, `retry scheduled ≥ 30 s later (${err.payload.retryAt - now} ms)`);
      await w.h.context.clock.runFor(29_000);
      assert.equal(w.hits.count - before, 1, 'no request before 30 s');
      await w.h.context.clock.runFor(2_500);
      await waitFor(() => w.hits.count - before === 2, { timeout: 3_000, message: 'the retry after Retry-After' });
      const s = await w.h.state(w.page);
      assert.equal(s.status, 'authenticated');
      assert.equal(s.accessToken, minted.accessToken);
      assert.deepEqual(events.filter((e) => e.type === 'logout'), []);
    } finally {
      await lift();
    }
  });

  test('F23: CORS rejection (app on an unregistered origin) → network with a CORS hint, kept, no logout', async () => {
    const url = new URL(w.h.appUrl({ tab: 'cors' }));
    url.hostname = 'localhost'; // same server, another origin: not a registered redirect-URI origin
    const page = await w.h.context.newPage();
    w.h.pages.push(page);
    await page.goto(url.href);
    await w.h.ready(page);
    await w.h.context.clock.setSystemTime(Date.now());
    const minted = await w.h.mintAndLogin(page);
    const r = await w.h.call(page, 'refresh');
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'network', safeJson(r.error));
    assert.equal(r.error.retryable, true);
    assert.match(r.error.message, /CORS/);
    const s = await w.h.state(page);
    assert.equal(s.accessToken, minted.accessToken, 'kept');
    assert.deepEqual((await w.h.eventsOf(page, 'logout')), []);
    await page.close();
  });

  test('F24: AS down (connection refused) → network, kept, no logout; LEAK-CHECK over the whole group', async () => {
    const minted = await w.login();
    const from = (await w.h.log(w.page)).length;
    await w.h.as.close();
    const r = await w.h.call(w.page, 'refresh');
    assert.equal(r.error?.code, 'network', safeJson(r));
    assert.equal(r.error.retryable, true);
    const s = await w.h.state(w.page);
    assert.equal(s.accessToken, minted.accessToken);
    assert.deepEqual((await w.logSince(from)).filter((e) => e.type === 'logout'), []);
    const pageErrors = w.h.sink.filter((e) => e.where.startsWith('pageerror'));
    assert.deepEqual(pageErrors, [], 'no unhandled errors in any tab');
    const { inspected, tokens } = await w.h.assertNoLeaks(w.extraTokens);
    t_diag(`LEAK-CHECK: ${inspected} places, ${tokens} tokens, 0 findings`);
  });
});

describe('multi-tab transport faults F22, F25 against oidc-provider (3 tabs)', { timeout: 120_000 }, () => {
  let browser;
  let w;
  before(async () => {
    browser = await launchChromium();
    w = await world(browser, { tabs: 3 });
  });
  after(async () => {
    await w?.h.close();
    await browser?.close();
  });

  test('F22: the AS rotated but the response was lost → ≤ 2 requests, one logout reauth-required per tab, no storm', async () => {
    let first = true;
    const minted = await w.login();
    const froms = await Promise.all(w.pages.map(async (p) => (await w.h.log(p)).length));
    const before = w.hits.count;
    const lift = await w.routeToken(async (route) => {
      if (!first) return route.continue();
      first = false;
      await route.fetch(); // the AS rotates the refresh token...
      await route.abort('failed'); // ...and the answer never arrives
    });
    try {
      const r = await w.h.call(w.page, 'refresh');
      assert.equal(r.error?.code, 'network', safeJson(r));
      // 60 s of fake time, then 60 s more, in 5 s steps. Between steps, in-flight refreshes (real network)
      // settle first, as in F13: otherwise fake time fires the 10 s refresh timeout on requests the AS has
      // already received, which no real clock would do, and each aborted request counts as another hit.
      const settled = () => waitFor(async () => (await w.h.states(w.pages)).every((s) => !s.refreshing), { timeout: 3_000, message: 'no refresh in flight' });
      for (let i = 0; i < 12; i++) {
        await w.h.context.clock.runFor(5_000);
        await settled();
      }
      await waitFor(async () => (await w.h.states(w.pages)).every((s) => s.status === 'anonymous'), { timeout: 5_000, message: 'every tab signed out' });
      for (let i = 0; i < 12; i++) {
        await w.h.context.clock.runFor(5_000);
        await settled();
      }
      assert.ok(w.hits.count - before <= 2, `≤ 2 token requests (got ${w.hits.count - before})`);
      for (const [i, p] of w.pages.entries()) {
        const logouts = (await w.h.log(p)).slice(froms[i]).filter((e) => e.kind === 'event' && e.type === 'logout');
        assert.deepEqual(logouts.map((e) => e.payload.reason), ['reauth-required'], `tab ${i + 1}: one logout, reauth-required`);
      }
    } finally {
      await lift();
    }
  });

  test('F25: slow /token (3 s) while 20 callers in 3 tabs ask for a token → one refresh, the same AT for all', async () => {
    const minted = await w.login();
    const grants = w.h.events.refreshGrants;
    let requests = 0;
    const slow = async (route) => {
      requests++;
      await new Promise((r) => setTimeout(r, 3_000));
      await route.continue();
    };
    await w.h.context.route(w.h.as.tokenEndpoint, slow);
    try {
      await w.h.context.clock.setSystemTime(minted.expiresAt + 1_000);
      const t0 = Date.now();
      const results = (await Promise.all(w.pages.map((p, i) => p.evaluate((n) => window.harness.getTokens(n), [7, 7, 6][i])))).flat();
      const ms = Date.now() - t0;
      assert.equal(results.length, 20);
      assert.deepEqual(results.filter((r) => !r.ok), [], 'every caller resolved');
      const tokens = new Set(results.map((r) => r.token));
      assert.equal(tokens.size, 1, 'the same AT for all 20 callers');
      assert.notEqual([...tokens][0], minted.accessToken);
      assert.equal(requests, 1, 'one token request');
      assert.equal(w.h.events.refreshGrants - grants, 1, 'one refresh grant');
      assert.ok(ms >= 2_900 && ms < 8_000, `callers waited for the one slow refresh (${ms} ms)`);
    } finally {
      await w.h.context.unroute(w.h.as.tokenEndpoint, slow);
    }
  });

  test('LEAK-CHECK over the multi-tab group', async () => {
    assert.deepEqual(w.h.sink.filter((e) => e.where.startsWith('pageerror')), [], 'no unhandled errors');
    await w.h.assertNoLeaks();
  });
});

describe('F7/RF-10 against oidc-provider with rotateRefreshToken: false', { timeout: 120_000 }, () => {
  let browser;
  before(async () => { browser = await launchChromium(); });
  after(() => browser?.close());

  test('F7: refresh_token omitted or identical → the current RT keeps working (3 refreshes each)', async (t) => {
    const w = await world(browser, { provider: { rotateRefreshToken: false } });
    t.after(() => w.h.close());
    const minted = await w.login();
    const lift = await w.routeToken(w.mutate((b) => { delete b.refresh_token; return b; }));
    const seen = new Set();
    for (let i = 0; i < 3; i++) {
      const r = await w.h.call(w.page, 'refresh');
      assert.ok(r.ok, safeJson(r));
      const s = await w.h.state(w.page);
      assert.equal(s.refreshToken, minted.refreshToken, 'omitted: the current RT is kept');
      seen.add(s.accessToken);
    }
    await lift();
    for (let i = 0; i < 3; i++) {
      assert.ok((await w.h.call(w.page, 'refresh')).ok);
      const s = await w.h.state(w.page);
      assert.equal(s.refreshToken, minted.refreshToken, 'identical RT in the response');
      seen.add(s.accessToken);
    }
    assert.equal(seen.size, 6, 'six new access tokens');
    assert.equal(w.h.events.refreshGrants, 6);
    w.h.assertNoRevocation();
    await w.h.assertNoLeaks();
  });
});

function t_diag(message) {
  process.stdout.write(`# ${message}\n`);
}
