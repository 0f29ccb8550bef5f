/**
 * The two printed forms of a trace (spec/trace.md "Formats"):
 * - text, for reading: one line per event, `+12.345ms c1 in  yamux       data SYN stream=1 len=30`
 *   (time since the first event, connection, direction, layer, what);
 * - JSON, for tools: one object per line, the `TraceEvent` itself, byte arrays as lowercase hex and
 *   bigints as decimal strings.
 */
import { toHex } from '../core/bytes.js'
import type { TraceEvent } from '../core/trace.js'

/**
 * Options of `formatEvent` and `createFormatter`: one JSON object per event, or a text line whose time is relative to `since` (absent: UTC time of day).
 */
export interface FormatOptions {
  /** One JSON object instead of a text line. */
  json?: boolean | undefined
  /** Text: print times relative to this one (ms since the epoch) as `+12.345ms`; absent: UTC time of day. */
  since?: number | undefined
}

/** Longest text rendering of a message's fields; the JSON form is never cut. */
const MAX_FIELDS_TEXT = 400

/** JSON.stringify replacer: bytes as hex, bigints as strings, Maps and Sets as arrays. */
export function traceJsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return toHex(value)
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Map) return Object.fromEntries(value)
  if (value instanceof Set) return [...value]
  return value
}

/** One event, as a text line or a JSON object (no trailing newline). */
export function formatEvent(e: TraceEvent, o: FormatOptions = {}): string {
  if (o.json === true) return JSON.stringify(e, traceJsonReplacer)
  const time = o.since !== undefined ? `+${(e.t - o.since).toFixed(3)}ms` : timeOfDay(e.t)
  const dir = 'dir' in e ? e.dir : '-'
  const [layer, what] = describe(e)
  return `${time} ${e.conn} ${dir.padEnd(3)} ${layer.padEnd(11)} ${what}`
}

/** A formatter whose text times count from the first event it prints. */
export function createFormatter(o: { json?: boolean | undefined } = {}): (e: TraceEvent) => string {
  let since: number | undefined
  return (e) => {
    since ??= e.t
    return formatEvent(e, { json: o.json, since })
  }
}

/** UTC hh:mm:ss.mmm of a time in ms since the epoch (the capture decryptor's absolute times). */
function timeOfDay(t: number): string {
  const ms = Math.floor(((t % 86_400_000) + 86_400_000) % 86_400_000)
  const p = (n: number, w = 2): string => String(n).padStart(w, '0')
  return `${p(Math.floor(ms / 3_600_000))}:${p(Math.floor(ms / 60_000) % 60)}:${p(Math.floor(ms / 1000) % 60)}.${p(ms % 1000, 3)}`
}

/** A frame as `type(k=v,...)`; ACK ranges as `lo-hi`. */
function frameText(f: { type: string } & Record<string, unknown>): string {
  const parts: string[] = []
  for (const [k, v] of Object.entries(f)) {
    if (k === 'type') continue
    if (k === 'ranges' && Array.isArray(v)) parts.push(`ranges=${(v as number[][]).map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(',')}`)
    else parts.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
  }
  return parts.length === 0 ? f.type : `${f.type}(${parts.join(',')})`
}

function describe(e: TraceEvent): [string, string] {
  switch (e.kind) {
    case 'transport':
      return ['transport', `${e.bytes} bytes`]
    case 'multistream':
      return ['multistream', `${e.stream !== undefined ? `stream=${e.stream} ` : ''}${JSON.stringify(e.line)}`]
    case 'noise-handshake': {
      let s = `handshake message ${e.message}/3 ${e.bytes} bytes`
      if (e.ephemeral !== '') s += ` e=${e.ephemeral}`
      const p = e.payload
      if (p !== undefined) s += ` identity=${p.identityKey} (${p.keyType}) sig=${p.signature.slice(0, 16)}…(${p.signature.length / 2} bytes) muxers=[${p.muxers.join(',')}]`
      return ['noise', s]
    }
    case 'yamux-frame': {
      const what = e.type === 'data' ? 'len' : e.type === 'window-update' ? 'delta' : e.type === 'ping' ? 'opaque' : 'code'
      return ['yamux', `${e.type}${e.flags.length > 0 ? ` ${e.flags.join('|')}` : ''} stream=${e.stream} ${what}=${e.length}`]
    }
    case 'tls-handshake': {
      let fields = JSON.stringify(e.fields, traceJsonReplacer) ?? '{}'
      if (fields.length > MAX_FIELDS_TEXT) fields = `${fields.slice(0, MAX_FIELDS_TEXT)}…`
      return ['tls', `${e.level} ${e.type} ${e.bytes} bytes ${fields}`]
    }
    case 'quic-packet': {
      let s = `${e.packet}${e.pn !== undefined ? ` pn=${e.pn}` : ''}${e.keyPhase === 1 ? ' kp=1' : ''} ${e.bytes} bytes dcid=${e.dcid}${e.scid !== undefined ? ` scid=${e.scid}` : ''}`
      if (e.undecryptable !== undefined) s += ` (${e.undecryptable})`
      const frames = e.frames.map(frameText).join(' ')
      if (frames !== '') s += ` ${frames.length > MAX_FIELDS_TEXT ? `${frames.slice(0, MAX_FIELDS_TEXT)}…` : frames}`
      return ['quic', s]
    }
    case 'message': {
      let fields = JSON.stringify(e.fields, traceJsonReplacer) ?? '{}'
      if (fields.length > MAX_FIELDS_TEXT) fields = `${fields.slice(0, MAX_FIELDS_TEXT)}…`
      return [e.protocol, `stream=${e.stream} ${e.name} ${fields}`]
    }
    case 'state': {
      let s = `${e.stream !== undefined ? `stream=${e.stream} ` : ''}${e.from !== undefined ? `${e.from} -> ` : ''}${e.to}`
      if (e.protocol !== undefined) s += ` ${e.protocol}`
      if (e.early === true) s += ' (early, from the Noise extensions)'
      if (e.reason !== undefined) s += ` (${e.reason})`
      return [e.layer, s]
    }
  }
}
