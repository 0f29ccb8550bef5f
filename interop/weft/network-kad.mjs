/**
 * Kademlia network scenario for the weft network peer (../NETWORK.md): every node PUTs its own /pk
 * record (key "/pk/" + peer id multihash, value = public key protobuf: accepted by go's default
 * /ipfs validator, weft's built-in /pk validator and rust, which does not validate), provides the
 * sha256 multihash of "provide/<name>", then for every other node GETs its /pk record, finds its
 * provider record and finds it by FIND_NODE (getClosestPeers of its peer id).
 *
 * The late getter (`late=true`, runLateGetter) proves GETs over the network: with 4 servers (< k)
 * every server stores every record, so their GETs may be answered locally. It starts only after
 * the network's `provided` barrier, as a fresh DHT *client* (its store is empty, nobody can PUT to
 * it), and must get every record from other nodes, at least one of them go or rust.
 */
import { createHash } from 'node:crypto'
import { createNode } from '../../dist/node.js'
import { PeerId } from '../../dist/peer-id/index.js'

const enc = new TextEncoder()
const provideKey = (/** @type {string} */ name) => Uint8Array.from([0x12, 0x20, ...createHash('sha256').update(`provide/${name}`).digest()])
const pkKey = (/** @type {Uint8Array} */ mh) => Uint8Array.from([...enc.encode('/pk/'), ...mh])
const eq = (/** @type {Uint8Array} */ a, /** @type {Uint8Array} */ b) => a.length === b.length && a.every((x, i) => x === b[i])

/**
 * A `check(what, f)` that records f's verdict in `checks` and a reason in `failures` (a false answer
 * or the error f threw).
 * @param {Record<string, boolean>} checks @param {string[]} failures
 */
function checker(checks, failures) {
  return async (/** @type {string} */ what, /** @type {() => Promise<boolean>} */ f) => {
    try {
      checks[what] = await f()
      if (!checks[what]) failures.push(`${what}: wrong answer`)
    } catch (e) {
      checks[what] = false
      failures.push(`${what}: ${/** @type {Error} */ (e).message}`)
    }
  }
}

/** @param {any} ctx */
export async function runKad(ctx) {
  if (ctx.late) return runLateGetter(ctx)
  const { name, ip, channel, log, joinNetwork, barrier, pushResult, sleep } = ctx
  const node = await createNode({ listen: [channel.listen(ip)], security: channel.security, dht: { mode: 'server' } })
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
  const check = checker(checks, failures)
  for (const o of nodes.filter((/** @type {any} */ n) => n.name !== name)) {
    const peer = PeerId.parse(o.peer)
    const signal = () => AbortSignal.timeout(20_000)
    await check(`get ${o.name}`, async () => eq(await node.dht.get(pkKey(peer.multihash), { signal: signal() }), peer.multihash.subarray(2)))
    await check(`providers ${o.name}`, async () => (await node.dht.findProviders(provideKey(o.name), { signal: signal() })).some((p) => p.peer.equals(peer)))
    await check(`find-node ${o.name}`, async () => (await node.dht.getClosestPeers(peer.multihash, { signal: signal() })).some((p) => p.peer.equals(peer)))
  }
  await pushResult({ ok: failures.length === 0, checks, failures })
}

/** The late getter (see the header): joins after PUT and PROVIDE, as a client with an empty store. */
/** @param {any} ctx */
async function runLateGetter(ctx) {
  const { name, count, ip, channel, redis, log, until, pushResult } = ctx
  await until(async () => Number(await redis.command('LLEN', 'provided')) >= count, 100_000, 'the network to finish PUT and PROVIDE')
  const node = await createNode({ listen: [channel.listen(ip)], security: channel.security, dht: { mode: 'client' } })
  log(`peer id ${node.peerId} scenario=kad late client`)
  const nodes = /** @type {string[]} */ (await redis.command('LRANGE', 'nodes', '0', '-1')).map((l) => { const [n, addr] = l.split(' '); return { name: n, addr, peer: PeerId.parse(addr.replace(/.*\/p2p\//, '')) } })
  for (const n of nodes) await node.dial(n.addr)
  // identify lists /ipfs/kad/1.0.0 for every server: they enter our routing table
  await until(() => node.dht.routingTableSize >= nodes.length, 20_000, 'routing table holds every server')
  const kad = /** @type {any} */ (node.swarm.behaviours).kad
  /** @type {Record<string, boolean>} */ const checks = {}
  /** @type {Record<string, string[]>} */ const valueFrom = {}
  /** @type {string[]} */ const failures = []
  const check = checker(checks, failures)
  for (const o of nodes) {
    const signal = () => AbortSignal.timeout(20_000)
    await check(`network get ${o.name}`, async () => {
      if (kad.store.recordCount !== 0) throw new Error(`the local store holds ${kad.store.recordCount} records`)
      /** @type {string[]} */ const from = []
      const v = await node.dht.get(pkKey(o.peer.multihash), { signal: signal(), onProgress: (p) => { if (p.kind === 'value') from.push(nodes.find((n) => n.peer.equals(p.peer))?.name ?? String(p.peer)) } })
      valueFrom[o.name] = from
      if (!eq(v, o.peer.multihash.subarray(2))) return false
      if (!from.some((n) => !n.startsWith('weft-'))) throw new Error(`no go or rust node returned the record (from: ${from.join(', ')})`)
      return true
    })
    await check(`providers ${o.name}`, async () => (await node.dht.findProviders(provideKey(o.name), { signal: signal() })).some((p) => p.peer.equals(o.peer)))
    await check(`find-node ${o.name}`, async () => (await node.dht.getClosestPeers(o.peer.multihash, { signal: signal() })).some((p) => p.peer.equals(o.peer)))
  }
  await pushResult({ ok: failures.length === 0, checks, valueFrom, failures })
}
