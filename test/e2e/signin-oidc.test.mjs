// OpenID Connect around the session, against the real oidc-provider (createSignIn, in the CDN bundle):
// the user in the snapshot, a refresh whose new ID token is checked, UserInfo; a silent sign-in
// (prompt=none, top-level redirect) while the provider's session lives; RP-initiated logout after the
// local sign-out and the revocation; then prompt=none answers login_required -> interaction_required,
// and an interactive sign-in shows the login form again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, requireBundle, safeJson } from './support/harness.mjs';
import { signInThroughUi } from './support/provider-login.mjs';

requireBundle();

const callbackResult = (page) => page.waitForFunction(() => window.callbackResult, null, { timeout: 10_000 }).then((r) => r.jsonValue());

test('user, refreshed ID token, UserInfo, prompt=none, RP-initiated logout, password asked again', { timeout: 60_000 }, async (t) => {
  const h = await createHarness(t, { provider: { accessTokenTtl: 60 }, aliases: { '/cb': '/signin.html' } });
  await h.context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
  const page = await h.context.newPage();
  h.pages.push(page);
  const navigations = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url() === `${h.as.issuer}/token/revocation`) navigations.push('revocation');
    if (r.isNavigationRequest() && r.method() === 'GET' && r.url().startsWith(`${h.as.issuer}/session/end?`)) navigations.push('end-session');
  });

  // 1. Interactive sign-in: the snapshot carries the user (frozen claims, no token).
  assert.equal((await signInThroughUi(h, page, { issuer: h.as.issuer, name: 'oidc' }, { login: 'erin' })).ok, true);
  const user = await page.evaluate(() => window.api.user());
  assert.equal(user.sub, 'erin');
  assert.equal(user.iss, h.as.issuer);
  assert.equal(user.aud, 'spa');
  assert.equal(user.frozen, true);

  // 2. A refresh brings a new ID token (checked against the sign-in's: same iss, sub, aud); UserInfo agrees.
  const idTokensBefore = [...h.events.issued].length;
  const refreshed = await page.evaluate(() => window.api.refresh());
  assert.ok(refreshed.ok, safeJson(refreshed));
  assert.ok([...h.events.issued].length >= idTokensBefore + 2, 'the refresh response carried new tokens');
  assert.equal((await page.evaluate(() => window.api.user())).sub, 'erin');
  const info = await page.evaluate(() => window.api.userInfo());
  assert.deepEqual(info, { ok: true, sub: 'erin' });

  // 3. The session ends with reauth-required (as when the refresh token is rejected: no revocation, no RP
  //    logout): the provider's session and grant live on, so prompt=none signs in again without any page
  //    (a top-level redirect there and back).
  await page.evaluate(() => window.api.logout('reauth-required'));
  assert.equal((await page.evaluate(() => window.api.state())).status, 'anonymous');
  await Promise.all([page.waitForURL(`${h.app.origin}/cb`, { timeout: 10_000 }), page.evaluate(() => window.api.beginSilent())]);
  const silent = await callbackResult(page);
  assert.equal(silent.ok, true, safeJson(silent));
  assert.equal((await page.evaluate(() => window.api.user())).sub, 'erin');
  assert.deepEqual(navigations, [], 'no revocation and no RP logout for reauth-required');

  // 4. "Log out": local sign-out, revocation, then the provider's logout page, and back with the state checked.
  await Promise.all([page.waitForURL((url) => url.href.startsWith(`${h.as.issuer}/session/end`), { timeout: 10_000 }), page.evaluate(() => window.api.logout())]);
  await Promise.all([page.waitForURL(`${h.app.origin}/cb`, { timeout: 10_000 }), page.locator('button[name="logout"]').click({ timeout: 10_000 })]);
  await h.ready(page);
  assert.equal(await page.evaluate(() => window.endSessionReturn), true);
  assert.equal(new URL(page.url()).search, '', 'the state is gone from the address bar');
  assert.equal((await page.evaluate(() => window.api.state())).status, 'anonymous');
  assert.deepEqual(navigations, ['revocation', 'revocation', 'end-session'], 'revocation before the navigation to the provider');

  // 5. prompt=none now needs the user: interaction_required (login_required), so the app falls back ...
  await Promise.all([page.waitForURL((url) => url.href.startsWith(`${h.app.origin}/cb?`), { timeout: 10_000 }), page.evaluate(() => window.api.beginSilent())]);
  const needsUser = await callbackResult(page);
  assert.equal(needsUser.ok, false);
  assert.equal(needsUser.error.code, 'interaction_required', safeJson(needsUser));
  // ... to an interactive sign-in, which asks for the password again.
  await Promise.all([page.waitForURL((url) => url.href.startsWith(h.as.issuer), { timeout: 10_000 }), page.evaluate(() => window.api.begin())]);
  await page.locator('input[name="password"]').waitFor({ state: 'visible', timeout: 10_000 });
  assert.deepEqual(h.events.serverErrors, []);
});
