// RF-2 / RF-5 in steady state: N tabs (1, 5, 10) of one browser context share one session for at least
// three access-token lifetimes on real time. The AS must see exactly one refresh_token grant per
// lifetime, no invalid_grant, no revoked grant, and every tab must end on the same valid token.
//
// AS access tokens live TTL s; the SDK refreshes LEAD ms before expiry, so one lifetime of a token in
// use is about TTL - LEAD (plus the SDK's small jitter) and the run covers 3 lifetimes of TTL s.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, requireBundle, delay, safeJson } from './support/harness.mjs';
import { launchChromium } from './support/browser.mjs';
import { assertSameValidToken, assertNoGrantError, refreshGrantTimes, eventsPerTab } from './support/assertions.mjs';

requireBundle(); // fails the run (never skips) when dist/ was not built

const TTL = 6; // s, at the AS
const LEAD = 1_000; // ms, SDK refreshLeadMs
const LIFETIMES = 3;

describe('steady-state refresh across tabs (RF-2, RF-5)', {}, () => {
  let browser;
  before(async () => { browser = await launchChromium(); });
  after(() => browser?.close());

  for (const n of [1, 5, 10]) {
    test(`${n} tab(s), ${LIFETIMES} token lifetimes: exactly one refresh grant per lifetime`, { timeout: 60_000 }, async (t) => {
      const h = await createHarness(t, { browser, provider: { accessTokenTtl: TTL }, app: { refreshLeadMs: LEAD } });
      const pages = await h.openTabs(n);
      const minted = await h.mintAndLogin(pages[0]);
      await h.waitAll(pages, (s) => s.status === 'authenticated' && s.accessToken === minted.accessToken, { message: 'every tab adopted the sign-in', timeout: 3_000 });
      const start = Date.now();

      // Real time: the run is as long as the lifetimes it covers. Polled so a failure shows early.
      const end = minted.expiresAt + (LIFETIMES - 1) * TTL * 1000 + 1_500;
      // It stops 1.5 s after the LIFETIMES-th grant (time for every tab to adopt it, and for a
      // duplicate grant to show up) or at `end`, whichever comes first.
      let settleUntil = Infinity;
      for (let i = 0; i < 200 && Date.now() < Math.min(end, settleUntil); i++) {
        await delay(Math.min(250, Math.max(0, end - Date.now())));
        if (h.events.grantRevoked || h.events.grantError.invalid_grant) break;
        if (settleUntil === Infinity && h.events.refreshGrants >= LIFETIMES) settleUntil = Date.now() + 1_500;
      }
      h.assertNoRevocation();
      assertNoGrantError(h);

      const times = refreshGrantTimes(h);
      const spacing = times.slice(1).map((at, i) => at - times[i]);
      const summary = `grants at +${safeJson(times.map((at) => at - start))} ms, spacing ${safeJson(spacing)}; AS ${safeJson(h.events.summary())}`;
      // One refresh per lifetime: at least one per lifetime covered, and never two within one lifetime.
      assert.ok(times.length >= LIFETIMES, `at least ${LIFETIMES} refreshes over ${LIFETIMES} lifetimes: ${summary}`);
      assert.ok(times.length <= LIFETIMES + 1, `at most one refresh per lifetime: ${summary}`);
      for (const gap of spacing) {
        assert.ok(gap >= (TTL * 1000 - LEAD) * 0.8, `two refreshes within one lifetime (gap ${gap} ms): ${summary}`);
        assert.ok(gap < TTL * 1000, `a lifetime passed without a refresh (gap ${gap} ms): ${summary}`);
      }
      assert.ok(times[0] < minted.expiresAt, `the first refresh happened before the first token expired: ${summary}`);

      // The tabs agree with the AS: every grant is one local refresh in exactly one tab, adopted by all.
      const refreshes = await eventsPerTab(h, pages, 'refresh');
      const local = refreshes.flat().filter((e) => !e.payload.remote).length;
      assert.equal(local, times.length, `local refresh events across tabs equal AS grants: ${summary}`);
      for (const [i, list] of refreshes.entries()) {
        assert.equal(list.length, times.length, `tab ${i + 1} saw every refresh (${list.length}/${times.length})`);
      }
      const errors = await eventsPerTab(h, pages, 'refresh-error');
      assert.deepEqual(errors.flat(), [], 'no refresh-error in any tab');
      const { token } = await assertSameValidToken(h, pages);
      assert.equal(h.as.events.log.filter((e) => e.type === 'grant.success').length, times.length, 'no other grants');
      assert.ok([...h.events.issued].includes(token));
      const logouts = await eventsPerTab(h, pages, 'logout');
      assert.deepEqual(logouts.flat(), [], 'nobody was logged out');
      await h.assertNoLeaks();
      t.diagnostic(`n=${n}: ${times.length} refresh grants in ${Date.now() - start} ms; ${summary}`);
    });
  }
});
