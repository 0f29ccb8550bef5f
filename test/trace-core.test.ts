/**
 * weft trace, the core seams and the tracer (spec/trace.md): two connection cores in memory with
 * tracing on. Every layer appears, in the order the specs put them; tracing changes nothing.
 */
import { describe, expect, test } from 'vitest'
import { CipherState } from '../src/noise/index.js'
import { fromHex, toHex } from '../src/core/bytes.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { formatEvent, createFormatter, keylogLine, KEYLOG_LABEL, type TraceEvent } from '../src/trace/index.js'
import { TracedPair, PING, keyA, keyB } from './trace-pair.js'

type Of<K extends TraceEvent['kind']> = Extract<TraceEvent, { kind: K }>
const of = <K extends TraceEvent['kind']>(events: TraceEvent[], kind: K): Array<Of<K>> => events.filter((e): e is Of<K> => e.kind === kind)

function tracedEcho(): TracedPair {
  const p = new TracedPair()
  p.echo(PING, new Uint8Array(32).fill(7))
  p.a.close(p.now)
  p.drive()
  return p
}

describe('every layer, in order', () => {
  const p = tracedEcho()
  const ev = p.traceA
  const idx = (f: (e: TraceEvent) => boolean): number => ev.findIndex(f)

  test('connection-level multistream lines, then Noise messages 1..3, then yamux frames', () => {
    const lines = of(ev, 'multistream').filter((e) => e.stream === undefined).map((e) => `${e.dir} ${e.line}`)
    expect(lines).toEqual(['out /multistream/1.0.0', 'out /noise', 'in /multistream/1.0.0', 'in /noise'])
    const hs = of(ev, 'noise-handshake')
    expect(hs.map((e) => `${e.dir} ${e.message}`)).toEqual(['out 1', 'in 2', 'out 3'])
    const proposal = idx((e) => e.kind === 'multistream' && e.line === '/noise')
    const m = [1, 2, 3].map((n) => idx((e) => e.kind === 'noise-handshake' && e.message === n))
    const firstFrame = idx((e) => e.kind === 'yamux-frame')
    expect(proposal).toBeLessThan(m[0]!)
    expect(m[0]).toBeLessThan(m[1]!)
    expect(m[1]).toBeLessThan(m[2]!)
    expect(m[2]).toBeLessThan(firstFrame)
  })

  test('Noise payloads decoded: identity key -> peer id, key type, signature, muxer list; ephemeral keys in hex', () => {
    const [m1, m2, m3] = of(ev, 'noise-handshake')
    expect(m1!.ephemeral).toMatch(/^[0-9a-f]{64}$/)
    expect(m1!.payload).toBeUndefined()
    expect(m2!.ephemeral).toMatch(/^[0-9a-f]{64}$/)
    expect(m2!.payload).toEqual({ identityKey: keyB.publicKey.toPeerId().toString(), keyType: 'Ed25519', signature: expect.stringMatching(/^[0-9a-f]{128}$/), muxers: ['/yamux/1.0.0'] })
    expect(m3!.ephemeral).toBe('')
    expect(m3!.payload?.identityKey).toBe(keyA.publicKey.toPeerId().toString())
    // the listener's trace shows the same handshake from its side
    const hsB = of(p.traceB, 'noise-handshake')
    expect(hsB.map((e) => `${e.dir} ${e.message}`)).toEqual(['in 1', 'out 2', 'in 3'])
    expect(hsB[0]!.ephemeral).toBe(m1!.ephemeral)
    expect(hsB[1]!.payload).toEqual(m2!.payload)
  })

  test('state changes named by the specs, in order', () => {
    const st = of(ev, 'state').filter((e) => e.stream === undefined).map((e) => `${e.layer}:${e.to}`)
    expect(st).toEqual([
      'connection:upgrading', 'upgrade:security', 'upgrade:handshake', 'noise:transport', 'upgrade:muxer', 'upgrade:done',
      'connection:open', 'yamux:go-away', 'connection:closed',
    ])
    expect(of(ev, 'state').find((e) => e.layer === 'upgrade' && e.to === 'muxer')).toMatchObject({ protocol: '/yamux/1.0.0', early: true })
    expect(of(ev, 'state').find((e) => e.layer === 'connection' && e.to === 'open')!.reason).toBe(keyB.publicKey.toPeerId().toString())
  })

  test('yamux frames after decryption: type, flags, stream id, length', () => {
    const frames = of(ev, 'yamux-frame')
    expect(frames[0]).toMatchObject({ dir: 'out', stream: 1, flags: ['SYN'] })
    expect(frames.some((f) => f.dir === 'in' && f.stream === 1 && f.flags.includes('ACK'))).toBe(true)
    expect(frames.some((f) => f.dir === 'out' && f.type === 'data' && f.stream === 1 && f.length === 32)).toBe(true)
    expect(frames.some((f) => f.dir === 'out' && f.type === 'window-update' && f.flags.includes('FIN'))).toBe(true)
    expect(frames.at(-1)).toMatchObject({ dir: 'out', type: 'go-away', stream: 0, length: 0 })
  })

  test('a stream: its own multistream lines, its states, decoded messages both ways', () => {
    const lines = of(ev, 'multistream').filter((e) => e.stream === 1).map((e) => `${e.dir} ${e.line}`)
    expect(lines).toEqual(['out /multistream/1.0.0', `out ${PING}`, 'in /multistream/1.0.0', `in ${PING}`])
    const st = of(ev, 'state').filter((e) => e.stream === 1).map((e) => e.to)
    expect(st).toEqual(['negotiating', 'negotiated', 'local-closed', 'remote-closed', 'closed'])
    const msgs = of(ev, 'message')
    expect(msgs.map((m) => `${m.dir} ${m.protocol} ${m.name} ${m.stream}`)).toEqual([`out ${PING} ping 1`, `in ${PING} ping 1`])
    expect(ev.some((e) => (e.kind as string) === 'stream-data')).toBe(false) // tracer-internal: never printed
  })

  test('transport byte counts add up to the bytes on the wire; every event has a time and the connection id', () => {
    const sum = (d: 'in' | 'out'): number => of(ev, 'transport').filter((e) => e.dir === d).reduce((n, e) => n + e.bytes, 0)
    expect(sum('out')).toBe(p.wireAtoB.reduce((n, b) => n + b.length, 0))
    expect(sum('in')).toBe(p.wireBtoA.reduce((n, b) => n + b.length, 0))
    expect(ev.every((e) => e.conn === 'c1' && typeof e.t === 'number')).toBe(true)
    for (let i = 1; i < ev.length; i++) expect(ev[i]!.t).toBeGreaterThanOrEqual(ev[i - 1]!.t)
  })

  test('JSON form: one parseable object per event, bytes as hex; text form: one line per event', () => {
    for (const e of ev) {
      const j = formatEvent(e, { json: true })
      expect(j).not.toContain('\n')
      expect(JSON.parse(j)).toMatchObject({ kind: e.kind, conn: 'c1', t: e.t })
    }
    const m2 = JSON.parse(formatEvent(of(ev, 'noise-handshake')[1]!, { json: true }))
    expect(m2.payload.muxers).toEqual(['/yamux/1.0.0'])
    expect(JSON.parse(formatEvent({ t: 1, conn: 'c9', kind: 'message', dir: 'in', stream: 3, protocol: 'x', name: 'm', fields: { data: Uint8Array.of(1, 255), n: 5n } }, { json: true })).fields)
      .toEqual({ data: '01ff', n: '5' })
    const fmt = createFormatter()
    const text = ev.map(fmt)
    expect(text.every((l) => !l.includes('\n') && l.includes(' c1 '))).toBe(true)
    expect(text[0]).toMatch(/^\+0\.000ms c1 -   connection /)
    expect(text.find((l) => / yamux +(data|window-update) SYN stream=1 /.test(l))).toBeDefined()
    expect(text.find((l) => l.includes(' noise ') && l.includes('handshake message 2/3'))).toContain(`identity=${keyB.publicKey.toPeerId().toString()}`)
  })
})

describe('the other paths', () => {
  test('without early muxer negotiation: /yamux/1.0.0 agreed by multistream-select inside Noise, then open', () => {
    const p = new TracedPair({ a: { earlyMuxerNegotiation: false } })
    p.drive()
    const ev = p.traceA
    const st = of(ev, 'state').map((e) => `${e.layer}:${e.to}${e.early === true ? ' early' : ''}`)
    expect(st).toEqual(['connection:upgrading', 'upgrade:security', 'upgrade:handshake', 'noise:transport', 'upgrade:muxer', 'upgrade:done', 'connection:open'])
    expect(of(ev, 'noise-handshake')[2]!.payload!.muxers).toEqual([])
    const lines = of(ev, 'multistream').map((e) => `${e.dir} ${e.line}`)
    expect(lines.slice(4)).toEqual(['out /multistream/1.0.0', 'out /yamux/1.0.0', 'in /multistream/1.0.0', 'in /yamux/1.0.0'])
    expect(ev.findIndex((e) => e.kind === 'multistream' && e.dir === 'in' && e.line === '/yamux/1.0.0'))
      .toBeLessThan(ev.findIndex((e) => e.kind === 'state' && e.to === 'done'))
    // the listener sees the same upgrade
    expect(of(p.traceB, 'state').map((e) => `${e.layer}:${e.to}`)).toEqual(st)
  })

  test('a refused proposal (na), then an agreed one; a stream whose every proposal is refused fails', () => {
    const p = new TracedPair()
    p.drive()
    const id = p.a.openStream(p.now, ['/nope/1.0.0', PING], 1)
    p.drive()
    expect(of(p.traceA, 'multistream').filter((e) => e.stream === id).map((e) => `${e.dir} ${e.line}`))
      .toEqual(['out /multistream/1.0.0', 'out /nope/1.0.0', 'in /multistream/1.0.0', 'in na', `out ${PING}`, `in ${PING}`])
    expect(of(p.traceA, 'state').filter((e) => e.stream === id).map((e) => `${e.to}${e.protocol !== undefined ? ` ${e.protocol}` : ''}`)).toEqual(['negotiating', `negotiated ${PING}`])
    expect(of(p.traceB, 'state').filter((e) => e.stream === id).map((e) => `${e.to} ${e.reason ?? e.protocol}`)).toEqual(['negotiating inbound', `negotiated ${PING}`])
    const bad = p.a.openStream(p.now, ['/nope/1.0.0'], 2)
    p.drive()
    expect(of(p.traceA, 'state').filter((e) => e.stream === bad).map((e) => `${e.to} ${e.reason ?? ''}`))
      .toEqual(['negotiating outbound', 'failed connection/protocol-rejected', 'reset by us'])
  })
})

describe('keylog', () => {
  test('both sides log the same line after Split(), and its keys decrypt the captured transport frames', () => {
    const linesA: string[] = []
    const linesB: string[] = []
    const p = new TracedPair({
      a: { keylog: (e, k1, k2) => linesA.push(keylogLine(e, k1, k2)) },
      b: { keylog: (e, k1, k2) => linesB.push(keylogLine(e, k1, k2)) },
    })
    p.echo(PING, new Uint8Array(32).fill(9))
    expect(linesA).toHaveLength(1)
    expect(linesB).toEqual(linesA)
    const [label, e, k1, k2] = linesA[0]!.split(' ')
    expect(label).toBe(KEYLOG_LABEL)
    for (const h of [e, k1, k2]) expect(h).toMatch(/^[0-9a-f]{64}$/)
    // the capture: the dialer's bytes, multistream first (2 lines), then 2-byte-prefixed Noise messages
    const wire = concat(p.wireAtoB)
    let off = skipLines(wire, 0, 2)
    const frames: Uint8Array[] = []
    while (off + 2 <= wire.length) {
      const len = (wire[off]! << 8) | wire[off + 1]!
      frames.push(wire.subarray(off + 2, off + 2 + len))
      off += 2 + len
    }
    // message 1 carries e in clear: it names the keylog line
    expect(toHex(frames[0]!.subarray(0, 32))).toBe(e)
    // frames[1] is message 3; frames[2] the first transport message, under k1 with nonce 0
    const c1 = new CipherState(nodeCrypto, fromHex(k1!))
    const plain = c1.decryptWithAd(new Uint8Array(0), frames[2]!)
    expect(plain[0]).toBe(0) // a yamux header: version 0
    expect([0, 1]).toContain(plain[1]) // Data or Window Update ...
    expect(((plain[2]! << 8) | plain[3]!) & 1).toBe(1) // ... with SYN: the stream the dialer opened
    // and k2 decrypts the listener's first transport frame (after its one handshake message, 2)
    const back = concat(p.wireBtoA)
    let o2 = skipLines(back, 0, 2)
    o2 += 2 + ((back[o2]! << 8) | back[o2 + 1]!)
    const lenT = (back[o2]! << 8) | back[o2 + 1]!
    const c2 = new CipherState(nodeCrypto, fromHex(k2!))
    expect(c2.decryptWithAd(new Uint8Array(0), back.subarray(o2 + 2, o2 + 2 + lenT))[0]).toBe(0)
  })

  test('the keylog never appears in trace output, and trace output holds no key', () => {
    const keys: string[] = []
    const p = new TracedPair({ a: { keylog: (_e, k1, k2) => keys.push(toHex(k1), toHex(k2)) } })
    p.echo(PING, new Uint8Array(32))
    const all = p.traceA.map((e) => formatEvent(e, { json: true })).join('\n')
    expect(keys).toHaveLength(2)
    for (const k of keys) expect(all).not.toContain(k)
  })
})

describe('tracing changes nothing', () => {
  function run(o: ConstructorParameters<typeof TracedPair>[0]): { wire: string; events: string } {
    const p = new TracedPair({ seed: 42, ...o })
    p.echo(PING, new Uint8Array(100).fill(3))
    p.echo('/echo/1.0.0', new Uint8Array(70_000).fill(4))
    p.a.close(p.now)
    p.drive()
    return { wire: [...p.wireAtoB, ...p.wireBtoA].map(toHex).join('|'), events: JSON.stringify([p.eventsA, p.eventsB], (_k, v) => (v instanceof Uint8Array ? toHex(v) : v)) }
  }

  test('the same wire bytes and connection events with tracing off, on, and on with a sink that throws', () => {
    const off = run({ trace: false })
    const on = run({ trace: true })
    const throwing = run({ trace: true, sink: () => { throw new Error('sink failed') } })
    expect(on.wire).toBe(off.wire)
    expect(on.events).toBe(off.events)
    expect(throwing.wire).toBe(off.wire)
    expect(throwing.events).toBe(off.events)
  })

  test('with tracing off the hook is absent: a pair without trace options emits nothing', () => {
    const p = new TracedPair({ trace: false })
    p.echo(PING, new Uint8Array(32))
    expect(p.traceA).toEqual([])
    expect(p.traceB).toEqual([])
    expect(p.eventsA.some((e) => e.type === 'stream-opened')).toBe(true)
  })
})

describe('bounded', () => {
  test('maxStreams: at the limit a stream is decoded, past it not; a closed stream frees its place', () => {
    const p = new TracedPair({ maxStreams: 1 })
    p.drive()
    // two streams open at once: the first is decoded (at the limit), the second is not (past it)
    const s1 = p.a.openStream(p.now, [PING], 1)
    const s2 = p.a.openStream(p.now, [PING], 2)
    p.drive()
    p.a.write(s1, new Uint8Array(32))
    p.a.write(s2, new Uint8Array(32))
    p.drive()
    const msgs = (): string[] => of(p.traceA, 'message').map((m) => `${m.dir} ${m.stream}`)
    expect(msgs()).toEqual([`out ${s1}`])
    // the second stream's frames and lines are still traced
    expect(of(p.traceA, 'yamux-frame').some((f) => f.stream === s2 && f.type === 'data' && f.length === 32)).toBe(true)
    // once s1 is closed both ways (stream state 'closed'), its decoders are dropped and a new stream is decoded
    p.a.closeWrite(s1)
    const inbound1 = p.eventsB.find((e) => e.type === 'stream-opened')!
    p.b.closeWrite((inbound1 as { id: number }).id)
    p.drive()
    expect(of(p.traceA, 'state').some((e) => e.stream === s1 && e.to === 'closed')).toBe(true)
    const s3 = p.a.openStream(p.now, [PING], 3)
    p.drive()
    p.a.write(s3, new Uint8Array(32))
    p.drive()
    expect(msgs()).toEqual([`out ${s1}`, `out ${s3}`])
  })

  test('maxStreams must be a non-negative integer', async () => {
    const { Tracer } = await import('../src/trace/index.js')
    expect(() => new Tracer({ emit: () => {}, now: () => 0, maxStreams: -1 })).toThrow(RangeError)
    expect(() => new Tracer({ emit: () => {}, now: () => 0, maxStreams: 1.5 })).toThrow(RangeError)
  })
})

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0))
  let o = 0
  for (const b of parts) { out.set(b, o); o += b.length }
  return out
}

/** Skip `n` multistream messages (one-byte varint length each, all shorter than 128 here). */
function skipLines(b: Uint8Array, off: number, n: number): number {
  for (let i = 0; i < n; i++) off += 1 + b[off]!
  return off
}
