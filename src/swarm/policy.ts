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
export interface PolicyOptions {}

export interface PolicyConfig extends PolicyOptions {
  /** Inbound connections still in their handshake (SwarmLimits.maxPendingInbound). */
  maxPendingInbound: number
}

/** Connection GoAway code for "rate limited" (src/core/close-codes.ts: ConnRateLimited). */
const CONN_RATE_LIMITED = 0x1002

export class SwarmPolicy {
  readonly #config: PolicyConfig
  /** Inbound connections admitted and not yet past `admitPeer`: id -> remote address. */
  readonly #pending = new Map<number, Multiaddr>()
  readonly #closes: PolicyClose[] = []

  constructor(config: PolicyConfig) {
    this.#config = config
  }

  /** A socket was accepted from `remoteAddr` and will be connection `id` if admitted. */
  admitInbound(_now: Millis, id: number, remoteAddr: Multiaddr): Refusal | undefined {
    if (this.#pending.size >= this.#config.maxPendingInbound) {
      return refusal('limits/pending-inbound', CONN_RATE_LIMITED, `${this.#pending.size} inbound connections are in their handshake`)
    }
    this.#pending.set(id, remoteAddr)
    return undefined
  }

  /** About to connect to `addr` (for `peer`, when the dial knows it) as connection `id`. */
  admitOutbound(_now: Millis, _id: number, _peer: PeerId | undefined, _addr: Multiaddr): Refusal | undefined {
    return undefined
  }

  /** The handshake named the remote peer; a refusal closes the connection with `wireCode`. */
  admitPeer(_now: Millis, info: ConnectionInfo): Refusal | undefined {
    this.#pending.delete(info.id)
    return undefined
  }

  /** Connection `id` (admitted by admitInbound/admitOutbound) is gone. Called exactly once. */
  connectionRemoved(_now: Millis, id: number): void {
    this.#pending.delete(id)
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

  handleTimeout(_now: Millis): void {}

  pollTimeout(): Millis | undefined {
    return undefined
  }

  /** A connection to close (trim, eviction), or undefined. */
  pollClose(): PolicyClose | undefined {
    return this.#closes.shift()
  }
}
