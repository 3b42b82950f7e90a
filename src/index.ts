/**
 * sessionkeeper: a signed-in user's session in the browser, kept in step across tabs.
 * @packageDocumentation
 * @module sessionkeeper
 */
export { createSession } from './session.js'
export { SessionError, isSessionError } from './errors.js'
export { createMemoryStorage, createIndexedDBStorage } from './token-storage.js'
export { createBroadcastSync } from './cross-tab.js'
export { systemClock } from './clock.js'
export type { SessionErrorCode, SessionErrorDetails } from './errors.js'
export type {
  Clock,
  EndedSession,
  FetchOptions,
  IdleOptions,
  IdleState,
  LockPort,
  LogoutReason,
  PageEvent,
  PagePort,
  RefreshContext,
  RefreshFunction,
  RequestAuthorizer,
  Session,
  SessionEventMap,
  SessionEventType,
  SessionOptions,
  SessionSnapshot,
  StorageKey,
  StorageNotice,
  SyncChannel,
  SyncMessage,
  SyncMessageType,
  TokenSet,
  TokenStorage,
  UserClaims,
} from './types.js'
