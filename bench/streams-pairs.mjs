// Paired 16-vs-1 stream rounds over TCP, weft->weft, 512 MiB each way per run, alternating order (issue 15,
// bench/README.md "Issue 15's goals at a glance"): node bench/streams-pairs.mjs [rounds] (default 10). Uses dist/.
import { MIB, runPerfClient, startPerfServer, median } from './lib.mjs'
const rounds = Number(process.argv[2] ?? 10)
const bytes = 512 * MIB
const srv = await startPerfServer('weft')
const ratios = []
const x16 = []
const x1 = []
try {
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? [16, 1] : [1, 16]
    const r = {}
    for (const n of order) {
      const o = await runPerfClient('weft', srv.port, 'tcp', bytes, bytes, 600_000, ['--streams', String(n)])
      r[n] = (o.uploadBytes + o.downloadBytes) / 1e6 / o.timeSeconds
    }
    x16.push(r[16]); x1.push(r[1]); ratios.push(r[16] / r[1])
    console.log(`round ${i + 1}: x16 ${r[16].toFixed(0)} x1 ${r[1].toFixed(0)} ratio ${(r[16] / r[1]).toFixed(3)}`)
  }
} finally { srv.stop() }
console.log(`median x16 ${median(x16).toFixed(0)} x1 ${median(x1).toFixed(0)}; median paired ratio ${median(ratios).toFixed(3)} (min ${Math.min(...ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)})`)
