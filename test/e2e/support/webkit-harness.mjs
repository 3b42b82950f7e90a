// The e2e "world" of harness.mjs, with WebKit (WebKitGTK's MiniBrowser) driven over classic WebDriver
// instead of Chromium over CDP: a real oidc-provider, the static app server, one WebDriver session (its
// windows share storage, like the tabs of one browser) and the same fixture app (test/e2e/fixtures).
//
// What differs from the Playwright harness:
// - "tabs" are WebDriver top-level windows (`window.open` is blocked under automation). WebDriver talks
//   to one window at a time, so every page command switches to its window first; commands are queued so
//   a switch and the script that follows it are never interleaved with another tab's.
// - no init scripts: the BroadcastChannel recorder of the leak check is installed once the page has loaded,
//   before the test signs in; console output is not observable (classic WebDriver has no log events), so
//   the leak check covers storage, IndexedDB, cookies, the URL, the event log and channel messages.
// - no clock control: flows that need time to pass use real time, or hold the AS's answer (holdTokenRequests).
import assert from 'node:assert/strict';
import { startProvider } from '../../../demo/provider.mjs';
import { startStaticServer } from './static-server.mjs';
import { waitFor, safeJson } from './browser.mjs';
import { channelRecorderScript, leakCheck } from './leak-check.mjs';
import { BUNDLE, requireBundle } from './harness.mjs';
import { startWebKitDriver, webkitSession, withTimeout } from '../../support/webkit-driver.mjs';

export { waitFor, delay, safeJson } from './browser.mjs';
export { BUNDLE, requireBundle };

/**
 * Xvfb + WebKitWebDriver + one WebDriver session (one MiniBrowser), shared by the tests of a file: a
 * session takes about 1.5 s to create. Each harness opens its own windows on its own origin (fresh
 * servers on fresh ports), so tests never share storage, and closes them again.
 */
export async function launchWebKit() {
  const rig = await startWebKitDriver();
  try {
    const driver = await webkitSession(rig);
    const firstWindow = await driver.getWindowHandle();
    return {
      rig,
      driver,
      firstWindow,
      /** Windows of the session, reused by the next test (switching to a new window costs ~0.5 s). */
      windows: [firstWindow],
      currentWindow: firstWindow,
      queue: Promise.resolve(),
      async close() {
        await withTimeout(driver.deleteSession(), 10_000, 'WebDriver session delete').catch(() => {});
        await rig.stop();
      },
    };
  } catch (e) {
    await rig.stop();
    throw e;
  }
}

/**
 * @param {import('node:test').TestContext} t  `close()` is registered with `t.after`
 * @param {Awaited<ReturnType<typeof launchWebKit>>} browser  from launchWebKit()
 * @param {object} [options]
 * @param {object} [options.provider]  startProvider() options
 * @param {Record<string, string|number>} [options.app]  default query parameters of the fixture page
 */
export async function createWebKitHarness(t, browser, { provider: providerOptions = {}, app = {} } = {}) {
  const closers = [];
  const h = {
    pages: [],
    async close() {
      const errors = [];
      while (closers.length) {
        try {
          await withTimeout(closers.pop()(), 10_000, 'close');
        } catch (e) {
          errors.push(e);
        }
      }
      if (errors.length) console.error('webkit harness close errors:', errors.map((e) => e.message));
    },
  };
  t.after(() => h.close());

  try {
    h.app = await startStaticServer();
    closers.push(() => h.app.close());
    h.as = await startProvider({ appOrigins: [h.app.origin], ...providerOptions });
    closers.push(() => h.as.close());
    h.events = h.as.events;
  } catch (e) {
    await h.close();
    throw e;
  }
  const { driver } = browser;
  h.driver = driver;

  // One WebDriver command sequence at a time (switch + script), in call order.
  const exclusive = (fn) => {
    const run = browser.queue.then(fn, fn);
    browser.queue = run.catch(() => {});
    return run;
  };
  const inWindow = (page, fn) => exclusive(async () => {
    if (browser.currentWindow !== page.handle) {
      await driver.switchToWindow(page.handle);
      browser.currentWindow = page.handle;
    }
    return fn();
  });
  // Closing: every window this test used goes back to a blank page (that ends the SDK in it); the windows
  // and the session belong to the file and are reused by the next test, on another origin.
  closers.push(() => exclusive(async () => {
    for (const page of h.pages) {
      await driver.switchToWindow(page.handle);
      browser.currentWindow = page.handle;
      await driver.navigateTo('about:blank');
    }
  }));

  /**
   * Runs `fn(...args)` in the page (an async function is awaited, WebDriver's execute does that).
   * The function is sent as source: it must not close over anything.
   */
  h.eval = (page, fn, ...args) => inWindow(page, () => driver.execute(fn, ...args));

  h.defaults = { name: 'e2e', tokenEndpoint: h.as.tokenEndpoint, resource: h.as.resourceUrl, ...app };
  h.appUrl = (params = {}, path = '/app.html') => {
    const url = new URL(path, h.app.origin);
    for (const [k, v] of Object.entries({ ...h.defaults, ...params })) if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    return url.href;
  };

  /** Opens one "tab" (a top-level window of the session: a free one, else a new one) and waits until it is ready. */
  h.openTab = async (params = {}) => {
    const tab = params.tab ?? `t${h.pages.length + 1}`;
    const url = h.appUrl({ tab, ...params });
    let handle = browser.windows[h.pages.length];
    if (!handle) {
      ({ handle } = await exclusive(() => driver.createWindow('window')));
      browser.windows.push(handle);
    }
    const page = { handle, url, tab, isClosed: () => false };
    // leak-check.mjs reads pages through this Playwright-like surface.
    page.evaluate = (fn) => h.eval(page, fn);
    page.url = () => url;
    h.pages.push(page);
    await inWindow(page, () => driver.navigateTo(url));
    await h.ready(page);
    await h.eval(page, channelRecorderScript);
    return page;
  };

  h.openTabs = async (n, params = {}) => {
    const pages = [];
    for (let i = 0; i < n; i++) pages.push(await h.openTab(params));
    return pages;
  };

  h.ready = async (page, timeout = 10_000) => {
    const status = await waitFor(() => h.eval(page, () => window.harnessReady), { timeout, interval: 25, message: `fixture ready in ${page.tab}` });
    if (status === 'no-sdk' || status === 'error') {
      const errors = await h.eval(page, () => window.fixtureErrors);
      throw new Error(`fixture did not start (${status}): ${safeJson(errors)}`);
    }
    return status;
  };

  h.state = (page) => h.eval(page, () => window.harness.state());
  h.states = async (pages = h.pages) => {
    const out = [];
    for (const p of pages) out.push(await h.state(p));
    return out;
  };
  h.eventsOf = (page, type) => h.eval(page, (ty) => window.harness.events(ty), type);
  h.getToken = (page) => h.eval(page, () => window.harness.getToken());
  h.call = (page, method, ...args) => h.eval(page, (m, a) => window.harness.call(m, ...a), method, args);

  /** Signs in through the public API of `page` with freshly minted tokens; `expiresAt` overrides what the SDK is told. */
  h.mintAndLogin = async (page, { accountId = 'alice', scope, expiresAt } = {}) => {
    const minted = await h.as.mintSession({ accountId, scope });
    const tokens = { accessToken: minted.accessToken, refreshToken: minted.refreshToken, expiresAt: expiresAt ?? minted.expiresAt, scope: minted.scope };
    const result = await h.eval(page, (tk) => window.harness.call('login', tk), tokens);
    assert.ok(result.ok, `login() failed: ${safeJson(result.error)}`);
    return { ...minted, expiresAt: tokens.expiresAt };
  };

  h.waitAll = (pages, predicate, { timeout = 5_000, message = 'all tabs' } = {}) =>
    waitFor(async () => {
      const states = await h.states(pages);
      return states.every(predicate) ? states : false;
    }, { timeout, interval: 25, message });

  /** LEAK-CHECK over every tab (storage, IndexedDB, cookies, URL, event log, channel messages). */
  h.assertNoLeaks = async (extraTokens = []) => {
    const { findings, inspected, tokens } = await leakCheck({ pages: h.pages, tokens: [...h.as.events.issued, ...extraTokens] });
    assert.ok(tokens > 0, 'leak check: no tokens were issued in this test');
    assert.deepEqual(findings, [], `LEAK-CHECK found token material (${inspected} places inspected)`);
    return { inspected, tokens };
  };

  h.assertNoRevocation = ({ allowLogoutRevocation = false } = {}) => {
    const replays = h.events.grantRevoked - (allowLogoutRevocation ? (h.events.grantRevokedBy.revocation ?? 0) : 0);
    assert.equal(replays, 0, `grant.revoked must be 0: ${safeJson(h.events.summary())}`);
    assert.deepEqual(h.events.serverErrors, [], 'provider server errors');
  };

  /** Trusted (WebDriver-dispatched) mouse moves in `page`, inside its viewport. */
  h.mouseMove = (page, x, y) => inWindow(page, async () => {
    await driver.performActions([{ type: 'pointer', id: 'mouse', parameters: { pointerType: 'mouse' }, actions: [{ type: 'pointerMove', duration: 0, x, y, origin: 'viewport' }] }]);
    await driver.releaseActions();
  });

  return h;
}

/**
 * Holds every POST to the AS's /token until `release()`: the request reaches the AS's HTTP server and
 * waits there (the browser sees a slow AS). `arrived(n)` resolves once `n` requests are held.
 * Wraps the provider's HTTP request listener; `restore()` puts it back.
 * @param {import('node:http').Server} server  `h.as.server`
 */
export function holdTokenRequests(server) {
  const listeners = server.listeners('request');
  assert.equal(listeners.length, 1, 'the provider server has one request listener');
  const [handler] = listeners;
  let open;
  const released = new Promise((resolve) => { open = resolve; });
  const held = [];
  const waiters = [];
  const gate = (req, res) => {
    if (req.method !== 'POST' || !req.url?.startsWith('/token')) return handler(req, res);
    held.push(Date.now());
    for (const w of waiters.filter((x) => held.length >= x.n)) w.resolve();
    released.then(() => handler(req, res));
  };
  server.removeListener('request', handler);
  server.on('request', gate);
  return {
    get count() { return held.length; },
    arrived(n, timeout = 10_000) {
      if (held.length >= n) return Promise.resolve();
      return withTimeout(new Promise((resolve) => waiters.push({ n, resolve })), timeout, `${n} token request(s) at the AS`);
    },
    release() { open(); },
    restore() {
      open();
      server.removeListener('request', gate);
      server.on('request', handler);
    },
  };
}
