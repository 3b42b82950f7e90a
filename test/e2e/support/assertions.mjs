// Shared checks of the e2e scenarios, phrased as the requirements phrase them.
import assert from 'node:assert/strict';
import { safeJson } from './browser.mjs';

/** Every tab holds the same access token, and the AS says it is valid right now. */
export async function assertSameValidToken(h, pages) {
  const states = await h.states(pages);
  const tokens = new Set(states.map((s) => s.accessToken));
  assert.ok(states.every((s) => s.status === 'authenticated'), `every tab is authenticated: ${safeJson(states.map((s) => s.status))}`);
  assert.equal(tokens.size, 1, `every tab ends on the same access token (saw ${tokens.size} distinct)`);
  const [token] = tokens;
  assert.equal(await h.as.isAccessTokenActive(token), true, 'the shared access token is valid at the AS');
  return { token, states };
}

/** No `grant.error` of the given codes (default: any `invalid_grant`). */
export function assertNoGrantError(h, codes = ['invalid_grant']) {
  for (const code of codes) assert.equal(h.events.grantError[code] ?? 0, 0, `no ${code} at the AS: ${safeJson(h.events.summary())}`);
}

/** The AS timestamps of successful refresh_token grants. */
export function refreshGrantTimes(h) {
  return h.events.log.filter((e) => e.type === 'grant.success' && e.detail === 'refresh_token').map((e) => e.at);
}

/** Events of `type` in every tab: `[[tab1 events], [tab2 events], ...]`. */
export function eventsPerTab(h, pages, type) {
  return Promise.all(pages.map((p) => h.eventsOf(p, type)));
}

/** Reports an SDK bug clearly: the message says it is the SDK (not the harness) and how to reproduce. */
export function sdkBug(condition, what) {
  assert.ok(condition, `SDK BUG: ${what}`);
}
