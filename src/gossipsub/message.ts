/**
 * Message signing and message identification (libp2p/specs pubsub/README.md "Message Signing",
 * "Signature Policy", "Message Identification").
 *
 * Signature policies (only the two Strict ones; Lax* are legacy and insecure):
 * - `StrictSign`: the publisher origin-stamps (`from` = its peer id bytes, `seqno` = 8-byte big-endian
 *   counter) and signs "libp2p-pubsub:" || Message-without-signature-and-key with its key. `key` carries
 *   the public key protobuf only when it cannot be derived from `from` (a sha2-256 peer id). A receiver
 *   requires all of `from`, `seqno`, `signature` and a verifiable key, and rejects otherwise.
 * - `StrictNoSign`: none of `from`, `seqno`, `signature`, `key` may be present, on either side.
 *
 * Message ids: `msgIdFromSeqno` (the default, origin-stamped: `from` bytes || `seqno` bytes, which is
 * exactly go-libp2p-pubsub's `string(from) + string(seqno)`), or `msgIdContentSha256` (sha256 of `data`,
 * content addressing). StrictNoSign with the default id is an invalid combination: every message would
 * have the same (empty) id.
 */
import type { CryptoProvider } from '../core/crypto/provider.js'
import { ProtocolError } from '../core/errors.js'
import { concat, equals, utf8 } from '../core/bytes.js'
import { PeerId, publicKeyFromProtobuf, type PrivateKey, type PublicKey } from '../peer-id/index.js'
import { encodeUnsignedMessage, type PubsubMessage } from './rpc.js'
import { signedBytes } from './rpc-publish.js'

/**
 * The message signature policy (pubsub/README.md "Message Signing"): `StrictSign` signs ours and
 * rejects unsigned ones; `StrictNoSign` sends and accepts only messages without `from`, `seqno`,
 * `signature` and `key` (ids must then come from a `msgIdFn` over the content).
 */
export type SignaturePolicy = 'StrictSign' | 'StrictNoSign'

/** Why a received message was rejected by the signature policy. */
export type SignatureRejectReason =
  | 'gossipsub/missing-from'
  | 'gossipsub/missing-seqno'
  | 'gossipsub/missing-signature'
  | 'gossipsub/invalid-from'
  | 'gossipsub/invalid-seqno'
  | 'gossipsub/invalid-key'
  | 'gossipsub/key-mismatch'
  | 'gossipsub/invalid-signature'
  | 'gossipsub/unexpected-signature-fields'

/** The prefix of every signed pubsub message. */
/** The signing prefix (a copy for callers: the router signs and verifies with its own, never exported, so no caller can change it). */
export const SIGN_PREFIX = utf8('libp2p-pubsub:')
const SIGN_PREFIX_OWN = utf8('libp2p-pubsub:')

/** Computes a message's id (pubsub/README.md "Message Identification"); default: `from` then `seqno`. */
export type MsgIdFn = (msg: PubsubMessage) => Uint8Array

/** go-libp2p-pubsub's DefaultMsgIdFn: `from` bytes followed by `seqno` bytes. */
export const msgIdFromSeqno: MsgIdFn = (m) => concat([m.from ?? new Uint8Array(0), m.seqno ?? new Uint8Array(0)])

/** Content addressing: sha256 of `data` (the same function must be configured on every node of a topic). */
export function msgIdContentSha256(crypto: CryptoProvider): MsgIdFn {
  return (m) => crypto.sha256(m.data ?? new Uint8Array(0))
}

/** The exact bytes signed for `msg` (prefix included). */
export function signatureInput(msg: PubsubMessage): Uint8Array {
  return concat([SIGN_PREFIX_OWN, encodeUnsignedMessage(msg)])
}

/** 64-bit big-endian seqno. */
export function encodeSeqno(n: bigint): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, n))
  return out
}

/** Build (and, under StrictSign, sign) a message we publish. `copyData` false: the message refers to `data` (the caller encodes it at once). */
export function buildMessage(
  policy: SignaturePolicy,
  topic: string,
  data: Uint8Array,
  signer: { key: PrivateKey; crypto: CryptoProvider; seqno: bigint } | undefined,
  copyData = true,
): PubsubMessage {
  const d = copyData ? data.slice() : data
  if (policy === 'StrictNoSign') return { topic, data: d }
  if (signer === undefined) throw new TypeError('StrictSign needs a private key')
  const author = signer.key.publicKey.toPeerId(signer.crypto)
  const msg: PubsubMessage = { from: author.multihash, data: d, seqno: encodeSeqno(signer.seqno), topic }
  msg.signature = signer.key.sign(signatureInput(msg), signer.crypto)
  // the key is inlined only when the peer id does not already hold it
  if (author.publicKey === undefined) msg.key = signer.key.publicKey.bytes
  return msg
}

/**
 * Check a received message against the policy. Returns undefined when it passes, else the reason.
 * `raw` is the Message's wire bytes (the signature covers them minus fields 5 and 6).
 */
/**
 * Public keys of recent authors by `from` bytes, so verifying a stream of messages from one author
 * parses its key once (and the crypto provider can reuse its imported key object). Bounded: the
 * oldest entry goes first (stops: authors churning the cache without bound).
 */
export class AuthorKeyCache {
  readonly #keys = new Map<string, PublicKey>()
  readonly #max: number
  constructor(max = 4096) {
    this.#max = max
  }
  get(from: string): PublicKey | undefined {
    return this.#keys.get(from)
  }
  set(from: string, key: PublicKey): void {
    if (this.#keys.size >= this.#max) {
      const oldest = this.#keys.keys().next().value
      if (oldest !== undefined) this.#keys.delete(oldest)
    }
    this.#keys.set(from, key)
  }
}

function fromKey(b: Uint8Array): string {
  return String.fromCharCode.apply(null, b as unknown as number[])
}

/**
 * Check a received message against the signature policy (the signature over `"libp2p-pubsub:" + the
 * message protobuf without signature and key`, and that `from` is the key's peer id). Returns the
 * rejection reason or undefined; never throws.
 */
export function checkSignaturePolicy(policy: SignaturePolicy, msg: PubsubMessage, raw: Uint8Array, crypto: CryptoProvider, cache?: AuthorKeyCache): SignatureRejectReason | undefined {
  if (policy === 'StrictNoSign') {
    if (msg.from !== undefined || msg.seqno !== undefined || msg.signature !== undefined || msg.key !== undefined) return 'gossipsub/unexpected-signature-fields'
    return undefined
  }
  const key = signatureKey(msg, crypto, cache)
  return typeof key === 'string' ? key : verify(key, raw, msg.signature!, crypto)
}

/**
 * StrictSign's checks before the signature itself: `from`, `seqno`, `signature` present, and the
 * author's public key (from `key`, which must match `from`, or derived from `from`). Returns the key
 * whose signature must then be checked, or the rejection reason; never throws.
 */
export function signatureKey(msg: PubsubMessage, crypto: CryptoProvider, cache?: AuthorKeyCache): PublicKey | SignatureRejectReason {
  if (msg.from === undefined) return 'gossipsub/missing-from'
  if (msg.seqno === undefined) return 'gossipsub/missing-seqno'
  if (msg.signature === undefined) return 'gossipsub/missing-signature'
  if (msg.seqno.length !== 8) return 'gossipsub/invalid-seqno'
  const cacheKey = cache !== undefined && msg.key === undefined && msg.from.length <= 64 ? fromKey(msg.from) : undefined
  const cached = cacheKey === undefined ? undefined : cache!.get(cacheKey)
  if (cached !== undefined) return cached
  let from: PeerId
  try {
    from = PeerId.fromMultihash(msg.from)
  } catch {
    return 'gossipsub/invalid-from'
  }
  let key: PublicKey | undefined = from.publicKey
  if (msg.key !== undefined) {
    let k: PublicKey
    try {
      k = publicKeyFromProtobuf(msg.key)
    } catch {
      return 'gossipsub/invalid-key'
    }
    if (!equals(k.toPeerId(crypto).multihash, from.multihash)) return 'gossipsub/key-mismatch'
    key = k
  }
  if (key === undefined) return 'gossipsub/invalid-key'
  if (cacheKey !== undefined && msg.key === undefined) cache!.set(cacheKey, key)
  return key
}

/** The bytes a StrictSign signature covers: the prefix, then `raw` without fields 5 and 6 (signature, key). */
export function signedMessageBytes(raw: Uint8Array): Uint8Array {
  return signedBytes(SIGN_PREFIX_OWN, raw)
}

/** Check `signature` over `raw`'s signed bytes under `key`: undefined when valid, else the reason. */
export function verify(key: PublicKey, raw: Uint8Array, signature: Uint8Array, crypto: CryptoProvider): SignatureRejectReason | undefined {
  let ok: boolean
  try {
    ok = key.verify(signedBytes(SIGN_PREFIX_OWN, raw), signature, crypto)
  } catch (e) {
    if (e instanceof ProtocolError) return 'gossipsub/invalid-key'
    throw e
  }
  return ok ? undefined : 'gossipsub/invalid-signature'
}

