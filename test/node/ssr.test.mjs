// Importing the package where there is no window (SSR, Node tools) must work and touch nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';

test('the built ESM entries import in Node without window, indexedDB or BroadcastChannel', async () => {
  assert.equal(typeof globalThis.window, 'undefined');
  const core = await import('../../dist/index.js');
  const oauth = await import('../../dist/oauth.js');
  assert.equal(typeof core.createSession, 'function');
  assert.equal(typeof oauth.refreshTokenGrant, 'function');
  // Construction is pure: a session can be created during server rendering and reports `loading`.
  const session = core.createSession({ name: 'ssr' });
  assert.deepEqual(session.getSnapshot(), { status: 'loading' });
  const off = session.subscribe(() => {});
  off();
  await session.destroy();
});

test('the package declares itself side-effect free', async () => {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
  assert.equal(pkg.sideEffects, false);
});
