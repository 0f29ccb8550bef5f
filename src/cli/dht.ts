/**
 * `weft dht <get|put|provide|find-providers|find-peer|closest> ... --bootstrap <multiaddr>...`:
 * talk to a Kademlia network from the command line. A short-lived client node (DHT client mode)
 * bootstraps from the given peers, runs one query, prints the result and exits.
 *
 * Keys: `0x<hex>` for raw bytes; a CID or a base58 multihash (provider keys are multihashes);
 * otherwise the UTF-8 text itself (`/pk/...`, `/ipns/...`, or a custom namespace the network accepts).
 */
import { cidMultihash } from './cid.js'
import { BASE58BTC, baseXDecode } from '../core/base.js'
import { fromHex, toHex, utf8 } from '../core/bytes.js'
import { Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'
import type { KadPeerInfo, KadProgress } from '../kad/index.js'
import { createNode } from '../create-node.js'

export class DhtUsage extends Error {}

export const DHT_USAGE = `usage: weft dht get <key> --bootstrap <multiaddr>... [--json] [--progress]
       weft dht put <key> <value> --bootstrap <multiaddr>... [--value-hex] [--json]
       weft dht provide <key> --bootstrap <multiaddr>... [--hold <seconds>]
       weft dht find-providers <key> --bootstrap <multiaddr>... [--json]
       weft dht find-peer <peer id> --bootstrap <multiaddr>... [--json]
       weft dht closest <key> --bootstrap <multiaddr>... [--json]
keys: 0x<hex> | a CID or base58 multihash | UTF-8 text such as /pk/...`

/** Key text -> bytes. `provider`: CIDs and base58 multihashes mean their multihash. */
export function parseKey(text: string, provider: boolean): Uint8Array {
  if (text.startsWith('0x')) return fromHex(text.slice(2))
  if (provider || !text.startsWith('/')) {
    const fromCid = cidMultihash(text)
    if (fromCid !== undefined) return fromCid
    const fromBase58 = baseXDecode(text, BASE58BTC)
    if (fromBase58 !== undefined) return fromBase58
  }
  return utf8(text)
}

export function bootstrapPeers(addrs: string[]): KadPeerInfo[] {
  return addrs.map((a) => {
    const m = Multiaddr.fromString(a)
    const id = m.getPeerId()
    if (id === undefined) throw new DhtUsage(`--bootstrap ${a}: the address needs a /p2p/<peer id>`)
    return { peer: PeerId.parse(id), addrs: [m.withoutPeerId()] }
  })
}

function show(value: Uint8Array): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(value)
  return /^[\x20-\x7e\n\t]*$/.test(text) ? text : `0x${toHex(value)}`
}

function progressLine(p: KadProgress): string {
  switch (p.kind) {
    case 'asked': return `asked ${p.peer.toString()}`
    case 'answered': return `answered ${p.peer.toString()} (${p.closerPeers} closer peers)`
    case 'failed': return `failed ${p.peer.toString()}: ${p.error.message}`
    case 'value': return `value from ${p.peer.toString()}`
    case 'provider': return `provider ${p.provider.peer.toString()}`
    case 'stored': return `stored at ${p.peer.toString()}`
  }
}

export async function runDht(sub: string | undefined, args: string[], flags: Map<string, string[]>): Promise<number> {
  const boot = flags.get('bootstrap') ?? []
  if (sub === undefined || boot.length === 0) throw new DhtUsage(DHT_USAGE)
  const json = flags.has('json')
  const progress = flags.has('progress')
  const peers = bootstrapPeers(boot)
  const node = await createNode({ listen: [], dht: { mode: 'client', bootstrapPeers: peers } })
  const onProgress = progress ? (p: KadProgress): void => console.error(progressLine(p)) : undefined
  const opts = { signal: AbortSignal.timeout(60_000), ...(onProgress !== undefined ? { onProgress } : {}) }
  const peerOut = (p: KadPeerInfo): { peer: string; addrs: string[] } => ({ peer: p.peer.toString(), addrs: p.addrs.map(String) })
  try {
    await node.dht.bootstrap(opts)
    const need = (n: number): string[] => {
      if (args.length < n) throw new DhtUsage(DHT_USAGE)
      return args
    }
    switch (sub) {
      case 'get': {
        const [k] = need(1)
        const value = await node.dht.get(parseKey(k!, false), opts)
        console.log(json ? JSON.stringify({ key: k, value: toHex(value) }) : show(value))
        return 0
      }
      case 'put': {
        const [k, v] = need(2)
        const value = flags.has('value-hex') ? fromHex(v!.replace(/^0x/, '')) : utf8(v!)
        const r = await node.dht.put(parseKey(k!, false), value, opts)
        console.log(json ? JSON.stringify({ key: k, stored: r.stored.map(String), failed: r.failed.map(String) }) : `stored at ${r.stored.length} peers (${r.failed.length} failed)`)
        return r.stored.length > 0 ? 0 : 1
      }
      case 'provide': {
        const [k] = need(1)
        const r = await node.dht.provide(parseKey(k!, true), opts)
        console.log(json ? JSON.stringify({ key: k, provider: node.peerId.toString(), stored: r.stored.map(String) }) : `provider record for ${node.peerId.toString()} stored at ${r.stored.length} peers`)
        // A provider record points at this process: keep serving for a while if asked to.
        const hold = Number(flags.get('hold')?.[0] ?? '0')
        if (hold > 0) await new Promise((r2) => setTimeout(r2, hold * 1000))
        return r.stored.length > 0 ? 0 : 1
      }
      case 'find-providers': {
        const [k] = need(1)
        const list = await node.dht.findProviders(parseKey(k!, true), opts)
        if (json) console.log(JSON.stringify(list.map(peerOut)))
        else for (const p of list) console.log(`${p.peer.toString()} ${p.addrs.map(String).join(' ')}`)
        return list.length > 0 ? 0 : 1
      }
      case 'find-peer': {
        const [id] = need(1)
        const p = await node.dht.findPeer(PeerId.parse(id!), opts)
        console.log(json ? JSON.stringify(peerOut(p)) : `${p.peer.toString()}\n${p.addrs.map((a) => `  ${a.toString()}`).join('\n')}`)
        return 0
      }
      case 'closest': {
        const [k] = need(1)
        const list = await node.dht.getClosestPeers(parseKey(k!, false), opts)
        if (json) console.log(JSON.stringify(list.map(peerOut)))
        else for (const p of list) console.log(p.peer.toString())
        return 0
      }
      default:
        throw new DhtUsage(DHT_USAGE)
    }
  } finally {
    await node.stop()
  }
}
