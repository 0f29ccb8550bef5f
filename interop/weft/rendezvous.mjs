/**
 * Scenario `rendezvous` of the weft interop peer (../CONTRACT.md, section `rendezvous`), dispatched
 * early from peer.mjs. Listener: a rendezvous point (`rendezvousServer()`), pushes listenerResult
 * once it saw the dialer register and unregister in `weft-interop`. Dialer: dial, one ping, identify
 * of the point (a rust point gets rust's legacy record layout, see interop/README.md Known quirks),
 * then register (TTL 7200), discover itself, discover with the cookie (nothing new), unregister and
 * discover nothing, and a 256-character namespace refused with E_INVALID_NAMESPACE (a rust point
 * closes the stream without a response instead: its codec cannot decode the name).
 * Over the runner's `transport` and `security` (TCP + Noise or TLS, or QUIC v1: common.mjs scenarioStack).
 *
 * Needs `npm run build` first (imports ../../dist).
 */
import { createNode } from '../../dist/node.js'
import { rendezvousClient, rendezvousServer } from '../../dist/rendezvous/index.js'
import { log, die, env, sleep, withTimeout, armTestTimeout, connectRedis, dialListener, waitForListenerResult, finishDialer, listenerResult, publishAndServe, firstAddr, scenarioStack } from './common.mjs'

const NS = 'weft-interop'
const TTL = 7200

export async function run() {
  const stack = scenarioStack()
  const isDialer = env('is_dialer') === 'true'
  const ip = env('ip', '0.0.0.0')
  const timeoutSec = armTestTimeout()
  const redis = await connectRedis()
  log(`${isDialer ? 'dialer' : 'listener'} scenario=rendezvous ${stack.name}`)
  if (isDialer) await dialer(redis, timeoutSec, stack)
  else await listener(redis, ip, stack)
}

/** @param {any} redis @param {string} ip @param {ReturnType<typeof scenarioStack>} stack */
async function listener(redis, ip, stack) {
  const node = await createNode({ listen: [stack.listen(ip)], security: stack.security, services: { rendezvous: rendezvousServer() } })
  const point = node.service('rendezvous')
  const push = listenerResult(redis)
  /** @type {string | undefined} */ let registered
  let armed = false
  node.on('connection:open', (c) => {
    log(`connection from ${c.peer}`)
    if (armed) return
    armed = true
    setTimeout(() => void push(false, `after 60 s: register ${registered ? 'seen' : 'not seen'}, unregister not seen`), 60_000).unref()
  })
  point.on('registered', ({ peer, namespace, ttl }) => {
    log(`registered ${peer} in ${namespace.length > 40 ? `${namespace.slice(0, 40)}...` : namespace} ttl ${ttl}`)
    if (namespace === NS) registered = peer.toString()
  })
  point.on('register-refused', ({ peer, namespace, status }) => log(`refused ${peer} (namespace of ${namespace.length} chars): status ${status}`))
  point.on('discover-served', ({ peer, count }) => log(`discover by ${peer}: ${count} registrations`))
  point.on('inbound-failure', ({ peer, error }) => log(`inbound failure from ${peer}: ${error.message}`))
  point.on('unregistered', ({ peer, namespace }) => {
    log(`unregistered ${peer} from ${namespace}`)
    if (namespace === NS && registered === peer.toString()) void push(true)
  })
  await publishAndServe(node, redis, firstAddr(node))
  await new Promise(() => {}) // serve until killed
}

/** @param {any} redis @param {number} timeoutSec @param {ReturnType<typeof scenarioStack>} stack */
async function dialer(redis, timeoutSec, stack) {
  const node = await createNode({ listen: [stack.listen('127.0.0.1')], security: stack.security, services: { rendezvous: rendezvousClient() } })
  const rz = node.service('rendezvous')
  /** @type {Map<string, string>} */ const agents = new Map()
  /** @type {(() => void) | undefined} */ let wake
  node.on('peer:identify', ({ peer, info }) => { agents.set(peer.toString(), info.agentVersion); wake?.() })
  const { peer: point, rtt, handshake } = await dialListener(node, redis, timeoutSec)
  try {
    if (!agents.has(point.toString())) await withTimeout(new Promise((r) => { wake = () => { if (agents.has(point.toString())) r(undefined) } }), 10_000, 'identify of the point')
    const agent = agents.get(point.toString()) ?? ''
    const rustPoint = agent.startsWith('rust-libp2p')
    log(`point agent ${JSON.stringify(agent)}${rustPoint ? ': registering with rust\'s legacy record layout' : ''}`)
    await checks(node, rz, point, rustPoint)
  } catch (e) {
    log(/** @type {Error} */ (e).stack ?? String(e))
    die(`rendezvous: ${/** @type {Error} */ (e).message}`)
  }
  await waitForListenerResult(redis)
  await finishDialer(node, redis, handshake, rtt)
}

/** @param {any} node @param {any} rz @param {any} point @param {boolean} rustPoint */
async function checks(node, rz, point, rustPoint) {
  const me = node.peerId.toString()
  const mine = node.getMultiaddrs().map((/** @type {any} */ a) => a.withoutPeerId().toString()).sort()
  // 1. register
  const { ttl } = await rz.register(point, NS, { ttl: TTL, recordFormat: rustPoint ? 'rust-legacy' : 'standard' })
  if (ttl !== TTL) throw new Error(`register: granted TTL ${ttl}, want ${TTL}`)
  log(`(1) registered, ttl ${ttl}`)
  // 2. discover: ourselves, with our addresses from the verified record
  const d1 = await rz.discover(point, { namespace: NS })
  const self = d1.registrations.find((/** @type {any} */ r) => r.peer.toString() === me)
  if (self === undefined) throw new Error(`discover: ${d1.registrations.length} registrations, none of ours`)
  const got = self.addrs.map(String).sort()
  if (JSON.stringify(got) !== JSON.stringify(mine)) throw new Error(`discover: our record has ${JSON.stringify(got)}, want ${JSON.stringify(mine)}`)
  if (self.namespace !== NS) throw new Error(`discover: namespace ${self.namespace}, want ${NS}`)
  if (d1.invalid !== 0) throw new Error(`discover: ${d1.invalid} registrations did not verify`)
  log(`(2) discovered ourselves (${self.format} record) with ${JSON.stringify(got)}`)
  // 3. the cookie: nothing new
  const d2 = await rz.discover(point, { namespace: NS, cookie: d1.cookie })
  if (d2.registrations.length !== 0) throw new Error(`discover with the cookie: ${d2.registrations.length} registrations, want none`)
  log('(3) discover with the cookie: nothing new')
  // 4. unregister (no response; it travels on its own stream, so a discover may overtake it: retry a little)
  await rz.unregister(point, NS)
  let left = -1
  for (let i = 0; i < 20 && left !== 0; i++) {
    if (i > 0) await sleep(100)
    left = (await rz.discover(point, { namespace: NS })).registrations.filter((/** @type {any} */ r) => r.peer.toString() === me).length
  }
  if (left !== 0) throw new Error('discover after unregister still finds us')
  log('(4) unregistered; discover finds nothing')
  // 5. too long a namespace
  const err = await rz.register(point, 'x'.repeat(256), { ttl: TTL, recordFormat: rustPoint ? 'rust-legacy' : 'standard' }).then(() => undefined, (/** @type {any} */ e) => e)
  const want = rustPoint ? ['rendezvous/no-response', 'rendezvous/reset'] : ['rendezvous/invalid-namespace']
  if (err === undefined || !want.includes(err.code)) throw new Error(`256-character namespace: ${err === undefined ? 'accepted' : `${err.code} (${err.message})`}, want ${want.join(' or ')}`)
  log(`(5) 256-character namespace: ${err.code}${rustPoint ? ' (a rust point closes the stream without a response: known quirk)' : ''}`)
  if (node.getConnections(point).length === 0) throw new Error('the connection to the point did not survive')
}
