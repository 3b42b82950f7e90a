import type { SessionError } from './errors.js'

/**
 * The tokens of one signed-in session: what {@link Session.login} takes and the snapshot exposes.
 * The access token is treated as opaque (RFC 9068 §6): its expiry comes from `expiresAt`, never from
 * decoding it.
 */
export interface TokenSet {
  /** The access token. Opaque; at most 16 KB. */
  readonly accessToken: string
  /** The refresh token, if the server issued one. */
  readonly refreshToken?: string
  /** The OpenID Connect ID token, if any. */
  readonly idToken?: string
  /** When the access token expires, epoch ms (local clock: receipt time + `expires_in`). */
  readonly expiresAt: number
  /** Granted scope, space separated. */
  readonly scope?: string
  /** `Bearer` (default) or `DPoP`: decides the `Authorization` scheme used by {@link Session.fetch}. */
  readonly tokenType?: string
}

/** Why a session ended. Carried by the `anonymous` snapshot and the `logout` event. */
export type LogoutReason =
  /** `logout()` was called (in this tab or another one). */
  | 'user'
  /** No user activity in any tab for `idle.timeoutMs`. */
  | 'idle'
  /** The absolute lifetime `maxSessionMs` since sign-in was reached. */
  | 'max-session'
  /** The refresh token was rejected (`invalid_grant`): the user must sign in again. */
  | 'reauth-required'
  /** The SDK's storage was deleted by someone else (devtools, `Clear-Site-Data`, another tab). */
  | 'storage-cleared'

/**
 * The signed-in user: the claims of the session's OpenID Connect ID token, as `sessionkeeper/oauth`
 * validated them at sign-in (and checked again on every refresh that brings a new ID token). Deeply
 * frozen; never a token. Display and authorization hints for the UI only: an API must decide from the
 * access token it receives, not from what the browser says.
 */
export interface UserClaims {
  /** Subject: the user's stable identifier at the issuer. */
  readonly sub: string
  /** The issuer. */
  readonly iss?: string
  /** The client(s) the ID token was issued to. */
  readonly aud?: string | readonly string[]
  /** When the user authenticated, epoch seconds (if the provider said). */
  readonly auth_time?: number
  /** Full name (profile scope). */
  readonly name?: string
  /** E-mail address (email scope). */
  readonly email?: string
  /** Any other claim of the ID token. */
  readonly [claim: string]: unknown
}

/** What {@link SessionOptions.endSession} is given: the session that the user just signed out of in this tab. */
export interface EndedSession {
  /** The tokens the session held (already wiped from storage and from every tab). */
  readonly tokens: TokenSet
  /** Why it ended: always `user` today (a `logout()` in this tab). */
  readonly reason: LogoutReason
}

/** The idle state a UI renders: `warning` shows a countdown to `logoutAt`. */
export type IdleState = { readonly phase: 'active' } | { readonly phase: 'warning'; readonly logoutAt: number }

/**
 * Everything a UI renders. Immutable; the same object is returned until something changes, so it can
 * be compared by reference (`useSyncExternalStore`).
 */
export type SessionSnapshot =
  | { readonly status: 'loading'; readonly user?: undefined }
  | { readonly status: 'anonymous'; readonly reason: LogoutReason | null; readonly user?: undefined }
  | {
      readonly status: 'authenticated'
      /** `accessToken`, `expiresAt`, `scope`, `tokenType`: never the refresh token or the ID token. */
      readonly tokens: TokenSet
      /** The ID token's claims (see {@link UserClaims}); `undefined` when the session has no ID token. */
      readonly user: UserClaims | undefined
      /** A refresh is in flight (in this tab, or the tab holding the refresh lock). */
      readonly refreshing: boolean
      /** The last refresh failure, until a refresh succeeds. Transient failures keep the session. */
      readonly refreshError: SessionError | null
      readonly idle: IdleState
      /** Sign-in time, epoch ms. The absolute lifetime counts from here. */
      readonly authenticatedAt: number
    }

/** Context given to a refresh function. */
export interface RefreshContext {
  /** Aborted when the refresh times out, the session logs out, or it is destroyed. Pass it to `fetch`. */
  readonly signal: AbortSignal
}

/**
 * Exchanges the current tokens for new ones. Throw a {@link SessionError} with code
 * `reauth_required` when the refresh token is definitively rejected; anything else thrown is treated
 * as transient and retried with backoff. A returned set without `refreshToken` keeps the current one.
 */
export type RefreshFunction = (current: TokenSet, context: RefreshContext) => Promise<TokenSet>

/**
 * The only way sessionkeeper reads time or sleeps. Inject a manual clock in tests.
 */
export interface Clock {
  /** Wall-clock time, epoch ms. */
  now(): number
  /** Monotonic ms (like `performance.now()`), used only to detect wall-clock jumps. */
  monotonic?(): number
  /** Calls `callback` after `delayMs`; returns a function that cancels it. */
  setTimeout(callback: () => void, delayMs: number): () => void
}

/** Keys the session stores. */
export type StorageKey = 'session' | 'activity' | 'dpop' | 'lock'

/** Something that happened to storage out of band. */
export type StorageNotice =
  /** Storage stopped working; the adapter now keeps data in memory. */
  | { readonly type: 'degraded'; readonly error: SessionError }
  /** The data was deleted by someone else (another tab, devtools, `Clear-Site-Data`). */
  | { readonly type: 'cleared' }
  /** A non-fatal problem (a corrupt record was discarded, a write failed and was retried). */
  | { readonly type: 'warning'; readonly error: SessionError }

/**
 * The storage port. Values are plain structured-cloneable data; the default IndexedDB adapter
 * encrypts `session` and `activity` at rest. Reads return `undefined` when absent; the session
 * validates everything it reads (stored data is untrusted input).
 */
export interface TokenStorage {
  /** `'indexeddb'`, `'memory'`, or a custom name. `'memory'` storage is never shared with other tabs. */
  readonly kind: string
  get(key: StorageKey): Promise<unknown>
  set(key: StorageKey, value: unknown): Promise<void>
  /** Stores `value` only if `key` is absent; resolves to the value now stored (yours or the existing one). */
  add?(key: StorageKey, value: unknown): Promise<unknown>
  /**
   * Atomically replaces the value of `key` by `update(current)` (`undefined` deletes it) and resolves to
   * the value now stored. `update` must be synchronous. Used for the cross-tab lock lease where Web
   * Locks are missing; only unencrypted keys (`lock`) go through it.
   */
  update?(key: StorageKey, update: (current: unknown) => unknown): Promise<unknown>
  /** Removes every key. */
  clear(): Promise<void>
  /** Reports out-of-band happenings; returns an unsubscribe function. */
  listen?(listener: (notice: StorageNotice) => void): () => void
  /** Releases connections. The adapter is not used afterwards. */
  close(): void
}

/**
 * The cross-tab signals. They never carry tokens (requirement ST-5), except the record a tab that keeps its
 * session in memory sends (see {@link SyncMessage.record}). `hello`: a tab that keeps its session in memory
 * asks for its siblings' records; `restored`: a tab restored sign-in `epoch` from storage, and a sibling
 * that ended it, or holds a later generation of it than storage, answers.
 */
export type SyncMessageType = 'login' | 'logout' | 'refresh' | 'activity' | 'extend' | 'hello' | 'warning' | 'restored'

/**
 * One cross-tab message, version 1. Validated on receipt; anything else is dropped.
 * `epoch` identifies the sign-in the sender refers to; `at` is an instant (activity); `reason` a
 * {@link LogoutReason}.
 */
export interface SyncMessage {
  readonly v: 1
  readonly type: SyncMessageType
  /** Sender tab id. */
  readonly from: string
  readonly epoch: string | null
  readonly at?: number
  readonly reason?: LogoutReason
  /**
   * The sender's whole session record. Only sent when the sender keeps the session in memory (chosen or
   * degraded) and only over a channel that never writes messages to disk (`SyncChannel.inMemory`).
   */
  readonly record?: unknown
}

/** The cross-tab port. */
export interface SyncChannel {
  /** True if messages never touch disk (native BroadcastChannel): only then may they carry tokens. */
  readonly inMemory?: boolean
  /** True if messages can be lost (broadcast-channel's storage transports): the session then re-reads storage every 10 s. */
  readonly lossy?: boolean
  /**
   * Resolves when a channel that starts listening late (a lazily loaded transport) is listening. The
   * session re-reads storage then, so nothing posted during the load window is missed.
   */
  readonly ready?: Promise<void>
  post(message: SyncMessage): void
  /** Subscribes to messages from other tabs; returns an unsubscribe function. */
  listen(listener: (message: unknown) => void): () => void
  close(): void
}

/**
 * The cross-tab lock port: the subset of the Web Locks API (`navigator.locks`) the session uses.
 * The browser's own is used by default.
 */
export interface LockPort {
  request<T>(name: string, options: { mode: 'exclusive'; signal?: AbortSignal }, task: () => Promise<T>): Promise<T>
}

/** Page lifecycle events, reduced to what the session reacts to. */
export type PageEvent = 'visible' | 'hidden' | 'pageshow' | 'pagehide' | 'freeze' | 'resume' | 'focus' | 'online'

/**
 * The page port: visibility, lifecycle events and user input. Over `window`/`document` by default;
 * inject one to embed the session where there is no DOM, or to simulate pages in tests.
 */
export interface PagePort {
  /** Whether the page is hidden (a background tab): hidden pages do not refresh proactively. */
  hidden(): boolean
  /** Subscribes to lifecycle events; returns an unsubscribe function. */
  listen(listener: (event: PageEvent) => void): () => void
  /**
   * Subscribes to trusted user input of the given DOM event types (`idle.events`), reported at most
   * about once a second; returns an unsubscribe function.
   */
  activity(types: readonly string[], listener: () => void): () => void
}

/** Idle (inactivity) options. */
export interface IdleOptions {
  /** Sign out after this long without user activity in any tab. */
  readonly timeoutMs: number
  /**
   * How long before the timeout the warning phase starts (a countdown UI).
   * @default 60_000, or a fifth of `timeoutMs` if that is smaller
   */
  readonly warningMs?: number
  /**
   * DOM events that count as user activity (only trusted ones, i.e. real user input).
   * Not `scroll` by default: script-driven scrolling (an auto-scrolling log or chat) fires trusted
   * scroll events too, and would keep an idle session alive forever.
   * @default ['pointerdown','pointermove','keydown','wheel','touchstart','visibilitychange']
   */
  readonly events?: readonly string[]
  /**
   * Whether plain activity ends the warning. Default `false`: once the countdown shows, only
   * {@link Session.extend} ("Stay signed in") ends it, so a stray mouse move in some tab cannot dismiss
   * a dialog the user never saw.
   * @default false
   */
  readonly activityEndsWarning?: boolean
  /** Called in every tab when the warning starts. */
  readonly onWarning?: (info: { logoutAt: number; remainingMs: number }) => void
  /**
   * Called when the timeout is reached. Return `false` to keep the session (for example to show a
   * lock screen instead); anything else signs out with reason `idle`.
   */
  readonly onIdle?: () => boolean | void
  /** Called when the warning ends because of activity or `extend()`. */
  readonly onActive?: () => void
}

/**
 * Decides how {@link Session.fetch} attaches the token. The default sends `Authorization: Bearer <AT>`
 * (or `DPoP <AT>` for DPoP tokens). `sessionkeeper/oauth` provides a DPoP authorizer that adds a fresh
 * proof to every request and retries once when a resource server asks for a new nonce.
 */
export interface RequestAuthorizer {
  /** Returns the request to send, with credentials attached. */
  authorize(request: Request, tokens: TokenSet): Promise<Request>
  /** Sees every response; resolving `true` makes `fetch` authorize and send the request once more. */
  retry?(response: Response, request: Request): boolean | Promise<boolean>
  /** Called when the session ends in this tab (any reason): drop per-session state such as DPoP keys and nonces. */
  clear?(): void
}

/** Options of {@link Session.fetch}. */
export interface FetchOptions {
  /** How the token is attached (DPoP). */
  readonly authorizer?: RequestAuthorizer
  /**
   * Origins that may receive the access token. Requests elsewhere are refused with `origin_not_allowed`.
   * @default [location.origin]
   */
  readonly allowedOrigins?: readonly string[]
}

/** Options of `createSession`. */
export interface SessionOptions {
  /**
   * Namespaces the database, the channel and the locks, so two apps (or two clients) on one origin
   * never see each other's session.
   * @default 'default'
   */
  readonly name?: string
  /** Gets new tokens (see `refreshTokenGrant` in `sessionkeeper/oauth`). Without it, tokens are not refreshed. */
  readonly refresh?: RefreshFunction
  /**
   * Refresh this long before the access token expires. Clamped to half the token lifetime.
   * @default 60_000
   */
  readonly refreshLeadMs?: number
  /**
   * How long one refresh attempt may take before it is aborted and retried.
   * @default 10_000
   */
  readonly refreshTimeoutMs?: number
  /**
   * Where the session lives between page loads. `indexeddb` keeps it in the SDK's own database,
   * encrypted with a non-extractable key; `memory` keeps nothing on disk (each tab signs in on its own
   * unless a sibling tab hands the session over).
   * @default 'indexeddb'
   */
  readonly persist?: 'indexeddb' | 'memory'
  /**
   * Revokes tokens at the server when this tab signs the user out (RFC 7009; see `revokeTokens` in
   * `sessionkeeper/oauth`). Best effort: never delays or blocks the local sign-out, which always
   * happens, offline too; a failure is reported as a `warning` with code `revocation_failed`.
   */
  readonly revoke?: (tokens: TokenSet) => Promise<void>
  /**
   * Ends the session at the identity provider too (OpenID Connect RP-Initiated Logout; see `endSession`
   * of `createSignIn` in `sessionkeeper/oauth`). Called only in the tab where `logout()` was called with
   * reason `user`, after every tab is signed out locally and storage is wiped, and after `revoke` has
   * settled (or 5 s have passed): the usual implementation navigates the page to the provider. Never
   * delays the local sign-out. A rejection is reported as a `warning`.
   */
  readonly endSession?: (ended: EndedSession) => unknown
  /** Inactivity timeout. Off when absent. */
  readonly idle?: IdleOptions
  /** Absolute session lifetime from sign-in, whatever the activity and refreshes. Off when absent. */
  readonly maxSessionMs?: number
  /** `session.fetch` options. */
  readonly fetch?: FetchOptions
  /** Injected clock (tests). */
  readonly clock?: Clock
  /** Injected storage (replaces `persist`). The session does not close it: it belongs to the caller. */
  readonly storage?: TokenStorage
  /** Injected cross-tab channel, or `false` to stay in this tab. */
  readonly sync?: SyncChannel | false
  /**
   * Injected cross-tab lock (Web Locks API shape), or `false` to use the storage-lease fallback.
   * @default navigator.locks where present
   */
  readonly locks?: LockPort | false
  /** Injected page port (lifecycle and user input), or `false` for none. @default the browser page */
  readonly page?: PagePort | false
}

/** Payloads of the events of {@link Session.on}. */
export interface SessionEventMap {
  /** A session started (here: `remote: false`; in another tab: `true`; restored on start: `restored: true`). */
  login: { readonly remote: boolean; readonly restored: boolean }
  /** The session ended. */
  logout: { readonly reason: LogoutReason; readonly remote: boolean }
  /** New tokens are in place (refreshed here, or adopted from another tab). */
  refresh: { readonly expiresAt: number; readonly remote: boolean }
  /** A refresh failed. `retryAt` is when it will be retried (null: it will not be). */
  'refresh-error': { readonly error: SessionError; readonly retryAt: number | null }
  /** The idle warning started. */
  'idle-warning': { readonly logoutAt: number; readonly remainingMs: number }
  /** The idle warning ended without a logout (activity or `extend()`, in any tab). */
  active: Record<string, never>
  /** Storage stopped working and the session now lives in memory. */
  'storage-degraded': { readonly error: SessionError }
  /** A non-fatal problem worth logging (corrupt record discarded, write failed, clock jump, unknown lifetime). */
  warning: { readonly error: SessionError }
}

/** Event names of {@link Session.on}. */
export type SessionEventType = keyof SessionEventMap

/** A signed-in user's session in this tab, kept in step with every other tab of the origin. */
export interface Session {
  /**
   * Hydrates from storage and attaches the channel, timers and listeners. Ref-counted: every call
   * returns its own stop function, and the session stops when the last one is called (safe with React
   * StrictMode's double effects).
   */
  start(): () => void
  /** Resolves with the first snapshot that is not `loading`. Starts nothing by itself. */
  ready(): Promise<SessionSnapshot>
  /**
   * Signs in with `tokens` in every tab.
   * @throws TypeError | SessionError `invalid_argument` on a bad token set (nothing is stored).
   */
  login(tokens: TokenSet): Promise<void>
  /** Signs out in every tab. Local state is always cleared, even offline. */
  logout(options?: { reason?: LogoutReason }): Promise<void>
  /**
   * A fresh access token: refreshes first when the token is expired or about to expire.
   * Resolves `null` when signed out. Rejects with a SessionError when a refresh was needed and failed.
   */
  getAccessToken(): Promise<string | null>
  /**
   * Refreshes now. Single-flight in the tab and across tabs. Resolves with what the snapshot shows
   * (`accessToken`, `expiresAt`, `scope`, `tokenType`): refresh tokens never leave the SDK.
   */
  refresh(): Promise<TokenSet>
  /**
   * `fetch` with `Authorization` added, only for allowed origins; on a 401 it refreshes and retries once.
   * @throws SessionError `origin_not_allowed` | `not_authenticated`
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>
  /** "Stay signed in": ends the idle warning in every tab and restarts the idle timer. */
  extend(): void
  /** Records user activity by hand (for activity the page knows about but the DOM does not show). */
  touch(): void
  /** The current snapshot; the same object until something changes. */
  getSnapshot(): SessionSnapshot
  /** Calls `listener` after every snapshot change. Not called immediately. Returns an idempotent unsubscribe. */
  subscribe(listener: () => void): () => void
  /** Subscribes to one event type; returns an idempotent unsubscribe. */
  on<K extends SessionEventType>(type: K, handler: (event: SessionEventMap[K]) => void): () => void
  /** Final and idempotent: releases every timer, listener, channel, lock and connection. */
  destroy(): Promise<void>
}
