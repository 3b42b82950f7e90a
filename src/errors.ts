/**
 * Stable error codes. Apps branch on `code`, never on `message`.
 * OAuth-style snake_case, so `invalid_grant` from a server and our own codes read alike.
 *
 * @see RFC 6749 §5.2 for the server-side codes that map onto these.
 */
export type SessionErrorCode =
  /** A call got an argument it cannot use (bad token set, bad option). Not retryable. */
  | 'invalid_argument'
  /** The client or server is misconfigured (`invalid_client`, `unauthorized_client`, a non-https endpoint...). A CORS rejection is `network`: browsers do not tell them apart. */
  | 'configuration'
  /** The request never got an HTTP answer: offline, DNS, connection refused, or a CORS rejection. Transient. */
  | 'network'
  /** The request (or a lock) took longer than allowed and was aborted. Transient. */
  | 'timeout'
  /** 5xx, or an error body the server should not have sent. Transient. */
  | 'server_error'
  /** 429 / 503 with `Retry-After`: `retryAfterMs` says when to try again. Transient. */
  | 'rate_limited'
  /** 200 with a body that is not a valid token response (HTML, missing fields, bad types, oversize). Transient. */
  | 'invalid_token_response'
  /** The refresh token we hold was rejected (`invalid_grant`): the user must sign in again. Ends the session. */
  | 'reauth_required'
  /** No refresh function configured, or no refresh token to use. */
  | 'refresh_unavailable'
  /** The server hands out tokens that expire faster than they can sensibly be refreshed. */
  | 'refresh_loop_detected'
  /** The token response had no `expires_in`; a default lifetime is assumed. A warning. */
  | 'token_lifetime_unknown'
  /** IndexedDB is missing or unusable; the session now lives in this tab's memory only. */
  | 'storage_unavailable'
  /** A newer version of this SDK owns the database; it is left untouched and memory is used. */
  | 'storage_version_newer'
  /** A stored record failed validation and was discarded. */
  | 'storage_corrupt'
  /** A write failed; the new state is kept in memory. */
  | 'storage_write_failed'
  /** The cross-tab lock could not be taken in time. Transient. */
  | 'lock_timeout'
  /** Wall clock and monotonic clock disagree (sleep, or the user changed the clock). A warning. */
  | 'clock_jump'
  /** `session.fetch` was asked to send the token to an origin that is not allowed. */
  | 'origin_not_allowed'
  /** Revoking tokens at sign-out failed (the local sign-out happened anyway). A warning. */
  | 'revocation_failed'
  /** The operation needs a signed-in session. */
  | 'not_authenticated'
  /** The session was destroyed. */
  | 'destroyed'
  /** The sign-in callback does not match the transaction we started (CSRF, replay, tampering). */
  | 'state_mismatch'
  /** The sign-in callback or the ID token is malformed or fails validation. */
  | 'invalid_id_token'
  /** The server returned an OAuth error at sign-in or another request not listed above. */
  | 'oauth_error'
  /**
   * A sign-in with `prompt: 'none'` needs the user: the provider answered `login_required`,
   * `interaction_required`, `consent_required` or `account_selection_required` (in `oauthError`).
   * Start an interactive sign-in.
   */
  | 'interaction_required'
  /** A DPoP server asked for a nonce that the browser is not allowed to read (missing CORS expose header). */
  | 'dpop_nonce_unavailable'
  /** DPoP was required but the server issued a Bearer token. */
  | 'dpop_downgrade'

const TRANSIENT: ReadonlySet<SessionErrorCode> = new Set<SessionErrorCode>([
  'network',
  'timeout',
  'server_error',
  'rate_limited',
  'invalid_token_response',
  'lock_timeout',
  'storage_write_failed',
])

/** Extra, token-free facts about an error. */
export interface SessionErrorDetails {
  /** The original error. Never contains token material: see {@link SessionError}. */
  readonly cause?: unknown
  /** HTTP status, when the error came from a response. */
  readonly status?: number
  /** The OAuth `error` value from the server, when there was one. */
  readonly oauthError?: string
  /** The server's `error_description`: untrusted text for logs, never parsed. */
  readonly description?: string
  /** When the server said to try again (from `Retry-After`), in ms. */
  readonly retryAfterMs?: number
  /** Overrides the default retryability of the code. */
  readonly retryable?: boolean
}

/**
 * The one error class of sessionkeeper. `code` is stable; `retryable` says whether the same call can
 * succeed later without the user doing anything.
 *
 * Token values never appear in `message`, `stack` or `cause`: errors are built from codes and status
 * numbers, and foreign causes are replaced by a scrubbed copy when they mention a token.
 *
 * @example
 * ```ts
 * session.on('refresh-error', ({ error }) => {
 *   if (error.code === 'network') showOfflineBanner()
 * })
 * ```
 */
export class SessionError extends Error {
  /** Stable machine-readable code. */
  readonly code: SessionErrorCode
  /** Whether trying again later can succeed. */
  readonly retryable: boolean
  /** HTTP status, when the error came from a response. */
  readonly status: number | undefined
  /** The OAuth `error` value, when the server sent one. */
  readonly oauthError: string | undefined
  /** The server's `error_description`: untrusted, for display/logs only. */
  readonly description: string | undefined
  /** Server-requested delay before retrying, in ms. */
  readonly retryAfterMs: number | undefined

  constructor(code: SessionErrorCode, message: string, details: SessionErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'SessionError'
    this.code = code
    this.retryable = details.retryable ?? TRANSIENT.has(code)
    this.status = details.status
    this.oauthError = details.oauthError
    this.description = details.description
    this.retryAfterMs = details.retryAfterMs
  }
}

/** @internal The session is signed out (or was signed out or replaced during the call). */
export const signedOut = (): SessionError => new SessionError('not_authenticated', 'signed out')
/** @internal The session was destroyed. */
export const gone = (): SessionError => new SessionError('destroyed', 'destroyed')
/** @internal The cross-tab lock could not be had in time (transient). */
export const lockTimeout = (): SessionError => new SessionError('lock_timeout', 'lock wait timed out')

/** Type guard for {@link SessionError}, optionally for one code. */
export function isSessionError(value: unknown, code?: SessionErrorCode): value is SessionError {
  return value instanceof SessionError && (code === undefined || value.code === code)
}

/**
 * Wraps anything thrown by foreign code (a custom refresh function, fetch, IndexedDB) into a
 * SessionError. A foreign cause is never kept as it is: an HTTP client's error can carry the request
 * body (`refresh_token=…`) in its own properties, and circular objects defeat any scan. The cause becomes
 * a plain copy with the original's name and message only, and the message goes too when it mentions one
 * of the `secrets` (token values in scope). A SessionError with a foreign cause gets the same treatment.
 * @internal
 */
export function toSessionError(
  error: unknown,
  code: SessionErrorCode,
  message: string,
  secrets: readonly (string | undefined)[] = [],
): SessionError {
  if (error instanceof SessionError) {
    const cause: unknown = (error as { cause?: unknown }).cause
    if ((cause === undefined || cause instanceof SessionError) && !mentions(`${error.message} ${error.description ?? ''}`, secrets)) return error
    // Absent details stay absent: the constructor copies `undefined` as it is, and ignores an undefined cause.
    return new SessionError(error.code, mentions(error.message, secrets) ? 'redacted' : error.message, {
      cause: cause === undefined ? cause : cause instanceof SessionError ? toSessionError(cause, cause.code, cause.message, secrets) : scrub(cause, secrets),
      status: error.status,
      oauthError: error.oauthError !== undefined && mentions(error.oauthError, secrets) ? undefined : error.oauthError,
      retryAfterMs: error.retryAfterMs,
      retryable: error.retryable,
    } as SessionErrorDetails)
  }
  return new SessionError(code, message, { cause: scrub(error, secrets) })
}

/** A token-free stand-in for a foreign error: same built-in class and name, message only if clean. */
function scrub(error: unknown, secrets: readonly (string | undefined)[]): Error {
  const name = error instanceof Error ? error.name : typeof error
  const text = error instanceof Error ? error.message : typeof error === 'string' ? error : ''
  const Kind = [TypeError, RangeError, SyntaxError].find((k) => error instanceof Error && error.constructor === k) ?? Error
  const copy = new Kind(mentions(text, secrets) ? `${name} (redacted)` : text.slice(0, 500))
  if (copy.name !== name) copy.name = name
  return copy
}

/**
 * True if `text` holds any 12-char slice (or the whole, for a shorter one) of any secret of 8+ chars.
 * Used to keep token material out of causes and out of server-supplied strings echoed into errors.
 * @internal
 */
export function mentions(text: string, secrets: readonly (string | undefined)[]): boolean {
  return secrets.some((s) => {
    if (!s || s.length < 8) return false
    const n = Math.min(12, s.length)
    // Every offset: a 12-char fragment that starts anywhere in the secret counts.
    for (let i = 0; i + n <= s.length; i++) if (text.includes(s.slice(i, i + n))) return true
    return false
  })
}
