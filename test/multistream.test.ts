// multistream-select 1.0: exact-byte vectors (spec/vectors/multistream.json), replayed whole,
// byte by byte and in seeded random chunks.
import { describe, expect, test } from 'vitest'
import { ReadBuffer } from '../src/core/read-buffer.js'
import { fromHex, toHex } from '../src/core/bytes.js'
import {
  MultistreamDialer, MultistreamListener, decodeLsBody, encodeLsBody, encodeMessage,
} from '../src/multistream/index.js'
import type { DialerOptions, ListenerOptions, MultistreamEvent } from '../src/multistream/index.js'
import { decodeLine, readMessage } from '../src/multistream/wire.js'
import { vectorFile } from './helpers/vectors.js'
import type { Vector } from './helpers/vectors.js'
import { byteByByte, randomChunks, whole } from './multistream-pair.js'
import type { Chunker } from './multistream-pair.js'
import { codeOf } from './helpers/errors.js'

const vectors = vectorFile('multistream')

/** Read one message (line or ls response) from `hex` delivered in `chunks`. */
function readAs(kind: 'line' | 'ls', chunks: Uint8Array[]): string | string[] | undefined {
  const buf = new ReadBuffer()
  for (const c of chunks) {
    buf.push(c)
    const body = readMessage(buf, 1024)
    if (body !== undefined) {
      expect(buf.length).toBe(0)
      return kind === 'line' ? decodeLine(body) : decodeLsBody(body)
    }
  }
  return undefined
}

const CHUNKERS: Array<[string, () => Chunker]> = [
  ['whole', () => whole],
  ['byte-by-byte', () => byteByByte],
  ['random seed 1', () => randomChunks(1)],
  ['random seed 2', () => randomChunks(2, 3)],
]

describe('single messages', () => {
  for (const v of vectors.where((x) => 'decoded' in x)) {
    test(v.id, () => {
      const bytes = fromHex(v.hex!)
      const d = v.decoded as { kind: 'line'; line: string } | { kind: 'ls'; protocols: string[] }
      if (d.kind === 'line') expect(toHex(encodeMessage(d.line))).toBe(v.hex)
      else expect(toHex(encodeMessage(encodeLsBody(d.protocols)))).toBe(v.hex)
      const expected = d.kind === 'line' ? d.line : d.protocols
      for (const [, make] of CHUNKERS) expect(readAs(d.kind, make()(bytes))).toEqual(expected)
      // One byte short is "need more", never an error.
      expect(readAs(d.kind, [bytes.subarray(0, bytes.length - 1)])).toBeUndefined()
    })
  }

  for (const v of vectors.where((x) => 'error' in x)) {
    test(`${v.id} -> ${v.error}`, () => {
      const bytes = fromHex(v.hex!)
      const kind = v.kind as 'line' | 'ls'
      for (const [, make] of CHUNKERS) expect(codeOf(() => readAs(kind, make()(bytes)))).toBe(v.error)
      if (kind === 'line') {
        // The same bytes as the first message a listener or dialer reads give the same error.
        const listener = new MultistreamListener({ protocols: ['/a'] })
        expect(codeOf(() => listener.handleData(0, bytes))).toBe(v.error)
        const dialer = new MultistreamDialer({ protocols: ['/a'] })
        expect(codeOf(() => dialer.handleData(0, bytes))).toBe(v.error)
      }
    })
  }
})

function listenerOptions(o: Record<string, unknown>): ListenerOptions {
  const out: ListenerOptions = { protocols: [] }
  if (typeof o.protocolsPrefix === 'string') {
    const prefix = o.protocolsPrefix
    out.protocols = (p) => p.startsWith(prefix)
  } else out.protocols = o.protocols as string[]
  if (Array.isArray(o.list)) {
    const list = o.list as string[]
    out.list = () => list
  }
  if (typeof o.maxProposals === 'number') out.maxProposals = o.maxProposals
  if (typeof o.maxMessageLength === 'number') out.maxMessageLength = o.maxMessageLength
  return out
}

type JsonEvent = { type: 'data'; hex: string } | Exclude<MultistreamEvent, { type: 'data' }>

/** Poll every event; consecutive data events are merged (their split depends on chunking). */
function pollAll(core: MultistreamDialer | MultistreamListener): JsonEvent[] {
  const out: JsonEvent[] = []
  for (let e = core.pollEvent(); e !== undefined; e = core.pollEvent()) {
    const last = out[out.length - 1]
    if (e.type === 'data' && last?.type === 'data') last.hex += toHex(e.data)
    else out.push(e.type === 'data' ? { type: 'data', hex: toHex(e.data) } : e)
  }
  return out
}

function replay(v: Vector, chunker: Chunker, transmitMax: number): void {
  const core = v.role === 'dialer'
    ? new MultistreamDialer(v.options as DialerOptions)
    : new MultistreamListener(listenerOptions(v.options as Record<string, unknown>))
  const steps = v.steps as Array<Record<string, any>>
  let pending: JsonEvent[] = []
  for (const [i, step] of steps.entries()) {
    const where = `${v.id} step ${i}`
    if (step.dir === 'out') {
      let hex = ''
      for (let b = core.pollTransmit(transmitMax); b !== undefined; b = core.pollTransmit(transmitMax)) hex += toHex(b)
      expect(hex, where).toBe(step.hex)
    } else if (step.dir === 'in' || step.dir === 'eof') {
      const inputs = step.dir === 'in' ? chunker(fromHex(step.hex)) : [undefined]
      let code = 'no error'
      for (const c of inputs) {
        code = codeOf(() => (c === undefined ? core.handleEof(0) : core.handleData(0, c)))
        if (code !== 'no error') break
        // Events may surface before the last chunk; collect them as they come.
        pending = mergeData([...pending, ...pollAll(core)])
      }
      expect(code, where).toBe(step.error ?? 'no error')
      if (step.error !== undefined) {
        expect(i, `${where}: an error ends the vector`).toBe(steps.length - 1)
        expect(core.wantsData()).toBe(false)
      }
    } else if ('events' in step) {
      expect(mergeData([...pending, ...pollAll(core)]), where).toEqual(step.events)
      pending = []
    } else if (step.call === 'write') {
      ;(core as MultistreamDialer).write(fromHex(step.hex))
    } else if (step.call === 'ls') {
      ;(core as MultistreamDialer).ls()
    } else if (step.call === 'takeRemainder') {
      expect(mergeData(pending), where).toEqual([])
      expect(toHex(core.takeRemainder()), where).toBe(step.hex)
    } else {
      throw new Error(`${where}: unknown step ${JSON.stringify(step)}`)
    }
  }
  expect(mergeData([...pending, ...pollAll(core)]), `${v.id}: events left over`).toEqual([])
}

function mergeData(events: JsonEvent[]): JsonEvent[] {
  const out: JsonEvent[] = []
  for (const e of events) {
    const last = out[out.length - 1]
    if (e.type === 'data' && last?.type === 'data') out[out.length - 1] = { type: 'data', hex: last.hex + e.hex }
    else out.push(e)
  }
  return out
}

describe('stateful vectors', () => {
  for (const v of vectors.where((x) => 'steps' in x)) {
    for (const [name, make] of CHUNKERS) {
      test(`${v.id} (${name})`, () => replay(v, make(), name === 'whole' ? 65536 : 5))
    }
  }

  test('the lazy flight is one write: header + proposal + first data', () => {
    const v = vectors.get('dialer-lazy')
    const dialer = new MultistreamDialer(v.options as DialerOptions)
    const write = (v.steps as Array<Record<string, string>>).find((s) => s.call === 'write')!
    dialer.write(fromHex(write.hex!))
    const flight = dialer.pollTransmit(65536)!
    expect(toHex(flight)).toBe((v.steps as Array<Record<string, string>>).find((s) => s.dir === 'out')!.hex)
    expect(dialer.pollTransmit(65536)).toBeUndefined()
  })
})
