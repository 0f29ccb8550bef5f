/**
 * Compact Ed25519 (RFC 8032 §5.1) and X25519 (RFC 7748 §5) on BigInt field elements, for the
 * compact browser crypto provider (compact.ts). Small before fast: no precomputed tables (the base
 * point is decoded from its y = 4/5 on first use), one unified point addition (add-2008-hwcd-3), a
 * dedicated doubling, a Montgomery ladder. Secret scalars (X25519's, Ed25519's key and nonce) go
 * through ladders of a fixed length whose swaps are arithmetic, never a branch on a secret bit: the
 * sequence of operations is the same for every scalar ("algorithmic constant time", as @noble/curves
 * puts it). No BigInt code is constant time below that: the time of a product still depends on the
 * size of its operands. Public scalars (verification) take the faster branching paths.
 * Speeds: bench/README.md.
 *
 * Verification follows RFC 8032 §5.1.7 as OpenSSL (node:crypto) does it: A and R must be canonical
 * encodings of curve points, S < L, and the encoding of [S]B - [k]A must equal R's bytes.
 */
import { sha512 } from './sha2.js'

const P = 2n ** 255n - 19n
const L = 2n ** 252n + 27742317777372353535851937790883648493n

const mod = (a: bigint, m = P): bigint => {
  const r = a % m
  return r < 0n ? r + m : r
}
function pow(b: bigint, e: bigint): bigint {
  let r = 1n
  for (b = mod(b); e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) r = (r * b) % P
  return r
}
const inv = (a: bigint): bigint => pow(a, P - 2n)

const le = (b: Uint8Array): bigint => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n)
function toLe(n: bigint, len = 32): Uint8Array {
  const out = new Uint8Array(len)
  for (let i = 0; i < len; i++, n >>= 8n) out[i] = Number(n & 0xffn)
  return out
}

// ---- Ed25519: extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z ----

type Point = [bigint, bigint, bigint, bigint]
const D = mod(-121665n * inv(121666n))
const D2 = (2n * D) % P
const SQRT_M1 = pow(2n, (P - 1n) / 4n)
const ZERO: Point = [0n, 1n, 1n, 0n]

function add([x1, y1, z1, t1]: Point, [x2, y2, z2, t2]: Point): Point {
  const a = ((y1 - x1) * (y2 - x2)) % P
  const b = ((y1 + x1) * (y2 + x2)) % P
  const c = (((t1 * D2) % P) * t2) % P
  const d = (2n * z1 * z2) % P
  const e = b - a, f = d - c, g = d + c, h = b + a
  return [(e * f) % P, (g * h) % P, (f * g) % P, (e * h) % P]
}

/** 2P (dbl-2008-hwcd with a = -1): 4 squarings and 4 products where add() takes 9 products. */
function double([x, y, z]: Point): Point {
  const a = (x * x) % P
  const b = (y * y) % P
  const c = (2n * z * z) % P
  const e = ((x + y) * (x + y) - a - b) % P
  const g = b - a, f = g - c, h = -a - b
  return [(e * f) % P, (g * h) % P, (f * g) % P, (e * h) % P]
}

/** Swaps a and b in place when bit is 1n, leaves them when 0n, without a branch on bit. */
function cswap(a: bigint[], b: bigint[], bit: bigint): void {
  const mask = -bit // 0n or -1n (all ones)
  for (let i = 0; i < a.length; i++) {
    const t = mask & (a[i]! ^ b[i]!)
    a[i] = a[i]! ^ t
    b[i] = b[i]! ^ t
  }
}

/**
 * [n]p for a secret n < 2^256: a Montgomery ladder over all 256 bits (one addition and one doubling
 * per bit whatever the bit), with the swaps of cswap (invariant: r1 - r0 = p).
 */
function mulSecret(p: Point, n: bigint): Point {
  const r0: Point = [...ZERO], r1: Point = [...p]
  let swap = 0n
  for (let i = 255n; i >= 0n; i--) {
    const bit = (n >> i) & 1n
    cswap(r0, r1, swap ^ bit)
    swap = bit
    const sum = add(r0, r1), dbl = double(r0)
    for (let j = 0; j < 4; j++) [r1[j], r0[j]] = [sum[j]!, dbl[j]!]
  }
  cswap(r0, r1, swap)
  return r0
}

/** [n]p + [m]q in one pass of doublings (Straus-Shamir), for verification. */
function mul2(p: Point, n: bigint, q: Point, m: bigint): Point {
  const pq = add(p, q)
  let r = ZERO
  for (let i = 255n; i >= 0n; i--) {
    r = double(r)
    const bits = Number((n >> i) & 1n) | (Number((m >> i) & 1n) << 1)
    if (bits) r = add(r, bits === 1 ? p : bits === 2 ? q : pq)
  }
  return r
}

function encode([x, y, z]: Point): Uint8Array {
  const zi = inv(z)
  const out = toLe(mod(y * zi))
  if (mod(x * zi) & 1n) out[31]! |= 0x80
  return out
}

/** RFC 8032 §5.1.3, strict: undefined for y >= p, a non-square, or x = 0 with the sign bit set. */
function decode(b: Uint8Array): Point | undefined {
  if (b.length !== 32) return undefined
  const sign = b[31]! >> 7
  const y = le(b) & ((1n << 255n) - 1n)
  if (y >= P) return undefined
  const u = mod(y * y - 1n)
  const v = mod(D * y * y + 1n)
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n))
  const vx2 = mod(v * x * x)
  if (vx2 === mod(-u)) x = mod(x * SQRT_M1)
  else if (vx2 !== u) return undefined
  if (x === 0n && sign === 1) return undefined
  if (Number(x & 1n) !== sign) x = P - x
  return [x, y, 1n, mod(x * y)]
}

let base: Point | undefined
const B = (): Point => (base ??= decode(toLe(mod(4n * inv(5n))))!)

function expand(seed: Uint8Array): { a: bigint; prefix: Uint8Array } {
  const h = sha512(seed)
  const a = le(h.subarray(0, 32)) & ((1n << 254n) - 8n) | (1n << 254n)
  return { a, prefix: h.subarray(32) }
}

export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  return encode(mulSecret(B(), expand(seed).a))
}

// the last signing key's public key: a node signs with one key, and deriving it is a scalar multiplication
let lastSeed: Uint8Array = new Uint8Array(0)
let lastPub = lastSeed

export function ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  const { a, prefix } = expand(seed)
  if (seed.length !== lastSeed.length || seed.some((x, i) => x !== lastSeed[i])) [lastSeed, lastPub] = [seed.slice(), encode(mulSecret(B(), a))]
  const pub = lastPub
  const r = mod(le(sha512(prefix, message)), L)
  const R = encode(mulSecret(B(), r))
  const k = mod(le(sha512(R, pub, message)), L)
  const out = new Uint8Array(64)
  out.set(R)
  out.set(toLe(mod(r + k * a, L)), 32)
  return out
}

export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false
  const A = decode(publicKey)
  const R = signature.subarray(0, 32)
  const S = le(signature.subarray(32))
  if (A === undefined || S >= L || decode(R) === undefined) return false
  const k = mod(le(sha512(R, publicKey, message)), L)
  const [x, y, z, t] = A
  const check = encode(mul2(B(), S, [P - x, y, z, P - t], k))
  let diff = 0
  for (let i = 0; i < 32; i++) diff |= check[i]! ^ R[i]!
  return diff === 0
}

// ---- X25519 (RFC 7748 §5): Montgomery ladder on u ----

export function x25519(scalar: Uint8Array, uBytes: Uint8Array): Uint8Array {
  if (scalar.length !== 32 || uBytes.length !== 32) throw new RangeError('x25519: 32-byte scalar and u-coordinate')
  const k = (le(scalar) & ((1n << 254n) - 8n)) | (1n << 254n)
  const u = mod(le(uBytes) & ((1n << 255n) - 1n))
  let x2 = 1n, z2 = 0n, x3 = u, z3 = 1n, swap = 0n
  const p2 = [0n, 0n], p3 = [0n, 0n]
  for (let t = 254n; t >= 0n; t--) {
    const bit = (k >> t) & 1n
    // the swap of RFC 7748's ladder, arithmetic (no branch on a bit of the secret scalar)
    ;[p2[0], p2[1], p3[0], p3[1]] = [x2, z2, x3, z3]
    cswap(p2, p3, swap ^ bit)
    ;[x2, z2, x3, z3] = [p2[0]!, p2[1]!, p3[0]!, p3[1]!]
    swap = bit
    const a = x2 + z2, aa = (a * a) % P, b = x2 - z2, bb = (b * b) % P, e = aa - bb
    const c = x3 + z3, d = x3 - z3, da = (d * a) % P, cb = (c * b) % P
    x3 = ((da + cb) ** 2n) % P
    z3 = (u * (((da - cb) ** 2n) % P)) % P
    x2 = (aa * bb) % P
    z2 = (e * ((aa + 121665n * e) % P)) % P
  }
  ;[p2[0], p2[1], p3[0], p3[1]] = [x2, z2, x3, z3]
  cswap(p2, p3, swap)
  ;[x2, z2] = [p2[0]!, p2[1]!]
  const out = mod(x2 * inv(mod(z2)))
  if (out === 0n) throw new RangeError('x25519: low-order public key (all-zero shared secret)')
  return toLe(out)
}

const NINE = toLe(9n)
export const x25519PublicKey = (privateKey: Uint8Array): Uint8Array => x25519(privateKey, NINE)
