// crypto path: Noise transport throughput in one process (bench/noise.ts: encrypt + decrypt of the
// same bytes) with nodeCrypto and with nobleCrypto (what browsers get), plus each provider's raw
// ChaCha20-Poly1305 seal+open ceiling. In-process micro-benchmark: no go/rust counterpart.
import { row, missing } from './lib.mjs'

export const title = 'crypto path: Noise transport, one process encrypts and decrypts (MB/s of plaintext)'

export async function run({ quick, runs, bundleTs, runBundled }) {
  const file = await bundleTs('noise.ts')
  const mib = quick ? 32 : 256
  const got = { node: [], noble: [], nodeRaw: [], nobleRaw: [] }
  for (let i = 0; i < (quick ? 1 : runs); i++) {
    const out = await runBundled(file, [String(mib), '262144', 'node,noble'])
    for (const m of out.matchAll(/^(\w+)\s+noise\s+(\d+) MB\/s.*ceiling (\d+) MB\/s/gm)) {
      got[m[1]].push(Number(m[2]))
      got[`${m[1]}Raw`].push(Number(m[3]))
    }
  }
  return [
    row('crypto', 'weft nodeCrypto', 'memory', 'noise transport', 'MB/s', got.node),
    row('crypto', 'weft nobleCrypto', 'memory', 'noise transport', 'MB/s', got.noble),
    row('crypto', 'weft nodeCrypto', 'memory', 'raw chacha20-poly1305 seal+open', 'MB/s', got.nodeRaw),
    row('crypto', 'weft nobleCrypto', 'memory', 'raw chacha20-poly1305 seal+open', 'MB/s', got.nobleRaw),
    missing('crypto', 'go', 'memory', 'noise transport', 'MB/s', 'in-process micro-benchmark: weft only'),
  ]
}
