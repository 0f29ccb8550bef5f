// A server that only sends (the client answers with ACKs alone) after a handshake whose client
// Finished came in the client's first Handshake packet: RFC 9000 §8.1 validates the client's
// address by that packet, so the server is no longer held to three times what it received.
// Before the fix the Finished discarded the Handshake space before the packet was counted as
// proof, the address stayed unvalidated and a server-to-client transfer crawled at three times
// the client's ACK bytes (a weft request-response over QUIC timed out on a 30 kB response).
import { describe, expect, test } from 'vitest'
import { Pair, concat, pattern } from './quic-connection-harness.js'

describe('server to client transfer after the handshake (RFC 9000 §8.1)', () => {
  test('the client Handshake packet validates its address: 256 KiB flows server to client at full speed', () => {
    const p = new Pair({ net: { latency: 5 } })
    expect(p.handshake()).toBe(true)
    const size = 256 * 1024
    const data = pattern(size, 7)
    const got: Uint8Array[] = []
    let fin = false
    let id: number | undefined
    let offset = 0
    const pump = (): void => {
      if (id === undefined) return
      while (offset < size) {
        const n = p.server.write(id, data.subarray(offset, Math.min(size, offset + 65536)))
        if (n === 0) return
        offset += n
      }
      p.server.finish(id)
    }
    p.onEvent = (side, e) => {
      if (e.kind !== 'stream') return
      if (side === 'server' && e.event.kind === 'writable') pump()
      if (side === 'client' && e.event.kind === 'readable') {
        for (;;) {
          const r = p.client.read(e.event.id)
          if (r.data.length > 0) got.push(r.data)
          if (r.fin) { fin = true; break }
          if (r.data.length === 0) break
        }
      }
    }
    id = p.server.openStream(true)
    expect(id).toBeDefined()
    pump()
    const start = p.now
    // 256 KiB at a 10 ms RTT takes well under a second of virtual time; a server held to three
    // times the client's ACK bytes needs minutes
    expect(p.run(() => fin, 10_000)).toBe(true)
    expect(concat(got)).toEqual(data)
    expect(p.now - start).toBeLessThan(2_000)
    expect(p.server.stats.bytesSent).toBeGreaterThan(3 * p.server.stats.bytesReceived)
  })
})
