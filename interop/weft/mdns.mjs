/**
 * Scenario `mdns` (../CONTRACT.md, section `mdns`): the weft side, run in its own network namespace
 * by ../lib/mdns-case.mjs. A weft node with the mdns service (`mdns({ socket: udpMdnsSocket() })`,
 * defaults: a query at start and every 10 s) listening on `/ip4/<ip>/tcp/0` (TCP with the runner's
 * `security`) or `/ip4/<ip>/udp/0/quic-v1` (transport quic-v1): the dialer dials a discovered address
 * of that transport and checks that the connection runs over it.
 *
 * Each side publishes its peer id (`RPUSH <role>PeerId`) and learns the other's (`BLPOP`), so that
 * discovering *that* peer is told apart from anything else on the group. Listener: pushes
 * `listenerResult` ok once a `peer:discovery` event (source mdns) named the dialer (15 s). Dialer:
 * waits for the event naming the listener (15 s), dials a discovered TCP address, pings once,
 * prints the result line, waits for `listenerResult` (20 s). With `mdns_noise=1` (the case runner
 * sends malformed datagrams to the group while the case runs) each side also waits until its
 * service counted at least one malformed datagram, so a pass proves weft saw them and stayed up.
 *
 * Dispatched from peer.mjs before it builds its usual node; never returns (exits, or serves).
 */
import { performance } from 'node:perf_hooks'
import { createNode, udpMdnsSocket } from '../../dist/node.js'
import { mdns } from '../../dist/mdns/index.js'
import { log, die, env, armTestTimeout, connectRedis, waitForListenerResult, finishDialer, listenerResult, scenarioStack } from './common.mjs'

const DISCOVERY_MS = 15_000
const RESULT_WAIT_MS = 20_000
const NOISE_WAIT_MS = 5_000

/** The discovery deadline counts from when this program was loaded. */
const t0 = performance.now()

export async function run() {
  const isDialer = env('is_dialer') === 'true'
  const stack = scenarioStack()
  const ip = env('ip')
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip) || ip === '0.0.0.0') die(`scenario mdns needs a concrete ip, got "${ip}"`)
  armTestTimeout('60')
  const noise = env('mdns_noise') === '1'
  const role = isDialer ? 'dialer' : 'listener'

  const node = await createNode({ listen: [stack.listen(ip)], security: stack.security, services: { mdns: mdns({ socket: udpMdnsSocket() }) } })
  /** @type {Map<string, string[]>} */
  const found = new Map()
  /** @type {(() => void) | undefined} */
  let wake
  node.on('peer:discovery', ({ peer, addrs, source }) => {
    if (source !== 'mdns') return
    const list = addrs.map((/** @type {any} */ a) => a.toString())
    log(`mdns: discovered ${peer} at ${JSON.stringify(list)}`)
    const have = found.get(peer.toString()) ?? []
    for (const a of list) if (!have.includes(a)) have.push(a)
    found.set(peer.toString(), have)
    wake?.()
  })
  const svc = /** @type {{ stats(): Record<string, number> }} */ (node.service('mdns'))
  log(`mdns: peer id ${node.peerId}, ${role}, ${stack.name}, listening on ${JSON.stringify(node.getMultiaddrs().map((/** @type {any} */ a) => a.toString()))}${noise ? ', malformed datagrams expected' : ''}`)

  const redis = await connectRedis()
  const [mine, theirs] = isDialer ? ['dialerPeerId', 'listenerPeerId'] : ['listenerPeerId', 'dialerPeerId']
  await redis.command('RPUSH', mine, node.peerId.toString())
  const reply = await redis.command('BLPOP', theirs, DISCOVERY_MS / 1000)
  if (reply === null) die(`no ${theirs} within ${DISCOVERY_MS / 1000} s`)
  const other = String(reply[1]).trim()
  log(`mdns: the other side is ${other}`)

  /** Wait until `cond()` holds or `until` (performance.now() ms) passes. @param {() => boolean} cond @param {number} until */
  const waitFor = async (cond, until) => {
    while (!cond() && performance.now() < until) {
      await new Promise((r) => { wake = () => r(undefined); setTimeout(r, 100) })
    }
    return cond()
  }
  const problems = []
  if (!(await waitFor(() => found.has(other), t0 + DISCOVERY_MS))) {
    problems.push(`weft ${role} did not discover ${other} by mDNS within ${DISCOVERY_MS / 1000} s (discovered: ${JSON.stringify([...found.keys()])}; stats ${JSON.stringify(svc.stats())})`)
  } else log(`mdns: discovered the ${isDialer ? 'listener' : 'dialer'} in ${(performance.now() - t0).toFixed(0)} ms: ${JSON.stringify(found.get(other))}`)
  if (noise && !(await waitFor(() => svc.stats().malformed > 0, performance.now() + NOISE_WAIT_MS))) {
    problems.push(`weft ${role} counted no malformed datagram within ${NOISE_WAIT_MS / 1000} s of noise on the group (stats ${JSON.stringify(svc.stats())})`)
  }
  log(`mdns: stats ${JSON.stringify(svc.stats())}`)

  if (!isDialer) {
    await listenerResult(redis)(problems.length === 0, problems.join('; '))
    await new Promise(() => {}) // serve (and answer mDNS) until killed
  }
  if (problems.length > 0) die(problems.join('; '))

  const addrs = found.get(other) ?? []
  const addr = addrs.find((a) => stack.isOurs(a))
  if (addr === undefined) die(`discovered the listener at ${JSON.stringify(addrs)}: no ${stack.name} address`)
  log(`mdns: dialing ${addr}/p2p/${other}`)
  const start = performance.now()
  let handshake
  let rtt
  let via = '?'
  try {
    const conn = await node.dial(`${addr}/p2p/${other}`)
    via = conn.remoteAddr?.toString?.() ?? '?'
    rtt = await node.ping(conn.peer)
    handshake = performance.now() - start
  } catch (e) {
    die(`dial/ping ${addr}: ${/** @type {Error} */ (e).message}`)
  }
  if (!stack.isOurs(via)) die(`connected to the listener via ${via}, not a ${stack.name} address`)
  log(`mdns: connected via ${via}`)
  await waitForListenerResult(redis, RESULT_WAIT_MS, 50)
  await finishDialer(node, redis, handshake, rtt)
}
