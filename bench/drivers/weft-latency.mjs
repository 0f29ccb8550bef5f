// weft latency driver (one process, a server in another): for each iteration, dial a fresh
// connection, time dial -> ready (Noise + yamux up: node.dial resolves), then a /perf/1.0.0 exchange
// of 1 byte up and 1 byte down on a new stream, then hang up.
//   node bench/drivers/weft-latency.mjs <server-multiaddr> <iterations> [ping]
// With `ping`: no dialing per iteration; one connection, <iterations> pings (RTT in ms).
import { createNode, perf } from '../../dist/node.js'

const [target, itText, mode] = process.argv.slice(2)
const n = Number(itText)
const node = await createNode({ listen: [], services: { perf: perf() } }) // perf is opt-in
const dialMs = []
const totalMs = []
const pingMs = []
if (mode === 'ping') {
  await node.dial(target)
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await node.ping(target)
    pingMs.push(performance.now() - t)
  }
} else {
  // one warm-up round (JIT, key caches), not recorded
  for (let i = -1; i < n; i++) {
    const t0 = performance.now()
    const conn = await node.dial(target)
    const t1 = performance.now()
    await node.perf(target, { uploadBytes: 1, downloadBytes: 1 })
    const t2 = performance.now()
    if (i >= 0) { dialMs.push(t1 - t0); totalMs.push(t2 - t0) }
    await node.hangUp(conn.peer)
    while (node.getConnections().length > 0) await new Promise((r) => setTimeout(r, 1))
  }
}
console.log(JSON.stringify({ dialMs, totalMs, pingMs }))
await node.stop()
process.exit(0)
