// TM-5 / F33: background tabs under Chromium's real timer throttling. Chromium is spawned without
// Playwright's switches that disable throttling and driven over CDP without Playwright's emulation, so
// tabs behave like tabs of a real window: only the front one is visible.
//
// The app tabs stay hidden (an unrelated tab is in front) for several access-token lifetimes. Hidden
// tabs run no proactive refresh; getAccessToken() there must still never return an expired token:
// checked by the expiry the SDK reports and by the resource-server stub, which asks the AS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, requireBundle, waitFor, safeJson } from './support/harness.mjs';
import { spawnChromium } from './support/browser.mjs';
import { assertNoGrantError } from './support/assertions.mjs';

requireBundle(); // fails the run (never skips) when dist/ was not built

const TTL = 4; // s
const ROUNDS = 3;

test('hidden, throttled tabs: getAccessToken() never returns an expired token (TM-5, F33)', { timeout: 60_000 }, async (t) => {
  const chromium = await spawnChromium();
  t.after(() => chromium.close());
  const front = chromium.context.pages()[0] ?? (await chromium.context.newPage());
  const h = await createHarness(t, { context: chromium.context, provider: { accessTokenTtl: TTL }, app: { refreshLeadMs: 1_000 } });
  const tabs = await h.openTabs(2);
  await front.bringToFront();
  const visibility = await waitFor(async () => {
    const v = await Promise.all(tabs.map((p) => p.evaluate(() => document.visibilityState)));
    return v.every((x) => x === 'hidden') ? v : false;
  }, { timeout: 3_000, message: 'both app tabs hidden' });
  assert.deepEqual(visibility, ['hidden', 'hidden']);

  // Evidence that timers are really throttled here: three chained 10 ms timeouts.
  const chainMs = await tabs[0].evaluate(() => new Promise((resolve) => {
    const t0 = performance.now();
    let n = 0;
    const tick = () => (++n < 3 ? setTimeout(tick, 10) : resolve(Math.round(performance.now() - t0)));
    setTimeout(tick, 10);
  }));
  t.diagnostic(`3 chained 10 ms timeouts in a hidden tab took ${chainMs} ms (unthrottled: ~30 ms)`);
  assert.ok(chainMs >= 900, `background timer throttling is active in the hidden tab (${chainMs} ms)`);

  let minted = await h.mintAndLogin(tabs[0]);
  await h.waitAll(tabs, (s) => s.status === 'authenticated', { message: 'both hidden tabs signed in' });
  let expiresAt = minted.expiresAt;
  let previous = minted.accessToken;
  for (let round = 0; round < ROUNDS; round++) {
    // Let the current token expire while every app tab is hidden.
    await waitFor(() => Date.now() > expiresAt + 300, { timeout: TTL * 1000 + 2_000, interval: 100, message: 'token expired' });
    assert.equal(h.events.refreshGrants, round, `no proactive refresh while hidden (round ${round + 1}): ${safeJson(h.events.summary())}`);
    const tab = tabs[round % 2];
    const r = await h.getToken(tab);
    assert.ok(r.ok && typeof r.token === 'string', `getAccessToken() in hidden tab ${round % 2 + 1}: ${safeJson(r)}`);
    assert.notEqual(r.token, previous, 'not the expired token');
    assert.ok(r.expiresAt > r.now, 'the returned token is not expired by the SDK clock');
    const rs = await fetch(h.as.resourceUrl, { headers: { authorization: `Bearer ${r.token}` } });
    assert.equal(rs.status, 200, 'the resource server (asking the AS) accepts the token');
    assert.equal(h.events.refreshGrants, round + 1, `one grant per on-demand refresh: ${safeJson(h.events.summary())}`);
    previous = r.token;
    expiresAt = r.expiresAt;
  }
  // The other hidden tab adopted the last token (cross-tab signals still flow to hidden tabs).
  await h.waitAll(tabs, (s) => s.accessToken === previous, { message: 'both tabs on the last token' });
  assert.equal(h.events.rs.invalid ?? 0, 0, 'the resource server never saw an expired or unknown token');
  h.assertNoRevocation();
  assertNoGrantError(h);
  await h.assertNoLeaks();
});
