// Shared by the oauth suites: a recording stub `fetch`, tokens to leak-check, and error assertions.
import { expect } from 'chai'
import { SessionError, type SessionErrorCode } from '../../src/errors'

export interface Call {
  readonly url: string
  readonly init: RequestInit
  readonly form: URLSearchParams
  readonly headers: Headers
}

export type Reply = Response | (() => Response | Promise<Response>) | Error

/** A `fetch` that records every call and answers with the queued replies (the last one repeats). */
export function stubFetch(...replies: Reply[]): typeof fetch & { calls: Call[] } {
  const calls: Call[] = []
  const stub = async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const body = typeof init.body === 'string' ? init.body : ''
    calls.push({ url: String(input), init, form: new URLSearchParams(body), headers: new Headers(init.headers) })
    const reply = replies.length > 1 ? replies.shift()! : replies[0]!
    if (reply instanceof Error) throw reply
    const response = typeof reply === 'function' ? await reply() : reply
    return response.clone()
  }
  return Object.assign(stub, { calls }) as typeof fetch & { calls: Call[] }
}

/** A JSON response. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(typeof body === 'string' ? body : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  })
}

/** Token-looking values: every error is checked for any 12-char slice of these. */
export const secrets: string[] = []
export function token(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24))
  const value = `${prefix}.${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`
  secrets.push(value)
  return value
}

function text(value: unknown, depth = 0): string {
  if (depth > 3 || value == null) return ''
  if (value instanceof Error) {
    const e = value as SessionError
    return [e.name, e.message, e.stack, e.description, e.oauthError, String(e), text(e.cause, depth + 1)].join('\n')
  }
  try {
    return `${String(value)}\n${JSON.stringify(value)}`
  } catch {
    return String(value)
  }
}

/** LEAK-CHECK: no 12-char slice of any token in the error's message, stack, cause or description. */
export function expectNoLeak(error: unknown, extra: readonly string[] = []): void {
  const haystack = text(error)
  for (const secret of [...secrets, ...extra]) {
    for (let i = 0; i + 12 <= secret.length; i++) {
      const slice = secret.slice(i, i + 12)
      if (haystack.includes(slice)) expect.fail(`error leaks a token slice "${slice}": ${haystack.slice(0, 200)}`)
    }
  }
}

/** Awaits a rejection, checks it is a SessionError with `code` (and `retryable`), and leak-checks it. */
export async function expectError(
  promise: Promise<unknown>,
  code: SessionErrorCode,
  retryable?: boolean,
): Promise<SessionError> {
  let error: unknown
  try {
    await promise
  } catch (e) {
    error = e
  }
  expect(error, `expected a SessionError ${code}`).to.be.instanceOf(SessionError)
  const e = error as SessionError
  expect(e.code, e.message).to.equal(code)
  if (retryable !== undefined) expect(e.retryable, `${code} retryable`).to.equal(retryable)
  expectNoLeak(e)
  return e
}

const b64u = (text: string) => btoa(String.fromCharCode(...new TextEncoder().encode(text))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
/** An unsigned-looking JWS with these claims (the SDK never checks ID token signatures, see createSignIn). */
export function jwt(claims: Record<string, unknown>): string {
  return `${b64u(JSON.stringify({ alg: 'RS256', kid: 'k1' }))}.${b64u(JSON.stringify(claims))}.c2lnbmF0dXJl`
}
/** Claims of a valid ID token for client `spa` at `https://id.example.com`, issued now. */
export function idClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return { iss: 'https://id.example.com', aud: 'spa', sub: 'user-1', iat: now, exp: now + 3600, ...extra }
}
