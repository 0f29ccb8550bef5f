/** `weft node`, `weft ping`, `weft id`: the CLI commands that run a node. */
import { createNode } from '../create-node.js'
import { loadOrCreateKey } from '../io/key-file.js'
import { nodeCrypto } from '../io/crypto-node.js'
import { tcp } from '../io/tcp.js'
import { webSockets } from '../io/ws.js'
import { quic } from '../edge/quic-transport.js'
import type { WeftNode } from '../edge/weft-node.js'
// the services from their modules, not through weft/node's re-exports: the bundle then keeps them out of other commands' chunks
import { gossipsub } from '../gossipsub/service.js'
import { kadDht } from '../kad/service.js'
import { perf } from '../edge/perf-service.js'
import { autoNAT, type AutoNAT } from '../autonat/index.js'
import { dcutr, type Dcutr } from '../dcutr/index.js'
import { Multiaddr } from '../multiaddr/index.js'
import { UsageError } from '../core/errors.js'
import { UsageLine } from './args.js'
import { parseHostPort, serveMetrics } from '../io/metrics-http.js'
import { parseLimitsJson, type ResourceLimitsInit } from '../swarm/resource-limits.js'
import type { ResourceUsage } from '../swarm/resources.js'
import type { Mdns } from '../mdns/index.js'
import { circuitRelayClient, circuitRelayServer, type RelayReservationEvent } from '../relay/index.js'

export interface NodeCmdOptions {
  listen: string[]
  identity: string
  json: boolean
  /** Bootstrap peers (multiaddrs with /p2p): kept connected (redialed with backoff) and the DHT's bootstrap peers. */
  bootstrap?: string[]
  /** Gossipsub topics to join; arriving messages are printed. */
  topics?: string[]
  /** DHT mode; default 'server'. 'auto' serves while the node has a confirmed external address. */
  dhtMode?: 'server' | 'client' | 'auto'
  /** Confirmed external addresses (node.addExternalAddress). */
  external?: string[]
  /** Serve /perf/1.0.0 (default caps, spec/perf.md); off unless asked (`--perf`). */
  perf?: boolean
  /** Secure channels in order of preference (`--security noise,tls`); default Noise only. */
  security?: Array<'noise' | 'tls'>
  /** A JSON file of resource limits (`--limits`, the shape of createNode({ resources }), spec/resource-manager.md). */
  limits?: string
  /** Print `node.resources()` every this many seconds (`--print-resources`). */
  printResources?: number
  /** Gater entries (`--deny`, `--allow`): peer ids, IPs, CIDRs, multiaddrs (src/swarm/gater.ts). */
  deny?: string[]
  allow?: string[]
  /** Serve Prometheus metrics on this `ip:port` (`--metrics`; /metrics and /debug/metrics/prometheus, spec/metrics.md). */
  metrics?: string
  /** Connection manager watermarks and grace period (`--conns-low`, `--conns-high`, `--conns-grace`; spec/connection-manager.md). */
  connectionManager?: { lowWater?: number; highWater?: number; gracePeriodMs?: number }
  /** Serve as a Circuit Relay v2 relay (`--relay`), with these circuit limits (bytes per direction, ms; 0: none). */
  relay?: { limitData?: number; limitDuration?: number; maxReservations?: number; maxCircuits?: number }
  /** Reserve on these relays and accept connections through them (`--relay-via`: listen on `<addr>/p2p-circuit`). */
  relayVia?: string[]
  /** Serve AutoNAT v1 and v2 (`--autonat-server`); the AutoNAT client always runs. */
  autonatServer?: boolean
  /** DCUtR hole punching (on unless `--no-hole-punch`): TCP dials leave from a punch port, QUIC punches from its listening socket, relayed connections are upgraded. */
  holePunch?: boolean
  /** Reserve on discovered relays while unreachable (`--relay-discover`). */
  relayDiscover?: boolean
  /** `--serve-request <protocol>=echo|never|<file.json>` (src/cli/request.ts), with `--serve-codec` (default json). */
  serveRequest?: string[]
  serveCodec?: 'json' | 'cbor'
  /** `--serve-framing eof|length-prefixed` (default eof). */
  serveFraming?: 'eof' | 'length-prefixed'
  /** mDNS discovery on the LAN (`--mdns`): discovered peers are printed and dialled. */
  mdns?: boolean
  /** Serve as a rendezvous point (`--rendezvous-server`, src/cli/rendezvous.ts). */
  rendezvousServer?: boolean
  /** Print every connection's trace (`--trace`, spec/trace.md), as text or, with `json`, JSON lines. */
  trace?: boolean
  /** Append each connection's Noise session keys to this file (`--keylog`, mode 0600; secrets). */
  keylog?: string | undefined
}

/** `--bootstrap` values: a UsageError (an address without /p2p, a typo) becomes one usage line. */
function bootstrapFlags(list: string[], parse: typeof import('../edge/discovery.js').parseBootstrap): ReturnType<typeof parse> {
  try {
    return parse(list)
  } catch (e) {
    if (e instanceof UsageError) throw new UsageLine(`--bootstrap: ${e.message.slice(e.code.length + 2)}`)
    throw e
  }
}

/** `--trace` and `--keylog` (spec/trace.md): the tracer and the keylog file load only when asked for. */
async function traceOptions(o: NodeCmdOptions): Promise<{ trace?: (e: import('../trace/index.js').TraceEvent) => void; keylog?: (line: string) => void }> {
  if (o.trace !== true && o.keylog === undefined) return {}
  const { createFormatter } = await import('../trace/index.js')
  const format = createFormatter({ json: o.json })
  const file = o.keylog === undefined ? undefined : (await import('./trace.js')).openKeylog(o.keylog)
  return { ...(o.trace === true ? { trace: (e) => console.log(format(e)) } : {}), ...(file !== undefined ? { keylog: file.write } : {}) }
}

function log(json: boolean, event: string, fields: Record<string, unknown>, text: string): void {
  if (json) console.log(JSON.stringify({ time: new Date().toISOString(), event, ...fields }))
  else console.log(`${new Date().toISOString().slice(11, 23)} ${text}`)
}

export async function runNode(o: NodeCmdOptions): Promise<number> {
  const { key, created } = await loadOrCreateKey(o.identity, nodeCrypto)
  // one list: kept connected by the node's discovery (redialed with backoff) and kad's bootstrap peers
  const { parseBootstrap } = await import('../edge/discovery.js')
  const peers = bootstrapFlags(o.bootstrap ?? [], parseBootstrap)
  const external = (o.external ?? []).map((a) => Multiaddr.fromString(a))
  const services = {
    dht: kadDht({ mode: o.dhtMode ?? 'server', bootstrapPeers: peers }),
    pubsub: gossipsub(),
    relayClient: circuitRelayClient(o.relayDiscover === true ? { discover: true } : {}),
    autonat: autoNAT(o.autonatServer === true ? { server: true } : {}),
    ...(o.relay !== undefined ? { relay: circuitRelayServer(o.relay) } : {}),
    ...(o.perf === true ? { perf: perf() } : {}),
    ...(await (await import('./request.js')).requestServices(o.serveRequest ?? [], o.serveCodec ?? 'json', o.serveFraming ?? 'eof')),
    ...(o.rendezvousServer === true ? (await import('./rendezvous.js')).rendezvousServerService() : {}),
  }
  const listen = [...o.listen, ...(o.relayVia ?? []).map(circuitListenAddr)]
  const punch = o.holePunch === false ? undefined : tcp({ punchPort: 'auto' })
  // over QUIC, DCUtR punches from the QUIC listening socket (a --listen /ip4/.../udp/<port>/quic-v1)
  const quicT = quic()
  const holePunch = punch === undefined ? {} : { dcutr: dcutr({ punchPort: punch, quic: quicT }) }
  const resources = o.limits === undefined ? undefined : await readLimits(o.limits)
  const metricsAt = o.metrics === undefined ? undefined : metricsAddr(o.metrics)
  const tracing = await traceOptions(o)
  const node = await createNode({ ...tracing, ...(o.security !== undefined ? { security: o.security } : {}), privateKey: key, listen, discovery: { bootstrap: o.bootstrap ?? [], ...(o.mdns === true ? { mdns: { autoDial: true } } : {}) }, services: { ...services, ...holePunch }, transports: [punch ?? tcp(), quicT, webSockets()], ...(resources !== undefined ? { resources } : {}), gater: { deny: o.deny ?? [], allow: o.allow ?? [] }, ...(metricsAt !== undefined ? { metrics: true } : {}), ...(o.connectionManager !== undefined ? { connectionManager: o.connectionManager } : {}) })
  const metricsServer = metricsAt === undefined ? undefined : await serveMetrics(metricsAt, () => node.metrics!.exposition()).catch(async (e: Error) => {
    await node.stop()
    throw new UsageLine(`--metrics ${o.metrics}: cannot listen (${e.message})`)
  })
  node.dht.onModeChange((mode) => log(o.json, 'dht:mode', { mode }, `DHT mode: ${mode}`))
  for (const a of external) node.addExternalAddress(a)
  const addrs = addressSummary(node)
  log(o.json, 'started', { peerId: node.peerId.toString(), identity: o.identity, created, addrs: node.getMultiaddrs().map(String), directAddrs: addrs.direct, relayedAddrs: addrs.relayed, reachability: addrs.reachability, relay: o.relay !== undefined, dhtMode: node.dht.mode, dhtConfiguredMode: node.dht.configuredMode, externalAddrs: node.getExternalAddresses().map(String) },
    `weft node ${node.peerId.toString()} (identity ${created ? 'created' : 'loaded'}: ${o.identity}; DHT ${node.dht.mode}${node.dht.configuredMode === 'auto' ? ' (auto)' : ''}${o.relay !== undefined ? '; serving as a relay' : ''})`)
  if (!o.json) printAddrs(addrs)
  for (const r of o.serveRequest ?? []) log(o.json, 'request:serving', { spec: r, codec: o.serveCodec ?? 'json', framing: o.serveFraming ?? 'eof' }, `serving request-response ${r} (${o.serveCodec ?? 'json'}, ${o.serveFraming ?? 'eof'})`)
  node.on('peer:discovery', (d) => log(o.json, 'peer:discovery', { peer: d.peer.toString(), addrs: d.addrs.map(String), source: d.source }, `discovered ${d.peer.toString()} (${d.source}): ${d.addrs.map(String).join(' ')}`))
  if (o.mdns === true) node.service<Mdns>('mdns').on('expired', (e) => log(o.json, 'mdns:expired', { peer: e.peer.toString(), addrs: e.addrs.map(String), gone: e.gone, reason: e.reason }, `mdns: ${e.peer.toString()} ${e.reason === 'goodbye' ? 'said goodbye' : 'expired'}${e.gone ? '' : ` (${e.addrs.length} address(es))`}`))
  node.on('relay:reservation', (ev) => {
    const a = addressSummary(node)
    log(o.json, 'relay:reservation', { ...reservationFields(ev), relayedAddrs: a.relayed, reachability: a.reachability }, reservationText(ev))
    if (!o.json && (ev.type === 'accepted' || ev.type === 'lost')) printAddrs(a)
  })
  node.service<AutoNAT>('autonat').on('status', () => {
    const a = addressSummary(node)
    log(o.json, 'autonat:status', { reachability: a.reachability }, `reachability: ${a.reachability}`)
  })
  if (punch !== undefined) {
    const d = node.service<Dcutr>('dcutr')
    d.on('direct', (ev) => log(o.json, 'dcutr:direct', { peer: ev.peer.toString(), addr: ev.connection.remoteAddr.toString(), via: ev.via, attempts: ev.attempts }, `direct connection to ${ev.peer.toString()} via ${ev.via} (${ev.connection.remoteAddr.toString()}, ${ev.attempts} attempt(s))`))
    d.on('failed', (ev) => log(o.json, 'dcutr:failed', { peer: ev.peer.toString(), attempts: ev.attempts, error: ev.error.message }, `hole punch to ${ev.peer.toString()} failed after ${ev.attempts} attempt(s): ${ev.error.message}; the relayed connection stays`))
  }
  node.on('reachability', () => {
    const a = addressSummary(node)
    log(o.json, 'reachability', { reachability: a.reachability, directAddrs: a.direct, relayedAddrs: a.relayed, externalAddrs: node.getExternalAddresses().map(String) }, `reachability: ${a.reachability}`)
  })
  if (metricsServer !== undefined) log(o.json, 'metrics', { url: metricsServer.url }, `metrics on ${metricsServer.url}`)
  node.on('connection:open', (c) => log(o.json, 'connection:open', { peer: c.peer.toString(), addr: c.remoteAddr.toString(), direction: c.direction }, `connection ${c.direction} ${c.peer.toString()} via ${c.remoteAddr.toString()}`))
  node.on('connection:close', ({ connection: c, error }) => log(o.json, 'connection:close', { peer: c.peer.toString(), error: error?.message }, `closed ${c.peer.toString()}${error !== undefined ? ` (${error.message})` : ''}`))
  const refused = refusalLog((counts, text) => log(o.json, 'refused', { counts }, text))
  node.on('connection:refused', (r) => refused.add(`connection ${r.direction} ${r.code}`))
  node.on('stream:refused', (r) => refused.add(`stream ${r.direction} ${r.protocol} ${r.code}`))
  node.on('peer:identify', ({ peer, info }) => log(o.json, 'peer:identify', {
    peer: peer.toString(), agentVersion: info.agentVersion, protocolVersion: info.protocolVersion, protocols: info.protocols,
    listenAddrs: info.listenAddrs.map(String), observedAddr: info.observedAddr?.toString(), signedPeerRecord: info.signedPeerRecordValid,
  }, `identified ${peer.toString()}: ${info.agentVersion ?? '?'}, ${info.protocols.length} protocols, ${info.listenAddrs.length} addrs${info.signedPeerRecordValid ? ', signed record ok' : ''}`))
  ;(await import('./pubsub.js')).attachTopics(node, o.topics ?? [], o.json, log)
  if (peers.length > 0) {
    node.dht.bootstrap({ signal: AbortSignal.timeout(60_000) }).then(
      (size) => log(o.json, 'dht:bootstrap', { routingTable: size }, `DHT bootstrapped: ${size} peers in the routing table`),
      (e: Error) => log(o.json, 'dht:bootstrap-failed', { error: e.message }, `DHT bootstrap failed: ${e.message}`),
    )
  }
  for (const w of node.resources().warnings) log(o.json, 'resources:warning', { warning: w }, `warning: ${w}`)
  const printer = o.printResources === undefined ? undefined
    : setInterval(() => { const u = node.resources(); log(o.json, 'resources', { ...u }, resourcesLine(u)) }, o.printResources * 1000)
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      if (printer !== undefined) clearInterval(printer)
      refused.stop()
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      log(o.json, 'stopping', {}, 'stopping...')
      Promise.all([node.stop(), metricsServer?.close()]).then(() => resolve(), resolve)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  return 0
}

/**
 * Refusals are loud but bounded: the first one after a quiet period is printed at once, the ones
 * that follow are counted and printed as one summary line per REFUSAL_SUMMARY_MS (a flood of
 * refused connections must not become a flood of log lines).
 */
const REFUSAL_SUMMARY_MS = 10_000

function refusalLog(print: (counts: Record<string, number>, text: string) => void): { add(kind: string): void; stop(): void } {
  let counts = new Map<string, number>()
  let timer: ReturnType<typeof setTimeout> | undefined
  const flush = (): void => {
    timer = undefined
    if (counts.size === 0) return
    const c = Object.fromEntries(counts)
    counts = new Map()
    print(c, `refused: ${Object.entries(c).map(([k, n]) => `${k} x${n}`).join(', ')}`)
    timer = setTimeout(flush, REFUSAL_SUMMARY_MS)
    timer.unref()
  }
  return {
    add(kind) {
      counts.set(kind, (counts.get(kind) ?? 0) + 1)
      if (timer === undefined) flush()
    },
    stop() {
      if (timer !== undefined) clearTimeout(timer)
    },
  }
}

/** `--limits <file>`: read and validate; a bad file is one line naming the bad field. */
async function readLimits(file: string): Promise<ResourceLimitsInit> {
  const { readFile } = await import('node:fs/promises')
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    throw new UsageLine(`--limits: cannot read ${file}: ${(e as Error).message}`)
  }
  try {
    return parseLimitsJson(text)
  } catch (e) {
    throw new UsageLine(`--limits ${file}: ${(e as Error).message}`)
  }
}

/** One line of `node.resources()` for `--print-resources`. */
export function resourcesLine(u: ResourceUsage): string {
  const scope = (s: ResourceUsage['system']): string =>
    `conns ${s.connsInbound} in/${s.connsOutbound} out, streams ${s.streamsInbound} in/${s.streamsOutbound} out, memory ${(s.memory / 1048576).toFixed(1)} MiB`
  const protocols = Object.entries(u.protocols).map(([p, s]) => `${p} ${s.streamsInbound}/${s.streamsOutbound}`).join(', ')
  const blocked = u.blocked.map((b) => `${b.scope}/${b.resource}/${b.direction} ${b.count}`).join(', ')
  return `resources: system ${scope(u.system)}; transient ${scope(u.transient)}; ${u.peers} peers` +
    `${protocols !== '' ? `; streams in/out ${protocols}` : ''}; blocked ${blocked === '' ? 'none' : blocked}`
}

/** `--metrics <ip:port>`; a UsageLine when it is not one. */
function metricsAddr(text: string): { host: string; port: number } {
  try {
    return parseHostPort(text)
  } catch (e) {
    throw new UsageLine(`--metrics: ${(e as Error).message}`)
  }
}

/** `--relay-via <addr>`: the listen address `<addr>/p2p-circuit` (given with or without it). */
function circuitListenAddr(text: string): string {
  const a = Multiaddr.fromString(text)
  const s = a.toString()
  const base = s.endsWith('/p2p-circuit') ? s.slice(0, -'/p2p-circuit'.length) : s
  if (Multiaddr.fromString(base).getPeerId() === undefined) throw new UsageLine(`--relay-via ${text}: the relay address must end in /p2p/<relay id>`)
  return `${base}/p2p-circuit`
}

interface AddressSummary {
  direct: string[]
  relayed: string[]
  /** One line: `public`, `private (autonat: 0 reachable, 1 unreachable)`, `unknown (...)`. */
  reachability: string
}

/** What AutoNAT reports, when the node runs it (the `autonat` service, src/autonat). */
interface AutoNATView {
  status(): { reachability: string; addrs: Array<{ reachability: string }> }
}

/** The node's direct and relayed addresses and its reachability, for the `weft node` output. */
export function addressSummary(node: WeftNode): AddressSummary {
  const all = node.getMultiaddrs().map(String)
  const relayed = all.filter((a) => a.includes('/p2p-circuit'))
  const direct = all.filter((a) => !a.includes('/p2p-circuit'))
  let autonat: AutoNATView | undefined
  try {
    autonat = node.service<AutoNATView>('autonat')
  } catch {
    autonat = undefined
  }
  let reachability: string
  if (autonat !== undefined) {
    const st = autonat.status()
    const count = (r: string): number => st.addrs.filter((x) => x.reachability === r).length
    reachability = `${st.reachability} (autonat: ${count('reachable')} reachable, ${count('unreachable')} unreachable)`
  } else {
    const external = node.getExternalAddresses().length
    reachability = external > 0 ? `public (${external} confirmed external address${external === 1 ? '' : 'es'})` : 'unknown (no confirmed external address)'
  }
  if (relayed.length > 0) reachability += `; reachable through ${relayed.length} relayed address${relayed.length === 1 ? '' : 'es'}`
  let punch: Dcutr | undefined
  try {
    punch = node.service<Dcutr>('dcutr')
  } catch {
    punch = undefined
  }
  if (punch !== undefined) {
    const st = punch.status()
    reachability += `; hole punching ${st.holePunching}${st.reason !== undefined ? ` (${st.reason})` : ''}`
  }
  return { direct, relayed, reachability }
}

function printAddrs(a: AddressSummary): void {
  for (const x of a.direct) console.log(`  listening on ${x}`)
  for (const x of a.relayed) console.log(`  relayed     ${x}`)
  console.log(`  reachability: ${a.reachability}`)
}

function reservationFields(ev: RelayReservationEvent): Record<string, unknown> {
  const base = { type: ev.type, relay: ev.relay.toString() }
  switch (ev.type) {
    case 'accepted':
    case 'renewed':
      return { ...base, expire: Number(ev.reservation.expire), addrs: ev.reservation.listenAddrs.map(String), limit: ev.reservation.limit === undefined ? null : { duration: ev.reservation.limit.duration ?? null, data: ev.reservation.limit.data === undefined ? null : Number(ev.reservation.limit.data) } }
    case 'lost':
      return { ...base, reason: ev.reason }
    case 'refused':
      return { ...base, status: ev.status, statusName: ev.statusName ?? null }
    case 'failed':
      return { ...base, error: ev.error.message }
  }
}

function reservationText(ev: RelayReservationEvent): string {
  const r = ev.relay.toString()
  switch (ev.type) {
    case 'accepted':
    case 'renewed': {
      const l = ev.reservation.limit
      const limit = l === undefined ? 'no circuit limit' : `circuits limited to ${l.data !== undefined && l.data > 0n ? `${l.data} bytes` : 'any size'} / ${l.duration !== undefined && l.duration > 0 ? `${l.duration} s` : 'any time'}`
      return `relay reservation ${ev.type} on ${r} until ${new Date(Number(ev.reservation.expire) * 1000).toISOString()} (${limit})`
    }
    case 'lost':
      return `relay reservation on ${r} lost (${ev.reason})`
    case 'refused':
      return `relay reservation refused by ${r}: ${ev.statusName ?? ev.status}`
    case 'failed':
      return `relay reservation on ${r} failed: ${ev.error.message}`
  }
}
