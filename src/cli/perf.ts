/**
 * `weft perf`: the libp2p test-plans perf contract.
 *
 *   weft perf --run-server --server-address <ip:port>
 *       serves /perf/1.0.0 on TCP <ip:port>, WebSocket <ip:port+1> and QUIC v1 on UDP <ip:port> with a fixed identity
 *       (Ed25519 seed of 32 zero bytes: 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN); never exits.
 *       A benchmark server: its caps are raised explicitly (RUN_SERVER_PERF), since the test-plans
 *       contract transfers gigabytes; a node serves perf only when asked, with 64 MiB caps otherwise.
 *   weft perf --server-address <ip:port> --transport tcp|ws|quic-v1 --upload-bytes N --download-bytes N
 *       prints {"type":"intermediary",...} lines about every second and one {"type":"final",...}
 *       line whose time includes connection setup. The server is expected to have the fixed
 *       identity above (TCP on <port>, WebSocket on <port+1>, QUIC v1 on UDP <port>), as the test-plans contract says.
 *   weft perf --server-address <multiaddr> [--transport tcp|ws|quic-v1] --upload-bytes N --download-bytes N
 *       the same against any perf server: the multiaddr is dialed as written (its own transport;
 *       --transport, if given, must agree with it). With `/p2p/<id>` that peer id is required of
 *       the server; without it, the fixed test-plans identity is.
 *   --security noise|tls|noise,tls (both roles, default noise): the secure channels offered (client, in
 *       order of preference) or accepted (server) on TCP and WebSocket; `tls` is libp2p TLS,
 *       /tls/1.0.0 (spec/tls.md). The go and rust perf CLIs in interop/ take the same flag.
 *   --streams N (client, 1-16, default 1): N concurrent /perf/1.0.0 streams over the one connection,
 *       the byte totals split evenly between them (not in the test-plans contract; the go and rust perf
 *       CLIs in interop/ take the same flag; 16 is `--run-server`'s per-peer stream cap).
 *
 * Both sides are bulk-transfer processes, so they tune V8's collector for it (`bulkTransferGc`):
 * node:crypto's scavenge hint (8 MiB, see `scavengeEvery` in src/io/crypto-node.ts) and a larger
 * old-generation growing factor. Without them a transfer falls into storms of Mark-Compacts that
 * reclaim nothing (bench/README.md, "the cause" and "QUIC: a Mark-Compact storm").
 */
import { setFlagsFromString } from 'node:v8'
import { createNode } from '../create-node.js'
import { nodeCrypto, scavengeEvery } from '../io/crypto-node.js'
import { perf } from '../edge/perf-service.js' // not through weft/node's re-export: keeps perf out of other commands' chunks
import type { PerfOptions } from '../perf/index.js'
import { privateKeyFromSeed } from '../peer-id/index.js'
import { Multiaddr } from '../multiaddr/index.js'
import { parseArgs, UsageLine } from './args.js'
import { tcp } from '../io/tcp.js'
import { webSockets } from '../io/ws.js'
import type { Transport } from '../io/transport.js'

export const PERF_SERVER_SEED = new Uint8Array(32)

/**
 * The caps of `--run-server`: 1 TiB per request each way, 16 streams per peer (bench/throughput.mjs
 * runs 16 concurrent streams over one connection) and 16 in all. Only for a benchmark server that
 * its operator started on purpose; the defaults (spec/perf.md, Limits) are for nodes that opt in.
 */
export const RUN_SERVER_PERF: PerfOptions = { maxUploadBytes: 2 ** 40, maxDownloadBytes: 2 ** 40, maxStreamsPerPeer: 16, maxInboundStreams: 16 }

/**
 * The scavenge hint of both perf roles: a minor GC per 8 MiB of cipher output (src/io/crypto-node.ts).
 * 8 rather than 16 (session 8, 1 GiB each way over TCP, 8 interleaved rounds): 1 stream 861.9 ->
 * 879.0 MB/s, 16 streams 811.1 -> 825.8, Mark-Compacts per process 3 -> 1 and 5-6 -> 3-4; a
 * second A/B of the two hints gave 810.5 -> 865.4 and 793.8 -> 835.9. 4 MiB: fewer Mark-Compacts
 * with 16 streams, 1 stream no faster (848.0 against 888.3 for 8 MiB, 6 rounds).
 */
const PERF_SCAVENGE_BYTES = 8 * 1024 * 1024
/**
 * V8's old-generation growing factor for both perf roles, as `--heap-growing-percent` (the limit
 * after a Mark-Compact is the surviving heap times 1 + p/100). V8 chooses the factor itself, and
 * for a process whose heap is ~8 MB while node:crypto allocates gigabytes of buffers, the limit it
 * sets leaves less room than V8 wants before it starts marking, so marking starts again right after
 * each Mark-Compact: 115-147 per process in a QUIC run of 1 GiB each way, 4-6 over TCP with 16
 * streams. Session 9, 1 GiB each way, 4 interleaved rounds (bench/README.md "QUIC: a Mark-Compact
 * storm"): QUIC 1 stream 356.6 -> 541.3 MB/s and 16 streams 345.1 -> 476.7 with Mark-Compacts
 * 115 -> 3 and 185 -> 19; TCP unchanged within the spread. 200 and 400 left 93 and 15. The cost
 * is a heap allowed to reach 9x its live size (~70 MB here) before a full collection. A
 * `--heap-growing-percent` given to node itself wins.
 */
const PERF_HEAP_GROWING_PERCENT = 800
/** `--streams` range: 16 is `--run-server`'s per-peer cap, so a 17th stream would be refused there. */
const MAX_PERF_STREAMS = 16

export async function runPerf(argv: string[]): Promise<number> {
  const a = parseArgs(argv, { booleans: ['run-server', 'help'], values: ['server-address', 'transport', 'upload-bytes', 'download-bytes', 'streams', 'security', 'max-datagram-size', 'socket-buffer-size'] })
  if (a.flags.has('help')) {
    console.log([
      'usage: weft perf --run-server --server-address <ip:port>',
      '       weft perf --server-address <ip:port> --transport tcp|ws|quic-v1 --upload-bytes N --download-bytes N',
      '       weft perf --server-address <multiaddr>[/p2p/<peer id>] [--transport tcp|ws|quic-v1] --upload-bytes N --download-bytes N',
      '       client option: --streams N   N concurrent perf streams on one connection (1-16, default 1), bytes split evenly',
      '       both roles: --security noise|tls|noise,tls   secure channels on TCP/WebSocket (default noise)',
      '       both roles: --max-datagram-size N   QUIC\'s largest datagram (1200-65527, default 65527: search up to the first hop\'s MTU; 1452: go\'s and rust\'s size)',
      '       both roles: --socket-buffer-size N   QUIC\'s kernel UDP receive/send buffer, bytes (default 4194304, quic()\'s; 0: the OS default)',
    ].join('\n'))
    return 0
  }
  const server = a.flags.get('server-address')?.[0]
  if (server === undefined) throw new UsageLine('--server-address <ip:port> or <multiaddr> is required')
  const key = privateKeyFromSeed(PERF_SERVER_SEED, nodeCrypto)
  const security = { ...securityFlag(a.flags.get('security')), ...(await quicFlags(a.flags.get('max-datagram-size'), a.flags.get('socket-buffer-size'))) }
  const transportFlag = a.flags.get('transport')?.[0]
  if (transportFlag !== undefined && transportFlag !== 'tcp' && transportFlag !== 'ws' && transportFlag !== 'quic-v1') throw new UsageLine('--transport must be tcp, ws or quic-v1')
  if (server.startsWith('/')) {
    if (a.flags.has('run-server')) throw new UsageLine('--run-server takes --server-address <ip:port> (it listens on TCP port, WebSocket port+1 and QUIC v1 on UDP port)')
    return await runClient(a.flags, multiaddrTarget(server, transportFlag, key.publicKey.toPeerId().toString()), security)
  }
  const m = /^(.*):(\d+)$/.exec(server)
  if (m === null) throw new UsageLine('--server-address must be <ip:port> or a multiaddr')
  const ip = m[1]!.replace(/^\[|\]$/g, '')
  const port = Number(m[2])
  const family = ip.includes(':') ? 'ip6' : 'ip4'
  if (a.flags.has('run-server')) {
    bulkTransferGc()
    const node = await createNode({ ...security, privateKey: key, listen: [`/${family}/${ip}/tcp/${port}`, `/${family}/${ip}/tcp/${port + 1}/ws`, `/${family}/${ip}/udp/${port}/quic-v1`], services: { perf: perf(RUN_SERVER_PERF) } })
    for (const addr of node.getMultiaddrs()) console.error(`perf server listening on ${addr.toString()}`)
    await new Promise(() => {})
    return 0
  }
  const transport = transportFlag ?? 'tcp'
  const id = key.publicKey.toPeerId().toString()
  const target = transport === 'tcp' ? `/${family}/${ip}/tcp/${port}/p2p/${id}`
    : transport === 'quic-v1' ? `/${family}/${ip}/udp/${port}/quic-v1/p2p/${id}`
    : `/${family}/${ip}/tcp/${port + 1}/ws/p2p/${id}`
  return await runClient(a.flags, target, security)
}

/** The collector settings of a bulk-transfer process (both perf roles): see PERF_SCAVENGE_BYTES and PERF_HEAP_GROWING_PERCENT. */
function bulkTransferGc(): void {
  scavengeEvery(PERF_SCAVENGE_BYTES)
  if (!heapGrowingGiven(process.execArgv, process.env['NODE_OPTIONS'])) setFlagsFromString(`--heap-growing-percent=${PERF_HEAP_GROWING_PERCENT}`)
}

/** Whether node was started with its own `--heap-growing-percent` (in its arguments or NODE_OPTIONS; V8 takes `-` or `_`). @internal */
export function heapGrowingGiven(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a))
}

/**
 * The dial address for `--server-address <multiaddr>`: dialed as written, with `/p2p/<fixed id>`
 * appended when it names no peer. `--transport` (if given) must agree with the address.
 */
function multiaddrTarget(text: string, transportFlag: string | undefined, fixedId: string): string {
  const addr = Multiaddr.fromString(text) // a mistyped address is a UsageError: 'error: multiaddr/...'
  const dial = addr.toDialTarget()
  if (dial === undefined || (dial.transport !== 'tcp' && dial.transport !== 'ws' && dial.transport !== 'wss' && dial.transport !== 'quic-v1')) {
    throw new UsageLine(`--server-address ${text}: not a TCP, WebSocket or QUIC v1 address weft can dial`)
  }
  const transport = dial.transport === 'tcp' || dial.transport === 'quic-v1' ? dial.transport : 'ws'
  if (transportFlag !== undefined && transportFlag !== transport) throw new UsageLine(`--transport ${transportFlag} disagrees with --server-address ${text} (a ${transport} address)`)
  return addr.getPeerId() !== undefined ? addr.toString() : addr.encapsulate(`/p2p/${fixedId}`).toString()
}

type SecurityOption = { security?: Array<'noise' | 'tls'>, transports?: Transport[] }

/**
 * `--max-datagram-size N`: QUIC's largest datagram (`quic({ connection: { limits: { maxDatagramSize } } })`,
 * default 65527: the path MTU search goes as far as the first hop carries, about 64 KB on loopback;
 * 1452 is what go's and rust's QUIC send; bench/README.md "QUIC throughput"). `--socket-buffer-size N`:
 * `quic({ socketBufferSize })`, the kernel's UDP buffers (64 KB datagrams overflow Linux's ~208 KiB default).
 */
async function quicFlags(size: string[] | undefined, buffer: string[] | undefined): Promise<SecurityOption> {
  if (size === undefined && buffer === undefined) return {}
  const n = Number(size?.[0] ?? 65527)
  if (!Number.isInteger(n) || n < 1200 || n > 65527) throw new UsageLine('--max-datagram-size must be an integer from 1200 to 65527')
  const b = buffer === undefined ? undefined : Number(buffer[0])
  if (b !== undefined && (!Number.isInteger(b) || b < 0 || b > 64 * 1024 * 1024)) throw new UsageLine('--socket-buffer-size must be an integer from 0 to 67108864')
  const { quic } = await import('../edge/quic-transport.js')
  return { transports: [tcp(), quic({ connection: { limits: { maxDatagramSize: n } }, ...(b !== undefined ? { socketBufferSize: b } : {}) }), webSockets()] }
}

/** `--security noise,tls` (repeatable or comma-separated, in order of preference), as weft node's. */
function securityFlag(values: string[] | undefined): SecurityOption {
  if (values === undefined) return {}
  const list = values.flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s !== '')
  for (const s of list) if (s !== 'noise' && s !== 'tls') throw new UsageLine(`--security: unknown protocol "${s}" (noise or tls)`)
  if (list.length === 0 || new Set(list).size !== list.length) throw new UsageLine('--security: noise and/or tls, each once')
  return { security: list as Array<'noise' | 'tls'> }
}

async function runClient(flags: Map<string, string[]>, target: string, security: SecurityOption): Promise<number> {
  const upload = Number(flags.get('upload-bytes')?.[0] ?? '0')
  const download = Number(flags.get('download-bytes')?.[0] ?? '0')
  if (!Number.isSafeInteger(upload) || upload < 0 || !Number.isSafeInteger(download) || download < 0) throw new UsageLine('--upload-bytes and --download-bytes must be non-negative integers')
  const streams = Number(flags.get('streams')?.[0] ?? '1')
  if (!Number.isInteger(streams) || streams < 1 || streams > MAX_PERF_STREAMS) throw new UsageLine(`--streams must be an integer from 1 to ${MAX_PERF_STREAMS}`)
  bulkTransferGc()
  const node = await createNode({ ...security, listen: [], services: { perf: perf() } })
  try {
    if (streams > 1) return await runStreams(node, target, upload, download, streams)
    const t0 = performance.now()
    let last = { t: t0, up: 0, down: 0 }
    const result = await node.perf(target, { uploadBytes: upload, downloadBytes: download }, {
      onProgress: (ev) => {
        if (ev.type !== 'perf-progress') return
        const now = performance.now()
        const up = ev.phase === 'upload' ? ev.bytes : upload
        const down = ev.phase === 'download' ? ev.bytes : 0
        console.log(JSON.stringify({ type: 'intermediary', timeSeconds: (now - last.t) / 1000, uploadBytes: up - last.up, downloadBytes: down - last.down }))
        last = { t: now, up, down }
      },
    })
    const total = (performance.now() - t0) / 1000
    console.log(JSON.stringify({ type: 'final', timeSeconds: total, uploadBytes: result.uploadBytes, downloadBytes: result.downloadBytes }))
    return 0
  } finally {
    await node.stop()
  }
}

/**
 * `--streams N`: one dial, then N perf streams at once, each with its share of the bytes (the first
 * streams take the remainder). No intermediary lines: progress of N streams is not one figure. The
 * final line's time includes the dial, like the single-stream form's.
 */
async function runStreams(node: Awaited<ReturnType<typeof createNode>>, target: string, upload: number, download: number, streams: number): Promise<number> {
  const share = (total: number, i: number): number => Math.floor(total / streams) + (i < total % streams ? 1 : 0)
  const t0 = performance.now()
  await node.dial(target)
  const results = await Promise.all(Array.from({ length: streams }, (_, i) =>
    node.perf(target, { uploadBytes: share(upload, i), downloadBytes: share(download, i) })))
  const total = (performance.now() - t0) / 1000
  const sum = (k: 'uploadBytes' | 'downloadBytes'): number => results.reduce((n, r) => n + r[k], 0)
  console.log(JSON.stringify({ type: 'final', timeSeconds: total, uploadBytes: sum('uploadBytes'), downloadBytes: sum('downloadBytes'), streams, connections: node.getConnections().length }))
  return 0
}
