import { createBroadcastSync, parseMessage } from './cross-tab.js'
import { newer, readRecord, type Persisted } from './record.js'
import type { Config } from './options.js'
import type { IdleTracker } from './idle-tracker.js'
import type { Persistence } from './persistence.js'
import type { LogoutReason, SyncChannel, SyncMessage } from './types.js'

/** Storage re-read interval on fallback transports, which can lose messages (XT-1). */
const POLL_MS = 10_000
/** How long a tab that keeps its session in memory waits for siblings' records. */
export const ASK_MS = 150

/** The record protocol that the composition root keeps: what messages act on. */
export interface Records {
  current(): Persisted | null
  /** Takes `record` as this tab's session (`activeAt`: the last activity known for that sign-in). */
  adopt(record: Persisted, remote: boolean, restored?: boolean, activeAt?: number): void
  /** Signs out in this tab (`wipe`: clears storage; `locked`: already under the refresh lock). */
  end(why: LogoutReason, remote: boolean, wipe?: boolean, locked?: boolean): Promise<void>
  /** Re-reads storage and reconciles; `hint` is the message that prompted it. */
  sync(hint?: SyncMessage): Promise<void>
  /** Sign-ins (epochs) that ended in this tab, with why: never adopted again. */
  readonly ended: Map<string, LogoutReason>
}

export interface SiblingsOptions {
  config: Config
  tabId: string
  records: Records
  persistence: Pick<Persistence, 'storage' | 'memoryHeld' | 'save'>
  tracker: Pick<IdleTracker, 'remote' | 'lastActivity'>
  /** Web Locks coordinate the tabs. */
  webLocks: boolean
  /** The session is started and not destroyed: messages may go out. */
  live: () => boolean
}

export interface Siblings {
  /** Signals other tabs (with this tab's record where siblings cannot read it from storage). */
  post(type: SyncMessage['type'], extra?: Partial<SyncMessage>): void
  /** Listens to the channel (and polls storage on a lossy one); returns the disposer. */
  listen(): () => void
  /** Records may go to siblings (see the implementation). */
  canShare(): boolean
  /** Another tab has been heard from. */
  peers(): boolean
  /** The page went into the bfcache or froze: messages may have been missed. */
  leave(): void
  /**
   * A tab whose session lives in memory asks siblings for their records before it presents a refresh
   * token (it cannot re-read their rotations). `false`: back from being away, and nobody answered.
   */
  ask(): Promise<boolean>
  /** The head start a record kept only in memory gets before the next lock holder. */
  pause(): Promise<void>
  /** The channel keeps messages in memory only. */
  inMemory(): boolean
}

/**
 * What this tab tells its sibling tabs and hears from them: the channel, the message protocol, and who
 * keeps a session in memory.
 */
export function createSiblings(opts: SiblingsOptions): Siblings {
  const { config, tabId, records, persistence, tracker } = opts
  const { options: o, name, clock } = config
  let channel: SyncChannel | null = null
  /** A sibling keeps its session in memory (it said hello): login/refresh messages carry the record. */
  let memorySiblings = false
  let peers = false
  /** Records of this tab's sign-in received from siblings. */
  let answers = 0
  let away = false
  const open = () => (channel ??= o.sync || createBroadcastSync(name))
  /**
   * Records may go to sibling tabs: over a channel that never touches disk, and only where Web Locks
   * coordinate the tabs (without shared storage, nothing else keeps two tabs from presenting the same
   * refresh token: memory-held sessions then stay per tab).
   */
  const canShare = () => opts.webLocks && !!channel?.inMemory
  const memoryOnly = () => canShare() && persistence.storage().kind === 'memory'
  const pause = () => new Promise<void>((resolve) => clock.setTimeout(resolve, ASK_MS))

  /**
   * A tab whose session lives only in memory (by choice, or because storage failed) also sends its
   * record, so siblings never fall back to a refresh token it has already rotated (requirement stance
   * §0.3: tokens only over a channel that never writes to disk).
   */
  const post = (type: SyncMessage['type'], extra?: Partial<SyncMessage>) => {
    if (o.sync === false || !opts.live()) return
    const ch = open()
    const current = records.current()
    const share = canShare() && current && (type === 'login' || type === 'refresh') && (memorySiblings || persistence.memoryHeld())
    ch.post({ v: 1, type, from: tabId, epoch: current?.epoch ?? null, ...extra, ...(share ? { record: current } : {}) })
  }

  /** The sender holds a sign-in that ended here (while it was away, or before it opened): tell it again. */
  const ended = (m: SyncMessage) => {
    const over = m.epoch && records.ended.get(m.epoch)
    if (over) post('logout', { epoch: m.epoch, reason: over })
    return !!over
  }

  /**
   * A tab restored sign-in `m.epoch` from storage. Storage may be behind: this tab's wipe or write of that
   * sign-in may have failed (its storage degraded). The sender is told that it ended, or is sent this
   * tab's later generation of it (where records can travel) before it presents a spent refresh token.
   */
  const restored = (m: SyncMessage) => {
    if (!ended(m) && m.epoch && m.epoch === records.current()?.epoch && persistence.memoryHeld()) post('refresh')
  }

  const hello = (m: SyncMessage) => {
    // It holds a sign-in that ended here while it was away (bfcache, frozen): tell it again.
    if (ended(m)) return
    // A tab that keeps its session in memory (by choice or degraded) cannot read ours from storage.
    memorySiblings = true
    // As a 'refresh' (not a fresh sign-in), with the last activity so its idle period matches ours.
    // (Without a record where records cannot travel: it still learns that siblings exist.)
    const current = records.current()
    if (current) post('refresh', { epoch: current.epoch, at: tracker.lastActivity() })
  }

  const logout = (m: SyncMessage) => {
    const why = m.reason ?? 'user'
    // Never adopt that sign-in again, even from a read that beats its wipe.
    if (m.epoch) records.ended.set(m.epoch, why)
    // A logout that names our sign-in ends it (one that names none only makes this tab re-read storage).
    if (m.epoch !== records.current()?.epoch) return false
    // That sign-in is over in every tab, whatever this tab's storage still says (memory, degraded).
    // Echoed once: a tab that opened meanwhile may have been handed the session by a tab that had not
    // heard of the sign-out yet.
    void records.end(why, true, true).then(() => post('logout', { reason: why, epoch: m.epoch }))
    return true
  }

  const onMessage = (data: unknown) => {
    const m = parseMessage(data)
    if (!m || m.from === tabId || !opts.live()) return
    peers = true
    if (m.type === 'activity' || m.type === 'extend' || m.type === 'warning') return tracker.remote(m)
    if (m.type === 'hello') return hello(m)
    if (m.type === 'restored') return restored(m)
    if (m.type === 'logout' && logout(m)) return
    const current = records.current()
    const record = m.record !== undefined && channel?.inMemory ? readRecord(m.record) : null
    if (record && record.epoch === current?.epoch) {
      answers++
      // The sender is behind on our sign-in (it was away): send it ours before it presents a spent token.
      if (current.gen > record.gen) return post('refresh')
    }
    if (record && (!current || newer(record, current))) {
      // A newer record from a tab whose storage cannot hold it: take it, and try to persist it here.
      records.adopt(record, true, false, m.at === undefined ? undefined : Math.min(m.at, clock.now()))
      void persistence.save(record)
      return
    }
    // Storage here cannot show a sibling's rotation: ask for the record instead of keeping a spent one.
    if (!record && (m.type === 'login' || m.type === 'refresh') && memoryOnly()) post('hello')
    void records.sync(m)
  }

  return {
    post,
    listen() {
      if (o.sync === false) return () => {}
      const ch = open()
      const offs = [ch.listen(onMessage)]
      // A lazily loaded transport missed whatever was posted before it listened: re-read once it does.
      void ch.ready?.then(() => {
        if (channel === ch && opts.live()) void records.sync()
      })
      // A fallback transport (no BroadcastChannel) can lose messages: re-read storage now and then (XT-1).
      if (ch.lossy) {
        let cancel = () => {}
        const poll = () => {
          cancel = clock.setTimeout(() => {
            void records.sync()
            poll()
          }, POLL_MS)
        }
        poll()
        offs.push(() => cancel())
      }
      return () => {
        offs.forEach((off) => off())
        ch.close()
        if (channel === ch) channel = null
      }
    },
    canShare,
    peers: () => peers,
    leave() {
      away = true
    },
    async ask() {
      if (!(canShare() && persistence.memoryHeld() && (peers || away))) return true
      const heard = answers
      post('hello')
      await pause()
      if (away && answers === heard) return false
      away = false
      return true
    },
    pause,
    inMemory: () => !!channel?.inMemory,
  }
}
