/** Shared by test/trace-decode*.test.ts: run a decoder over bytes cut in every way. */
import { expect } from 'vitest'
import type { DecodedMessage, Direction } from '../src/core/trace.js'
import { createDecoder, createDecoderFactory, type DecoderHint, type DecoderOptions, type ProtocolDecoder } from '../src/trace/decode/index.js'

export interface Run {
  protocol: string
  dir?: Direction
  hint?: DecoderHint
  options?: DecoderOptions
  /** Call end() after the last chunk. */
  end?: boolean
}

export function decoder(r: Run): ProtocolDecoder {
  const make = r.options === undefined ? createDecoder : createDecoderFactory(r.options)
  const d = make(r.protocol, r.dir ?? 'in', r.hint)
  if (d === undefined) throw new Error(`no decoder for ${r.protocol}`)
  return d
}

/** Every message `chunks` decode to, JSON round-tripped (what --json prints must survive it). */
export function decode(r: Run, chunks: Uint8Array[]): DecodedMessage[] {
  const d = decoder(r)
  const out: DecodedMessage[] = []
  for (const c of chunks) out.push(...d.push(c))
  if (r.end === true) out.push(...d.end())
  const json = JSON.parse(JSON.stringify(out)) as DecodedMessage[]
  expect(json).toEqual(out)
  return out
}

/** Consecutive `data` messages (one per push: they follow the cuts) merged into one. */
export function merged(ms: DecodedMessage[]): DecodedMessage[] {
  const out: DecodedMessage[] = []
  for (const m of ms) {
    const last = out.at(-1)
    if (m.name === 'data' && last?.name === 'data') {
      out[out.length - 1] = { name: 'data', fields: { bytes: (last.fields.bytes as number) + (m.fields.bytes as number), total: m.fields.total } }
    } else out.push(m)
  }
  return out
}

/**
 * The messages of `bytes` pushed whole; asserts the same come out when the bytes are cut at every
 * byte boundary (two pieces) and pushed one byte at a time (byte counts merged).
 */
export function everySplit(r: Run, bytes: Uint8Array): DecodedMessage[] {
  const whole = decode(r, [bytes])
  for (let i = 1; i < bytes.length; i++) {
    expect(merged(decode(r, [bytes.subarray(0, i), bytes.subarray(i)])), `cut at ${i}`).toEqual(merged(whole))
  }
  expect(merged(decode(r, Array.from(bytes, (b) => Uint8Array.of(b)))), 'byte by byte').toEqual(merged(whole))
  return whole
}

/** `bytes` cut at the given offsets (sorted, deduplicated, inside the buffer). */
export function cut(bytes: Uint8Array, at: number[]): Uint8Array[] {
  const points = [...new Set(at.map((x) => x % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let from = 0
  for (const p of points) {
    out.push(bytes.subarray(from, p))
    from = p
  }
  out.push(bytes.subarray(from))
  return out
}

export const names = (ms: DecodedMessage[]): string[] => ms.map((m) => m.name)
