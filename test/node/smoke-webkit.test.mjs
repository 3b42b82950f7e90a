// The packaging smoke test of smoke.test.mjs in WebKit (WebKitGTK's MiniBrowser over WebDriver; Debian
// webkit2gtk-driver + xvfb): the built ESM through an import map, the minified IIFE under a strict CSP,
// and the IIFE without BroadcastChannel (the lazily loaded fallback) load and work.
//
// Classic WebDriver reports no page errors, so the fixture pages are served with one extra first script,
// test/webkit/page-errors.js, that records them in the page (same origin: the pages' CSP allows it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile, copyFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStaticServer, repoRoot } from '../e2e/support/static-server.mjs';
import { startWebKitDriver, webkitSession, withTimeout } from '../support/webkit-driver.mjs';

test('built bundles load and work in webkit', { timeout: 90_000 }, async (t) => {
  const fixtures = join(repoRoot, 'test/node/fixtures');
  const dir = await mkdtemp(join(tmpdir(), 'sk-smoke-webkit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const name of await readdir(fixtures)) {
    if (!name.endsWith('.html')) {
      await copyFile(join(fixtures, name), join(dir, name));
      continue;
    }
    const html = await readFile(join(fixtures, name), 'utf8');
    const marker = '<meta charset="utf-8">';
    assert.ok(html.includes(marker), `${name}: has ${marker}`);
    await writeFile(join(dir, name), html.replace(marker, `${marker}\n<script src="/webkit/page-errors.js"></script>`));
  }
  const server = await startStaticServer({ mounts: { '/smoke/': dir, '/webkit/': 'test/webkit', '/node_modules/': 'node_modules' } });
  t.after(() => server.close());
  const rig = await startWebKitDriver();
  let browser;
  try {
    browser = await webkitSession(rig);
    for (const page of ['esm', 'iife', 'iife-fallback']) {
      await browser.navigateTo(`${server.origin}/smoke/${page}.html`);
      await browser.waitUntil(() => browser.execute(() => window.smoke !== undefined), { timeout: 15_000, interval: 50, timeoutMsg: `${page}: window.smoke never set` });
      const { smoke, errors } = await browser.execute(() => ({ smoke: window.smoke, errors: window.pageErrors }));
      assert.equal(smoke.ok, true, `${page}: ${JSON.stringify(smoke)}`);
      assert.ok(smoke.exports.includes('createSession') && smoke.exports.includes('refreshTokenGrant'), `${page} exports`);
      assert.equal(smoke.isError, true);
      assert.deepEqual(smoke.violations, [], `${page}: CSP violations`);
      assert.deepEqual(errors, [], `${page}: page errors`);
      if (page === 'iife-fallback') assert.equal(smoke.native, 'undefined', 'the fallback page really ran without BroadcastChannel');
    }
  } finally {
    await withTimeout(browser?.deleteSession(), 10_000, 'WebDriver session delete').catch(() => {});
    await rig.stop();
  }
});
