/**
 * `weft trace <multiaddr> [--protocol P]... [--json] [--keylog F] [--duration ms]` (spec/trace.md):
 * dial a peer with tracing on, wait for identify, exercise each protocol, print every event.
 *
 * - `ping` (the default): one ping;
 * - `kad`: a FIND_NODE of our own id (a DHT client lookup);
 * - `gossipsub`: subscribe to the topic `weft-trace`, wait, unsubscribe;
 * - any other protocol id: open a stream, negotiate, close it.
 * Then the events of `--duration` ms more (default 500) and of the node's stop (yamux GoAway, the
 * connection's close). `--security noise,tls` picks the secure channel over TCP; a
 * `/udp/<port>/quic-v1` address is traced packet by packet (TLS inside QUIC). `--keylog F` appends
 * one line of Noise session keys per Noise connection, or the NSS key log lines of a TLS or QUIC
 * connection, to F, created with mode 0600 (it holds secrets). `--pcap <capture> --keylog F` decrypts a capture
 * instead (src/cli/trace-pcap.ts). Exit 0; a failed dial is one typed error line and exit 1.
 */
import { chmodSync, closeSync, openSync, writeSync } from 'node:fs'
import { createNode } from '../create-node.js'
import type { WeftNode } from '../edge/weft-node.js'
import { Multiaddr } from '../multiaddr/index.js'
import type { ServiceFactory } from '../swarm/index.js'
import type { TraceEvent } from '../trace/index.js'
import { createFormatter } from '../trace/index.js'
import { parseArgs, securityFlag, UsageLine } from './args.js'
import { errorLine } from './error-line.js'

export const TRACE_USAGE = 'usage: weft trace <multiaddr> [--protocol P]... [--json] [--keylog <file>] [--duration <ms>] [--security noise,tls]  |  weft trace --pcap <capture> --keylog <file> [--json]'

/** The gossipsub topic `--protocol gossipsub` subscribes to. */
export const TRACE_TOPIC = 'weft-trace'
/** How long each step may take before the trace goes on without it. */
const STEP_TIMEOUT_MS = 10_000

/** A keylog file: created (or appended to) with mode 0600, one line per connection. */
export function openKeylog(path: string): { write: (line: string) => void; close: () => void } {
  const fd = openSync(path, 'a', 0o600)
  chmodSync(path, 0o600) // an existing file keeps its mode on open: secrets are never group- or world-readable
  return { write: (line) => { writeSync(fd, `${line}\n`) }, close: () => closeSync(fd) }
}

export interface TraceRun {
  target: string
  protocols: string[]
  json: boolean
  keylog?: string | undefined
  durationMs: number
  /** `--security noise,tls`: the secure channels offered over TCP (default noise); QUIC addresses always use TLS inside QUIC. */
  security?: Array<'noise' | 'tls'> | undefined
}

/** Parse `weft trace` arguments (after `trace`). */
export function traceArgs(argv: readonly string[]): TraceRun | 'pcap' {
  const a = parseArgs(argv, { booleans: ['json'], values: ['protocol', 'keylog', 'duration', 'pcap', 'security'] })
  if (a.flags.has('pcap')) return 'pcap'
  const target = a.positional[0]
  if (target === undefined || a.positional.length > 1) throw new UsageLine(TRACE_USAGE)
  const d = a.flags.get('duration')?.[0]
  const durationMs = d === undefined ? 500 : Number(d)
  if (!Number.isFinite(durationMs) || durationMs < 0) throw new UsageLine(`--duration must be a non-negative number of ms (not ${d})`)
  return { target, protocols: a.flags.get('protocol') ?? ['ping'], json: a.flags.has('json'), keylog: a.flags.get('keylog')?.[0], durationMs, ...securityFlag(a.flags.get('security')) }
}

/** Run the command; returns the exit code. `out` gets each printed line (default: stdout). */
export async function runTrace(argv: readonly string[], out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const run = traceArgs(argv)
  if (run === 'pcap') return (await import('./trace-pcap.js')).runTracePcap(argv, out)
  const addr = Multiaddr.fromString(run.target)
  const format = createFormatter({ json: run.json })
  const keylog = run.keylog !== undefined ? openKeylog(run.keylog) : undefined
  const services: Record<string, ServiceFactory> = {}
  if (run.protocols.includes('kad')) services.dht = (await import('../kad/service.js')).kadDht({ mode: 'client' })
  if (run.protocols.includes('gossipsub')) services.pubsub = (await import('../gossipsub/service.js')).gossipsub()
  if (run.target.includes('/p2p-circuit')) services.relayClient = (await import('../relay/index.js')).circuitRelayClient()
  const node = await createNode({
    listen: [], services,
    ...(run.security !== undefined ? { security: run.security } : {}),
    trace: (e: TraceEvent) => out(format(e)),
    ...(keylog !== undefined ? { keylog: keylog.write } : {}),
  })
  try {
    const identified = new Promise<void>((resolve) => node.on('peer:identify', () => resolve()))
    let peer
    try {
      peer = (await node.dial(addr, { signal: AbortSignal.timeout(15_000) })).peer
    } catch (e) {
      console.error(errorLine(e))
      return 1
    }
    await Promise.race([identified, sleep(STEP_TIMEOUT_MS)])
    for (const p of run.protocols) {
      try {
        await exercise(node, peer, p, run.durationMs)
      } catch (e) {
        // the trace shows what happened on the wire; the step's outcome is a note on stderr
        console.error(`${p}: ${errorLine(e)}`)
      }
    }
    await sleep(run.durationMs)
    return 0
  } finally {
    await node.stop()
    keylog?.close()
  }
}

async function exercise(node: WeftNode, peer: Parameters<WeftNode['ping']>[0], protocol: string, waitMs: number): Promise<void> {
  const signal = AbortSignal.timeout(STEP_TIMEOUT_MS)
  switch (protocol) {
    case 'ping':
      await node.ping(peer, { signal })
      return
    case 'kad':
      await node.dht.getClosestPeers(node.peerId.multihash, { signal })
      return
    case 'gossipsub':
      node.pubsub.subscribe(TRACE_TOPIC)
      await sleep(Math.max(waitMs, 1000))
      node.pubsub.unsubscribe(TRACE_TOPIC)
      return
    default: {
      const s = await node.newStream(peer, protocol, { signal })
      await s.close()
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}
