// The UDP driver (src/io/udp.ts) with a trivial router: one socket listens and dials, datagrams are
// whole, a listener's socket is the dialer's source port, and maxPendingSends drops what exceeds it.
import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, test } from 'vitest'
import { multiaddr } from '../src/multiaddr/index.js'
import type { RawConnection } from '../src/io/transport.js'
import { MAX_SOCKET_BUFFER_SIZE, udpTransport, type DatagramRouter } from '../src/io/udp.js'

/** Every datagram from a new remote opens a connection keyed by that remote. */
function router(): DatagramRouter {
  const keys = new Map<string, object>()
  return {
    route: (_now, from) => {
      const k = `${from.address}:${from.port}`
      const known = keys.get(k)
      if (known !== undefined) return { kind: 'deliver', key: known }
      const key = {}
      keys.set(k, key)
      return { kind: 'accept', key, session: { remote: k } }
    },
    dial: (_now, to) => {
      const key = {}
      keys.set(`${to.address}:${to.port}`, key)
      return { key, session: { dialed: true } }
    },
    closed: (key) => { for (const [k, v] of keys) if (v === key) keys.delete(k) },
  }
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => { for (const c of cleanups.splice(0)) await c() })

async function listener(maxPendingSends?: number, socketBufferSize?: number) {
  const t = udpTransport({ protocol: 'quic-v1', router, ...(maxPendingSends !== undefined ? { maxPendingSends } : {}), ...(socketBufferSize !== undefined ? { socketBufferSize } : {}) })
  const got: Uint8Array[] = []
  const accepted: RawConnection[] = []
  const l = await t.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'), (c) => {
    accepted.push(c)
    c.start({ onData: (d) => got.push(d.slice()), onEnd: () => {}, onClose: () => {}, onDrain: () => {} })
  })
  cleanups.push(() => l.close(), () => t.close())
  return { t, l, got, accepted }
}

const until = async (f: () => boolean, ms = 3000): Promise<void> => {
  const end = Date.now() + ms
  while (!f()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe('udp driver', () => {
  test('a dial from a listening node leaves from its listening port; datagrams arrive whole; the session reaches the listener', async () => {
    const a = await listener()
    const b = await listener()
    const c = await b.t.dial(a.l.addrs[0]!)
    expect((c as RawConnection & { session?: unknown }).session).toEqual({ dialed: true })
    c.start({ onData: () => {}, onEnd: () => {}, onClose: () => {}, onDrain: () => {} })
    expect(c.write(Uint8Array.from({ length: 1200 }, (_, i) => i & 0xff))).toBe(true)
    await until(() => a.got.length === 1)
    expect(a.got[0]!.length).toBe(1200)
    const bPort = b.l.addrs[0]!.toDialTarget()!.port
    expect(a.accepted[0]!.remoteAddr.toString()).toBe(`/ip4/127.0.0.1/udp/${bPort}/quic-v1`)
    expect((a.accepted[0] as RawConnection & { session?: unknown }).session).toEqual({ remote: `127.0.0.1:${bPort}` })
  })

  test('maxPendingSends: at the limit every datagram is sent, past it the excess is dropped', async () => {
    const a = await listener()
    for (const [limit, writes, want] of [[20, 20, 20], [20, 50, 20]] as const) {
      const b = await listener(limit)
      const c = await b.t.dial(a.l.addrs[0]!)
      c.start({ onData: () => {}, onEnd: () => {}, onClose: () => {}, onDrain: () => {} })
      const before = a.got.length
      for (let i = 0; i < writes; i++) c.write(Uint8Array.of(i))
      await until(() => a.got.length - before >= want)
      // a last datagram after the queue drained shows nothing more was in flight
      await new Promise((r) => setTimeout(r, 50))
      c.write(Uint8Array.of(255))
      await until(() => a.got.at(-1)![0] === 255)
      expect(a.got.length - before).toBe(want + 1)
    }
  })

  test('socketBufferSize: at the cap it is accepted, past it (or negative) a RangeError', () => {
    expect(() => udpTransport({ protocol: 'quic-v1', router, socketBufferSize: MAX_SOCKET_BUFFER_SIZE })).not.toThrow()
    expect(() => udpTransport({ protocol: 'quic-v1', router, socketBufferSize: MAX_SOCKET_BUFFER_SIZE + 1 })).toThrow(RangeError)
    expect(() => udpTransport({ protocol: 'quic-v1', router, socketBufferSize: -1 })).toThrow(RangeError)
  })

  // Linux's default receive buffer (~208 KiB) overflows on such a burst; a 4 MiB one holds it.
  // Only where the OS lets a socket have 1 MiB or more (net.core.rmem_max).
  const rmemMax = (() => { try { return Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8')) } catch { return 0 } })()
  test.skipIf(rmemMax < 1 << 20)('socketBufferSize 4 MiB takes a 600 KB burst sent before the reader runs', async () => {
    const a = await listener(undefined, 4 << 20)
    const b = await listener()
    const c = await b.t.dial(a.l.addrs[0]!)
    c.start({ onData: () => {}, onEnd: () => {}, onClose: () => {}, onDrain: () => {} })
    for (let i = 0; i < 500; i++) c.write(new Uint8Array(1200).fill(i & 0xff))
    await until(() => a.got.length === 500)
    expect(a.got.length).toBe(500)
  })

  test('listen refuses what is not /udp/<port>/quic-v1; dial of one is a TransportError', async () => {
    const t = udpTransport({ protocol: 'quic-v1', router })
    cleanups.push(() => t.close())
    expect(t.canListen(multiaddr('/ip4/127.0.0.1/tcp/1'))).toBe(false)
    expect(t.canDial(multiaddr('/ip4/127.0.0.1/udp/1/quic-v1/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq'))).toBe(true)
    await expect(t.dial(multiaddr('/ip4/127.0.0.1/tcp/1'))).rejects.toMatchObject({ code: 'transport/unsupported' })
  })
})
