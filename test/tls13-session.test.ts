/**
 * TlsSession (TLS 1.3 over a byte stream) weft <-> weft in memory: records, key updates, alerts,
 * the record layer's limits, end of stream, backpressure.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { nodeTlsCrypto } from '../src/io/crypto-tls-node.js'
import { TlsError } from '../src/tls/errors.js'
import { ContentType, encodeRecord, MAX_PLAINTEXT, RecordProtection } from '../src/tls/record.js'
import { TlsHandshake } from '../src/tls/handshake.js'
import { encodeHandshake } from '../src/tls/messages.js'
import { decodeNamedGroups, encodeNamedGroups, MAX_LIST_ENTRIES } from '../src/tls/extensions.js'
import { TlsSession, type TlsSessionEvent, type TlsSessionOptions } from '../src/tls/session.js'
import { SignatureScheme } from '../src/tls/types.js'
import { UsageError } from '../src/core/errors.js'
import { LIBP2P_ALPN } from '../src/tls/index.js'

const c = nodeTlsCrypto
const cert = (tag: number) => {
  const seed = new Uint8Array(32).fill(tag)
  return { chain: [c.base.ed25519PublicKey(seed)], scheme: SignatureScheme.ed25519, sign: (d: Uint8Array) => c.base.ed25519Sign(seed, d) }
}
const verify = (chain: Uint8Array[], _s: number, content: Uint8Array, sig: Uint8Array): void => {
  if (!c.base.ed25519Verify(chain[0]!, content, sig)) throw new TlsError('tls/bad-certificate')
}

interface End { s: TlsSession; events: TlsSessionEvent[]; sent: Uint8Array[] }

function ends(co: Partial<TlsSessionOptions> = {}, so: Partial<TlsSessionOptions> = {}): { a: End; b: End } {
  const a = { s: new TlsSession({ role: 'client', crypto: c, certificate: cert(1), verifyPeer: verify, ...co }), events: [], sent: [] }
  const b = { s: new TlsSession({ role: 'server', crypto: c, certificate: cert(2), verifyPeer: verify, ...so }), events: [], sent: [] }
  return { a, b }
}

/** Moves bytes both ways until quiet; `split` cuts every chunk into pieces of that size. */
function run(a: End, b: End, split = Infinity): void {
  for (let i = 0; i < 100; i++) {
    let moved = false
    for (const [x, y] of [[a, b], [b, a]] as const) {
      for (let d = x.s.pollTransmit(1 << 20); d !== undefined; d = x.s.pollTransmit(1 << 20)) {
        x.sent.push(d)
        moved = true
        for (let o = 0; o < d.length; o += Math.min(split, d.length)) y.s.handleData(0, d.subarray(o, o + Math.min(split, d.length)))
      }
      for (let e = y.s.pollEvent(); e !== undefined; e = y.s.pollEvent()) y.events.push(e)
    }
    if (!moved) return
  }
}

const data = (es: TlsSessionEvent[]): Uint8Array => {
  const parts = es.filter((e): e is Extract<TlsSessionEvent, { type: 'data' }> => e.type === 'data').map((e) => e.data)
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}
const pattern = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff)

describe('TlsSession weft <-> weft', () => {
  test('handshake (byte by byte), data both ways in records of at most 2^14, close_notify both ways', () => {
    const { a, b } = ends({ alpn: [LIBP2P_ALPN] }, { alpn: [LIBP2P_ALPN] })
    run(a, b, 1)
    expect(a.events[0]).toMatchObject({ type: 'handshake-complete', alpn: LIBP2P_ALPN })
    expect(b.events[0]).toMatchObject({ type: 'handshake-complete', alpn: LIBP2P_ALPN })
    expect(a.s.peerChain).toEqual(cert(2).chain)
    // the client's middlebox-compatibility ChangeCipherSpec: exactly one, before its second flight
    const ccs = Uint8Array.of(20, 3, 3, 0, 1, 1)
    const flat = Buffer.concat(a.sent.map((x) => Buffer.from(x)))
    expect(flat.indexOf(Buffer.from(ccs))).toBeGreaterThan(0)
    a.s.write(pattern(50_000))
    const before = a.sent.length
    run(a, b)
    expect(data(b.events)).toEqual(pattern(50_000))
    const records = Buffer.concat(a.sent.slice(before).map((x) => Buffer.from(x)))
    expect(records.length).toBe(50_000 + 4 * (5 + 17)) // four records: 3 full + 1 partial, each header + type byte + tag
    b.s.write(pattern(10))
    run(a, b)
    expect(data(a.events)).toEqual(pattern(10))
    a.s.close()
    run(a, b)
    expect(b.events.at(-1)).toEqual({ type: 'eof', closeNotify: true })
    expect(() => a.s.write(pattern(1))).toThrow(UsageError)
    b.s.write(pattern(3)) // half-closed: the server may still send
    b.s.close()
    run(a, b)
    expect(data(a.events)).toEqual(Uint8Array.from([...pattern(10), ...pattern(3)]))
    expect(a.events.at(-1)).toEqual({ type: 'eof', closeNotify: true })
  })
  test('KeyUpdate with update_requested: both sides move to new keys, data keeps flowing', () => {
    const { a, b } = ends()
    run(a, b)
    a.s.updateKeys(true)
    a.s.write(pattern(100))
    run(a, b)
    b.s.write(pattern(200))
    run(a, b)
    expect(data(b.events)).toEqual(pattern(100))
    expect(data(a.events)).toEqual(pattern(200))
  })
  test('keyUpdateAfter: after that many records we update our key on our own (at the limit: none yet)', () => {
    const { a, b } = ends({ keyUpdateAfter: 3 })
    run(a, b)
    for (let i = 0; i < 3; i++) a.s.write(pattern(5))
    const n = a.sent.length
    run(a, b)
    const atLimit = a.sent.slice(n).reduce((k, x) => k + x.length, 0)
    expect(atLimit).toBe(3 * (5 + 5 + 17))
    a.s.write(pattern(5)) // the 4th record: a KeyUpdate first
    const m = a.sent.length
    run(a, b)
    expect(a.sent.slice(m).reduce((k, x) => k + x.length, 0)).toBe(2 * 22 + 5 + 5) // KeyUpdate record (5-byte message) + data record
    a.s.write(pattern(5))
    run(a, b)
    expect(data(b.events)).toEqual(Uint8Array.from([...pattern(5), ...pattern(5), ...pattern(5), ...pattern(5), ...pattern(5)]))
  })
  test('a tampered record: bad_record_mac (20), the alert reaches the peer as tls/alert-received', () => {
    const { a, b } = ends()
    run(a, b)
    a.s.write(pattern(10))
    const rec = a.s.pollTransmit(1 << 20)!.slice()
    rec[rec.length - 1]! ^= 1
    expect(() => b.s.handleData(0, rec)).toThrow(expect.objectContaining({ code: 'tls/bad-record-mac', alert: 20 }))
    expect(() => b.s.handleData(0, rec)).toThrow(UsageError)
    const alert = b.s.pollTransmit(1 << 20)!
    let err: unknown
    try { a.s.handleData(0, alert) } catch (e) { err = e }
    expect(err).toMatchObject({ code: 'tls/alert-received', peerAlert: 20 })
  })
  test('record_overflow: a protected record of 2^14 + 256 passes the length check, one byte more does not', () => {
    const { a, b } = ends()
    run(a, b)
    const header = (n: number) => Uint8Array.of(23, 3, 3, n >> 8, n & 0xff)
    expect(() => b.s.handleData(0, header(MAX_PLAINTEXT + 256))).not.toThrow() // waits for the body
    const { a: a2, b: b2 } = ends()
    run(a2, b2)
    expect(() => b2.s.handleData(0, header(MAX_PLAINTEXT + 257))).toThrow(expect.objectContaining({ code: 'tls/record-overflow', alert: 22 }))
  })
  test('maxEmptyRecords: that many empty records pass, one more is tls/too-many-empty-records', () => {
    // write() of nothing sends no record; KeyUpdates carry no data either, and count
    const { a: x, b: y } = ends({}, { maxEmptyRecords: 4 })
    run(x, y)
    for (let i = 0; i < 4; i++) x.s.updateKeys(false)
    run(x, y)
    x.s.updateKeys(false)
    expect(() => run(x, y)).toThrow(expect.objectContaining({ code: 'tls/too-many-empty-records' }))
  })
  test('a ChangeCipherSpec after the handshake is unexpected_message', () => {
    const { a, b } = ends()
    run(a, b)
    expect(() => b.s.handleData(0, encodeRecord(ContentType.change_cipher_spec, Uint8Array.of(1)))).toThrow(expect.objectContaining({ code: 'tls/unexpected-message' }))
  })
  test('end of stream: during the handshake it is tls/unexpected-eof; after it without close_notify, eof with closeNotify false', () => {
    const { a, b } = ends()
    b.s.handleData(0, a.s.pollTransmit(1 << 20)!)
    expect(() => b.s.handleEof(0)).toThrow(expect.objectContaining({ code: 'tls/unexpected-eof' }))
    const { a: x, b: y } = ends()
    run(x, y)
    y.s.handleEof(0)
    expect(y.s.pollEvent()).toEqual({ type: 'eof', closeNotify: false })
  })
  test('backpressure: wantsData turns false past maxBufferedData and back once read', () => {
    const { a, b } = ends({}, { maxBufferedData: 1000 })
    run(a, b)
    for (let e = b.s.pollEvent(); e !== undefined; e = b.s.pollEvent()) { /* drain */ }
    a.s.write(pattern(999))
    b.s.handleData(0, a.s.pollTransmit(1 << 20)!)
    expect(b.s.wantsData()).toBe(true)
    a.s.write(pattern(1))
    b.s.handleData(0, a.s.pollTransmit(1 << 20)!)
    expect(b.s.wantsData()).toBe(false)
    b.s.pollEvent()
    expect(b.s.wantsData()).toBe(true)
  })
  test('close() during the handshake sends close_notify and ignores what follows; updateKeys after close is a UsageError', () => {
    const { a, b } = ends()
    b.s.handleData(0, a.s.pollTransmit(1 << 20)!)
    a.s.close()
    const fromServer = b.s.pollTransmit(1 << 20)!
    expect(() => a.s.handleData(0, fromServer)).not.toThrow()
    expect(a.s.isEstablished).toBe(false)
    const { a: x, b: y } = ends()
    run(x, y)
    x.s.close()
    expect(() => x.s.updateKeys()).toThrow(expect.objectContaining({ code: 'tls/closed' }))
  })
  test('write before the handshake completes is a UsageError', () => {
    const { a } = ends()
    expect(() => a.s.write(pattern(1))).toThrow(UsageError)
  })
})

/**
 * A server made of the bare handshake core and RecordProtection, so a test can send the client any
 * record under the real keys (empty records, oversized post-handshake messages).
 */
function manualServer(client: TlsSession): { sealApp(type: number, content: Uint8Array): Uint8Array } {
  const hs = new TlsHandshake({ role: 'server', crypto: c, certificate: cert(2), verifyPeer: verify })
  const write = new Map<string, RecordProtection>()
  let read: RecordProtection | undefined
  let readLevel: 'initial' | 'handshake' | 'application' = 'initial'
  const drain = (): void => {
    for (let e = hs.pollEvent(); e !== undefined; e = hs.pollEvent()) {
      if (e.kind !== 'secret') continue
      const rp = new RecordProtection(c, e.suite, e.secret)
      if (e.direction === 'write') write.set(e.level, rp)
      else { read = rp; readLevel = e.level }
    }
    for (let o = hs.pollOutput(); o !== undefined; o = hs.pollOutput()) {
      client.handleData(0, o.level === 'initial' ? encodeRecord(ContentType.handshake, o.data) : write.get(o.level)!.seal(ContentType.handshake, o.data))
    }
  }
  for (let round = 0; round < 4; round++) {
    for (let b = client.pollTransmit(1 << 20); b !== undefined; b = client.pollTransmit(1 << 20)) {
      for (let off = 0; off < b.length;) {
        const len = (b[off + 3]! << 8) | b[off + 4]!
        const header = b.subarray(off, off + 5)
        const body = b.subarray(off + 5, off + 5 + len)
        off += 5 + len
        if (header[0] === ContentType.change_cipher_spec) continue
        const fragment = header[0] === ContentType.application_data ? read!.open(header, body).fragment : body
        hs.handleMessages(readLevel, fragment)
        drain()
      }
    }
  }
  expect(hs.isComplete && client.isEstablished).toBe(true)
  return { sealApp: (type, content) => write.get('application')!.seal(type, content) }
}

describe('TlsSession limits with records under the real keys', () => {
  const established = (o: Partial<TlsSessionOptions> = {}) => {
    const client = new TlsSession({ role: 'client', crypto: c, certificate: cert(1), verifyPeer: verify, ...o })
    return { client, server: manualServer(client) }
  }
  test('maxEmptyRecords with empty application_data records: at the limit passes, one more fails', () => {
    const { client, server } = established({ maxEmptyRecords: 5 })
    for (let i = 0; i < 5; i++) client.handleData(0, server.sealApp(ContentType.application_data, new Uint8Array(0)))
    expect(() => client.handleData(0, server.sealApp(ContentType.application_data, new Uint8Array(0)))).toThrow(expect.objectContaining({ code: 'tls/too-many-empty-records', alert: 10 }))
  })
  test('a data record resets the empty-record count', () => {
    const { client, server } = established({ maxEmptyRecords: 2 })
    for (let i = 0; i < 10; i++) {
      client.handleData(0, server.sealApp(ContentType.application_data, new Uint8Array(0)))
      client.handleData(0, server.sealApp(ContentType.application_data, Uint8Array.of(i)))
    }
    expect(client.isEstablished).toBe(true)
  })
  test('post-handshake message length: 2^14 is accepted (waits for the rest), 2^14 + 1 is tls/message-too-large', () => {
    const header = (n: number) => Uint8Array.of(4, n >> 16, (n >> 8) & 0xff, n & 0xff)
    const ok = established()
    ok.client.handleData(0, ok.server.sealApp(ContentType.handshake, header(MAX_PLAINTEXT)))
    const bad = established()
    expect(() => bad.client.handleData(0, bad.server.sealApp(ContentType.handshake, header(MAX_PLAINTEXT + 1)))).toThrow(expect.objectContaining({ code: 'tls/message-too-large' }))
  })
  test('a NewSessionTicket split across two records is read and dropped; a KeyUpdate followed by more bytes in its record is unexpected_message', () => {
    const { client, server } = established()
    const nst = encodeHandshake({ type: 'new_session_ticket', lifetime: 7, ageAdd: 1, nonce: new Uint8Array(0), ticket: new Uint8Array(100), extensions: [] })
    client.handleData(0, server.sealApp(ContentType.handshake, nst.subarray(0, 50)))
    client.handleData(0, server.sealApp(ContentType.handshake, nst.subarray(50)))
    client.handleData(0, server.sealApp(ContentType.application_data, Uint8Array.of(1, 2, 3)))
    const ku = encodeHandshake({ type: 'key_update', updateRequested: false })
    expect(() => client.handleData(0, server.sealApp(ContentType.handshake, Uint8Array.from([...ku, ...nst])))).toThrow(expect.objectContaining({ code: 'tls/unexpected-message' }))
  })
  test('plaintext records: 2^14 passes the length check, 2^14 + 1 is record_overflow', () => {
    const mk = () => new TlsSession({ role: 'server', crypto: c, certificate: cert(2), verifyPeer: verify })
    expect(() => mk().handleData(0, Uint8Array.of(22, 3, 3, MAX_PLAINTEXT >> 8, 0))).not.toThrow()
    expect(() => mk().handleData(0, Uint8Array.of(22, 3, 3, (MAX_PLAINTEXT + 1) >> 8, 1))).toThrow(expect.objectContaining({ code: 'tls/record-overflow' }))
  })
})

describe('extension list bounds', () => {
  test(`MAX_LIST_ENTRIES (${MAX_LIST_ENTRIES}) groups decode; one more is tls/too-many-items`, () => {
    const at = Array.from({ length: MAX_LIST_ENTRIES }, (_, i) => i)
    expect(decodeNamedGroups(encodeNamedGroups(at))).toEqual(at)
    expect(() => decodeNamedGroups(encodeNamedGroups([...at, 999]))).toThrow(expect.objectContaining({ code: 'tls/too-many-items' }))
  })
})

describe('TlsSession properties', () => {
  test('any split of the byte streams, any suite, any writes: the same handshake and every byte delivered once, in order', () => {
    fc.assert(fc.property(
      fc.constantFrom(0x1301, 0x1303),
      fc.boolean(),
      fc.array(fc.integer({ min: 1, max: 17_000 }), { maxLength: 3 }),
      fc.array(fc.integer({ min: 1, max: 2000 }), { minLength: 1, maxLength: 8 }),
      fc.boolean(),
      (suite, hrr, writes, cuts, update) => {
        const { a, b } = ends({ cipherSuites: [suite], keyShareInFirstHello: !hrr, alpn: ['x'] }, { alpn: ['x'] })
        // deliver every chunk in pieces of the sizes in `cuts`, cycling
        const move = (x: End, y: End): boolean => {
          let moved = false
          for (let d = x.s.pollTransmit(1 << 20); d !== undefined; d = x.s.pollTransmit(1 << 20)) {
            moved = true
            for (let o = 0, i = 0; o < d.length; i++) {
              const n = cuts[i % cuts.length]!
              y.s.handleData(0, d.subarray(o, o + n))
              o += n
            }
          }
          for (let e = y.s.pollEvent(); e !== undefined; e = y.s.pollEvent()) y.events.push(e)
          return moved
        }
        const settle = (): void => { for (let i = 0; i < 50 && (move(a, b) || move(b, a)); i++) { /* until quiet */ } }
        settle()
        expect(a.events[0]).toMatchObject({ type: 'handshake-complete', cipherSuite: suite, alpn: 'x' })
        expect(b.events[0]).toMatchObject({ type: 'handshake-complete', cipherSuite: suite, alpn: 'x' })
        let sent = 0
        for (const n of writes) {
          if (update) a.s.updateKeys(true)
          a.s.write(pattern(n).map((v, i) => (v + sent + i) & 0xff))
          b.s.write(pattern(n))
          sent += n
        }
        settle()
        const expectedToB = new Uint8Array(sent)
        let o = 0
        for (const n of writes) { expectedToB.set(pattern(n).map((v, i) => (v + o + i) & 0xff), o); o += n }
        expect(data(b.events)).toEqual(expectedToB)
        expect(data(a.events)).toEqual(Uint8Array.from(writes.flatMap((n) => [...pattern(n)])))
      },
    ), { numRuns: 20 })
  }, 60_000)
})
