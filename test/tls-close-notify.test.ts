/**
 * close_notify on /tls/1.0.0 connections (RFC 8446 §6.1): a connection core that closes cleanly
 * sends its GoAway and then close_notify; the peer's session reads close_notify as the end of the
 * stream ('eof' with closeNotify), its yamux ends and its connection closes cleanly, answering with
 * its own close_notify. Bytes sent before the close arrive first. Noise connections are unchanged.
 */
import { describe, expect, test } from 'vitest'
import { Connection, type ConnectionEvent, type ConnectionOptions } from '../src/connection/index.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { nodeTlsCrypto } from '../src/io/crypto-tls-node.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'
import { libp2pTls, type Libp2pTlsChannel, type TlsChannelFactory } from '../src/tls/index.js'
import type { TlsSessionEvent } from '../src/tls/session.js'

const keyA = privateKeyFromSeed(new Uint8Array(32).fill(1), nodeCrypto)
const keyB = privateKeyFromSeed(new Uint8Array(32).fill(2), nodeCrypto)
const wallClock = (): number => 1_767_225_600_000

/** A TLS factory that records every channel's raw session events (TlsSession's, before the channel maps them). */
function spyTls(): { factory: TlsChannelFactory; seen: TlsSessionEvent[] } {
  const inner = libp2pTls({ crypto: nodeTlsCrypto, wallClock })
  const seen: TlsSessionEvent[] = []
  return {
    seen,
    factory: {
      open(params): Libp2pTlsChannel {
        const ch = inner.open(params)
        const s = ch.session
        const poll = s.pollEvent.bind(s)
        s.pollEvent = () => {
          const e = poll()
          if (e !== undefined) seen.push(e)
          return e
        }
        return ch
      },
    },
  }
}

class Pair {
  readonly a: Connection
  readonly b: Connection
  readonly ea: ConnectionEvent[] = []
  readonly eb: ConnectionEvent[] = []
  readonly wire: { from: 'a' | 'b'; bytes: Uint8Array }[] = []
  constructor(a: Partial<ConnectionOptions>, b: Partial<ConnectionOptions>) {
    const supports = (p: string): boolean => p === '/echo/1.0.0'
    this.a = new Connection({ role: 'dialer', crypto: nodeCrypto, identity: keyA, supportsProtocol: supports, listProtocols: () => ['/echo/1.0.0'], now: 0, ...a })
    this.b = new Connection({ role: 'listener', crypto: nodeCrypto, identity: keyB, supportsProtocol: supports, listProtocols: () => ['/echo/1.0.0'], now: 0, ...b })
  }

  drive(): void {
    for (let i = 0; i < 1000; i++) {
      let moved = 0
      for (const [name, from, to] of [['a', this.a, this.b], ['b', this.b, this.a]] as const) {
        for (let out = from.pollTransmit(1 << 20); out !== undefined; out = from.pollTransmit(1 << 20)) {
          this.wire.push({ from: name, bytes: out.slice() })
          to.handleData(0, out)
          moved += out.length
        }
      }
      for (let e = this.a.pollEvent(); e !== undefined; e = this.a.pollEvent()) this.ea.push(e)
      for (let e = this.b.pollEvent(); e !== undefined; e = this.b.pollEvent()) this.eb.push(e)
      if (moved === 0) return
    }
    throw new Error('did not settle')
  }
}

const closed = (es: ConnectionEvent[]) => es.find((e) => e.type === 'closed') as { type: 'closed'; error?: Error } | undefined

describe('close_notify on /tls/1.0.0 connections', () => {
  test('a clean close sends close_notify after the GoAway; the peer reads it as the end, closes cleanly and answers with its own', () => {
    const ta = spyTls(), tb = spyTls()
    const p = new Pair({ security: ['tls'], tls: ta.factory }, { security: ['tls'], tls: tb.factory })
    p.drive()
    expect(p.ea.some((e) => e.type === 'established')).toBe(true)
    // bytes written just before the close arrive before the end
    p.a.openStream(0, ['/echo/1.0.0'], 1)
    p.drive()
    const out = p.ea.find((e) => e.type === 'stream-opened') as Extract<ConnectionEvent, { type: 'stream-opened' }>
    expect(p.a.write(out.id, Uint8Array.of(7, 8, 9))).toBe(3)
    p.wire.length = 0
    p.a.close(0)
    p.drive()
    expect(closed(p.ea)).toEqual({ type: 'closed' })
    expect(closed(p.eb)).toEqual({ type: 'closed' })
    // b's session delivered the stream's bytes and the GoAway (b closes on the GoAway: the
    // close_notify behind it is not read; test/tls-keylog.test.ts decrypts it from the wire)
    expect(tb.seen.filter((e) => e.type !== 'handshake-complete').every((e) => e.type === 'data')).toBe(true)
    const streamData = p.eb.filter((e) => e.type === 'stream-data').map((e) => Array.from((e as { data: Uint8Array }).data))
    expect(streamData).toContainEqual([7, 8, 9])
    // on the wire: a's last record is the 24-byte protected alert (5-byte header, 2 + 1 inner bytes, 16-byte tag)
    const fromA = p.wire.filter((w) => w.from === 'a')
    expect(fromA.at(-1)!.bytes.length).toBe(5 + 3 + 16)
    // b answered with its own close_notify (a, closed already, reads nothing more)
    const fromB = p.wire.filter((w) => w.from === 'b')
    expect(fromB.at(-1)!.bytes.length).toBe(5 + 3 + 16)
  })

  test('the peer\'s close_notify alone (no GoAway before it) ends the connection cleanly', () => {
    const ta = spyTls(), tb = spyTls()
    const p = new Pair({ security: ['tls'], tls: ta.factory }, { security: ['tls'], tls: tb.factory })
    let channel: Libp2pTlsChannel | undefined
    const open = ta.factory.open
    ta.factory.open = (params) => (channel = open(params))
    p.drive()
    expect(p.eb.some((e) => e.type === 'established')).toBe(true)
    // a's TLS layer says close_notify by itself, below yamux: b must treat it as the end of the stream
    channel!.close()
    const alert = channel!.pollTransmit(1 << 16)!
    expect(alert.length).toBe(5 + 3 + 16)
    p.b.handleData(0, alert)
    p.drive()
    expect(tb.seen.at(-1)).toEqual({ type: 'eof', closeNotify: true })
    const c = closed(p.eb)
    expect(c).toBeDefined()
    expect(c!.error).toBeUndefined()
  })

  test('a Noise connection closes as before (no TLS records)', () => {
    const p = new Pair({}, {})
    p.drive()
    p.wire.length = 0
    p.a.close(0)
    p.drive()
    expect(closed(p.ea)).toEqual({ type: 'closed' })
    expect(p.wire.filter((w) => w.from === 'a').length).toBe(1) // the GoAway frame only
  })
})
