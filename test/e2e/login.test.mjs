// One real end-to-end sign-in through the provider's login UI (devInteractions): authorization code +
// PKCE S256 in the browser, login and consent forms filled in by the test, the callback redeems the code
// and hands the tokens to session.login(); a second tab that was already open is signed in too, the
// token works at the resource server, and a refresh works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, requireBundle, waitFor, safeJson } from './support/harness.mjs';
import { signInAtProvider } from './support/provider-login.mjs';

requireBundle(); // fails the run (never skips) when dist/ was not built

test('sign-in through the AS login page (authorization code + PKCE) reaches every tab', { timeout: 40_000 }, async (t) => {
  const h = await createHarness(t, { provider: { accessTokenTtl: 60 } });
  // The devInteractions layout imports a web font; nothing may leave loopback.
  await h.context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
  const other = await h.openTab();
  assert.equal((await h.state(other)).status, 'anonymous');

  const tab = await h.openTab();
  await Promise.all([
    tab.waitForURL((url) => url.href.startsWith(h.as.issuer), { timeout: 10_000 }),
    tab.evaluate((issuer) => window.harness.beginSignIn({ issuer }), h.as.issuer),
  ]);
  // Login form, then the consent form.
  await signInAtProvider(tab, { login: 'carol', returnTo: `${h.app.origin}/cb` });
  const result = await tab.waitForFunction(() => window.callbackResult, null, { timeout: 10_000 }).then((r) => r.jsonValue());
  assert.deepEqual(result, { ok: true, hasRefreshToken: true, hasIdToken: true, tokenType: 'Bearer' }, `callback: ${safeJson(result)}`);
  assert.equal(new URL(tab.url()).search, '', 'no code left in the URL');
  assert.equal(h.events.grantSuccess.authorization_code, 1, `one code exchange: ${safeJson(h.events.summary())}`);

  // The tab that was already open is signed in, and its token works at the resource server.
  await h.waitAll([other], (s) => s.status === 'authenticated', { message: 'the other tab signed in', timeout: 2_000 });
  const rs = await other.evaluate(() => window.harness.callResource());
  assert.equal(rs.status, 200);
  assert.equal(rs.body.sub, 'carol');

  // The refresh token from the real flow works through the SDK, once, with no revocation.
  const refreshed = await h.call(other, 'refresh');
  assert.ok(refreshed.ok, safeJson(refreshed));
  await waitFor(async () => {
    const [a, b] = await Promise.all([h.state(other), tab.evaluate(() => window.session.getSnapshot().tokens?.accessToken)]);
    return a.accessToken && a.accessToken === b;
  }, { timeout: 2_000, message: 'the callback tab adopted the refreshed token' });
  assert.equal(h.events.refreshGrants, 1);
  h.assertNoRevocation();
  await h.assertNoLeaks();
});
