/**
 * `weft trace --pcap <file> --keylog <file> [--local initiator|responder] [--json]`: decrypt and decode
 * a packet capture of weft connections (TCP with Noise or TLS 1.3, UDP with QUIC v1) with the keylog
 * a weft node wrote (`--keylog`: Noise lines and NSS key log lines), printing the
 * same events as a live `weft trace` (`--local responder`: as the listening node's `weft node
 * --trace` prints them); spec/trace.md "Decrypting a capture". The files are read here; the decoding
 * is src/trace/pcap.ts and src/trace/offline.ts (pure).
 */
import { readFileSync, statSync } from 'node:fs'
import { UsageError } from '../core/errors.js'
import { nodeCrypto } from '../io/crypto-node.js'
import { nodeTlsCrypto } from '../io/crypto-tls-node.js'
import { decodeCapture, parseKeylog } from '../trace/offline.js'
import { isQuicFlow } from '../trace/offline-quic.js'
import { parseTlsKeylog } from '../trace/offline-tls.js'
import { readPcap } from '../trace/pcap.js'
import { createDecoder } from '../trace/decode/index.js'
import { createFormatter } from '../trace/format.js'
import { parseArgs, UsageLine } from './args.js'

/** The largest capture file read (it is read whole). Stops a mistaken path to a huge file from exhausting memory. */
export const MAX_CAPTURE_BYTES = 512 * 1024 * 1024
/** The largest keylog file read. */
export const MAX_KEYLOG_BYTES = 16 * 1024 * 1024

/** The usage line of `weft trace --pcap`. */
export const TRACE_PCAP_USAGE = 'usage: weft trace --pcap <capture.pcap> --keylog <file> [--local initiator|responder] [--json]'

function readBounded(path: string, max: number, what: string): Uint8Array {
  let size: number
  try {
    size = statSync(path).size
  } catch (e) {
    throw new UsageError(`${what}/read`, `cannot read ${path}: ${(e as Error).message}`)
  }
  if (size > max) throw new UsageError(`${what}/too-large`, `${path} has ${size} bytes; at most ${max}`)
  return readFileSync(path)
}

/**
 * Run the command; returns the exit code. `argv`: the arguments after `trace`. `limits` (tests):
 * the file size bounds, default MAX_CAPTURE_BYTES and MAX_KEYLOG_BYTES.
 */
export async function runTracePcap(
  argv: readonly string[],
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  limits: { maxCaptureBytes?: number; maxKeylogBytes?: number } = {},
): Promise<number> {
  const a = parseArgs(argv, { booleans: ['json'], values: ['pcap', 'keylog', 'local'] })
  const pcap = a.flags.get('pcap')?.[0]
  const keylog = a.flags.get('keylog')?.[0]
  if (pcap === undefined || keylog === undefined || a.positional.length > 0) throw new UsageLine(TRACE_PCAP_USAGE)
  const local = a.flags.get('local')?.[0] ?? 'initiator'
  if (local !== 'initiator' && local !== 'responder') throw new UsageLine(`--local is initiator or responder, not ${local}\n${TRACE_PCAP_USAGE}`)
  const keylogText = new TextDecoder().decode(readBounded(keylog, limits.maxKeylogBytes ?? MAX_KEYLOG_BYTES, 'keylog'))
  const keys = parseKeylog(keylogText)
  const tlsKeys = parseTlsKeylog(keylogText)
  const capture = readPcap(readBounded(pcap, limits.maxCaptureBytes ?? MAX_CAPTURE_BYTES, 'pcap'))
  const events = decodeCapture(capture.connections, { crypto: nodeCrypto, tlsCrypto: nodeTlsCrypto, keys, tlsKeys, decoders: createDecoder, local }, capture.udp)
  const json = a.flags.has('json')
  const format = createFormatter({ json })
  for (const e of events) out(format(e))
  if (!json) process.stderr.write(`${capture.connections.length} TCP connection(s), ${capture.udp.filter(isQuicFlow).length} QUIC connection(s), ${capture.records} packets (${capture.skipped} skipped: not TCP or UDP over IP, or past maxConnections), ${keys.size} Noise and ${tlsKeys.size} TLS keylog connection(s)\n`)
  return 0
}
