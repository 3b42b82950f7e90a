// Packaging smoke test: the built ESM (through an import map, as a CDN/ESM user would load it) and the
// minified IIFE (one <script>, under a strict CSP) load and work in real Chromium and Firefox ESR.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import puppeteer from 'puppeteer-core';
import { startStaticServer } from '../e2e/support/static-server.mjs';

const browsers = [
  ['chromium', { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--headless=new'] }],
  ['firefox', { browser: 'firefox', executablePath: process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr', headless: true }],
];

for (const [label, launch] of browsers) {
  test(`built bundles load and work in ${label}`, async (t) => {
    const server = await startStaticServer({ mounts: { '/smoke/': 'test/node/fixtures', '/node_modules/': 'node_modules' } });
    t.after(() => server.close());
    const browser = await puppeteer.launch(launch);
    t.after(() => browser.close());
    for (const page of ['esm', 'iife', 'iife-fallback']) {
      const tab = await browser.newPage();
      const errors = [];
      tab.on('pageerror', (e) => errors.push(String(e)));
      await tab.goto(`${server.origin}/smoke/${page}.html`);
      await tab.waitForFunction(() => window.smoke !== undefined, { timeout: 15_000 });
      const smoke = await tab.evaluate(() => window.smoke);
      assert.equal(smoke.ok, true, `${page}: ${JSON.stringify(smoke)}`);
      assert.ok(smoke.exports.includes('createSession') && smoke.exports.includes('refreshTokenGrant'), `${page} exports`);
      assert.equal(smoke.isError, true);
      assert.deepEqual(smoke.violations, [], `${page}: CSP violations`);
      assert.deepEqual(errors, [], `${page}: page errors`);
      await tab.close();
    }
  });
}
