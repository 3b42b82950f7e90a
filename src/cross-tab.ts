import type { LogoutReason, SyncChannel, SyncMessage, SyncMessageType } from './types.js'

const TYPES: readonly SyncMessageType[] = ['login', 'logout', 'refresh', 'activity', 'extend', 'hello', 'warning', 'restored']
const REASONS: readonly LogoutReason[] = ['user', 'idle', 'max-session', 'reauth-required', 'storage-cleared']

/**
 * The default channel, named `sessionkeeper:<name>`.
 *
 * Where the browser has a native BroadcastChannel (every current engine) it is used directly: that is
 * the transport `broadcast-channel` would pick too, and raw foreign messages on it cannot crash a
 * library listener. Where it is missing (Safari < 15.4), `broadcast-channel` is loaded on demand for its
 * IndexedDB/localStorage transports; messages posted meanwhile are queued. Those transports keep
 * messages on disk for a while, which is one reason messages are signals and never carry tokens.
 */
export function createBroadcastSync(name: string): SyncChannel {
  const id = `sessionkeeper:${name}`
  const listeners = new Set<(message: unknown) => void>()
  const deliver = (data: unknown) => listeners.forEach((listener) => listener(data))
  let closed = false
  let send: (message: SyncMessage) => void
  let shut: () => void
  let ready: Promise<void> | undefined
  const inMemory = typeof BroadcastChannel === 'function'
  if (inMemory) {
    const native = new BroadcastChannel(id)
    native.onmessage = (event) => deliver(event.data)
    send = (message) => native.postMessage(message)
    shut = () => native.close()
  } else {
    const queued: SyncMessage[] = []
    let fallback: import('broadcast-channel').BroadcastChannel<unknown> | null = null
    send = (message) => void (fallback ? fallback.postMessage(message).catch(() => {}) : queued.push(message))
    shut = () => void fallback?.close().catch(() => {})
    ready = import('broadcast-channel').then(
      ({ BroadcastChannel: Fallback }) => {
        if (closed) return
        fallback = new Fallback<unknown>(id)
        fallback.addEventListener('message', deliver)
        queued.splice(0).forEach(send)
      },
      () => {}, // no channel at all: this tab still works on its own, and storage re-reads on focus catch up
    )
  }
  return {
    inMemory,
    lossy: !inMemory,
    ...(ready && { ready }),
    post: (message) => void (closed || send(message)),
    listen(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    close() {
      closed = true
      listeners.clear()
      shut()
    },
  }
}

/**
 * Validates an inbound message. Anything else (forged, malformed, another version, oversized) gives
 * `null` and is dropped. Builds a fresh object, so prototype keys in the input are never copied.
 */
export function parseMessage(data: unknown): SyncMessage | null {
  if (typeof data !== 'object' || data === null) return null
  const m = data as Record<string, unknown>
  const { type, from, epoch, at, reason, record } = m
  if (m.v !== 1 || !TYPES.includes(type as SyncMessageType) || !isId(from) || !(epoch === null || isId(epoch))) return null
  if (at !== undefined && !(typeof at === 'number' && Number.isFinite(at))) return null
  if (reason !== undefined && !isReason(reason)) return null
  // A copy with only the known fields (absent ones stay undefined).
  return { v: 1, type, from, epoch, at, reason, record } as SyncMessage
}

/** Whether `value` is a {@link LogoutReason}. */
export function isReason(value: unknown): value is LogoutReason {
  return REASONS.includes(value as LogoutReason)
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 64
}
