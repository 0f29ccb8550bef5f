/**
 * The signed peer records rendezvous carries, in both envelope layouts met in the wild:
 *
 * - `standard`: RFC 0003's domain `libp2p-peer-record`, payload type 0x0301 (go, js, weft's identify);
 * - `rust-legacy`: rust-libp2p's rendezvous (libp2p-rendezvous 0.18, rust-libp2p 0.57) signs and
 *   accepts only domain `libp2p-routing-state`, payload type `/libp2p/routing-state-record` (its
 *   `PeerRecord::new` / `from_signed_envelope`). The payload (the PeerRecord protobuf) is the same.
 *
 * Weft opens both (a rendezvous point serving rust and weft clients at once) and seals the one the
 * client's `recordFormat` option names (`standard` by default; `rust-legacy` to register at a rust point).
 */
import type { CryptoProvider } from '../core/index.js'
import { equals } from '../core/bytes.js'
import { ProtocolError } from '../core/errors.js'
import {
  PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE, decodePeerRecord, encodePeerRecord, openEnvelope, openPeerRecord, sealEnvelope,
  type PeerRecord, type PrivateKey,
} from '../peer-id/index.js'

/**
 * How a registration's peer record is sealed: `standard` (RFC 0003 peer record) or `rust-legacy` (older rust-libp2p points).
 */
export type RecordFormat = 'standard' | 'rust-legacy'

/** The envelope domain of the `rust-legacy` record format. */
export const LEGACY_RECORD_DOMAIN = 'libp2p-routing-state'
/** The envelope payload type of the `rust-legacy` record format. */
export const LEGACY_RECORD_PAYLOAD_TYPE = new TextEncoder().encode('/libp2p/routing-state-record')

/** Seal `record` with `key` in `format`; the envelope's bytes. */
export function sealRendezvousRecord(key: PrivateKey, record: PeerRecord, crypto: CryptoProvider, format: RecordFormat = 'standard'): Uint8Array {
  if (format === 'standard') return sealEnvelope(key, PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE, encodePeerRecord(record), crypto).bytes
  return sealEnvelope(key, LEGACY_RECORD_DOMAIN, LEGACY_RECORD_PAYLOAD_TYPE, encodePeerRecord(record), crypto).bytes
}

/**
 * Open a signed peer record in either format. Throws ProtocolError (signed-envelope / peer-record
 * codes) when it verifies in neither, or names a peer other than its signer.
 */
export function openRendezvousRecord(bytes: Uint8Array, crypto: CryptoProvider, maxSize?: number): { record: PeerRecord; format: RecordFormat } {
  const opts = maxSize === undefined ? {} : { maxSize }
  try {
    return { record: openPeerRecord(bytes, crypto, opts).record, format: 'standard' }
  } catch (standardError) {
    let env
    try {
      env = openEnvelope(bytes, LEGACY_RECORD_DOMAIN, crypto, opts)
    } catch {
      throw standardError
    }
    if (!equals(env.payloadType, LEGACY_RECORD_PAYLOAD_TYPE)) throw standardError
    const record = decodePeerRecord(env.payload)
    if (!record.peerId.equals(env.publicKey.toPeerId(crypto))) {
      throw new ProtocolError('peer-record', 'peer-record/peer-id-mismatch', 'record names a peer other than its signer')
    }
    return { record, format: 'rust-legacy' }
  }
}
