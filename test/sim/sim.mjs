// Runs schedules (a config + a list of commands) in a fresh simulated origin, checks the invariants after
// every step, and shrinks failing schedules. Also the random schedule generator.
import { createWorld, describe, signoutBound } from './world.mjs'
import { createRng, hashSeed } from './prng.mjs'

/**
 * The command vocabulary (the scenario DSL). `tab` is the index of a tab in opening order; a command
 * naming a tab that is closed, destroyed or not open yet does nothing (so shrunk schedules stay valid).
 *
 *   { do: 'open', strict? }               open a tab (strict: start(); stop(); start() like React StrictMode)
 *   { do: 'login', tab }                  the app signs in (a new grant at the AS) in that tab
 *   { do: 'logout', tab }
 *   { do: 'get', tab }                    getAccessToken()
 *   { do: 'refresh', tab }                refresh()
 *   { do: 'use', tab }                    session.fetch() against the resource server
 *   { do: 'touch' | 'extend' | 'input', tab }  activity (input = trusted DOM input through the page port)
 *   { do: 'advance', ms }                 let virtual time pass
 *   { do: 'hide' | 'show', tab }
 *   { do: 'freeze' | 'resume', tab }      Page Lifecycle freeze / resume
 *   { do: 'bfcache' | 'pageshow', tab }   into / out of the back-forward cache
 *   { do: 'close', tab }                  the tab goes away (mid-anything): Web Locks released, leases not
 *   { do: 'destroy', tab }                session.destroy()
 *   { do: 'stop' | 'start', tab }         the app's stop function / start() again
 *   { do: 'sfault', tab, kind: 'quota'|'abort'|'lost'|'reject', count }  next storage operations fail
 *   { do: 'newer' }                       a newer SDK version writes a v2 record
 *   { do: 'corrupt', variant: 'tombstone-object'|'garbage' }  untrusted junk in the session record
 *   { do: 'evict' }                       storage wiped by the browser / devtools (cleared notice)
 *   { do: 'net', kind: 'outage', ms }     token endpoint unreachable for ms
 *   { do: 'net', kind: 'lost'|'5xx'|'429'|'400'|'401'|'slow', count }  next token responses
 *   { do: 'heal' }                        network and storage faults end
 *   { do: 'walljump', ms }                the wall clock is set by ms (negative: back)
 *   { do: 'droprate', rate }              fallback channel message loss from now on (0..1)
 * Every command may carry `gap` (ms of virtual time run after it; default 20) and `r` (its own PRNG seed).
 */
export async function runSchedule({ config = {}, commands, seed = 1, trace = false, final = true }) {
  const w = await createWorld({ config, seed })
  w.keepTrace = trace
  w.install()
  let steps = 0
  try {
    for (let i = 0; i < (config.tabs ?? w.config.tabs); i++) w.openTab()
    await w.runFor(50)
    for (let i = 0; i < commands.length; i++) {
      const cmd = commands[i]
      w.stepIndex = i
      w.rng = createRng(`${seed}:${cmd.r ?? i}`)
      exec(w, cmd)
      await w.runFor(cmd.gap ?? 20)
      check(w)
      steps++
    }
    if (final) await settle(w)
  } catch (error) {
    w.violation('sim-internal', error?.stack ?? String(error))
  } finally {
    w.uninstall()
  }
  return { violations: w.violations, steps, events: w.events, hash: w.hash.digest("hex"), trace: w.trace, world: w, config: w.config, commands }
}

const API_URL = 'https://api.example/data'

function tabOf(w, cmd) {
  const tab = w.tabs[cmd.tab]
  return tab && !tab.closed && !tab.destroyCalled ? tab : null
}

function exec(w, cmd) {
  w.record(`cmd ${JSON.stringify(cmd)}`)
  const tab = cmd.tab === undefined ? null : tabOf(w, cmd)
  const awake = tab && !tab.frozen
  const api = (name, promise, onValue) => {
    tab.pendingApi++
    promise.then(
      (value) => {
        tab.pendingApi--
        onValue?.(value)
      },
      (error) => {
        tab.pendingApi--
        w.leak(`tab${tab.id} ${name} rejection`, error)
        if (!(error instanceof w.sdk.SessionError)) w.violation('untyped-error', `${name} rejected with ${describe(error)}`)
      },
    )
  }
  switch (cmd.do) {
    case 'open':
      w.openTab({ strict: !!cmd.strict })
      break
    case 'login': {
      if (!awake) break
      const { tokens } = w.as.login()
      api('login', tab.session.login(tokens))
      break
    }
    case 'logout':
      if (awake) api('logout', tab.session.logout())
      break
    case 'get':
      if (awake) api('getAccessToken', tab.session.getAccessToken(), (token) => w.checkHandedOut(tab, token, 'getAccessToken()'))
      break
    case 'refresh':
      if (awake) api('refresh', tab.session.refresh(), (tokens) => w.checkHandedOut(tab, tokens?.accessToken, 'refresh()'))
      break
    case 'use':
      if (awake) {
        tab.pendingUse++
        api('fetch', tab.session.fetch(API_URL).finally(() => tab.pendingUse--))
      }
      break
    case 'touch':
    case 'extend':
    case 'input': {
      if (!awake) break
      const snap = tab.session.getSnapshot()
      const g = snap.status === 'authenticated' ? w.grantsByAt.get(snap.tokens.accessToken) : null
      const grant = g && w.as.grants.get(g.grant)
      // The model's "last activity": what the SDK must count (plain activity is ignored during the warning).
      if (grant && (cmd.do === 'extend' || snap.idle.phase === 'active')) grant.lastActivity = w.t
      if (cmd.do === 'touch') tab.session.touch()
      else if (cmd.do === 'extend') tab.session.extend()
      else for (const l of [...tab.activityListeners]) l()
      break
    }
    case 'advance':
      break // the gap below does it
    case 'hide':
      if (awake && !tab.hidden) {
        tab.hidden = true
        w.after(0, tab, 'page hidden', () => tab.emitPage('hidden'))
      }
      break
    case 'show':
      if (awake && tab.hidden) {
        tab.hidden = false
        w.after(0, tab, 'page visible', () => tab.emitPage('visible'))
      }
      break
    case 'freeze':
    case 'bfcache':
      if (awake) tab.freeze(cmd.do === 'bfcache')
      break
    case 'resume':
    case 'pageshow':
      if (tab?.frozen && tab.bfcached === (cmd.do === 'pageshow')) tab.resume()
      break
    case 'close':
      if (tab) tab.close()
      break
    case 'destroy':
      if (awake) {
        tab.destroyCalled = true
        tab.session.destroy().then(() => {
          tab.destroyedAt = w.t
          tab.destroyResolved = true
        })
      }
      break
    case 'stop':
      if (awake) tab.stopAll()
      break
    case 'start':
      if (awake) tab.start()
      break
    case 'sfault':
      if (tab) tab.storageFaults.push({ kind: cmd.kind, count: cmd.count ?? 1 })
      break
    case 'newer':
      w.after(0, null, 'a newer SDK writes a v2 record', () => w.store.set('session', { v: 2 }))
      break
    case 'corrupt':
      w.after(0, null, `corrupt session record (${cmd.variant})`, () =>
        w.store.set('session', cmd.variant === 'tombstone-object' ? { v: 1, ended: {} } : { v: 1, epoch: 42, tokens: 'x' }),
      )
      break
    case 'evict':
      w.after(0, null, 'storage evicted', () => {
        w.store.clear()
        for (const t of w.tabs) {
          if (t.closed) continue
          w.after(w.rng.int(0, 5), t, 'storage cleared notice', () => {
            for (const a of t.adapters) if (!a.closed && !a.degraded) for (const l of [...a.listeners]) l({ type: 'cleared' })
          })
        }
      })
      break
    case 'net':
      if (cmd.kind === 'outage') {
        w.net.outageUntil = Math.max(w.net.outageUntil, w.t + cmd.ms)
        w.net.outages.push({ from: w.t, to: w.t + cmd.ms })
      } else w.net.faults.push({ kind: cmd.kind, count: cmd.count ?? 1 })
      break
    case 'heal':
      heal(w)
      break
    case 'droprate':
      w.config.dropRate = cmd.rate
      break
    case 'walljump':
      w.wallOffset += cmd.ms
      w.wallJumps.push({ t: w.t, ms: cmd.ms })
      break
    default:
      throw new Error(`unknown command ${JSON.stringify(cmd)}`)
  }
}

function heal(w) {
  w.net.faults = []
  if (w.net.outageUntil > w.t) {
    const o = w.net.outages[w.net.outages.length - 1]
    if (o) o.to = w.t
    w.net.outageUntil = w.t
  }
  for (const t of w.tabs) t.storageFaults = []
}

/** Whether the tab that ended a sign-in was frozen, put in the bfcache or closed right after (before its sign-out finished). */
function enderLeft(w, g) {
  const ender = w.tabs[g.endedBy]
  return !!ender && ender.goneAt !== undefined && ender.goneAt >= g.endedAt && ender.goneAt - g.endedAt < 1_000
}

/** Invariants checked after every step. */
function check(w) {
  const bound = signoutBound(w.config)
  for (const tab of w.tabs) {
    if (tab.closed || tab.frozen) continue
    const snap = tab.session.getSnapshot()
    // A sign-out reaches every live tab within bounded simulated time.
    if (snap.status === 'authenticated' && !tab.destroyCalled) {
      const info = w.grantsByAt.get(snap.tokens.accessToken)
      const g = info && w.as.grants.get(info.grant)
      // Excused only when it cannot be done: the ender left (closed, bfcache) at once with no tab awake to
      // hear it, so its storage wipe never ran; a tab opened later restores what storage holds.
      const impossible = g && enderLeft(w, g) && !g.endedWithPeers
      if (g && g.endedAt !== null && !impossible && w.t - Math.max(g.endedAt, tab.awakeSince) > bound && tab.started) {
        w.violation('signout-propagation', `tab${tab.id} still signed in to ${g.id} ${w.t - g.endedAt} ms after tab${g.endedBy} ended it (${g.endReason})`, { tab: tab.id, grant: g.id, key: `${tab.id}:${g.id}`, enderLeft: enderLeft(w, g) })
      }
    }
    // Startup finishes.
    if (snap.status === 'loading' && tab.started && !tab.destroyCalled && w.t - Math.max(tab.openedAt, tab.awakeSince) > 30_000) {
      w.violation('stuck-loading', `tab${tab.id} still loading ${w.t - tab.openedAt} ms after it opened`, { tab: tab.id, key: tab.id })
    }
    // destroy() leaves nothing running.
    if (tab.destroyResolved && !tab.destroyChecked) {
      tab.destroyChecked = true
      const left = []
      if (tab.timers.size) left.push(`${tab.timers.size} timer(s)`)
      if (tab.endpoint.listeners.size) left.push('channel listener')
      if (tab.pageListeners.size || tab.activityListeners.size) left.push('page listener')
      if (tab.adapters.some((a) => a.listeners.size)) left.push('storage listener')
      if (tab.adapters.some((a) => a.owned && !a.closed)) left.push('open IndexedDB adapter')
      if (w.lockHolder?.tab === tab || w.lockQueue.some((r) => r.tab === tab)) left.push('lock request')
      if (left.length) w.violation('destroy-leftovers', `tab${tab.id} after destroy(): ${left.join(', ')}`, { tab: tab.id })
    }
  }
}

/**
 * The end of every schedule: the network and storage heal, frozen pages come back, time passes; then
 * every live tab must agree (all anonymous, or all on the same access token), and the outage windows
 * must not have seen more token-endpoint attempts than one tab's backoff would make.
 */
async function settle(w) {
  w.stepIndex = 'final'
  w.rng = createRng(`${w.seed}:final`)
  heal(w)
  w.config.dropRate = 0
  for (const t of w.tabs) if (t.frozen && !t.closed) t.resume()
  for (let i = 0; i < 24; i++) {
    await w.runFor(5_000)
    check(w)
  }
  const live = w.tabs.filter((t) => !t.closed && !t.destroyCalled && t.started)
  const stateOf = () =>
    live.map((t) => {
      const s = t.session.getSnapshot()
      return s.status === 'authenticated' ? `authenticated:${w.grantsByAt.get(s.tokens.accessToken)?.grant}:${s.tokens.accessToken.slice(0, 4)}` : s.status
    })
  // Deadlines and refreshes keep happening: the tabs must agree at some instant within the sign-out bound.
  let states = stateOf()
  for (let i = 0; new Set(states).size > 1 && i * 1000 < signoutBound(w.config); i++) {
    await w.runFor(1_000)
    states = stateOf()
  }
  // persist:'memory' without Web Locks keeps every sign-in in its own tab (by design: nothing could keep
  // two tabs from presenting one refresh token), so only sign-outs have to reach every tab there.
  const perTab = w.config.persist === 'memory' && w.config.locks === 'lease'
  if (new Set(states).size > 1 && !perTab) {
    w.violation('converge', `after healing, tabs disagree: ${live.map((t, i) => `tab${t.id}=${states[i]}`).join(' ')}`)
  }
  if (states.includes('loading')) w.violation('stuck-loading', `after healing, a tab is still loading: ${live.map((t, i) => `tab${t.id}=${states[i]}`).join(' ')}`)
  // Backoff: background (not caller-driven) attempts during an outage do not grow with the number of tabs.
  for (const o of w.net.outages) {
    const span = o.to - o.from
    if (span < 20_000) continue
    // Per sign-in: a new sign-in during the outage rightly starts its own backoff.
    const perGrant = new Map()
    for (const r of w.as.requests) {
      if (r.onDemand || r.sentT < o.from || r.sentT >= o.to) continue
      const g = w.as.grantOf(r.rt)?.id ?? '?'
      perGrant.set(g, (perGrant.get(g) ?? 0) + 1)
    }
    const attempts = Math.max(0, ...perGrant.values())
    const allowed = 3 + 2 * Math.ceil(Math.log2(1 + span / 1000))
    if (attempts > allowed) {
      w.violation('backoff-per-origin', `${attempts} background token-endpoint attempts during a ${span} ms outage (one tab's backoff: at most ${allowed}); ${live.length} tabs`)
    }
  }
}

// --- random schedules ------------------------------------------------------------------------------------------

/** A random configuration and command list from a seed. `tabs` caps the number of tabs. */
export function generate(seed, { maxTabs = 10, length = 40 } = {}) {
  const rng = createRng(`gen:${seed}`)
  const tabs = rng.int(1, Math.min(maxTabs, 4))
  const persist = rng.chance(0.25) ? 'memory' : 'indexeddb'
  const storage = rng.chance(0.2) ? 'injected' : 'owned'
  const channel = persist === 'memory' ? 'native' : rng.chance(0.3) ? 'fallback' : 'native'
  const idle = rng.chance(0.5) ? { timeoutMs: rng.pick([60_000, 120_000, 300_000]), warningMs: 20_000 } : null
  const config = {
    tabs,
    persist,
    storage,
    channel,
    dropRate: channel === 'fallback' ? rng.pick([0, 0, 0.05]) : 0,
    locks: rng.chance(0.3) ? 'lease' : 'web',
    idle,
    maxSessionMs: rng.chance(0.3) ? rng.pick([300_000, 600_000]) : null,
    tokenLifetimeMs: rng.pick([30_000, 120_000, 300_000]),
  }
  const n = rng.int(Math.floor(length / 2), length)
  const commands = []
  let opened = tabs
  const t = () => rng.int(0, opened - 1)
  for (let i = 0; i < n; i++) {
    const kind = rng.weighted([
      [i === 0 ? 30 : 6, 'login'],
      [3, 'logout'],
      [10, 'get'],
      [3, 'refresh'],
      [3, 'use'],
      [5, 'activity'],
      [16, 'advance'],
      [3, 'visibility'],
      [2, 'freeze'],
      [2, 'bfcache'],
      [1.5, 'open'],
      [0.7, 'close'],
      [0.5, 'destroy'],
      [0.7, 'stopstart'],
      [2, 'sfault'],
      [0.3, 'newer'],
      [0.2, 'corrupt'],
      [0.4, 'evict'],
      [3, 'net'],
      [1, 'heal'],
      [0.5, 'walljump'],
    ])
    const gap = rng.pick([0, 1, 5, 20, 20, 100])
    const r = rng.int(0, 2 ** 30)
    const push = (cmd) => commands.push({ ...cmd, gap, r })
    switch (kind) {
      case 'activity':
        push({ do: rng.pick(['touch', 'input', 'input', 'extend']), tab: t() })
        break
      case 'advance':
        commands.push({ do: 'advance', gap: rng.pick([200, 1_000, 5_000, 15_000, 30_000, 60_000, 120_000]), r })
        break
      case 'visibility':
        push({ do: rng.pick(['hide', 'show']), tab: t() })
        break
      case 'freeze':
        push({ do: 'freeze', tab: t() })
        commands.push({ do: 'advance', gap: rng.pick([1_000, 30_000, 90_000]), r: r + 1 })
        push({ do: 'resume', tab: commands[commands.length - 2].tab })
        break
      case 'bfcache':
        push({ do: 'bfcache', tab: t() })
        commands.push({ do: 'advance', gap: rng.pick([1_000, 30_000, 90_000]), r: r + 1 })
        push({ do: 'pageshow', tab: commands[commands.length - 2].tab })
        break
      case 'open':
        if (opened < maxTabs) {
          push({ do: 'open', ...(rng.chance(0.3) && { strict: true }) })
          opened++
        }
        break
      case 'stopstart': {
        const tab = t()
        push({ do: 'stop', tab })
        if (rng.chance(0.5)) push({ do: 'get', tab })
        push({ do: 'start', tab })
        break
      }
      case 'sfault':
        push({ do: 'sfault', tab: t(), kind: rng.pick(['quota', 'abort', 'lost', 'reject']), count: rng.pick([1, 1, 2]) })
        break
      case 'corrupt':
        push({ do: 'corrupt', variant: rng.pick(['tombstone-object', 'garbage']) })
        break
      case 'net':
        if (rng.chance(0.3)) push({ do: 'net', kind: 'outage', ms: rng.pick([10_000, 60_000, 300_000]) })
        else push({ do: 'net', kind: rng.pick(['lost', '5xx', '429', '400', '401', 'slow']), count: rng.pick([1, 1, 3]) })
        break
      case 'droprate':
      w.config.dropRate = cmd.rate
      break
    case 'walljump':
        push({ do: 'walljump', ms: rng.pick([-60_000, -600_000, -3_600_000]) })
        break
      default:
        push({ do: kind, tab: t() })
    }
  }
  return { seed, config, commands }
}

// --- shrinking (delta debugging over the command list, then simplify gaps) ---------------------------------------

export async function shrink(schedule, stillFails, { budget = 300 } = {}) {
  let cmds = schedule.commands
  let runs = 0
  const fails = async (candidate) => {
    runs++
    return stillFails(await runSchedule({ ...schedule, commands: candidate }))
  }
  let n = 2
  while (cmds.length >= 2 && runs < budget) {
    const chunk = Math.ceil(cmds.length / n)
    let reduced = false
    for (let i = 0; i < cmds.length && runs < budget; i += chunk) {
      const complement = [...cmds.slice(0, i), ...cmds.slice(i + chunk)]
      if (complement.length && (await fails(complement))) {
        cmds = complement
        n = Math.max(n - 1, 2)
        reduced = true
        break
      }
    }
    if (!reduced) {
      if (n >= cmds.length) break
      n = Math.min(cmds.length, n * 2)
    }
  }
  // One more pass: drop single commands.
  for (let i = cmds.length - 1; i >= 0 && runs < budget; i--) {
    const candidate = [...cmds.slice(0, i), ...cmds.slice(i + 1)]
    if (candidate.length && (await fails(candidate))) cmds = candidate
  }
  // Renumber: move commands onto lower tab indices (so unused tabs and opens can go).
  const used = () => [...new Set(cmds.filter((c) => c.tab !== undefined).map((c) => c.tab))].sort((a, b) => b - a)
  for (const k of used()) {
    for (let j = 0; j < k && runs < budget; j++) {
      const candidate = cmds.map((c) => (c.tab === k ? { ...c, tab: j } : c))
      if (await fails(candidate)) {
        cmds = candidate
        break
      }
    }
  }
  for (let i = cmds.length - 1; i >= 0 && runs < budget; i--) {
    if (cmds[i].do !== 'open') continue
    const candidate = [...cmds.slice(0, i), ...cmds.slice(i + 1)]
    if (await fails(candidate)) cmds = candidate
  }
  // Fewer tabs.
  let config = schedule.config
  while ((config.tabs ?? 1) > 1 && runs < budget) {
    const smaller = { ...config, tabs: config.tabs - 1 }
    runs++
    if (stillFails(await runSchedule({ ...schedule, config: smaller, commands: cmds }))) config = smaller
    else break
  }
  return { ...schedule, config, commands: cmds, shrinkRuns: runs }
}

/** A schedule as readable steps. */
export function format(schedule) {
  const lines = [`config ${JSON.stringify(schedule.config)}`]
  schedule.commands.forEach((c, i) => {
    const { do: op, gap, r, ...args } = c
    const what = Object.entries(args).map(([k, v]) => `${k}=${v}`).join(' ')
    lines.push(`${String(i + 1).padStart(3)}. ${op}${what ? ' ' + what : ''}${gap !== undefined ? ` (+${gap} ms)` : ''}`)
  })
  return lines.join('\n')
}

export { hashSeed }
