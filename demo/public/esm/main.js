// The ESM page: sessionkeeper's ES modules straight from dist/, resolved by the page's import map.
// No bundler. `/kit.js` is the demo's own helper (settings, log texts, the DOM panel).
import { createSession } from 'sessionkeeper'
import { createSignIn, refreshTokenGrant, revokeTokens } from 'sessionkeeper/oauth'
import { settings, finishSignIn, mountPanel, endProviderSession } from '/kit.js'

const s = settings()

// 1. Sign-in: authorization code + PKCE against the local provider, redirecting back to this page; and
//    sign-out at the provider (RP-initiated logout), coming back to this page too.
const signIn = createSignIn({ issuer: s.issuer, clientId: s.clientId, redirectUri: s.redirectUri, postLogoutRedirectUri: s.postLogoutRedirectUri, scope: 'openid' })

// 2. The session: pure to create, nothing happens until start().
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

// 3. Run it: hydrate from IndexedDB, join the other tabs, start the timers.
session.start()
await session.ready()
// Back from the provider? Then hand the tokens to session.login(): every open tab signs in.
const firstLine = await finishSignIn(session, signIn, s)

// 4. The UI: status, countdowns, event log, idle dialog (session.extend()), log out (session.logout()).
mountPanel(session, { signIn, settings: s, firstLine })
