/**
 * libp2p TLS certificate target (src/tls/der.ts, x509.ts, certificate.ts; spec/tls.md): a peer's
 * certificate chain through verifyCertificateChain, as a TLS handshake's verifyPeer hands it over.
 *
 * Inputs: byte 0 = mode (low 3 bits 0: a chain of two copies), then one DER certificate: a seed
 * (the spec's vectors, go-libp2p's and rust-libp2p's certificates, weft's own), unmutated or
 * mutated (bytes, lengths, splices between seeds); or a certificate built here and signed with a
 * fixed Ed25519 certificate key (so it passes the self-signature and reaches the later checks):
 * random validity, unique ids, extensions (the libp2p one valid, with a mutated SignedKey, absent,
 * twice; unknown ones critical or not). Checks: only ProtocolError('tls', 'tls/libp2p-*') escapes; a
 * chain of two is always refused (tls/libp2p-certificate-count); an accepted certificate is a seed,
 * byte for byte, with that seed's peer id (DER has one encoding and every byte is signed or is the
 * signature, so a changed certificate that still verifies would be a hole), or one built here, with
 * the fixed host key's peer id; every unmutated valid seed is accepted.
 */
import { existsSync, readFileSync } from 'node:fs'
import { fromHex, toHex } from '../../src/core/bytes.js'
import { ProtocolError } from '../../src/core/errors.js'
import { nodeTlsCrypto } from '../../src/io/crypto-tls-node.js'
import { privateKeyFromSeed } from '../../src/peer-id/index.js'
import { LIBP2P_EXTENSION_OID, generateCertificate, verifyCertificateChain } from '../../src/tls/index.js'
import { signedKeyExtension } from '../../src/tls/certificate.js'
import { encodeCertificate, encodeName, encodeSpki, encodeTbs, type Extension } from '../../src/tls/x509.js'
import { check, count, type Target } from './engine.js'
import { concatBytes, mutate } from './mutate.js'
import type { Rand } from './rng.js'

/** Inside every seed's validity window (go-libp2p's certificates of 2026-12-06 start an hour before they were made). */
const NOW = 1_798_761_600_000 // 2027-01-01T00:00:00Z

/** spec/vectors/, from this file (tests) or from the bundle in bench/.cache (`npm run fuzz`). */
function vectorDir(): URL {
  for (const up of ['../../spec/vectors/', '../../../spec/vectors/']) {
    const u = new URL(up, import.meta.url)
    if (existsSync(new URL('tls.json', u))) return u
  }
  throw new Error('tls-cert target: spec/vectors/ not found')
}

function seeds(): Array<{ der: Uint8Array; peer: string | undefined }> {
  const out: Array<{ der: Uint8Array; peer: string | undefined }> = []
  const dir = vectorDir()
  for (const file of ['tls', 'tls-peers']) {
    const vectors = (JSON.parse(readFileSync(new URL(`${file}.json`, dir), 'utf8')) as { vectors: Array<{ hex: string; decoded?: { peerId: string }; nowMs?: number }> }).vectors
    for (const v of vectors) if (v.decoded !== undefined && (v.nowMs === undefined || v.nowMs <= NOW)) out.push({ der: fromHex(v.hex), peer: v.decoded.peerId })
  }
  const id = privateKeyFromSeed(new Uint8Array(32).fill(5), nodeTlsCrypto.base)
  out.push({ der: generateCertificate(id, nodeTlsCrypto, { serial: Uint8Array.of(1) }).der, peer: id.toPeerId().toString() })
  return out
}

const SEEDS = seeds()
const HOST = privateKeyFromSeed(new Uint8Array(32).fill(6), nodeTlsCrypto.base)
const HOST_PEER = HOST.toPeerId().toString()
const CERT_SEED = new Uint8Array(32).fill(8)
const CERT_SPKI = encodeSpki({ kind: 'ed25519', key: nodeTlsCrypto.base.ed25519PublicKey(CERT_SEED) })
const GOOD_EXT = signedKeyExtension(HOST, CERT_SPKI, nodeTlsCrypto)
const DAY = 86_400_000

/** A certificate of the fixed Ed25519 certificate key, its fields and extensions drawn from `r`. */
function built(r: Rand): Uint8Array {
  const extensions: Extension[] = []
  for (let i = r.int(4); i > 0; i--) extensions.push({ oid: `1.2.3.${r.int(3)}`, critical: r.chance(0.3), value: r.bytes(r.int(8)) })
  const lib = r.int(10)
  if (lib > 0) extensions.splice(r.int(extensions.length + 1), 0, { oid: LIBP2P_EXTENSION_OID, critical: r.chance(0.5), value: lib < 7 ? GOOD_EXT : mutate(r, GOOD_EXT) })
  const notBefore = NOW + (r.chance(0.8) ? -1 : 1) * r.int(1000) * DAY
  const fields = { serial: r.bytes(1 + r.int(20)), signatureAlgorithm: 'ed25519' as const, issuer: encodeName('f'), subject: encodeName('f'), notBefore, notAfter: notBefore + (r.chance(0.8) ? 1 : -1) * r.int(3000) * DAY, spki: CERT_SPKI, extensions }
  fields.serial[0] = (fields.serial[0]! & 0x7f) | 1
  const tbs = encodeTbs(fields)
  return encodeCertificate(tbs, 'ed25519', nodeTlsCrypto.base.ed25519Sign(CERT_SEED, tbs))
}
const CORPUS = SEEDS.map((s) => s.der)
const BY_HEX = new Map(SEEDS.map((s) => [toHex(s.der), s.peer]))
const stats: Record<string, number> = {}

export const tlsCertTarget: Target = {
  name: 'tls-cert',
  stats,
  generate(r) {
    const mode = r.int(256)
    if (r.chance(0.35)) return concatBytes([Uint8Array.of(mode), built(r)])
    const seed = SEEDS[r.int(SEEDS.length)]!.der
    return concatBytes([Uint8Array.of(mode), r.chance(0.15) ? seed : mutate(r, seed, CORPUS, 1 + r.int(4))])
  },
  run(input) {
    const mode = input[0] ?? 0
    const der = input.subarray(1)
    const chain = (mode & 7) === 0 ? [der, der] : [der]
    let peer: string
    try {
      peer = verifyCertificateChain(chain, { crypto: nodeTlsCrypto, now: NOW }).peerId.toString()
    } catch (e) {
      if (e instanceof ProtocolError) {
        check(e.protocol === 'tls' && e.code.startsWith('tls/libp2p-'), `ProtocolError(${e.protocol}, ${e.code}) escaped verifyCertificateChain`)
        check(chain.length === 1 || e.code === 'tls/libp2p-certificate-count', `a chain of two refused with ${e.code}`)
        check(!BY_HEX.has(toHex(der)) || chain.length === 2, `an unmutated valid seed was refused: ${e.code}`)
        count(stats, e.code)
      }
      throw e
    }
    count(stats, 'accepted')
    check(chain.length === 1, 'a chain of two certificates was accepted')
    const expected = BY_HEX.get(toHex(der)) ?? HOST_PEER // a seed's, or one built here (the fixed host key)
    check(peer === expected, `a certificate verified to ${peer}, expected ${expected} (a changed byte went unnoticed?)`)
  },
}
