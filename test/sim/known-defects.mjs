// The one place listing defects that are known and not fixed yet in src/. A violation that matches one
// of these is counted and reported by every run (never silently skipped) but does not fail the random-
// schedule test. Each entry names the scenario test in sim.test.mjs that reproduces it; when the fix
// lands, delete the entry (and its `todo` there): the scenario goes green, and the random run fails on
// any regression of that invariant again.
//
// `match(violation, ctx)` is deliberately narrow: the invariant AND the schedule feature that triggers
// the defect, so the same invariant broken some other way still fails.

const has = (ctx, op, pred = () => true) => ctx.commands.some((c) => c.do === op && pred(c))

export const KNOWN_DEFECTS = [
  {
    id: 'memory-logout',
    reason: "persist:'memory' (or a tab degraded to memory): logout in one tab leaves the others signed in; a new tab is then handed the signed-out session",
    scenario: 'known: memory-mode logout leaves sibling tabs signed in',
    match: (v, ctx) => ['signout-propagation', 'token-after-signout', 'converge'].includes(v.inv) && (ctx.memory || ctx.degraded),
  },
  {
    id: 'degraded-replay',
    reason: 'a tab degraded to memory (two storage failures, newer-schema record, set rejecting) never learns siblings\' rotations and presents a rotated refresh token',
    scenario: 'known: a degraded tab replays a rotated refresh token',
    match: (v, ctx) => ['rt-presented-twice', 'converge'].includes(v.inv) && (ctx.degraded || has(ctx, 'newer') || has(ctx, 'sfault', (c) => c.kind === 'reject')),
  },
  {
    id: 'destroy-during-lock-wait',
    reason: 'destroy() while a refresh waits for the lock: the refresh still runs later with a stale RT or drops the rotated one',
    scenario: 'known: destroy() while a refresh waits for the lock',
    match: (v, ctx) => ['request-after-destroy', 'runs-after-destroy', 'rt-presented-twice'].includes(v.inv) && has(ctx, 'destroy'),
  },
  {
    id: 'get-while-stopped',
    reason: 'getAccessToken() before start()/after the last stop hands out tokens past maxSessionMs and after another tab\'s logout',
    scenario: 'known: getAccessToken() after the last stop',
    match: (v, ctx) => ['token-past-max-session', 'token-after-signout', 'token-past-idle'].includes(v.inv) && v.tab !== undefined && has(ctx, 'stop', (c) => c.tab === v.tab),
  },
  {
    id: 'wall-clock-back',
    reason: 'wall clock set back: every activity is ignored for the size of the jump, so a working user is signed out as idle',
    scenario: 'known: wall clock set back signs a working user out as idle',
    match: (v, ctx) => v.inv === 'premature-idle' && has(ctx, 'walljump', (c) => c.ms < 0),
  },
  {
    id: 'lease-not-single-flight',
    reason: 'lease fallback lock (no Web Locks): stale takeover and release are not compare-and-swap, the commit is not fenced',
    scenario: 'known: lease lock is not single-flight',
    match: (v, ctx) => v.inv === 'rt-presented-twice' && ctx.config.locks === 'lease',
  },
  {
    id: 'strict-mode-ready',
    reason: 'start(); stop(); start() (React StrictMode): ready() resolves anonymous although a session is stored',
    scenario: 'known: StrictMode start-stop-start resolves ready() anonymous',
    match: (v, ctx) => v.inv === 'ready-anonymous' && has(ctx, 'open', (c) => c.strict),
  },
  {
    id: 'tombstone-wedge',
    reason: "a tombstone {v:1, ended:{}} in storage wedges startup in 'loading' (TypeError inside hydrate/sync)",
    scenario: 'known: tombstone with a non-string reason wedges startup',
    match: (v, ctx) => ['uncaught', 'unhandled-rejection', 'untyped-error', 'stuck-loading', 'converge'].includes(v.inv) && has(ctx, 'corrupt', (c) => c.variant === 'tombstone-object'),
  },
  {
    id: 'bodyless-4xx',
    reason: 'HTTP 400/401 with no parseable OAuth body on refresh is retried forever; it must end the session in every tab (reauth-required) once the access token has expired',
    scenario: 'known: body-less 400 is retried forever',
    match: (v) => v.inv === 'endless-4xx-retry',
  },
  {
    id: 'backoff-per-tab',
    reason: 'during an outage every tab runs its own backoff: token-endpoint attempts grow with the number of tabs',
    scenario: 'known: outage backoff grows with the number of tabs',
    match: (v, ctx) => v.inv === 'backoff-per-origin' && ctx.maxTabs > 1,
  },
  // --- found by the simulation (not in the review list) ---
  {
    id: 'memory-missed-rotation',
    reason: "persist:'memory': a tab that missed the sibling's refresh message (in the bfcache, or the message raced the lock grant) still holds the rotated-away refresh token; pageshow/resume/lock re-read only its own memory, so it presents it again and the AS revokes the grant",
    scenario: 'found: memory-mode tab back from the bfcache replays a rotated refresh token',
    match: (v, ctx) => ['rt-presented-twice', 'converge'].includes(v.inv) && ctx.memory,
  },
  {
    id: 'logout-wipe-fails',
    reason: 'a sign-out whose storage wipe fails (a storage whose clear/set rejects) still posts "logout", but the receivers re-read storage, find the session and stay signed in; new tabs restore it',
    scenario: 'found: a sign-out whose storage wipe fails does not reach the other tabs',
    match: (v, ctx) => ['signout-propagation', 'token-after-signout', 'converge'].includes(v.inv) && has(ctx, 'sfault', (c) => c.kind === 'reject'),
  },
  {
    id: 'wall-back-signin-order',
    reason: 'sign-ins are ordered by wall-clock authAt (newer()): after the clock is set back, a new sign-in in one tab looks older than the one the other tabs hold, so they keep the previous user\'s session',
    scenario: 'found: after the wall clock is set back, a new sign-in is ignored by the other tabs',
    match: (v, ctx) => ['converge', 'signout-propagation'].includes(v.inv) && has(ctx, 'walljump', (c) => c.ms < 0),
  },
  {
    id: 'memory-new-tab-idle',
    reason: "persist:'memory': a tab opened later adopts the sibling's record but not its last activity (it starts the idle period at sign-in), so it signs a working user out as idle and the others follow on their own deadline",
    scenario: 'found: memory-mode new tab signs a working user out as idle',
    match: (v, ctx) => v.inv === 'premature-idle' && ctx.memory && has(ctx, 'open'),
  },
  {
    id: 'expiry-from-receipt',
    reason: 'expiresAt is receipt time + expires_in (token-request.ts): a token response processed late (frozen page, slow event loop, slow response) gives an access token the SDK believes valid for that much longer than the AS does; the request start time is the safe base',
    scenario: 'found: a token response processed late is believed valid after it expired',
    match: (v) => v.inv === 'expired-token' && v.lateMs >= v.expiredMs - 1_000,
  },
  {
    id: 'wall-back-idle-extended',
    reason: 'after the wall clock is set back, a new sign-in inherits lastActivity (and the refresh history) from before the jump (Math.max with wall times): its idle timeout and proactive refresh are pushed out by the size of the jump, so tokens are handed out long past the idle timeout',
    scenario: 'found: after the wall clock is set back, a new sign-in is not idle-timed-out',
    match: (v, ctx) => v.inv === 'token-past-idle' && has(ctx, 'walljump', (c) => c.ms < 0),
  },
  {
    id: 'logout-lost-on-unload',
    reason: 'logout() wipes storage under the refresh lock and only then posts "logout": a page that goes away right after calling logout() (navigates to the sign-in page: bfcache or unload) never wipes nor tells the others; they stay signed in and new tabs restore the session (only an app that awaits logout() before navigating is safe, and that await can take the lock wait, up to refreshTimeoutMs + 5 s)',
    scenario: 'found: a tab that navigates away right after logout() leaves the others signed in',
    match: (v) => ['signout-propagation', 'token-after-signout', 'converge'].includes(v.inv) && v.enderLeft,
  },
  {
    id: 'fallback-no-polling',
    reason: 'with the fallback channel (no BroadcastChannel: broadcast-channel over IndexedDB/localStorage), a lost message is never made up for: nothing polls storage, so a tab that missed a login/logout/refresh stays on the old state until it is focused or shown (XT-1 asks for propagation "within the polling interval on fallbacks")',
    scenario: 'found: fallback channel drops a logout and nothing polls',
    match: (v, ctx) => ['signout-propagation', 'token-after-signout', 'converge'].includes(v.inv) && ctx.config.channel === 'fallback' && ctx.drops > 0,
  },
]

/** Facts about a run that the matchers look at. */
export function context(result) {
  const w = result.world
  return {
    config: result.config,
    commands: result.commands ?? [],
    memory: result.config.persist === 'memory',
    degraded: w.tabs.some((t) => t.degradedEver || t.degradedEvent),
    maxTabs: w.tabs.length,
    drops: w.drops ?? 0,
  }
}

/** Splits a run's violations into unexpected ones and known-defect hits. */
export function classify(result, { strict = false, only } = {}) {
  const unexpected = []
  const knownHits = []
  const ctx = context(result)
  for (const v of result.violations) {
    if (only && v.inv !== only) continue
    const d = strict ? null : KNOWN_DEFECTS.find((k) => k.match(v, ctx))
    if (d) knownHits.push([d.id, v])
    else unexpected.push(v)
  }
  return { unexpected, knownHits }
}
