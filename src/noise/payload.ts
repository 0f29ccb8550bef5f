/**
 * The libp2p handshake payload (libp2p/specs noise/README.md, "The libp2p Handshake Payload").
 *
 *   message NoiseExtensions {
 *     repeated bytes webtransport_certhashes = 1;
 *     repeated string stream_muxers = 2;
 *   }
 *   message NoiseHandshakePayload {
 *     optional bytes identity_key = 1;   // the libp2p PublicKey protobuf (peer-ids spec)
 *     optional bytes identity_sig = 2;   // identity key's signature over
 *                                        //   "noise-libp2p-static-key:" || Noise static public key
 *     optional NoiseExtensions extensions = 4;
 *   }
 *
 * The responder sends it in message 2 and the initiator in message 3 (never in message 1, which has
 * no secrecy). A receiver decodes identity_key, verifies identity_sig against the static key `rs`
 * the Noise handshake just delivered, and only then hands identity and extensions upward.
 */
import type { CryptoProvider } from '../core/crypto/provider.js'
import { ProtocolError } from '../core/errors.js'
import { concat, utf8 } from '../core/bytes.js'
import { WIRE_LEN, decodeMessage, encodeMessage, tag } from '../core/protobuf.js'
import { type PeerId, type PrivateKey, type PublicKey, publicKeyFromProtobuf } from '../peer-id/index.js'
import { noiseError } from './errors.js'
import { MAX_NOISE_MESSAGE } from './symmetric-state.js'

/** The prefix of the signed data: the UTF-8 string "noise-libp2p-static-key:". */
export const STATIC_KEY_SIGNATURE_PREFIX = utf8('noise-libp2p-static-key:')

/**
 * At most this many entries in each repeated extensions field. Real peers send one or two. A remote
 * that sends more gets its whole NoiseExtensions ignored (as go-libp2p does), not an error: the
 * extensions are optional hints, and the cap stops it from making us keep tens of thousands of tiny
 * strings that every layer above would then store and search.
 */
export const MAX_EXTENSION_ENTRIES = 64

/**
 * The `NoiseExtensions` protobuf of the libp2p noise spec: WebTransport certificate hashes and the stream muxers we support (early muxer negotiation).
 */
export interface NoiseExtensions {
  webtransportCerthashes: Uint8Array[]
  streamMuxers: string[]
}

/**
 * The `NoiseHandshakePayload` protobuf (libp2p noise spec "The libp2p Handshake Payload"): the identity key, its signature over the static Noise key, and extensions.
 */
export interface NoiseHandshakePayload {
  identityKey?: Uint8Array
  identitySig?: Uint8Array
  extensions?: NoiseExtensions
}

/** Encode a `NoiseHandshakePayload` as protobuf (fields 1 identity_key, 2 identity_sig, 4 extensions). */
export function encodeHandshakePayload(p: NoiseHandshakePayload): Uint8Array {
  return encodeMessage((w) => {
    if (p.identityKey !== undefined) w.uint32(tag(1, WIRE_LEN)).bytes(p.identityKey)
    if (p.identitySig !== undefined) w.uint32(tag(2, WIRE_LEN)).bytes(p.identitySig)
    if (p.extensions !== undefined) w.uint32(tag(4, WIRE_LEN)).bytes(encodeExtensions(p.extensions))
  })
}

function encodeExtensions(x: NoiseExtensions): Uint8Array {
  return encodeMessage((w) => {
    for (const h of x.webtransportCerthashes) w.uint32(tag(1, WIRE_LEN)).bytes(h)
    for (const m of x.streamMuxers) w.uint32(tag(2, WIRE_LEN)).string(m)
  })
}

/** Decode remote payload bytes. Any malformation is ProtocolError 'noise/bad-payload'. */
export function decodeHandshakePayload(bytes: Uint8Array): NoiseHandshakePayload {
  const out: NoiseHandshakePayload = {}
  let extensions: NoiseExtensions | undefined
  try {
    decodeMessage(bytes, 'noise', MAX_NOISE_MESSAGE, (field, r) => {
      if (field === 1) out.identityKey = r.bytes()
      else if (field === 2) out.identitySig = r.bytes()
      // protobuf: a repeated occurrence of an embedded message merges into it (repeated fields append)
      else if (field === 4) extensions = decodeExtensions(r.bytes(), extensions ?? { webtransportCerthashes: [], streamMuxers: [] })
      else r.skip()
    })
  } catch (e) {
    throw wrap(e, 'NoiseHandshakePayload')
  }
  const tooMany = extensions !== undefined && (extensions.webtransportCerthashes.length > MAX_EXTENSION_ENTRIES || extensions.streamMuxers.length > MAX_EXTENSION_ENTRIES)
  if (extensions !== undefined && !tooMany) out.extensions = extensions
  return out
}

/** Append the entries of one NoiseExtensions occurrence to `x`, keeping at most one past the cap. */
function decodeExtensions(bytes: Uint8Array, x: NoiseExtensions): NoiseExtensions {
  decodeMessage(bytes, 'noise', MAX_NOISE_MESSAGE, (field, r) => {
    if (field === 1) {
      const h = r.bytes()
      if (x.webtransportCerthashes.length <= MAX_EXTENSION_ENTRIES) x.webtransportCerthashes.push(h)
    } else if (field === 2) {
      const m = r.string()
      if (x.streamMuxers.length <= MAX_EXTENSION_ENTRIES) x.streamMuxers.push(m)
    } else {
      r.skip()
    }
  })
  return x
}

/**
 * Our payload: identity key, its signature over our Noise static public key, and extensions.
 * `signature`: that signature made ahead (a NoiseKeyPool's static pair), else it is made here.
 */
export function createHandshakePayload(
  identity: PrivateKey,
  staticPublicKey: Uint8Array,
  extensions: NoiseExtensions,
  crypto: CryptoProvider,
  signature?: Uint8Array,
): Uint8Array {
  const p: NoiseHandshakePayload = {
    identityKey: identity.publicKey.bytes,
    identitySig: signature ?? identity.sign(concat([STATIC_KEY_SIGNATURE_PREFIX, staticPublicKey]), crypto),
  }
  // An empty NoiseExtensions says nothing; leaving it out keeps the payload what pre-r4 peers expect.
  if (extensions.webtransportCerthashes.length > 0 || extensions.streamMuxers.length > 0) p.extensions = extensions
  return encodeHandshakePayload(p)
}

/** A handshake payload whose signature checked out: the remote's public key, peer id and muxers. */
export interface VerifiedPayload {
  remotePublicKey: PublicKey
  remotePeer: PeerId
  extensions: NoiseExtensions
}

/**
 * Decode the remote payload and verify identity_sig over the remote static key `rs`.
 * Errors: 'noise/bad-payload' (malformed, missing identity_key / identity_sig, bad key protobuf),
 * 'noise/invalid-signature' (the signature does not verify, or the key type cannot be verified here).
 */
export function verifyHandshakePayload(bytes: Uint8Array, rs: Uint8Array, crypto: CryptoProvider): VerifiedPayload {
  const p = decodeHandshakePayload(bytes)
  if (p.identityKey === undefined) throw noiseError('noise/bad-payload', 'identity_key missing')
  if (p.identitySig === undefined) throw noiseError('noise/bad-payload', 'identity_sig missing')
  let key: PublicKey
  try {
    key = publicKeyFromProtobuf(p.identityKey)
  } catch (e) {
    throw wrap(e, 'identity_key')
  }
  let valid: boolean
  try {
    valid = key.verify(concat([STATIC_KEY_SIGNATURE_PREFIX, rs]), p.identitySig, crypto)
  } catch (e) {
    // e.g. 'peer-id/unsupported-key-type': a signature we cannot check is not a valid signature
    throw noiseError('noise/invalid-signature', e instanceof Error ? e.message : String(e), e)
  }
  if (!valid) throw noiseError('noise/invalid-signature', 'identity_sig does not verify over the remote static key')
  return {
    remotePublicKey: key,
    remotePeer: key.toPeerId(crypto),
    extensions: p.extensions ?? { webtransportCerthashes: [], streamMuxers: [] },
  }
}

function wrap(e: unknown, what: string): ProtocolError {
  if (e instanceof ProtocolError && e.code.startsWith('noise/')) return e
  if (e instanceof ProtocolError) return noiseError('noise/bad-payload', `${what}: ${e.code}: ${e.message}`, e)
  throw e
}
