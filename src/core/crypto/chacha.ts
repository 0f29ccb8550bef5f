/**
 * Compact ChaCha20-Poly1305 AEAD (RFC 8439 §2.8), for the compact browser crypto provider
 * (compact.ts). ChaCha20 works on a 16-word state; Poly1305 keeps its accumulator in ten 13-bit limbs
 * carried half way through each product row so sums stay 32-bit, and
 * reduces once at the end with BigInt. The MAC input (AD, pad, ciphertext, pad, lengths) is fed in
 * 16-byte blocks with the high bit set, which is exact because every part is padded to 16 bytes.
 * Speeds: bench/README.md.
 */

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574] // "expand 32-byte k"
const STATE = new Uint32Array(16)
const X = new Uint32Array(16)

/** STATE = constants, key, counter 0, nonce (RFC 8439 §2.3). */
function setup(key: Uint8Array, nonce: Uint8Array): void {
  const w = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)
  STATE.set(SIGMA)
  for (let i = 0; i < 8; i++) STATE[4 + i] = w(key, 4 * i)
  for (let i = 0; i < 3; i++) STATE[13 + i] = w(nonce, 4 * i)
}

const rotl = (v: number, n: number): number => (v << n) | (v >>> (32 - n))

/** One 64-byte keystream block of STATE with block counter `counter`, into X (locals: 2x faster than array rounds). */
function block(counter: number): void {
  STATE[12] = counter
  let x0 = STATE[0]!, x1 = STATE[1]!, x2 = STATE[2]!, x3 = STATE[3]!, x4 = STATE[4]!, x5 = STATE[5]!, x6 = STATE[6]!, x7 = STATE[7]!, x8 = STATE[8]!, x9 = STATE[9]!, x10 = STATE[10]!, x11 = STATE[11]!, x12 = STATE[12]!, x13 = STATE[13]!, x14 = STATE[14]!, x15 = STATE[15]!
  for (let i = 0; i < 10; i++) {
    x0 = (x0 + x4) | 0; x12 = rotl(x12 ^ x0, 16); x8 = (x8 + x12) | 0; x4 = rotl(x4 ^ x8, 12)
    x0 = (x0 + x4) | 0; x12 = rotl(x12 ^ x0, 8); x8 = (x8 + x12) | 0; x4 = rotl(x4 ^ x8, 7)
    x1 = (x1 + x5) | 0; x13 = rotl(x13 ^ x1, 16); x9 = (x9 + x13) | 0; x5 = rotl(x5 ^ x9, 12)
    x1 = (x1 + x5) | 0; x13 = rotl(x13 ^ x1, 8); x9 = (x9 + x13) | 0; x5 = rotl(x5 ^ x9, 7)
    x2 = (x2 + x6) | 0; x14 = rotl(x14 ^ x2, 16); x10 = (x10 + x14) | 0; x6 = rotl(x6 ^ x10, 12)
    x2 = (x2 + x6) | 0; x14 = rotl(x14 ^ x2, 8); x10 = (x10 + x14) | 0; x6 = rotl(x6 ^ x10, 7)
    x3 = (x3 + x7) | 0; x15 = rotl(x15 ^ x3, 16); x11 = (x11 + x15) | 0; x7 = rotl(x7 ^ x11, 12)
    x3 = (x3 + x7) | 0; x15 = rotl(x15 ^ x3, 8); x11 = (x11 + x15) | 0; x7 = rotl(x7 ^ x11, 7)
    x0 = (x0 + x5) | 0; x15 = rotl(x15 ^ x0, 16); x10 = (x10 + x15) | 0; x5 = rotl(x5 ^ x10, 12)
    x0 = (x0 + x5) | 0; x15 = rotl(x15 ^ x0, 8); x10 = (x10 + x15) | 0; x5 = rotl(x5 ^ x10, 7)
    x1 = (x1 + x6) | 0; x12 = rotl(x12 ^ x1, 16); x11 = (x11 + x12) | 0; x6 = rotl(x6 ^ x11, 12)
    x1 = (x1 + x6) | 0; x12 = rotl(x12 ^ x1, 8); x11 = (x11 + x12) | 0; x6 = rotl(x6 ^ x11, 7)
    x2 = (x2 + x7) | 0; x13 = rotl(x13 ^ x2, 16); x8 = (x8 + x13) | 0; x7 = rotl(x7 ^ x8, 12)
    x2 = (x2 + x7) | 0; x13 = rotl(x13 ^ x2, 8); x8 = (x8 + x13) | 0; x7 = rotl(x7 ^ x8, 7)
    x3 = (x3 + x4) | 0; x14 = rotl(x14 ^ x3, 16); x9 = (x9 + x14) | 0; x4 = rotl(x4 ^ x9, 12)
    x3 = (x3 + x4) | 0; x14 = rotl(x14 ^ x3, 8); x9 = (x9 + x14) | 0; x4 = rotl(x4 ^ x9, 7)
  }
  const out = [x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15]
  for (let i = 0; i < 16; i++) X[i] = out[i]! + STATE[i]!
}

/** ChaCha20 (RFC 8439 §2.4) from block 1: output[offset..] = input XOR keystream. */
function xor(key: Uint8Array, nonce: Uint8Array, input: Uint8Array, output: Uint8Array, offset: number): void {
  setup(key, nonce)
  for (let pos = 0, counter = 1; pos < input.length; pos += 64, counter++) {
    block(counter)
    const n = Math.min(64, input.length - pos)
    const o = offset + pos
    let i = 0
    for (; i + 4 <= n; i += 4) {
      const k = X[i >> 2]!
      output[o + i] = input[pos + i]! ^ k
      output[o + i + 1] = input[pos + i + 1]! ^ (k >>> 8)
      output[o + i + 2] = input[pos + i + 2]! ^ (k >>> 16)
      output[o + i + 3] = input[pos + i + 3]! ^ (k >>> 24)
    }
    for (; i < n; i++) output[o + i] = input[pos + i]! ^ (X[i >> 2]! >>> ((i & 3) << 3))
  }
}

const P130 = (1n << 130n) - 5n

/** Poly1305 (RFC 8439 §2.5) over 16-byte-padded parts; `key` is the one-time key (r || s). */
function poly1305(key: Uint8Array, parts: Uint8Array[]): Uint8Array {
  const le = (b: Uint8Array): bigint => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n)
  const rb = le(key.subarray(0, 16)) & 0x0ffffffc0ffffffc0ffffffc0fffffffn
  const r = Array.from({ length: 10 }, (_, i) => Number((rb >> BigInt(13 * i)) & 0x1fffn))
  // rr[i - j + 10] = r[i - j], or 5 r[i - j + 10] for the limbs that wrap past 2^130
  const rr = Int32Array.from({ length: 20 }, (_, k) => (k >= 10 ? r[k - 10]! : 5 * r[k]!))
  const h = new Int32Array(10)
  const d = new Int32Array(10)
  const buf = new Uint8Array(19)
  for (const part of parts) {
    for (let pos = 0; pos < part.length; pos += 16) {
      let m = part
      let at = pos
      if (pos + 19 > part.length) {
        buf.fill(0)
        buf.set(part.subarray(pos, pos + 16))
        m = buf
        at = 0
      }
      // the block's 130 bits (the 16 bytes, then 1 for 2^128) in 13-bit limbs; limb 9 holds bits 117..129
      for (let i = 0; i < 10; i++) {
        const bit = 13 * i
        const j = at + (bit >> 3)
        h[i] += (i === 9 ? (m[j]! | (m[j + 1]! << 8) | (1 << 16)) >>> 5 : (m[j]! | (m[j + 1]! << 8) | (m[j + 2]! << 16)) >>> (bit & 7)) & 0x1fff
      }
      // h *= r mod 2^130 - 5 (2^130 = 5: limbs that wrap are multiplied by 5); partial sums stay
      // below 2^32 with one carry half way (limbs < 2^14, r limbs < 2^13, 5r < 2^16)
      let c = 0
      for (let i = 0; i < 10; i++) {
        let s = c
        for (let j = 0; j < 5; j++) s += h[j]! * rr[i - j + 10]!
        c = s >>> 13
        s &= 0x1fff
        for (let j = 5; j < 10; j++) s += h[j]! * rr[i - j + 10]!
        c += s >>> 13
        d[i] = s & 0x1fff
      }
      c = (c * 5 + d[0]!) | 0
      d[0] = c & 0x1fff
      d[1] += c >>> 13
      h.set(d)
    }
  }
  let acc = Array.from(h).reduceRight((n, x) => n * 8192n + BigInt(x), 0n) % P130
  acc = (acc + le(key.subarray(16, 32))) & ((1n << 128n) - 1n)
  const tag = new Uint8Array(16)
  for (let i = 0; i < 16; i++, acc >>= 8n) tag[i] = Number(acc & 0xffn)
  return tag
}

function tagOf(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ct: Uint8Array): Uint8Array {
  setup(key, nonce)
  block(0)
  const otk = new Uint8Array(32)
  for (let i = 0; i < 32; i++) otk[i] = X[i >> 2]! >>> ((i & 3) << 3)
  const lens = new Uint8Array(16)
  const lv = new DataView(lens.buffer)
  lv.setUint32(0, ad.length, true)
  lv.setUint32(8, ct.length, true)
  lv.setUint32(12, Math.floor(ct.length / 0x1_0000_0000), true)
  return poly1305(otk, [ad, ct, lens])
}

/** Seal: ciphertext || tag written to output[offset .. offset + plaintext.length + 16). */
export function chachaSealInto(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array, output: Uint8Array, offset: number): void {
  xor(key, nonce, plaintext, output, offset)
  output.set(tagOf(key, nonce, ad, output.subarray(offset, offset + plaintext.length)), offset + plaintext.length)
}

/** Open: false when the tag does not authenticate (output untouched then), else the plaintext written at offset. */
export function chachaOpenInto(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array, output: Uint8Array, offset: number): boolean {
  if (ciphertext.length < 16) return false
  const n = ciphertext.length - 16
  const ct = ciphertext.subarray(0, n)
  const tag = tagOf(key, nonce, ad, ct)
  let diff = 0
  for (let i = 0; i < 16; i++) diff |= tag[i]! ^ ciphertext[n + i]!
  if (diff !== 0) return false
  xor(key, nonce, ct, output, offset)
  return true
}
