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
  // --- fixed (found by the simulation, second round): minimal schedules as the shrinker printed them ---
  {
    name: "fixed (found by the simulation): a storage read that fails under the lock never leads to a request with a possibly rotated token",
    config: {"tabs":3,"persist":"indexeddb","storage":"owned","channel":"native","dropRate":0,"locks":"web","idle":null,"maxSessionMs":null,"tokenLifetimeMs":30000},
    seed: 903,
    commands: [{"do":"login","tab":0,"gap":20,"r":675665693},{"do":"sfault","tab":0,"kind":"reject","count":2,"gap":0,"r":900141290},{"do":"advance","gap":30000,"r":884522719}],
    invariants: ["rt-presented-twice"],
  },
  {
    name: "fixed (found by the simulation): a refresh of a sign-in replaced meanwhile (tab frozen mid-request) never commits over the new one",
    config: {"tabs":2,"persist":"indexeddb","storage":"owned","channel":"native","dropRate":0,"locks":"lease","idle":{"timeoutMs":120000,"warningMs":20000},"maxSessionMs":null,"tokenLifetimeMs":30000},
    seed: 948,
    commands: [{"do":"login","tab":0,"gap":20,"r":467316369},{"do":"advance","gap":30000,"r":761845583},{"do":"input","tab":0,"gap":0,"r":315727458},{"do":"refresh","tab":0,"gap":1,"r":383317042},{"do":"login","tab":1,"gap":5,"r":9993495},{"do":"freeze","tab":0,"gap":0,"r":1034532651},{"do":"advance","gap":30000,"r":1034532652}],
    invariants: ["premature-idle","converge","rt-presented-twice"],
  },
  {
    name: "fixed (found by the simulation): wall clock set back during sign-in: the absolute lifetime still ends the session",
    config: {"tabs":1,"persist":"indexeddb","storage":"owned","channel":"native","dropRate":0,"locks":"lease","idle":null,"maxSessionMs":300000,"tokenLifetimeMs":300000},
    seed: 612,
    commands: [{"do":"login","tab":0,"gap":1,"r":49084587},{"do":"walljump","ms":-3600000,"gap":100,"r":688841895},{"do":"advance","gap":90000,"r":552033978},{"do":"advance","gap":120000,"r":926525515},{"do":"advance","gap":120000,"r":993861047},{"do":"use","tab":0,"gap":100,"r":358499542}],
    invariants: ["token-past-max-session"],
  },
  {
    name: "fixed (found by the simulation): a tab opened during a sign-out is told again once storage is wiped",
    config: {"tabs":1,"persist":"indexeddb","storage":"injected","channel":"native","dropRate":0,"locks":"web","idle":null,"maxSessionMs":null,"tokenLifetimeMs":300000},
    seed: 491,
    commands: [{"do":"login","tab":0,"gap":100,"r":49040295},{"do":"logout","tab":0,"gap":0,"r":525936370},{"do":"open","gap":0,"r":993346485}],
    invariants: ["signout-propagation","token-after-signout"],
  },
  {
    name: "fixed (found by the simulation): persist:'memory': a tab back from the bfcache whose siblings are away never presents its spent refresh token",
    config: {"tabs":2,"persist":"memory","storage":"injected","channel":"native","dropRate":0,"locks":"web","idle":{"timeoutMs":60000,"warningMs":20000},"maxSessionMs":null,"tokenLifetimeMs":30000},
    seed: 474,
    commands: [{"do":"login","tab":0,"gap":0,"r":928186444},{"do":"heal","tab":1,"gap":20,"r":214365274},{"do":"bfcache","tab":1,"gap":1,"r":895881571},{"do":"advance","gap":30000,"r":895881572},{"do":"pageshow","tab":1,"gap":1,"r":895881571},{"do":"bfcache","tab":0,"gap":100,"r":351514115},{"do":"advance","gap":30000,"r":351514116}],
    invariants: ["rt-presented-twice"],
  },
  {
    name: "fixed (found by the simulation): a tab that finds a newer-schema record on its refresh read asks its siblings first",
    config: {"tabs":1,"persist":"indexeddb","storage":"owned","channel":"native","dropRate":0,"locks":"web","idle":{"timeoutMs":300000,"warningMs":20000},"maxSessionMs":null,"tokenLifetimeMs":30000},
    seed: 739,
    commands: [{"do":"login","tab":0,"gap":20,"r":912449572},{"do":"open","strict":true,"gap":1,"r":887848229},{"do":"newer","tab":0,"gap":0,"r":686712951},{"do":"bfcache","tab":0,"gap":100,"r":455948956},{"do":"advance","gap":90000,"r":455948957},{"do":"pageshow","tab":0,"gap":100,"r":455948956}],
    invariants: ["rt-presented-twice"],
  },
  {
    name: "fixed (found by the simulation): a degraded tab gives its siblings a head start after a refresh (a tab was opening)",
    config: {"tabs":1,"persist":"indexeddb","storage":"owned","channel":"native","dropRate":0,"locks":"web","idle":null,"maxSessionMs":null,"tokenLifetimeMs":120000},
    seed: 1245,
    commands: [{"do":"login","tab":0,"gap":5,"r":138249096},{"do":"sfault","tab":0,"kind":"lost","count":2,"gap":20,"r":371447307},{"do":"sfault","tab":0,"kind":"reject","count":2,"gap":20,"r":140916482},{"do":"advance","gap":60000,"r":506900331},{"do":"use","tab":0,"gap":5,"r":886538372},{"do":"open","strict":true,"gap":20,"r":106959525},{"do":"advance","gap":1000,"r":39282842}],
    invariants: ["rt-presented-twice"],
  },
  {
    name: "fixed (found by the simulation): a sign-out whose wipe degrades the tab's storage still wipes the database (a tab opened next stays signed out)",
    config: {"tabs":1,"persist":"indexeddb","storage":"owned","channel":"native","dropRate":0,"locks":"lease","idle":null,"maxSessionMs":600000,"tokenLifetimeMs":120000},
    seed: 2655,
    commands: [{"do":"login","tab":0,"gap":100,"r":399090815},{"do":"sfault","tab":0,"kind":"quota","count":2,"gap":5,"r":388989830},{"do":"logout","tab":0,"gap":20,"r":391838007},{"do":"open","strict":true,"gap":0,"r":444425127}],
    invariants: ["signout-propagation"],
  },
  {
    name: "fixed (found by the simulation): injected storage degraded during a sign-out: a tab opened next that restores the ended sign-in is told it ended",
    config: {"tabs":1,"persist":"indexeddb","storage":"injected","channel":"native","dropRate":0,"locks":"lease","idle":null,"maxSessionMs":null,"tokenLifetimeMs":120000},
    seed: 3087,
    commands: [{"do":"login","tab":0,"gap":20,"r":1026737843},{"do":"sfault","tab":0,"kind":"abort","count":2,"gap":1,"r":192440815},{"do":"logout","tab":0,"gap":0,"r":204066590},{"do":"refresh","tab":0,"gap":20,"r":1071552771},{"do":"open","gap":5,"r":835269101}],
    invariants: ["signout-propagation"],
  },
  {
    name: "ok: a degraded tab's wipe of the database never erases a sign-in written after it (it runs under the lock; a first version of the fix above did not)",
    config: {"tabs":2,"persist":"indexeddb","storage":"owned","channel":"native","dropRate":0,"locks":"web","idle":null,"maxSessionMs":null,"tokenLifetimeMs":300000},
    seed: 1132,
    commands: [{"do":"sfault","tab":1,"kind":"quota","count":2,"gap":20,"r":620036619},{"do":"login","tab":1,"gap":20,"r":897937843},{"do":"logout","tab":1,"gap":0,"r":255168926},{"do":"login","tab":0,"gap":20,"r":471258718}],
    invariants: "all",
  },
  {
    name: "fixed (found by the simulation): destroy() waits for a wipe that began while it waited (another tab's sign-out) before it resolves",
    config: {"tabs":2,"persist":"indexeddb","storage":"owned","channel":"native","dropRate":0,"locks":"web","idle":{"timeoutMs":60000,"warningMs":20000},"maxSessionMs":600000,"tokenLifetimeMs":30000},
    seed: 3388,
    commands: [{"do":"login","tab":1,"gap":1,"r":593762804},{"do":"advance","gap":1000,"r":531635294},{"do":"refresh","tab":1,"gap":5,"r":152089497},{"do":"destroy","tab":1,"gap":1,"r":332865431},{"do":"logout","tab":0,"gap":1,"r":689313931},{"do":"get","tab":0,"gap":5,"r":684372527}],
    invariants: ["destroy-leftovers"],
  },
  {
    name: "fixed (found by the simulation): junk in the stored session is no sign-out: the signed-in tab keeps its session (and the others agree)",
    config: {"tabs":2,"persist":"indexeddb","storage":"injected","channel":"native","dropRate":0,"locks":"web","idle":null,"maxSessionMs":null,"tokenLifetimeMs":30000},
    seed: 649,
    commands: [{"do":"login","tab":0,"gap":0,"r":589595710},{"do":"sfault","tab":0,"kind":"reject","count":1,"gap":20,"r":931993582},{"do":"corrupt","variant":"tombstone-object","gap":5,"r":703895395}],
    invariants: "all",
  },
  {
    name: "fixed (found by the simulation): tokens that expired on arrival in another tab (a response processed after the bfcache) are refreshed, not handed out",
    config: {"tabs":2,"persist":"indexeddb","storage":"owned","channel":"fallback","dropRate":0,"locks":"web","idle":null,"maxSessionMs":null,"tokenLifetimeMs":30000},
    seed: 3571,
    commands: [{"do":"login","tab":0,"gap":1,"r":324149342},{"do":"advance","gap":5000,"r":173115856},{"do":"refresh","tab":1,"gap":5,"r":623428950},{"do":"bfcache","tab":1,"gap":5,"r":844148946},{"do":"advance","gap":90000,"r":844148947},{"do":"use","tab":0,"gap":20,"r":510110126}],
    invariants: ["expired-token"],
  },
  {
    name: "fixed (found by the simulation): a degraded tab about to refresh adopts a later sign-in it finds in the database instead of presenting its old refresh token",
    config: {"tabs":2,"persist":"indexeddb","storage":"owned","channel":"fallback","dropRate":0,"locks":"web","idle":null,"maxSessionMs":600000,"tokenLifetimeMs":300000},
    seed: 6912,
    commands: [{"do":"login","tab":0,"gap":1,"r":391441208},{"do":"get","tab":0,"gap":100,"r":185282160},{"do":"refresh","tab":0,"gap":5,"r":791654445},{"do":"sfault","tab":1,"kind":"quota","count":2,"gap":1,"r":977960944},{"do":"advance","gap":60000,"r":478363205},{"do":"advance","gap":60000,"r":102560244},{"do":"login","tab":0,"gap":5,"r":699206413}],
    invariants: ["rt-presented-twice"],
  },
  {
    name: "fixed (found by the simulation): a degraded tab keeps what it adopted from the database (its own re-read no longer brings back a spent record)",
    config: {"tabs":2,"persist":"indexeddb","storage":"owned","channel":"fallback","dropRate":0.05,"locks":"web","idle":null,"maxSessionMs":null,"tokenLifetimeMs":120000},
    seed: 5194,
    commands: [{"do":"sfault","tab":0,"kind":"abort","count":2,"gap":1,"r":686166437},{"do":"open","gap":1,"r":1034032946},{"do":"login","tab":0,"gap":20,"r":302062521},{"do":"refresh","tab":2,"gap":100,"r":35163685},{"do":"login","tab":2,"gap":20,"r":955398621}],
    invariants: ["rt-presented-twice"],
  },
  {
    name: "fixed (found by the simulation): a tab opened during a sign-out never stays loading",
    config: {"tabs":3,"persist":"indexeddb","storage":"owned","channel":"native","dropRate":0,"locks":"web","idle":null,"maxSessionMs":null,"tokenLifetimeMs":300000},
    seed: 1058,
    commands: [{"do":"login","tab":0,"gap":0,"r":143605412},{"do":"get","tab":0,"gap":20,"r":1052817607},{"do":"open","strict":true,"gap":1,"r":485556835},{"do":"logout","tab":0,"gap":5,"r":706289415}],
    invariants: ["stuck-loading"],
  },
  {
    name: "fixed (found by the simulation): refresh() right after opening never makes ready() resolve 'anonymous' while a session is stored",
    config: {"tabs":1,"persist":"indexeddb","storage":"owned","channel":"fallback","dropRate":0,"locks":"lease","idle":null,"maxSessionMs":null,"tokenLifetimeMs":300000},
    seed: 1427,
    commands: [{"do":"login","tab":0,"gap":100,"r":178367659},{"do":"open","gap":1,"r":557182543},{"do":"login","tab":1,"gap":1,"r":547785186},{"do":"get","tab":0,"gap":1,"r":625179023},{"do":"refresh","tab":1,"gap":20,"r":921700895}],
    invariants: ["ready-anonymous"],
  },
  {
    name: "fixed (found by the simulation): wall clock set back: real input a minute later still counts as activity",
    config: {"tabs":1,"persist":"indexeddb","storage":"owned","channel":"native","dropRate":0,"locks":"web","idle":{"timeoutMs":120000,"warningMs":20000},"maxSessionMs":600000,"tokenLifetimeMs":300000},
    seed: 1616,
    commands: [{"do":"login","tab":0,"gap":100,"r":745602743},{"do":"advance","gap":30000,"r":668885852},{"do":"walljump","ms":-60000,"gap":20,"r":180983625},{"do":"advance","gap":30000,"r":99839554},{"do":"input","tab":0,"gap":20,"r":78405417}],
    invariants: ["premature-idle"],
  },
  {
    name: "fixed (found by the simulation): a tab stopped while a sibling extended is sent that extend when it warns",
    config: {"tabs":2,"persist":"memory","storage":"owned","channel":"native","dropRate":0,"locks":"web","idle":{"timeoutMs":60000,"warningMs":20000},"maxSessionMs":null,"tokenLifetimeMs":120000},
    seed: 2288,
    commands: [{"do":"login","tab":0,"gap":20,"r":823847684},{"do":"advance","gap":15000,"r":2674795},{"do":"extend","tab":1,"gap":1,"r":748068136},{"do":"stop","tab":0,"gap":5,"r":405094144},{"do":"start","tab":0,"gap":5,"r":405094144}],
    invariants: ["premature-idle"],
  },
  {
    name: "fixed (found by the simulation): persist:'memory': a tab opened during a sign-out, handed the session by a tab that had not heard yet, is signed out by the echo",
    config: {"tabs":4,"persist":"memory","storage":"owned","channel":"native","dropRate":0,"locks":"web","idle":null,"maxSessionMs":300000,"tokenLifetimeMs":300000},
    seed: 2290,
    commands: [{"do":"login","tab":0,"gap":20,"r":1042583990},{"do":"logout","tab":0,"gap":0,"r":876798689},{"do":"open","gap":5,"r":1067824028}],
    invariants: ["signout-propagation","token-after-signout"],
  },
  {
    name: "fixed (found by the simulation): persist:'memory': two tabs signing in at once end on the same sign-in",
    config: {"tabs":2,"persist":"memory","storage":"owned","channel":"native","dropRate":0,"locks":"web","idle":null,"maxSessionMs":600000,"tokenLifetimeMs":300000},
    seed: 631,
    commands: [{"do":"login","tab":1,"gap":1,"r":193630046},{"do":"login","tab":0,"gap":100,"r":641155251}],
    invariants: ["converge"],
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
    // Tab 0's storage degrades while it refreshes and the write-through of the rotated record is rejected:
    // the database keeps the spent record. A tab opened next restores it; its token is not due yet, so
    // tab 0's answer to its 'restored' (the rotated record) lands before its first refresh.
    name: 'fixed: a tab restoring a record that a degraded sibling has rotated is sent the rotated one (its token not due yet)',
    config: { tabs: 1, persist: 'indexeddb', storage: 'owned', channel: 'native', locks: 'web', tokenLifetimeMs: 120_000 },
    commands: [t(0, 'login'), { ...t(0, 'sfault'), kind: 'lost', count: 2 }, { ...t(0, 'sfault'), kind: 'reject', count: 2 }, advance(10_000), t(0, 'refresh'), advance(1_000), { do: 'open', strict: true }, advance(200_000)],
    invariants: 'all',
  },
  {
    // Tab 0's storage degrades while it refreshes and the write-through of the rotated record to the
    // database is rejected; a tab opened later restores the spent record from the database and presents
    // its refresh token (nothing tells it that a sibling holds a newer generation). Seed 1245 of the random
    // runs. Not fixed yet: see known-defects.mjs.
    name: 'known: a tab restoring a record that a degraded sibling has rotated presents a spent refresh token',
    defect: 'restored-spent-record',
    config: { tabs: 1, persist: 'indexeddb', storage: 'owned', channel: 'native', locks: 'web', tokenLifetimeMs: 120_000 },
    commands: [t(0, 'login'), { ...t(0, 'sfault'), kind: 'lost', count: 2 }, { ...t(0, 'sfault'), kind: 'reject', count: 2 }, advance(60_000), t(0, 'use'), advance(1_000), { do: 'open', strict: true }],
    invariants: ['rt-presented-twice', 'reauth-twice'],
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
