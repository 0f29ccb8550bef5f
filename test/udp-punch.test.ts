/**
 * DCUtR's QUIC punch packets (src/io/udp-punch.ts over src/io/udp.ts `sendRawDatagram`), on
 * loopback: they leave from the QUIC listening socket (the port the peer dials), are not QUIC (the
 * first byte's two high bits clear), and are bounded by `maxPackets` and `timeout`; `stop()` ends
 * them; without a listening socket of the family nothing is sent.
 */
import { createSocket, type Socket } from 'node:dgram'
import { afterEach, describe, expect, test } from 'vitest'
import { quic } from '../src/edge/quic-transport.js'
import { udpHolePunch } from '../src/io/udp-punch.js'
import { sendRawDatagram } from '../src/io/udp.js'
import { Multiaddr } from '../src/multiaddr/index.js'

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

/** A plain UDP socket on 127.0.0.1 recording what arrives (bytes and source port). */
async function sink(): Promise<{ port: number; got: Array<{ data: Buffer; port: number }>; socket: Socket }> {
  const socket = createSocket('udp4')
  const got: Array<{ data: Buffer; port: number }> = []
  socket.on('message', (data, r) => got.push({ data, port: r.port }))
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r))
  cleanup.push(() => new Promise<void>((r) => socket.close(() => r())))
  return { port: socket.address().port, got, socket }
}

/** A QUIC transport listening on 127.0.0.1 (its port). */
async function listening(): Promise<{ t: ReturnType<typeof quic>; port: number }> {
  const t = quic()
  const l = await t.listen(Multiaddr.fromString('/ip4/127.0.0.1/udp/0/quic-v1'), () => {})
  cleanup.push(() => l.close())
  return { t, port: Number(l.addrs[0]!.toString().split('/')[4]) }
}

const until = async (f: () => boolean): Promise<void> => {
  for (let i = 0; !f(); i++) {
    if (i > 400) throw new Error('condition not met within 10 s')
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe('QUIC hole punch packets', () => {
  test('maxPackets: at the limit exactly that many arrive, from the listening port, none of them a QUIC packet', async () => {
    const { t, port } = await listening()
    const s = await sink()
    const p = t.holePunch(Multiaddr.fromString(`/ip4/127.0.0.1/udp/${s.port}/quic-v1`), { maxPackets: 5, minInterval: 1, maxInterval: 5, timeout: 10_000 })
    expect(await p.done).toBe(5)
    expect(p.sent).toBe(5)
    await until(() => s.got.length >= 5)
    expect(s.got).toHaveLength(5)
    for (const g of s.got) {
      expect(g.port).toBe(port) // the listening socket: the mapping the peer's QUIC dial targets
      expect(g.data.length).toBe(64)
      expect(g.data[0]! & 0xc0).toBe(0) // neither a long header nor the fixed bit
    }
    expect(new Set(s.got.map((g) => g.data.toString('hex'))).size).toBe(5) // random bytes
  })

  test('maxPackets one past: 6 allowed means the sixth is sent too, and no seventh', async () => {
    const { t } = await listening()
    const s = await sink()
    const p = t.holePunch(Multiaddr.fromString(`/ip4/127.0.0.1/udp/${s.port}/quic-v1`), { maxPackets: 6, minInterval: 1, maxInterval: 2 })
    expect(await p.done).toBe(6)
    await until(() => s.got.length >= 6)
    // a positive signal that the socket is still delivering: a marker after the punch ended
    expect(sendRawDatagram(t, { address: '127.0.0.1', port: s.port }, new Uint8Array([0xff]))).toBe(true)
    await until(() => s.got.some((g) => g.data.length === 1))
    expect(s.got.filter((g) => g.data.length === 64)).toHaveLength(6)
  })

  test('timeout bounds it: intervals of 1 s and a 100 ms timeout send the first packet only', async () => {
    const { t } = await listening()
    const s = await sink()
    const p = t.holePunch(Multiaddr.fromString(`/ip4/127.0.0.1/udp/${s.port}/quic-v1`), { timeout: 100, minInterval: 1_000, maxInterval: 1_000, maxPackets: 100 })
    expect(await p.done).toBe(1)
  })

  test('stop() ends it at once; the defaults are the spec\'s 10-200 ms intervals', async () => {
    const { t } = await listening()
    const s = await sink()
    const p = t.holePunch(Multiaddr.fromString(`/ip4/127.0.0.1/udp/${s.port}/quic-v1`))
    await until(() => s.got.length >= 2)
    p.stop()
    const n = await p.done
    expect(n).toBeGreaterThanOrEqual(2)
    expect(n).toBeLessThan(100)
    p.stop() // idempotent
    expect(p.sent).toBe(n)
  })

  test('no listening socket of the family (or not a UDP transport): nothing is sent; bad arguments are RangeErrors', async () => {
    const t = quic()
    const s = await sink()
    expect(await t.holePunch(Multiaddr.fromString(`/ip4/127.0.0.1/udp/${s.port}/quic-v1`)).done).toBe(0)
    const { t: l4 } = await listening()
    expect(await l4.holePunch(Multiaddr.fromString('/ip6/::1/udp/4001/quic-v1')).done).toBe(0)
    expect(await udpHolePunch({}, Multiaddr.fromString(`/ip4/127.0.0.1/udp/${s.port}/quic-v1`)).done).toBe(0)
    expect(() => l4.holePunch(Multiaddr.fromString('/ip4/127.0.0.1/tcp/1'))).toThrow(RangeError)
    for (const bad of [{ maxPackets: -1 }, { timeout: 0 }, { packetSize: 0 }, { packetSize: 1201 }, { minInterval: 10, maxInterval: 5 }]) {
      expect(() => l4.holePunch(Multiaddr.fromString('/ip4/127.0.0.1/udp/1/quic-v1'), bad)).toThrow(RangeError)
    }
  })
})
