import type { Session, SessionEventMap, SessionEventType, TokenSet } from '../../src/types'

let seq = 0
/** A unique session name per test, so tests never see each other's database or channel. */
export const uniqueName = (prefix = 't'): string => `${prefix}-${Date.now().toString(36)}-${++seq}`

/** A recognisable token set; `secret` strings are long enough for the 12-char leak check. */
export function makeTokens(now: number, overrides: Partial<TokenSet> = {}, n = ++seq): TokenSet {
  return {
    accessToken: `AT-${n}-aaaaaaaaaaaaaaaaaaaaaaaa`,
    refreshToken: `RT-${n}-rrrrrrrrrrrrrrrrrrrrrrrr`,
    expiresAt: now + 3_600_000,
    ...overrides,
  }
}

/** Resolves with the next event of `type`. */
export function nextEvent<K extends SessionEventType>(session: Session, type: K): Promise<SessionEventMap[K]> {
  return new Promise((resolve) => {
    const off = session.on(type, (event) => {
      off()
      resolve(event)
    })
  })
}

/** Waits (real time, bounded) until `check` returns truthy. For IndexedDB/channel round trips only. */
export async function until<T>(check: () => T | Promise<T>, timeoutMs = 3000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs
  for (let i = 0; i < 1000; i++) {
    const value = await check()
    if (value) return value
    if (Date.now() > end) break
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** True if `text` contains any 12-char substring of any secret. */
export function leaks(text: string, secrets: readonly (string | undefined)[]): boolean {
  for (const s of secrets) {
    if (!s) continue
    for (let i = 0; i + 12 <= s.length; i++) if (text.includes(s.slice(i, i + 12))) return true
  }
  return false
}

/** Everything an error exposes, as text. */
export function errorText(error: unknown): string {
  const parts: string[] = []
  let e: unknown = error
  for (let depth = 0; e && depth < 5; depth++) {
    if (e instanceof Error) {
      parts.push(e.name, e.message, e.stack ?? '', JSON.stringify(e))
      e = e.cause
    } else {
      parts.push(String(e))
      break
    }
  }
  return parts.join('\n')
}
