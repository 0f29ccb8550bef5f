// Reproduces the leak the 30-minute soak found (bench/README.md, "Soak"): a connection that dies
// right after the Noise handshake (here: the peer's first transport frame does not authenticate,
// noise/decrypt-failed) leaves gossipsub's outbound-stream request unanswered: neither
// 'stream-opened' nor 'stream-open-failed' arrives, so GossipsubContext.openRequests (and the
// swarm's #opens) keep one entry, with its PeerState, PeerId and PublicKey, per such connection.
// Prints how many entries are left after N such connections (0 = fixed), read from a heap snapshot.
//   node bench/soak/repro-open-leak.mjs      (uses dist/, or WEFT_SOAK_DIST)
import { readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeHeapSnapshot } from 'node:v8'
const DIST = process.env.WEFT_SOAK_DIST ?? new URL('../../dist/', import.meta.url).href
const { createNode, nodeCrypto } = await import(new URL('node.js', DIST).href)
const { generatePrivateKey } = await import(new URL('peer-id/index.js', DIST).href)
const { ATTACKS } = await import('./hostile.mjs')

const node = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
const addr = node.getMultiaddrs()[0].toString()
const attack = ATTACKS.find(([n]) => n === 'tampered-ciphertext')[1]
const N = 30
for (let i = 0; i < N; i++) await attack(addr, generatePrivateKey(nodeCrypto)).catch(() => {})
await new Promise((r) => setTimeout(r, 500))
const file = writeHeapSnapshot(join(tmpdir(), `weft-open-leak-${process.pid}.heapsnapshot`))
const snap = JSON.parse(readFileSync(file, 'utf8'))
rmSync(file)
const { node_fields: nf, edge_fields: ef, node_types: [types], edge_types: [etypes] } = snap.snapshot.meta
const { nodes, edges, strings } = snap
const NF = nf.length, EF = ef.length
const first = []
for (let i = 0, e = 0; i < nodes.length; i += NF) { first.push(e); e += nodes[i + nf.indexOf('edge_count')] * EF }
const name = (i) => strings[nodes[i + nf.indexOf('name')]]
function* out(i) {
  const start = first[i / NF], n = nodes[i + nf.indexOf('edge_count')]
  for (let e = start; e < start + n * EF; e += EF) {
    const t = etypes[edges[e + ef.indexOf('type')]]
    const label = ['element', 'hidden'].includes(t) ? edges[e + ef.indexOf('name_or_index')] : strings[edges[e + ef.indexOf('name_or_index')]]
    yield { t, label, to: edges[e + ef.indexOf('to_node')] }
  }
}
let left = 0
for (let i = 0; i < nodes.length; i += NF) {
  if (types[nodes[i + nf.indexOf('type')]] !== 'object' || name(i) !== 'GossipsubContext') continue
  const map = [...out(i)].find((e) => e.label === 'openRequests')?.to
  const table = map === undefined ? undefined : [...out(map)].find((e) => e.label === 'table')?.to
  if (table !== undefined) left += [...out(table)].filter((e) => types[nodes[e.to + nf.indexOf('type')]] === 'object' && name(e.to) === 'Object').length
}
console.log(JSON.stringify({ connections: N, openRequestsLeft: left }))
await node.stop()
process.exit(0)
