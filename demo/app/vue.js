// The Vue page: the sessionkeeper/vue plugin and composables over one session.
// Render functions instead of templates, so the runtime-only Vue build works under a strict CSP
// (template compilation in the browser needs 'unsafe-eval'). Bundled at start-up with esbuild.
import { createApp, defineComponent, h, onScopeDispose, shallowRef } from 'vue'
import { createSession } from 'sessionkeeper'
import { createSignIn, refreshTokenGrant, revokeTokens } from 'sessionkeeper/oauth'
import { createSessionPlugin, useSession, useIdleWarning, useSessionClient } from 'sessionkeeper/vue'
import { settings, finishSignIn, userName, endProviderSession, describeEvent, statusText, duration, clockTime, settingsText, EVENT_TYPES } from '../public/kit.js'

const s = settings()

// Sign-in (authorization code + PKCE) and sign-out at the provider (RP-initiated logout), both back to this page.
const signIn = createSignIn({ issuer: s.issuer, clientId: s.clientId, redirectUri: s.redirectUri, postLogoutRedirectUri: s.postLogoutRedirectUri, scope: 'openid' })

const session = createSession({
  name: s.name,
  refresh: refreshTokenGrant({ tokenEndpoint: s.tokenEndpoint, clientId: s.clientId }),
  revoke: revokeTokens({ revocationEndpoint: s.revocationEndpoint, clientId: s.clientId }), // RFC 7009 at sign-out, best effort
  endSession: (ended) => endProviderSession(signIn, ended), // then the provider's logout page
  refreshLeadMs: s.refreshLeadMs,
  idle: { timeoutMs: s.idleMs, warningMs: s.warningMs },
  maxSessionMs: s.maxSessionMs,
  fetch: { allowedOrigins: [new URL(s.resource).origin] },
})

/** A ref holding Date.now(), updated every `ms` while the component lives (for countdowns). */
function useNow(ms = 250) {
  const now = shallowRef(Date.now())
  const id = setInterval(() => (now.value = Date.now()), ms)
  onScopeDispose(() => clearInterval(id))
  return now
}

/** The event log: every session event, newest first. */
function useLog() {
  const client = useSessionClient()
  const entries = shallowRef([])
  const add = (entry) => (entries.value = [{ ...entry, at: Date.now(), id: Math.random() }, ...entries.value].slice(0, 50))
  const offs = EVENT_TYPES.map((type) => client.on(type, (e) => add(describeEvent(type, e))))
  onScopeDispose(() => offs.forEach((off) => off()))
  return { entries, add }
}

const Status = defineComponent({
  props: { firstLine: { type: Object, default: null } },
  setup(props) {
    const snapshot = useSession()
    // The signed-in user (the ID token's claims): this ref changes only when the user changes.
    const user = useSession((snap) => snap.user)
    const client = useSessionClient()
    const now = useNow()
    const log = useLog()
    if (props.firstLine) log.add(props.firstLine)
    const callApi = async () => {
      try {
        const res = await client.fetch(s.resource)
        log.add({ kind: 'info', text: `GET /rs/me → ${res.status} ${res.ok ? JSON.stringify(await res.json()) : ''}` })
      } catch (e) {
        log.add({ kind: 'error', text: `GET /rs/me failed: ${e.code ?? e.name}` })
      }
    }
    return () => {
      const snap = snapshot.value
      const authed = snap.status === 'authenticated'
      const t = now.value
      return h('main', [
        h('section', [
          h('h2', 'Session · Vue'),
          h('dl', [
            h('dt', 'Status'),
            h('dd', { 'data-testid': 'status', 'data-status': snap.status }, statusText(snap)),
            h('dt', 'User'),
            h('dd', { 'data-testid': 'user' }, authed ? userName({ user: user.value }) ?? '(no ID token)' : '–'),
            h('dt', 'Access token expires in'),
            h('dd', { 'data-testid': 'expires-in' }, authed ? duration(snap.tokens.expiresAt - t) : '–'),
            h('dt', 'Session ends in (max)'),
            h('dd', { 'data-testid': 'session-ends' }, authed ? duration(snap.authenticatedAt + s.maxSessionMs - t) : '–'),
          ]),
          h('div', { class: 'buttons' }, [
            snap.status === 'anonymous' && h('button', { 'data-testid': 'signin', onClick: () => signIn.start() }, 'Sign in'),
            authed && h('button', { 'data-testid': 'api', class: 'secondary', onClick: callApi }, 'Call /rs/me'),
            authed && h('button', { 'data-testid': 'logout', class: 'secondary', onClick: () => client.logout() }, 'Log out (everywhere)'),
          ]),
          h('p', { class: 'settings', 'data-testid': 'settings' }, settingsText(s)),
        ]),
        h('section', [
          h('h2', 'Refreshes and cross-tab events'),
          h('ol', { class: 'log', 'data-testid': 'log' },
            log.entries.value.map((e) => h('li', { key: e.id, class: `log-${e.kind}` }, [h('time', clockTime(e.at)), ` ${e.text}`]))),
        ]),
      ])
    }
  },
})

/** The idle warning, shared by every tab: "Stay signed in" ends it everywhere. */
const IdleDialog = defineComponent({
  setup() {
    const { warning, remainingMs, extend } = useIdleWarning()
    const client = useSessionClient()
    return () =>
      warning.value &&
      h('div', { class: 'overlay', 'data-testid': 'idle-dialog' }, [
        h('div', { class: 'dialog', role: 'alertdialog', 'aria-labelledby': 'idle-title' }, [
          h('h2', { id: 'idle-title' }, 'Still there?'),
          h('p', 'You will be signed out in every tab in'),
          h('p', { class: 'countdown', 'data-testid': 'idle-countdown' }, duration(remainingMs.value)),
          h('div', { class: 'buttons' }, [
            h('button', { 'data-testid': 'stay', onClick: extend }, 'Stay signed in'),
            h('button', { 'data-testid': 'logout-now', class: 'secondary', onClick: () => client.logout() }, 'Log out'),
          ]),
        ]),
      ])
  },
})

// Finish a sign-in first when this load is the redirect back from the provider (started, so login()
// reaches the other tabs), then mount: the plugin starts the session on mount, stops it on unmount.
const release = session.start()
const firstLine = await session.ready().then(() => finishSignIn(session, signIn, s))
createApp({ render: () => [h(Status, { firstLine }), h(IdleDialog)] })
  .use(createSessionPlugin(session))
  .mount('#app')
release() // the plugin holds its own start() while the app is mounted
