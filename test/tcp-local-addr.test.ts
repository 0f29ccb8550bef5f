/**
 * Inbound TCP connections to one listener share one local Multiaddr (src/io/tcp.ts): a parsed
 * address per connection cost ~0.6 KiB of heap, 6 MB over 10,000 connections (bench/README.md
 * "Scale"). The shared address is still each connection's right local address.
 */
import { describe, expect, test } from 'vitest'
import { Multiaddr } from '../src/multiaddr/index.js'
import { tcp } from '../src/io/tcp.js'
import type { RawConnection } from '../src/io/transport.js'

describe('tcp listener: local address', () => {
  test('accepted connections share one Multiaddr for the same local address', async () => {
    const t = tcp()
    const accepted: RawConnection[] = []
    let arrived: () => void = () => {}
    const l = await t.listen(Multiaddr.fromString('/ip4/127.0.0.1/tcp/0'), (c) => { accepted.push(c); arrived() })
    const dialed: RawConnection[] = []
    for (let i = 0; i < 3; i++) {
      const got = new Promise<void>((r) => { arrived = r })
      dialed.push(await t.dial(l.addrs[0]!))
      await got
    }
    expect(accepted).toHaveLength(3)
    expect(accepted[0]!.localAddr).toBeDefined()
    expect(accepted[1]!.localAddr).toBe(accepted[0]!.localAddr)
    expect(accepted[2]!.localAddr).toBe(accepted[0]!.localAddr)
    expect(accepted[0]!.localAddr!.toString()).toBe(l.addrs[0]!.toString())
    // remote addresses are each connection's own
    expect(new Set(accepted.map((c) => c.remoteAddr.toString())).size).toBe(3)
    for (const c of [...accepted, ...dialed]) c.destroy()
    await l.close()
  })
})
