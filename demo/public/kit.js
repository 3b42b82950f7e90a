// Demo plumbing shared by the four pages: settings, finishing the sign-in, the user's name, event texts,
// and a framework-free panel (used by the plain and ESM pages; React and Vue render their own).
//
// Nothing here is part of sessionkeeper. The interesting code is in each page's own script, where the
// session is created, the sign-in finished and the UI wired. This file is an ES module; the demo
// server also bundles it as a classic script (global `DemoKit`) for the plain page.

/**
 * The demo settings: the server's defaults (`/config.js` sets `window.DEMO_CONFIG`), overridden by the
 * query string (`?idleMs=20000&warningMs=10000&maxSessionMs=600000&refreshLeadMs=5000`).
 * The sign-in redirect drops the query string, so it is kept in sessionStorage across the redirect.
 */
export function settings() {
  const config = window.DEMO_CONFIG
  if (!config) throw new Error('window.DEMO_CONFIG is missing: load /config.js first')
  // The sign-in callback (?code&state) and the return from the provider's logout (?state) both drop the query.
  const callback = new URL(location.href).searchParams.has('state')
  const search = callback ? sessionStorage.getItem(SEARCH_KEY) ?? '' : location.search
  if (!callback) sessionStorage.setItem(SEARCH_KEY, location.search)
  const q = new URLSearchParams(search)
  const num = (key, fallback) => {
    const value = q.has(key) ? Number(q.get(key)) : fallback
    return Number.isFinite(value) && value > 0 ? value : fallback
  }
  return {
    ...config,
    search,
    /** The exact redirect URI registered at the provider for this page: the page itself. */
    redirectUri: `${location.origin}${location.pathname}`,
    /** Where the provider's logout page sends the browser back (registered as post_logout_redirect_uri). */
    postLogoutRedirectUri: `${location.origin}${location.pathname}`,
    idleMs: num('idleMs', config.idleMs),
    warningMs: num('warningMs', config.warningMs),
    maxSessionMs: num('maxSessionMs', config.maxSessionMs),
    refreshLeadMs: q.has('refreshLeadMs') ? num('refreshLeadMs', undefined) : undefined,
  }
}

const SEARCH_KEY = 'sessionkeeper-demo:search'

/**
 * Finishes a sign-in when this page load is the redirect back from the provider: the tokens go into
 * `session.login()`, which signs in every tab. Restores the demo's query string afterwards.
 * Returns the first log line of the page (what happened, or the state the page found).
 */
export async function finishSignIn(session, signIn, s) {
  try {
    // Back from the provider's logout page (RP-initiated logout): the state it echoes is checked.
    if (signIn.handleEndSessionCallback()) return { kind: 'logout', text: 'signed out at the provider too' }
    if (!signIn.isCallback()) {
      const snap = session.getSnapshot()
      return snap.status === 'authenticated'
        ? { kind: 'login', text: `session restored from storage: ${userName(snap) ?? '?'}` }
        : { kind: 'info', text: 'not signed in' }
    }
    await session.login(await signIn.handleCallback())
    return { text: `signed in as ${userName(session.getSnapshot()) ?? '?'} (authorization code + PKCE)`, kind: 'login' }
  } catch (error) {
    return { text: `sign-in failed: ${error.code ?? error.name}: ${error.message}`, kind: 'error' }
  } finally {
    if (location.search !== s.search) history.replaceState(history.state, '', `${location.pathname}${s.search}`)
  }
}

/** The user's name from the snapshot's `user` (the ID token's claims, validated at sign-in by sessionkeeper/oauth). */
export function userName(snapshot) {
  const user = snapshot?.user
  return user ? (typeof user.name === 'string' ? user.name : user.sub) : null
}

/**
 * What the pages give `createSession({ endSession })`: after the local sign-out (every tab) and the
 * revocation, the page goes to the provider's logout page, which ends the provider's session too.
 * A provider without an end_session_endpoint cannot do that: the user should close the browser.
 */
export function endProviderSession(signIn, ended) {
  return signIn.endSession(ended).then((result) => {
    if (!result.redirected) console.warn('The provider cannot end its own session: close the browser to sign out completely.')
  })
}

/** Every event type of `session.on()`, for the log. */
export const EVENT_TYPES = ['login', 'logout', 'refresh', 'refresh-error', 'idle-warning', 'active', 'storage-degraded', 'warning']

const where = (remote) => (remote ? 'another tab' : 'this tab')

/** A log line for one session event. `kind` picks the colour. */
export function describeEvent(type, e) {
  switch (type) {
    case 'login':
      return { kind: 'login', text: e.restored ? 'session restored from storage' : `signed in (${where(e.remote)})` }
    case 'logout':
      return { kind: 'logout', text: `signed out (${where(e.remote)}), reason: ${e.reason}` }
    case 'refresh':
      return { kind: 'refresh', text: `${e.remote ? 'adopted a token refreshed by another tab' : 'refreshed the access token'}, valid until ${clockTime(e.expiresAt)}` }
    case 'refresh-error':
      return { kind: 'error', text: `refresh failed: ${e.error.code}${e.retryAt ? `, retrying at ${clockTime(e.retryAt)}` : ''}` }
    case 'idle-warning':
      return { kind: 'idle', text: `idle warning: signing out at ${clockTime(e.logoutAt)}` }
    case 'active':
      return { kind: 'idle', text: 'idle warning ended (stay signed in)' }
    case 'storage-degraded':
      return { kind: 'error', text: `storage degraded, memory only: ${e.error.code}` }
    case 'warning':
      return { kind: 'warn', text: `warning: ${e.error.code}` }
    default:
      return { kind: 'info', text: type }
  }
}

/** `12:03:04` */
export function clockTime(at) {
  return new Date(at).toLocaleTimeString('en-GB', { hour12: false })
}

/** `1:05` / `42 s` for a duration in ms (rounded up to whole seconds, never negative). */
export function duration(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000))
  return s >= 60 ? `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}` : `${s} s`
}

/** Status label of a snapshot. */
export function statusText(snapshot) {
  if (snapshot.status === 'authenticated') return snapshot.refreshing ? 'signed in (refreshing…)' : 'signed in'
  if (snapshot.status === 'anonymous') return snapshot.reason ? `signed out (${snapshot.reason})` : 'signed out'
  return 'loading…'
}

/**
 * The framework-free panel of the plain and ESM pages. It fills the markup both pages share
 * (`data-testid` elements) from the session's snapshot and events. Returns a function that detaches it.
 */
export function mountPanel(session, { signIn, settings: s, firstLine }) {
  const $ = (id) => document.querySelector(`[data-testid="${id}"]`)
  const off = []
  const log = (entry) => appendLog($('log'), entry)
  if (firstLine) log(firstLine)
  for (const type of EVENT_TYPES) off.push(session.on(type, (e) => log(describeEvent(type, e))))

  const render = () => {
    const snap = session.getSnapshot()
    const signedIn = snap.status === 'authenticated'
    $('status').textContent = statusText(snap)
    $('status').dataset.status = snap.status
    $('user').textContent = signedIn ? userName(snap) ?? '(no ID token)' : '–'
    $('signin').hidden = signedIn || snap.status === 'loading'
    $('logout').hidden = !signedIn
    $('api').hidden = !signedIn
    const now = Date.now()
    $('expires-in').textContent = signedIn ? duration(snap.tokens.expiresAt - now) : '–'
    $('session-ends').textContent = signedIn ? duration(snap.authenticatedAt + s.maxSessionMs - now) : '–'
    const warning = signedIn && snap.idle.phase === 'warning'
    $('idle-dialog').hidden = !warning
    if (warning) $('idle-countdown').textContent = duration(snap.idle.logoutAt - now)
  }
  off.push(session.subscribe(render))
  const timer = setInterval(render, 250)
  off.push(() => clearInterval(timer))
  render()

  const click = (id, fn) => {
    const el = $(id)
    el.addEventListener('click', fn)
    off.push(() => el.removeEventListener('click', fn))
  }
  click('signin', () => signIn.start().catch((e) => log({ kind: 'error', text: `sign-in failed: ${e.code ?? e.name}: ${e.message}` })))
  click('logout', () => session.logout())
  click('logout-now', () => session.logout())
  click('stay', () => session.extend())
  click('api', async () => {
    try {
      const res = await session.fetch(s.resource)
      log({ kind: 'info', text: `GET /rs/me → ${res.status} ${res.ok ? JSON.stringify(await res.json()) : ''}` })
    } catch (e) {
      log({ kind: 'error', text: `GET /rs/me failed: ${e.code ?? e.name}` })
    }
  })
  $('settings').textContent = settingsText(s)
  return () => off.forEach((fn) => fn())
}

/** One line describing the timeouts in effect. */
export function settingsText(s) {
  return `access token ${s.accessTokenTtl} s · idle ${duration(s.idleMs)} (warning ${duration(s.warningMs)}) · max session ${duration(s.maxSessionMs)}`
}

function appendLog(list, { kind, text }) {
  const li = document.createElement('li')
  li.className = `log-${kind}`
  const time = document.createElement('time')
  time.textContent = clockTime(Date.now())
  li.append(time, ` ${text}`)
  list.prepend(li)
  while (list.children.length > 50) list.lastElementChild.remove()
}
