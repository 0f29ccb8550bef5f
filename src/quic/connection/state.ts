/**
 * The internal state of one QUIC connection, shared by the receive path (connection.ts) and the
 * packet builder (transmit.ts). Not exported from the package.
 */
import type { TlsCrypto } from '../../core/crypto/tls.js'
import { EventQueue } from '../../core/event-queue.js'
import type { TlsHandshake } from '../../tls/index.js'
import type { PacketKeys } from '../protection.js'
import type { AckTracker, Recovery } from '../recovery/index.js'
import type { QuicStreams } from '../streams/index.js'
import type { TransportParameters } from '../transport-params.js'
import type { Frame, PacketNumberSpace } from '../types.js'
import type { LocalCids, PeerCids } from './cids.js'
import type { CryptoRecv, CryptoSend } from './crypto-stream.js'
import type { PathState } from './path.js'
import type { PendingPackets } from './pending.js'
import type { QuicCloseInfo, QuicConnectionEvent, QuicConnectionLimits, QuicConnectionState, QuicConnectionStats } from './options.js'
import type { PmtuSearch } from './pmtu.js'

export interface Space {
  readonly name: PacketNumberSpace
  nextPn: number
  /** Keys we seal with; for 'application' the current key phase's. */
  send: PacketKeys | undefined
  recv: PacketKeys | undefined
  readonly cryptoSend: CryptoSend
  readonly cryptoRecv: CryptoRecv
  discarded: boolean
  /** Ack-eliciting packets a PTO asked for in this space. */
  probes: number
}

/** 1-RTT key phases (RFC 9001 §6). */
export interface KeyPhase {
  phase: 0 | 1
  /** Receive keys of the previous phase (packets still in flight), until 3 PTO after the new phase's first packet (keys.ts). */
  prevRecv: PacketKeys | undefined
  /** When `prevRecv` (these keys) is discarded (keys.ts). */
  discard: { keys: PacketKeys, at: number } | undefined
  /** Receive keys of the next phase, ready for the peer's update. */
  nextRecv: PacketKeys | undefined
  /** The first packet number we sent in this phase; an update needs an ACK at or above it. */
  firstSentPn: number
  /** The first packet number received in this phase (undefined: none yet). */
  firstRecvPn: number | undefined
  /** 1-RTT packets sealed with the current keys. */
  sentWithKeys: number
}

export interface ConnState {
  readonly role: 'client' | 'server'
  readonly crypto: TlsCrypto
  readonly limits: QuicConnectionLimits
  readonly random: (n: number) => Uint8Array
  readonly tls: TlsHandshake
  readonly streams: QuicStreams
  readonly recovery: Recovery<Frame>
  readonly ack: AckTracker
  readonly spaces: Record<PacketNumberSpace, Space>
  readonly keys: KeyPhase
  readonly localCids: LocalCids
  readonly peerCids: PeerCids
  readonly localCid: Uint8Array
  readonly events: EventQueue<QuicConnectionEvent>
  readonly stats: QuicConnectionStats
  state: QuicConnectionState
  token: Uint8Array
  /** The peer's transport parameters, once the handshake completed. */
  peerParams: TransportParameters | undefined
  handshakeComplete: boolean
  handshakeConfirmed: boolean
  /** Server: HANDSHAKE_DONE owed. */
  handshakeDonePending: boolean
  /** Server: the client's address is validated (no 3x limit). */
  addressValidated: boolean
  /** Bytes received and sent on this path before validation (server). */
  bytesReceived: number
  bytesSent: number
  /** The server is blocked by the three-times limit (recovery knows too). */
  amplificationLimited: boolean
  /** PATH_RESPONSE data owed (the latest challenge only). */
  pathResponse: Uint8Array | undefined
  /** PATH_CHALLENGE data to send (probePath), and the one in flight with its send time. */
  pathChallenge: Uint8Array | undefined
  pathChallengeSent: { data: Uint8Array, at: number } | undefined
  /** Keep-alive interval (0: off) and when the last ack-eliciting packet went out. */
  readonly keepAlive: number
  lastAckElicitingSent: number
  /** A PING was asked for (keep-alive or ping()). */
  pingPending: boolean
  /** The max datagram size in use (1200 until a PMTU probe succeeds). */
  maxDatagramSize: number
  /** DPLPMTUD (RFC 9000 §14.3): the search for a larger datagram size (pmtu.ts). */
  readonly pmtu: PmtuSearch
  /** Idle deadline; undefined before the first packet is sent or when disabled. */
  idleDeadline: number | undefined
  idleTimeout: number
  /** An ack-eliciting packet was sent since the last packet received (idle timer restarts only once, §10.1). */
  sentAckElicitingSinceRecv: boolean
  /** When closing/draining ends. */
  closeDeadline: number | undefined
  closeInfo: QuicCloseInfo | undefined
  /** The CONNECTION_CLOSE frame to (re)send while closing. */
  closeFrame: Extract<Frame, { type: 'connection_close' }> | undefined
  closeSendPending: boolean
  closeRetransmits: number
  /** Pacing: the earliest time an ack-eliciting packet may go (undefined: not blocked). */
  pacingDeadline: number | undefined
  /** Client: the packet that set the server's connection id has been received. */
  receivedFromPeer: boolean
  /** Client: the Destination Connection ID of our first Initial (original_destination_connection_id). */
  readonly originalDcid: Uint8Array
  /** The Retry's Source Connection ID (client after a Retry; server created after one). */
  retryScid: Uint8Array | undefined
  undecryptable: number
  /** The peer's address and its validation (path.ts). */
  readonly path: PathState
  /** Packets held until their keys arrive (pending.ts). */
  readonly pending: PendingPackets
}
