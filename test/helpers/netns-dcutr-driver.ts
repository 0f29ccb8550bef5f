/**
 * The weft processes of test/netns-dcutr.test.ts (TCP) and test/netns-dcutr-quic.test.ts (QUIC v1 only:
 * a leading `quic` argument), one per network namespace, bundled by the test with esbuild. One JSON
 * line on stdout per answer; logs on stderr.
 *
 *   [quic] relay <ip>                   a weft relay (circuitRelayServer) on <ip>:4001 (TCP, or UDP with quic)
 *                                       -> {event:'started', addr}
 *   quic peer <lanIp> <relayAddr> listen|listen-nopunch|dial
 *                                       the same roles over QUIC: B punches with dcutr({ quic }) (listen-nopunch:
 *                                       a control whose B sends no punch packets); A waits for `direct` or `failed`
 *   peer <lanIp> <relayAddr> listen     weft B: TCP punch port 'auto', relay client reserving on
 *                                       <relayAddr>/p2p-circuit, dcutr -> {event:'reserved', peer}
 *   peer <lanIp> <relayAddr> dial       weft A: punch port 'auto', relay client, dcutr -> {event:'started', peer}
 *     dial <peerId>                     (A) dial the relay, wait for identify with it (A's observed address of
 *                                       the punch port), dial <relay>/p2p-circuit/p2p/<peerId>, wait for the
 *                                       dcutr `direct` event, then for the relayed connection to close, then ping
 *                                       -> {ok, direct: {...}, connections: [...], rtt} or {ok:false, error}
 *     events                            the dcutr events seen so far -> {events: [...]}
 *     conns <peerId>                    -> {connections: [...]}
 *     ping <peerId>                     -> {ok, rtt} or {ok:false, error}
 *     status                            -> {status, punchPort, localAddrs}
 *     metrics                           -> {metrics: the node's Prometheus exposition}
 */
import { createInterface } from 'node:readline'
import { createNode, prometheusMetrics, quic, tcp, type WeftNode } from '../../src/node.js'
import { circuitRelayClient, circuitRelayServer } from '../../src/relay/index.js'
import { dcutr, type Dcutr, type DcutrEvent } from '../../src/dcutr/index.js'
import type { ConnectionInfo } from '../../src/swarm/behaviour.js'

const out = (o: unknown): void => { process.stdout.write(`${JSON.stringify(o)}\n`) }
const log = (...a: unknown[]): void => { process.stderr.write(`[${new Date().toISOString()}] ${a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' ')}\n`) }

const showConn = (c: ConnectionInfo): Record<string, unknown> => ({ id: c.id, remoteAddr: c.remoteAddr.toString(), localAddr: c.localAddr?.toString(), direction: c.direction, limited: c.limited, muxer: c.muxer })
const showEvent = (e: DcutrEvent): Record<string, unknown> => {
  const o: Record<string, unknown> = { type: e.type, peer: e.peer.toString() }
  if (e.type === 'direct') Object.assign(o, { connection: showConn(e.connection), role: e.role, via: e.via, attempts: e.attempts })
  if (e.type === 'attempt') Object.assign(o, { attempt: e.attempt, rtt: e.rtt, addrs: e.addrs.map(String) })
  if (e.type === 'punch') Object.assign(o, { attempt: e.attempt, addrs: e.addrs.map(String) })
  if (e.type === 'failed') Object.assign(o, { role: e.role, attempts: e.attempts, error: e.error.message })
  if (e.type === 'unavailable') Object.assign(o, { reason: e.reason })
  return o
}

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
    p.then((v) => { clearTimeout(t); resolve(v) }, (e: unknown) => { clearTimeout(t); reject(e) })
  })
}

/** QUIC v1 only (the `quic` argument), else TCP. */
const overQuic = process.argv[2] === 'quic'

async function relay(ip: string): Promise<void> {
  const node = await createNode(overQuic
    ? { transports: [quic()], listen: [`/ip4/${ip}/udp/4001/quic-v1`], services: { relay: circuitRelayServer() } }
    : { listen: [`/ip4/${ip}/tcp/4001`], services: { relay: circuitRelayServer() } })
  out({ event: 'started', addr: node.getMultiaddrs()[0]!.toString() })
}

async function peer(lanIp: string, relayAddr: string, mode: string): Promise<void> {
  const t = overQuic ? undefined : tcp({ punchPort: 'auto' })
  const q = overQuic ? quic() : undefined
  const listening = mode.startsWith('listen')
  const listen = [overQuic ? `/ip4/${lanIp}/udp/4001/quic-v1` : `/ip4/${lanIp}/tcp/4001`, ...(listening ? [`${relayAddr}/p2p-circuit`] : [])]
  // the QUIC control: DCUtR runs as usual, but no punch packet leaves
  const puncher = mode === 'listen-nopunch' ? { holePunch: () => ({ stop: () => {} }) } : q
  const node: WeftNode = await createNode({
    transports: [t ?? q!], listen, dialTimeout: overQuic ? 4_000 : 3_000, metrics: prometheusMetrics(),
    services: { relayClient: circuitRelayClient(), dcutr: dcutr(overQuic ? { quic: puncher!, punchTimeout: 3_000, relayedCloseGrace: 500 } : { punchPort: t!, relayedCloseGrace: 500 }) },
    start: false,
  })
  const d = node.service<Dcutr>('dcutr')
  const events: DcutrEvent[] = []
  const waiters: Array<(e: DcutrEvent) => void> = []
  for (const type of ['direct', 'attempt', 'punch', 'failed', 'unavailable'] as const) {
    d.on(type, (e) => {
      log('dcutr', showEvent(e))
      events.push(e)
      for (const w of waiters.splice(0)) w(e)
    })
  }
  node.on('connection:open', (c) => log('open', showConn(c)))
  node.on('connection:close', ({ connection, error }) => log('close', showConn(connection), error?.message ?? ''))
  if (listening) {
    const reserved = new Promise<void>((resolve) => node.on('relay:reservation', (ev) => { log('reservation', ev.type); if (ev.type === 'accepted') resolve() }))
    await node.start()
    await within(15_000, 'reservation', reserved)
    out({ event: 'reserved', peer: node.peerId.toString(), punchPort: t?.punchPort })
  } else {
    await node.start()
    out({ event: 'started', peer: node.peerId.toString() })
  }
  const nextEvent = (pred: (e: DcutrEvent) => boolean): Promise<DcutrEvent> => {
    const seen = events.find(pred)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve) => {
      const w = (e: DcutrEvent): void => { if (pred(e)) resolve(e); else waiters.push(w) }
      waiters.push(w)
    })
  }
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [cmd, arg] = line.trim().split(/\s+/)
    void (async () => {
      try {
        if (cmd === 'events') return out({ events: events.map(showEvent) })
        if (cmd === 'metrics') return out({ metrics: node.metrics!.exposition() })
        if (cmd === 'status') return out({ status: d.status(), punchPort: t?.punchPort, localAddrs: d.localAddrs().map(String) })
        if (cmd === 'conns') return out({ connections: node.getConnections().filter((c) => c.peer.toString() === arg).map(showConn) })
        if (cmd === 'ping') return out({ ok: true, rtt: await within(10_000, 'ping', node.ping(node.getConnections().find((c) => c.peer.toString() === arg)!.peer)) })
        if (cmd !== 'dial') return out({ ok: false, error: `unknown command ${cmd}` })
        const relayId = relayAddr.split('/p2p/')[1]!
        const identifiedRelay = new Promise<void>((resolve) => node.on('peer:identify', ({ peer }) => { if (peer.toString() === relayId) resolve() }))
        const known = node.getConnections().some((c) => c.peer.toString() === relayId)
        await node.dial(relayAddr)
        if (!known) await within(10_000, 'identify with the relay', identifiedRelay)
        const target = `${relayAddr}/p2p-circuit/p2p/${arg}`
        const relayed = await node.dial(target)
        log('relayed', showConn(relayed))
        // A's side: a dcutr event; or, when B upgraded by dialing our public address (connection
        // reversal, TCP only), no event here but a direct connection to B
        const reversal = async (): Promise<undefined> => {
          for (;;) {
            if (node.getConnections(relayed.peer).some((c) => !c.limited)) return undefined
            await new Promise((r) => setTimeout(r, 50))
          }
        }
        const outcome = nextEvent((e) => e.peer.toString() === arg && (e.type === 'direct' || e.type === 'failed'))
        const direct = await within(overQuic ? 40_000 : 30_000, 'dcutr direct', overQuic ? outcome : Promise.race([reversal(), outcome]))
        if (direct !== undefined && direct.type !== 'direct') return out({ ok: false, error: `dcutr ${direct.type}`, events: events.map(showEvent) })
        // the relayed connection is closed after the grace period; then only the direct one is left
        const peerId = relayed.peer
        for (let i = 0; node.getConnections(peerId).some((c) => c.limited); i++) {
          if (i > 100) throw new Error('the relayed connection stayed open')
          await new Promise((r) => setTimeout(r, 50))
        }
        const rtt = await node.ping(peerId)
        out({ ok: true, relayed: showConn(relayed), direct: direct === undefined ? undefined : showEvent(direct), connections: node.getConnections(peerId).map(showConn), rtt, punchPort: t?.punchPort })
      } catch (e) {
        out({ ok: false, error: e instanceof Error ? e.message : String(e), events: events.map(showEvent) })
      }
    })()
  })
}

const [role, ...args] = process.argv.slice(overQuic ? 3 : 2)
if (role === 'relay') await relay(args[0]!)
else if (role === 'peer') await peer(args[0]!, args[1]!, args[2]!)
else throw new Error(`unknown role ${role}`)
