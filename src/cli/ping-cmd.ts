/**
 * `weft ping`, `weft id`: a node that dials one peer. It runs no optional service (no DHT, gossipsub,
 * AutoNAT, DCUtR; the relay client only for a `/p2p-circuit` target), so a fresh process imports and
 * starts only what the dial and the ping or identify need (bench/README.md "Start-up").
 */
import { createNode } from '../create-node.js'
import type { WeftNode } from '../edge/weft-node.js'
import { Multiaddr } from '../multiaddr/index.js'
import type { ServiceFactory } from '../swarm/index.js'
import { errorLine } from './error-line.js'

async function withClient<T>(addr: Multiaddr, fn: (node: WeftNode) => Promise<T>, security?: Array<'noise' | 'tls'>): Promise<T> {
  // a relayed target needs the Circuit Relay v2 client to dial it; nothing else does
  const services: Record<string, ServiceFactory> = addr.toString().includes('/p2p-circuit') ? { relayClient: (await import('../relay/index.js')).circuitRelayClient() } : {}
  const node = await createNode({ listen: [], services, ...(security !== undefined ? { security } : {}) })
  try {
    return await fn(node)
  } finally {
    await node.stop()
  }
}

export async function runPing(target: string, count: number, json: boolean, security?: Array<'noise' | 'tls'>): Promise<number> {
  const addr = Multiaddr.fromString(target)
  return withClient(addr, async (node) => {
    const t0 = performance.now()
    const conn = await node.dial(addr, { signal: AbortSignal.timeout(15_000) })
    const connectMs = performance.now() - t0
    if (!json) console.log(`connected to ${conn.peer.toString()} in ${connectMs.toFixed(2)} ms${conn.limited ? ` (relayed: ${conn.remoteAddr.toString()})` : ''}`)
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
  }, security)
}

export async function runId(target: string, json: boolean): Promise<number> {
  const addr = Multiaddr.fromString(target)
  return withClient(addr, async (node) => {
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
