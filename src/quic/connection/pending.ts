/**
 * Packets that arrive before their keys (RFC 9001 §5.7): a Handshake packet that overtook the
 * Initial carrying the ServerHello, a 1-RTT packet that overtook the handshake's end. Up to
 * `limits.maxBufferedPackets` per level are kept (copies: the datagram's buffer is the driver's) and
 * opened once the level's keys are installed (1-RTT: once the handshake is complete, §5.7); the rest
 * are dropped as before (the sender's loss recovery resends their content). Held packets are not
 * authenticated: they cost at most the bound, and one that fails to open later counts as any
 * undecryptable packet. A level's packets are dropped when the level is discarded.
 */
import type { ProtectedPacket } from '../packet.js'
import type { QuicPath } from './path.js'
import type { ConnState } from './state.js'

type Level = 'handshake' | 'application'

/** One held packet and where its datagram came from. */
export interface HeldPacket {
  readonly packet: ProtectedPacket
  readonly from: QuicPath | undefined
  readonly length: number
}

/** The packets held per level until its keys arrive. */
export class PendingPackets {
  readonly #held: Record<Level, HeldPacket[]> = { handshake: [], application: [] }
  readonly #max: number

  constructor(max: number) {
    this.#max = max
  }

  /** Packets held now (all levels). */
  get size(): number {
    return this.#held.handshake.length + this.#held.application.length
  }

  /** Keeps a copy of `p` (its level's keys are not installed yet); false when that level's buffer is full. */
  hold(level: Level, p: ProtectedPacket, from: QuicPath | undefined, length: number): boolean {
    const q = this.#held[level]
    if (q.length >= this.#max) return false
    q.push({ packet: { ...p, bytes: p.bytes.slice(), dcid: p.dcid.slice(), scid: p.scid.slice(), token: p.token.slice() }, from, length })
    return true
  }

  /** The next held packet whose keys are installed now (undefined: none), dropping those of discarded levels. */
  take(s: ConnState): HeldPacket | undefined {
    for (const level of ['handshake', 'application'] as const) {
      const q = this.#held[level]
      if (q.length === 0) continue
      const sp = s.spaces[level]
      if (sp.discarded) { q.length = 0; continue }
      if (sp.recv === undefined || (level === 'application' && !s.handshakeComplete)) continue
      return q.shift()
    }
    return undefined
  }
}
