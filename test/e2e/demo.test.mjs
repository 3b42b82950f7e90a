// The `npm start` demo, end to end in Debian Chromium: startDemo() in-process (oidc-provider + the four
// pages), sign in through the provider's login page on the plain page, open the ESM, React and Vue pages
// in more tabs and see them signed in, watch a refresh reach every tab, see the idle warning in every tab,
// click "Stay signed in" in one and see it close everywhere, log out in one and see the others follow, the
// provider's session end (RP-initiated logout), and the next sign-in ask for the password again.
// A screenshot of each page goes to test-results/screenshots/ (look at them: they are the demo's face).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDemo, PAGES } from '../../demo/server.mjs';
import { launchChromium, waitFor, safeJson } from './support/browser.mjs';
import { channelRecorderScript, recordPage, leakCheck } from './support/leak-check.mjs';
import { repoRoot } from './support/static-server.mjs';
import { signInAtProvider } from './support/provider-login.mjs';

const SHOTS = join(repoRoot, 'test-results', 'screenshots');
const DIST = ['index.js', 'oauth.js', 'react.js', 'vue.js', 'sessionkeeper.iife.min.js'];
const missing = DIST.filter((f) => !existsSync(join(repoRoot, 'dist', f)));
// Fails the run (never a silent skip) when dist/ was not built: `npm test` builds first; by hand, `npx rollup -c`.
if (missing.length) throw new Error(`dist/ is not built (${missing.join(', ')} missing): run \`npx rollup -c\` first`);
// Short enough to see everything within seconds: tokens of 8 s are refreshed about 4 s after issue
// (the lead is clamped to half the lifetime); the idle warning starts 10 s after the last activity.
const TTL_S = 8;
const QUERY = '?idleMs=20000&warningMs=10000&maxSessionMs=600000';

test('demo: sign in, second tab, refresh, idle warning, stay signed in, log out everywhere (and at the provider), sign in again; screenshots', { timeout: 90_000 }, async (t) => {
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
  await signInAtProvider(plain, { login: 'alice', returnTo: (url) => url.href.startsWith(demo.urls.plain) });
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

  // 6. Log out in the ESM tab: every tab follows, the refresh token is revoked at the provider, and then
  //    (RP-initiated logout) the ESM tab goes to the provider's logout page, which ends the provider's
  //    session, and comes back with the state it was given.
  const others = ['plain', 'react', 'vue'].map((name) => pages[name]);
  const order = [];
  pages.esm.on('request', (r) => {
    if (r.url().startsWith(`${demo.issuer}/token/revocation`) && r.method() === 'POST') order.push('revocation');
    if (r.url().startsWith(`${demo.issuer}/session/end?`) && r.method() === 'GET' && r.isNavigationRequest()) order.push('end-session');
  });
  await Promise.all([pages.esm.waitForURL((url) => url.href.startsWith(`${demo.issuer}/session/end`), { timeout: 10_000 }), pages.esm.getByTestId('logout').click()]);
  await waitFor(async () => (await Promise.all(others.map(async (p) => (await status(p)) === 'anonymous' && /signed out \(another tab\), reason: user/.test(await logOf(p))))).every(Boolean), { message: 'every other tab signed out' });
  await waitFor(() => events.grantRevokedBy.revocation >= 1, { timeout: 5_000, message: `revocation at sign-out: ${safeJson(events.summary())}` });
  // Revocation (refresh token, then access token) before the page leaves for the provider.
  assert.deepEqual(order, ['revocation', 'revocation', 'end-session'], 'the tokens are revoked before the page leaves for the provider');
  const endSession = new URL(pages.esm.url());
  assert.equal(endSession.searchParams.get('client_id'), 'spa');
  assert.equal(endSession.searchParams.get('post_logout_redirect_uri'), demo.urls.esm);
  assert.ok(endSession.searchParams.get('id_token_hint'), 'id_token_hint');
  await Promise.all([
    pages.esm.waitForURL((url) => url.href.startsWith(demo.urls.esm), { timeout: 10_000 }),
    pages.esm.locator('button[name="logout"]').click({ timeout: 10_000 }), // "Yes, sign me out"
  ]);
  await waitFor(async () => (await status(pages.esm)) === 'anonymous' && /signed out at the provider too/.test(await logOf(pages.esm)), { message: `the ESM tab is back, state checked (${await logOf(pages.esm).catch(() => '')})` });
  assert.equal(new URL(pages.esm.url()).search, QUERY, 'the state is gone from the address bar, the demo settings are back');
  assert.equal(events.grantRevokedBy.token, undefined, `no refresh-token replay: ${safeJson(events.summary())}`);
  await pages.plain.screenshot({ path: join(SHOTS, 'demo-plain-signed-out.png') });

  // 7. Sign in again (issue 11): the provider's session is over, so it asks for the password again
  //    instead of handing the previous user's account to whoever clicks "Continue".
  await Promise.all([plain.waitForURL((url) => url.href.startsWith(demo.issuer), { timeout: 10_000 }), plain.getByTestId('signin').click()]);
  await plain.locator('input[name="password"]').waitFor({ state: 'visible', timeout: 10_000 });
  await plain.screenshot({ path: join(SHOTS, 'demo-second-sign-in-asks-for-password.png') });
  await signInAtProvider(plain, { login: 'bob', password: 'another password', returnTo: (url) => url.href.startsWith(demo.urls.plain) });
  await waitAll('every tab signed in as bob', async (p) => (await status(p)) === 'authenticated' && (await text(p, 'user')) === 'bob', 10_000);

  // No page errors and no console errors on the demo's origin; no token anywhere it should not be.
  const problems = sink.filter((e) => (e.where.startsWith('pageerror') || e.where.startsWith('console.error')) && e.where.includes(demo.origin));
  assert.deepEqual(problems, [], 'page errors or console errors');
  const { findings } = await leakCheck({ pages: Object.values(pages), context, sink, tokens: events.issued });
  assert.deepEqual(findings, [], 'LEAK-CHECK');
});

// The README's "Vanilla (ES modules)" and "Plain page" quick starts, run as written: only the
// placeholders change (issuer, API and CDN URLs become the local ones; the SRI hash is the build's).
test('README quick starts (vanilla ESM, plain page) sign in and out as written', { timeout: 40_000 }, async (t) => {
  const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
  const section = (heading) => {
    const start = readme.indexOf(`\n### ${heading}`);
    assert.ok(start >= 0, `README section ${heading}`);
    const end = readme.indexOf('\n#', start + 5);
    return readme.slice(start, end < 0 ? undefined : end);
  };
  const blocks = (text, lang) => [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
  const sri = (await readFile(join(repoRoot, 'dist', 'sessionkeeper.iife.min.js.sri'), 'utf8')).trim();

  // Placeholders only; the issuer is known once the demo runs, so pages are filled in lazily below.
  const pagesFor = (issuer, resource) => {
    const local = (code) =>
      code
        .replaceAll('https://api.example.com/me', resource)
        .replaceAll('https://api.example.com', new URL(resource).origin)
        .replaceAll('https://id.example.com', issuer)
        .replaceAll('https://cdn.jsdelivr.net/npm/sessionkeeper@0.1.0/dist/', '/dist/')
        .replaceAll('integrity="sha384-…"', `integrity="${sri}"`);
    const plain = section('Plain page');
    const [html] = blocks(plain, 'html');
    const [appJs] = blocks(plain, 'js');
    const [vanilla] = blocks(section('Vanilla (ES modules)'), 'js');
    assert.ok(html && appJs && vanilla, 'the README has the quick-start code blocks');
    return {
      'readme-plain': { 'index.html': `<!doctype html><meta charset="utf-8"><title>README plain page</title>\n${local(html)}`, 'app.js': local(appJs) },
      'readme-esm': {
        'index.html': `<!doctype html><meta charset="utf-8"><title>README vanilla ESM</title>
<script type="importmap">{ "imports": { "sessionkeeper": "/dist/index.js", "sessionkeeper/oauth": "/dist/oauth.js", "idb": "/node_modules/idb/build/index.js", "broadcast-channel": "/node_modules/broadcast-channel/dist/esbrowser/index.js", "oblivious-set": "/node_modules/oblivious-set/dist/esm/src/index.js", "unload": "/node_modules/unload/dist/es/index.js" } }</script>
<script type="module" src="app.js"></script>
<p id="status">loading</p> <p id="user"></p>
<button id="sign-in">Sign in</button> <button id="sign-out">Log out</button>
<div id="idle-dialog" hidden><button id="stay">Stay signed in</button></div>`,
        'app.js': local(vanilla),
      },
    };
  };
  // The directories are registered (redirect URIs) at start; their texts need the issuer, known only then.
  const extraPages = { 'readme-plain': {}, 'readme-esm': {} };
  const demo = await startDemo({ port: 0, providerPort: 0, extraPages });
  t.after(() => demo.close());
  Object.assign(extraPages, pagesFor(demo.issuer, demo.provider.resourceUrl));
  const browser = await launchChromium();
  t.after(() => browser.close());

  for (const dir of ['readme-plain', 'readme-esm']) {
    // A fresh context per page: no provider session or stored tokens carried over.
    const context = await browser.newContext();
    await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
    const sink = [];
    const page = await context.newPage();
    recordPage(page, sink);
    const url = `${demo.origin}/${dir}/`;
    const statusText = () => page.locator('#status').textContent();
    await page.goto(url);
    await waitFor(async () => (await statusText()) === 'anonymous', { message: `${dir}: signed out at first (${safeJson(sink)})` });
    await Promise.all([page.waitForURL((u) => u.href.startsWith(demo.issuer), { timeout: 10_000 }), page.locator('#sign-in').click()]);
    await signInAtProvider(page, { login: 'dora', returnTo: (u) => u.href.startsWith(url) });
    await waitFor(async () => (await statusText()) === 'authenticated', { timeout: 10_000, message: `${dir}: signed in (${safeJson(sink)})` });
    if (dir === 'readme-esm') {
      // The snippet's session.fetch() to the API ran with the fresh token after the callback.
      await waitFor(() => sink.some((e) => e.text === 'signed in as dora'), { message: `${dir}: /me answered (${safeJson(sink)})` });
    }
    // Log out: every tab, then the provider's logout page ("Yes, sign me out"), and back to the page.
    await Promise.all([page.waitForURL((u) => u.href.startsWith(`${demo.issuer}/session/end`), { timeout: 10_000 }), page.locator('#sign-out').click()]);
    await Promise.all([page.waitForURL((u) => u.href.startsWith(url), { timeout: 10_000 }), page.locator('button[name="logout"]').click({ timeout: 10_000 })]);
    await waitFor(async () => (await statusText()) === 'anonymous', { message: `${dir}: signed out` });
    assert.equal(new URL(page.url()).search, '', `${dir}: the state was checked and removed from the address bar`);
    // (The provider's pages log their blocked web font; only the demo's origin counts.)
    const problems = sink.filter((e) => (e.where.startsWith('pageerror') || e.where.startsWith('console.error')) && e.where.includes(demo.origin));
    assert.deepEqual(problems, [], `${dir}: page errors or console errors`);
    await context.close();
  }
});
