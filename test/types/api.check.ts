// Type tests: compiled by `tsc -p test/tsconfig.json` (the "typecheck tests" stage), never run.
// Each expect-error directive below must hit a type error: if the public types ever accept that misuse, the stage fails.
import { createSession, isSessionError, SessionError } from '../../src/index'
import type { LogoutReason, Session, SessionSnapshot, TokenSet } from '../../src/index'
import { createDPoP, refreshTokenGrant } from '../../src/oauth/index'

const session: Session = createSession({ name: 'types', refresh: refreshTokenGrant({ tokenEndpoint: 'https://as.example/token', clientId: 'spa' }) })

// Events are typed by name; payloads are typed per event.
session.on('logout', (e) => {
  const reason: LogoutReason = e.reason
  const remote: boolean = e.remote
  void reason, remote
})
session.on('refresh-error', ({ error, retryAt }) => {
  const code: string = error.code
  const when: number | null = retryAt
  void code, when
})
// @ts-expect-error unknown event name
session.on('logged-out', () => {})
// @ts-expect-error wrong payload shape for this event
session.on('idle-warning', (e: { reason: LogoutReason }) => void e)

// The snapshot is a discriminated union: tokens exist only when authenticated.
const snap: SessionSnapshot = session.getSnapshot()
// @ts-expect-error tokens are not on every snapshot
void snap.tokens
if (snap.status === 'authenticated') {
  const at: string = snap.tokens.accessToken
  const phase: 'active' | 'warning' = snap.idle.phase
  void at, phase
}

// Options are checked.
// @ts-expect-error persist has two values
createSession({ persist: 'localStorage' })
// @ts-expect-error durations are numbers
createSession({ refreshLeadMs: '60s' })
// @ts-expect-error idle needs timeoutMs
createSession({ idle: { warningMs: 1000 } })
// @ts-expect-error refresh must return tokens
createSession({ refresh: async () => 'token' })

// Token sets need an access token and an expiry.
// @ts-expect-error missing accessToken
void session.login({ expiresAt: 1 })
// @ts-expect-error expiresAt is epoch ms, not a string
void session.login({ accessToken: 'x', expiresAt: '2026-01-01' })
const tokens: TokenSet = { accessToken: 'x', expiresAt: 1 }
void session.login(tokens)
// @ts-expect-error tokens are read-only
tokens.accessToken = 'y'

// Logout reasons are a closed set.
void session.logout({ reason: 'idle' })
// @ts-expect-error unknown reason
void session.logout({ reason: 'bored' })

// Errors narrow by code.
const e: unknown = new SessionError('network', 'offline')
if (isSessionError(e, 'network')) {
  const retry: boolean = e.retryable
  void retry
}
// @ts-expect-error unknown error code
void new SessionError('oops', 'x')

// The DPoP handle is a request authorizer for session.fetch.
createSession({ fetch: { authorizer: createDPoP({ name: 'types' }) } })
// @ts-expect-error the authorizer must be able to authorize
createSession({ fetch: { authorizer: {} } })

// The user: typed claims on every snapshot variant (undefined unless authenticated), read-only.
import { createSignIn, type EndSessionResult } from '../../src/oauth/index'
import type { UserClaims } from '../../src/index'
const user: UserClaims | undefined = session.getSnapshot().user
if (user) {
  const sub: string = user.sub
  void sub
  // @ts-expect-error claims are read-only
  user.sub = 'mallory'
}
// endSession gets the ended session; it is an option of createSession and a method of the sign-in.
const signIn = createSignIn({ issuer: 'https://id.example', clientId: 'spa', redirectUri: 'https://app.example/', postLogoutRedirectUri: 'https://app.example/' })
createSession({ endSession: signIn.endSession })
createSession({ endSession: async ({ tokens, reason }) => void [tokens.idToken, reason] })
// @ts-expect-error endSession is a function
createSession({ endSession: 'https://id.example/logout' })
void signIn.endSession({ tokens }).then((r: EndSessionResult) => (r.redirected ? undefined : r.reason))
// @ts-expect-error endSession needs the ended session's tokens
void signIn.endSession()
// @ts-expect-error postLogoutRedirectUri is a string
createSignIn({ issuer: 'https://id.example', clientId: 'spa', redirectUri: 'https://app.example/', postLogoutRedirectUri: true })
// getUserInfo takes the session, not a token
void signIn.getUserInfo(session)
// @ts-expect-error a token string is not a session
void signIn.getUserInfo('access-token')
// prompt=none answers have their own code
void new SessionError('interaction_required', 'x')
// useSession(s => s.user) in React and Vue: the selector sees `user` on every snapshot variant.
import { useSession as useReactSession } from '../../src/react/index'
import { useSession as useVueSession } from '../../src/vue/index'
export function ReactUser(): string | undefined {
  const u: UserClaims | undefined = useReactSession((s) => s.user)
  return u?.name
}
export const vueUser: UserClaims | undefined = useVueSession((s) => s.user).value

// sessionkeeper/testing: the manual clock is a Clock for createSession and the bindings' countdown.
import { createManualClock, settled, type ManualClock } from '../../src/testing'
const manual: ManualClock = createManualClock({ now: Date.UTC(2026, 0, 1) })
createSession({ clock: manual, persist: 'memory', sync: false, idle: { timeoutMs: 60_000, warningMs: 10_000 } })
const moved: Promise<void> = manual.advance(1_000).then(() => manual.sleep(0)).then(settled).then(() => manual.settled())
void moved
const cancel: () => void = manual.setTimeout(() => {}, 10)
cancel()
const at: number = manual.monotonic() // always present on the manual clock
void at
// @ts-expect-error the start is an option, not a positional number
createManualClock(0)
// @ts-expect-error the recorded delays are read-only
manual.delays.push(1)
// @ts-expect-error advance takes ms as a number
void manual.advance('1m')
