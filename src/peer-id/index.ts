/**
 * weft peer-id: libp2p keys, peer ids, signed envelopes and peer records.
 *
 * Specs: libp2p/specs peer-ids/peer-ids.md, RFC/0002-signed-envelopes.md, RFC/0003-routing-records.md.
 * Notes in spec/peer-id.md and spec/signed-envelope.md.
 *
 * @module weft/peer-id
 */
export {
  KEY_TYPES,
  MAX_PUBLIC_KEY_BYTES,
  MAX_PRIVATE_KEY_BYTES,
  PublicKey,
  PrivateKey,
  encodeKeyMessage,
  generatePrivateKey,
  privateKeyFromSeed,
  privateKeyFromProtobuf,
  publicKeyFromProtobuf,
} from './keys.js'
export type { KeyType } from './keys.js'
export type { PeerIdErrorCode } from './errors.js'
export {
  PeerId,
  LIBP2P_KEY_CODEC,
  MAX_INLINE_KEY_LENGTH,
  MAX_PEER_ID_TEXT_LENGTH,
  MULTIHASH_IDENTITY,
  MULTIHASH_SHA2_256,
} from './peer-id.js'
export { MAX_ENVELOPE_BYTES, envelopeSignedData, openEnvelope, sealEnvelope } from './envelope.js'
export type { Envelope, EnvelopeErrorCode, OpenEnvelopeOptions } from './envelope.js'
export {
  MAX_PEER_RECORD_ADDRESSES,
  PEER_RECORD_DOMAIN,
  PEER_RECORD_PAYLOAD_TYPE,
  decodePeerRecord,
  encodePeerRecord,
  openPeerRecord,
  sealPeerRecord,
} from './peer-record.js'
export type { PeerRecord, PeerRecordErrorCode } from './peer-record.js'
