/**
 * createNode of weft/node, apart from the entry point's re-exports: the CLI imports it from here, so a
 * command's bundle holds only what it uses (src/node.ts re-exports kadDht, gossipsub, metrics...; the
 * CLI bundle would otherwise carry them into every node command; bench/README.md "Start-up").
 */
import { nodeCrypto } from './io/crypto-node.js'
import { tcp, type TcpTransport } from './io/tcp.js'
import { webSockets } from './io/ws.js'
import { memory } from './io/memory.js'
import type { QuicTransport } from './edge/quic-transport.js'
import type { Multiaddr } from './multiaddr/index.js'
import { WeftNode, type NodeInternals, type NodeOptions } from './edge/weft-node.js'
import { preciseWallClock, wallClock } from './io/clock.js'
import { systemMemory } from './io/system-memory.js'
import { createGuards } from './swarm/guards.js'
import { quicCore } from './swarm/quic-connection.js'
import type { ServiceFactory } from './swarm/index.js'
import { createDiscovery, parseBootstrap } from './edge/discovery.js'
import type { TraceOptions } from './trace/hooks.js'

/**
 * A Node weft node. Besides ping and identify it runs, unless `services` is given (then exactly
 * those services run):
 * - the Kademlia DHT (`dht`: `node.dht`, server mode unless `dht.mode` says otherwise);
 * - gossipsub (`pubsub`: `node.pubsub`);
 * - the Circuit Relay v2 client (`relayClient`: dial `/p2p-circuit` addresses, listen on
 *   `<relay>/p2p-circuit`; spec/relay.md);
 * - the AutoNAT client (`autonat`: v2 and v1 probes; reachable addresses become confirmed external
 *   addresses; spec/autonat.md);
 * - DCUtR (`dcutr`: relayed connections upgraded to direct ones by hole punching, from the TCP
 *   transport's punch port, which the default transports turn on, or over QUIC v1 when the node
 *   listens on a `/udp/<port>/quic-v1` address; spec/dcutr.md).
 * Discovery (spec/discovery.md): `peer:discovery` from kad, identify, gossipsub PX and the
 * `discovery.bootstrap` peers, which are kept connected and seed the default DHT; discovered peers
 * are dialed while below the connection manager's low watermark (`discovery.autoDial`, default on).
 * Perf (`/perf/1.0.0`) is never on unless asked for:
 * `createNode({ services: { perf: perf(), ... } })` (spec/perf.md: perf SHOULD NOT be enabled by
 * default; it lets any peer make us send and receive bytes).
 * Tracing (spec/trace.md): `trace` receives every layer's events of every connection (transport
 * bytes, multistream lines, Noise handshake messages, yamux frames, decoded protocol messages, state
 * changes); `keylog` one line of Noise session keys per connection (secrets). Both off by default,
 * and then nothing of the tracer is loaded or run.
 * @param options - identity (`privateKey`, else a fresh Ed25519 key), `listen` addresses, `services`,
 * `discovery`, limits (`limits`, `resources`, `connectionManager`, `gater`, `ipLimits`), `metrics`,
 * `trace` / `keylog`, `security` (default `['noise']`; `['noise', 'tls']` also offers and accepts
 * libp2p TLS, spec/tls.md); `start: false` builds the node without listening (call `node.start()`);
 * `signatureThreads`: gossipsub's StrictSign signatures checked at once off the event loop, on
 * libuv's threadpool, for the default `pubsub` service (default twice the threadpool's size, 8;
 * 0 checks them on the node's own thread; spec/gossipsub.md "Validation on workers").
 * @throws `UsageError` for a mistyped listen multiaddr (`multiaddr/...`) or an inconsistent option
 * (`node/...`), `TypeError` / `RangeError` for an option of the wrong type or range, and a
 * `TransportError` when a listen address cannot be bound (in use, not permitted).
 * @example
 * ```ts
 * import { createNode } from 'weft/node'
 * const node = await createNode({ listen: ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'] })
 * console.log(node.peerId.toString(), node.getMultiaddrs().map(String))
 * node.on('peer:connect', (peer) => console.log('connected', peer.toString()))
 * const rtt = await node.ping('/ip4/192.0.2.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')
 * await node.stop()
 * ```
 */
export async function createNode(options: NodeOptions & TraceOptions & { signatureThreads?: number } = {}): Promise<WeftNode> {
  // outbound TCP leaves from one punch port (spec/hole-punching.md): the NAT mapping peers observe is the one DCUtR punches from
  const defaultTcp = options.transports === undefined ? tcp({ punchPort: 'auto' }) : undefined
  const punchPort = defaultTcp ?? options.transports?.find((t): t is TcpTransport => t.name === 'tcp' && 'punchPort' in t)
  // DCUtR over QUIC sends its punch packets through the QUIC transport (spec/dcutr.md "QUIC")
  const defaultQuic = options.transports === undefined ? lazyQuic() : undefined
  const quicPunch = defaultQuic ?? options.transports?.find((t): t is QuicTransport => t.name === 'quic-v1' && 'holePunch' in t)
  // discovery.bootstrap seeds the default DHT too (one list: kept connected and kad's bootstrapPeers)
  const boot = parseBootstrap(options.discovery?.bootstrap ?? [])
  const dht = boot.length === 0 ? options.dht : { ...options.dht, bootstrapPeers: [...(options.dht?.bootstrapPeers ?? []), ...boot] }
  // The optional services' modules are imported only when they run (a fresh `weft ping` or a node
  // built with `services` does not compile the DHT, gossipsub, relay, AutoNAT, DCUtR: bench/README.md "Start-up")
  const services: Record<string, ServiceFactory> = options.services !== undefined ? { ...options.services } : await defaultServices(dht, await withVerifier(options.pubsub, options.signatureThreads), punchPort, quicPunch)
  // discovery.mdns adds the mDNS service on the UDP socket (spec/mdns.md), with or without `services`
  const mdnsOpt = options.discovery?.mdns
  if (mdnsOpt !== undefined && mdnsOpt !== false && services.mdns === undefined) {
    const [{ mdns }, { udpMdnsSocket }] = await Promise.all([import('./mdns/index.js'), import('./io/mdns-socket.js')])
    services.mdns = mdns({ ...(mdnsOpt === true ? {} : mdnsOpt), socket: udpMdnsSocket() })
  }
  // discovery.rendezvous adds a rendezvous client that registers and discovers on its own (spec/rendezvous.md)
  const rz = options.discovery?.rendezvous
  if (rz !== undefined && services.rendezvous === undefined) {
    const { rendezvousClient } = await import('./rendezvous/index.js')
    const { points, namespace, ttl, interval, ...rest } = rz
    services.rendezvous = rendezvousClient({ ...rest, discovery: { points, namespace, ...(ttl === undefined ? {} : { ttl }), ...(interval === undefined ? {} : { interval }) } })
  }
  const metrics = options.metrics === true ? (await import('./metrics/index.js')).prometheusMetrics() : options.metrics
  const discovery = { ...options.discovery, autoDial: options.discovery?.autoDial ?? true }
  // trace / keylog (spec/trace.md): the tracer and the decoders load only when asked for
  const { trace, keylog, signatureThreads: _, ...nodeOptions } = options
  const connectionTrace = trace !== undefined || keylog !== undefined
    ? (await import('./trace/node.js')).nodeConnectionHooks({ trace, keylog }, preciseWallClock, (await import('./io/crypto-tls-node.js')).nodeTlsCrypto)
    : undefined
  const node = new WeftNode({ ...nodeOptions, services, discovery, systemMemory: options.systemMemory ?? systemMemory(), ...(metrics !== undefined ? { metrics } : {}) }, {
    crypto: options.crypto ?? nodeCrypto,
    wallClock,
    transports: options.transports ?? [defaultTcp!, defaultQuic!, webSockets(), memory()],
    guards: createGuards,
    discovery: createDiscovery,
    quicCore,
    connectionTrace,
    ...(options.security?.includes('tls') === true ? { tls: await nodeTls() } : {}),
  })
  if (options.start !== false) await node.start()
  return node
}

/**
 * The `/quic-v1` transport (src/edge/quic-transport.ts), its module (TLS 1.3, QUIC) loaded on the first
 * QUIC listen or dial. `holePunch` (DCUtR's punch packets) sends nothing before it is loaded: without a
 * QUIC listener there is no socket to punch from.
 */
function lazyQuic(): QuicTransport {
  let t: Promise<QuicTransport> | undefined
  let loaded: QuicTransport | undefined
  const load = (): Promise<QuicTransport> => (t ??= import('./edge/quic-transport.js').then((m) => (loaded = m.quic())))
  const quicAddr = (a: Multiaddr): boolean => /^\/ip[46]\/[^/]+\/udp\/\d+\/quic-v1(\/p2p\/[^/]+)?$/.test(a.toString())
  return {
    name: 'quic-v1',
    canDial: quicAddr,
    canListen: (a) => quicAddr(a) && a.getPeerId() === undefined,
    dial: async (a, o) => (await load()).dial(a, o),
    listen: async (a, on) => (await load()).listen(a, on),
    holePunch: (a, o) => loaded?.holePunch(a, o) ?? { sent: 0, stop: () => {}, done: Promise.resolve(0) },
  }
}

/** `/tls/1.0.0` for `security: [..., 'tls']` (spec/tls.md): node:crypto's TLS primitives, one certificate per node; loaded only when asked for. */
async function nodeTls(): Promise<NonNullable<NodeInternals['tls']>> {
  const [{ libp2pTls, generateCertificate }, { nodeTlsCrypto }] = await Promise.all([import('./tls/index.js'), import('./io/crypto-tls-node.js')])
  return (identity) => libp2pTls({ crypto: nodeTlsCrypto, wallClock, certificate: generateCertificate(identity, nodeTlsCrypto) })
}

/** The default pubsub's options with a threadpool signature verifier (unless given one, or `threads` is 0). */
async function withVerifier(pubsub: NodeOptions['pubsub'], threads: number | undefined): Promise<NodeOptions['pubsub']> {
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 0)) throw new RangeError('signatureThreads must be an integer >= 0')
  if (pubsub?.signatureVerifier !== undefined || threads === 0) return pubsub
  const { ed25519ThreadpoolVerifier } = await import('./io/verify-pool.js')
  return { ...pubsub, signatureVerifier: ed25519ThreadpoolVerifier(threads === undefined ? {} : { concurrency: threads }) }
}

/** The services a node runs when `services` is not given, their modules imported in parallel. */
async function defaultServices(dht: NodeOptions['dht'], pubsub: NodeOptions['pubsub'], punchPort: TcpTransport | undefined, quic: QuicTransport | undefined): Promise<Record<string, ServiceFactory>> {
  const [kad, gs, relay, autonat, hp] = await Promise.all([
    import('./kad/service.js'), import('./gossipsub/service.js'), import('./relay/index.js'), import('./autonat/index.js'), import('./dcutr/index.js'),
  ])
  return {
    dht: kad.kadDht(dht),
    pubsub: gs.gossipsub(pubsub),
    relayClient: relay.circuitRelayClient(),
    autonat: autonat.autoNAT(),
    dcutr: hp.dcutr({ ...(punchPort !== undefined ? { punchPort } : {}), ...(quic !== undefined ? { quic } : {}) }),
  }
}
