// The authorization server the suite relies on behaves as the requirements say (probes A and C), and the
// harness itself works (static server, Chromium, CORS from the app origin, the leak check catches a leak).
// None of this needs the SDK: it keeps the harness honest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startProvider } from '../../demo/provider.mjs';
import { startStaticServer } from './support/static-server.mjs';
import { createHarness } from './support/harness.mjs';
import { leakCheck, recordPage } from './support/leak-check.mjs';

const APP = 'http://127.0.0.1:5999';

function tokenRequest(as, params, origin = APP) {
  return fetch(as.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
    body: new URLSearchParams(params),
  }).then(async (res) => ({ status: res.status, acao: res.headers.get('access-control-allow-origin'), cacheControl: res.headers.get('cache-control'), body: await res.json() }));
}
const refresh = (as, rt, origin) => tokenRequest(as, { grant_type: 'refresh_token', refresh_token: rt, client_id: 'spa' }, origin);

test('provider: rotation, replay revokes the whole grant (probe A)', async (t) => {
  const as = await startProvider({ appOrigins: [APP], accessTokenTtl: 5 });
  t.after(() => as.close());
  const s = await as.mintSession({ accountId: 'alice' });
  assert.ok(s.expiresAt > Date.now() + 4_000);

  const r1 = await refresh(as, s.refreshToken);
  assert.equal(r1.status, 200);
  assert.equal(r1.body.expires_in, 5);
  assert.equal(r1.body.token_type, 'Bearer');
  assert.equal(r1.acao, APP);
  assert.match(r1.cacheControl, /no-store/);
  assert.notEqual(r1.body.refresh_token, s.refreshToken, 'the refresh token rotates');

  const replay = await refresh(as, s.refreshToken);
  assert.equal(replay.status, 400);
  assert.equal(replay.body.error, 'invalid_grant');
  assert.equal(as.events.grantRevoked, 1, 'replaying a consumed RT revokes the grant');
  assert.deepEqual(as.events.grantRevokedBy, { token: 1 });

  const successor = await refresh(as, r1.body.refresh_token);
  assert.equal(successor.status, 400);
  assert.equal(successor.body.error, 'invalid_grant', 'the legit successor dies with the family');
  assert.deepEqual(as.events.grantSuccess, { refresh_token: 1 });
  assert.deepEqual(as.events.grantError, { invalid_grant: 2 });
  assert.equal(as.events.refreshTokenConsumed, 1);
});

test('provider: concurrent refreshes with one RT end the family (probe B)', async (t) => {
  const as = await startProvider({ appOrigins: [APP], accessTokenTtl: 5 });
  t.after(() => as.close());
  const s = await as.mintSession();
  const [a, b] = await Promise.all([refresh(as, s.refreshToken), refresh(as, s.refreshToken)]);
  assert.deepEqual([a.status, b.status].sort(), [200, 400]);
  const winner = a.status === 200 ? a : b;
  assert.equal((await refresh(as, winner.body.refresh_token)).body.error, 'invalid_grant');
  assert.equal(as.events.grantRevoked, 1);
});

test('provider: CORS only for registered app origins (probe C); RS stub; revocation; admin revoke', async (t) => {
  const as = await startProvider({ appOrigins: [APP], accessTokenTtl: 2 });
  t.after(() => as.close());
  const s = await as.mintSession();

  const foreign = await refresh(as, s.refreshToken, 'http://127.0.0.1:6001');
  assert.equal(foreign.status, 400);
  assert.equal(foreign.body.error, 'invalid_request');
  assert.equal(foreign.acao, null, 'no ACAO for an unregistered origin');

  const rs = (token) => fetch(as.resourceUrl, { headers: { authorization: `Bearer ${token}`, origin: APP } });
  const ok = await rs(s.accessToken);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('access-control-allow-origin'), APP);
  assert.equal((await ok.json()).sub, 'alice');
  assert.equal((await rs('not-a-token')).status, 401);
  assert.equal(await as.isAccessTokenActive(s.accessToken), true);

  // RFC 7009 revocation of the refresh token (what logout does when the AS supports it).
  const rev = await fetch(`${as.issuer}/token/revocation`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: APP },
    body: new URLSearchParams({ token: s.refreshToken, token_type_hint: 'refresh_token', client_id: 'spa' }),
  });
  assert.equal(rev.status, 200);
  assert.equal((await refresh(as, s.refreshToken)).body.error, 'invalid_grant');
  assert.deepEqual(as.events.grantRevokedBy, { revocation: 1 }, 'revoking an RT revokes its grant (by route)');

  // Admin-side revocation of a whole grant.
  const s2 = await as.mintSession({ accountId: 'bob' });
  assert.equal(await as.grantIdOf(s2.refreshToken), s2.grantId);
  assert.equal(await as.isRefreshTokenActive(s2.refreshToken), true);
  await as.revokeGrant(s2.grantId);
  assert.equal(await as.isRefreshTokenActive(s2.refreshToken), false);
  assert.equal(await as.isAccessTokenActive(s2.accessToken), false);
  assert.equal((await refresh(as, s2.refreshToken)).body.error, 'invalid_grant');
  assert.deepEqual(as.events.grantRevokedBy, { revocation: 1 }, 'admin revocation emits no grant.revoked');
});

test('provider: rotateRefreshToken false keeps the RT', async (t) => {
  const as = await startProvider({ appOrigins: [APP], accessTokenTtl: 5, rotateRefreshToken: false });
  t.after(() => as.close());
  const s = await as.mintSession();
  for (let i = 0; i < 3; i++) {
    const r = await refresh(as, s.refreshToken);
    assert.equal(r.status, 200);
    assert.equal(r.body.refresh_token, s.refreshToken);
  }
  assert.equal(as.events.grantSuccess.refresh_token, 3);
});

test('static server: fixtures, aliases, no path traversal', async (t) => {
  const app = await startStaticServer();
  t.after(() => app.close());
  const page = await fetch(`${app.origin}/app.html`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /text\/html/);
  assert.equal((await fetch(`${app.origin}/cb`)).status, 200);
  assert.equal((await fetch(`${app.origin}/%2e%2e/%2e%2e/package.json`)).status, 404);
  assert.equal((await fetch(`${app.origin}/dist/../../package.json`)).status, 404);
  assert.equal((await fetch(`${app.origin}/nope.html`)).status, 404);
});

test('harness: Chromium on the app origin refreshes at the AS over CORS; leak check catches a leak', async (t) => {
  const h = await createHarness(t, { provider: { accessTokenTtl: 5 } });
  const page = await h.context.newPage();
  recordPage(page, h.sink);
  h.pages.push(page);
  await page.goto(`${h.app.origin}/cb`); // any fixture page on the app origin; no SDK needed
  const minted = await h.as.mintSession();
  const result = await page.evaluate(async ({ endpoint, rt }) => {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt, client_id: 'spa' }),
    });
    const body = await res.json();
    return { status: res.status, hasAt: typeof body.access_token === 'string', api: { locks: !!navigator.locks, bc: !!window.BroadcastChannel, idb: !!window.indexedDB, secure: isSecureContext } };
  }, { endpoint: h.as.tokenEndpoint, rt: minted.refreshToken });
  assert.equal(result.status, 200);
  assert.ok(result.hasAt);
  assert.deepEqual(result.api, { locks: true, bc: true, idb: true, secure: true });
  assert.equal(h.events.refreshGrants, 1);

  // Clean so far (the token only lives in a local variable of the evaluated function).
  await h.assertNoLeaks();
  // Now leak one through each channel the check watches; every one must be found.
  const at = [...h.events.issued].at(-1);
  await page.evaluate((tk) => {
    console.log(`debug ${tk.slice(5, 20)}`);
    localStorage.setItem('x', tk.slice(10, 30));
    new BroadcastChannel('leaky').postMessage({ t: tk.slice(3, 18) });
    return new Promise((resolve) => {
      const req = indexedDB.open('leaky-db', 1);
      req.onupgradeneeded = () => req.result.createObjectStore('s');
      req.onsuccess = () => {
        const tx = req.result.transaction('s', 'readwrite');
        tx.objectStore('s').put(new TextEncoder().encode(tk), 'k');
        tx.oncomplete = () => { req.result.close(); resolve(); };
      };
    });
  }, at);
  await h.context.addCookies([{ name: 'c', value: at.slice(0, 14), url: h.app.origin }]);
  await waitForConsole(h.sink, 1);
  const { findings } = await leakCheck({ pages: h.pages, context: h.context, sink: h.sink, tokens: h.events.issued });
  const where = findings.map((f) => f.where.split(' ')[0]).sort();
  assert.deepEqual(where, ['BroadcastChannel', 'console.log', 'cookie', 'document.cookie', 'indexedDB', 'localStorage[x]'], JSON.stringify(findings));
});

async function waitForConsole(sink, n) {
  for (let i = 0; i < 100 && sink.length < n; i++) await new Promise((r) => setTimeout(r, 20));
}
