#!/usr/bin/env node
/**
 * weft's peer of the NAT suite (interop/NAT.md): the roles relay, listener, dialer (scenarios relay,
 * hole-punch, limit, no-reservation), autonat-server and autonat-client, on weft's public API from
 * ../../dist (run `npm run build` first). Configured by the environment of NAT.md: NAT_ROLE,
 * REDIS_ADDR (unix:/path), TEST_KEY, LISTEN_IP, SCENARIO, RELAY_LIMIT_DURATION, RELAY_LIMIT_DATA,
 * TIMEOUT_SECONDS, TARGET_PEER_ID, AUTONAT_MODE (probe | amplification), VICTIM_ADDR, TRANSPORT (tcp | quic-v1:
 * the relay, listener and dialer listen and dial on it only; over QUIC, DCUtR punches with the QUIC
 * transport's punch packets; the AutoNAT roles stay on TCP).
 *
 * stdout: the dialer's / client's result line last (and, for hole-punch, the test-plans line
 * `{"rtt_to_holepunched_peer_millis": N}` before it); logs go to stderr.
 */
import { performance } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import { createNode, quic, tcp } from '../../dist/node.js'
import { Multiaddr } from '../../dist/multiaddr/index.js'
import { PeerId } from '../../dist/peer-id/index.js'
import { until } from '../lib/wait.mjs'
import { Resp } from './resp.mjs'

const ECHO = '/weft/echo/1.0.0'
const PING = '/ipfs/ping/1.0.0'
const LIMIT_WRITE = 16 * 1024
const LIMIT_PIECE = 1024

const env = (/** @type {string} */ k, /** @type {string} */ d = '') => { const v = process.env[k]; return v === undefined || v === '' ? d : v }
// Without NAT_ROLE the peer speaks libp2p/unified-testing's hole-punch dialect (research note §8.2):
// IS_RELAY / IS_DIALER, RELAY_IP / DIALER_IP / LISTENER_IP, TRANSPORT / SECURE_CHANNEL / MUXER, the same
// Redis keys, and the dialer prints the `latency:` YAML instead of the JSON result line.
const unified = env('NAT_ROLE') === ''
const role = unified ? (env('IS_RELAY') === 'true' ? 'relay' : env('IS_DIALER') === 'true' ? 'dialer' : 'listener') : env('NAT_ROLE')
const scenario = env('SCENARIO', role === 'autonat-client' ? 'autonat' : unified ? 'hole-punch' : '')
const ip = env('LISTEN_IP', env(role === 'relay' ? 'RELAY_IP' : role === 'dialer' ? 'DIALER_IP' : 'LISTENER_IP', '127.0.0.1'))
const key = env('TEST_KEY', 'weft')
const timeoutMs = Number(env('TIMEOUT_SECONDS', '60')) * 1000

const t0 = performance.now()
/** @param {...unknown} args */
function log(...args) {
  const ms = (performance.now() - t0).toFixed(0).padStart(6)
  process.stderr.write(`[weft-nat ${role} ${ms}ms] ${args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.stack ?? a.message : JSON.stringify(a))).join(' ')}\n`)
}
/** The result line (last on stdout), then exit. @param {Record<string, unknown>} r @returns {never} */
function finish(r) {
  if (unified) {
    // unified-testing: the YAML on success (exit 0), the error on stderr otherwise (exit 1).
    const n = (/** @type {unknown} */ x) => Number(x).toFixed(2)
    const out = r.ok === true ? `latency:\n  handshake_plus_one_rtt: ${n(r.handshakePlusOneRttMillis)}\n  ping_rtt: ${n(r.rttMillis)}\n  unit: ms\n` : ''
    if (r.ok !== true) log(`error: ${r.error}`)
    process.stdout.write(out, () => process.exit(r.ok === true ? 0 : 1))
    // @ts-ignore: exits in the callback
    return undefined
  }
  process.stdout.write(`${JSON.stringify(r)}\n`, () => process.exit(r.ok === true ? 0 : 1))
  // @ts-ignore: exits in the callback
  return undefined
}
/** @param {unknown} e */
const oneLine = (e) => String(e instanceof Error ? `${e.name}${/** @type {any} */ (e).code ? ` ${/** @type {any} */ (e).code}` : ''}: ${e.message}` : e).replace(/\s+/g, ' ').slice(0, 400)

const fail = (/** @type {unknown} */ e) => {
  log('failed:', e)
  if (role === 'dialer' || role === 'autonat-client') finish({ ok: false, scenario, error: oneLine(e) })
  else process.exit(1)
}
// Dialer and client: their whole run; relay, listener and server: until they are ready (then they run until killed).
const deadline = setTimeout(() => fail(new Error(`TIMEOUT_SECONDS (${timeoutMs / 1000}) passed`)), timeoutMs).unref()
process.on('unhandledRejection', fail)
// TRANSPORT (NAT.md): tcp (TCP + Noise + yamux) or quic-v1 (QUIC v1 only); the AutoNAT roles use TCP.
const transport = role.startsWith('autonat') ? 'tcp' : env('TRANSPORT', 'tcp')
if (transport !== 'tcp' && transport !== 'quic-v1') fail(new Error(`TRANSPORT=${transport}: this peer speaks tcp or quic-v1`))
const overQuic = transport === 'quic-v1'
for (const [k, want] of overQuic ? [] : [['SECURE_CHANNEL', 'noise'], ['MUXER', 'yamux']]) {
  if (env(k, want) !== want) fail(new Error(`${k}=${env(k)}: this peer speaks ${want} only`))
}
/** The prefix of our own listen address on LISTEN_IP over TRANSPORT. */
const ownPrefix = overQuic ? `/ip4/${ip}/udp/` : `/ip4/${ip}/tcp/`

// ---- weft's NAT services (weft/relay, weft/autonat, weft/dcutr) --------------------------------------------

/** @param {string} p */
const tryImport = async (p) => { try { return await import(p) } catch (e) { log(`import ${p}: ${oneLine(e)}`); return {} } }
const relayMod = await tryImport('../../dist/relay/index.js')
const autonatMod = await tryImport('../../dist/autonat/index.js')
const dcutrMod = { ...(await tryImport('../../dist/dcutr/service.js')), ...(await tryImport('../../dist/dcutr/index.js')) }
/** @param {string} name @param {...any} mods */
function factory(name, ...mods) {
  for (const m of mods) if (typeof m[name] === 'function') return m[name]
  throw new Error(`weft has no ${name}() in dist/ yet`)
}

const redis = await Resp.connect(env('REDIS_ADDR', 'unix:/tmp/weft-nat/redis.sock'))
/** GET <TEST_KEY>_<k>, polled every 200 ms. @param {string} k */
const get = (k) => until(() => redis.command('GET', `${key}_${k}`), timeoutMs, `GET ${key}_${k}`, 200)
/** @param {string} k @param {string} v */
const set = (k, v) => redis.command('SET', `${key}_${k}`, v)

/**
 * A node listening on LISTEN_IP over TRANSPORT — TCP (+ Noise + yamux, TCP_NODELAY) or QUIC v1 — and
 * on `extraListen`, with the services `services(transport)` gives (DCUtR needs the transport: the TCP
 * punch port, or the QUIC transport's punch packets). `tcpOpts` apply to TCP only.
 * @param {(t: any) => Record<string, any>} services @param {Record<string, unknown>} [tcpOpts] @param {string[]} [extraListen]
 */
async function newNode(services, tcpOpts = {}, extraListen = []) {
  const t = overQuic ? quic() : tcp(tcpOpts)
  const node = await createNode({ listen: [overQuic ? `/ip4/${ip}/udp/0/quic-v1` : `/ip4/${ip}/tcp/0`, ...extraListen], transports: [t], services: services(t) })
  node.on('error', (e) => log('node error', e.origin, e.error))
  log(`peer id ${node.peerId.toString()}; listening on ${node.getMultiaddrs().map(String).join(' ')}`)
  return node
}

/** Identify results by connection id (recorded from the start: identify may finish before dial() resolves). */
const identified = new Map()
/** @param {any} node */
function trackIdentify(node) {
  node.on('peer:identify', (/** @type {any} */ ev) => identified.set(ev.connection.id, ev.info))
}
/** Wait until identify completed on a connection to `peer` (any connection, or the one given). @param {any} node @param {any} peer @param {number} [connId] */
function identifiedWith(node, peer, connId) {
  return until(() => node.getConnections(peer).some((/** @type {any} */ c) => identified.has(c.id) && (connId === undefined || c.id === connId)), timeoutMs, `identify with ${peer.toString()}`, 50)
}

/** Connect to the relay and wait for identify (so the relay told us our observed address). @param {any} node */
async function connectRelay(node) {
  const relayAddr = String(await get('relay_multiaddr'))
  const relay = PeerId.parse(/** @type {string} */ (Multiaddr.fromString(relayAddr).getPeerId()))
  const conn = await node.dial(Multiaddr.fromString(relayAddr))
  await identifiedWith(node, relay, conn.id)
  log(`relay ${relayAddr} identified; observed ${identified.get(conn.id)?.observedAddr?.toString()}`)
  return { relayAddr, relay }
}

/** Echo every byte back until EOF, then close. @param {any} s */
async function echo(s) {
  try {
    for await (const chunk of s.source) await s.write(chunk)
    await s.close()
  } catch (e) {
    log('echo ended:', oneLine(e))
  }
}

/**
 * A ping (/ipfs/ping/1.0.0: 32 random bytes echoed) on a new stream; the stream names its connection.
 * Without `allowLimited` the swarm opens it on a direct connection or fails.
 * @param {any} node @param {any} peer @param {boolean} [allowLimited]
 */
async function pingOnStream(node, peer, allowLimited = false) {
  const s = await node.newStream(peer, PING, allowLimited ? { allowLimited: true } : {})
  const payload = randomBytes(32)
  const start = performance.now()
  await s.write(payload)
  let got = 0
  for await (const chunk of s.source) {
    got += chunk.length
    if (got >= 32) break
  }
  const rtt = performance.now() - start
  s.reset()
  if (got < 32) throw new Error(`ping: ${got} of 32 bytes came back`)
  return { rtt, connection: s.connection }
}

// ---- roles ------------------------------------------------------------------------------------------------

async function relayRole() {
  /** @type {Record<string, unknown>} */
  const limit = {}
  if (env('RELAY_LIMIT_DURATION') !== '') limit.limitDuration = Number(env('RELAY_LIMIT_DURATION')) * 1000
  if (env('RELAY_LIMIT_DATA') !== '') limit.limitData = Number(env('RELAY_LIMIT_DATA'))
  const circuitRelayServer = factory('circuitRelayServer', relayMod)
  const node = await newNode(() => ({ relay: circuitRelayServer(limit) }))
  const addr = `${node.getMultiaddrs().map(String).find((a) => a.startsWith(ownPrefix))?.replace(/\/p2p\/.*$/, '')}/p2p/${node.peerId.toString()}`
  node.on('peer:connect', (/** @type {any} */ p) => log('connected', p.toString()))
  await set('relay_multiaddr', addr)
  log(`SET ${key}_relay_multiaddr ${addr} (limits ${JSON.stringify(limit)})`)
}

/**
 * The services of a relay client: the circuit transport and reservations, and (hole punching on) DCUtR
 * on the TCP transport's punch port or, over QUIC, with the QUIC transport's punch packets. The relay scenarios run without DCUtR, so the relayed connection stays
 * the only one (a peer that upgraded would ping over the direct connection instead).
 * @param {boolean} holePunch
 */
const clientServices = (holePunch) => (/** @type {any} */ t) => ({
  relayClient: factory('circuitRelayClient', relayMod)(),
  ...(holePunch ? { dcutr: factory('dcutr', dcutrMod)(overQuic ? { quic: t } : { punchPort: t }) } : {}),
})

/** A connection in a log line: id, direction, remote address (not `[object Object]`). @param {any} c */
const connText = (c) => `${c?.id} ${c?.direction} ${String(c?.remoteAddr)}${c?.limited ? ' limited' : ''}`

/** Log DCUtR's events (its `direct`, `attempt`, `failed`, `unavailable`). @param {any} node */
function traceDcutr(node) {
  /** @type {any} */ let d
  try { d = node.service('dcutr') } catch { return }
  log('dcutr status', d.status?.())
  for (const type of ['attempt', 'punch', 'direct', 'failed', 'unavailable']) {
    d.on?.(type, (/** @type {any} */ ev) => log(`dcutr ${type}`, Object.fromEntries(Object.entries(ev ?? {}).map(([k, v]) => [k, k === 'connection' ? connText(v) : typeof v === 'object' && v !== null && 'toString' in v && !Array.isArray(v) ? String(v) : v]))))
  }
}

async function listenerRole() {
  // Listening on <relay>/p2p-circuit reserves by itself (weft/relay): the node connects to the relay,
  // reserves, and advertises the /p2p-circuit address once the reservation is accepted.
  const relayAddr = String(await get('relay_multiaddr'))
  const relay = PeerId.parse(/** @type {string} */ (Multiaddr.fromString(relayAddr).getPeerId()))
  const holePunch = env('HOLE_PUNCH', 'true') !== 'false'
  const node = await newNode(clientServices(holePunch), holePunch ? { punchPort: 'auto' } : {}, [`${relayAddr}/p2p-circuit`])
  trackIdentify(node)
  traceDcutr(node)
  node.handle(ECHO, echo, { allowLimited: true })
  node.on('connection:open', (/** @type {any} */ c) => log(`connection ${c.id} ${c.direction} ${c.remoteAddr.toString()} limited=${c.limited}`))
  node.addEventListener?.('relay:reservation', (/** @type {any} */ e) => log('reservation', e.detail?.type, e.detail?.statusName ?? '', e.detail?.error ? oneLine(e.detail.error) : ''))
  await identifiedWith(node, relay)
  await until(() => node.getMultiaddrs().some((/** @type {any} */ a) => a.toString().includes('/p2p-circuit')), timeoutMs, 'reservation accepted', 50)
  log(`reserved: ${node.getMultiaddrs().map(String).filter((a) => a.includes('/p2p-circuit')).join(' ')}`)
  await set('listener_peer_id', node.peerId.toString())
}

async function dialerRole() {
  const holePunch = scenario === 'hole-punch'
  const node = await newNode(clientServices(holePunch), holePunch ? { punchPort: 'auto' } : {})
  trackIdentify(node)
  traceDcutr(node)
  node.on('connection:open', (/** @type {any} */ c) => log(`connection ${c.id} ${c.direction} ${c.remoteAddr.toString()} limited=${c.limited}`))
  const { relayAddr } = await connectRelay(node)

  if (scenario === 'no-reservation') {
    const target = env('TARGET_PEER_ID')
    try {
      await node.dial(Multiaddr.fromString(`${relayAddr}/p2p-circuit/p2p/${target}`))
      return finish({ ok: false, scenario, error: 'the circuit to a peer without a reservation opened' })
    } catch (e) {
      const status = relayStatus(e)
      log('dial failed as expected?', e)
      return finish({ ok: status === 'NO_RESERVATION', scenario, status: status ?? null, ...(status === 'NO_RESERVATION' ? {} : { error: oneLine(e) }) })
    }
  }

  const listener = PeerId.parse(String(await get('listener_peer_id')))
  const circuit = Multiaddr.fromString(`${relayAddr}/p2p-circuit/p2p/${listener.toString()}`)
  const dialStart = performance.now()
  const conn = await node.dial(circuit)
  log(`circuit open: connection ${conn.id} ${conn.remoteAddr.toString()} limited=${conn.limited}`)
  if (scenario === 'relay') {
    await identifiedWith(node, listener, conn.id)
    const p = await pingOnStream(node, listener, true)
    return finish({ ok: true, scenario, rttMillis: p.rtt, limited: p.connection.limited, conn: p.connection.remoteAddr.toString() })
  }
  if (scenario === 'limit') {
    // 1 KiB pieces in lock step (write one, read its echo), so `echoed` shows data crossed the circuit
    // before the relay's limit ended it (a relay counting both directions together, as rust does, is
    // not overrun by our own writes before the first echo).
    const s = await node.newStream(circuit, ECHO, { allowLimited: true })
    const it = s.source[Symbol.asyncIterator]()
    let echoed = 0
    try {
      for (let sent = 0; sent < LIMIT_WRITE; sent += LIMIT_PIECE) {
        await s.write(new Uint8Array(LIMIT_PIECE).fill(sent / LIMIT_PIECE))
        while (echoed < sent + LIMIT_PIECE) {
          const r = await it.next()
          if (r.done) throw new Error(`the echo ended (EOF) after ${echoed} bytes`)
          echoed += r.value.length
        }
      }
    } catch (e) {
      log('echo ended:', oneLine(e))
    }
    return finish({ ok: echoed < LIMIT_WRITE, scenario, echoed, ...(echoed < LIMIT_WRITE ? {} : { error: `all ${echoed} bytes came back` }) })
  }
  if (scenario === 'hole-punch') {
    await identifiedWith(node, listener, conn.id)
    // DCUtR's `failed` event (all attempts spent) ends the wait at once: then the relayed connection must
    // still carry a ping (the orchestrator's symmetric-NAT control expects exactly that).
    // A (us) reports each failed attempt (its number in `attempts`; over QUIC each attempt's dial ends
    // with B's punch window); B retries up to 3 times, so we wait for the third.
    /** @type {any} */ let failed
    let failures = 0
    try {
      node.service('dcutr').on('failed', (/** @type {any} */ ev) => {
        if (ev.peer.equals(listener) && (++failures >= 3 || ev.attempts >= 3)) failed = { ...ev, attempts: Math.max(failures, ev.attempts) }
      })
    } catch { /* no dcutr service */ }
    const direct = await until(() => node.getConnections(listener).find((/** @type {any} */ c) => !c.limited) ?? failed, timeoutMs, 'a direct connection to the listener', 50)
    if (direct === failed) {
      const relayedPingMillis = await node.ping(circuit).catch((/** @type {unknown} */ e) => { log('relayed ping failed:', e); return null })
      return finish({ ok: false, scenario, error: `DCUtR failed after ${failed.attempts} attempt(s): ${oneLine(failed.error)}`, attempts: failed.attempts, relayedPingMillis })
    }
    const upgradedMillis = performance.now() - dialStart
    log(`direct connection ${direct.id} ${direct.remoteAddr.toString()}`)
    const p = await pingOnStream(node, listener)
    if (p.connection.limited) throw new Error(`the ping ran on limited connection ${p.connection.remoteAddr.toString()}`)
    if (!unified) process.stdout.write(`${JSON.stringify({ rtt_to_holepunched_peer_millis: Math.round(p.rtt) })}\n`)
    return finish({ ok: true, scenario, rttMillis: p.rtt, handshakePlusOneRttMillis: upgradedMillis + p.rtt, direct: p.connection.remoteAddr.toString() })
  }
  throw new Error(`unknown SCENARIO ${JSON.stringify(scenario)}`)
}

/** The relay status name a failed circuit dial carries (RelayStatusError, or inside a DialError's attempts). @param {any} e */
function relayStatus(e) {
  const seen = new Set()
  /** @param {any} x @returns {string | undefined} */
  const walk = (x) => {
    if (x === null || typeof x !== 'object' || seen.has(x)) return undefined
    seen.add(x)
    if (typeof x.statusName === 'string') return x.statusName
    if (typeof x.code === 'string' && x.code === 'relay/no-reservation') return 'NO_RESERVATION'
    for (const a of x.attempts ?? []) { const s = walk(a.error ?? a); if (s) return s }
    return walk(x.cause)
  }
  return walk(e) ?? (/NO_RESERVATION/.test(String(e?.message)) ? 'NO_RESERVATION' : undefined)
}

async function autonatServerRole() {
  const node = await newNode(() => ({ autonat: factory('autoNAT', autonatMod)({ server: true }) }))
  node.service('autonat').on('served', (/** @type {any} */ ev) => log('autonat served', describe(ev)))
  const addr = `${node.getMultiaddrs().map(String).find((a) => a.startsWith(`/ip4/${ip}/tcp/`))?.replace(/\/p2p\/.*$/, '')}/p2p/${node.peerId.toString()}`
  await set('autonat_multiaddr', addr)
  log(`SET ${key}_autonat_multiaddr ${addr}`)
}

async function autonatClientRole() {
  const mode = env('AUTONAT_MODE', 'probe')
  const serverAddr = Multiaddr.fromString(String(await get('autonat_multiaddr')))
  const server = PeerId.parse(/** @type {string} */ (serverAddr.getPeerId()))
  if (mode === 'amplification') return amplification(serverAddr, server)
  // One server per case: the client may ask it again after 1 s (default 2 min: spread the load over
  // many servers); the confidence rule stays the default (two results more of one kind than the other).
  const node = await newNode(() => ({ autonat: factory('autoNAT', autonatMod)({ client: { serverThrottle: 1000 } }) }))
  trackIdentify(node)
  const an = node.service('autonat')
  for (const type of ['status', 'addr-reachability', 'probe']) an.on(type, (/** @type {any} */ ev) => log(`autonat ${type}`, describe(ev)))
  const conn = await node.dial(serverAddr)
  await identifiedWith(node, server, conn.id)
  const st = await until(() => { const s = an.status(); return s.reachability === 'unknown' ? undefined : s }, timeoutMs, 'an AutoNAT verdict', 100)
  const addrs = st.addrs.filter((/** @type {any} */ a) => a.reachability !== 'unknown').map((/** @type {any} */ a) => `${a.addr.toString()} ${a.reachability} (${a.successes}/${a.failures})`)
  return finish({ ok: true, scenario: 'autonat', reachability: st.reachability, addr: addrs.join(', '), external: node.getExternalAddresses().map(String) })
}

/** An event's fields as loggable values. @param {any} ev */
function describe(ev) {
  return Object.fromEntries(Object.entries(ev ?? {}).map(([k, v]) => [k, typeof v === 'object' && v !== null && !Array.isArray(v) && 'toString' in v ? String(v) : v]))
}

/**
 * Ask the server to dial the victim: AutoNAT v1 Dial with only the victim's address, and v2 DialRequest
 * with it (the server must ask for dial data; we refuse by resetting). Each answer is the positive signal
 * the orchestrator's victim counter check waits for.
 * @param {any} serverAddr @param {any} server
 */
async function amplification(serverAddr, server) {
  const v1 = await tryImport('../../dist/autonat/message-v1.js')
  const v2 = await tryImport('../../dist/autonat/message-v2.js')
  const node = await newNode(() => ({}))
  await node.dial(serverAddr)
  const victim = Multiaddr.fromString(env('VICTIM_ADDR', '/ip4/11.0.0.99/tcp/4001'))
  /** @type {Record<string, string>} */
  const out = {}
  // Both at once (go's v1 server answers only when its dial-back attempt ended, after up to 15 s).
  await Promise.all([
    (async () => {
      try {
        const s = await node.newStream(server, '/libp2p/autonat/1.0.0')
        await s.write(v1.encodeV1Frame({ type: 'dial', peer: { id: node.peerId, addrs: [victim.bytes] } }))
        const m = await readFrame(s, v1.v1FrameDecoder())
        out.v1 = m === undefined ? 'no answer (stream ended)' : `${m.type} status ${Object.entries(v1.V1Status).find(([, n]) => n === m.status)?.[0] ?? m.status}${m.statusText ? ` (${m.statusText})` : ''}`
        s.reset()
      } catch (e) {
        out.v1 = `error: ${oneLine(e)}`
      }
    })(),
    (async () => {
      try {
        const s = await node.newStream(server, '/libp2p/autonat/2/dial-request')
        await s.write(v2.encodeV2Frame({ type: 'dial-request', addrs: [victim.bytes], nonce: randomBytes(8).readBigUInt64BE() }))
        const m = await readFrame(s, v2.v2FrameDecoder())
        out.v2 = m === undefined ? 'no answer (stream ended)' : m.type === 'dial-data-request' ? `dial-data-request ${m.numBytes} bytes (refused: reset)` : `${m.type} status ${m.status} dialStatus ${m.dialStatus}`
        s.reset()
      } catch (e) {
        out.v2 = `error: ${oneLine(e)}`
      }
    })(),
  ])
  log('amplification answers', out)
  const answered = Object.values(out).some((v) => !v.startsWith('error'))
  return finish({ ok: answered, scenario: 'amplification', ...out, ...(answered ? {} : { error: 'the server answered neither v1 nor v2' }) })
}

/** @param {any} s @param {any} dec */
async function readFrame(s, dec) {
  for await (const chunk of s.source) {
    dec.push(chunk)
    const m = dec.next()
    if (m !== undefined) return m
  }
  return undefined
}

// ---- main -------------------------------------------------------------------------------------------------

const roles = { relay: relayRole, listener: listenerRole, dialer: dialerRole, 'autonat-server': autonatServerRole, 'autonat-client': autonatClientRole }
const run = roles[/** @type {keyof typeof roles} */ (role)]
if (run === undefined) { log(`unknown NAT_ROLE ${JSON.stringify(role)}`); process.exit(2) }
try {
  await run()
  clearTimeout(deadline) // a relay, listener or server is ready: it serves until killed
} catch (e) {
  fail(e)
}
