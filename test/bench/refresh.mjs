#!/usr/bin/env node
// Refresh benchmark against a real oidc-provider with strict refresh-token rotation:
//  1. refresh_token grants per access-token lifetime with N = 1, 5, 10 tabs of one browser context, and
//     what the AS saw (invalid_grant, revoked grants), and how many tabs are still signed in at the end;
//  2. logout propagation latency (p50/p95) across 5 tabs.
// Each for sessionkeeper (dist/sessionkeeper.iife.min.js) and, side by side, oidc-client-ts's UserManager
// (automaticSilentRenew with refresh tokens, user in localStorage so the tabs share it).
//
// Usage: node test/bench/refresh.mjs [--quick]   (needs `npx rollup -c` first; E2E_DIST overrides dist/)
import { createHarness, waitFor, delay, requireBundle } from '../e2e/support/harness.mjs';
import { launchChromium } from '../e2e/support/browser.mjs';

const quick = process.argv.includes('--quick');
const TTL = 6; // s, AS access-token lifetime
const LEAD_MS = 1_000;
const LIFETIMES = quick ? 2 : 3;
const TABS = quick ? [1, 5] : [1, 5, 10];
const LOGOUT_ROUNDS = quick ? 4 : 10;

requireBundle(); // exits with an error when dist/ was not built

const browser = await launchChromium();
const rows = [];
const logoutRows = [];
try {
  for (const n of TABS) rows.push(await refreshRun('sessionkeeper', n));
  for (const n of TABS) rows.push(await refreshRun('oidc-client-ts', n));
  logoutRows.push(await logoutRun('sessionkeeper'));
  logoutRows.push(await logoutRun('oidc-client-ts'));
} finally {
  await browser.close();
}

console.log(`\nRefresh over ${LIFETIMES} access-token lifetimes (AS ttl ${TTL} s, rotation on, lead ${LEAD_MS} ms)`);
console.table(rows);
console.log('Logout propagation to the 4 other tabs of 5');
console.table(logoutRows);

/** One library, n tabs, LIFETIMES lifetimes: what the AS saw. */
async function refreshRun(lib, n) {
  const h = await createHarness(null, { browser, provider: { accessTokenTtl: TTL }, app: { refreshLeadMs: LEAD_MS } });
  try {
    const pages = [];
    let minted;
    if (lib === 'sessionkeeper') {
      pages.push(...(await h.openTabs(n)));
      minted = await h.mintAndLogin(pages[0]);
      await h.waitAll(pages, (s) => s.status === 'authenticated', { timeout: 5_000 });
    } else {
      for (let i = 0; i < n; i++) pages.push(await openOidcClientTab(h));
      minted = await h.as.mintSession();
      await pages[0].evaluate((t) => window.bench.inject(t), { accessToken: minted.accessToken, refreshToken: minted.refreshToken, expiresAt: minted.expiresAt, scope: minted.scope });
      for (const p of pages.slice(1)) await p.evaluate(() => window.bench.load());
    }
    const end = minted.expiresAt + (LIFETIMES - 1) * TTL * 1000 + 1_500;
    for (let i = 0; i < 400 && Date.now() < end; i++) await delay(Math.min(250, Math.max(0, end - Date.now())));
    const signedIn = await countSignedIn(h, lib, pages);
    const e = h.events;
    return {
      library: lib,
      tabs: n,
      'refresh grants': e.refreshGrants,
      'grants / lifetime': +(e.refreshGrants / LIFETIMES).toFixed(2),
      invalid_grant: e.grantError.invalid_grant ?? 0,
      'grant.revoked': e.grantRevoked,
      'tabs signed in with a valid AT at the end': `${signedIn}/${n}`,
    };
  } finally {
    await h.close();
  }
}

async function countSignedIn(h, lib, pages) {
  let ok = 0;
  for (const p of pages) {
    const token = lib === 'sessionkeeper'
      ? (await h.state(p)).accessToken
      : (await p.evaluate(() => window.bench.load()))?.accessToken;
    if (token && (await h.as.isAccessTokenActive(token))) ok++;
  }
  return ok;
}

async function openOidcClientTab(h) {
  const page = await h.context.newPage();
  h.pages.push(page);
  await page.goto(`${h.app.origin}/oidc-client-ts.html?issuer=${encodeURIComponent(h.as.issuer)}&leadS=${LEAD_MS / 1000}`);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 10_000 });
  return page;
}

/** Logout in one tab of 5; latency until each other tab learns about it (an event fires there). */
async function logoutRun(lib) {
  const h = await createHarness(null, { browser, provider: { accessTokenTtl: 60 } });
  const samples = [];
  let notified = 0;
  let expected = 0;
  try {
    const pages = [];
    if (lib === 'sessionkeeper') pages.push(...(await h.openTabs(5)));
    else for (let i = 0; i < 5; i++) pages.push(await openOidcClientTab(h));
    for (let round = 0; round < LOGOUT_ROUNDS; round++) {
      const actor = pages[round % 5];
      const others = pages.filter((p) => p !== actor);
      const marks = await Promise.all(others.map((p) => p.evaluate(() => window.log.length)));
      let t0;
      if (lib === 'sessionkeeper') {
        await h.mintAndLogin(actor);
        await h.waitAll(pages, (s) => s.status === 'authenticated', { timeout: 5_000 });
        t0 = await actor.evaluate(async () => { const at = Date.now(); await window.session.logout(); return at; });
      } else {
        const m = await h.as.mintSession();
        await actor.evaluate((t) => window.bench.inject(t), { accessToken: m.accessToken, refreshToken: m.refreshToken, expiresAt: m.expiresAt, scope: m.scope });
        for (const p of others) await p.evaluate(() => window.bench.load());
        t0 = await actor.evaluate(async () => { const at = Date.now(); await window.bench.logout(); return at; });
      }
      const type = lib === 'sessionkeeper' ? 'logout' : 'userUnloaded';
      expected += others.length;
      // Up to 2 s for every other tab to hear about it.
      const seen = await waitFor(async () => {
        const logs = await Promise.all(others.map((p, i) => p.evaluate(([mark, ty]) => window.log.slice(mark).find((e) => (e.type ?? '') === ty || (e.kind === 'event' && e.type === ty)), [marks[i], type])));
        return logs.every(Boolean) ? logs : false;
      }, { timeout: 2_000, interval: 25 }).catch(() => null);
      if (seen) {
        notified += others.length;
        samples.push(...seen.map((e) => e.at - t0));
      }
    }
  } finally {
    await h.close();
  }
  samples.sort((a, b) => a - b);
  const pct = (p) => (samples.length ? samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))] : null);
  return {
    library: lib,
    rounds: LOGOUT_ROUNDS,
    'tabs notified within 2 s': `${notified}/${expected}`,
    'p50 ms': pct(50) ?? 'n/a',
    'p95 ms': pct(95) ?? 'n/a',
  };
}
