// crypto path: Noise transport throughput in one process (bench/noise.ts: encrypt + decrypt of the
// same bytes) with nodeCrypto, nobleCrypto and compactCrypto (what weft/browser uses), the time of an
// in-memory XX handshake (curve operations), plus each provider's raw
// ChaCha20-Poly1305 seal+open ceiling. In-process micro-benchmark: no go/rust counterpart.
import { row, missing } from './lib.mjs'

export const title = 'crypto path: Noise transport, one process encrypts and decrypts (MB/s of plaintext)'

export async function run({ quick, runs, bundleTs, runBundled }) {
  const file = await bundleTs('noise.ts')
  const mib = quick ? 32 : 256
  const got = { node: [], noble: [], compact: [], nodeRaw: [], nobleRaw: [], compactRaw: [], nodeHs: [], nobleHs: [], compactHs: [] }
  for (let i = 0; i < (quick ? 1 : runs); i++) {
    const out = await runBundled(file, [String(mib), '262144', 'node,noble,compact'])
    for (const m of out.matchAll(/^(\w+)\s+noise\s+(\d+) MB\/s.*ceiling (\d+) MB\/s; XX handshake both sides ([\d.]+) ms/gm)) {
      got[m[1]].push(Number(m[2]))
      got[`${m[1]}Raw`].push(Number(m[3]))
      got[`${m[1]}Hs`].push(Number(m[4]))
    }
  }
  return [
    row('crypto', 'weft nodeCrypto', 'memory', 'noise transport', 'MB/s', got.node),
    row('crypto', 'weft nobleCrypto', 'memory', 'noise transport', 'MB/s', got.noble),
    row('crypto', 'weft nodeCrypto', 'memory', 'raw chacha20-poly1305 seal+open', 'MB/s', got.nodeRaw),
    row('crypto', 'weft nobleCrypto', 'memory', 'raw chacha20-poly1305 seal+open', 'MB/s', got.nobleRaw),
    row('crypto', 'weft compactCrypto', 'memory', 'noise transport', 'MB/s', got.compact),
    row('crypto', 'weft compactCrypto', 'memory', 'raw chacha20-poly1305 seal+open', 'MB/s', got.compactRaw),
    row('crypto', 'weft nodeCrypto', 'memory', 'XX handshake, both sides', 'ms', got.nodeHs),
    row('crypto', 'weft nobleCrypto', 'memory', 'XX handshake, both sides', 'ms', got.nobleHs),
    row('crypto', 'weft compactCrypto', 'memory', 'XX handshake, both sides', 'ms', got.compactHs),
    missing('crypto', 'go', 'memory', 'noise transport', 'MB/s', 'in-process micro-benchmark: weft only'),
  ]
}
