import { describe, expect, test } from 'vitest'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { compactCrypto } from '../src/core/crypto/compact.js'
import { deriveSecret, hkdfExpandLabel, hkdfExtract } from '../src/tls/hkdf.js'

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s/g, '').match(/../g)!.map((b) => parseInt(b, 16)))
const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

describe.each([nodeCrypto, compactCrypto])('TLS 1.3 HKDF ($name)', (c) => {
  test('RFC 8448 §3: early secret and the derived secret (no PSK)', () => {
    const early = hkdfExtract(c, new Uint8Array(0), new Uint8Array(32))
    expect(toHex(early)).toBe('33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a')
    const emptyHash = c.sha256(new Uint8Array(0))
    expect(toHex(deriveSecret(c, early, 'derived', emptyHash))).toBe('6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba')
  })
  test('RFC 9001 A.1: QUIC v1 client Initial secrets for DCID 8394c8f03e515708', () => {
    const initial = hkdfExtract(c, hex('38762cf7f55934b34d179ae6a4c80cadccbb7f0a'), hex('8394c8f03e515708'))
    expect(toHex(initial)).toBe('7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44')
    const client = hkdfExpandLabel(c, initial, 'client in', new Uint8Array(0), 32)
    expect(toHex(client)).toBe('c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea')
    expect(toHex(hkdfExpandLabel(c, client, 'quic key', new Uint8Array(0), 16))).toBe('1f369613dd76d5467730efcbe3b1a22d')
    expect(toHex(hkdfExpandLabel(c, client, 'quic iv', new Uint8Array(0), 12))).toBe('fa044b2f42a3fd3b46fb255c')
    expect(toHex(hkdfExpandLabel(c, client, 'quic hp', new Uint8Array(0), 16))).toBe('9f50449e04a0e810283a1e9933adedd2')
  })
  test('lengths out of range are RangeErrors', () => {
    expect(() => hkdfExpandLabel(c, new Uint8Array(32), 'x'.repeat(250), new Uint8Array(0), 32)).toThrow(RangeError)
    expect(() => hkdfExpandLabel(c, new Uint8Array(32), 'key', new Uint8Array(0), 255 * 32 + 1)).toThrow(RangeError)
  })
})
