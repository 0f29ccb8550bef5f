/**
 * The public types of the DCUtR behaviour (src/dcutr/dcutr.ts): its events, status and options.
 */
import type { Millis } from '../core/byte-machine.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { ConnectionInfo } from '../swarm/index.js'
import type { DcutrMessageLimits } from './message.js'

/** An exchange ended without a direct connection and nobody broke the protocol (OutcomeError). */
export type DcutrOutcomeCode =
  | 'dcutr/timeout'
  | 'dcutr/stream-reset'
  | 'dcutr/stream-closed'
  | 'dcutr/connection-closed'
  | 'dcutr/dial-failed'
  | 'dcutr/open-failed'
  | 'dcutr/no-local-addrs'
  | 'dcutr/punch-timeout'
  | 'dcutr/no-shared-transport'

/**
 * The DCUtR roles (relay/DCUtR.md): A opened the relayed connection and initiates the punch, B was reached through the relay and starts the exchange.
 */
export type DcutrRole = 'A' | 'B'

/** Events of the DCUtR behaviour: a direct connection now exists, an attempt started or failed. */
export type DcutrEvent =
  /**
   * A direct connection to `peer` exists now; `via`: B's direct dial (connection reversal) or the
   * punch. After a punch, `ourAddrs` / `theirAddrs`: the addresses of the last CONNECT exchange.
   */
  | { type: 'direct'; peer: PeerId; connection: ConnectionInfo; role: DcutrRole; via: 'reversal' | 'hole-punch'; attempts: number } & PunchAddrs
  /** B sent SYNC (attempt `attempt`, 1-based) and will dial `addrs` after `rtt / 2` ms. */
  | { type: 'attempt'; peer: PeerId; attempt: number; rtt: Millis; addrs: Multiaddr[] }
  /**
   * B, at the end of the SYNC wait: punch packets to A's QUIC addresses `addrs` for up to `timeout`
   * ms (the `dcutr()` service sends them from the QUIC transport's listening socket), while A dials B.
   */
  | { type: 'punch'; peer: PeerId; attempt: number; addrs: Multiaddr[]; timeout: Millis }
  /** The upgrade failed; the relayed connection stays. */
  | { type: 'failed'; peer: PeerId; role: DcutrRole; attempts: number; error: Error } & PunchAddrs
  /** B's direct dial of A's public addresses (connection reversal) failed; a hole punch follows if A speaks DCUtR. */
  | { type: 'reversal-failed'; peer: PeerId; error: Error }
  /** Hole punching is unavailable on this node (no TCP punch port, no QUIC); the relayed connection stays. */
  | { type: 'unavailable'; peer: PeerId; reason: string }

/** The addresses each side sent in the last CONNECT exchange (filtered as dialed), when there was one. */
export interface PunchAddrs {
  ourAddrs?: Multiaddr[]
  theirAddrs?: Multiaddr[]
}

/** Whether hole punching can run (a punch port is configured) and, if not, why. */
export interface DcutrStatus {
  holePunching: 'available' | 'unavailable'
  reason?: string
}

/** Options of the DCUtR behaviour: the punch port, retries and the limits of spec/dcutr.md. */
export interface DcutrOptions {
  /** The TCP punch port now (src/io/tcp.ts `punchPort`); undefined: no punch port, no TCP hole punching. */
  punchPort: () => number | undefined
  /**
   * Hole punching over QUIC v1 (B's `punch` events are acted on: the `dcutr({ quic })` service sets
   * it). Needs a QUIC listen address too. Default false.
   */
  quicPunch?: boolean
  /**
   * ms B sends punch packets and waits for A's QUIC connection per attempt; A's QUIC dials of an
   * attempt are cancelled after as long (from the SYNC). Default 5 000. Stops: a peer that never
   * dials keeping us sending packets (and the attempt open); A's stale handshakes outliving B's attempt.
   */
  punchTimeout?: number
  /** Attempts by B (CONNECT, SYNC, dials). Default 3 (the spec: "retry twice"). Stops: endless punching at a peer behind a symmetric NAT. */
  maxAttempts?: number
  /**
   * ms from opening (B) or accepting (A) a dcutr stream to the end of its exchange (B: A's CONNECT;
   * A: B's CONNECT and SYNC). Default 10 000 (rust; go 60 s). Stops: a peer holding streams and state open.
   */
  exchangeTimeout?: number
  /** Inbound dcutr streams at once per peer. Default 2 (go's resource manager). Stops: one peer opening many exchanges. */
  maxInboundStreamsPerPeer?: number
  /** Observed addresses kept as candidates (most recent first). Default 16. Stops: observers filling memory with addresses. */
  maxCandidates?: number
  /** ms the relayed connection stays after a direct one exists, then it is closed; false keeps it. Default 10 000. */
  relayedCloseGrace?: number | false
  /** Message size and address caps (spec/dcutr.md Limits). */
  messageLimits?: Partial<DcutrMessageLimits>
}
