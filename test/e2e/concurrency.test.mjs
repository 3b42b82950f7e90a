// RF-2 / F52: 100 concurrent getAccessToken() calls spread over 3 tabs, with an expired access token,
// cause exactly one refresh_token grant at the AS, and every call gets the same new token.
//
// Playwright's clock is installed in every tab (context-wide) and paused, so no SDK timer can refresh
// before the calls do; the wall clock is then moved past the token's expiry without firing timers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, requireBundle, safeJson } from './support/harness.mjs';
import { assertNoGrantError } from './support/assertions.mjs';

requireBundle(); // fails the run (never skips) when dist/ was not built

test('100 concurrent getAccessToken() in 3 tabs with an expired token: one refresh grant (RF-2, F52)', { timeout: 60_000 }, async (t) => {
  const h = await createHarness(t, { provider: { accessTokenTtl: 30 }, app: { refreshLeadMs: 5_000 } });
  await h.context.clock.install({ time: Date.now() });
  const pages = await h.openTabs(3);
  // Far enough ahead that the pause lands in the future even on a loaded machine (CDP round trips).
  await h.context.clock.pauseAt(Date.now() + 2_000);
  const minted = await h.mintAndLogin(pages[0]);
  await h.waitAll(pages, (s) => s.status === 'authenticated', { message: 'all tabs signed in', timeout: 3_000 });

  // The token expired two seconds ago, as far as every tab can tell. No timer has run.
  await h.context.clock.setSystemTime(minted.expiresAt + 2_000);
  assert.equal(h.events.refreshGrants, 0);

  const split = [34, 33, 33];
  const results = (await Promise.all(pages.map((p, i) => p.evaluate((n) => window.harness.getTokens(n), split[i])))).flat();
  assert.equal(results.length, 100);
  const failed = results.filter((r) => !r.ok);
  assert.deepEqual(failed, [], 'every call resolved');
  const tokens = new Set(results.map((r) => r.token));
  assert.equal(tokens.size, 1, `all 100 calls got the same token (${tokens.size} distinct)`);
  const [token] = tokens;
  assert.notEqual(token, minted.accessToken, 'the expired token was never handed out');
  assert.ok(results.every((r) => r.expiresAt > r.now), 'every call saw a token that is not expired');

  assert.equal(h.events.refreshGrants, 1, `exactly one refresh grant: ${safeJson(h.events.summary())}`);
  h.assertNoRevocation();
  assertNoGrantError(h);
  assert.equal(await h.as.isAccessTokenActive(token), true, 'the new token is valid at the AS');
  const states = await h.states(pages);
  assert.deepEqual(states.map((s) => s.accessToken), [token, token, token], 'every tab holds the new token');
  await h.assertNoLeaks();
});
