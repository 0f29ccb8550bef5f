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
import { ConnCloseCode, StreamResetCode } from '../core/close-codes.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { ConnectionInfo } from './behaviour.js'
import { ResourceManager, type Direction } from './resources.js'
import { applyLimits, autoscale, type ResourceLimitsInit } from './resource-limits.js'
import type { ResourceLimitError } from '../core/errors.js'
import type { Gater, GaterOptions } from './gater.js'
import type { IpLimits, IpLimitOptions } from './ip-limits.js'
import { ConnectionManager, DEFAULT_CONNECTION_MANAGER, type ConnectionManagerOptions } from './conn-manager.js'

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
 * (`connectionManager`, `gater`, `ipLimits`, `resources`, `systemMemory`, `ping`), in the
 * declarations below (merged by TypeScript).
 */
export interface PolicyOptions {
  /** Allow and deny lists (src/swarm/gater.ts): `{ allow: ['10.0.0.0/8'], deny: ['1.2.3.4', '12D3KooW...'] }`. */
  gater?: Partial<GaterOptions>
  /** Per-IP inbound limits (src/swarm/ip-limits.ts); defaults are go-libp2p's. */
  ipLimits?: Partial<IpLimitOptions>
}

// The resource manager's options (src/swarm/resources.ts, spec/resource-manager.md).
export interface PolicyOptions {
  /** Limits per scope, over the defaults autoscaled from `systemMemory` (createNode({ resources }), weft node --limits). */
  resources?: ResourceLimitsInit
  /** Bytes of RAM the resource manager's defaults scale to (weft/node's createNode passes os.totalmem(); absent: the base limits). */
  systemMemory?: number
  /** Ping's own inbound limit per peer (spec/ping.md): when set, the resource manager's built-in ping
   * protocol-peer inbound limit follows it, so one number governs ping streams. */
  ping?: { maxInboundStreams?: number }
}

// The connection manager's options (src/swarm/conn-manager.ts, spec/connection-manager.md).
export interface PolicyOptions {
  /** Watermarks, grace and silence periods, bounds; defaults are go-libp2p's (low 160, high 192, 60 s, 10 s). */
  connectionManager?: Partial<ConnectionManagerOptions>
}

/**
 * The gater and the per-IP limits (src/swarm/guards.ts builds them). They are handed in rather than
 * imported so that a build that never accepts a connection (a browser) does not carry them: without
 * them the policy only bounds the pending-inbound slots by count.
 */
export interface Guards {
  readonly gater: Gater
  readonly ipLimits: IpLimits
}

export interface PolicyConfig extends PolicyOptions {
  /** Inbound connections still in their handshake (SwarmLimits.maxPendingInbound). */
  maxPendingInbound: number
  /** Builds the gater and per-IP limits (`createGuards` from src/swarm/guards.ts); absent: neither. */
  guards?: ((config: PolicyConfig) => Guards) | undefined
  /** Protocols whose behaviour bounds its own inbound streams (Behaviour.maxInboundStreams): the
   * protocol-peer inbound stream limit is raised to that bound unless `resources.protocolsPeer` sets one. */
  inboundBounds?: Readonly<Record<string, number>>
}

export class SwarmPolicy {
  readonly #config: PolicyConfig
  readonly #closes: PolicyClose[] = []
  /** Connections, streams and memory per scope (src/swarm/resources.ts); `node.resources()` reads it. */
  readonly resources: ResourceManager
  /** Allow and deny lists; `node.gater` edits them at runtime. Undefined without `guards`. */
  readonly gater: Gater | undefined
  /** Per-IP concurrency and rate limits, and the pending-inbound slots with their fairness eviction. Undefined without `guards`. */
  readonly ipLimits: IpLimits | undefined
  /** Without the per-IP limits: the inbound connections still in their handshake, bounded by count. */
  readonly #pending = new Set<number>()
  /** Watermarks, tags, protection and trims (src/swarm/conn-manager.ts); `node.connectionManager` is it. */
  readonly connectionManager: ConnectionManager

  constructor(config: PolicyConfig) {
    this.#config = config
    this.resources = newResourceManager(config)
    const guards = config.guards?.(config)
    this.gater = guards?.gater
    this.ipLimits = guards?.ipLimits
    this.connectionManager = new ConnectionManager(this.#config.connectionManager)
  }

  /** A socket was accepted from `remoteAddr` and will be connection `id` if admitted. */
  admitInbound(now: Millis, id: number, remoteAddr: Multiaddr): Refusal | undefined {
    // -- gater and per-IP limits: deny first; an allow-listed address skips the per-IP limits.
    const { gater, ipLimits } = this
    if (gater !== undefined && !gater.allowAccept(remoteAddr)) return refusal('gater/denied', ConnCloseCode.Gated, `${remoteAddr.toString()} is denied`)
    if (ipLimits !== undefined) {
      const ip = ipLimits.admitInbound(now, id, remoteAddr, gater?.isAllowlisted(remoteAddr) === true)
      if (ip !== undefined) return refusal(ip.code, ip.code === 'limits/per-ip' ? ConnCloseCode.ResourceLimitExceeded : ConnCloseCode.RateLimited, ip.message)
      this.#takeEvictions(ipLimits)
    } else {
      if (this.#pending.size >= this.#config.maxPendingInbound) {
        return refusal('limits/pending-inbound', ConnCloseCode.RateLimited, `${this.#pending.size} inbound connections are in their handshake`)
      }
      this.#pending.add(id)
    }
    // -- resource manager: a system and a transient connection slot until the handshake names the peer
    return this.#reserveConnection(now, id, 'inbound')
  }

  /**
   * An inbound connection still in its handshake received bytes (the swarm calls this for each read
   * until `admitPeer`): the pending-inbound fairness evicts idle sockets before handshakes that started.
   */
  pendingProgress(_now: Millis, id: number): void {
    this.ipLimits?.progress(id)
  }

  /** Pending handshakes the per-IP limits evicted to make room for a newcomer: closed as rate-limited. */
  #takeEvictions(ipLimits: IpLimits): void {
    for (let e = ipLimits.pollEvict(); e !== undefined; e = ipLimits.pollEvict()) {
      this.#closes.push({ connection: e.connection, code: ConnCloseCode.RateLimited, reason: e.message })
    }
  }

  /** About to connect to `addr` (for `peer`, when the dial knows it) as connection `id`. */
  admitOutbound(now: Millis, id: number, peer: PeerId | undefined, addr: Multiaddr): Refusal | undefined {
    if (this.gater?.allowDial(peer, addr) === false) return refusal('gater/denied', ConnCloseCode.Gated, `${addr.toString()} is denied`)
    return this.#reserveConnection(now, id, 'outbound')
  }

  /** The handshake named the remote peer; a refusal closes the connection with `wireCode`. */
  admitPeer(now: Millis, info: ConnectionInfo): Refusal | undefined {
    this.ipLimits?.established(info.id)
    this.#pending.delete(info.id)
    if (this.gater?.allowPeer(info.peer, info.remoteAddr) === false) return refusal('gater/denied', ConnCloseCode.Gated, `peer ${info.peer.toString()} is denied`)
    if (this.gater?.isAllowlisted(info.remoteAddr, info.peer) === true) this.ipLimits?.exempt(info.id)
    // -- resource manager: move the connection from transient to its peer's scope (full: GoAway 0x1001)
    const err = this.resources.reservePeer(info.id, info.peer.toString())
    if (err !== undefined) return resourceRefusal(err, ConnCloseCode.ResourceLimitExceeded)
    // -- connection manager: counted once every part admitted it; may trim others (pollClose)
    this.connectionManager.connected(now, info)
    return undefined
  }

  /** Connection `id` (admitted by admitInbound/admitOutbound) is gone. Called exactly once. */
  connectionRemoved(now: Millis, id: number): void {
    this.connectionManager.disconnected(now, id)
    this.ipLimits?.removed(id)
    this.#pending.delete(id)
    this.resources.releaseConnection(id)
  }

  /** A stream negotiated `protocol`; a refusal resets it (inbound: with `wireCode`). */
  admitStream(_now: Millis, info: ConnectionInfo, stream: number, direction: 'inbound' | 'outbound', protocol: string, owner: string | undefined): Refusal | undefined {
    const err = this.resources.reserveStream(info.id, stream, direction, protocol, owner)
    if (err !== undefined) return resourceRefusal(err, StreamResetCode.ResourceLimitExceeded)
    this.connectionManager.streamOpened(info.id)
    return undefined
  }

  /** Reserve connection `id` in the resource manager; on a refusal everything admitted so far is undone. */
  #reserveConnection(now: Millis, id: number, dir: Direction): Refusal | undefined {
    const err = this.resources.reserveConnection(id, dir)
    if (err === undefined) return undefined
    this.connectionRemoved(now, id)
    return resourceRefusal(err, ConnCloseCode.ResourceLimitExceeded)
  }

  /** A stream admitted by admitStream ended. Called exactly once. */
  streamRemoved(_now: Millis, connection: number, stream: number): void {
    this.resources.releaseStream(connection, stream)
    this.connectionManager.streamClosed(connection)
  }

  /** A behaviour (named `from`) or the user tags `peer` for the connection manager; `value` undefined removes the tag. */
  tagPeer(now: Millis, peer: PeerId, tag: string, value: number | undefined, _from: string): void {
    this.connectionManager.tagFromBehaviour(now, peer, tag, value)
  }

  /** Protect `peer` from trimming for `tag` (or withdraw that protection). */
  protectPeer(now: Millis, peer: PeerId, tag: string, protect: boolean): void {
    this.connectionManager.protectFromBehaviour(now, peer, tag, protect)
  }

  handleTimeout(now: Millis): void {
    this.ipLimits?.handleTimeout(now)
    this.connectionManager.handleTimeout(now)
  }

  pollTimeout(): Millis | undefined {
    const a = this.ipLimits?.pollTimeout()
    const b = this.connectionManager.pollTimeout()
    return a === undefined ? b : b === undefined ? a : Math.min(a, b)
  }

  /** A connection to close (trim, eviction), or undefined. */
  pollClose(): PolicyClose | undefined {
    return this.#closes.shift() ?? this.connectionManager.pollClose()
  }
}

function resourceRefusal(error: ResourceLimitError, wireCode: number): Refusal {
  return { code: 'resource/limit-exceeded', wireCode, error }
}

/** The resource manager from the options: autoscaled defaults, ping's own limit, the user's overrides. */
function newResourceManager(config: PolicyConfig): ResourceManager {
  const highWater = config.connectionManager?.highWater ?? DEFAULT_CONNECTION_MANAGER.highWater
  const base = autoscale(config.systemMemory, highWater)
  const pingInbound = config.ping?.maxInboundStreams
  if (pingInbound !== undefined) {
    const ping = base.protocolsPeer['/ipfs/ping/1.0.0'] ?? {}
    base.protocolsPeer['/ipfs/ping/1.0.0'] = { ...ping, streamsInbound: pingInbound, streams: Math.max(ping.streams ?? 0, pingInbound) }
  }
  for (const [p, n] of Object.entries(config.inboundBounds ?? {})) {
    const cur = { ...base.protocolPeer, ...base.protocolsPeer[p] }
    if (cur.streamsInbound < n) base.protocolsPeer[p] = { ...base.protocolsPeer[p], streamsInbound: n, streams: Math.max(cur.streams, n) }
  }
  return new ResourceManager(applyLimits(base, config.resources), { highWater })
}
