// Exact-byte yamux vectors: frame headers, hostile inputs, small stateful exchanges.
import { describe, expect, test } from 'vitest'
import { fromHex, toHex } from '../src/core/bytes.js'
import { ProtocolError } from '../src/core/errors.js'
import { YamuxSession, encodeFrame, readHeader, type YamuxEvent, type YamuxOptions } from '../src/yamux/index.js'
import { vectorFile, type Vector } from './helpers/vectors.js'

const vectors = vectorFile('yamux')

function drainOut(s: YamuxSession): string {
  let hex = ''
  for (let out = s.pollTransmit(65519); out !== undefined; out = s.pollTransmit(65519)) hex += toHex(out)
  return hex
}

function drainEvents(s: YamuxSession): unknown[] {
  const evs: unknown[] = []
  for (let ev = s.pollEvent(); ev !== undefined; ev = s.pollEvent()) {
    evs.push(ev.type === 'stream-data' ? { ...ev, data: toHex(ev.data) } : ev)
  }
  return evs
}

function sessionFor(v: Vector): YamuxSession {
  return new YamuxSession({ ...(v.options as Partial<YamuxOptions>), role: v.role as 'client' | 'server', keepAliveInterval: undefined })
}

describe('frame headers', () => {
  for (const v of vectors.where((v) => v.decoded !== undefined)) {
    test(v.id, () => {
      const d = v.decoded as { version: number; type: number; flags: number; streamId: number; length: number; payload: string }
      const bytes = encodeFrame({ type: d.type, flags: d.flags, streamId: d.streamId, length: d.length }, fromHex(d.payload))
      expect(toHex(bytes)).toBe(v.hex)
      const raw = fromHex(v.hex!)
      expect(readHeader(raw, 0)).toEqual({ version: d.version, type: d.type, flags: d.flags, streamId: d.streamId, length: d.length })
      expect(toHex(raw.subarray(12))).toBe(d.payload)
    })
  }
})

describe('hostile input ends the session with ProtocolError and Go Away', () => {
  for (const v of vectors.where((v) => v.error !== undefined)) {
    for (const chunk of ['whole', 'byte'] as const) {
      test(`${v.id} (${chunk})`, () => {
        const s = sessionFor(v)
        const raw = fromHex(v.hex!)
        let err: unknown
        try {
          if (chunk === 'whole') s.handleData(0, raw)
          else for (let i = 0; i < raw.length; i++) s.handleData(0, raw.subarray(i, i + 1))
        } catch (e) {
          err = e
        }
        expect(err).toBeInstanceOf(ProtocolError)
        expect((err as ProtocolError).code).toBe(v.error)
        // Only the Go Away goes out (anything queued before, such as RSTs, is dropped).
        expect(drainOut(s)).toBe(toHex(encodeFrame({ type: 3, flags: 0, streamId: 0, length: v.goAway as number })))
        const evs = drainEvents(s) as YamuxEvent[]
        const last = evs.at(-1)
        expect(last?.type).toBe('closed')
        expect(last?.type === 'closed' && last.error?.code).toBe(v.error)
        expect(s.isClosed).toBe(true)
        expect(s.streamCount()).toBe(0)
        // Input after the failure is ignored; commands are usage errors.
        s.handleData(1, raw)
        expect(() => s.openStream(1)).toThrow(/yamux\/closed/)
      })
    }
  }
})

describe('stateful exchanges', () => {
  for (const v of vectors.where((v) => v.steps !== undefined)) {
    test(v.id, () => {
      const s = sessionFor(v)
      for (const step of v.steps!) {
        if ('in' in step) s.handleData(0, fromHex(step.in))
        else if ('out' in step) expect(drainOut(s)).toBe(step.out)
        else if ('events' in step) expect(drainEvents(s)).toEqual(step.events)
        else if ('open' in step) expect(s.openStream(0)).toBe(step.open)
        else if ('accept' in step) s.accept(step.accept)
        else if ('reset' in step) Array.isArray(step.reset) ? s.reset(step.reset[0], step.reset[1]) : s.reset(step.reset)
        else if ('closeWrite' in step) s.closeWrite(step.closeWrite)
        else if ('write' in step) expect(s.write(step.write[0], fromHex(step.write[1]))).toBe(step.write[1].length / 2)
        else if ('close' in step) s.close(0, step.close)
        else throw new Error(`unknown step ${JSON.stringify(step)}`)
      }
    })
  }
})
