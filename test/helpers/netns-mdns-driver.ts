/**
 * The weft processes of test/netns-mdns.test.ts, one per network namespace, bundled by the test with
 * esbuild. One JSON line on stdout per answer; logs on stderr.
 *
 *   node [autoDial] [ttl=<s>] [port=<p>] [ip6] [ipv4only]
 *                              a weft node on /ip4/0.0.0.0/tcp/<p> (default 4001; ip6: /ip6/::) with the mDNS service
 *                              (createNode({ discovery: { mdns } }), the real UDP socket; record TTL <s>)
 *                              -> {event:'started', peer}
 *     wait <n>                 until n other peers were discovered -> {peers: [...], addrs: {...}, stats}
 *     waitpeer <id>            until that peer was discovered -> {ok: true}
 *     expired <id>             until that peer expired (gone) -> {reason: 'ttl' | 'goodbye', ms: since asked}
 *     stop                     stop the node (it sends its goodbye) -> {stopped: true}
 *     stats                    -> {stats}
 *     conns                    -> {peers: the peers we are connected to}
 *     dial                     dial the first peer found -> {ok, error?}
 *     garbage                  send hostile datagrams to 224.0.0.251:5353 -> {sent}
 */
import * as dgram from 'node:dgram'
import { createInterface } from 'node:readline'
import { createNode } from '../../src/node.js'
import type { Mdns, MdnsExpiredEvent } from '../../src/mdns/index.js'

const out = (o: unknown): void => { process.stdout.write(`${JSON.stringify(o)}\n`) }

async function main(args: string[]): Promise<void> {
  const autoDial = args.includes('autoDial')
  const opt = (k: string): number | undefined => {
    const a = args.find((x) => x.startsWith(`${k}=`))
    return a === undefined ? undefined : Number(a.slice(k.length + 1))
  }
  const ttl = opt('ttl')
  const node = await createNode({
    listen: [`/${args.includes('ip6') ? 'ip6/::' : 'ip4/0.0.0.0'}/tcp/${opt('port') ?? 4001}`], services: {},
    discovery: { autoDial: false, mdns: { autoDial, ...(ttl !== undefined ? { ttl } : {}), ...(args.includes('ipv4only') ? { ipv6: false } : {}) } },
  })
  const found = new Map<string, string[]>()
  const expired = new Map<string, MdnsExpiredEvent>()
  const waiters: Array<() => void> = []
  node.on('peer:discovery', ({ peer, addrs, source }) => {
    if (source !== 'mdns') return
    found.set(peer.toString(), addrs.map(String))
    for (const w of waiters.splice(0)) w()
  })
  const m = node.service<Mdns>('mdns')
  m.on('expired', (e) => {
    if (e.gone) expired.set(e.peer.toString(), e)
    for (const w of waiters.splice(0)) w()
  })
  const until = async (f: () => boolean): Promise<void> => {
    while (!f()) await new Promise<void>((r) => waiters.push(r))
  }
  out({ event: 'started', peer: node.peerId.toString() })
  const rl = createInterface({ input: process.stdin })
  for await (const line of rl) {
    const [cmd, arg] = line.trim().split(/\s+/)
    if (cmd === 'wait') {
      const n = Number(arg)
      while (found.size < n) await new Promise<void>((r) => waiters.push(r))
      out({ peers: [...found.keys()], addrs: Object.fromEntries(found), stats: m.stats() })
    } else if (cmd === 'waitpeer') {
      await until(() => found.has(arg!))
      out({ ok: true })
    } else if (cmd === 'expired') {
      const t0 = Date.now()
      await until(() => expired.has(arg!))
      out({ reason: expired.get(arg!)!.reason, ms: Date.now() - t0 })
    } else if (cmd === 'stop') {
      await node.stop()
      out({ stopped: true })
    } else if (cmd === 'stats') out({ stats: m.stats() })
    else if (cmd === 'dial') {
      try {
        await node.dial([...found.keys()][0]!)
        out({ ok: true })
      } catch (e) {
        out({ ok: false, error: String(e) })
      }
    } else if (cmd === 'conns') out({ peers: [...new Set(node.getConnections().map((c) => c.peer.toString()))] })
    else if (cmd === 'garbage') {
      const s = dgram.createSocket({ type: 'udp4', reuseAddr: true })
      const packets = [
        new Uint8Array([1, 2, 3]), // truncated header
        // a response whose answer name is a pointer to itself
        new Uint8Array([0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12]),
        new Uint8Array(600).fill(0xff),
      ]
      let sent = 0
      await new Promise<void>((r) => s.bind(0, () => r()))
      for (const p of packets) await new Promise<void>((r) => s.send(p, 5353, '224.0.0.251', () => { sent++; r() }))
      s.close()
      out({ sent })
    }
  }
}

main(process.argv.slice(3)).catch((e: unknown) => { process.stderr.write(`${String(e)}\n`); process.exit(1) })
