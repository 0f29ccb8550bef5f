#!/usr/bin/env node
/**
 * The weft interop peer: one program, both roles, following ../CONTRACT.md (the libp2p test-plans
 * transport-interop contract plus the `scenario` extension: ping, identify, streams, perf, ping-load).
 *
 * stdout carries only the dialer's result line; everything else goes to stderr.
 * Needs `npm run build` first (imports ../../dist).
 */
import os from 'node:os'
import { performance } from 'node:perf_hooks'
import { createNode, readAll, nodeCrypto, AGENT_VERSION, kadDht, gossipsub, perf } from '../../dist/node.js'
import { decodeIdentifyStream } from '../../dist/identify/index.js'
import { openPeerRecord, publicKeyFromProtobuf } from '../../dist/peer-id/index.js'
import { Multiaddr } from '../../dist/multiaddr/index.js'
import { WEFT_CAPABILITIES } from './capabilities.mjs'
import { log, die, env, sleep, withTimeout, armTestTimeout, connectRedis, dialListener, waitForListenerResult, finishDialer, listenerResult, publishAndServe } from './common.mjs'

const ECHO = '/weft/echo/1.0.0'
const RESET = '/weft/reset/1.0.0'
const ID = '/ipfs/id/1.0.0'
const PING = '/ipfs/ping/1.0.0'
const MIB = 1024 * 1024
const STREAMS = 64
const PERF_BYTES = 64 * MIB
const IDENTIFY_WAIT_MS = 10_000
const LISTENER_CHECK_MS = 60_000
/** The default services of weft/node plus perf, which is opt-in (caps sized for the perf scenario). */
const services = () => ({ dht: kadDht(), pubsub: gossipsub(), perf: perf({ maxUploadBytes: PERF_BYTES, maxDownloadBytes: PERF_BYTES }) })

// ---- configuration -------------------------------------------------------------------------

const transport = env('transport')
if (!WEFT_CAPABILITIES.transports.includes(transport)) die(`unsupported transport "${transport}" (want ${WEFT_CAPABILITIES.transports.join(' or ')})`)
if (env('muxer') !== 'yamux') die(`unsupported muxer "${env('muxer')}" (want yamux)`)
if (!WEFT_CAPABILITIES.security.includes(env('security'))) die(`unsupported security "${env('security')}" (want ${WEFT_CAPABILITIES.security.join(' or ')})`)
// Scenarios with a program of their own (CONTRACT.md), dispatched before the usual node is built.
if (env('scenario') === 'mdns') await (await import('./mdns.mjs')).run() // never returns
if (env('scenario') === 'request-response') await (await import('./reqresp.mjs')).run() // never returns
if (env('scenario') === 'trace') await (await import('./trace.mjs')).run() // never returns (interop/weft/trace.mjs)
const scenario = env('scenario', 'ping')
if (scenario === 'rendezvous') await (await import('./rendezvous.mjs')).run() // never returns (interop/weft/rendezvous.mjs)
if (!['ping', 'identify', 'streams', 'perf', 'ping-load'].includes(scenario)) die(`unsupported scenario "${scenario}"`)
const isDialerEnv = env('is_dialer')
if (isDialerEnv !== 'true' && isDialerEnv !== 'false') die(`is_dialer must be true or false, got "${isDialerEnv}"`)
const isDialer = isDialerEnv === 'true'
const ip = env('ip', '0.0.0.0')
const timeoutSec = armTestTimeout()

const listenAddr = transport === 'quic-v1' ? `/ip4/${ip}/udp/0/quic-v1` : `/ip4/${ip}/tcp/0${transport === 'ws' ? '/ws' : ''}`
/** The one secure channel this case offers and accepts (CONTRACT.md `security`). */
const security = [/** @type {'noise' | 'tls'} */ (env('security'))]

// ---- helpers -------------------------------------------------------------------------------

const stripP2p = (/** @type {string} */ a) => a.replace(/\/p2p\/[^/]+$/, '')

/** The address to publish: the bound one, or a non-loopback interface address when bound to 0.0.0.0. */
function publishedAddr(/** @type {string} */ a) {
  if (!a.startsWith('/ip4/0.0.0.0/')) return a
  for (const list of Object.values(os.networkInterfaces())) {
    for (const i of list ?? []) {
      if (i.family === 'IPv4' && !i.internal) return a.replace('/ip4/0.0.0.0/', `/ip4/${i.address}/`)
    }
  }
  throw new Error('bound to 0.0.0.0 but no non-loopback IPv4 interface found')
}

/** Byte j of stream i in `streams` step 1. */
function pattern(/** @type {number} */ i) {
  const b = new Uint8Array(MIB)
  for (let j = 0; j < MIB; j++) b[j] = (j * 31 + i) & 0xff
  return b
}

function median(/** @type {number[]} */ xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** @param {unknown} e */
const isReset = (e) => /** @type {any} */ (e)?.code === 'stream/reset'

// ---- identify checks (both roles) ----------------------------------------------------------

/**
 * Check what identify told us about `remote` (the parsed info from the node's own identify exchange).
 * The dialer also makes a raw `/ipfs/id/1.0.0` request of its own and checks the signed peer record
 * bytes independently (the listener cannot: go and rust dialers leave right after their identify).
 * @param {any} node @param {any} remote PeerId @param {any} info IdentifyInfo
 * @param {{ dialedAddr?: string, raw: boolean }} opts
 */
async function checkIdentify(node, remote, info, opts) {
  const problems = []
  if (!info.agentVersion) problems.push('agentVersion is empty')
  if (!info.protocolVersion) problems.push('protocolVersion is empty')
  for (const p of [ID, PING]) if (!info.protocols.includes(p)) problems.push(`protocols lack ${p}: ${JSON.stringify(info.protocols)}`)
  if (!info.publicKey.toPeerId().equals(remote)) problems.push('publicKey does not give the remote peer id')
  const listen = info.listenAddrs.map((/** @type {any} */ a) => stripP2p(a.toString()))
  if (opts.dialedAddr !== undefined && !listen.includes(stripP2p(opts.dialedAddr))) {
    problems.push(`listenAddrs ${JSON.stringify(listen)} lack the dialed address ${stripP2p(opts.dialedAddr)}`)
  }
  const observed = info.observedAddr?.toString()
  const obsRe = transport === 'quic-v1' ? /^\/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1$/ : transport === 'ws' ? /^\/ip4\/127\.0\.0\.1\/tcp\/\d+(\/ws)?$/ : /^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/
  if (observed === undefined) problems.push('observedAddr is missing')
  else if (!obsRe.test(observed)) problems.push(`observedAddr ${observed} is not ${obsRe}`)
  log(`identify of ${remote}: agent=${JSON.stringify(info.agentVersion)} protocolVersion=${JSON.stringify(info.protocolVersion)} observed=${observed} listen=${JSON.stringify(listen)} record=${info.signedPeerRecordValid ? 'valid' : 'none/invalid'}`)

  if (!opts.raw) {
    if (info.signedPeerRecordValid) log(`signed peer record: sent and valid, addrs=${JSON.stringify(info.signedPeerRecord.addrs.map((/** @type {any} */ a) => a.toString()))}`)
    else if (info.signedPeerRecordError !== undefined) problems.push(`signed peer record does not verify: ${info.signedPeerRecordError}`)
    else log('signed peer record: NOT sent by the remote')
    if (info.signedPeerRecordValid && info.signedPeerRecord.addrs.length === 0) problems.push('signed peer record has no addresses')
    if (problems.length > 0) throw new Error(`identify: ${problems.join('; ')}`)
    return
  }
  // Raw request: see the exact bytes the remote sends.
  const s = await withTimeout(node.newStream(remote, ID), IDENTIFY_WAIT_MS, 'raw identify stream')
  s.closeWrite()
  const raw = await withTimeout(readAll(s.source, 64 * 1024), IDENTIFY_WAIT_MS, 'raw identify read')
  const msg = decodeIdentifyStream(raw)
  if (msg.publicKey !== undefined && !publicKeyFromProtobuf(msg.publicKey).toPeerId().equals(remote)) problems.push('raw identify: publicKey does not give the remote peer id')
  if (msg.signedPeerRecord === undefined) {
    log('signed peer record: NOT sent by the remote')
    if (info.signedPeerRecordValid) problems.push('node reported a valid signed peer record the raw request did not see')
  } else {
    log(`signed peer record: sent (${msg.signedPeerRecord.length} bytes)`)
    try {
      const { record } = openPeerRecord(msg.signedPeerRecord, nodeCrypto)
      if (!record.peerId.equals(remote)) problems.push(`signed peer record names ${record.peerId}, not ${remote}`)
      if (record.addrs.length === 0) problems.push('signed peer record has no addresses')
      else log(`signed peer record: seq=${record.seq} addrs=${JSON.stringify(record.addrs.map((/** @type {any} */ a) => a.toString()))}`)
      if (!info.signedPeerRecordValid) problems.push('the record verifies, but the node\'s identify did not accept it')
    } catch (e) {
      problems.push(`signed peer record does not verify: ${/** @type {Error} */ (e).message}`)
    }
  }
  if (problems.length > 0) throw new Error(`identify: ${problems.join('; ')}`)
}

// ---- main ----------------------------------------------------------------------------------

const redis = await connectRedis()
log(`${isDialer ? 'dialer' : 'listener'} transport=${transport} security=${security[0]} scenario=${scenario} agent=${AGENT_VERSION}`)
if (isDialer) await dialer()
else await listener()

async function dialer() {
  const node = await createNode({ listen: [listenAddr], services: services(), security })
  /** @type {Map<string, any>} */ const identified = new Map()
  /** @type {Map<string, () => void>} */ const identifyWake = new Map()
  node.on('peer:identify', ({ peer, info }) => {
    identified.set(peer.toString(), info)
    identifyWake.get(peer.toString())?.()
  })
  const { addr, peer, rtt, handshake } = await dialListener(node, redis, timeoutSec)
  let pingRTT = rtt

  try {
    switch (scenario) {
      case 'ping':
        break
      case 'identify': {
        const key = peer.toString()
        if (!identified.has(key)) {
          await withTimeout(new Promise((r) => identifyWake.set(key, () => r(undefined))), IDENTIFY_WAIT_MS, 'identify of the listener')
        }
        await checkIdentify(node, peer, identified.get(key), { dialedAddr: addr, raw: true })
        break
      }
      case 'streams':
        await streamsDialer(node, peer)
        break
      case 'perf':
        await perfDialer(node, peer)
        break
      case 'ping-load':
        pingRTT = await pingLoadDialer(node, peer)
        break
    }
  } catch (e) {
    log(e)
    die(`${scenario}: ${/** @type {Error} */ (e).message}`)
  }
  // Stay connected until the listener has pushed its result (so it can still identify us, see our reset, ...).
  if (scenario !== 'ping') await waitForListenerResult(redis)
  await finishDialer(node, redis, handshake, pingRTT)
}

/** @param {any} node @param {any} peer */
async function streamsDialer(node, peer) {
  // 1. 64 concurrent echo streams of 1 MiB.
  const t = performance.now()
  await Promise.all(Array.from({ length: STREAMS }, async (_, i) => {
    const data = pattern(i)
    const s = await node.newStream(peer, ECHO)
    const reading = readAll(s.source, 2 * MIB)
    await s.write(data)
    s.closeWrite()
    const back = await reading
    if (back.length !== data.length) throw new Error(`echo stream ${i}: got ${back.length} bytes back, want ${data.length}`)
    for (let j = 0; j < data.length; j++) {
      if (back[j] !== data[j]) throw new Error(`echo stream ${i}: byte ${j} is ${back[j]}, want ${data[j]}`)
    }
  }))
  log(`step 1: ${STREAMS} echo streams of 1 MiB byte-exact in ${(performance.now() - t).toFixed(0)} ms`)

  // 2. The listener resets after one byte: we must see a reset, not EOF.
  const r = await node.newStream(peer, RESET)
  await r.write(Uint8Array.of(42))
  try {
    await withTimeout(readAll(r.source), 10_000, 'reset stream read')
    // QUIC: rust cannot reset a stream (its drop sends FIN and STOP_SENDING, README "Known quirks"):
    // after that EOF a write finds the stream stopped, which weft reports as a reset
    if (transport !== 'quic-v1' || !(await writeFindsReset(r))) throw new Error('step 2: the reset stream ended with a clean EOF, want a reset')
  } catch (e) {
    if (!isReset(e)) throw e
  }
  log('step 2: saw the listener\'s reset')

  // 3. Write 1000 bytes on an echo stream and reset it; then one ping so the RST is sent before we go.
  const e = await node.newStream(peer, ECHO)
  await e.write(new Uint8Array(1000).fill(7))
  e.reset()
  await node.ping(peer)
  log('step 3: reset an echo stream after 1000 bytes')
}

/** Probe writes after a clean EOF: true once one fails with a reset (within ~2 s). @param {any} s */
async function writeFindsReset(s) {
  for (let i = 0; i < 40; i++) {
    try {
      await s.write(Uint8Array.of(0))
    } catch (e) {
      if (isReset(e)) return true
      throw e
    }
    await sleep(50)
  }
  return false
}

/** @param {any} node @param {any} peer */
async function perfDialer(node, peer) {
  const r = await node.perf(peer, { uploadBytes: PERF_BYTES, downloadBytes: PERF_BYTES })
  if (r.uploadBytes !== PERF_BYTES) throw new Error(`perf: uploaded ${r.uploadBytes} bytes, want ${PERF_BYTES}`)
  if (r.downloadBytes !== PERF_BYTES) throw new Error(`perf: downloaded ${r.downloadBytes} bytes, want ${PERF_BYTES}`)
  const mbps = (/** @type {number} */ b, /** @type {number} */ ms) => ((b * 8) / (ms / 1000) / 1e6).toFixed(0)
  log(`perf: upload ${r.uploadBytes} B in ${r.uploadMillis.toFixed(0)} ms (${mbps(r.uploadBytes, r.uploadMillis)} Mbit/s), download ${r.downloadBytes} B in ${r.downloadMillis.toFixed(0)} ms (${mbps(r.downloadBytes, r.downloadMillis)} Mbit/s)`)
}

/** @param {any} node @param {any} peer @returns {Promise<number>} */
async function pingLoadDialer(node, peer) {
  let done = false
  const perf = perfDialer(node, peer).finally(() => { done = true })
  perf.catch(() => {})
  /** @type {number[]} */ const rtts = []
  while (!done || rtts.length < 5) {
    const next = sleep(100)
    rtts.push(await node.ping(peer))
    await next
  }
  await perf
  const m = median(rtts)
  log(`ping-load: ${rtts.length} pings during the transfer, median ${m.toFixed(2)} ms, max ${Math.max(...rtts).toFixed(2)} ms`)
  return m
}

async function listener() {
  const node = await createNode({ listen: [listenAddr], services: services(), security })
  const push = listenerResult(redis)
  /** Deadline for the listener's checks, from the first inbound connection. */
  let deadline = false
  const armDeadline = (/** @type {number} */ ms, /** @type {() => string} */ why) => {
    if (deadline) return
    deadline = true
    setTimeout(() => { void push(false, why()) }, ms).unref()
  }

  node.on('connection:open', (c) => log(`connection from ${c.peer} ${c.remoteAddr?.toString?.() ?? ''}`))
  node.on('connection:close', ({ connection, error }) => log(`connection to ${connection.peer} closed${error ? `: ${error.message}` : ''}`))

  switch (scenario) {
    case 'ping':
      break
    case 'identify': {
      node.on('connection:open', () => armDeadline(IDENTIFY_WAIT_MS, () => 'identify of the dialer did not complete within 10 s'))
      node.on('peer:identify', ({ peer, info }) => {
        checkIdentify(node, peer, info, { raw: false }).then(() => push(true), (e) => push(false, e.message))
      })
      break
    }
    case 'streams': {
      let echoed = 0
      let resetSeen = false
      const check = () => { if (echoed >= STREAMS && resetSeen) void push(true) }
      node.on('connection:open', () => armDeadline(LISTENER_CHECK_MS, () => `after 60 s: ${echoed}/${STREAMS} echoes, step-3 reset ${resetSeen ? 'seen' : 'not seen'}`))
      node.handle(ECHO, async (s) => {
        let all
        try {
          all = await readAll(s.source)
        } catch (e) {
          if (isReset(e)) { resetSeen = true; log('echo stream reset by the dialer (step 3)'); check(); return }
          throw e
        }
        // QUIC: a rust dialer cannot reset (its drop sends FIN and STOP_SENDING): step 3's stream of
        // 1000 bytes then ends with EOF, and is counted as the reset (as the go listener does)
        if (transport === 'quic-v1' && all.length < MIB) { resetSeen = true; log('echo stream of less than 1 MiB ended (step 3 on QUIC)'); check(); return }
        await s.write(all)
        s.closeWrite()
        echoed++
        check()
      }, { maxInboundStreams: 256 })
      node.handle(RESET, async (s) => {
        for await (const c of s.source) if (c.length > 0) break
        s.reset()
      })
      break
    }
    case 'perf':
    case 'ping-load':
      node.on('connection:open', () => armDeadline(LISTENER_CHECK_MS, () => 'no complete perf run within 60 s'))
      node.on('perf:served', ({ uploadBytes, downloadBytes }) => {
        log(`perf served: received ${uploadBytes}, sent ${downloadBytes}`)
        if (uploadBytes === PERF_BYTES) void push(true)
        else void push(false, `perf: received ${uploadBytes} bytes, want ${PERF_BYTES}`)
      })
      node.on('perf:server-error', ({ error }) => void push(false, `perf server: ${error.message}`))
      break
  }

  const addrs = node.getMultiaddrs().map((/** @type {any} */ a) => a.toString())
  if (addrs.length === 0) die('no listen address')
  // Bound to 0.0.0.0 (upstream default): publish a non-loopback address, as upstream peers do.
  const pick = ip === '0.0.0.0' ? addrs.find((/** @type {string} */ a) => a.startsWith('/ip4/') && !a.startsWith('/ip4/127.')) ?? addrs[0] : addrs[0]
  const pub = publishedAddr(pick)
  Multiaddr.fromString(pub)
  await publishAndServe(node, redis, pub) // serve until killed
}
