/**
 * Scenario `trace` of the weft interop peer (../CONTRACT.md, section `trace`), dispatched early from
 * peer.mjs: the weft -> weft control of the trace case. A listener (TCP with `security`, or QUIC v1) with the default services
 * (identify, ping, kad, gossipsub subscribed to `weft-trace`, publishing on it every 500 ms) that
 * prints on stdout one JSON line with what its identify sends, publishes listenerAddr and serves
 * until killed, as interop/go/trace.go and interop/rust/src/trace.rs do.
 *
 * Needs `npm run build` first (imports ../../dist).
 */
import { createNode, AGENT_VERSION, kadDht, gossipsub } from '../../dist/node.js'
import { log, die, env, armTestTimeout, connectRedis, publishAndServe, firstAddr } from './common.mjs'

const TOPIC = 'weft-trace'

export async function run() {
  const transport = env('transport')
  const security = env('security', 'noise')
  if ((transport !== 'tcp' && transport !== 'quic-v1') || env('is_dialer') !== 'false') die('scenario trace: only a listener (is_dialer=false) on tcp or quic-v1')
  if (security !== 'noise' && security !== 'tls') die(`scenario trace: unsupported security ${security}`)
  armTestTimeout('60')
  const redis = await connectRedis()
  const ip = env('ip', '127.0.0.1')
  const listen = transport === 'quic-v1' ? `/ip4/${ip}/udp/0/quic-v1` : `/ip4/${ip}/tcp/0`
  const node = await createNode({ listen: [listen], security: [security], services: { dht: kadDht({ mode: 'server' }), pubsub: gossipsub() } })
  node.pubsub.subscribe(TOPIC)
  const self = `/p2p/${node.peerId}`
  const identify = {
    agentVersion: AGENT_VERSION,
    protocolVersion: 'ipfs/0.1.0',
    protocols: [...node.swarm.protocols()].sort(),
    listenAddrs: node.getMultiaddrs().map((a) => a.toString().replace(self, '')),
    peerId: node.peerId.toString(),
    topic: TOPIC,
  }
  process.stdout.write(`${JSON.stringify({ identify })}\n`)
  log(`trace listener ${firstAddr(node)}`)
  let n = 0
  setInterval(() => { void node.pubsub.publish(TOPIC, new TextEncoder().encode(`weft trace ${n++}`)).catch(() => {}) }, 500)
  await publishAndServe(node, redis, firstAddr(node))
  await new Promise(() => {}) // serve until killed
}
