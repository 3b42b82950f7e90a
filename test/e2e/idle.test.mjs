// Inactivity across real tabs (issue 4): trusted input in one tab keeps every tab signed in; all tabs
// warn together; "stay signed in" in another tab ends the warning everywhere; all sign out together;
// synthetic (untrusted) events never count; after a sleep past the deadline no token is handed out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, safeJson, waitFor } from './support/harness.mjs';

const eventsOf = (page, type) => page.evaluate((ty) => window.log.filter((e) => e.kind === 'event' && e.type === ty), type);

test('idle is shared by real tabs: activity, warning, extend, sign-out', { timeout: 60_000 }, async (t) => {
  const h = await createHarness(t, { app: { idleMs: 4_000, idleWarningMs: 1_500 } });
  const [a, b] = await h.openTabs(2);
  await h.mintAndLogin(a);
  await h.waitAll([a, b], (s) => s.status === 'authenticated', { message: 'both signed in' });

  // 6 s of real (trusted, CDP-dispatched) mouse input in tab A only: longer than the idle timeout.
  for (let i = 0; i < 12; i++) {
    await a.mouse.move(10 + (i % 5) * 20, 10 + i * 3);
    await a.waitForTimeout(500);
  }
  assert.deepEqual(await h.states([a, b]).then((s) => s.map((x) => x.status)), ['authenticated', 'authenticated']);
  assert.deepEqual([...(await eventsOf(a, 'idle-warning')), ...(await eventsOf(b, 'idle-warning'))], [], 'no warning while A is in use');

  // No more input: both tabs enter the warning together.
  await waitFor(async () => (await eventsOf(a, 'idle-warning')).length && (await eventsOf(b, 'idle-warning')).length, { timeout: 5_000, message: 'both warned' });
  const [wa] = await eventsOf(a, 'idle-warning');
  const [wb] = await eventsOf(b, 'idle-warning');
  const skew = Math.abs(wa.at - wb.at);
  console.log(`idle warning skew between tabs: ${skew} ms`);
  assert.ok(skew < 1_000, `warnings ${skew} ms apart`);
  assert.equal(wa.payload.logoutAt, wb.payload.logoutAt, 'one shared deadline');

  // "Stay signed in" in B ends the warning in A too.
  await h.call(b, 'extend');
  await waitFor(async () => (await eventsOf(a, 'active')).length === 1, { timeout: 2_000, message: 'A left the warning' });
  assert.deepEqual(await h.states([a, b]).then((s) => s.map((x) => x.idle)), ['active', 'active']);

  // Then, still idle: both warn again and both sign out with reason idle, once each.
  await h.waitAll([a, b], (s) => s.status === 'anonymous', { timeout: 8_000, message: 'both signed out' });
  for (const page of [a, b]) {
    const logouts = await eventsOf(page, 'logout');
    assert.equal(logouts.length, 1, safeJson(logouts));
    assert.equal(logouts[0].payload.reason, 'idle');
  }
  await h.assertNoLeaks();
});

test('synthetic events do not count as activity', { timeout: 30_000 }, async (t) => {
  const h = await createHarness(t, { app: { idleMs: 2_500, idleWarningMs: 1_000 } });
  const [a] = await h.openTabs(1);
  await h.mintAndLogin(a);
  const started = Date.now();
  // A script keeps firing untrusted input events; the session must still time out.
  await a.evaluate(() => {
    window.fakeActivity = setInterval(() => {
      window.dispatchEvent(new MouseEvent('pointermove'));
      document.dispatchEvent(new KeyboardEvent('keydown'));
      window.dispatchEvent(new Event('scroll'));
    }, 200);
  });
  await h.waitAll([a], (s) => s.status === 'anonymous', { timeout: 6_000, message: 'signed out despite synthetic events' });
  assert.ok(Date.now() - started >= 2_000, 'not before the timeout');
  const [logout] = await eventsOf(a, 'logout');
  assert.equal(logout.payload.reason, 'idle');
  await a.evaluate(() => clearInterval(window.fakeActivity));
});

test('after a sleep past the idle deadline, the wake-up signs out before any token is handed out', { timeout: 30_000 }, async (t) => {
  const h = await createHarness(t, { app: { idleMs: 10 * 60_000, idleWarningMs: 60_000 } });
  await h.context.clock.install();
  const [a] = await h.openTabs(1);
  await h.mintAndLogin(a);
  // The machine sleeps 20 minutes: the wall clock jumps, no timer has fired yet.
  await h.context.clock.setSystemTime(Date.now() + 20 * 60_000);
  const got = await h.getToken(a);
  assert.deepEqual({ ok: got.ok, token: got.token }, { ok: true, token: null }, safeJson(got));
  const [logout] = await eventsOf(a, 'logout');
  assert.equal(logout.payload.reason, 'idle');
});
