/**
 * The TCP punch port (src/io/tcp.ts `punchPort`, spec/hole-punching.md): every outbound dial leaves
 * from one local port with no listener; a dial that cannot use it (that 4-tuple already open, a
 * listener on the port) falls back to an ephemeral port; 'auto' adopts the port of the first dial.
 * Loopback only; the namespace NAT proof is test/netns-punch-port.test.ts.
 */
import * as net from 'node:net'
import { afterEach, describe, expect, test } from 'vitest'
import { Multiaddr } from '../src/multiaddr/index.js'
import { tcp } from '../src/io/tcp.js'
import type { RawConnection, TransportListener } from '../src/io/transport.js'

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

function localPort(c: RawConnection): number {
  const t = c.localAddr?.toDialTarget()
  if (t === undefined) throw new Error('no local address')
  return t.port
}

/** A plain listener (another transport instance, so the dialer's state is untouched). */
async function server(): Promise<TransportListener> {
  const l = await tcp().listen(Multiaddr.fromString('/ip4/127.0.0.1/tcp/0'), (c) => { cleanup.push(() => c.destroy()) })
  cleanup.push(() => l.close())
  return l
}

async function dial(t: ReturnType<typeof tcp>, addr: Multiaddr): Promise<RawConnection> {
  const c = await t.dial(addr)
  cleanup.push(() => c.destroy())
  return c
}

/** A port free right now (bound to 0, then released). */
async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

describe('tcp punch port', () => {
  test('off by default: dials use ephemeral ports', async () => {
    const t = tcp()
    expect(t.punchPort).toBeUndefined()
    const s1 = await server()
    const s2 = await server()
    const a = await dial(t, s1.addrs[0]!)
    const b = await dial(t, s2.addrs[0]!)
    expect(localPort(a)).not.toBe(localPort(b))
    expect(t.punchPortFallbacks).toBe(0)
  })

  test('a fixed punch port: dials to different destinations share it while open', async () => {
    const p = await freePort()
    const t = tcp({ punchPort: p })
    expect(t.punchPort).toBe(p)
    const s1 = await server()
    const s2 = await server()
    const a = await dial(t, s1.addrs[0]!)
    const b = await dial(t, s2.addrs[0]!)
    expect(localPort(a)).toBe(p)
    expect(localPort(b)).toBe(p)
    expect(t.punchPortFallbacks).toBe(0)
  })

  test('the same 4-tuple while open (EADDRNOTAVAIL): falls back to an ephemeral port', async () => {
    const p = await freePort()
    const t = tcp({ punchPort: p })
    const s1 = await server()
    const a = await dial(t, s1.addrs[0]!)
    const b = await dial(t, s1.addrs[0]!)
    expect(localPort(a)).toBe(p)
    expect(localPort(b)).not.toBe(p)
    expect(t.punchPortFallbacks).toBe(1)
    expect(t.punchPort).toBe(p)
  })

  test('a listener on the punch port (EADDRINUSE): falls back to an ephemeral port', async () => {
    const t = tcp({ punchPort: await freePort() })
    const occupied = await tcp().listen(Multiaddr.fromString(`/ip4/0.0.0.0/tcp/${t.punchPort!}`), (c) => c.destroy())
    cleanup.push(() => occupied.close())
    const s1 = await server()
    const a = await dial(t, s1.addrs[0]!)
    expect(localPort(a)).not.toBe(t.punchPort)
    expect(t.punchPortFallbacks).toBe(1)
  })

  test("'auto': the first dial's port becomes the punch port, later dials reuse it", async () => {
    const t = tcp({ punchPort: 'auto' })
    expect(t.punchPort).toBeUndefined()
    const s1 = await server()
    const s2 = await server()
    const a = await dial(t, s1.addrs[0]!)
    expect(t.punchPort).toBe(localPort(a))
    const b = await dial(t, s2.addrs[0]!)
    expect(localPort(b)).toBe(t.punchPort)
    expect(t.punchPortFallbacks).toBe(0)
  })

  test("'auto': a failed first dial picks no port", async () => {
    const t = tcp({ punchPort: 'auto' })
    const closed = await freePort()
    await expect(t.dial(Multiaddr.fromString(`/ip4/127.0.0.1/tcp/${closed}`))).rejects.toMatchObject({ code: 'transport/refused' })
    expect(t.punchPort).toBeUndefined()
    const s1 = await server()
    const a = await dial(t, s1.addrs[0]!)
    expect(t.punchPort).toBe(localPort(a))
  })

  test('refused dials from the punch port are not retried (only EADDRINUSE / EADDRNOTAVAIL are)', async () => {
    const p = await freePort()
    const t = tcp({ punchPort: p })
    const closed = await freePort()
    await expect(t.dial(Multiaddr.fromString(`/ip4/127.0.0.1/tcp/${closed}`))).rejects.toMatchObject({ code: 'transport/refused' })
    expect(t.punchPortFallbacks).toBe(0)
  })

  test('punchPort is checked', () => {
    expect(() => tcp({ punchPort: 0 })).toThrow(RangeError)
    expect(() => tcp({ punchPort: 65536 })).toThrow(RangeError)
    expect(() => tcp({ punchPort: 1.5 })).toThrow(RangeError)
    expect(() => tcp({ punchPort: 'x' as unknown as 'auto' })).toThrow(RangeError)
  })
})
