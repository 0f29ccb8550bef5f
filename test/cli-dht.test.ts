import { afterAll, beforeAll, expect, test } from 'vitest'
import { cli } from './helpers/cli.js'
import { toHex, utf8 } from '../src/core/bytes.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { generatePrivateKey } from '../src/peer-id/index.js'
import { createNode, type WeftNode } from '../src/node.js'

let servers: WeftNode[] = []
let boot: string


beforeAll(async () => {
  const first = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  boot = first.getMultiaddrs()[0]!.toString()
  servers = [first]
  for (let i = 0; i < 3; i++) {
    const n = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], dht: { bootstrapPeers: [{ peer: first.peerId, addrs: [first.getMultiaddrs()[0]!.withoutPeerId()] }] } })
    await n.dht.bootstrap()
    servers.push(n)
  }
})
afterAll(async () => { await Promise.all(servers.map((s) => s.stop())) })

test('weft dht put then get a /pk record through the network', async () => {
  const key = generatePrivateKey(nodeCrypto).publicKey
  const dhtKey = `0x${toHex(utf8('/pk/'))}${toHex(key.toPeerId().multihash)}`
  const put = await cli('dht', 'put', dhtKey, toHex(key.bytes), '--value-hex', '--bootstrap', boot, '--json')
  expect(put.err).toBe('')
  expect(put.code).toBe(0)
  expect(JSON.parse(put.out).stored.length).toBeGreaterThan(0)
  const get = await cli('dht', 'get', dhtKey, '--bootstrap', boot, '--json')
  expect(get.code).toBe(0)
  expect(JSON.parse(get.out).value).toBe(toHex(key.bytes))
})

test('weft dht find-peer and closest', async () => {
  const target = servers[2]!.peerId.toString()
  const r = await cli('dht', 'find-peer', target, '--bootstrap', boot, '--json')
  expect(r.code).toBe(0)
  expect(JSON.parse(r.out).peer).toBe(target)
  const c = await cli('dht', 'closest', '0x00', '--bootstrap', boot, '--json')
  expect(JSON.parse(c.out).length).toBeGreaterThan(0)
})

test('an invalid record is refused; usage errors are one line', async () => {
  const bad = await cli('dht', 'put', '/pk/nonsense', 'x', '--bootstrap', boot)
  expect(bad.code).toBe(1)
  expect(bad.err).toMatch(/^error: /)
  expect((await cli('dht', 'get', 'k')).code).toBe(1)
  expect((await cli('dht', 'get', 'k', '--bootstrap', '/ip4/127.0.0.1/tcp/1')).err).toMatch(/p2p/)
})
