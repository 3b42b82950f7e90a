/**
 * sessionkeeper: a signed-in user's session in the browser, kept in step across tabs.
 * @packageDocumentation
 */
export { createSession } from './session'
export { SessionError, isSessionError } from './errors'
export { createMemoryStorage, createIndexedDBStorage } from './token-storage'
export { createBroadcastSync } from './cross-tab'
export { systemClock } from './clock'
export type { SessionErrorCode, SessionErrorDetails } from './errors'
export type {
  Clock,
  FetchOptions,
  IdleOptions,
  IdleState,
  LogoutReason,
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
} from './types'
