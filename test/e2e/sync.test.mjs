// XT-1: sign-in and sign-out propagate to every tab of the context within 1 s.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, requireBundle, waitFor, safeJson } from './support/harness.mjs';
import { launchChromium } from './support/browser.mjs';
import { eventsPerTab } from './support/assertions.mjs';

requireBundle(); // fails the run (never skips) when dist/ was not built

describe('cross-tab sign-in and sign-out (XT-1)', {}, () => {
  let browser;
  before(async () => { browser = await launchChromium(); });
  after(() => browser?.close());

  test('logout in one of 5 tabs signs every tab out (reason user) within 1 s', { timeout: 30_000 }, async (t) => {
    const h = await createHarness(t, { browser, provider: { accessTokenTtl: 60 } });
    const pages = await h.openTabs(5);
    await h.mintAndLogin(pages[0]);
    await h.waitAll(pages, (s) => s.status === 'authenticated', { message: 'all tabs signed in' });

    const calledAt = await pages[2].evaluate(async () => {
      const at = Date.now();
      await window.session.logout();
      return at;
    });
    const logouts = await waitFor(async () => {
      const all = await eventsPerTab(h, pages, 'logout');
      return all.every((l) => l.length >= 1) ? all : false;
    }, { timeout: 3_000, message: 'a logout event in every tab' });
    const latency = logouts.map((l) => l[0].at - calledAt);
    t.diagnostic(`logout propagation per tab (ms): ${safeJson(latency)}`);
    for (const [i, list] of logouts.entries()) {
      assert.equal(list.length, 1, `tab ${i + 1}: exactly one logout event`);
      assert.equal(list[0].payload.reason, 'user', `tab ${i + 1}: reason user`);
      assert.equal(list[0].payload.remote, i !== 2, `tab ${i + 1}: remote flag`);
    }
    assert.ok(Math.max(...latency) <= 1_000, `every tab signed out within 1 s (ms: ${safeJson(latency)})`);
    const states = await h.states(pages);
    assert.ok(states.every((s) => s.status === 'anonymous' && s.reason === 'user'), safeJson(states));
    const tokens = await Promise.all(pages.map((p) => h.getToken(p)));
    assert.ok(tokens.every((r) => r.ok && r.token === null), 'getAccessToken() resolves null everywhere');
    assert.equal(h.events.refreshGrants, 0);
    h.assertNoRevocation({ allowLogoutRevocation: true });
    await h.assertNoLeaks();
  });

  test('login in one tab signs the other tabs in within 1 s', { timeout: 30_000 }, async (t) => {
    const h = await createHarness(t, { browser, provider: { accessTokenTtl: 60 } });
    const pages = await h.openTabs(3);
    assert.ok((await h.states(pages)).every((s) => s.status === 'anonymous'));
    const minted = await h.as.mintSession({ accountId: 'bob' });
    const calledAt = await pages[1].evaluate(async (tk) => {
      const at = Date.now();
      await window.session.login(tk);
      return at;
    }, { accessToken: minted.accessToken, refreshToken: minted.refreshToken, expiresAt: minted.expiresAt });
    const logins = await waitFor(async () => {
      const all = await eventsPerTab(h, pages, 'login');
      return all.every((l) => l.length >= 1) ? all : false;
    }, { timeout: 3_000, message: 'a login event in every tab' });
    const latency = logins.map((l) => l[0].at - calledAt);
    t.diagnostic(`login propagation per tab (ms): ${safeJson(latency)}`);
    assert.ok(Math.max(...latency) <= 1_000, `every tab signed in within 1 s (ms: ${safeJson(latency)})`);
    for (const [i, list] of logins.entries()) {
      assert.equal(list.length, 1, `tab ${i + 1}: exactly one login event`);
      assert.equal(list[0].payload.remote, i !== 1, `tab ${i + 1}: remote flag`);
    }
    const states = await h.states(pages);
    assert.ok(states.every((s) => s.status === 'authenticated' && s.accessToken === minted.accessToken), 'every tab holds the new session');
    // A tab opened later restores the session from storage.
    const late = await h.openTab();
    const lateState = await h.state(late);
    assert.equal(lateState.status, 'authenticated', 'a new tab restores the session');
    assert.equal(lateState.accessToken, minted.accessToken);
    const r = await late.evaluate(() => window.harness.callResource());
    assert.equal(r.status, 200, 'the restored token works at the resource server');
    assert.equal(h.events.refreshGrants, 0);
    h.assertNoRevocation();
    await h.assertNoLeaks();
  });
});
