import { viewOf, type Persisted } from './record.js'
import { userOf } from './user.js'
import type { Store } from './store.js'
import type { SessionError } from './errors.js'
import type { IdleState, LogoutReason, SessionSnapshot, TokenSet, UserClaims } from './types.js'

export const LOADING: SessionSnapshot = Object.freeze({ status: 'loading' })
const ACTIVE: IdleState = Object.freeze({ phase: 'active' })

/** What the snapshot is made of. */
export interface SnapshotState {
  record: Persisted | null
  /** Storage has been read once (until then, no record means `loading`, not `anonymous`). */
  loaded: boolean
  reason: LogoutReason | null
  warningAt: number | null
  refreshing: boolean
  refreshError: SessionError | null
}

export interface Snapshots {
  /** Publishes a new snapshot if anything it shows changed (the same object otherwise). */
  publish(state: SnapshotState): void
  /** The tokens the snapshot shows for `record`: the same object while they stay the same. */
  view(record: Persisted): TokenSet
}

/** Builds snapshots: frozen, and the same object (and the same `tokens` and `user`) until something changes. */
export function createSnapshots(store: Store<SessionSnapshot>): Snapshots {
  let view: TokenSet | null = null
  // The ID token's claims, decoded once per ID token.
  let user: [string | undefined, UserClaims | undefined] = [undefined, undefined]
  const viewFor = (r: Persisted) => {
    const t = r.tokens
    if (!view || view.accessToken !== t.accessToken || view.expiresAt !== t.expiresAt || view.scope !== t.scope || view.tokenType !== t.tokenType) view = viewOf(t)
    return view
  }
  return {
    view: viewFor,
    publish({ record, loaded, reason, warningAt, refreshing, refreshError }) {
      const prev = store.get()
      if (!record) {
        // Signed out is only known once storage has been read (a refresh() before that must not say so).
        if (prev.status === 'loading' && !loaded) return
        if (prev.status !== 'anonymous' || prev.reason !== reason) store.set(Object.freeze({ status: 'anonymous', reason }))
        return
      }
      const tokens = viewFor(record)
      if (user[0] !== record.tokens.idToken) user = [record.tokens.idToken, userOf(record.tokens.idToken)]
      if (
        prev.status === 'authenticated' &&
        prev.tokens === tokens &&
        prev.refreshing === refreshing &&
        prev.refreshError === refreshError &&
        prev.authenticatedAt === record.authAt &&
        prev.user === user[1] &&
        (prev.idle.phase === 'active' ? warningAt === null : prev.idle.logoutAt === warningAt)
      )
        return
      const idle: IdleState = warningAt === null ? ACTIVE : Object.freeze({ phase: 'warning', logoutAt: warningAt })
      store.set(Object.freeze({ status: 'authenticated', tokens, user: user[1], refreshing, refreshError, idle, authenticatedAt: record.authAt }))
    },
  }
}
