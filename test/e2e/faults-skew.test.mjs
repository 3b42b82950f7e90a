// F26 / F27 (TM-4): the browser clock is 10 min ahead of or behind the AS. Sign-in through the provider's
// login page with the SDK's createSignIn (ID token `iat`/`exp` checked with the default 600 s leeway) must
// succeed, then, over three access-token lifetimes of fake time, the session refreshes exactly once per
// lifetime (expiry from `expires_in` relative to local receipt, never `exp - localNow`), gets no
// invalid_grant, is never logged out, and the resource server accepts its token.
//
// Fake time (Playwright clock) advances instantly while the network is real, so every consequence of a
// timer is awaited with a bounded waitFor. Bearer only (the DPoP nonce path is covered by signin-dpop).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, requireBundle, safeJson, waitFor, delay } from './support/harness.mjs';
import { signInThroughUi } from './support/provider-login.mjs';

requireBundle(); // fails the run (never skips) when dist/ was not built

const MIN = 60_000;
const TTL = 20; // s, access-token lifetime at the AS
const LIFETIMES = 3;

const snapshot = (page) =>
  page.evaluate(() => {
    const s = window.session.getSnapshot();
    return { status: s.status, now: Date.now(), accessToken: s.tokens && s.tokens.accessToken, expiresAt: s.tokens && s.tokens.expiresAt };
  });

for (const [label, skew] of [['F26: client clock +10 min', 10 * MIN], ['F27: client clock -10 min', -10 * MIN]]) {
  test(`${label}: sign-in accepted, one refresh per lifetime, no invalid_grant, no logout`, { timeout: 90_000 }, async (t) => {
    const started = Date.now();
    const h = await createHarness(t, { provider: { accessTokenTtl: TTL }, aliases: { '/cb': '/signin.html' } });
    await h.context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
    await h.context.clock.install({ time: Date.now() + skew });
    const page = await h.context.newPage();
    h.pages.push(page);
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));

    const result = await signInThroughUi(h, page, { issuer: h.as.issuer, name: `skew${skew > 0 ? 'ahead' : 'behind'}` }, { login: 'dana' });
    assert.deepEqual(result, { ok: true, tokenType: 'Bearer', hasRefreshToken: true, hasIdToken: true }, safeJson(result));
    assert.equal(h.events.grantSuccess.authorization_code, 1);
    let s = await snapshot(page);
    assert.equal(s.status, 'authenticated');
    const skewSeen = s.now - Date.now();
    assert.ok(Math.abs(skewSeen - skew) < 60_000, `the page clock is off by ${skewSeen} ms`);
    // Expiry from expires_in relative to local receipt (the skewed clock), not from the AS's clock.
    assert.ok(Math.abs(s.expiresAt - s.now - TTL * 1000) < 5_000, `expiresAt - now = ${s.expiresAt - s.now} ms (TTL ${TTL} s)`);

    // Each lifetime: advance fake time to 1 s past the proactive refresh point (refreshLeadMs 60 s by
    // default, capped at half the lifetime, so TTL/2 before expiry), then wait for the grant on real time.
    for (let i = 1; i <= LIFETIMES; i++) {
      const before = s;
      const refreshAt = before.expiresAt - Math.min(60_000, (TTL * 1000) / 2);
      await h.context.clock.runFor(Math.max(0, refreshAt - before.now) + 1_000);
      await waitFor(() => h.events.refreshGrants >= i, { timeout: 5_000, message: `refresh grant #${i}: ${safeJson(h.events.summary())}` });
      s = await waitFor(async () => {
        const now = await snapshot(page);
        return now.accessToken !== before.accessToken ? now : false;
      }, { timeout: 5_000, message: `the session adopted refresh #${i}` });
      await delay(300); // room for a duplicate grant to show up
      assert.equal(h.events.refreshGrants, i, `exactly one refresh in lifetime ${i}: ${safeJson(h.events.summary())}`);
      assert.equal(s.status, 'authenticated');
      assert.ok(s.expiresAt > s.now, 'never holds an expired token');
      assert.ok(Math.abs(s.expiresAt - s.now - TTL * 1000) < 5_000, `lifetime ${i}: expiresAt - now = ${s.expiresAt - s.now} ms`);
    }

    assert.equal(h.events.grantError.invalid_grant ?? 0, 0, safeJson(h.events.summary()));
    const log = await page.evaluate(() => window.api.log());
    assert.deepEqual(log.filter((e) => e.type === 'logout'), [], 'no logout');
    assert.deepEqual(log.filter((e) => e.type === 'refresh-error'), [], 'no refresh-error');
    const rs = await page.evaluate((url) => window.api.resource(url), h.as.resourceUrl);
    assert.equal(rs.status, 200, safeJson(rs));
    assert.equal(rs.body.sub, 'dana');
    assert.equal(h.events.refreshGrants, LIFETIMES, 'the resource call needed no reactive refresh');
    assert.deepEqual(pageErrors, []);
    h.assertNoRevocation();
    t.diagnostic(`${label}: ${LIFETIMES} refresh grants, ${Date.now() - started} ms real time; AS ${safeJson(h.events.summary())}`);
  });
}
