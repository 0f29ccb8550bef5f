/**
 * The weft processes of test/netns-dcutr-quic.test.ts, one per network namespace, bundled by the test
 * with esbuild; QUIC v1 only (no TCP). One JSON line on stdout per answer; logs on stderr.
 *
 *   relay <ip>                          a weft relay on <ip>:4001/udp (QUIC) -> {event:'started', addr}
 *   peer <lanIp> <relayAddr> listen     weft B: QUIC on <lanIp>:4001, relay client reserving on
 *                                       <relayAddr>/p2p-circuit, dcutr({ quic }) -> {event:'reserved', peer}
 *   peer <lanIp> <relayAddr> listen-nopunch   B whose QUIC transport sends no punch packets (a control)
 *   peer <lanIp> <relayAddr> dial       weft A: the same without the reservation -> {event:'started', peer}
 *     dial <peerId>                     (A) dial the relay, wait for identify, dial the QUIC circuit
 *                                       address of <peerId>, wait for dcutr `direct` (or `failed`), then
 *                                       for the relayed connection to close, then ping
 *                                       -> {ok, relayed, direct, connections, rtt} or {ok:false, error}
 *     events                            the dcutr events seen so far -> {events: [...]}
 *     conns <peerId>                    -> {connections: [...]}
 *     ping <peerId>                     -> {ok, rtt} or {ok:false, error}
 */
import { createInterface } from 'node:readline'
import { createNode, quic, type WeftNode } from '../../src/node.js'
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

async function relay(ip: string): Promise<void> {
  const node = await createNode({ transports: [quic()], listen: [`/ip4/${ip}/udp/4001/quic-v1`], services: { relay: circuitRelayServer() } })
  out({ event: 'started', addr: node.getMultiaddrs()[0]!.toString() })
}

async function peer(lanIp: string, relayAddr: string, mode: string): Promise<void> {
  const t = quic()
  const listening = mode.startsWith('listen')
  const listen = [`/ip4/${lanIp}/udp/4001/quic-v1`, ...(listening ? [`${relayAddr}/p2p-circuit`] : [])]
  // the control: DCUtR runs over QUIC as usual, but no punch packet leaves
  const puncher = mode === 'listen-nopunch' ? { holePunch: () => ({ stop: () => {} }) } : t
  const node: WeftNode = await createNode({
    transports: [t], listen, dialTimeout: 4_000,
    services: { relayClient: circuitRelayClient(), dcutr: dcutr({ quic: puncher, punchTimeout: 3_000, relayedCloseGrace: 500 }) },
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
    out({ event: 'reserved', peer: node.peerId.toString() })
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
        if (cmd === 'conns') return out({ connections: node.getConnections().filter((c) => c.peer.toString() === arg).map(showConn) })
        if (cmd === 'ping') return out({ ok: true, rtt: await within(10_000, 'ping', node.ping(node.getConnections().find((c) => c.peer.toString() === arg)!.peer)) })
        if (cmd !== 'dial') return out({ ok: false, error: `unknown command ${cmd}` })
        const relayId = relayAddr.split('/p2p/')[1]!
        const identifiedRelay = new Promise<void>((resolve) => node.on('peer:identify', ({ peer }) => { if (peer.toString() === relayId) resolve() }))
        const known = node.getConnections().some((c) => c.peer.toString() === relayId)
        await node.dial(relayAddr)
        if (!known) await within(10_000, 'identify with the relay', identifiedRelay)
        const relayed = await node.dial(`${relayAddr}/p2p-circuit/p2p/${arg}`)
        log('relayed', showConn(relayed))
        const direct = await within(40_000, 'dcutr direct', nextEvent((e) => e.peer.toString() === arg && (e.type === 'direct' || e.type === 'failed')))
        if (direct.type !== 'direct') return out({ ok: false, error: `dcutr ${direct.type}`, events: events.map(showEvent) })
        const peerId = relayed.peer
        for (let i = 0; node.getConnections(peerId).some((c) => c.limited); i++) {
          if (i > 100) throw new Error('the relayed connection stayed open')
          await new Promise((r) => setTimeout(r, 50))
        }
        const rtt = await node.ping(peerId)
        out({ ok: true, relayed: showConn(relayed), direct: showEvent(direct), connections: node.getConnections(peerId).map(showConn), rtt })
      } catch (e) {
        out({ ok: false, error: e instanceof Error ? e.message : String(e), events: events.map(showEvent) })
      }
    })()
  })
}

const [role, ...args] = process.argv.slice(2)
if (role === 'relay') await relay(args[0]!)
else if (role === 'peer') await peer(args[0]!, args[1]!, args[2]!)
else throw new Error(`unknown role ${role}`)
