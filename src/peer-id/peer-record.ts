/**
 * Peer records (libp2p RFC 0003, "Peer Routing Records"): a peer's own listen addresses with a sequence
 * number, self-certified by wrapping the record in a signed envelope (RFC 0002).
 *
 *   message PeerRecord {
 *     message AddressInfo { bytes multiaddr = 1; }
 *     bytes peer_id = 1;                  // the peer id's binary form (its multihash)
 *     uint64 seq = 2;                     // increases monotonically with every new record
 *     repeated AddressInfo addresses = 3;
 *   }
 *
 * Envelope domain "libp2p-peer-record", payload type 0x03 0x01 (the `libp2p-peer-record` multicodec
 * 0x0301 as two big-endian bytes). Both differ from the RFC text; see spec/signed-envelope.md.
 * Opening verifies the signature BEFORE decoding the payload, then requires that the record's peer id
 * is the envelope key's peer id, as the RFC says.
 */
import type { CryptoProvider } from '../core/crypto/provider.js'
import { ProtocolError } from '../core/errors.js'
import { equals } from '../core/bytes.js'
import { WIRE_LEN, WIRE_VARINT, decodeMessage, encodeMessage, tag } from '../core/protobuf.js'
import { Multiaddr } from '../multiaddr/index.js'
import { PeerId } from './peer-id.js'
import type { PrivateKey } from './keys.js'
import { openEnvelope, sealEnvelope } from './envelope.js'
import type { Envelope, OpenEnvelopeOptions } from './envelope.js'

/** The `ProtocolError('peer-record', code)` codes of `openPeerRecord` (RFC 0003 "Peer Routing Records"). */
export type PeerRecordErrorCode =
  | 'peer-record/wrong-payload-type'
  | 'peer-record/malformed'
  | 'peer-record/missing-peer-id'
  | 'peer-record/invalid-peer-id'
  | 'peer-record/peer-id-mismatch'
  | 'peer-record/invalid-multiaddr'
  | 'peer-record/too-many-addresses'

/** A peer routing record (RFC 0003): a peer's addresses with a sequence number; a higher `seq` replaces a lower one. */
export interface PeerRecord {
  /** The peer the record describes (must be the envelope's signer). */
  peerId: PeerId
  /** Sequence number: a record with a higher one replaces a lower one. */
  seq: bigint
  /** The peer's addresses. */
  addrs: Multiaddr[]
}

/** The signing domain of peer records in their envelope (RFC 0003 "Signed Envelope"). */
export const PEER_RECORD_DOMAIN = 'libp2p-peer-record'
/** The envelope payload type of peer records: the multicodec `libp2p-peer-record` (0x0301) as an unsigned varint. */
export const PEER_RECORD_PAYLOAD_TYPE = Uint8Array.of(0x03, 0x01)

/**
 * Most addresses accepted in one record. The envelope size limit already bounds the count; this
 * names the bound so a record cannot flood a peer store with thousands of tiny addresses.
 */
export const MAX_PEER_RECORD_ADDRESSES = 256

const MAX_UINT64 = (1n << 64n) - 1n

const fail = (code: PeerRecordErrorCode, message?: string, cause?: unknown): ProtocolError<PeerRecordErrorCode> =>
  new ProtocolError<PeerRecordErrorCode>('peer-record', code, message, cause === undefined ? undefined : { cause })

/** The PeerRecord protobuf (proto3: seq 0 is omitted). */
export function encodePeerRecord(record: PeerRecord): Uint8Array {
  const { peerId, seq, addrs } = record
  if (typeof seq !== 'bigint' || seq < 0n || seq > MAX_UINT64) throw new RangeError('seq must be a bigint in [0, 2^64)')
  return encodeMessage((w) => {
    w.uint32(tag(1, WIRE_LEN)).bytes(peerId.multihash)
    if (seq > 0n) w.uint32(tag(2, WIRE_VARINT)).uint64(seq)
    for (const addr of addrs) {
      w.uint32(tag(3, WIRE_LEN)).fork()
      w.uint32(tag(1, WIRE_LEN)).bytes(addr.bytes)
      w.ldelim()
    }
  })
}

/** Decode a PeerRecord payload. Unknown fields are skipped (the RFC keeps the record extensible). */
export function decodePeerRecord(bytes: Uint8Array, maxAddresses = MAX_PEER_RECORD_ADDRESSES): PeerRecord {
  let peerIdBytes: Uint8Array | undefined
  let seq: bigint | undefined
  const addrBytes: Uint8Array[] = []
  try {
    decodeMessage(bytes, 'peer-record', bytes.length, (field, r) => {
      if (field === 1) {
        if (peerIdBytes !== undefined) throw fail('peer-record/malformed', 'repeated peer_id')
        peerIdBytes = r.bytes()
      } else if (field === 2) {
        if (seq !== undefined) throw fail('peer-record/malformed', 'repeated seq')
        seq = r.uint64Big()
      } else if (field === 3) {
        if (addrBytes.length >= maxAddresses) throw fail('peer-record/too-many-addresses', `more than ${maxAddresses}`)
        addrBytes.push(decodeAddressInfo(r.bytes()))
      } else {
        r.skip()
      }
    })
  } catch (e) {
    if (e instanceof ProtocolError && e.code.startsWith('peer-record/')) throw e
    throw fail('peer-record/malformed', e instanceof Error ? e.message : String(e), e)
  }
  if (peerIdBytes === undefined || peerIdBytes.length === 0) throw fail('peer-record/missing-peer-id')
  let peerId: PeerId
  try {
    peerId = PeerId.fromMultihash(peerIdBytes)
  } catch (e) {
    throw fail('peer-record/invalid-peer-id', e instanceof Error ? e.message : String(e), e)
  }
  const addrs = addrBytes.map((b) => {
    try {
      return Multiaddr.fromBytes(b)
    } catch (e) {
      throw fail('peer-record/invalid-multiaddr', e instanceof Error ? e.message : String(e), e)
    }
  })
  return { peerId, seq: seq ?? 0n, addrs }
}

/** `AddressInfo { bytes multiaddr = 1; }`: the multiaddr bytes (unknown per-address fields skipped). */
function decodeAddressInfo(bytes: Uint8Array): Uint8Array {
  let addr: Uint8Array | undefined
  decodeMessage(bytes, 'peer-record', bytes.length, (field, r) => {
    if (field !== 1) return r.skip()
    if (addr !== undefined) throw fail('peer-record/malformed', 'repeated AddressInfo.multiaddr')
    addr = r.bytes()
  })
  if (addr === undefined || addr.length === 0) throw fail('peer-record/invalid-multiaddr', 'AddressInfo without a multiaddr')
  return addr
}

/** Sign a peer record with the peer's own key. The record's peer id must be that key's peer id. */
export function sealPeerRecord(key: PrivateKey, record: PeerRecord, crypto: CryptoProvider): Envelope {
  if (!record.peerId.equals(key.publicKey.toPeerId(crypto))) throw new RangeError('a peer record must be signed by its own peer')
  return sealEnvelope(key, PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE, encodePeerRecord(record), crypto)
}

/**
 * Open a signed peer record: verify the envelope under the peer record domain, check the payload type,
 * decode the record, and check that its peer id is the signer's.
 */
export function openPeerRecord(bytes: Uint8Array, crypto: CryptoProvider, options: OpenEnvelopeOptions = {}): { envelope: Envelope; record: PeerRecord } {
  const envelope = openEnvelope(bytes, PEER_RECORD_DOMAIN, crypto, options)
  if (!equals(envelope.payloadType, PEER_RECORD_PAYLOAD_TYPE)) throw fail('peer-record/wrong-payload-type')
  const record = decodePeerRecord(envelope.payload)
  if (!record.peerId.equals(PeerId.fromPublicKey(envelope.publicKey, crypto))) {
    throw fail('peer-record/peer-id-mismatch', `record for ${record.peerId.toString()} signed by ${envelope.publicKey.toPeerId(crypto).toString()}`)
  }
  return { envelope, record }
}
