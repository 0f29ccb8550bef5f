/**
 * Reservation vouchers (libp2p/specs relay/circuit-v2.md "Reservation Vouchers"): a signed envelope
 * (RFC 0002, src/peer-id/envelope.ts) in which the relay certifies that it serves the reserving peer.
 *
 *   domain        "libp2p-relay-rsvp"
 *   payload type  03 02 (the multicodec 0x0302 as two big-endian bytes, like the peer record's 03 01)
 *   payload       Voucher { relay = 1 bytes (peer id); peer = 2 bytes (peer id); expiration = 3 uint64 }
 *
 * The payload is written canonically (fields 1, 2, 3, each set, nothing else). Vouchers are advisory
 * in the spec; a client may still check one it receives (`openVoucher`): the signature, the payload
 * type, that the signer is the relay the voucher names, and optionally that relay and peer are the
 * ones expected. Expiry against a clock is the caller's business (this module has no clock).
 */
import type { CryptoProvider } from '../core/crypto/provider.js'
import { ProtocolError } from '../core/errors.js'
import { equals } from '../core/bytes.js'
import { WIRE_LEN, WIRE_VARINT, decodeMessage, encodeMessage, tag } from '../core/protobuf.js'
import { PeerId, openEnvelope, sealEnvelope } from '../peer-id/index.js'
import type { Envelope, PrivateKey } from '../peer-id/index.js'
import type { RelayErrorCode } from './message.js'
import { DEFAULT_RELAY_MESSAGE_LIMITS } from './message.js'

/** The envelope domain of reservation vouchers (circuit-v2.md "Reservation Vouchers"). */
export const VOUCHER_DOMAIN = 'libp2p-relay-rsvp'
/** The envelope payload type of reservation vouchers: multicodec 0x0302 as a varint. */
export const VOUCHER_PAYLOAD_TYPE = Uint8Array.of(0x03, 0x02)

/** A reservation voucher (circuit-v2.md "Reservation Vouchers"): the relay, the peer, and the expiry. */
export interface Voucher {
  /** The relay, which signs the voucher. */
  relay: PeerId
  /** The reserving peer. */
  peer: PeerId
  /** UTC UNIX seconds (uint64). */
  expiration: bigint
}

const MAX_UINT64 = (1n << 64n) - 1n

const fail = (code: RelayErrorCode, message?: string, cause?: unknown): ProtocolError<RelayErrorCode> =>
  new ProtocolError<RelayErrorCode>('relay', code, message, cause === undefined ? undefined : { cause })

/** The canonical Voucher payload. */
export function encodeVoucher(v: Voucher): Uint8Array {
  if (typeof v.expiration !== 'bigint' || v.expiration < 0n || v.expiration > MAX_UINT64) throw new RangeError('expiration must be a bigint in [0, 2^64)')
  return encodeMessage((w) => {
    w.uint32(tag(1, WIRE_LEN)).bytes(v.relay.multihash)
    w.uint32(tag(2, WIRE_LEN)).bytes(v.peer.multihash)
    w.uint32(tag(3, WIRE_VARINT)).uint64(v.expiration)
  })
}

/** Decode a Voucher payload: all three fields required, none repeated; unknown fields skipped. */
export function decodeVoucher(bytes: Uint8Array): Voucher {
  let relay: Uint8Array | undefined
  let peer: Uint8Array | undefined
  let expiration: bigint | undefined
  const repeated = (name: string): never => {
    throw fail('relay/voucher-malformed', `repeated ${name}`)
  }
  try {
    decodeMessage(bytes, 'relay', DEFAULT_RELAY_MESSAGE_LIMITS.maxMessageSize, (field, r) => {
      if (field === 1) {
        if (relay !== undefined) repeated('relay')
        relay = r.bytes()
      } else if (field === 2) {
        if (peer !== undefined) repeated('peer')
        peer = r.bytes()
      } else if (field === 3) {
        if (expiration !== undefined) repeated('expiration')
        expiration = r.uint64Big()
      } else r.skip()
    })
  } catch (e) {
    if (e instanceof ProtocolError && e.code.startsWith('relay/')) throw e
    throw fail('relay/voucher-malformed', e instanceof Error ? e.message : String(e), e)
  }
  if (relay === undefined || peer === undefined || expiration === undefined) {
    throw fail('relay/voucher-malformed', `missing ${relay === undefined ? 'relay' : peer === undefined ? 'peer' : 'expiration'}`)
  }
  const id = (b: Uint8Array, name: string): PeerId => {
    try {
      return PeerId.fromMultihash(b)
    } catch (e) {
      throw fail('relay/voucher-malformed', `${name}: ${e instanceof Error ? e.message : String(e)}`, e)
    }
  }
  return { relay: id(relay, 'relay'), peer: id(peer, 'peer'), expiration }
}

/** Seal a voucher with the relay's key; `voucher.relay` must be that key's peer id. */
export function sealVoucher(key: PrivateKey, voucher: Voucher, crypto: CryptoProvider): Envelope {
  if (!voucher.relay.equals(key.publicKey.toPeerId(crypto))) throw new RangeError('a voucher must be signed by the relay it names')
  return sealEnvelope(key, VOUCHER_DOMAIN, VOUCHER_PAYLOAD_TYPE, encodeVoucher(voucher), crypto)
}

/** Options of `openVoucher`: the relay and peer the voucher must name. */
export interface OpenVoucherOptions {
  /** The relay the voucher must name (the peer the reservation was made with). */
  relay?: PeerId
  /** The peer the voucher must name (our own peer id, for a client). */
  peer?: PeerId
}

/**
 * Open a voucher envelope received in `Reservation.voucher`: verify the signature under the voucher
 * domain, the payload type, the payload, that the signer is `voucher.relay`, and the expected relay
 * and peer when given. Signed-envelope failures surface as `relay/voucher-invalid-signature`
 * (signature) or `relay/voucher-malformed` (anything else); the cause keeps the envelope's code.
 */
export function openVoucher(bytes: Uint8Array, crypto: CryptoProvider, expect: OpenVoucherOptions = {}): { envelope: Envelope; voucher: Voucher } {
  let envelope: Envelope
  try {
    envelope = openEnvelope(bytes, VOUCHER_DOMAIN, crypto, { maxSize: DEFAULT_RELAY_MESSAGE_LIMITS.maxMessageSize })
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e
    throw fail(e.code === 'envelope/invalid-signature' ? 'relay/voucher-invalid-signature' : 'relay/voucher-malformed', `${e.code}: ${e.message}`, e)
  }
  if (!equals(envelope.payloadType, VOUCHER_PAYLOAD_TYPE)) throw fail('relay/voucher-wrong-payload-type')
  const voucher = decodeVoucher(envelope.payload)
  const signer = PeerId.fromPublicKey(envelope.publicKey, crypto)
  if (!voucher.relay.equals(signer)) throw fail('relay/voucher-signer-mismatch', `voucher names relay ${voucher.relay.toString()}, signed by ${signer.toString()}`)
  if (expect.relay !== undefined && !voucher.relay.equals(expect.relay)) throw fail('relay/voucher-relay-mismatch', `expected ${expect.relay.toString()}, got ${voucher.relay.toString()}`)
  if (expect.peer !== undefined && !voucher.peer.equals(expect.peer)) throw fail('relay/voucher-peer-mismatch', `expected ${expect.peer.toString()}, got ${voucher.peer.toString()}`)
  return { envelope, voucher }
}
