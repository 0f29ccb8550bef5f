// The QUIC connection core: two QuicConnections wired in memory on a virtual clock.
import { describe, expect, test } from 'vitest'
import { Pair } from './quic-connection-harness.js'

describe('QuicConnection handshake', () => {
  test('client and server complete the handshake with the libp2p TLS hooks: peer ids both ways, ALPN libp2p', () => {
    const p = new Pair()
    expect(p.handshake()).toBe(true)
    expect(p.clientAuth.remote!.peerId.equals(p.serverKey.toPeerId())).toBe(true)
    expect(p.serverAuth.remote!.peerId.equals(p.clientKey.toPeerId())).toBe(true)
    const done = (side: 'client' | 'server') => p.events[side].find((e) => e.kind === 'handshake-complete')
    expect(done('client')).toMatchObject({ alpn: 'libp2p' })
    expect(done('server')).toMatchObject({ alpn: 'libp2p' })
    expect(p.client.state).toBe('established')
    expect(p.server.state).toBe('established')
  })
})

/** Reads everything readable on `id` into `sink`. */
function drain(p: Pair, side: 'client' | 'server', id: number, sink: Uint8Array[]): boolean {
  for (;;) {
    const r = p.conn(side).read(id)
    if (r.data.length > 0) sink.push(r.data)
    if (r.fin) return true
    if (r.data.length === 0) return false
  }
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >> 10)) & 0xff
  return b
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0))
  let o = 0
  for (const x of parts) { out.set(x, o); o += x.length }
  return out
}

export function transfer(p: Pair, size: number): { sent: Record<string, Uint8Array>, got: Record<string, Uint8Array> } {
  const payload = { client: pattern(size, 1), server: pattern(size, 2) }
  const offset = { client: 0, server: 0 }
  const ids: Record<string, number | undefined> = { client: undefined, server: undefined }
  const sinks: Record<string, Uint8Array[]> = { client: [], server: [] }
  const fin = { client: false, server: false }
  const pump = (side: 'client' | 'server') => {
    const c = p.conn(side)
    const id = ids[side]
    if (id === undefined) return
    while (offset[side] < size) {
      const n = c.write(id, payload[side].subarray(offset[side], Math.min(size, offset[side] + 65536)))
      if (n === 0) break
      offset[side] += n
    }
    if (offset[side] === size) c.finish(id)
  }
  p.onEvent = (side, e) => {
    if (e.kind !== 'stream') return
    const ev = e.event
    if (ev.kind === 'incoming') {
      // the peer's stream carries the peer's data to us; we answer on our own stream
    }
    if (ev.kind === 'readable') {
      if (drain(p, side, ev.id, sinks[side]!)) fin[side] = true
    }
    if (ev.kind === 'writable') pump(side)
  }
  ids.client = p.client.openStream(true)
  ids.server = p.server.openStream(true)
  pump('client'); pump('server')
  const ok = p.run(() => fin.client && fin.server, 600_000)
  if (!ok) throw new Error(`transfer stalled at ${offset.client}/${offset.server} sent, ${sinks.client!.reduce((n, x) => n + x.length, 0)}/${sinks.server!.reduce((n, x) => n + x.length, 0)} received, t=${p.now}`)
  return { sent: payload, got: { client: concat(sinks.client!), server: concat(sinks.server!) } }
}

describe('QuicConnection streams', () => {
  test('a stream each way carries 16 MiB in order', () => {
    const p = new Pair({ net: { latency: 5 } })
    expect(p.handshake()).toBe(true)
    const { sent, got } = transfer(p, 16 * 1024 * 1024)
    expect(got.client!.length).toBe(sent.server!.length)
    expect(Buffer.compare(got.client!, sent.server!)).toBe(0)
    expect(Buffer.compare(got.server!, sent.client!)).toBe(0)
  }, 120_000)
})
