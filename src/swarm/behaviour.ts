/**
 * The behaviour contract: how protocols such as ping, identify, kad and gossipsub plug into the swarm.
 *
 * A behaviour is a pure state machine, like every core in weft. The swarm feeds it `BehaviourInput`s
 * (connections opening and closing, streams opening, stream bytes) and drains its `BehaviourAction`s
 * (dial, open a stream, write, close, emit an event to the user) until none makes progress.
 * Time is an input; randomness is handed in at construction (`random`).
 *
 * Call order (the swarm guarantees it):
 * 1. `handle(now, input)` for every input, in the order things happened;
 * 2. then `pollAction()` until undefined;
 * 3. then `pollTimeout()`; when that deadline passes, `handleTimeout(now)` and drain again.
 *
 * Streams: behaviours see negotiated streams as byte streams identified by a `StreamRef`. Bytes are
 * delivered in `stream-data` inputs and the swarm counts them as consumed as soon as `handle` returns,
 * so a behaviour that buffers must bound its buffer itself (identify caps its message, ping its 32
 * bytes). Every action that completes later carries a `requestId` chosen by the behaviour; the result
 * input carries the same id.
 */
import type { Millis } from '../core/byte-machine.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId, PublicKey } from '../peer-id/index.js'

/** A connection's identity and addresses, as the swarm knows them. */
export interface ConnectionInfo {
  /** Unique per swarm, never reused. */
  readonly id: number
  /** The remote peer (authenticated by the Noise handshake). */
  readonly peer: PeerId
  /** The remote's identity key. */
  readonly remotePublicKey: PublicKey
  /** The remote's address as seen from here (for identify's observedAddr). */
  readonly remoteAddr: Multiaddr
  /** Our local address of the connection, when the transport knows it. */
  readonly localAddr: Multiaddr | undefined
  /** `outbound` when we dialed, `inbound` when the remote did. */
  readonly direction: 'inbound' | 'outbound'
  /** When the transport was accepted or the connect started (the swarm's clock, ms). */
  readonly opened: Millis
  /** When the security handshake completed and the connection was established; `established - opened` is the handshake latency. */
  readonly established: Millis
  /** The secure channel's protocol id: '/noise' or '/tls/1.0.0' (a QUIC connection: '/tls/1.0.0', TLS inside QUIC). */
  readonly security: string
  /** The stream muxer: '/yamux/1.0.0', or '/quic-v1' for a QUIC connection (its own streams). */
  readonly muxer: string
  /** The muxer was chosen inside the security handshake (Noise extensions or TLS ALPN: early muxer negotiation) rather than by multistream after it. */
  readonly earlyMuxer: boolean
  /**
   * A *limited* connection: relayed through a Circuit Relay v2 relay (its remote address contains
   * `/p2p-circuit`), so the relay caps its duration and bytes. Only protocols that opt in run on it
   * (`Behaviour.limitedProtocols`, `handle(p, { allowLimited })`, `open-stream` with `allowLimited`).
   */
  readonly limited: boolean
}

/** One stream on one connection. */
export interface StreamRef {
  /** The connection's id (`ConnectionInfo.id`). */
  readonly connection: number
  /** The yamux stream id. */
  readonly stream: number
}

/**
 * What the swarm tells a behaviour (see `Behaviour.handle`): its own addresses and protocols,
 * connections opening and closing, streams opening, their bytes and their end, and the results of
 * actions the behaviour asked for (each carries the action's `requestId`).
 */
export type BehaviourInput =
  /** The swarm's own information; sent once before any connection, and again whenever it changes. */
  | { type: 'local-info'; listenAddrs: readonly Multiaddr[]; protocols: readonly string[] }
  /**
   * The swarm's confirmed external addresses (src/swarm/reachability.ts); `reachable` is true while
   * there is at least one. Sent once at start, after the first `local-info`, and again whenever the
   * set changes.
   */
  | { type: 'reachability'; reachable: boolean; externalAddrs: readonly Multiaddr[] }
  | { type: 'connection-established'; connection: ConnectionInfo }
  | { type: 'connection-closed'; connection: ConnectionInfo }
  /** A `dial` action failed (requestId from the action). */
  | { type: 'dial-failed'; requestId: number; error: Error }
  /** A `dial` action succeeded or joined an existing connection. */
  | { type: 'dial-succeeded'; requestId: number; connection: ConnectionInfo }
  /**
   * A stream negotiated one of this behaviour's protocols: inbound (the remote opened it; requestId
   * undefined) or outbound (our `open-stream` action with that requestId).
   */
  | { type: 'stream-opened'; stream: StreamRef; protocol: string; direction: 'inbound' | 'outbound'; connection: ConnectionInfo; requestId?: number }
  /** An `open-stream` action failed: no connection, the remote refused every protocol, a reset... */
  | { type: 'stream-open-failed'; requestId: number; error: Error }
  | { type: 'stream-data'; stream: StreamRef; data: Uint8Array }
  /** The remote closed its write side. */
  | { type: 'stream-eof'; stream: StreamRef }
  /**
   * Everything this behaviour wrote to the stream has been handed to the muxer. The swarm queues
   * writes the muxer could not take yet (bounded: see SwarmLimits.maxBehaviourStreamBuffer); a
   * behaviour that sends bulk data (perf) writes a chunk and waits for this before the next.
   */
  | { type: 'stream-writable'; stream: StreamRef }
  /**
   * The stream was reset (by the remote, or because its connection died). `code`: the non-zero
   * libp2p reset code the remote's RST carried (src/core/close-codes.ts, e.g. 0x1002 resource limit).
   * `connectionClosed`: it ended with its connection (the remote's GoAway, the socket's end); the
   * `connection-closed` input follows, possibly later (at the socket's end).
   */
  | { type: 'stream-reset'; stream: StreamRef; code?: number; connectionClosed?: true }
  /** Both sides done; the ref is dead from now on. */
  | { type: 'stream-closed'; stream: StreamRef }
  /**
   * A behaviour learned facts about a peer (identify: its protocols and addresses). The swarm
   * stores them and passes them to every behaviour, so kad can admit peers that serve the DHT
   * without importing identify. `from` names the behaviour that learned them.
   */
  | { type: 'peer-info'; peer: PeerId; info: PeerInfoUpdate; from: string }
  /**
   * A peer told us the address it sees us at on `connection` (identify's observedAddr). Not a
   * confirmation (a NAT maps each connection on its own): AutoNAT tests such candidates, DCUtR
   * sends them to the peer it punches to. Never sent for limited (relayed) connections.
   */
  | { type: 'observed-addr'; connection: ConnectionInfo; addr: Multiaddr }

/**
 * What a behaviour asks of the swarm (drained with `Behaviour.pollAction`): dial, open a stream,
 * write, close or reset it, update the peer store, or emit an event `Ev` to the application. An
 * action that completes later carries a `requestId` the behaviour chose; the result input repeats it.
 */
export type BehaviourAction<Ev> =
  /** Dial a peer: by its known addresses (peer store) or the given ones. `options`: see DialOptions. */
  | { type: 'dial'; requestId: number; peer?: PeerId; addrs?: readonly Multiaddr[]; options?: DialOptions }
  /**
   * Give up on this behaviour's dial `requestId`: a dial nobody else waits for ends and its
   * connection attempt is closed; no `dial-failed` follows (DCUtR's A ends a QUIC punch dial with
   * its attempt). Unknown or finished requests are ignored.
   */
  | { type: 'cancel-dial'; requestId: number }
  /**
   * Open a stream to `peer` (on `connection` if given, else any connection, dialing if needed). A
   * limited (relayed) connection is used only with `allowLimited`; a direct one is preferred.
   */
  | { type: 'open-stream'; requestId: number; peer: PeerId; protocols: readonly string[]; connection?: number; allowLimited?: boolean }
  /**
   * Send `data` on the stream. The swarm only ever reads `data` (the muxer copies it into frames),
   * so a behaviour may hand the same read-only bytes to several writes (perf's zero chunk).
   */
  | { type: 'write'; stream: StreamRef; data: Uint8Array }
  | { type: 'close-write'; stream: StreamRef }
  | { type: 'reset'; stream: StreamRef }
  | { type: 'close-connection'; connection: number }
  /**
   * Replace the inbound protocols this behaviour serves (its `protocols` field is only the initial
   * set). The swarm routes the new ones here, refuses the dropped ones on new streams (open ones
   * continue), and sends every behaviour a fresh `local-info`, so identify pushes the change.
   * Kad uses it to switch between client and server mode.
   */
  | { type: 'set-protocols'; protocols: readonly string[] }
  /**
   * Tag `peer` for the connection manager (src/swarm/conn-manager.ts): its connections are worth
   * `value` more when deciding what to trim; `value` undefined removes the tag. Kad tags its routing
   * table, gossipsub its mesh peers.
   */
  | { type: 'tag-peer'; peer: PeerId; tag: string; value: number | undefined }
  /** Never trim `peer` while any behaviour or the user protects it (for `tag`), or withdraw that. */
  | { type: 'protect-peer'; peer: PeerId; tag: string; protect: boolean }
  /** Facts for the peer store, learned by a protocol (identify). */
  | { type: 'peer-info'; peer: PeerId; info: PeerInfoUpdate }
  /** Identify learned the address `connection`'s peer sees us at: every behaviour gets `observed-addr`. */
  | { type: 'observed-addr'; connection: ConnectionInfo; addr: Multiaddr }
  /**
   * Confirm (`confirmed: true`) or withdraw a confirmed external address (AutoNAT's verdicts): the
   * swarm's reachability follows (src/swarm/reachability.ts) and behaviours get `reachability`.
   */
  | { type: 'external-addr'; addr: Multiaddr; confirmed: boolean }
  /**
   * Stop crediting this stream's received bytes back to the muxer automatically: the behaviour
   * sends `consume` as it passes them on, so the remote's send window (yamux backpressure) follows
   * the behaviour's pace. The relay server splices circuits with it.
   */
  | { type: 'manual-consume'; stream: StreamRef }
  | { type: 'consume'; stream: StreamRef; bytes: number }
  /** Something for the user: surfaces as `{ from: <behaviour name>, event }`. */
  | { type: 'event'; event: Ev }

/** What a behaviour learned about a peer (addresses, protocols, public key...), merged into the swarm's peer store. */
export interface PeerInfoUpdate {
  addrs?: readonly Multiaddr[]
  /**
   * The addresses come from a third party (a kad response, gossipsub PX), not from the peer itself:
   * they are merged after what is known instead of replacing it, so a hint never erases the
   * addresses the peer announced through identify.
   */
  addrsAreHints?: boolean
  protocols?: readonly string[]
  publicKey?: PublicKey
  agentVersion?: string
  protocolVersion?: string
  /**
   * The peer's own signed peer record (identify), already verified and naming `peer`: `envelope`
   * is the signed envelope as received (at most identify's maxSignedRecordSize bytes). Gossipsub
   * keeps the latest one of each connected peer to send with it in a PRUNE's peer exchange.
   */
  signedPeerRecord?: { seq: bigint; envelope: Uint8Array }
}

/** How a dial is made (`dial` action, `swarm.dial`). */
export interface DialOptions {
  /** A new connection even when one to the peer is open; never joins a pending dial (AutoNAT dial-backs, DCUtR). */
  force?: boolean
  /**
   * `'responder'`: our outbound socket runs the upgrade as the responder (multistream listener,
   * Noise responder). DCUtR's side B in a TCP simultaneous open, where the spec makes A the client.
   */
  role?: 'responder'
}

/**
 * A protocol plugged into the swarm: a pure state machine (no IO, no clock, no randomness of its
 * own). The swarm calls `handle(now, input)` for every input in order, then `pollAction()` until
 * undefined, then `pollTimeout()`; when that deadline passes, `handleTimeout(now)` and drain again.
 * Stream bytes count as consumed when `handle` returns, so a behaviour that buffers bounds its buffer itself.
 * @typeParam Ev - the events it emits to the application.
 */
export interface Behaviour<Ev> {
  /** Inbound protocols this behaviour serves at start; the swarm routes them here (see `set-protocols`). */
  readonly protocols: readonly string[]
  /**
   * Those of its protocols that may run on limited (relayed) connections (src/swarm/limited.ts);
   * elsewhere a limited connection answers `na` for them. Identify, ping and DCUtR list theirs.
   */
  readonly limitedProtocols?: readonly string[]
  /**
   * Inbound streams of each of its protocols the swarm lets open at once per connection (default
   * SwarmLimits.maxInboundStreamsPerProtocol, 32): a behaviour that bounds its own exchanges
   * (request-response's maxConcurrentStreams) declares room for them here. The resource manager's
   * protocol-peer inbound stream limit for those protocols is raised to it as well, unless
   * `resources.protocolsPeer` sets one (src/swarm/policy.ts).
   */
  readonly maxInboundStreams?: number
  /** Take one input from the swarm. `now` is monotonic ms. Never throws for anything a remote sends. */
  handle(now: Millis, input: BehaviourInput): void
  /** The deadline returned by `pollTimeout` passed; `now` is at or after it. */
  handleTimeout(now: Millis): void
  /** The next action for the swarm, or undefined when none is pending. */
  pollAction(): BehaviourAction<Ev> | undefined
  /** The earliest deadline (monotonic ms) at which `handleTimeout` must be called, or undefined for none. */
  pollTimeout(): Millis | undefined
}

/** Same ref (streams are compared by value). */
export function sameStream(a: StreamRef, b: StreamRef): boolean {
  return a.connection === b.connection && a.stream === b.stream
}

/** A stable string key for maps keyed by stream. */
export function streamKey(s: StreamRef): string {
  return `${s.connection}/${s.stream}`
}
