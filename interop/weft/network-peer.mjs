#!/usr/bin/env node
/**
 * The weft interop peer in NETWORK mode (../NETWORK.md): one node of a mixed weft/go/rust network,
 * coordinated through Redis by ../network.mjs. Scenarios: gossip-content, gossip-seqno,
 * gossip-badsig (gossipsub, issue 7) and kad (Kademlia, issue 6), over the network's channel:
 * `transport` tcp (default) or quic-v1, `security` noise (default) or tls (quic-v1 needs tls).
 *
 * stdout is unused; logs go to stderr; the result is `RPUSH results <json>`.
 * Needs `npm run build` first (imports ../../dist).
 */
import { performance } from 'node:perf_hooks'
import { createNode, nodeCrypto } from '../../dist/node.js'
import { DEFAULT_TOPIC_SCORE_PARAMS } from '../../dist/gossipsub/index.js'
import { Resp } from './resp.mjs'
import { runKad } from './network-kad.mjs'
import { sleep, until } from '../lib/wait.mjs' // until polls every 100 ms

const TOPIC = 'weft-interop'
const t0 = performance.now()
const env = (/** @type {string} */ k, /** @type {string} */ d = '') => { const v = process.env[k]; return v === undefined || v === '' ? d : v }
const name = env('node_name', 'weft')
/** @param {...unknown} args */
function log(...args) {
  const ms = (performance.now() - t0).toFixed(0).padStart(6)
  process.stderr.write(`[${name} ${ms}ms] ${args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.stack ?? a.message : JSON.stringify(a))).join(' ')}\n`)
}
function die(/** @type {string} */ msg) {
  process.stderr.write(`[${name}] error: ${msg}\n`)
  process.exit(1)
}

const scenario = env('network_scenario')
if (!['gossip-content', 'gossip-seqno', 'gossip-badsig', 'kad'].includes(scenario)) die(`unsupported network_scenario "${scenario}"`)
const count = Number(env('node_count', '0'))
if (!Number.isSafeInteger(count) || count < 2) die('node_count must be an integer >= 2')
const messages = Number(env('messages', '100'))
const isBad = env('bad') === 'true'
const ip = env('ip', '127.0.0.1')
const redisAddr = env('redis_addr', 'redis:6379')
const timeoutSec = Number(env('test_timeout_seconds', '120'))
setTimeout(() => die(`test_timeout_seconds (${timeoutSec}) passed`), timeoutSec * 1000).unref()

const transport = env('transport', 'tcp')
const security = env('security', 'noise')
if (transport !== 'tcp' && transport !== 'quic-v1') die(`unsupported transport "${transport}" (want tcp or quic-v1)`)
if (security !== 'noise' && security !== 'tls') die(`unsupported security "${security}" (want noise or tls)`)
if (transport === 'quic-v1' && security !== 'tls') die('quic-v1 needs security tls')
/** The network's channel (NETWORK.md): the listen address on `host` and createNode's `security`. */
const channel = {
  listen: (/** @type {string} */ host) => (transport === 'quic-v1' ? `/ip4/${host}/udp/0/quic-v1` : `/ip4/${host}/tcp/0`),
  security: [/** @type {'noise' | 'tls'} */ (security)],
}

const redis = await Resp.connect(redisAddr)

/** Register, wait for all `count` nodes, dial every node listed before us. Returns [{name, addr, peer}]. */
async function joinNetwork(/** @type {any} */ node) {
  const own = `${node.getMultiaddrs()[0].toString()}`
  const me = `${name} ${own.includes('/p2p/') ? own : `${own}/p2p/${node.peerId}`}`
  await redis.command('RPUSH', 'nodes', me)
  const list = /** @type {string[]} */ (await until(async () => {
    const l = /** @type {string[]} */ (await redis.command('LRANGE', 'nodes', '0', '-1'))
    return l.length >= count ? l : undefined
  }, 30_000, 'all nodes registered'))
  const nodes = list.map((l) => { const [n, addr] = l.split(' '); return { name: n, addr, peer: addr.replace(/.*\/p2p\//, '') } })
  const mine = list.indexOf(me)
  for (const n of nodes.slice(0, mine)) {
    log(`dialing ${n.name} ${n.addr}`)
    await node.dial(n.addr)
  }
  return nodes
}

async function barrier(/** @type {string} */ key) {
  await redis.command('RPUSH', key, name)
  await until(async () => Number(await redis.command('LLEN', key)) >= count, 30_000, `barrier ${key}`)
}

async function pushResult(/** @type {Record<string, unknown>} */ r) {
  const res = { name, impl: 'weft', ...r }
  log(`result ${JSON.stringify(res)}`)
  await redis.command('RPUSH', 'results', JSON.stringify(res))
}

// ---- gossipsub -----------------------------------------------------------------------------

/**
 * Test-only, for the gossip-badsig publisher: a crypto provider (a public createNode option) whose
 * Ed25519 signatures have their first byte flipped while `corruptSignatures` is set.
 */
let corruptSignatures = false
const corruptingCrypto = {
  ...nodeCrypto,
  ed25519Sign: (/** @type {Uint8Array} */ seed, /** @type {Uint8Array} */ message) => {
    const sig = nodeCrypto.ed25519Sign(seed, message)
    if (!corruptSignatures) return sig
    const bad = sig.slice()
    bad[0] ^= 0xff
    return bad
  },
}

async function runGossip() {
  const badsig = scenario === 'gossip-badsig'
  const node = await createNode({
    listen: [channel.listen(ip)],
    security: channel.security,
    ...(isBad ? { crypto: corruptingCrypto } : {}),
    pubsub: {
      msgId: scenario === 'gossip-seqno' ? 'from-seqno' : 'content-sha256',
      signaturePolicy: 'StrictSign',
      // badsig: only P4 (invalid deliveries) counts, so the bad node's score is what falls
      ...(badsig ? { scoreParams: { defaultTopic: { ...DEFAULT_TOPIC_SCORE_PARAMS, timeInMeshWeight: 0, firstMessageDeliveriesWeight: 0 } } } : {}),
    },
  })
  log(`peer id ${node.peerId} scenario=${scenario} bad=${isBad} transport=${transport} security=${security}`)
  node.on('connection:open', (/** @type {any} */ c) => log(`connection ${c.id} ${c.direction} ${c.peer} ${c.remoteAddr}`))
  node.on('connection:close', (/** @type {any} */ e) => log(`connection ${e.connection?.id} closed ${e.error?.message ?? ''}`))
  /** @type {Map<string, number>} */ const got = new Map()
  node.pubsub.on('message', (m) => {
    if (m.topic !== TOPIC) return
    const d = new TextDecoder().decode(m.data)
    got.set(d, (got.get(d) ?? 0) + 1)
  })
  node.pubsub.subscribe(TOPIC)
  const nodes = await joinNetwork(node)
  const others = nodes.filter((n) => n.name !== name)
  await until(() => node.pubsub.getSubscribers(TOPIC).length >= others.length, 30_000, `all ${others.length} peers subscribed`).catch((e) => {
    const subs = node.pubsub.getSubscribers(TOPIC).map(String)
    const conns = others.map((n) => `${n.name}:${node.getConnections(n.peer).map((/** @type {any} */ c) => `${c.direction}@${c.remoteAddr}`).join(',')}`).join(' ')
    throw new Error(`${e.message}; not subscribed: ${others.filter((n) => !subs.includes(n.peer)).map((n) => n.name).join(' ')}; connections ${conns}`)
  })
  await barrier('ready')
  await sleep(2000) // a few heartbeats: meshes form

  if (isBad) {
    // Test-only: sign the next message with a corrupted signature, through the node's crypto
    // provider (see corruptingCrypto and NETWORK.md); no connection is being set up meanwhile.
    corruptSignatures = true
    try {
      const r = await node.pubsub.publish(TOPIC, `${name}/invalid`)
      log(`published the invalid-signature message to ${r.recipients} peers`)
    } finally {
      corruptSignatures = false
    }
    await sleep(1000)
  }
  for (let i = 0; i < messages; i++) {
    const data = `${name}/${i}`
    for (let attempt = 0; ; attempt++) {
      try {
        await node.pubsub.publish(TOPIC, data)
        break
      } catch (e) {
        if (attempt >= 50) throw e
        await sleep(100)
      }
    }
    await sleep(10)
  }
  log(`published ${messages}`)
  const expected = others.flatMap((n) => Array.from({ length: messages }, (_, i) => `${n.name}/${i}`))
  const missingNow = () => expected.filter((d) => !got.has(d))
  await until(() => missingNow().length === 0, 30_000, 'all messages').catch((e) => log(e.message))
  await sleep(2000) // late duplicates
  const missing = missingNow()
  const duplicates = [...got].filter(([, n]) => n > 1).map(([d, n]) => `${d}x${n}`)
  const invalidDelivered = [...got.keys()].filter((d) => d.endsWith('/invalid'))
  const r = { ok: missing.length === 0 && duplicates.length === 0 && invalidDelivered.length === 0, received: got.size, expected: expected.length, missing: missing.slice(0, 10), duplicates: duplicates.slice(0, 10), invalidDelivered }
  if (badsig && !isBad) {
    const bad = nodes.find((n) => n.name.includes('bad'))
    if (bad === undefined) throw new Error('no bad node in the network')
    const scores = Object.fromEntries(others.map((n) => [n.name, node.pubsub.getScore(n.peer)]))
    Object.assign(r, { scores, badScore: scores[bad.name] })
    if (!(scores[bad.name] < 0)) { r.ok = false; Object.assign(r, { error: `score of ${bad.name} is ${scores[bad.name]}, not < 0` }) }
    for (const [n, s] of Object.entries(scores)) if (n !== bad.name && s < 0) { r.ok = false; Object.assign(r, { error: `score of honest ${n} is ${s}` }) }
  }
  await pushResult(r)
}

try {
  if (scenario === 'kad') await runKad({ name, count, ip, channel, redis, log, joinNetwork, barrier, pushResult, until, sleep, late: env('late') === 'true' })
  else await runGossip()
} catch (e) {
  log(e)
  await pushResult({ ok: false, error: String(/** @type {Error} */ (e).message ?? e) })
}
// keep serving (forwarding, answering queries) until the orchestrator kills us
setInterval(() => {}, 1 << 30)
