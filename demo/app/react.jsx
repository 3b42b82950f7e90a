// The React page: sessionkeeper/react hooks over one session created at module scope.
// Bundled at demo start-up with esbuild into demo/.build/react.js.
import { StrictMode, useEffect, useState } from 'react'
import { createRoot } from 'react-dom/client'
import { createSession } from 'sessionkeeper'
import { createSignIn, refreshTokenGrant, revokeTokens } from 'sessionkeeper/oauth'
import { SessionProvider, useSession, useIdleWarning, useSessionClient } from 'sessionkeeper/react'
import { settings, finishSignIn, userName, endProviderSession, describeEvent, statusText, duration, clockTime, settingsText, EVENT_TYPES } from '../public/kit.js'

const s = settings()

// Created once, outside any component; <SessionProvider> starts it while mounted (ref-counted, so
// StrictMode's double effects are harmless).
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

// Back from the provider? Finish the sign-in once, at module scope (not in an effect: StrictMode runs
// effects twice and the callback is single-use). This start() keeps the session running until then, so
// login() reaches the other tabs; <SessionProvider> holds its own start while mounted.
const release = session.start()
const signedIn = session.ready().then(() => finishSignIn(session, signIn, s)).finally(release)

/** Re-renders every `ms` (for countdowns). */
function useNow(ms = 250) {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), ms)
    return () => clearInterval(id)
  }, [ms])
  return now
}

function Status() {
  const snapshot = useSession()
  // The signed-in user (the ID token's claims): a selector re-renders only when the user changes.
  const user = useSession((snap) => snap.user)
  const client = useSessionClient()
  const now = useNow()
  const [log, setLog] = useLog()
  const authed = snapshot.status === 'authenticated'

  const callApi = async () => {
    try {
      const res = await client.fetch(s.resource)
      setLog({ kind: 'info', text: `GET /rs/me → ${res.status} ${res.ok ? JSON.stringify(await res.json()) : ''}` })
    } catch (e) {
      setLog({ kind: 'error', text: `GET /rs/me failed: ${e.code ?? e.name}` })
    }
  }

  return (
    <main>
      <section>
        <h2>Session · React</h2>
        <dl>
          <dt>Status</dt>
          <dd data-testid="status" data-status={snapshot.status}>{statusText(snapshot)}</dd>
          <dt>User</dt>
          <dd data-testid="user">{authed ? userName({ user }) ?? '(no ID token)' : '–'}</dd>
          <dt>Access token expires in</dt>
          <dd data-testid="expires-in">{authed ? duration(snapshot.tokens.expiresAt - now) : '–'}</dd>
          <dt>Session ends in (max)</dt>
          <dd data-testid="session-ends">{authed ? duration(snapshot.authenticatedAt + s.maxSessionMs - now) : '–'}</dd>
        </dl>
        <div className="buttons">
          {snapshot.status === 'anonymous' && <button data-testid="signin" onClick={() => signIn.start()}>Sign in</button>}
          {authed && <button data-testid="api" className="secondary" onClick={callApi}>Call /rs/me</button>}
          {authed && <button data-testid="logout" className="secondary" onClick={() => client.logout()}>Log out (everywhere)</button>}
        </div>
        <p className="settings" data-testid="settings">{settingsText(s)}</p>
      </section>
      <section>
        <h2>Refreshes and cross-tab events</h2>
        <ol className="log" data-testid="log">
          {log.map((entry) => (
            <li key={entry.id} className={`log-${entry.kind}`}>
              <time>{clockTime(entry.at)}</time> {entry.text}
            </li>
          ))}
        </ol>
      </section>
    </main>
  )
}

/** The event log: every session event, newest first. */
function useLog() {
  const client = useSessionClient()
  const [entries, setEntries] = useState([])
  const add = (entry) => setEntries((list) => [{ ...entry, at: Date.now(), id: Math.random() }, ...list].slice(0, 50))
  useEffect(() => {
    let live = true
    signedIn.then((line) => live && line && add(line))
    const offs = EVENT_TYPES.map((type) => client.on(type, (e) => add(describeEvent(type, e))))
    return () => {
      live = false
      offs.forEach((off) => off())
    }
  }, [client])
  return [entries, add]
}

/** The idle warning, shared by every tab: "Stay signed in" ends it everywhere. */
function IdleDialog() {
  const { warning, remainingMs, extend } = useIdleWarning()
  const client = useSessionClient()
  if (!warning) return null
  return (
    <div className="overlay" data-testid="idle-dialog">
      <div className="dialog" role="alertdialog" aria-labelledby="idle-title">
        <h2 id="idle-title">Still there?</h2>
        <p>You will be signed out in every tab in</p>
        <p className="countdown" data-testid="idle-countdown">{duration(remainingMs)}</p>
        <div className="buttons">
          <button data-testid="stay" onClick={extend}>Stay signed in</button>
          <button data-testid="logout-now" className="secondary" onClick={() => client.logout()}>Log out</button>
        </div>
      </div>
    </div>
  )
}

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <SessionProvider session={session}>
      <Status />
      <IdleDialog />
    </SessionProvider>
  </StrictMode>,
)
