/**
 * Compact ChaCha20-Poly1305 AEAD (RFC 8439 §2.8), for the compact browser crypto provider
 * (compact.ts). ChaCha20 works on a 16-word state; Poly1305 keeps its accumulator in ten 13-bit limbs
 * carried half way through each product row so sums stay 32-bit, and reduces once at the end with
 * BigInt. The block rounds and the Poly1305 product are written out on local variables: about 0.65 KB
 * gzip more than loops over arrays, for 2-3x the speed (on par with @noble/ciphers, bench/README.md). The MAC input (AD, pad, ciphertext, pad, lengths) is fed in
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
  const [r0, r1, r2, r3, r4, r5, r6, r7, r8, r9] = Array.from({ length: 10 }, (_, i) => Number((rb >> BigInt(13 * i)) & 0x1fffn)) as [number, number, number, number, number, number, number, number, number, number]
  // 5 r: the limbs that wrap past 2^130 = 5
  const s1 = 5 * r1, s2 = 5 * r2, s3 = 5 * r3, s4 = 5 * r4, s5 = 5 * r5, s6 = 5 * r6, s7 = 5 * r7, s8 = 5 * r8, s9 = 5 * r9
  let h0 = 0, h1 = 0, h2 = 0, h3 = 0, h4 = 0, h5 = 0, h6 = 0, h7 = 0, h8 = 0, h9 = 0
  const buf = new Uint8Array(16)
  for (const part of parts) {
    for (let pos = 0; pos < part.length; pos += 16) {
      let m = part
      let j = pos
      if (pos + 16 > part.length) {
        buf.fill(0)
        buf.set(part.subarray(pos, pos + 16))
        m = buf
        j = 0
      }
      // the block's 130 bits (16 bytes, then 1 for 2^128) in 13-bit limbs
      h0 += ((m[j]! | (m[j + 1]! << 8) | (m[j + 2]! << 16)) >>> 0) & 0x1fff
      h1 += ((m[j + 1]! | (m[j + 2]! << 8) | (m[j + 3]! << 16)) >>> 5) & 0x1fff
      h2 += ((m[j + 3]! | (m[j + 4]! << 8) | (m[j + 5]! << 16)) >>> 2) & 0x1fff
      h3 += ((m[j + 4]! | (m[j + 5]! << 8) | (m[j + 6]! << 16)) >>> 7) & 0x1fff
      h4 += ((m[j + 6]! | (m[j + 7]! << 8) | (m[j + 8]! << 16)) >>> 4) & 0x1fff
      h5 += ((m[j + 8]! | (m[j + 9]! << 8) | (m[j + 10]! << 16)) >>> 1) & 0x1fff
      h6 += ((m[j + 9]! | (m[j + 10]! << 8) | (m[j + 11]! << 16)) >>> 6) & 0x1fff
      h7 += ((m[j + 11]! | (m[j + 12]! << 8) | (m[j + 13]! << 16)) >>> 3) & 0x1fff
      h8 += ((m[j + 13]! | (m[j + 14]! << 8) | (m[j + 15]! << 16)) >>> 0) & 0x1fff
      h9 += ((m[j + 14]! | (m[j + 15]! << 8) | 65536) >>> 5) & 0x1fff
      // h *= r mod 2^130 - 5; sums of five products stay below 2^32 (limbs < 2^14.1, 5r < 2^15.4)
      let c = 0
      let d0 = c + h0 * r0 + h1 * s9 + h2 * s8 + h3 * s7 + h4 * s6
      c = d0 >>> 13
      d0 = (d0 & 0x1fff) + h5 * s5 + h6 * s4 + h7 * s3 + h8 * s2 + h9 * s1
      c += d0 >>> 13
      d0 &= 0x1fff
      let d1 = c + h0 * r1 + h1 * r0 + h2 * s9 + h3 * s8 + h4 * s7
      c = d1 >>> 13
      d1 = (d1 & 0x1fff) + h5 * s6 + h6 * s5 + h7 * s4 + h8 * s3 + h9 * s2
      c += d1 >>> 13
      d1 &= 0x1fff
      let d2 = c + h0 * r2 + h1 * r1 + h2 * r0 + h3 * s9 + h4 * s8
      c = d2 >>> 13
      d2 = (d2 & 0x1fff) + h5 * s7 + h6 * s6 + h7 * s5 + h8 * s4 + h9 * s3
      c += d2 >>> 13
      d2 &= 0x1fff
      let d3 = c + h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s9
      c = d3 >>> 13
      d3 = (d3 & 0x1fff) + h5 * s8 + h6 * s7 + h7 * s6 + h8 * s5 + h9 * s4
      c += d3 >>> 13
      d3 &= 0x1fff
      let d4 = c + h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0
      c = d4 >>> 13
      d4 = (d4 & 0x1fff) + h5 * s9 + h6 * s8 + h7 * s7 + h8 * s6 + h9 * s5
      c += d4 >>> 13
      d4 &= 0x1fff
      let d5 = c + h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1
      c = d5 >>> 13
      d5 = (d5 & 0x1fff) + h5 * r0 + h6 * s9 + h7 * s8 + h8 * s7 + h9 * s6
      c += d5 >>> 13
      d5 &= 0x1fff
      let d6 = c + h0 * r6 + h1 * r5 + h2 * r4 + h3 * r3 + h4 * r2
      c = d6 >>> 13
      d6 = (d6 & 0x1fff) + h5 * r1 + h6 * r0 + h7 * s9 + h8 * s8 + h9 * s7
      c += d6 >>> 13
      d6 &= 0x1fff
      let d7 = c + h0 * r7 + h1 * r6 + h2 * r5 + h3 * r4 + h4 * r3
      c = d7 >>> 13
      d7 = (d7 & 0x1fff) + h5 * r2 + h6 * r1 + h7 * r0 + h8 * s9 + h9 * s8
      c += d7 >>> 13
      d7 &= 0x1fff
      let d8 = c + h0 * r8 + h1 * r7 + h2 * r6 + h3 * r5 + h4 * r4
      c = d8 >>> 13
      d8 = (d8 & 0x1fff) + h5 * r3 + h6 * r2 + h7 * r1 + h8 * r0 + h9 * s9
      c += d8 >>> 13
      d8 &= 0x1fff
      let d9 = c + h0 * r9 + h1 * r8 + h2 * r7 + h3 * r6 + h4 * r5
      c = d9 >>> 13
      d9 = (d9 & 0x1fff) + h5 * r4 + h6 * r3 + h7 * r2 + h8 * r1 + h9 * r0
      c += d9 >>> 13
      d9 &= 0x1fff
      c = (c * 5 + d0) | 0
      h0 = c & 0x1fff
      h1 = d1 + (c >>> 13)
      h2 = d2; h3 = d3; h4 = d4; h5 = d5; h6 = d6; h7 = d7; h8 = d8; h9 = d9
    }
  }
  let acc = [h0, h1, h2, h3, h4, h5, h6, h7, h8, h9].reduceRight((n, x) => n * 8192n + BigInt(x), 0n) % P130
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
