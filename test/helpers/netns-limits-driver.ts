/**
 * The processes of test/netns-limits.test.ts, one per network namespace, bundled by the test with
 * esbuild (so they run the current src/, not a stale dist/). Each reads commands from stdin, one per
 * line, and answers each with one JSON line on stdout.
 *
 *   server <listen multiaddr>     a weft node with default limits; prints {event:'started', addrs, peerId}
 *     stats <prefix>              -> {count, pending}: inbound connections counted against the prefix
 *   attacker <host> <port> <local address>     raw TCP sockets, never a byte sent
 *     hold <n>                    open n at once, keep them; -> {admitted, refused, bytesOnRefused}
 *     release                     close the held ones; -> {released}
 *     churn <n>                   one at a time: open, wait for the verdict, close; -> {admitted, refused, bytesOnRefused}
 *   honest                        a weft node without listeners
 *     dial <multiaddr>            -> {ok: true, rtt} or {ok: false, error}
 *
 * A socket's verdict: admitted when the node sends its first bytes (the multistream header, sent at
 * once to an admitted connection), refused when it is closed first. No timer decides anything.
 */
import { connect, type Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { createNode, type WeftNode } from '../../src/node.js'
import { Multiaddr } from '../../src/multiaddr/index.js'

const out = (o: unknown): void => { process.stdout.write(`${JSON.stringify(o)}\n`) }

type Verdict = { admitted: boolean; bytes: number; socket: Socket }

function probe(host: string, port: number, localAddress: string): Promise<Verdict> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, localAddress })
    let bytes = 0
    let done = false
    socket.on('data', (d) => {
      bytes += d.length
      if (!done) { done = true; resolve({ admitted: true, bytes, socket }) }
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      if (!done) { done = true; resolve({ admitted: false, bytes, socket }) }
    })
  })
}

async function main(): Promise<void> {
  const [role, ...args] = process.argv.slice(2)
  let node: WeftNode | undefined
  const held: Socket[] = []
  if (role === 'server') {
    node = await createNode({ listen: [args[0]!] })
    out({ event: 'started', addrs: node.getMultiaddrs().map(String), peerId: node.peerId.toString() })
  } else if (role === 'honest') {
    node = await createNode({ listen: [] })
    out({ event: 'started' })
  } else if (role !== 'attacker') throw new Error(`unknown role ${role}`)

  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, arg] = line.trim().split(' ')
    if (cmd === 'stats') {
      const l = node!.swarm.policy.ipLimits!
      out({ count: l.count(arg!), pending: l.stats().pending })
    } else if (cmd === 'hold') {
      const vs = await Promise.all(Array.from({ length: Number(arg) }, () => probe(args[0]!, Number(args[1]), args[2]!)))
      for (const v of vs) if (v.admitted) held.push(v.socket)
      out({ admitted: vs.filter((v) => v.admitted).length, refused: vs.filter((v) => !v.admitted).length, bytesOnRefused: vs.filter((v) => !v.admitted).reduce((n, v) => n + v.bytes, 0) })
    } else if (cmd === 'release') {
      const n = held.length
      for (const s of held.splice(0)) s.destroy()
      out({ released: n })
    } else if (cmd === 'churn') {
      let admitted = 0
      let refused = 0
      let bytesOnRefused = 0
      for (let i = 0; i < Number(arg); i++) {
        const v = await probe(args[0]!, Number(args[1]), args[2]!)
        if (v.admitted) admitted++
        else { refused++; bytesOnRefused += v.bytes }
        v.socket.destroy()
      }
      out({ admitted, refused, bytesOnRefused })
    } else if (cmd === 'dial') {
      try {
        const addr = Multiaddr.fromString(arg!)
        const conn = await node!.dial(addr, { signal: AbortSignal.timeout(5_000) })
        const rtt = await node!.ping(conn.peer, { signal: AbortSignal.timeout(5_000) })
        await node!.hangUp(conn.peer)
        out({ ok: true, rtt })
      } catch (e) {
        out({ ok: false, error: e instanceof Error ? e.message : String(e) })
      }
    } else if (cmd === 'exit') break
  }
  for (const s of held) s.destroy()
  await node?.stop()
  process.exit(0)
}

main().catch((e: unknown) => {
  out({ event: 'crashed', error: e instanceof Error ? e.stack : String(e) })
  process.exit(1)
})
