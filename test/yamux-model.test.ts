// Model check: random command sequences on both sides of a yamux pair, checked against a tiny
// reference model (bytes accepted by write() per stream) after every step.
import fc from 'fast-check'
import { expect, test } from 'vitest'
import type { StreamId } from '../src/yamux/index.js'
import { Pair, type Side } from './yamux-pair.js'

type Cmd =
  | { op: 'open'; side: 0 | 1 }
  | { op: 'write'; side: 0 | 1; pick: number; len: number }
  | { op: 'consume'; side: 0 | 1; pick: number; frac: number }
  | { op: 'closeWrite'; side: 0 | 1; pick: number }
  | { op: 'reset'; side: 0 | 1; pick: number }
  | { op: 'ping'; side: 0 | 1 }
  | { op: 'step'; n: number }
  | { op: 'advance'; ms: number }

const side = fc.constantFrom(0 as const, 1 as const)
const pick = fc.nat(3)
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('open' as const), side }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constant('write' as const), side, pick, len: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 50_000, max: 300_000 })) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('consume' as const), side, pick, frac: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('closeWrite' as const), side, pick }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reset' as const), side, pick }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('ping' as const), side }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('step' as const), n: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 50 }) }) },
)

const expected = (from: number, id: StreamId, offset: number): number => (offset * 31 + id * 17 + from * 101) & 0xff

function patternSlice(from: number, id: StreamId, offset: number, n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = expected(from, id, offset + i)
  return out
}

const MAX_WINDOW = 1024 * 1024

const totals: number[] = []

test('model: credits never negative, windows bound memory, no data after FIN, bytes delivered exactly once in order', () => {
  fc.assert(
    fc.property(fc.array(cmd, { minLength: 10, maxLength: 80 }), fc.boolean(), fc.boolean(), (cmds, autoAccept, grow) => {
      const p = new Pair({
        latency: 3,
        client: { maxWindow: MAX_WINDOW, keepAliveInterval: grow ? 40 : undefined, sendQueueLimit: 300_000 },
        server: { maxWindow: MAX_WINDOW, initialWindow: grow ? 512 * 1024 : 256 * 1024 },
      })
      const sides: Side[] = [p.client, p.server]
      // Reference model: bytes accepted by write() per (writer side, stream), FIN sent, reset seen.
      const written = [new Map<StreamId, number>(), new Map<StreamId, number>()]
      const finSent = [new Set<StreamId>(), new Set<StreamId>()]
      const reset = new Set<StreamId>()
      const known = [[] as StreamId[], [] as StreamId[]]
      sides.forEach((s, i) => {
        s.autoConsume = false
        s.autoAccept = autoAccept
        s.onEvent = (ev) => {
          if (ev.type === 'stream-inbound') known[i]!.push(ev.id)
          if (ev.type === 'stream-reset') reset.add(ev.id)
          if (ev.type === 'stream-data') {
            const end = s.count.get(ev.id)!
            const start = end - ev.data.length
            for (let k = 0; k < ev.data.length; k++) if (ev.data[k] !== expected(1 - i, ev.id, start + k)) throw new Error(`corrupt byte on ${ev.id}`)
            if (end > (written[1 - i]!.get(ev.id) ?? 0)) throw new Error(`more delivered than written on ${ev.id}`)
          }
        }
      })
      const live = (i: number, n: number): StreamId | undefined => {
        const ids = known[i]!.filter((id) => !sides[i]!.closedStreams.has(id))
        return ids.length === 0 ? undefined : ids[n % ids.length]
      }
      const check = (): void => {
        for (const [i, s] of sides.entries()) {
          expect(s.error).toBeUndefined()
          for (const id of known[i]!) {
            const st = s.session.streamStats(id)
            if (st === undefined) continue
            expect(st.sendCredit).toBeGreaterThanOrEqual(0)
            expect(st.recvCredit).toBeGreaterThanOrEqual(0)
            expect(st.unconsumed).toBeGreaterThanOrEqual(0)
            expect(st.recvCredit + st.unconsumed).toBeLessThanOrEqual(st.recvWindow)
            expect(st.recvWindow).toBeLessThanOrEqual(MAX_WINDOW)
          }
        }
      }
      for (const c of cmds) {
        if (c.op === 'step') for (let k = 0; k < c.n; k++) p.step()
        else if (c.op === 'advance') p.advance(c.ms)
        else {
          const s = sides[c.side]!
          if (c.op === 'open') {
            const id = s.session.openStream(p.now)
            known[c.side]!.push(id)
          } else if (c.op === 'ping') s.session.ping(p.now)
          else {
            const id = live(c.side, c.pick)
            if (id === undefined) continue
            if (c.op === 'write') {
              if (finSent[c.side]!.has(id)) continue
              const off = written[c.side]!.get(id) ?? 0
              const n = s.session.write(id, patternSlice(c.side, id, off, c.len))
              expect(n).toBeLessThanOrEqual(c.len)
              written[c.side]!.set(id, off + n)
            } else if (c.op === 'consume') {
              s.session.consume(id, Math.floor(s.unconsumed(id) * c.frac), p.now)
            } else if (c.op === 'closeWrite') {
              s.session.closeWrite(id)
              finSent[c.side]!.add(id)
            } else {
              s.session.reset(id)
              reset.add(id)
            }
          }
          p.flush()
        }
        check()
      }
      let total = 0
      // Let everything arrive, then check delivery against the model.
      p.drive()
      check()
      for (const [i, s] of sides.entries()) {
        for (const id of known[i]!) {
          if (reset.has(id)) continue
          expect(s.count.get(id) ?? 0).toBe(written[1 - i]!.get(id) ?? 0)
          expect(s.eof.has(id)).toBe(finSent[1 - i]!.has(id))
          // Both FINs exchanged: the stream is closed and its state freed on both sides.
          const bothClosed = finSent[0]!.has(id) && finSent[1]!.has(id)
          expect(s.closedStreams.has(id)).toBe(bothClosed)
          if (bothClosed) expect(s.session.streamStats(id)).toBeUndefined()
          total += s.count.get(id) ?? 0
        }
      }
      totals.push(total)
    }),
    { numRuns: 150 },
  )
})

test('the model runs move data', () => {
  // Guard against a generator that stopped exercising flow control.
  expect(totals.filter((t) => t > 256 * 1024).length).toBeGreaterThan(totals.length / 8)
})
