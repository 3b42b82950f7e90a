// The plain page: sessionkeeper from its CDN bundle (global `SessionKeeper`), no build step.
// `DemoKit` is the demo's own helper (settings, log texts, the DOM panel); see /kit.js.
;(async function () {
  'use strict'
  var SK = window.SessionKeeper
  var s = DemoKit.settings()

  // 1. Sign-in: authorization code + PKCE against the local provider, redirecting back to this page; and
  //    sign-out at the provider (RP-initiated logout), coming back to this page too.
  var signIn = SK.createSignIn({ issuer: s.issuer, clientId: s.clientId, redirectUri: s.redirectUri, postLogoutRedirectUri: s.postLogoutRedirectUri, scope: 'openid' })

  // 2. The session: pure to create, nothing happens until start().
  var session = SK.createSession({
    name: s.name,
    refresh: SK.refreshTokenGrant({ tokenEndpoint: s.tokenEndpoint, clientId: s.clientId }),
    revoke: SK.revokeTokens({ revocationEndpoint: s.revocationEndpoint, clientId: s.clientId }), // RFC 7009 at sign-out, best effort
    endSession: function (ended) { return DemoKit.endProviderSession(signIn, ended) }, // then the provider's logout page
    refreshLeadMs: s.refreshLeadMs,
    idle: { timeoutMs: s.idleMs, warningMs: s.warningMs },
    maxSessionMs: s.maxSessionMs,
    fetch: { allowedOrigins: [new URL(s.resource).origin] },
  })

  // 3. Run it: hydrate from IndexedDB, join the other tabs, start the timers.
  session.start()
  await session.ready()
  // Back from the provider? Then hand the tokens to session.login(): every open tab signs in (or, back from
  // its logout page, check the state).
  var firstLine = await DemoKit.finishSignIn(session, signIn, s)

  // 4. The UI: status, countdowns, event log, idle dialog (session.extend()), log out (session.logout()).
  DemoKit.mountPanel(session, { signIn: signIn, settings: s, firstLine: firstLine })
})()
