// A weft node that accepts many idle connections (connection limits raised) and reports its memory
// on request. Started by bench/memory.mjs with --expose-gc.
//   node --expose-gc bench/drivers/weft-hold-server.mjs <tcp|ws>
// stdout: {"addr": "<multiaddr with /p2p>"} once listening, then one JSON line per "measure" line on
// stdin: {"heapUsed","rss","external","arrayBuffers","connections"} after two full GCs.
import { createInterface } from 'node:readline'
import { readFileSync } from 'node:fs'
import { createNode } from '../../dist/node.js'

const transport = process.argv[2] ?? 'tcp'
const node = await createNode({
  listen: [transport === 'ws' ? '/ip4/127.0.0.1/tcp/0/ws' : '/ip4/127.0.0.1/tcp/0'],
  limits: { maxConnections: 20_000, maxPendingInbound: 256 },
})
console.log(JSON.stringify({ addr: node.getMultiaddrs()[0].toString() }))
const rssNow = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== 'measure') continue
  for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)) }
  const m = process.memoryUsage()
  console.log(JSON.stringify({ heapUsed: m.heapUsed, rss: rssNow(), external: m.external, arrayBuffers: m.arrayBuffers, connections: node.getConnections().length }))
}
process.exit(0)
