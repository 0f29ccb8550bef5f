// The soak's churn: peers that come to the target, do something, and leave, at a steady rate. Runs
// in its own process (forked by bench/soak.mjs), so none of its memory counts against the target.
//
// Each episode is either an honest peer (a fresh weft node with a fresh identity: dial, echo
// streams, ping, gossip, DHT queries, then a graceful stop or an abrupt one mid-transfer) or a
// hostile peer (bench/soak/hostile.mjs: the attacks of test/hostile.test.ts and the negotiation
// attacks of issue 11). Honest operations may fail with typed outcomes (a DHT key not found yet, a
// publish before the subscription arrived, a timeout on the loaded machine): those are counted by
// code. Untyped errors and echo mismatches are unexpected.
// dist/ by default; WEFT_SOAK_DIST (a file: URL ending in '/') points at another build (test/soak.test.ts
// builds the current src/ into node_modules/.cache so the test never runs a stale dist/).
const DIST = process.env.WEFT_SOAK_DIST ?? new URL('../../dist/', import.meta.url).href
const { createNode, nodeCrypto } = await import(new URL('node.js', DIST).href)
const { generatePrivateKey } = await import(new URL('peer-id/index.js', DIST).href)
import { ATTACKS } from './hostile.mjs'

const ECHO = '/soak/echo/1.0.0'
const TOPIC = 'soak'
const TYPED = new Set(['ProtocolError', 'TransportError', 'DialError', 'OutcomeError', 'StreamResetError', 'UsageError', 'AbortError', 'TimeoutError'])
export const soakValidators = { soak: { validate() {}, select() { return 0 } } }

const opts = JSON.parse(process.argv[2] ?? '{}')
const rate = opts.rate ?? 4 // episodes started per second
const concurrency = opts.concurrency ?? 12
const hostileShare = opts.hostileShare ?? 0.35
const addr = opts.addr
// Honest peers take their identity from a pool of `identities` keys (0 = a fresh key each time).
// Peers that come back are realistic, and a pool lets every per-peer store of the target (the
// peer store keeps up to 10,000 departed peers, ~5 KiB each) reach its steady size early, so the
// heap trend shows leaks rather than a bounded store filling up. Hostile peers use a pool too.
const identities = opts.identities ?? 200
const pool = []
function identity() {
  if (identities === 0) return generatePrivateKey(nodeCrypto)
  const i = int(0, identities - 1)
  pool[i] ??= generatePrivateKey(nodeCrypto)
  return pool[i]
}
const targetId = addr.slice(addr.lastIndexOf('/p2p/') + 5)

let seed = opts.seed ?? 1
function rand() { // mulberry32, reproducible episode mix
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1))

const stats = {
  episodes: 0, honest: 0, hostile: 0, skipped: 0, streamsOpened: 0, bytesEchoed: 0, published: 0, dhtOps: 0,
  abruptLeaves: 0, attacks: {}, outcomes: {}, unexpected: 0, unexpectedErrors: [],
}
function outcome(where, e) {
  const name = e?.name ?? typeof e
  if (TYPED.has(name)) {
    const k = `${where}: ${name} ${e.code ?? ''}`.trim()
    stats.outcomes[k] = (stats.outcomes[k] ?? 0) + 1
  } else unexpected(where, e)
}
function unexpected(where, e) {
  stats.unexpected++
  if (stats.unexpectedErrors.length < 30) stats.unexpectedErrors.push({ where, name: e?.name, code: e?.code, message: String(e?.message ?? e).slice(0, 300) })
}
process.on('uncaughtException', (e) => unexpected('churn uncaughtException', e))
process.on('unhandledRejection', (e) => unexpected('churn unhandledRejection', e))

function bytes(n) {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i += 4) { const v = (rand() * 4294967296) >>> 0; b[i] = v; b[i + 1] = v >>> 8; b[i + 2] = v >>> 16; b[i + 3] = v >>> 24 }
  return b
}
function sum(b, acc = 0) { for (let i = 0; i < b.length; i++) acc = (acc * 31 + b[i]) >>> 0; return acc }

async function echo(node, size, abortMidway) {
  const stream = await node.newStream(addr, ECHO, { signal: AbortSignal.timeout(10_000) })
  stats.streamsOpened++
  const data = bytes(size)
  const chunk = int(1024, 64 * 1024)
  async function* gen() { for (let o = 0; o < data.length; o += chunk) yield data.subarray(o, o + chunk) }
  const writing = stream.sink(gen())
  let n = 0
  let h = 0
  for await (const c of stream.source) {
    h = sum(c, h)
    n += c.length
    if (abortMidway && n >= size / 2) {
      writing.catch(() => {}) // the caller stops the node with this stream open: our write side fails then
      return 'abort'
    }
  }
  await writing
  if (n !== size || h !== sum(data)) unexpected('echo mismatch', new Error(`echo returned ${n} bytes of ${size}, checksum ${h === sum(data) ? 'equal' : 'different'}`))
  stats.bytesEchoed += n
  return 'ok'
}

async function gossip(node) {
  node.pubsub.subscribe(TOPIC)
  for (let i = 0; i < 30 && !node.pubsub.getSubscribers(TOPIC).some((p) => p.toString() === targetId); i++) await new Promise((r) => setTimeout(r, 100))
  await node.pubsub.publish(TOPIC, bytes(int(16, 8192)))
  stats.published++
}

async function dht(node) {
  const signal = AbortSignal.timeout(8000)
  const key = new TextEncoder().encode(`/soak/${int(0, 63)}`) // a small key space: the target's store fills, then stays
  const mh = Uint8Array.from([0x12, 0x20, ...new Uint8Array(32).fill(int(0, 31))])
  stats.dhtOps++
  switch (int(0, 4)) {
    case 0: await node.dht.put(key, bytes(int(8, 2048)), { signal }); break
    case 1: await node.dht.get(key, { signal }); break
    case 2: await node.dht.provide(mh, { signal }); break
    case 3: await node.dht.findProviders(mh, { signal }); break
    default: await node.dht.getClosestPeers(bytes(32), { signal }); break
  }
}

async function honest() {
  stats.honest++
  const node = await createNode({ listen: [], privateKey: identity(), dht: { mode: 'client', validators: soakValidators } })
  let abrupt = false
  try {
    const identified = new Promise((r) => { node.on('peer:identify', r); setTimeout(r, 5000) })
    await node.dial(addr, { signal: AbortSignal.timeout(10_000) })
    await identified
    const ops = int(1, 4)
    for (let i = 0; i < ops; i++) {
      const kind = int(0, 9)
      try {
        if (kind <= 3) {
          abrupt = rand() < 0.1
          const r = await echo(node, int(1, 512 * 1024), abrupt)
          if (r === 'abort') { stats.abruptLeaves++; break }
        } else if (kind <= 4) await node.ping(addr, { signal: AbortSignal.timeout(10_000) })
        else if (kind <= 6) await gossip(node)
        else await dht(node)
      } catch (e) {
        outcome(['echo', 'echo', 'echo', 'echo', 'ping', 'gossip', 'gossip', 'dht', 'dht', 'dht'][kind], e)
      }
    }
  } catch (e) {
    outcome('dial', e)
  } finally {
    await node.stop().catch((e) => unexpected('stop', e))
  }
}

const hostilePool = []
function hostileIdentity() {
  if (identities === 0) return generatePrivateKey(nodeCrypto)
  const i = int(0, Math.max(1, Math.floor(identities / 4)) - 1)
  hostilePool[i] ??= generatePrivateKey(nodeCrypto)
  return hostilePool[i]
}

async function hostile() {
  stats.hostile++
  const [name, attack] = ATTACKS[int(0, ATTACKS.length - 1)]
  stats.attacks[name] = (stats.attacks[name] ?? 0) + 1
  try {
    await attack(addr, hostileIdentity())
  } catch (e) {
    outcome(`attack ${name}`, e)
  }
}

let inFlight = 0
let stopping = false
const running = new Set()
function tick() {
  if (stopping) return
  if (inFlight >= concurrency) { stats.skipped++; return }
  stats.episodes++
  inFlight++
  const p = (rand() < hostileShare ? hostile() : honest())
    .catch((e) => unexpected('episode', e))
    .finally(() => { inFlight--; running.delete(p) })
  running.add(p)
}
const timer = setInterval(tick, 1000 / rate)

process.on('message', async (msg) => {
  if (msg?.type === 'stats') process.send?.({ type: 'stats', stats })
  if (msg?.type === 'stop') {
    stopping = true
    clearInterval(timer)
    await Promise.race([Promise.allSettled([...running]), new Promise((r) => setTimeout(r, 15_000))])
    process.send?.({ type: 'stats', final: true, stats, leftRunning: running.size }, () => process.exit(0))
  }
})
process.on('disconnect', () => process.exit(0))
