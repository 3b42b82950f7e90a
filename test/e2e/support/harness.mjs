// One e2e "world": a real oidc-provider (AS + resource-server stub), the static app server, Debian
// Chromium and one browser context (its tabs share storage). Everything is torn down by `close()`,
// which `createHarness(t)` registers with node:test so it runs even when the test fails.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startProvider } from '../../../demo/provider.mjs';
import { startStaticServer, repoRoot } from './static-server.mjs';
import { launchChromium, waitFor, safeJson } from './browser.mjs';
import { channelRecorderScript, recordPage, leakCheck } from './leak-check.mjs';

export { waitFor, delay, safeJson } from './browser.mjs';

export const BUNDLE = join(process.env.E2E_DIST || join(repoRoot, 'dist'), 'sessionkeeper.iife.min.js');

/**
 * Guard for tests that need the CDN bundle. A missing bundle fails the run loudly (never a silent skip):
 * `npm test` builds before this stage; by hand, run `npx rollup -c` first.
 */
export function requireBundle() {
  if (!existsSync(BUNDLE)) throw new Error('dist/sessionkeeper.iife.min.js is missing: run `npx rollup -c` first');
  return false;
}

/**
 * @param {import('node:test').TestContext | null} t  registers `close()` with `t.after` when given
 * @param {object} [options]
 * @param {object} [options.provider]   startProvider() options (appOrigins is filled in)
 * @param {Record<string, string|number>} [options.app] default query parameters of the fixture page
 * @param {Record<string, string>} [options.aliases] static-server path aliases (e.g. `{ '/cb': '/signin.html' }`)
 * @param {boolean} [options.throttling] launch Chromium with real background throttling
 * @param {import('playwright-core').Browser} [options.browser] reuse a browser (not closed by the harness)
 * @param {import('playwright-core').BrowserContext} [options.context] use this context (not closed; its pages are)
 */
export async function createHarness(t, { provider: providerOptions = {}, app = {}, aliases = {}, throttling = false, browser: sharedBrowser, context: sharedContext } = {}) {
  const closers = [];
  const h = {
    /** console output and page errors of every tab, for the leak check and for debugging */
    sink: [],
    pages: [],
    async close() {
      const errors = [];
      while (closers.length) {
        const fn = closers.pop();
        try {
          await withTimeout(fn(), 10_000, 'close');
        } catch (e) {
          errors.push(e);
        }
      }
      if (errors.length) console.error('harness close errors:', errors.map((e) => e.message));
    },
  };
  if (t) t.after(() => h.close());

  try {
    h.app = await startStaticServer({ aliases });
    closers.push(() => h.app.close());
    h.as = await startProvider({ appOrigins: [h.app.origin], ...providerOptions });
    closers.push(() => h.as.close());
    h.events = h.as.events;
    if (sharedContext) {
      h.context = sharedContext;
      closers.push(async () => { for (const p of h.pages) await p.close().catch(() => {}); });
    } else {
      h.browser = sharedBrowser ?? (await launchChromium({ throttling }));
      if (!sharedBrowser) closers.push(() => h.browser.close());
      h.context = await h.browser.newContext();
      closers.push(() => h.context.close());
    }
    await h.context.addInitScript(channelRecorderScript);
  } catch (e) {
    await h.close();
    throw e;
  }

  h.defaults = { name: 'e2e', tokenEndpoint: h.as.tokenEndpoint, resource: h.as.resourceUrl, ...app };

  /** URL of the fixture app with the default query parameters, overridden by `params`. */
  h.appUrl = (params = {}, path = '/app.html') => {
    const url = new URL(path, h.app.origin);
    for (const [k, v] of Object.entries({ ...h.defaults, ...params })) if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    return url.href;
  };

  /** Opens one tab of the fixture and waits until the session is past `loading`. */
  h.openTab = async (params = {}, { waitReady = true } = {}) => {
    const page = await h.context.newPage();
    recordPage(page, h.sink);
    h.pages.push(page);
    const tab = params.tab ?? `t${h.pages.length}`;
    await page.goto(h.appUrl({ tab, ...params }));
    if (waitReady) await h.ready(page);
    return page;
  };

  /** Opens `n` tabs, one after another (each loads and hydrates), and returns them. */
  h.openTabs = async (n, params = {}) => {
    const pages = [];
    for (let i = 0; i < n; i++) pages.push(await h.openTab(params));
    return pages;
  };

  h.ready = async (page, timeout = 10_000) => {
    const status = await page.waitForFunction(() => window.harnessReady, null, { timeout, polling: 25 }).then((r) => r.jsonValue());
    if (status === 'no-sdk' || status === 'error') {
      const errors = await page.evaluate(() => window.fixtureErrors);
      throw new Error(`fixture did not start (${status}): ${safeJson(errors)}`);
    }
    return status;
  };

  h.state = (page) => page.evaluate(() => window.harness.state());
  h.states = (pages = h.pages.filter((p) => !p.isClosed())) => Promise.all(pages.map((p) => h.state(p)));
  h.log = (page) => page.evaluate(() => window.log);
  h.eventsOf = (page, type) => page.evaluate((ty) => window.harness.events(ty), type);
  h.getToken = (page) => page.evaluate(() => window.harness.getToken());
  h.call = (page, method, ...args) => page.evaluate(([m, a]) => window.harness.call(m, ...a), [method, args]);

  /** Signs in through the public API of `page` with freshly minted tokens (no login UI). */
  h.mintAndLogin = async (page, { accountId = 'alice', scope } = {}) => {
    const minted = await h.as.mintSession({ accountId, scope });
    const tokens = { accessToken: minted.accessToken, refreshToken: minted.refreshToken, expiresAt: minted.expiresAt, scope: minted.scope };
    const result = await page.evaluate((tk) => window.harness.call('login', tk), tokens);
    assert.ok(result.ok, `login() failed: ${safeJson(result.error)}`);
    return minted;
  };

  /** Waits until every given tab satisfies `predicate(state)`. */
  h.waitAll = (pages, predicate, { timeout = 5_000, message = 'all tabs' } = {}) =>
    waitFor(async () => {
      const states = await h.states(pages);
      return states.every(predicate) ? states : false;
    }, { timeout, interval: 25, message });

  /** LEAK-CHECK over every open tab, the context's cookies and the console; asserts no findings. */
  h.assertNoLeaks = async (extraTokens = []) => {
    const { findings, inspected, tokens } = await leakCheck({
      pages: h.pages,
      context: h.context,
      sink: h.sink,
      tokens: [...h.as.events.issued, ...extraTokens],
    });
    assert.ok(tokens > 0, 'leak check: no tokens were issued in this test');
    assert.deepEqual(findings, [], `LEAK-CHECK found token material (${inspected} places inspected)`);
    return { inspected, tokens };
  };

  /**
   * AS-side invariants every multi-tab test asserts: no grant was revoked. With `allowLogoutRevocation`,
   * revocations through the RFC 7009 endpoint (a logout revoking its RT) are allowed, replays never.
   */
  h.assertNoRevocation = ({ allowLogoutRevocation = false } = {}) => {
    const replays = h.events.grantRevoked - (allowLogoutRevocation ? (h.events.grantRevokedBy.revocation ?? 0) : 0);
    assert.equal(replays, 0, `grant.revoked must be 0: ${safeJson(h.events.summary())}`);
    assert.deepEqual(h.events.serverErrors, [], 'provider server errors');
  };

  return h;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    Promise.resolve(promise).finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms); }),
  ]);
}
