/**
 * Kademlia network scenario for the weft network peer (../NETWORK.md): every node PUTs its own /pk
 * record (key "/pk/" + peer id multihash, value = public key protobuf: accepted by go's default
 * /ipfs validator, weft's built-in /pk validator and rust, which does not validate), provides the
 * sha256 multihash of "provide/<name>", then for every other node GETs its /pk record, finds its
 * provider record and finds it by FIND_NODE (getClosestPeers of its peer id).
 */
import { createHash } from 'node:crypto'
import { createNode } from '../../dist/node.js'
import { PeerId } from '../../dist/peer-id/index.js'

const enc = new TextEncoder()
const provideKey = (/** @type {string} */ name) => Uint8Array.from([0x12, 0x20, ...createHash('sha256').update(`provide/${name}`).digest()])
const pkKey = (/** @type {Uint8Array} */ mh) => Uint8Array.from([...enc.encode('/pk/'), ...mh])
const eq = (/** @type {Uint8Array} */ a, /** @type {Uint8Array} */ b) => a.length === b.length && a.every((x, i) => x === b[i])

/** @param {any} ctx */
export async function runKad(ctx) {
  const { name, ip, log, joinNetwork, barrier, pushResult, sleep } = ctx
  const node = await createNode({ listen: [`/ip4/${ip}/tcp/0`], dht: { mode: 'server' } })
  log(`peer id ${node.peerId} scenario=kad`)
  const nodes = await joinNetwork(node)
  await barrier('ready')
  await sleep(1000) // identify: the peers enter the routing table
  const own = node.peerId.multihash
  const put = await node.dht.put(pkKey(own), node.privateKey.publicKey.bytes)
  log(`put: stored at ${put.stored.length}, failed ${put.failed.length}`)
  if (put.stored.length === 0) throw new Error(`put stored nowhere (failed: ${put.failed.map(String)})`)
  await barrier('put')
  const prov = await node.dht.provide(provideKey(name))
  log(`provide: stored at ${prov.stored.length}, failed ${prov.failed.length}`)
  if (prov.stored.length === 0) throw new Error('provide stored nowhere')
  await barrier('provided')
  /** @type {Record<string, boolean>} */ const checks = {}
  /** @type {string[]} */ const failures = []
  const check = async (/** @type {string} */ what, /** @type {() => Promise<boolean>} */ f) => {
    try {
      checks[what] = await f()
      if (!checks[what]) failures.push(`${what}: wrong answer`)
    } catch (e) {
      checks[what] = false
      failures.push(`${what}: ${/** @type {Error} */ (e).message}`)
    }
  }
  for (const o of nodes.filter((/** @type {any} */ n) => n.name !== name)) {
    const peer = PeerId.parse(o.peer)
    const signal = () => AbortSignal.timeout(20_000)
    await check(`get ${o.name}`, async () => eq(await node.dht.get(pkKey(peer.multihash), { signal: signal() }), peer.multihash.subarray(2)))
    await check(`providers ${o.name}`, async () => (await node.dht.findProviders(provideKey(o.name), { signal: signal() })).some((p) => p.peer.equals(peer)))
    await check(`find-node ${o.name}`, async () => (await node.dht.getClosestPeers(peer.multihash, { signal: signal() })).some((p) => p.peer.equals(peer)))
  }
  await pushResult({ ok: failures.length === 0, checks, failures })
}
