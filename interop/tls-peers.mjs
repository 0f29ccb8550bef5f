#!/usr/bin/env node
/**
 * Writes spec/vectors/tls-peers.json: certificates as go-libp2p's and rust-libp2p's TLS make them
 * (what each presents in a /tls/1.0.0 or QUIC handshake), each with the peer id a libp2p TLS
 * verifier must derive from it. Run by hand (`node interop/tls-peers.mjs`), not by `npm test`;
 * test/tls-cert.test.ts reads the file. The peers' `cert` mode: interop/go/secure.go,
 * interop/rust/src/stack.rs. Fresh keys every run, so a rerun rewrites every vector.
 *
 * Each vector: hex = the certificate DER; keyType = the host key's type; decoded.peerId; nowMs = a
 * moment inside the certificate's validity (go-libp2p's starts an hour before it was made, so a
 * fixed clock earlier than the run would call it not yet valid; rust-libp2p's runs 1975-4096).
 */
import { spawnSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.dirname(here)
const KEY_TYPE = { ed25519: 'Ed25519', ecdsa: 'ECDSA', secp256k1: 'Secp256k1', rsa: 'RSA' }
/** The stacks, their versions (interop/README.md) and the host key types their cert mode makes. */
const STACKS = [
  { impl: 'go', name: 'go-libp2p v0.48.0', api: 'p2p/security/tls NewIdentity', keys: ['ed25519', 'ecdsa', 'secp256k1'] },
  { impl: 'rust', name: 'rust-libp2p 0.57.1 (libp2p-tls 0.7.0)', api: 'libp2p::tls::certificate::generate', keys: ['ed25519'] },
]

const vectors = []
const date = new Date().toISOString().slice(0, 10)
for (const s of STACKS) {
  const b = spawnSync('bash', [path.join(here, s.impl, 'build.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  const bin = (b.stdout ?? '').trim().split('\n').pop()
  if (b.status !== 0 || !bin) throw new Error(`interop/${s.impl}/build.sh failed`)
  const r = spawnSync(bin, ['cert', ...s.keys], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${s.impl} cert: ${r.stderr}`)
  for (const line of r.stdout.trim().split('\n')) {
    const c = JSON.parse(line)
    const x = new X509Certificate(Buffer.from(c.certDerHex, 'hex'))
    if (!x.verify(x.publicKey)) throw new Error(`${s.impl} ${c.keyType}: self-signature does not verify`)
    const from = Date.parse(x.validFrom)
    const to = Date.parse(x.validTo)
    vectors.push({
      id: `${s.impl}-${c.keyType}`,
      provenance: 'interop',
      source: `${s.name} ${s.api}, printed by the interop/${s.impl} peer's cert mode on ${date} (interop/tls-peers.mjs)`,
      kind: 'chain',
      keyType: KEY_TYPE[c.keyType],
      nowMs: Math.min(from + 86_400_000, to),
      hex: c.certDerHex,
      decoded: { peerId: c.peerId },
      note: `valid ${x.validFrom} to ${x.validTo}; certificate key ${x.publicKey.asymmetricKeyType}${x.publicKey.asymmetricKeyDetails?.namedCurve ? ` ${x.publicKey.asymmetricKeyDetails.namedCurve}` : ''}`,
    })
  }
}
const file = {
  protocol: 'tls',
  description: 'libp2p TLS certificates made by go-libp2p and rust-libp2p (interop/tls-peers.mjs). kind chain: hex is one DER certificate, the whole chain, as that stack presents it in a handshake; keyType the host key type; decoded.peerId the peer id a verifier must derive from it; nowMs a wall clock (ms) inside its validity window, to verify at.',
  vectors,
}
const out = path.join(root, 'spec/vectors/tls-peers.json')
fs.writeFileSync(out, `${JSON.stringify(file, null, 2)}\n`)
console.log(`wrote ${path.relative(root, out)}: ${vectors.map((v) => `${v.id} ${v.decoded.peerId}`).join(', ')}`)
