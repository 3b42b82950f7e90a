// The `npm start` demo, end to end in Debian Chromium: startDemo() in-process (oidc-provider + the four
// pages), sign in through the provider's login page on the plain page, open the ESM, React and Vue pages
// in more tabs and see them signed in, watch a refresh reach every tab, see the idle warning in every tab,
// click "Stay signed in" in one and see it close everywhere, log out in one and see the others follow.
// A screenshot of each page goes to test-results/screenshots/ (look at them: they are the demo's face).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startDemo, PAGES } from '../../demo/server.mjs';
import { launchChromium, waitFor, safeJson } from './support/browser.mjs';
import { channelRecorderScript, recordPage, leakCheck } from './support/leak-check.mjs';
import { repoRoot } from './support/static-server.mjs';

const SHOTS = join(repoRoot, 'test-results', 'screenshots');
const DIST = ['index.js', 'oauth.js', 'react.js', 'vue.js', 'sessionkeeper.iife.min.js'];
const missing = DIST.filter((f) => !existsSync(join(repoRoot, 'dist', f)));
const bundleMissing = () => (missing.length ? `dist/ is not built (${missing.join(', ')} missing): run \`npx rollup -c\` first` : false);
// Short enough to see everything within seconds: tokens of 8 s are refreshed about 4 s after issue
// (the lead is clamped to half the lifetime); the idle warning starts 10 s after the last activity.
const TTL_S = 8;
const QUERY = '?idleMs=20000&warningMs=10000&maxSessionMs=600000';

test('demo: sign in, second tab, refresh, idle warning, stay signed in, log out everywhere; screenshots', { skip: bundleMissing(), timeout: 60_000 }, async (t) => {
  const demo = await startDemo({ port: 0, providerPort: 0, accessTokenTtl: TTL_S });
  t.after(() => demo.close());
  const browser = await launchChromium();
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1100, height: 640 } });
  // The provider's login page imports a web font: nothing may leave loopback.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
  await context.addInitScript(channelRecorderScript);
  const sink = [];
  const pages = {};
  const open = async (name) => {
    const page = await context.newPage();
    recordPage(page, sink);
    pages[name] = page;
    await page.goto(`${demo.urls[name]}${QUERY}`);
    return page;
  };
  const text = (page, id) => page.getByTestId(id).textContent({ timeout: 5_000 });
  const status = (page) => page.getByTestId('status').getAttribute('data-status', { timeout: 5_000 });
  const logOf = (page) => page.getByTestId('log').innerText({ timeout: 5_000 });
  const waitAll = (what, predicate, timeout = 5_000) =>
    waitFor(async () => {
      const results = await Promise.all(Object.values(pages).map(predicate));
      return results.every(Boolean);
    }, { timeout, interval: 100, message: what });

  // 1. Sign in on the plain page through the provider's login and consent pages.
  const plain = await open('plain');
  await waitFor(async () => (await status(plain)) === 'anonymous', { message: 'plain page signed out' });
  await Promise.all([plain.waitForURL((url) => url.href.startsWith(demo.issuer), { timeout: 10_000 }), plain.getByTestId('signin').click()]);
  await plain.locator('input[name="login"]').fill('alice', { timeout: 10_000 });
  await plain.locator('input[name="password"]').fill('any password');
  await Promise.all([plain.waitForURL(/\/interaction\//, { timeout: 10_000 }), plain.locator('button[type="submit"]').click()]);
  await Promise.all([plain.waitForURL((url) => url.href.startsWith(demo.urls.plain), { timeout: 10_000 }), plain.locator('button[type="submit"]').click()]);
  await waitFor(async () => (await status(plain)) === 'authenticated', { timeout: 10_000, message: `plain page signed in (log: ${await logOf(plain).catch(() => '')})` });
  assert.equal(await text(plain, 'user'), 'alice');
  assert.equal(new URL(plain.url()).search, QUERY, 'the code is gone from the address bar and the demo settings are back');
  assert.match(await logOf(plain), /signed in as alice/);
  assert.equal(demo.provider.events.grantSuccess.authorization_code, 1);

  // 2. More tabs: the ESM, React and Vue pages open signed in (same origin, same session).
  for (const name of ['esm', 'react', 'vue']) await open(name);
  await waitAll('every tab signed in as alice', async (p) => (await status(p)) === 'authenticated' && (await text(p, 'user')) === 'alice');

  // 3. A refresh: one tab refreshes, every other tab adopts the new token (no second grant, no replay).
  await waitAll('every tab logged a refresh', async (p) => /refreshed the access token|adopted a token refreshed by another tab/.test(await logOf(p)), 15_000);
  const events = demo.provider.events;
  assert.ok(events.refreshGrants >= 1, safeJson(events.summary()));
  assert.equal(events.grantRevoked, 0, `no refresh-token replay: ${safeJson(events.summary())}`);
  const expiresIn = Number.parseInt(await text(plain, 'expires-in'), 10);
  assert.ok(expiresIn > 0 && expiresIn <= TTL_S, `countdown to expiry: ${expiresIn}`);

  // 4. The idle warning shows in every tab, with a countdown.
  await waitAll('the idle warning in every tab', (p) => p.getByTestId('idle-dialog').isVisible(), 15_000);
  assert.match(await text(pages.react, 'idle-countdown'), /^\d+ s$/);
  await mkdir(SHOTS, { recursive: true });
  await pages.react.screenshot({ path: join(SHOTS, 'demo-react-idle-warning.png') });

  // 5. "Stay signed in" in the Vue tab ends the warning everywhere; the session goes on.
  await pages.vue.getByTestId('stay').click();
  await waitAll('the warning closed in every tab', async (p) => !(await p.getByTestId('idle-dialog').isVisible()) && (await status(p)) === 'authenticated');
  for (const name of PAGES) await pages[name].screenshot({ path: join(SHOTS, `demo-${name}.png`) });

  // 6. Log out in the ESM tab: every tab follows, and the refresh token is revoked at the provider.
  await pages.esm.getByTestId('logout').click();
  await waitAll('every tab signed out', async (p) => (await status(p)) === 'anonymous' && /signed out \((this|another) tab\), reason: user/.test(await logOf(p)));
  await waitFor(() => events.grantRevokedBy.revocation >= 1, { timeout: 5_000, message: `revocation at sign-out: ${safeJson(events.summary())}` });
  assert.equal(events.grantRevokedBy.token, undefined, `no refresh-token replay: ${safeJson(events.summary())}`);
  await pages.plain.screenshot({ path: join(SHOTS, 'demo-plain-signed-out.png') });

  // No page errors and no console errors on the demo's origin; no token anywhere it should not be.
  const problems = sink.filter((e) => (e.where.startsWith('pageerror') || e.where.startsWith('console.error')) && e.where.includes(demo.origin));
  assert.deepEqual(problems, [], 'page errors or console errors');
  const { findings } = await leakCheck({ pages: Object.values(pages), context, sink, tokens: events.issued });
  assert.deepEqual(findings, [], 'LEAK-CHECK');
});
