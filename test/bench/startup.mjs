#!/usr/bin/env node
// Startup benchmark (issue 2): time from session.start() to the first `authenticated` snapshot with a
// stored, encrypted session (persist 'indexeddb': IndexedDB open + AES-GCM key read + decrypt of the
// session and activity records), over 20 reloads in Debian Chromium; and the same for anonymous starts
// (an empty database that exists, and a first visit where start() creates the database).
// Times are taken in the page with performance.now() around start() and in a subscribe listener.
//
// Usage: node test/bench/startup.mjs [--quick] [--esbuild] [--reloads=N]   (--quick: 10 reloads)
//   SDK: dist/sessionkeeper.iife.min.js (build it with `npx rollup -c`); --esbuild, or a missing dist,
//   bundles src/cdn.ts with esbuild instead. The run prints which one it used.
import { randomBytes } from 'node:crypto';
import { launchChromium } from '../e2e/support/browser.mjs';
import { startStaticServer } from '../e2e/support/static-server.mjs';
import { resolveSdk, summary, fixturesDir, withTimeout } from './fixtures/support.mjs';

const RELOADS = Number(process.argv.find((a) => a.startsWith('--reloads='))?.split('=')[1] ?? (process.argv.includes('--quick') ? 10 : 20));
const GOAL_MS = 20;

const sdk = await resolveSdk();
const server = await startStaticServer({ mounts: { '/bench/': fixturesDir, '/sdk/': sdk.dir } });
const browser = await launchChromium();
const rows = [];
const extra = [];
let failed = false;
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const url = (name) => `${server.origin}/bench/startup.html?name=${encodeURIComponent(name)}`;

  /** Navigates (or reloads) and returns the page's timing record once the first non-loading snapshot came. */
  const load = async (go) => {
    await go();
    await page.waitForFunction(() => window.bench && (window.bench.result.first !== null || window.bench.result.error), null, { timeout: 10_000 });
    const r = await page.evaluate(() => window.bench.result);
    if (r.error) throw new Error(`page error: ${r.error}`);
    return r;
  };
  const measure = async (label, expected, iterations) => {
    const samples = [];
    const startCall = [];
    const navToStart = [];
    for (const go of iterations) {
      const r = await load(go);
      if (r.status !== expected) throw new Error(`${label}: first snapshot was ${r.status}, expected ${expected}`);
      samples.push(r.first - r.t0);
      startCall.push(r.startReturned - r.t0);
      navToStart.push(r.t0);
    }
    rows.push({ case: label, 'first snapshot': expected, ...summary(samples), unit: 'ms' });
    extra.push({ case: label, 'start() call itself, median ms': summary(startCall, 3).median, 'navigation -> start(), median ms': summary(navToStart).median });
    return samples;
  };

  // 1. Stored, encrypted session: sign in once (a realistic token set), then reload.
  await load(() => page.goto(url('bench-startup')));
  await page.evaluate(async (tokens) => {
    await window.session.login({ ...tokens, expiresAt: Date.now() + 24 * 3600_000 });
    // login() writes the activity record without waiting for it; wait until it is stored too.
    for (let i = 0; i < 100; i++) {
      const db = await new Promise((res, rej) => { const r = indexedDB.open('sessionkeeper:bench-startup'); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
      const has = await new Promise((res) => { const r = db.transaction('kv').objectStore('kv').get('activity'); r.onsuccess = () => res(r.result != null); r.onerror = () => res(false); });
      db.close();
      if (has) return;
      await new Promise((res) => setTimeout(res, 20));
    }
    throw new Error('activity record never stored');
  }, {
    accessToken: randomBytes(700).toString('base64url'), // ~930 chars, a typical JWT
    refreshToken: randomBytes(48).toString('base64url'),
    idToken: randomBytes(800).toString('base64url'),
    scope: 'openid profile email offline_access',
  });
  const reload = () => page.reload();
  await load(reload); // warm-up (not counted)
  const stored = await measure('stored encrypted session', 'authenticated', Array.from({ length: RELOADS }, () => reload));

  // 2. Anonymous, database exists but holds no session.
  await load(() => page.goto(url('bench-startup-anon')));
  await load(reload); // warm-up
  await measure('anonymous (empty database)', 'anonymous', Array.from({ length: RELOADS }, () => reload));

  // 3. Anonymous first visit: a new name each time, so start() creates the database.
  await measure('anonymous (first visit, no database)', 'anonymous', Array.from({ length: RELOADS }, (_, i) => () => page.goto(url(`bench-startup-new-${i}`))));

  if (pageErrors.length) throw new Error(`page errors: ${pageErrors.join('; ')}`);
  const med = summary(stored).median;
  console.log(`\nStartup: session.start() -> first non-loading snapshot, ${RELOADS} reloads each (Chromium ${browser.version()}, headless)`);
  console.log(`SDK: ${sdk.label}`);
  console.table(rows);
  console.table(extra);
  console.log(`Goal: stored-session median <= ${GOAL_MS} ms -> ${med} ms: ${med <= GOAL_MS ? 'MET' : 'NOT MET'}`);
  await withTimeout(context.close(), 10_000, 'context.close');
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close().catch(() => {});
  await server.close();
  await sdk.cleanup();
}
process.exit(failed ? 1 : 0);
