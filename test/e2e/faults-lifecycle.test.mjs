// Fault list §2.6 F48 (XT-7: page restored from the bfcache after a logout elsewhere) and F49 (XT-8: page
// frozen while a sibling rotates the refresh token), against the real oidc-provider.
//
// Chromium details these tests depend on (see "Chromium / Playwright knobs and pitfalls" in requirements.md):
// - bfcache needs a browser launched WITHOUT Playwright's `--disable-back-forward-cache`, and `goBack()` must
//   wait for `commit` only (`load` never fires on a restore).
// - The static fixture server answers `cache-control: no-store`, which alone keeps Chromium from caching the
//   page (`MainResourceHasCacheControlNoStore`). The bfcache tests strip that header from the fixture
//   server's responses (a route on its origin) so the restore path is really exercised.
// - A cached page that receives a BroadcastChannel message is evicted (`BroadcastChannelOnMessage`): a
//   broadcast logout forces a fresh load. The IDB-only variant (tab B with `sync=0`) is what makes the SDK's
//   `pageshow` re-read necessary.
// - Freezing (CDP `Page.setWebLifecycleState`) only has an effect on a hidden page. Playwright's own launch
//   keeps every page "visible", so F49 runs on `spawnChromium()` (real tabs: only the front one is visible).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { createHarness, requireBundle, waitFor, safeJson } from './support/harness.mjs';
import { CHROMIUM, spawnChromium } from './support/browser.mjs';
import { assertSameValidToken, assertNoGrantError } from './support/assertions.mjs';

requireBundle(); // fails the run (never skips) when dist/ was not built

/** Page Lifecycle events of every document, kept in `window.__lifecycle` (reset by a fresh load only). */
const lifecycleScript = `(() => {
  const log = (window.__lifecycle = []);
  window.__loadId = Math.random().toString(36).slice(2);
  const push = (entry) => log.push({ at: Date.now(), ...entry });
  addEventListener('pageshow', (e) => push({ type: 'pageshow', persisted: e.persisted }));
  addEventListener('pagehide', (e) => push({ type: 'pagehide', persisted: e.persisted }));
  document.addEventListener('freeze', () => push({ type: 'freeze' }));
  document.addEventListener('resume', () => push({ type: 'resume' }));
})()`;

const lifecycle = (page) => page.evaluate(() => window.__lifecycle);

/** Serves the fixture server's responses without `cache-control: no-store`, so that pages can enter the bfcache. */
async function allowBfcache(h) {
  await h.context.route((url) => url.origin === h.app.origin, async (route) => {
    const response = await route.fetch();
    const headers = { ...response.headers() };
    delete headers['cache-control'];
    await route.fulfill({ response, headers });
  });
}

/** Requests of `page` to the resource server, with the bearer token each one carried. */
function recordResourceRequests(h, page) {
  const seen = [];
  page.on('request', (r) => {
    if (r.url().startsWith(h.as.resourceUrl)) seen.push(/^Bearer (.*)$/.exec(r.headers().authorization ?? '')?.[1] ?? null);
  });
  return seen;
}

describe('page lifecycle faults against oidc-provider', { timeout: 90_000 }, () => {
  describe('F48/XT-7: bfcache', () => {
    let browser;
    before(async () => {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox'],
        ignoreDefaultArgs: ['--disable-back-forward-cache'],
        timeout: 30_000,
      });
    });
    after(() => browser?.close());

    for (const variant of ['broadcast logout', 'IDB-only logout (sync=0)']) {
      const idbOnly = variant !== 'broadcast logout';
      test(`F48/XT-7 (${variant}): back to a page signed out elsewhere → signed out within 1 s, old AT never sent`, async (t) => {
        const h = await createHarness(t, { browser, provider: { accessTokenTtl: 60 } });
        await h.context.addInitScript(lifecycleScript);
        await allowBfcache(h);
        const a = await h.openTab({ tab: 'A' });
        const requests = recordResourceRequests(h, a);
        const minted = await h.mintAndLogin(a);
        const loadId = await a.evaluate(() => window.__loadId);
        // An app listener registered after the SDK's (createSession().start() ran in the fixture): what does
        // getAccessToken() hand out while the restore's pageshow is being dispatched? (diagnostic only, no request)
        await a.evaluate((old) => {
          addEventListener('pageshow', (e) => {
            if (!e.persisted) return;
            window.session.getAccessToken().then(
              (token) => window.__lifecycle.push({ type: 'early-getAccessToken', stale: token === old, token: token === null ? null : 'other' }),
              (error) => window.__lifecycle.push({ type: 'early-getAccessToken', stale: false, error: String(error?.code ?? error) }),
            );
          });
        }, minted.accessToken);

        const cdp = await h.context.newCDPSession(a);
        const notRestored = [];
        cdp.on('Page.backForwardCacheNotUsed', (e) => notRestored.push(...e.notRestoredExplanations.map((x) => x.reason)));
        await cdp.send('Page.enable');

        await a.goto(new URL('/away.html', h.app.origin).href);
        await a.locator('#away').waitFor({ timeout: 5_000 });
        const b = await h.openTab({ tab: 'B', ...(idbOnly ? { sync: '0' } : {}) });
        assert.equal((await h.state(b)).status, 'authenticated', 'B picked the session up from storage');
        const out = await h.call(b, 'logout');
        assert.ok(out.ok, safeJson(out));

        await a.bringToFront();
        const t0 = Date.now();
        await a.goBack({ waitUntil: 'commit', timeout: 5_000 });
        const state = await waitFor(async () => {
          const s = await h.state(a).catch(() => null); // the execution context may not exist yet
          return s && s.status === 'anonymous' ? s : false;
        }, { timeout: 1_000, interval: 10, message: 'A signed out within 1 s of goBack()' });
        const ms = Date.now() - t0;
        const events = await lifecycle(a);
        const restored = (await a.evaluate(() => window.__loadId)) === loadId;
        const show = events.filter((e) => e.type === 'pageshow').at(-1);
        assert.equal(show?.persisted === true, restored, `pageshow.persisted matches the document identity: ${safeJson(events)}`);
        t.diagnostic(`${variant}: ${restored ? 'restored from bfcache (pageshow.persisted=true)' : `fresh load (not restored: ${safeJson([...new Set(notRestored)])})`}, signed out after ${ms} ms (reason ${state.reason})`);

        if (idbOnly) {
          // No message reached the cached page, so nothing evicted it: the restored page had stale memory and
          // only the SDK's pageshow/resume re-read can have signed it out.
          assert.ok(restored, `the IDB-only variant is restored from bfcache (not restored: ${safeJson(notRestored)})`);
          assert.equal(state.reason, 'user', 'the re-read adopted the logout tombstone');
          const early = await waitFor(async () => (await lifecycle(a)).find((e) => e.type === 'early-getAccessToken'), { timeout: 2_000, message: 'the early getAccessToken() settled' });
          assert.ok(!early.stale, 'XT-7: getAccessToken() called from a pageshow listener of the restored page must not return the signed-out access token');
        }

        // Anything the app does now must not use the old token.
        assert.equal((await h.call(a, 'getAccessToken')).value, null, 'getAccessToken() after the restore: null');
        const fetched = await a.evaluate(() => window.harness.sessionFetch());
        assert.equal(fetched.ok, false, `session.fetch() refuses without a session: ${safeJson(fetched)}`);
        assert.ok(!requests.includes(minted.accessToken), `A never sent the old access token to the RS (${requests.length} RS requests)`);
        assert.equal(h.events.rs.ok ?? 0, 0, `the RS accepted no request: ${safeJson(h.events.rs)}`);
        assert.equal((await h.state(b)).status, 'anonymous');
        assert.equal(h.events.refreshGrants, 0);
        h.assertNoRevocation();
        await h.assertNoLeaks();
      });
    }
  });

  describe('F49/XT-8: frozen page', () => {
    for (const variant of ['BroadcastChannel on', 'A with sync=0 (resume re-read only)']) {
      const resumeOnly = variant !== 'BroadcastChannel on';
      test(`F49/XT-8 (${variant}): A frozen while B rotates the RT → A resyncs on resume, 0 grant.revoked`, async (t) => {
        const spawned = await spawnChromium();
        t.after(() => spawned.close());
        // 10 s AT, 1 s lead: no timer-driven refresh in either tab during the few seconds of the scenario.
        const h = await createHarness(t, { context: spawned.context, provider: { accessTokenTtl: 10 }, app: { refreshLeadMs: 1_000 } });
        await h.context.addInitScript(lifecycleScript);
        const a = await h.openTab({ tab: 'A', ...(resumeOnly ? { sync: '0' } : {}) });
        const b = await h.openTab({ tab: 'B' });
        const minted = await h.mintAndLogin(b);
        if (resumeOnly) {
          await a.reload(); // A hears no messages: it picks the session up from storage
          await h.ready(a);
        }
        await h.waitAll([a, b], (s) => s.status === 'authenticated', { message: 'both tabs signed in' });
        assert.equal((await h.state(a)).refreshToken, minted.refreshToken);

        await b.bringToFront();
        assert.equal(await a.evaluate(() => document.visibilityState), 'hidden', 'A is hidden behind B');
        const cdp = await h.context.newCDPSession(a);
        const t0 = Date.now();
        await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
        const froze = await waitFor(async () => (await lifecycle(a)).some((e) => e.type === 'freeze'), { timeout: 2_000, message: 'freeze event in A' })
          .catch(() => false);
        t.diagnostic(froze ? 'freeze event observed in A' : 'Page.setWebLifecycleState had no visible effect: no freeze event in A');

        const rotated = await h.call(b, 'refresh');
        assert.ok(rotated.ok, safeJson(rotated));
        const bState = await h.state(b);
        assert.notEqual(bState.refreshToken, minted.refreshToken, 'B rotated the RT');
        assert.equal(h.events.refreshGrants, 1);
        if (froze) assert.equal((await h.state(a)).refreshToken, minted.refreshToken, 'frozen A still holds the consumed RT in memory');

        await cdp.send('Page.setWebLifecycleState', { state: 'active' });
        // Still hidden: only the resume event (and, with sync, the message queued while frozen) can resync A.
        await waitFor(async () => (await h.state(a)).refreshToken === bState.refreshToken, { timeout: 2_000, interval: 25, message: "A adopted B's rotated RT after resume (still hidden)" });
        const events = await lifecycle(a);
        if (froze) assert.ok(events.some((e) => e.type === 'resume'), `resume event in A: ${safeJson(events)}`);
        await a.bringToFront();
        t.diagnostic(`frozen for ${Date.now() - t0} ms; lifecycle of A: ${safeJson(events.map((e) => e.type))}`);

        const got = await h.getToken(a);
        assert.ok(got.ok, safeJson(got));
        assert.equal(got.token, bState.accessToken, "A's getAccessToken() returns B's access token");
        assert.equal(h.events.refreshGrants, 1, `A sent no grant: ${safeJson(h.events.summary())}`);
        const aState = await h.state(a);
        assert.equal(aState.refreshToken, bState.refreshToken, "A ends with B's rotated RT");

        // A refreshes explicitly: it must send the stored (rotated) RT, never the one it held when frozen.
        const refreshed = await h.call(a, 'refresh');
        assert.ok(refreshed.ok, safeJson(refreshed));
        assert.equal(h.events.refreshGrants, 2, `exactly B's and A's grants: ${safeJson(h.events.summary())}`);
        assert.notEqual((await h.state(a)).refreshToken, bState.refreshToken);
        if (!resumeOnly) {
          await waitFor(async () => { const [sa, sb] = await h.states([a, b]); return sa.refreshToken === sb.refreshToken; }, { timeout: 3_000, message: "B follows A's refresh" });
          await assertSameValidToken(h, [a, b]);
        } else {
          assert.equal(await h.as.isAccessTokenActive((await h.state(a)).accessToken), true);
        }
        h.assertNoRevocation();
        assertNoGrantError(h);
        await h.assertNoLeaks();
      });
    }
  });
});
