/**
 * `sessionkeeper/oauth`: IdP-agnostic OAuth 2.0 / OpenID Connect helpers for public browser clients.
 *
 * - {@link refreshTokenGrant}: the refresh function for `createSession({ refresh })` (RFC 6749 §6).
 * - {@link createSignIn}: authorization-code sign-in with PKCE S256 and OpenID Connect checks (RFC 7636, RFC 9207),
 *   `prompt=none`, RP-initiated logout (`endSession`, for `createSession({ endSession })`) and UserInfo.
 * - {@link createDPoP}: DPoP (RFC 9449) keys and proofs for the two above and, as `fetch.authorizer`, for `session.fetch`.
 * - {@link revokeTokens}: token revocation on sign-out for `createSession({ revoke })` (RFC 7009).
 *
 * Every failure is a `SessionError` (from `sessionkeeper`) with a stable `code` and `retryable`.
 * @packageDocumentation
 */
export { refreshTokenGrant, type RefreshTokenGrantOptions } from './refresh.js'
export {
  createSignIn,
  type EndSessionResult,
  type SignIn,
  type SignInOptions,
  type SignInRequestOptions,
  type TransactionStorage,
} from './sign-in.js'
export {
  createDPoP,
  type DPoP,
  type DPoPKeyStorage,
  type DPoPOptions,
  type DPoPProofRequest,
} from './dpop.js'
export { revokeTokens, type RevokeTokensOptions } from './revoke.js'
