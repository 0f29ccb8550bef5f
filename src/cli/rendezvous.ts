/**
 * `weft rendezvous register|discover|unregister` and `weft node --rendezvous-server`: rendezvous
 * (spec/rendezvous.md) from the command line.
 *
 *   weft rendezvous register <point multiaddr> <namespace> --addr <multiaddr>... [--ttl <seconds>]
 *                            [--identity <file>] [--legacy-record] [--json]
 *   weft rendezvous discover <point multiaddr> [<namespace>] [--limit N] [--cookie <hex>] [--json]
 *   weft rendezvous unregister <point multiaddr> <namespace> [--identity <file>] [--json]
 *
 * `register` announces the `--addr` addresses under the identity (default: weft node's, so a
 * running node's registrations can be managed), prints the TTL granted and exits (the registration
 * lives at the point until its TTL; nothing refreshes it). `--legacy-record` signs the record in
 * rust-libp2p's layout, which a rust-libp2p point needs. `discover` prints one line per registration
 * (peer, namespace, TTL, addresses) and then `cookie <hex>` (pass it to --cookie to get only newer
 * ones). `unregister` removes the identity's registration. A point's refusal is one line on stderr
 * naming its code (rendezvous/invalid-namespace, rendezvous/invalid-ttl, ...) and exit code 1.
 */
import { createNode } from '../create-node.js'
import { loadOrCreateKey } from '../io/key-file.js'
import { nodeCrypto } from '../io/crypto-node.js'
import { fromHex, toHex } from '../core/bytes.js'
import { Multiaddr } from '../multiaddr/index.js'
import { rendezvousClient, rendezvousServer, type RendezvousClient } from '../rendezvous/index.js'
import { UsageLine } from './args.js'

export const RENDEZVOUS_USAGE = 'usage: weft rendezvous register|discover|unregister <point multiaddr> <namespace> [--addr <multiaddr>]... [--ttl <seconds>] [--limit N] [--cookie <hex>] [--identity <file>] [--legacy-record] [--json]'

export interface RendezvousCmdOptions {
  identity: string
  addrs: string[]
  ttl?: number
  limit?: number
  cookie?: string
  legacyRecord: boolean
  json: boolean
  /** Milliseconds for the dial and each operation. Default 10 000. */
  timeoutMs?: number
}

/** `weft node --rendezvous-server`: the service serving /rendezvous/1.0.0 with the default limits. */
export function rendezvousServerService(): Record<string, ReturnType<typeof rendezvousServer>> {
  return { 'rendezvous-server': rendezvousServer() }
}

function wholeNumber(flag: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined
  if (!/^\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) throw new UsageLine(`${flag} must be a whole number >= ${min} (not ${v})`)
  return Number(v)
}

/** Checks the flags of one subcommand before any node starts. */
export function rendezvousFlags(sub: string | undefined, flags: { ttl?: string | undefined; limit?: string | undefined; cookie?: string | undefined; addrs: string[] }): { ttl?: number; limit?: number } {
  if (sub !== 'register' && sub !== 'discover' && sub !== 'unregister') throw new UsageLine(RENDEZVOUS_USAGE)
  if (sub !== 'register' && (flags.ttl !== undefined || flags.addrs.length > 0)) throw new UsageLine('--ttl and --addr are for register')
  if (sub !== 'discover' && (flags.limit !== undefined || flags.cookie !== undefined)) throw new UsageLine('--limit and --cookie are for discover')
  if (sub === 'register' && flags.addrs.length === 0) throw new UsageLine('register needs --addr <multiaddr> (the addresses to announce), at least one')
  if (flags.cookie !== undefined && !/^([0-9a-f]{2})*$/i.test(flags.cookie)) throw new UsageLine(`--cookie must be hex (not ${flags.cookie})`)
  for (const a of flags.addrs) Multiaddr.fromString(a)
  const ttl = wholeNumber('--ttl', flags.ttl, 1)
  const limit = wholeNumber('--limit', flags.limit, 0)
  return { ...(ttl === undefined ? {} : { ttl }), ...(limit === undefined ? {} : { limit }) }
}

export async function runRendezvous(sub: 'register' | 'discover' | 'unregister', point: string, namespace: string | undefined, o: RendezvousCmdOptions): Promise<number> {
  const target = Multiaddr.fromString(point)
  if (sub !== 'discover' && namespace === undefined) throw new UsageLine(RENDEZVOUS_USAGE)
  const key = sub === 'discover' ? undefined : (await loadOrCreateKey(o.identity, nodeCrypto)).key
  const node = await createNode({
    listen: [],
    ...(key === undefined ? {} : { privateKey: key }),
    services: { rendezvous: rendezvousClient({ addresses: o.addrs, ...(o.legacyRecord ? { recordFormat: 'rust-legacy' as const } : {}), timeout: o.timeoutMs ?? 10_000 }) },
  })
  try {
    const rz = node.service<RendezvousClient>('rendezvous')
    const signal = AbortSignal.timeout(o.timeoutMs ?? 10_000)
    const conn = await node.dial(target, { signal })
    const out = (obj: Record<string, unknown>, text: string): void => console.log(o.json ? JSON.stringify({ point: conn.peer.toString(), ...obj }) : text)
    if (sub === 'register') {
      const { ttl } = await rz.register(conn.peer, namespace!, { ...(o.ttl === undefined ? {} : { ttl: o.ttl }), signal })
      out({ registered: namespace, peer: node.peerId.toString(), ttl, addrs: o.addrs }, `registered ${node.peerId.toString()} in ${namespace} at ${conn.peer.toString()}, ttl ${ttl} s`)
    } else if (sub === 'unregister') {
      await rz.unregister(conn.peer, namespace!, { signal })
      await node.ping(conn.peer, { signal }) // the UNREGISTER has no answer: a round trip after it on the same connection
      out({ unregistered: namespace, peer: node.peerId.toString() }, `unregistered ${node.peerId.toString()} from ${namespace} at ${conn.peer.toString()}`)
    } else {
      const r = await rz.discover(conn.peer, {
        ...(namespace === undefined ? {} : { namespace }),
        ...(o.limit === undefined ? {} : { limit: o.limit }),
        ...(o.cookie === undefined ? {} : { cookie: fromHex(o.cookie) }),
        signal,
      })
      const cookie = r.cookie === undefined ? undefined : toHex(r.cookie)
      if (o.json) out({ registrations: r.registrations.map((x) => ({ peer: x.peer.toString(), namespace: x.namespace, ttl: x.ttl, addrs: x.addrs.map(String) })), cookie, invalid: r.invalid }, '')
      else {
        for (const x of r.registrations) console.log(`${x.peer.toString()} ${x.namespace} ttl=${x.ttl} ${x.addrs.map(String).join(' ')}`)
        if (cookie !== undefined) console.log(`cookie ${cookie}`)
      }
    }
    return 0
  } finally {
    await node.stop()
  }
}
