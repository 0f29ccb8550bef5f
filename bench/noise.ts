/**
 * Noise transport throughput: two NoiseConnections in memory, the initiator writes 512 MiB which the
 * responder decrypts; printed as MB/s (1 MB = 10^6 bytes) for nodeCrypto, nobleCrypto and compactCrypto
 * (weft/browser's), with the time of one in-memory XX handshake (both sides: the curve operations). One
 * process does both the encryption and the decryption, so the figure is the single-core cost of a
 * byte crossing the channel end to end (a real pair of peers splits it over two processes).
 *
 * For scale it first prints the provider's raw ceiling: chachaSealInto + chachaOpenInto of
 * 65519-byte frames with no Noise around them. The Noise figure should be close to it.
 *
 * Run (esbuild is a dev dependency; Node 20 cannot run .ts directly; the bundle is written under
 * node_modules/.cache so its bare imports resolve):
 *   npx esbuild bench/noise.ts --bundle --platform=node --format=esm --packages=external \
 *     --outfile=node_modules/.cache/weft-bench/noise.mjs && node node_modules/.cache/weft-bench/noise.mjs
 * Arguments: `[MiB=512] [write-size=262144] [providers=node,noble]`, e.g. `... noise.mjs 128 65519 node`.
 */
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { compactCrypto } from '../src/core/crypto/compact.js'
import type { CryptoProvider } from '../src/core/crypto/provider.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'
import { NoiseConnection } from '../src/noise/index.js'

const MIB = 1024 * 1024
const args = process.argv.slice(2)
const totalMiB = Number(args[0] ?? 512)
const writeSize = Number(args[1] ?? 256 * 1024)
const which = (args[2] ?? 'node,noble').split(',')
/** Bytes per pollTransmit, like a driver writing to a socket. */
const TRANSMIT_MAX = 1 * MIB

function handshake(crypto: CryptoProvider): [NoiseConnection, NoiseConnection] {
  const i = new NoiseConnection({ role: 'initiator', crypto, identity: privateKeyFromSeed(new Uint8Array(32).fill(1), crypto) })
  const r = new NoiseConnection({ role: 'responder', crypto, identity: privateKeyFromSeed(new Uint8Array(32).fill(2), crypto) })
  for (let moved = true; moved; ) {
    moved = false
    for (const [a, b] of [
      [i, r],
      [r, i],
    ] as const) {
      for (let out = a.pollTransmit(TRANSMIT_MAX); out !== undefined; out = a.pollTransmit(TRANSMIT_MAX)) {
        b.handleData(0, out)
        moved = true
      }
    }
  }
  while (i.pollEvent() !== undefined);
  while (r.pollEvent() !== undefined);
  if (!i.isEstablished || !r.isEstablished) throw new Error('handshake did not complete')
  return [i, r]
}

function run(crypto: CryptoProvider, totalBytes: number): number {
  const [i, r] = handshake(crypto)
  const chunk = new Uint8Array(writeSize).fill(0x5a)
  let sent = 0
  let received = 0
  const start = performance.now()
  while (received < totalBytes) {
    // the sender fills about one socket write, then the "socket" carries it to the receiver
    while (sent < totalBytes && i.bufferedAmount < TRANSMIT_MAX) {
      const n = Math.min(writeSize, totalBytes - sent)
      i.write(n === writeSize ? chunk : chunk.subarray(0, n))
      sent += n
    }
    for (let out = i.pollTransmit(TRANSMIT_MAX); out !== undefined; out = i.pollTransmit(TRANSMIT_MAX)) {
      // a TCP socket delivers 64 KiB reads regardless of how the sender wrote
      for (let off = 0; off < out.length; off += 65536) r.handleData(0, out.subarray(off, off + 65536))
    }
    for (let ev = r.pollEvent(); ev !== undefined; ev = r.pollEvent()) if (ev.type === 'data') received += ev.data.length
  }
  const seconds = (performance.now() - start) / 1000
  return totalBytes / 1e6 / seconds
}

/** The ceiling: seal + open of full-size frames, nothing else. */
function raw(crypto: CryptoProvider, totalBytes: number): number {
  const key = crypto.randomBytes(32)
  const nonce = new Uint8Array(12)
  const ad = new Uint8Array(0)
  const pt = new Uint8Array(65519).fill(0x5a)
  const frame = new Uint8Array(65535)
  const out = new Uint8Array(65519)
  const start = performance.now()
  for (let done = 0; done < totalBytes; done += pt.length) {
    crypto.chachaSealInto!(key, nonce, pt, ad, frame, 0)
    if (!crypto.chachaOpenInto!(key, nonce, frame, ad, out, 0)) throw new Error('open failed')
  }
  return totalBytes / 1e6 / ((performance.now() - start) / 1000)
}

const providers: Record<string, CryptoProvider> = { node: nodeCrypto, noble: nobleCrypto, compact: compactCrypto }
console.log(`noise transport: ${totalMiB} MiB, write() of ${writeSize} bytes, pollTransmit(${TRANSMIT_MAX}), 64 KiB reads`)
for (const name of which) {
  const crypto = providers[name]
  if (crypto === undefined) throw new Error(`unknown provider ${name}`)
  // noble and compact (weft/browser's) are ~10x slower: give them an eighth of the volume so the run stays short
  const mib = name === 'node' ? totalMiB : Math.max(1, Math.floor(totalMiB / 8))
  // curve operations: one XX handshake, both sides (per side: static and ephemeral X25519 keys, 3 DH,
  // an Ed25519 identity key, signature and verification), timed alone
  const hs = performance.now()
  const hsN = name === 'node' ? 50 : 10
  for (let k = 0; k < hsN; k++) handshake(crypto)
  const hsMs = (performance.now() - hs) / hsN
  run(crypto, 8 * MIB) // warm-up
  const ceiling = raw(crypto, Math.min(mib, 128) * MIB)
  const mbps = run(crypto, mib * MIB)
  console.log(`${name.padEnd(7)} noise ${mbps.toFixed(0).padStart(6)} MB/s  (${mib} MiB; raw seal+open ceiling ${ceiling.toFixed(0)} MB/s; XX handshake both sides ${hsMs.toFixed(1)} ms)`)
}
