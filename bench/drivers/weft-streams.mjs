// weft client driving N concurrent /perf/1.0.0 streams over ONE connection (the perf CLI has no
// multi-stream flag). Works against any perf server (weft, go, rust: they all serve /perf/1.0.0).
//   node bench/drivers/weft-streams.mjs <server-multiaddr> <streams> <upload-total> <download-total>
// Prints {"type":"final","timeSeconds",...} where the time includes the dial, like the perf CLIs.
import { createNode, perf } from '../../dist/node.js'

const [target, streamsText, upText, downText] = process.argv.slice(2)
const streams = Number(streamsText)
const up = Math.floor(Number(upText) / streams)
const down = Math.floor(Number(downText) / streams)
const node = await createNode({ listen: [], services: { perf: perf() } }) // perf is opt-in
const t0 = performance.now()
await node.dial(target)
const results = await Promise.all(Array.from({ length: streams }, () => node.perf(target, { uploadBytes: up, downloadBytes: down })))
const t = (performance.now() - t0) / 1000
const conns = node.getConnections().length
console.log(JSON.stringify({ type: 'final', timeSeconds: t, uploadBytes: up * streams, downloadBytes: down * streams, streams: results.length, connections: conns }))
await node.stop()
process.exit(0)
