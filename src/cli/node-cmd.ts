/** `weft node`, `weft ping`, `weft id`: the CLI commands that run a node. */
import { createNode, gossipsub, kadDht, loadOrCreateKey, nodeCrypto, perf, type WeftNode } from '../node.js'
import { Multiaddr } from '../multiaddr/index.js'
import { errorLine } from './inspect.js'

export interface NodeCmdOptions {
  listen: string[]
  identity: string
  json: boolean
  /** Kademlia bootstrap peers (multiaddrs with /p2p). */
  bootstrap?: string[]
  /** Gossipsub topics to join; arriving messages are printed. */
  topics?: string[]
  /** DHT mode; default 'server'. 'auto' serves while the node has a confirmed external address. */
  dhtMode?: 'server' | 'client' | 'auto'
  /** Confirmed external addresses (node.addExternalAddress). */
  external?: string[]
  /** Serve /perf/1.0.0 (default caps, spec/perf.md); off unless asked (`--perf`). */
  perf?: boolean
}

function log(json: boolean, event: string, fields: Record<string, unknown>, text: string): void {
  if (json) console.log(JSON.stringify({ time: new Date().toISOString(), event, ...fields }))
  else console.log(`${new Date().toISOString().slice(11, 23)} ${text}`)
}

export async function runNode(o: NodeCmdOptions): Promise<number> {
  const { key, created } = await loadOrCreateKey(o.identity, nodeCrypto)
  const { bootstrapPeers } = await import('./dht.js')
  const peers = bootstrapPeers(o.bootstrap ?? [])
  const external = (o.external ?? []).map((a) => Multiaddr.fromString(a))
  const services = {
    dht: kadDht({ mode: o.dhtMode ?? 'server', bootstrapPeers: peers }),
    pubsub: gossipsub(),
    ...(o.perf === true ? { perf: perf() } : {}),
  }
  const node = await createNode({ privateKey: key, listen: o.listen, services })
  node.dht.onModeChange((mode) => log(o.json, 'dht:mode', { mode }, `DHT mode: ${mode}`))
  for (const a of external) node.addExternalAddress(a)
  log(o.json, 'started', { peerId: node.peerId.toString(), identity: o.identity, created, addrs: node.getMultiaddrs().map(String), dhtMode: node.dht.mode, dhtConfiguredMode: node.dht.configuredMode, externalAddrs: node.getExternalAddresses().map(String) },
    `weft node ${node.peerId.toString()} (identity ${created ? 'created' : 'loaded'}: ${o.identity}; DHT ${node.dht.mode}${node.dht.configuredMode === 'auto' ? ' (auto)' : ''})`)
  if (!o.json) for (const a of node.getMultiaddrs()) console.log(`  listening on ${a.toString()}`)
  node.on('connection:open', (c) => log(o.json, 'connection:open', { peer: c.peer.toString(), addr: c.remoteAddr.toString(), direction: c.direction }, `connection ${c.direction} ${c.peer.toString()} via ${c.remoteAddr.toString()}`))
  node.on('connection:close', ({ connection: c, error }) => log(o.json, 'connection:close', { peer: c.peer.toString(), error: error?.message }, `closed ${c.peer.toString()}${error !== undefined ? ` (${error.message})` : ''}`))
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
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      log(o.json, 'stopping', {}, 'stopping...')
      node.stop().then(resolve, resolve)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  return 0
}

async function withClient<T>(fn: (node: WeftNode) => Promise<T>): Promise<T> {
  const node = await createNode({ listen: [] })
  try {
    return await fn(node)
  } finally {
    await node.stop()
  }
}

export async function runPing(target: string, count: number, json: boolean): Promise<number> {
  const addr = Multiaddr.fromString(target)
  return withClient(async (node) => {
    const t0 = performance.now()
    const conn = await node.dial(addr, { signal: AbortSignal.timeout(15_000) })
    const connectMs = performance.now() - t0
    if (!json) console.log(`connected to ${conn.peer.toString()} in ${connectMs.toFixed(2)} ms`)
    let failures = 0
    for (let i = 0; i < count; i++) {
      try {
        const rtt = await node.ping(conn.peer, { signal: AbortSignal.timeout(15_000) })
        if (json) console.log(JSON.stringify({ seq: i, peer: conn.peer.toString(), rttMillis: rtt }))
        else console.log(`pong from ${conn.peer.toString()}: seq=${i} time=${rtt.toFixed(3)} ms`)
      } catch (e) {
        failures++
        console.error(errorLine(e))
      }
    }
    return failures === 0 ? 0 : 1
  })
}

export async function runId(target: string, json: boolean): Promise<number> {
  const addr = Multiaddr.fromString(target)
  return withClient(async (node) => {
    const identified = new Promise<Parameters<Parameters<WeftNode['on']>[1]>[0]>((resolve) => {
      node.on('peer:identify', (d) => resolve(d as never))
    })
    const conn = await node.dial(addr, { signal: AbortSignal.timeout(15_000) })
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('identify/timeout: no identify within 15 s')), 15_000).unref())
    const d = (await Promise.race([identified, timeout])) as { peer: { toString(): string }; info: import('../identify/index.js').IdentifyInfo }
    const info = d.info
    const out = {
      peerId: conn.peer.toString(),
      protocolVersion: info.protocolVersion,
      agentVersion: info.agentVersion,
      publicKeyType: info.publicKey.type,
      listenAddrs: info.listenAddrs.map(String),
      observedAddr: info.observedAddr?.toString(),
      protocols: info.protocols,
      signedPeerRecord: info.signedPeerRecord === undefined ? null : { seq: info.signedPeerRecord.seq.toString(), addrs: info.signedPeerRecord.addrs.map(String) },
    }
    if (json) console.log(JSON.stringify(out))
    else {
      console.log(`peer id          ${out.peerId}`)
      console.log(`agent version    ${out.agentVersion ?? ''}`)
      console.log(`protocol version ${out.protocolVersion ?? ''}`)
      console.log(`public key       ${out.publicKeyType}`)
      console.log(`observed addr    ${out.observedAddr ?? ''}`)
      console.log('listen addrs')
      for (const a of out.listenAddrs) console.log(`  ${a}`)
      console.log('protocols')
      for (const p of out.protocols) console.log(`  ${p}`)
      console.log(`signed record    ${out.signedPeerRecord === null ? 'none' : `seq ${out.signedPeerRecord.seq}, ${out.signedPeerRecord.addrs.length} addrs`}`)
    }
    return 0
  })
}
