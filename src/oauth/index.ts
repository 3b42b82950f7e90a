/**
 * `sessionkeeper/oauth`: IdP-agnostic OAuth 2.0 / OpenID Connect helpers for public browser clients.
 *
 * - {@link refreshTokenGrant}: the refresh function for `createSession({ refresh })` (RFC 6749 §6).
 *
 * Every failure is a `SessionError` (from `sessionkeeper`) with a stable `code` and `retryable`.
 * @packageDocumentation
 */
export { refreshTokenGrant, type RefreshTokenGrantOptions } from './refresh'
