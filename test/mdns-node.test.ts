/**
 * `createNode({ discovery: { mdns } })` (spec/mdns.md, "Socket and node"): weft/node adds the mDNS
 * service on the UDP socket (also when `services` is given), `false` adds none, a service the user
 * named `mdns` is kept, and weft/browser refuses the option (no UDP multicast in browsers).
 */
import { describe, expect, test } from 'vitest'
import { createNode } from '../src/node.js'
import { createNode as createBrowserNode } from '../src/browser.js'
import { Mdns, mdns, type MdnsSocketFactory } from '../src/mdns/index.js'
import { UsageError } from '../src/core/errors.js'

describe('discovery.mdns', () => {
  test('true or an object adds the mdns service (with or without services); false or absent adds none', async () => {
    for (const o of [true, { interval: 5000, ttl: 120, ipv6: false, autoDial: true }] as const) {
      const node = await createNode({ start: false, discovery: { mdns: o } })
      expect(node.service<Mdns>('mdns')).toBeInstanceOf(Mdns)
      const bare = await createNode({ start: false, services: {}, discovery: { mdns: o } })
      expect(bare.service<Mdns>('mdns')).toBeInstanceOf(Mdns)
    }
    for (const d of [{ mdns: false }, {}]) {
      const node = await createNode({ start: false, discovery: d })
      expect(() => node.service('mdns')).toThrow(UsageError)
    }
  })

  test('options are checked when the node is created', async () => {
    await expect(createNode({ start: false, discovery: { mdns: { interval: -1 } } })).rejects.toThrow(RangeError)
  })

  test("a service named mdns in services is kept (the user's socket)", async () => {
    let opened = 0
    const socket: MdnsSocketFactory = {
      open: async () => { opened++; return { send() {}, interfaceIps: () => [], close() {} } },
      now: () => 0,
      after: () => () => {},
    }
    const node = await createNode({ listen: [], services: { mdns: mdns({ socket }) }, discovery: { mdns: true } })
    for (let i = 0; i < 100 && opened === 0; i++) await new Promise((r) => setTimeout(r, 1))
    expect(opened).toBe(1)
    await node.stop()
  })

  test('weft/browser refuses discovery.mdns', async () => {
    await expect(createBrowserNode({ start: false, discovery: { mdns: true } })).rejects.toThrow(UsageError)
    await expect(createBrowserNode({ start: false, discovery: { mdns: false } })).resolves.toBeDefined()
  })
})
