/**
 * The swarm's admission policy: every decision to let a connection or a stream in, and every
 * connection the node decides to close on its own (trims, evictions), in one place.
 *
 * The swarm (src/swarm/swarm.ts, routing.ts) calls the policy at each admission point, in this order
 * for a connection: `admitInbound` (a socket was accepted, before any byte is read) or `admitOutbound`
 * (before a transport connect), then `admitPeer` (the security handshake named the peer, before the
 * connection is reported established), then `admitStream` for each negotiated stream and
 * `streamRemoved` when it ends, and `connectionRemoved` exactly once for every admitted connection.
 * The policy answers with a `Refusal` (what the swarm then does is in spec/swarm.md, "Admission") or
 * undefined, and hands the swarm connections to close through `pollClose()`.
 *
 * It composes pure parts, each with its own note: the gater and per-IP limits (src/swarm/gater.ts,
 * src/swarm/ip-limits.ts), the resource manager (src/swarm/resources.ts) and the connection manager
 * (src/swarm/conn-manager.ts). Like every core it keeps no timers: `now` comes in, deadlines go out.
 */
import type { Millis } from '../core/byte-machine.js'
import { OutcomeError } from '../core/errors.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { ConnectionInfo } from './behaviour.js'
import { Gater, type GaterOptions } from './gater.js'
import { IpLimits, type IpLimitOptions } from './ip-limits.js'

/** Why the policy refused a connection or a stream. */
export type RefusalCode =
  /** The gater's deny list matched the peer or the address. */
  | 'gater/denied'
  /** Too many concurrent connections from one IP (IPv4 /32, IPv6 /56 or /48). */
  | 'limits/per-ip'
  /** Too many new connections per second from one IP prefix. */
  | 'limits/rate'
  /** Every slot for connections still in their handshake is taken. */
  | 'limits/pending-inbound'
  /** A resource manager scope is full (connections, streams or memory). */
  | 'resource/limit-exceeded'

/**
 * A refusal. `wireCode` is what the remote is told when it can be told anything: the connection
 * GoAway code (after the handshake) or the stream reset code (src/core/close-codes.ts); `error`
 * is what a local opener (a dial, a stream opening) receives.
 */
export interface Refusal {
  readonly code: RefusalCode
  readonly wireCode: number
  readonly error: Error
}

/** A refusal whose error is a plain OutcomeError with the same code. */
export function refusal(code: RefusalCode, wireCode: number, message: string): Refusal {
  return { code, wireCode, error: new OutcomeError(code, message) }
}

/** A connection the policy wants closed: GoAway `code` (src/core/close-codes.ts), for `reason` (logs, events). */
export interface PolicyClose {
  readonly connection: number
  readonly code: number
  readonly reason: string
}

/**
 * What `createNode` and `SwarmConfig.policy` configure: each part adds its options here
 * (`connectionManager`, `gater`, `ipLimits`, `resources`).
 */
export interface PolicyOptions {
  /** Allow and deny lists (src/swarm/gater.ts): `{ allow: ['10.0.0.0/8'], deny: ['1.2.3.4', '12D3KooW...'] }`. */
  gater?: Partial<GaterOptions>
  /** Per-IP inbound limits (src/swarm/ip-limits.ts); defaults are go-libp2p's. */
  ipLimits?: Partial<IpLimitOptions>
}

export interface PolicyConfig extends PolicyOptions {
  /** Inbound connections still in their handshake (SwarmLimits.maxPendingInbound). */
  maxPendingInbound: number
}

/** Connection GoAway codes (src/core/close-codes.ts: ConnResourceLimitExceeded, ConnRateLimited, ConnGated). */
const CONN_RESOURCE_LIMIT = 0x1001
const CONN_RATE_LIMITED = 0x1002
const CONN_GATED = 0x1007

export class SwarmPolicy {
  readonly #config: PolicyConfig
  readonly #closes: PolicyClose[] = []
  /** Allow and deny lists; `node.gater` edits them at runtime. */
  readonly gater: Gater
  /** Per-IP concurrency and rate limits, and the pending-inbound slots with their fairness eviction. */
  readonly ipLimits: IpLimits

  constructor(config: PolicyConfig) {
    this.#config = config
    this.gater = new Gater(this.#config.gater)
    this.ipLimits = new IpLimits(this.#config.ipLimits, this.#config.maxPendingInbound)
  }

  /** A socket was accepted from `remoteAddr` and will be connection `id` if admitted. */
  admitInbound(now: Millis, id: number, remoteAddr: Multiaddr): Refusal | undefined {
    // -- gater and per-IP limits (H3): deny first; an allow-listed address skips the per-IP limits.
    if (!this.gater.allowAccept(remoteAddr)) return refusal('gater/denied', CONN_GATED, `${remoteAddr.toString()} is denied`)
    const ip = this.ipLimits.admitInbound(now, id, remoteAddr, this.gater.isAllowlisted(remoteAddr))
    if (ip !== undefined) return refusal(ip.code, ip.code === 'limits/per-ip' ? CONN_RESOURCE_LIMIT : CONN_RATE_LIMITED, ip.message)
    this.#takeEvictions()
    return undefined
  }

  /** Pending handshakes the per-IP limits evicted to make room for a newcomer: closed as rate-limited. */
  #takeEvictions(): void {
    for (let e = this.ipLimits.pollEvict(); e !== undefined; e = this.ipLimits.pollEvict()) {
      this.#closes.push({ connection: e.connection, code: CONN_RATE_LIMITED, reason: e.message })
    }
  }

  /** About to connect to `addr` (for `peer`, when the dial knows it) as connection `id`. */
  admitOutbound(_now: Millis, _id: number, peer: PeerId | undefined, addr: Multiaddr): Refusal | undefined {
    if (!this.gater.allowDial(peer, addr)) return refusal('gater/denied', CONN_GATED, `${addr.toString()} is denied`)
    return undefined
  }

  /** The handshake named the remote peer; a refusal closes the connection with `wireCode`. */
  admitPeer(_now: Millis, info: ConnectionInfo): Refusal | undefined {
    this.ipLimits.established(info.id)
    if (!this.gater.allowPeer(info.peer, info.remoteAddr)) return refusal('gater/denied', CONN_GATED, `peer ${info.peer.toString()} is denied`)
    if (this.gater.isAllowlisted(info.remoteAddr, info.peer)) this.ipLimits.exempt(info.id)
    return undefined
  }

  /** Connection `id` (admitted by admitInbound/admitOutbound) is gone. Called exactly once. */
  connectionRemoved(_now: Millis, id: number): void {
    this.ipLimits.removed(id)
  }

  /** A stream negotiated `protocol`; a refusal resets it (inbound: with `wireCode`). */
  admitStream(_now: Millis, _info: ConnectionInfo, _stream: number, _direction: 'inbound' | 'outbound', _protocol: string, _owner: string | undefined): Refusal | undefined {
    return undefined
  }

  /** A stream admitted by admitStream ended. Called exactly once. */
  streamRemoved(_now: Millis, _connection: number, _stream: number): void {}

  /** A behaviour (named `from`) or the user tags `peer` for the connection manager; `value` undefined removes the tag. */
  tagPeer(_now: Millis, _peer: PeerId, _tag: string, _value: number | undefined, _from: string): void {}

  /** Protect `peer` from trimming for `tag` (or withdraw that protection). */
  protectPeer(_now: Millis, _peer: PeerId, _tag: string, _protect: boolean): void {}

  handleTimeout(now: Millis): void {
    this.ipLimits.handleTimeout(now)
  }

  pollTimeout(): Millis | undefined {
    return this.ipLimits.pollTimeout()
  }

  /** A connection to close (trim, eviction), or undefined. */
  pollClose(): PolicyClose | undefined {
    return this.#closes.shift()
  }
}
