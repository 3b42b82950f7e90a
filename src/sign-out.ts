import { toSessionError } from './errors.js'
import { secretsOf } from './record.js'
import type { Clock, LogoutReason, SessionEventMap, SessionOptions, TokenSet } from './types.js'

export interface ProviderSignOut {
  options: SessionOptions
  clock: Clock
  warn: (event: SessionEventMap['warning']) => void
}

/**
 * What a sign-out in this tab does at the provider, after the local sign-out (which never waits for it):
 * revokes the tokens (best effort; a rejected refresh token needs none), then — for the user's own
 * sign-out, once storage is wiped (`wiped`) and the revocation settled or 5 s passed — RP-initiated logout.
 * Failures are `warning`s with no token in them.
 */
export function createProviderSignOut({ options: o, clock, warn }: ProviderSignOut): (tokens: TokenSet, why: LogoutReason, wiped: Promise<unknown>) => void {
  const settle = (fn: () => unknown, code: 'revocation_failed' | 'configuration', message: string, tokens: TokenSet) =>
    Promise.resolve()
      .then(fn)
      .catch((cause: unknown) => warn({ error: toSessionError(cause, code, message, secretsOf(tokens)) }))
  return (tokens, why, wiped) => {
    const revoked = o.revoke && why !== 'reauth-required' && why !== 'storage-cleared' ? settle(() => o.revoke?.(tokens), 'revocation_failed', 'revocation failed', tokens) : undefined
    if (why !== 'user' || !o.endSession) return
    void wiped.then(() => {
      let cancel = () => {}
      return Promise.race([revoked, new Promise((r) => (cancel = clock.setTimeout(() => r(0), 5_000)))]).then(() => {
        cancel()
        return settle(() => o.endSession?.({ tokens, reason: why }), 'configuration', 'end session failed', tokens)
      })
    })
  }
}
