// A weft node that accepts many idle connections and reports its memory on request. Started by
// bench/memory.mjs (memory and scale benchmarks) with --expose-gc.
//   node --expose-gc bench/drivers/weft-hold-server.mjs <tcp|ws> [--services none|default] [--low N --high N]
// --services none (the default here): identify and ping only; default: createNode's defaults
// (Kademlia and gossipsub too). --low/--high: the connection manager's watermarks (default 15,000 /
// 20,000: above any count the bench opens, so nothing is trimmed). Connection and pending-upgrade
// limits, and the resource manager's system connection limits, are raised to match.
// stdout: {"addr": "<multiaddr with /p2p>"} once listening, then one JSON line per stdin line:
//   stats   -> {"connections", "established", "closed", "closeCodes": {code: n}, "eventLoopP99Ms", "eventLoopMaxMs"}
//              (established/closed: since start; event-loop delay since the previous stats/measure)
//   measure -> the same plus {"heapUsed","rss","external","arrayBuffers"}, after three full GCs
//   snapshot <file> -> {"file"} after three full GCs, a V8 heap snapshot written there (bench/memory-why.mjs)
// WEFT_DIST=<dir>: load weft from there instead of dist/ (a private build while others rebuild dist/).
import { createInterface } from 'node:readline'
import { readFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import v8 from 'node:v8'

const { createNode } = await import(process.env.WEFT_DIST ? pathToFileURL(`${process.env.WEFT_DIST}/node.js`).href : '../../dist/node.js')

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { services: { type: 'string', default: 'none' }, low: { type: 'string' }, high: { type: 'string' } },
})
const transport = positionals[0] ?? 'tcp'
const highWater = Number(opt.high ?? 20_000)
const lowWater = Number(opt.low ?? Math.floor(highWater * 0.75))
const maxConnections = Math.max(20_000, highWater + 1_000)
const node = await createNode({
  listen: [transport === 'ws' ? '/ip4/127.0.0.1/tcp/0/ws' : '/ip4/127.0.0.1/tcp/0'],
  ...(opt.services === 'default' ? {} : { services: {} }),
  limits: { maxConnections, maxPendingInbound: 256 },
  connectionManager: { lowWater, highWater },
  // the resource manager's system scope already follows highWater (>= 2 x); handshakes in flight
  // (transient) are raised to the pending-inbound slots, so only maxPendingInbound decides
  resources: { system: { conns: 2 * maxConnections, connsInbound: 2 * maxConnections }, transient: { conns: 1024, connsInbound: 1024 } },
})
console.log(JSON.stringify({ addr: node.getMultiaddrs()[0].toString() }))

let established = 0
let closed = 0
const closeCodes = {}
node.on('connection:open', () => { established++ })
node.on('connection:close', ({ error }) => {
  closed++
  const c = error === undefined ? 'clean' : error.code ?? error.name
  closeCodes[c] = (closeCodes[c] ?? 0) + 1
})
const loop = monitorEventLoopDelay({ resolution: 10 })
loop.enable()
const rssNow = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024
function stats() {
  const s = {
    connections: node.getConnections().length, established, closed, closeCodes,
    eventLoopP99Ms: Math.round(loop.percentile(99) / 1e4) / 100, eventLoopMaxMs: Math.round(loop.max / 1e4) / 100,
  }
  loop.reset()
  return s
}
const fullGc = async () => { for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)) } }
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.trim().split(/\s+/)
  if (cmd === 'stats') console.log(JSON.stringify(stats()))
  else if (cmd === 'snapshot') {
    await fullGc()
    console.log(JSON.stringify({ file: v8.writeHeapSnapshot(arg) }))
  } else if (cmd === 'measure') {
    await fullGc()
    const m = process.memoryUsage()
    console.log(JSON.stringify({ ...stats(), heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: rssNow(), external: m.external, arrayBuffers: m.arrayBuffers }))
  }
}
process.exit(0)
