import { BroadcastChannel } from 'broadcast-channel'
import type { LogoutReason, SyncChannel, SyncMessage, SyncMessageType } from './types'

const TYPES: readonly SyncMessageType[] = ['login', 'logout', 'refresh', 'refreshing', 'activity', 'extend', 'hello', 'warning']
const REASONS: readonly LogoutReason[] = ['user', 'idle', 'max-session', 'reauth-required', 'storage-cleared']

/**
 * The default channel: `broadcast-channel` named `sessionkeeper:<name>`, which uses the native
 * BroadcastChannel where it exists and falls back to IndexedDB/localStorage elsewhere. Fallbacks keep
 * messages on disk for a while, which is why messages are signals and never carry tokens.
 */
export function createBroadcastSync(name: string): SyncChannel {
  const channel = new BroadcastChannel<unknown>(`sessionkeeper:${name}`)
  return {
    post: (message) => void channel.postMessage(message).catch(() => {}),
    listen(listener) {
      channel.addEventListener('message', listener)
      return () => channel.removeEventListener('message', listener)
    },
    close: () => void channel.close().catch(() => {}),
  }
}

/**
 * Validates an inbound message. Anything else (forged, malformed, another version, oversized) gives
 * `null` and is dropped. Builds a fresh object, so prototype keys in the input are never copied.
 */
export function parseMessage(data: unknown): SyncMessage | null {
  if (typeof data !== 'object' || data === null) return null
  const m = data as Record<string, unknown>
  const { type, from, epoch, at, reason } = m
  if (m.v !== 1 || !TYPES.includes(type as SyncMessageType) || !isId(from) || !(epoch === null || isId(epoch))) return null
  if (at !== undefined && !(typeof at === 'number' && Number.isFinite(at))) return null
  if (reason !== undefined && !REASONS.includes(reason as LogoutReason)) return null
  return { v: 1, type: type as SyncMessageType, from: from as string, epoch: epoch as string | null, ...(at === undefined ? {} : { at: at as number }), ...(reason === undefined ? {} : { reason: reason as LogoutReason }) }
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 64
}
