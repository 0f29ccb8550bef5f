/**
 * The trace event model (spec/trace.md): what `weft trace`, `createNode({ trace })` and the offline
 * capture decryptor print, one event per line. It lives in core so that every protocol core can name
 * its hook's type (types only: nothing here reaches a bundle); src/trace/events.ts re-exports it.
 *
 * Three levels:
 * - `CoreTrace`: what the sans-IO cores hand their `TraceHook` (connection, upgrade, multistream,
 *   Noise, stream table). Cheap to build: raw material (a Noise payload's bytes, yamux plaintext)
 *   is decoded by the tracer, which only weft/node loads, so browser bundles carry none of it.
 * - `TraceBody`: a decoded event without time or connection id.
 * - `TraceEvent`: a `TraceBody` with the node's time and the connection id, as printed.
 *
 * Cost when off: every core holds `#trace: TraceHook | undefined` and each emission is guarded by
 * `if (this.#trace)`: no object is built and no byte copied while it is undefined. Tracing never
 * changes behaviour. Keys are never trace events: the keylog has its own hook (`KeylogHook`).
 */

export type Direction = 'in' | 'out'

/** A Noise handshake payload as weft read it (noise/README.md "The libp2p Handshake Payload"). */
export interface NoisePayloadView {
  /** The peer id of the payload's identity_key. */
  identityKey: string
  /** The identity key's type: 'Ed25519', 'Secp256k1', 'ECDSA' or 'RSA'. */
  keyType: string
  /** identity_sig, hex. */
  signature: string
  /** extensions.stream_muxers (early muxer negotiation), in the sender's order. */
  muxers: string[]
}

export type YamuxFrameType = 'data' | 'window-update' | 'ping' | 'go-away'
export type YamuxFlag = 'SYN' | 'ACK' | 'FIN' | 'RST'
export type StateLayer = 'connection' | 'upgrade' | 'noise' | 'tls' | 'quic' | 'yamux' | 'stream'

/** A QUIC packet's kind (RFC 9000 §17: the long header types, the short header's 1-RTT). */
export type QuicPacketKind = 'initial' | '0rtt' | 'handshake' | 'retry' | '1rtt' | 'version_negotiation' | 'unsupported_version'

/**
 * One QUIC frame summarised (RFC 9000 §19): `type` is the RFC's frame name in lower case; STREAM:
 * `id`, `offset`, `length`, `fin`; CRYPTO: `offset`, `length`; ACK: `ranges` as [smallest, largest]
 * pairs, `delay` (the raw field); the others their fields (numbers; bytes as hex).
 */
export type QuicFrameView = { type: string } & Record<string, unknown>

/** A decoded event (no time, no connection id). */
export type TraceBody =
  /** Raw bytes on the socket (sizes only). */
  | { kind: 'transport'; dir: Direction; bytes: number }
  /** One multistream-select message; `stream` undefined: connection level (/noise, /yamux/1.0.0). */
  | { kind: 'multistream'; dir: Direction; stream?: number; line: string }
  /** One Noise XX handshake message; `payload` when weft could read it (messages 2 and 3). */
  | {
      kind: 'noise-handshake'; dir: Direction; message: 1 | 2 | 3; bytes: number
      /** The sender's ephemeral public key, hex ('' when the message carries none). */
      ephemeral: string
      payload?: NoisePayloadView
    }
  /** One TLS 1.3 handshake message (RFC 8446 §4), over TCP or in QUIC CRYPTO frames, decoded (src/trace/tls-view.ts). */
  | {
      kind: 'tls-handshake'; dir: Direction; level: 'initial' | 'handshake' | 'application'
      /** The HandshakeType's name (`client_hello`, `server_hello`, `hello_retry_request`, ...). */
      type: string; bytes: number; fields: Record<string, unknown>
    }
  /** One QUIC packet (RFC 9000 §17) after header and packet protection are removed, its frames summarised. */
  | {
      kind: 'quic-packet'; dir: Direction; packet: QuicPacketKind; bytes: number
      /** The packet number (absent for Retry, Version Negotiation and packets not decrypted). */
      pn?: number
      dcid: string; scid?: string
      /** 1-RTT: the Key Phase bit (RFC 9001 §6). */
      keyPhase?: 0 | 1
      frames: QuicFrameView[]
      /** Why the packet was not decrypted ('no-keys', 'undecryptable', 'too-short', a frame error). */
      undecryptable?: string
    }
  /** One yamux frame header, after decryption. `length`: data length, window delta, ping opaque or go-away code. */
  | { kind: 'yamux-frame'; dir: Direction; type: YamuxFrameType; flags: YamuxFlag[]; stream: number; length: number }
  /** One protocol message decoded from a stream (src/trace/decode). */
  | { kind: 'message'; dir: Direction; stream: number; protocol: string; name: string; fields: Record<string, unknown> }
  /** A state change, named as the layer's spec names it. */
  | {
      kind: 'state'; layer: StateLayer; stream?: number; from?: string; to: string
      /** The protocol agreed or proposed, when the change is about one. */
      protocol?: string
      /** Early muxer negotiation (the muxer came from the Noise extensions). */
      early?: boolean
      /** Why (an error code, a remote address, a go-away code). */
      reason?: string | undefined
    }

/** A printed event: a body with the node's time and the connection's id. */
export type TraceEvent = TraceBody & {
  /** Milliseconds since the epoch (fractional), from the node's clock. */
  t: number
  /** Connection id, unique per node ('c1', 'c2', ...). */
  conn: string
}

/**
 * What the cores emit. Most kinds are `TraceBody` already; two are raw material the tracer decodes
 * (src/trace/tracer.ts), so that the decoding code stays out of the cores and out of browser bundles:
 * - `noise-message`: a handshake message as sent (its `e`, when it has one, is its first 32 bytes,
 *   in clear) and its payload's plaintext (empty for message 1); an inbound one once its payload
 *   was verified;
 * - `yamux-bytes`: yamux plaintext in or out (after decryption, before encryption), which the tracer
 *   cuts into frames with yamux's own FrameReader. Only valid during the call;
 * - `stream-data`: a negotiated stream's bytes as the application reads or writes them, which the
 *   tracer feeds to the decoder of the protocol the stream's lines agreed on (never printed).
 */
export type CoreTrace =
  | Exclude<TraceBody, { kind: 'noise-handshake' | 'yamux-frame' | 'message' | 'tls-handshake' | 'quic-packet' }>
  | { kind: 'stream-data'; dir: Direction; stream: number; data: Uint8Array }
  /** A stream event of the connection as the application gets it (its `stream-data` bytes, `stream-eof`). */
  | { kind: 'stream-event'; event: { type: string; id?: number; data?: Uint8Array } }
  | { kind: 'noise-message'; dir: Direction; message: Uint8Array; payload: Uint8Array }
  | { kind: 'yamux-bytes'; dir: Direction; data: Uint8Array }
  /** TLS over TCP: one handshake message (header and body) as sent or received, which the tracer decodes. */
  | { kind: 'tls-message'; dir: Direction; level: 'initial' | 'handshake' | 'application'; message: Uint8Array }
  /** QUIC: one whole UDP datagram as sent, or as received once the connection handled it (the tracer decrypts it). */
  | { kind: 'quic-datagram'; dir: Direction; data: Uint8Array }
  /** QUIC: a traffic secret as the handshake derives it, so the tracer can decrypt (never printed). SECRET. */
  | { kind: 'tls-secret'; label: TlsKeylogLabel; secret: Uint8Array }

/** A core's trace hook. Called synchronously; `Uint8Array`s in the event are only valid during the call. */
export type TraceHook = (e: CoreTrace) => void

/**
 * The keylog hook (spec/trace.md "Keylog"): called once per connection after Noise's Split(), with the
 * initiator's ephemeral public key and the two transport keys (k1: initiator -> responder, k2:
 * responder -> initiator). SECRETS: whoever holds them can decrypt the whole session.
 */
export type KeylogHook = (initiatorEphemeral: Uint8Array, k1: Uint8Array, k2: Uint8Array) => void

/** The NSS key log labels of a TLS 1.3 connection's four traffic secrets. */
export type TlsKeylogLabel = 'CLIENT_HANDSHAKE_TRAFFIC_SECRET' | 'SERVER_HANDSHAKE_TRAFFIC_SECRET' | 'CLIENT_TRAFFIC_SECRET_0' | 'SERVER_TRAFFIC_SECRET_0'

/**
 * The TLS keylog hook (spec/trace.md "Keylog"): called for each of a `/tls/1.0.0` connection's four
 * traffic secrets as the handshake derives them, with the ClientHello's random that names the
 * connection in the NSS key log format. SECRETS, like KeylogHook's.
 */
export type TlsKeylogHook = (label: TlsKeylogLabel, clientRandom: Uint8Array, secret: Uint8Array) => void

/** One decoded protocol message (src/trace/decode). */
export interface DecodedMessage {
  name: string
  fields: Record<string, unknown>
}

/**
 * An incremental decoder of one direction of one stream (src/trace/decode): `push` takes bytes in any
 * split (only valid during the call: copy what you keep) and returns the whole messages they
 * complete. Bounded (a message over the protocol's limit yields one `undecodable` message and the
 * decoder stops); never throws.
 */
export interface StreamDecoder {
  push(bytes: Uint8Array): DecodedMessage[]
  /** The direction ended (the writer's half-close): what only EOF completes. */
  end?(): DecodedMessage[]
}

/** What the tracer knows of a stream direction beyond its protocol. */
export interface StreamHint {
  /** True when this direction is written by the side that opened the stream (from the stream id's parity and the role). */
  opener?: boolean | undefined
}

/** `createDecoder` of src/trace/decode: a decoder for `protocol` in direction `dir`, or undefined. */
export type DecoderFactory = (protocol: string, dir: Direction, hint?: StreamHint) => StreamDecoder | undefined
