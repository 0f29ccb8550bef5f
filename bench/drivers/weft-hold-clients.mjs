// Many weft client nodes (one identity each, so each holds its own connection), each dialing one
// server and then staying idle. Used by bench/memory.mjs for the memory and scale benchmarks.
//   node bench/drivers/weft-hold-clients.mjs <server-multiaddr> <count> [concurrency=32] [deadline-ms]
// No new dial starts after the deadline (default none). stdout: {"progress": n} every 5 s, then
// {"ready": n, "failed": f, "attempted": a} when every started dial settled; then {"open": n} per "count" line on
// stdin (connections still open on the client side); exits when stdin closes.
import { createInterface } from 'node:readline'
import { createNode } from '../../dist/node.js'

const [target, countText, concText] = process.argv.slice(2)
const count = Number(countText)
const concurrency = Number(concText ?? 32)
const deadline = process.argv[5] === undefined ? Infinity : Date.now() + Number(process.argv[5])
const nodes = []
let failed = 0
let firstError
let next = 0
async function worker() {
  while (next < count && Date.now() < deadline) {
    next++
    try {
      const node = await createNode({ listen: [] })
      nodes.push(node)
      await node.dial(target)
    } catch (e) {
      failed++
      firstError ??= String(e?.message ?? e)
    }
  }
}
let ok = 0
const progress = setInterval(() => console.log(JSON.stringify({ progress: nodes.length - failed })), 5000)
await Promise.all(Array.from({ length: concurrency }, worker))
clearInterval(progress)
ok = next - failed
console.log(JSON.stringify({ ready: ok, failed, attempted: next, firstError }))
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === 'count') console.log(JSON.stringify({ open: nodes.reduce((s, n) => s + n.getConnections().length, 0) }))
}
process.exit(0)
