/**
 * Memory ownership across the crypto provider (issue 11 item 6, audit finding 6).
 *
 * TCP reads land in one shared buffer and Noise decrypts frames that are views of it, handing the
 * plaintext up as owned. That is safe exactly when `chachaOpen` returns fresh memory (the contract
 * written on CryptoProvider). These tests show (1) both shipped providers honour it even when every
 * ciphertext is a view of one reused buffer, and (2) the contract is checked: a provider that
 * decrypts in place, or into a reused scratch buffer, fails the first handshake with a local
 * UsageError('crypto/provider-contract') instead of silently corrupting other connections' data.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { createNode, nodeCrypto, type WeftNode } from '../src/node.js'
import { nobleCrypto, type CryptoProvider } from '../src/core/index.js'
import { compactCrypto } from '../src/core/crypto/compact.js'
import { CipherState } from '../src/noise/index.js'

const nodes: WeftNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

/** RFC-correct but contract-breaking: decrypts into the ciphertext's own memory. */
const withoutOpenInto = (): CryptoProvider => {
  const { chachaOpenInto: _skip, ...rest } = nodeCrypto
  return rest
}

const inPlace: CryptoProvider = {
  ...withoutOpenInto(),
  name: 'in-place',
  chachaOpen(key, nonce, ciphertext, ad) {
    const pt = nodeCrypto.chachaOpen(key, nonce, ciphertext, ad)
    if (pt === undefined) return undefined
    ciphertext.set(pt, 0)
    return ciphertext.subarray(0, pt.length)
  },
}

/** Contract-breaking the other way: every plaintext is a view of one provider-owned scratch buffer. */
const scratch = new Uint8Array(70_000)
const reusedScratch: CryptoProvider = {
  ...withoutOpenInto(),
  name: 'reused-scratch',
  chachaOpen(key, nonce, ciphertext, ad) {
    const pt = nodeCrypto.chachaOpen(key, nonce, ciphertext, ad)
    if (pt === undefined) return undefined
    scratch.set(pt, 0)
    return scratch.subarray(0, pt.length)
  },
}

const nonce0 = (n: number): Uint8Array => { const b = new Uint8Array(12); new DataView(b.buffer).setUint32(4, n, true); return b }

describe('chachaOpen returns fresh memory', () => {
  test.each([['node', nodeCrypto], ['noble', nobleCrypto], ['compact', compactCrypto]] as const)('%s: plaintexts stay intact while the ciphertext buffer is reused', (_n, crypto) => {
    const key = new Uint8Array(32).fill(7)
    const rx = new CipherState(crypto, key)
    const shared = new Uint8Array(4096) // stands in for the shared TCP read buffer
    const kept: Uint8Array[] = []
    for (let i = 0; i < 200; i++) {
      const msg = Uint8Array.from({ length: 1000 }, (_, j) => (i + j) & 0xff)
      shared.set(crypto.chachaSeal(key, nonce0(i), msg, new Uint8Array(0)), 0)
      kept.push(rx.decryptWithAd(new Uint8Array(0), shared.subarray(0, 1016)))
    }
    kept.forEach((p, i) => expect(p.every((x, j) => x === ((i + j) & 0xff))).toBe(true))
  })

  test.each([['in place', inPlace], ['reused scratch', reusedScratch]] as const)('a provider that decrypts %s is a UsageError at the CipherState', (_n, crypto) => {
    const key = new Uint8Array(32).fill(7)
    const second = new CipherState(crypto, key)
    const c1 = nodeCrypto.chachaSeal(key, nonce0(0), new Uint8Array(100).fill(1), new Uint8Array(0))
    const c2 = nodeCrypto.chachaSeal(key, nonce0(1), new Uint8Array(100).fill(2), new Uint8Array(0))
    expect(() => { second.decryptWithAd(new Uint8Array(0), c1); second.decryptWithAd(new Uint8Array(0), c2) }).toThrow(expect.objectContaining({ name: 'UsageError', code: 'crypto/provider-contract' }))
  })
})

describe('over TCP, a contract-breaking provider fails locally and loudly', () => {
  test.each([['in place', inPlace], ['reused scratch', reusedScratch]] as const)('dialling with a provider that decrypts %s: DialError caused by UsageError crypto/provider-contract', async (_n, crypto) => {
    const server = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], services: {} })
    const client = await createNode({ crypto, services: {} })
    nodes.push(server, client)
    const err = await client.dial(server.getMultiaddrs()[0]!).then(() => undefined, (e: unknown) => e)
    expect(err).toMatchObject({ name: 'DialError' })
    // each attempt's error, and its causes: the connection closed with an internal error whose cause is the contract check
    const chain: string[] = []
    for (const a of (err as { attempts: { error: unknown }[] }).attempts) {
      for (let e = a.error as { name?: string; code?: string; cause?: unknown } | undefined; e !== undefined; e = e.cause as typeof e) chain.push(`${e.name}:${e.code}`)
    }
    expect(chain).toContain('UsageError:crypto/provider-contract')
    expect(chain.some((c) => c.startsWith('ProtocolError'))).toBe(false)
    // the same client with a conforming provider would connect: the server is unharmed
    const good = await createNode({ services: {} })
    nodes.push(good)
    await expect(good.ping(server.getMultiaddrs()[0]!)).resolves.toBeGreaterThanOrEqual(0)
  })
})
