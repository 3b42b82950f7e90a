// Fixed schedules (the scenario DSL of sim.mjs) that reproduce each defect the simulation found, as
// minimal as the shrinker (plus a little hand editing for readability) could make them. `defect` links
// to known-defects.mjs: while that entry exists the scenario test is a `todo` (runs, reports, does not
// fail the run); `invariants` are the violations that must not happen.

const t = (tab, op, extra = {}) => ({ do: op, tab, ...extra })
const advance = (ms) => ({ do: 'advance', gap: ms })

export const SCENARIOS = [
  {
    name: 'fixed (review): memory-mode logout leaves sibling tabs signed in',
    defect: 'memory-logout',
    config: { tabs: 2, persist: 'memory' },
    commands: [t(0, 'login'), t(0, 'logout'), advance(30_000), { do: 'open' }, advance(1_000), t(1, 'get'), t(2, 'get')],
    invariants: ['signout-propagation', 'token-after-signout', 'converge'],
  },
  {
    name: 'fixed (review): a degraded tab replays a rotated refresh token',
    defect: 'degraded-replay',
    config: { tabs: 2 },
    commands: [t(0, 'login'), t(1, 'sfault', { kind: 'quota', count: 2 }), t(1, 'hide'), t(1, 'show'), advance(100_000)],
    invariants: ['rt-presented-twice', 'converge'],
  },
  {
    name: 'fixed (review): a newer-schema record makes a tab replay a rotated refresh token',
    defect: 'degraded-replay',
    config: { tabs: 2 },
    commands: [t(0, 'login'), { do: 'newer' }, t(1, 'hide'), t(1, 'show'), advance(100_000)],
    invariants: ['rt-presented-twice', 'converge'],
  },
  {
    name: 'fixed (review): destroy() while a refresh waits for the lock',
    defect: 'destroy-during-lock-wait',
    config: { tabs: 2 },
    commands: [t(0, 'login'), { do: 'net', kind: 'slow', count: 1 }, t(0, 'refresh', { gap: 100 }), t(1, 'refresh', { gap: 10 }), t(1, 'destroy'), advance(30_000)],
    invariants: ['request-after-destroy', 'runs-after-destroy', 'rt-presented-twice'],
  },
  {
    name: 'fixed (review): getAccessToken() after the last stop (past maxSessionMs)',
    defect: 'get-while-stopped',
    config: { tabs: 1, maxSessionMs: 300_000 },
    commands: [t(0, 'login'), t(0, 'stop'), advance(310_000), t(0, 'get')],
    invariants: ['token-past-max-session'],
  },
  {
    name: "known: getAccessToken() after the last stop (after another tab's logout)",
    defect: 'get-while-stopped',
    config: { tabs: 2 },
    commands: [t(0, 'login'), t(1, 'stop'), t(0, 'logout'), advance(20_000), t(1, 'get')],
    invariants: ['token-after-signout'],
  },
  {
    name: 'fixed (review): wall clock set back signs a working user out as idle',
    defect: 'wall-clock-back',
    config: { tabs: 1, idle: { timeoutMs: 120_000, warningMs: 20_000 } },
    commands: [t(0, 'login'), { do: 'walljump', ms: -600_000 }, ...Array.from({ length: 8 }, () => [advance(30_000), t(0, 'input')]).flat()],
    invariants: ['premature-idle'],
  },
  {
    name: 'fixed (review): StrictMode start-stop-start resolves ready() anonymous',
    defect: 'strict-mode-ready',
    config: { tabs: 1 },
    commands: [t(0, 'login'), advance(1_000), { do: 'open', strict: true }, advance(1_000)],
    invariants: ['ready-anonymous'],
  },
  {
    name: 'fixed (review): tombstone with a non-string reason wedges startup',
    defect: 'tombstone-wedge',
    config: { tabs: 1 },
    commands: [{ do: 'corrupt', variant: 'tombstone-object' }, { do: 'open' }, advance(40_000)],
    invariants: ['stuck-loading', 'uncaught', 'unhandled-rejection', 'untyped-error'],
  },
  {
    name: 'fixed (review): body-less 400 is retried forever',
    defect: 'bodyless-4xx',
    config: { tabs: 2, tokenLifetimeMs: 120_000 },
    commands: [t(0, 'login'), { do: 'net', kind: '400', count: 50 }, advance(600_000)],
    invariants: ['endless-4xx-retry'],
    // Once the access token has expired, every tab must have ended the session as reauth-required.
    expect: (w) => w.tabs.filter((x) => !x.closed).map((x) => `${x.session.getSnapshot().status}:${x.session.getSnapshot().reason}`),
    expected: ['anonymous:reauth-required', 'anonymous:reauth-required'],
    final: false,
  },
  {
    name: 'fixed (review): outage backoff grows with the number of tabs',
    defect: 'backoff-per-tab',
    config: { tabs: 6, tokenLifetimeMs: 30_000 },
    commands: [t(0, 'login'), advance(1_000), { do: 'net', kind: 'outage', ms: 180_000 }, advance(180_000)],
    invariants: ['backoff-per-origin'],
  },
  // --- found by the simulation, not in the review list ---
  {
    name: 'fixed (found by the simulation): memory-mode tab back from the bfcache replays a rotated refresh token',
    defect: 'memory-missed-rotation',
    // Shrunk from random seed 211: tab0 goes into the bfcache, tab1 refreshes, the final heal restores tab0.
    config: { tabs: 2, persist: 'memory', tokenLifetimeMs: 120_000 },
    seed: 211,
    commands: [t(0, 'login', { gap: 1, r: 750557660 }), { do: 'advance', gap: 120_000, r: 978598263 }, t(0, 'touch', { gap: 20, r: 914139650 }), t(0, 'bfcache', { gap: 100, r: 432800537 })],
    invariants: ['rt-presented-twice'],
  },
  {
    name: 'fixed (found by the simulation): a sign-out whose storage wipe fails does not reach the other tabs',
    defect: 'logout-wipe-fails',
    config: { tabs: 2 },
    commands: [t(0, 'login'), t(0, 'sfault', { kind: 'reject', count: 2 }), t(0, 'logout'), advance(30_000), t(1, 'get')],
    invariants: ['signout-propagation', 'token-after-signout', 'converge'],
  },
  {
    name: 'fixed (found by the simulation): after the wall clock is set back, a new sign-in is ignored by the other tabs',
    defect: 'wall-back-signin-order',
    config: { tabs: 2 },
    commands: [t(0, 'login', { gap: 100 }), { do: 'walljump', ms: -3_600_000 }, t(0, 'login'), advance(5_000)],
    invariants: ['converge'],
  },
  {
    name: 'fixed (found by the simulation): memory-mode new tab signs a working user out as idle',
    defect: 'memory-new-tab-idle',
    config: { tabs: 1, persist: 'memory', idle: { timeoutMs: 120_000, warningMs: 20_000 } },
    commands: [t(0, 'login'), advance(60_000), t(0, 'input'), { do: 'open' }, advance(80_000)],
    invariants: ['premature-idle'],
  },
  {
    name: 'fixed (found by the simulation): a token response processed late is believed valid after it expired',
    defect: 'expiry-from-receipt',
    // Shrunk from random seed 335: tab0 freezes while its refresh response is in flight; 90 s later the
    // response is processed and its token (30 s lifetime at the AS) is taken as valid for 30 s more.
    config: { tabs: 1, locks: 'lease', tokenLifetimeMs: 30_000 },
    seed: 335,
    commands: [t(0, 'login', { gap: 20, r: 891435863 }), t(0, 'refresh', { gap: 5, r: 798622319 }), t(0, 'freeze', { gap: 20, r: 53471065 }), { do: 'advance', gap: 90_000, r: 53471066 }],
    invariants: ['expired-token'],
  },
  {
    name: 'fixed (found by the simulation): after the wall clock is set back, a new sign-in is not idle-timed-out',
    defect: 'wall-back-idle-extended',
    config: { tabs: 1, idle: { timeoutMs: 60_000, warningMs: 20_000 } },
    commands: [t(0, 'login'), advance(120_000), { do: 'walljump', ms: -600_000 }, t(0, 'login'), advance(120_000), t(0, 'get')],
    invariants: ['token-past-idle'],
  },
  {
    name: 'fixed (found by the simulation): a tab that navigates away right after logout() leaves the others signed in',
    defect: 'logout-lost-on-unload',
    config: { tabs: 2 },
    commands: [t(0, 'login'), t(0, 'logout', { gap: 0 }), t(0, 'close'), advance(30_000), { do: 'open' }, advance(1_000), t(2, 'get')],
    invariants: ['signout-propagation', 'token-after-signout', 'converge'],
  },
  {
    name: 'fixed (found by the simulation): fallback channel drops a logout and nothing polls',
    defect: 'fallback-no-polling',
    // dropRate 1 for the logout only: the login gets through first.
    config: { tabs: 2, channel: 'fallback' },
    commands: [t(0, 'login', { gap: 200 }), { do: 'droprate', rate: 1 }, t(0, 'logout', { gap: 500 }), { do: 'droprate', rate: 0 }, advance(60_000), t(1, 'get')],
    invariants: ['signout-propagation', 'token-after-signout', 'converge'],
  },
  // --- regression guards: must pass today ---
  {
    name: 'ok: five tabs ask for a token at once with Web Locks: one token request, no replay (RF-2)',
    config: { tabs: 5, tokenLifetimeMs: 120_000 },
    // Hidden tabs do not refresh proactively: the on-demand refreshes are the only ones.
    commands: [...[0, 1, 2, 3, 4].map((i) => t(i, 'hide', { gap: 0 })), t(0, 'login'), advance(119_000), ...[0, 1, 2, 3, 4].map((i) => t(i, 'get', { gap: 0 })), advance(5_000)],
    invariants: 'all',
    expect: (w) => [w.as.requests.length],
    expected: [1],
    final: false,
  },
  {
    name: 'ok: logout reaches every tab (IndexedDB, native channel)',
    config: { tabs: 3 },
    commands: [t(0, 'login'), t(1, 'logout'), advance(2_000), t(2, 'get')],
    invariants: 'all',
  },
  {
    name: 'ok: a lost refresh response ends the session once (RF-9)',
    config: { tabs: 2, tokenLifetimeMs: 120_000 },
    commands: [t(0, 'login'), { do: 'net', kind: 'lost', count: 1 }, advance(120_000)],
    invariants: 'all',
  },
]
