// The SDK's own sign-in helper (createSignIn: authorization code + PKCE S256, state, nonce, iss) through
// the provider's login page, with and without DPoP (RFC 9449, nonces required by the AS): the code
// exchange, a refresh and a resource call all carry proofs from one non-extractable key; the AS sees one
// use_dpop_nonce challenge answered once, no replay, no revocation. A lost key ends the session once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, safeJson, waitFor } from './support/harness.mjs';
import { signInThroughUi } from './support/provider-login.mjs';

for (const dpop of [false, true]) {
  test(`createSignIn${dpop ? ' with DPoP (AS requires nonces)' : ''}: sign in, refresh, call the resource server`, { timeout: 60_000 }, async (t) => {
    const h = await createHarness(t, {
      provider: { accessTokenTtl: 60, ...(dpop ? { dpop: { requireNonce: () => true } } : {}) },
      aliases: { '/cb': '/signin.html' },
    });
    await h.context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
    const page = await h.context.newPage();
    h.pages.push(page);
    const tokenRequests = [];
    page.on('request', (r) => {
      if (r.url() === `${h.as.issuer}/token` && r.method() === 'POST') tokenRequests.push({ dpop: r.headers()['dpop'] });
    });
    const result = await signInThroughUi(h, page, { issuer: h.as.issuer, name: `signin-${dpop}`, dpop: dpop ? 1 : 0 }, { login: 'dana' });
    assert.deepEqual(result, { ok: true, tokenType: dpop ? 'DPoP' : 'Bearer', hasRefreshToken: true, hasIdToken: true }, safeJson(result));
    assert.equal(new URL(page.url()).search, '', 'no code or state left in the URL');
    assert.equal(h.events.grantSuccess.authorization_code, 1);

    const refreshed = await page.evaluate(() => window.api.refresh());
    assert.ok(refreshed.ok, safeJson(refreshed));
    assert.equal(h.events.refreshGrants, 1, safeJson(h.events.summary()));
    const rs = await page.evaluate((url) => window.api.resource(url), h.as.resourceUrl);
    assert.equal(rs.status, 200, safeJson(rs));
    assert.equal(rs.body.sub, 'dana');
    if (dpop) {
      // Every token request carried a proof, each one different (fresh jti), from the same key.
      assert.ok(tokenRequests.length >= 2 && tokenRequests.every((r) => r.dpop), safeJson(tokenRequests.length));
      const parts = tokenRequests.map((r) => JSON.parse(Buffer.from(r.dpop.split('.')[0], 'base64url')));
      assert.equal(new Set(parts.map((p) => JSON.stringify(p.jwk))).size, 1, 'one key');
      assert.equal(new Set(tokenRequests.map((r) => r.dpop)).size, tokenRequests.length, 'a fresh proof every time');
      assert.ok((h.events.grantError.use_dpop_nonce ?? 0) <= 1, `nonce challenges: ${safeJson(h.events.summary())}`);
    }
    h.assertNoRevocation();
    await h.assertNoLeaks();

    if (dpop) {
      // DP-5: the key is lost (partial eviction) while the refresh token survives: one reauth, no new key minted.
      await page.evaluate((name) => new Promise((resolve, reject) => {
        const r = indexedDB.open(`sessionkeeper:${name}`);
        r.onsuccess = () => {
          const tx = r.result.transaction('kv', 'readwrite');
          tx.objectStore('kv').delete('dpop');
          tx.oncomplete = () => { r.result.close(); resolve(); };
          tx.onerror = () => reject(tx.error);
        };
      }), 'signin-true');
      await page.reload();
      await h.ready(page);
      const before = h.events.refreshGrants;
      const lost = await page.evaluate(() => window.api.refresh());
      assert.equal(lost.ok, false);
      assert.equal(lost.error.code, 'reauth_required', safeJson(lost));
      await waitFor(() => page.evaluate(() => window.api.state().status === 'anonymous'), { timeout: 3_000, message: 'signed out' });
      const logouts = (await page.evaluate(() => window.api.log())).filter((e) => e.type === 'logout');
      assert.deepEqual(logouts.map((e) => e.reason), ['reauth-required']);
      assert.equal(h.events.refreshGrants, before, 'no refresh succeeded without the key');
    }
  });
}
