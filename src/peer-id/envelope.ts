/**
 * Signed envelopes (libp2p RFC 0002).
 *
 * An envelope carries an arbitrary payload, a payload type hint (a multicodec, optionally followed by
 * more bytes), the signer's public key and a signature:
 *
 *   message Envelope { PublicKey public_key = 1; bytes payload_type = 2; bytes payload = 3; bytes signature = 5; }
 *
 * The signature is NOT over the protobuf; it is over the buffer
 *
 *   uvarint(len(domain)) || domain || uvarint(len(payload_type)) || payload_type || uvarint(len(payload)) || payload
 *
 * where the "domain separation string" (UTF-8) is chosen by the subsystem and never transmitted, so a
 * signature made for one purpose cannot be replayed as valid for another.
 */
import type { CryptoProvider } from '../core/crypto/provider.js'
import { ProtocolError } from '../core/errors.js'
import { concat, utf8 } from '../core/bytes.js'
import * as varint from '../core/varint.js'
import { WIRE_LEN, decodeMessage, encodeMessage, tag } from '../core/protobuf.js'
import { publicKeyFromProtobuf } from './keys.js'
import type { PrivateKey, PublicKey } from './keys.js'

/** The `ProtocolError('signed-envelope', code)` codes of `openEnvelope` (RFC 0002 "Signed Envelopes"). */
export type EnvelopeErrorCode =
  | 'envelope/too-large'
  | 'envelope/malformed'
  | 'envelope/missing-public-key'
  | 'envelope/invalid-public-key'
  | 'envelope/unsupported-key-type'
  | 'envelope/invalid-signature'

/**
 * A signed envelope (RFC 0002): a payload, its type, the signer's public key and the signature over
 * `envelopeSignedData(domain, payloadType, payload)`.
 */
export interface Envelope {
  /** The signer's public key. */
  publicKey: PublicKey
  /** The payload's type (a multicodec, as bytes). */
  payloadType: Uint8Array
  /** The payload bytes. */
  payload: Uint8Array
  /** The signature over `envelopeSignedData(domain, payloadType, payload)`. */
  signature: Uint8Array
  /** The envelope protobuf (for an opened envelope: exactly the bytes received). */
  bytes: Uint8Array
}

/**
 * Default largest envelope `openEnvelope` decodes. A peer record with dozens of addresses is well under
 * 2 KiB; go-libp2p's identify caps its signed record message at 8 KiB. Stops a remote from making us
 * buffer and hash arbitrarily large payloads.
 */
export const MAX_ENVELOPE_BYTES = 16 * 1024

/** Options of `openEnvelope`. */
export interface OpenEnvelopeOptions {
  /** Largest accepted envelope in bytes (default MAX_ENVELOPE_BYTES). */
  maxSize?: number
}

const fail = (code: EnvelopeErrorCode, message?: string, cause?: unknown): ProtocolError<EnvelopeErrorCode> =>
  new ProtocolError<EnvelopeErrorCode>('signed-envelope', code, message, cause === undefined ? undefined : { cause })

/** The buffer that is signed (RFC 0002 "Signature Production / Verification"). */
export function envelopeSignedData(domain: string, payloadType: Uint8Array, payload: Uint8Array): Uint8Array {
  if (typeof domain !== 'string') throw new TypeError('the domain separation string must be a string')
  const d = utf8(domain)
  return concat([varint.encode(d.length), d, varint.encode(payloadType.length), payloadType, varint.encode(payload.length), payload])
}

/** The Envelope protobuf (proto3: empty bytes fields are omitted, as proto3 encoders do). */
function encodeEnvelope(publicKey: PublicKey, payloadType: Uint8Array, payload: Uint8Array, signature: Uint8Array): Uint8Array {
  return encodeMessage((w) => {
    w.uint32(tag(1, WIRE_LEN)).bytes(publicKey.bytes)
    if (payloadType.length > 0) w.uint32(tag(2, WIRE_LEN)).bytes(payloadType)
    if (payload.length > 0) w.uint32(tag(3, WIRE_LEN)).bytes(payload)
    if (signature.length > 0) w.uint32(tag(5, WIRE_LEN)).bytes(signature)
  })
}

/** Sign `payload` under `domain` and wrap it in an envelope. Inputs are copied. */
export function sealEnvelope(key: PrivateKey, domain: string, payloadType: Uint8Array, payload: Uint8Array, crypto: CryptoProvider): Envelope {
  const pt = payloadType.slice()
  const p = payload.slice()
  const signature = key.sign(envelopeSignedData(domain, pt, p), crypto)
  return { publicKey: key.publicKey, payloadType: pt, payload: p, signature, bytes: encodeEnvelope(key.publicKey, pt, p, signature) }
}

/**
 * Decode an envelope and verify its signature under `domain`. ProtocolError ('signed-envelope', ...)
 * for anything malformed, a key type the provider cannot verify, or a bad signature. A repeated field
 * is rejected rather than merged (see spec/signed-envelope.md).
 */
export function openEnvelope(bytes: Uint8Array, domain: string, crypto: CryptoProvider, options: OpenEnvelopeOptions = {}): Envelope {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('expected a Uint8Array')
  if (typeof domain !== 'string') throw new TypeError('the domain separation string must be a string')
  const maxSize = options.maxSize ?? MAX_ENVELOPE_BYTES
  if (bytes.length > maxSize) throw fail('envelope/too-large', `${bytes.length} > ${maxSize}`)

  let keyBytes: Uint8Array | undefined
  let payloadType: Uint8Array | undefined
  let payload: Uint8Array | undefined
  let signature: Uint8Array | undefined
  try {
    decodeMessage(bytes, 'signed-envelope', maxSize, (field, r) => {
      const repeated = (): never => {
        throw fail('envelope/malformed', `repeated field ${field}`)
      }
      switch (field) {
        case 1:
          if (keyBytes !== undefined) repeated()
          keyBytes = r.bytes()
          break
        case 2:
          if (payloadType !== undefined) repeated()
          payloadType = r.bytes()
          break
        case 3:
          if (payload !== undefined) repeated()
          payload = r.bytes()
          break
        case 5:
          if (signature !== undefined) repeated()
          signature = r.bytes()
          break
        default:
          r.skip()
      }
    })
  } catch (e) {
    if (e instanceof ProtocolError && e.code.startsWith('envelope/')) throw e
    throw fail('envelope/malformed', e instanceof Error ? e.message : String(e), e)
  }
  if (keyBytes === undefined) throw fail('envelope/missing-public-key')
  let publicKey: PublicKey
  try {
    publicKey = publicKeyFromProtobuf(keyBytes)
  } catch (e) {
    if (e instanceof ProtocolError && e.code === 'peer-id/unsupported-key-type') throw fail('envelope/unsupported-key-type', e.message, e)
    throw fail('envelope/invalid-public-key', e instanceof Error ? e.message : String(e), e)
  }
  payloadType ??= new Uint8Array(0)
  payload ??= new Uint8Array(0)
  signature ??= new Uint8Array(0)

  let valid: boolean
  try {
    valid = publicKey.verify(envelopeSignedData(domain, payloadType, payload), signature, crypto)
  } catch (e) {
    if (e instanceof ProtocolError) throw fail('envelope/unsupported-key-type', e.message, e)
    throw e
  }
  if (!valid) throw fail('envelope/invalid-signature')
  return { publicKey, payloadType, payload, signature, bytes: bytes.slice() }
}
