/**
 * `weft request` and `weft node --serve-request`: request-response (spec/request-response.md) from
 * the command line.
 *
 *   weft request <multiaddr> <protocol> <json> [--codec json|cbor] [--framing eof|length-prefixed]
 *                [--timeout <duration>] [--json]
 *
 * dials the peer, sends one request (the JSON text parsed; with --codec cbor that value encoded as
 * CBOR; with --framing length-prefixed each message after its uvarint length, as protobuf
 * protocols frame theirs) through `node.request` with the per-call `timeout`, prints the response
 * as JSON text and exits 0. Every failure is one line on stderr naming its
 * typed code (reqresp/timeout, reqresp/unsupported-protocol, reqresp/no-response, a dial error...)
 * and exit code 1; JSON text that does not parse is a usage error.
 *
 *   weft node --serve-request <protocol>=echo|never|<file.json>... [--serve-codec json|cbor]
 *             [--serve-framing eof|length-prefixed]
 *
 * serves `<protocol>`: `echo` answers each request with itself; `<file.json>` (a JSON object, read
 * once at start) is a tiny key-value server: a request `{"key": K}` is answered with the value of K,
 * and an unknown key (or any other request) gets no response (the requester sees
 * reqresp/no-response); `never` never answers, until the exchange times out (for trying timeouts).
 */
import { readFile } from 'node:fs/promises'
import { createNode } from '../create-node.js'
import { Multiaddr } from '../multiaddr/index.js'
import { CborTag, type CborValue } from '../core/cbor.js'
import { toHex } from '../core/bytes.js'
import { cbor, json, lengthPrefixed, noResponse, requestResponse, type Codec, type Framing, type Handler } from '../request-response/index.js'
import { UsageLine } from './args.js'

export type CodecName = 'json' | 'cbor'

export function codecName(flag: string, v: string | undefined): CodecName {
  if (v === undefined || v === 'json') return 'json'
  if (v === 'cbor') return 'cbor'
  throw new UsageLine(`${flag} must be json or cbor (not ${v})`)
}

export function framingName(flag: string, v: string | undefined): Framing {
  if (v === undefined || v === 'eof') return 'eof'
  if (v === 'length-prefixed') return v
  throw new UsageLine(`${flag} must be eof or length-prefixed (not ${v})`)
}

function codecOf(name: CodecName, framing: Framing): Codec<unknown, unknown> {
  const c = name === 'cbor' ? (cbor() as Codec<unknown, unknown>) : json()
  return framing === 'length-prefixed' ? lengthPrefixed(c) : c
}

/** JSON text of a decoded response (a CBOR response may hold bytes, bigints, maps with other keys, tags). */
export function toJsonText(v: unknown): string {
  const conv = (x: unknown): unknown => {
    if (x === undefined) return null
    if (typeof x === 'bigint') return Number.isSafeInteger(Number(x)) ? Number(x) : x.toString()
    if (x instanceof Uint8Array) return `0x${toHex(x)}`
    if (x instanceof CborTag) return { tag: Number(x.tag), value: conv(x.value) }
    if (x instanceof Map) return Object.fromEntries([...x].map(([k, val]) => [typeof k === 'string' ? k : toJsonText(k), conv(val)]))
    if (Array.isArray(x)) return x.map(conv)
    if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, val]) => [k, conv(val)]))
    return x
  }
  return JSON.stringify(conv(v)) ?? 'null'
}

export interface RequestCmdOptions {
  codec: CodecName
  /** Default 'eof' (rust-libp2p's cbor/json codecs). */
  framing?: Framing
  /** The whole exchange, ms (the request's per-call `timeout`); the dial gets the same budget. */
  timeoutMs: number
  json: boolean
}

export async function runRequest(target: string, protocol: string, jsonText: string, o: RequestCmdOptions): Promise<number> {
  let value: unknown
  try {
    value = JSON.parse(jsonText)
  } catch (e) {
    throw new UsageLine(`the request is not JSON text: ${(e as Error).message}`)
  }
  const addr = Multiaddr.fromString(target)
  const framing = o.framing ?? 'eof'
  const node = await createNode({ listen: [], services: { rr: requestResponse({ protocol, codec: codecOf(o.codec, framing) }) } })
  try {
    const t0 = performance.now()
    const conn = await node.dial(addr, { signal: AbortSignal.timeout(o.timeoutMs) })
    const response = await node.request(conn.peer, value as CborValue, { timeout: o.timeoutMs })
    const text = toJsonText(response)
    if (o.json) console.log(JSON.stringify({ peer: conn.peer.toString(), protocol, codec: o.codec, framing, ms: Number((performance.now() - t0).toFixed(3)), response: JSON.parse(text) as unknown }))
    else console.log(text)
    return 0
  } finally {
    await node.stop()
  }
}

/** One `--serve-request <protocol>=<echo|never|file.json>`. */
export interface ServeSpec {
  protocol: string
  mode: 'echo' | 'never' | 'file'
  file?: string
}

export function parseServeSpec(v: string): ServeSpec {
  const eq = v.lastIndexOf('=')
  const protocol = v.slice(0, eq)
  const what = v.slice(eq + 1)
  if (eq <= 0 || !protocol.startsWith('/') || what === '') throw new UsageLine(`--serve-request must be <protocol>=echo|never|<file.json> (not ${v})`)
  if (what === 'echo' || what === 'never') return { protocol, mode: what }
  return { protocol, mode: 'file', file: what }
}

async function kvHandler(file: string): Promise<Handler<unknown, unknown>> {
  let map: unknown
  try {
    map = JSON.parse(await readFile(file, 'utf8'))
  } catch (e) {
    throw new UsageLine(`--serve-request: cannot read ${file} as JSON: ${(e as Error).message}`)
  }
  if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new UsageLine(`--serve-request: ${file} must hold a JSON object (key -> value)`)
  const entries = new Map(Object.entries(map as Record<string, unknown>))
  return (req) => {
    const key = req !== null && typeof req === 'object' && !(req instanceof Map) ? (req as { key?: unknown }).key : undefined
    return typeof key === 'string' && entries.has(key) ? entries.get(key) : noResponse
  }
}

const never: Handler<unknown, unknown> = (_req, { signal }) => new Promise((resolve) => signal.addEventListener('abort', () => resolve(noResponse), { once: true }))

/** The node services for `--serve-request` flags (named `request:<protocol>`). */
export async function requestServices(specs: readonly string[], codec: CodecName, framing: Framing = 'eof'): Promise<Record<string, ReturnType<typeof requestResponse>>> {
  const out: Record<string, ReturnType<typeof requestResponse>> = {}
  for (const s of specs.map(parseServeSpec)) {
    const handler: Handler<unknown, unknown> = s.mode === 'echo' ? (req) => req : s.mode === 'never' ? never : await kvHandler(s.file!)
    out[`request:${s.protocol}`] = requestResponse({ protocol: s.protocol, codec: codecOf(codec, framing), handler })
  }
  return out
}

/** `--serve-request`, `--serve-codec` and `--serve-framing` for runNode, checked before the node starts. */
export function serveFlags(specs: string[] | undefined, codec: string | undefined, framing?: string): { serveRequest?: string[]; serveCodec?: CodecName; serveFraming?: Framing } {
  if (specs === undefined) {
    if (codec !== undefined) throw new UsageLine('--serve-codec needs --serve-request')
    if (framing !== undefined) throw new UsageLine('--serve-framing needs --serve-request')
    return {}
  }
  specs.forEach(parseServeSpec)
  return { serveRequest: specs, serveCodec: codecName('--serve-codec', codec), serveFraming: framingName('--serve-framing', framing) }
}
