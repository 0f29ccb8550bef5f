/**
 * Kademlia keys and the XOR metric (libp2p/specs kad-dht/README.md, "Distance").
 *
 * "In all cases, the distance between two keys is XOR(sha256(key1), sha256(key2))." A *kad key*
 * here is the 32-byte sha256 of the raw key bytes: of a peer id's binary form (its multihash) for
 * peers, of the record key for values, of the multihash for provider records. Distances are
 * compared as 256-bit big-endian unsigned integers. The common prefix length (cpl) of two kad keys
 * is the number of leading bits they share: 0..256, 256 only for equal keys; a routing table keeps
 * one k-bucket per cpl with its own key.
 */
import type { CryptoProvider } from '../core/crypto/provider.js'
import type { PeerId } from '../peer-id/index.js'

/** Bytes of a kad key (sha256 output). */
export const KAD_KEY_BYTES = 32

/**
 * Per PeerId object: its `peerKey` string. A WeakMap, so entries live exactly as long as the PeerId
 * they describe. Process-wide, and safe to share between nodes: a string is immutable. (Kad keys,
 * which are bytes, are cached per node: PeerBook.keyOf.)
 */
const byPeer = new WeakMap<PeerId, string>()

/**
 * A compact map key for a peer: its multihash as a binary string (one UTF-16 unit per byte).
 * Built once per PeerId object; equal peers give equal strings.
 */
export function peerKey(peer: PeerId): string {
  let id = byPeer.get(peer)
  if (id === undefined) {
    id = bytesKey(peer.multihash)
    byPeer.set(peer, id)
  }
  return id
}

/** `bytes` as a binary string, one char per byte: a cheap, exact Map key. */
export function bytesKey(bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, bytes as unknown as number[])
}

/** The kad key of `key`: sha256(key). */
export function kadKey(key: Uint8Array, crypto: Pick<CryptoProvider, 'sha256'>): Uint8Array {
  return crypto.sha256(key)
}

/** XOR of two kad keys: the distance. */
export function xorDistance(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length !== KAD_KEY_BYTES || b.length !== KAD_KEY_BYTES) throw new RangeError('kad keys are 32 bytes')
  const out = new Uint8Array(KAD_KEY_BYTES)
  for (let i = 0; i < KAD_KEY_BYTES; i++) out[i] = a[i]! ^ b[i]!
  return out
}

/**
 * Compare the distances of `a` and `b` to `target` without allocating: negative when `a` is
 * closer, positive when `b` is closer, 0 when equal (a === b).
 */
export function compareDistance(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < KAD_KEY_BYTES; i++) {
    const da = a[i]! ^ target[i]!
    const db = b[i]! ^ target[i]!
    if (da !== db) return da - db
  }
  return 0
}

/** Number of leading bits `a` and `b` share (0..256). */
export function commonPrefixLength(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < KAD_KEY_BYTES; i++) {
    const x = a[i]! ^ b[i]!
    if (x !== 0) return i * 8 + Math.clz32(x) - 24
  }
  return KAD_KEY_BYTES * 8
}

/**
 * A lookup target for refreshing the bucket at `cpl`: the bytes of a sha2-256 peer id (a valid
 * FIND_NODE key) whose kad key shares exactly `cpl` leading bits with `self`. Remote peers hash the
 * key themselves, so the target must be a preimage: we try fresh candidates (one `random` call,
 * then a counter in the digest) until one lands in the bucket. Expected 2^(cpl+1) hashes, so
 * callers limit `cpl` (RoutingTable refresh stops at 15); undefined after `maxTries`.
 */
export function randomPeerKeyInBucket(
  self: Uint8Array,
  cpl: number,
  random: (n: number) => Uint8Array,
  crypto: Pick<CryptoProvider, 'sha256'>,
  maxTries = 1 << 18,
): Uint8Array | undefined {
  if (!Number.isInteger(cpl) || cpl < 0 || cpl > 255) throw new RangeError('cpl must be in 0..255')
  const candidate = new Uint8Array(2 + KAD_KEY_BYTES)
  candidate[0] = 0x12
  candidate[1] = 0x20
  candidate.set(random(KAD_KEY_BYTES).subarray(0, KAD_KEY_BYTES), 2)
  for (let i = 0; i < maxTries; i++) {
    candidate[30] = i >>> 24
    candidate[31] = (i >>> 16) & 0xff
    candidate[32] = (i >>> 8) & 0xff
    candidate[33] = i & 0xff
    if (commonPrefixLength(self, crypto.sha256(candidate)) === cpl) return candidate.slice()
  }
  return undefined
}

/**
 * Refresh targets for several buckets at once: for each cpl in `cpls` (ascending), a sha2-256
 * peer-id key whose kad key shares exactly that many leading bits with `self`, as
 * `randomPeerKeyInBucket` gives one. Every hash tried lands in some bucket, so one pass serves
 * all of them: about 2^(max cpl + 1) hashes instead of the sum over the buckets. A cpl with no
 * target after `maxTries` is missing from the result.
 */
export function randomPeerKeysInBuckets(
  self: Uint8Array,
  cpls: readonly number[],
  random: (n: number) => Uint8Array,
  crypto: Pick<CryptoProvider, 'sha256'>,
  maxTries = 1 << 18,
): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>()
  const wanted = new Set<number>()
  for (const cpl of cpls) {
    if (!Number.isInteger(cpl) || cpl < 0 || cpl > 255) throw new RangeError('cpl must be in 0..255')
    wanted.add(cpl)
  }
  if (wanted.size === 0) return out
  const candidate = new Uint8Array(2 + KAD_KEY_BYTES)
  candidate[0] = 0x12
  candidate[1] = 0x20
  candidate.set(random(KAD_KEY_BYTES).subarray(0, KAD_KEY_BYTES), 2)
  for (let i = 0; i < maxTries && out.size < wanted.size; i++) {
    candidate[30] = i >>> 24
    candidate[31] = (i >>> 16) & 0xff
    candidate[32] = (i >>> 8) & 0xff
    candidate[33] = i & 0xff
    const cpl = commonPrefixLength(self, crypto.sha256(candidate))
    if (wanted.has(cpl) && !out.has(cpl)) out.set(cpl, candidate.slice())
  }
  return out
}
