/**
 * The mDNS node service over a fake socket (the UDP one is tested in namespaces:
 * test/netns-mdns.test.ts): query at start and on the timer, answers with the non-loopback listen
 * addresses, its own response ignored, loopback / link-local addresses dropped, peer:discovery
 * and the peer store, malformed datagrams counted and never thrown.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { createNode, nodeCrypto, tcp, type WeftNode } from '../src/node.js'
import { mdns, type Mdns, type MdnsSocketFactory, buildQuery, buildResponse, decodeDnsMessage, parseResponse, peerNameFromBytes, SERVICE_NAME } from '../src/mdns/index.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { generatePrivateKey } from '../src/peer-id/keys.js'

class FakeSocket {
  sent: Uint8Array[] = []
  ticks: Array<() => void> = []
  deliver: ((d: Uint8Array) => void) | undefined
  closed = false
  factory: MdnsSocketFactory = {
    open: async (h) => {
      this.deliver = (d) => h.onPacket(d, { address: '192.0.2.50', port: 5353 })
      return { send: (p) => void this.sent.push(p), interfaceIps: () => ['192.0.2.7'], close: () => void (this.closed = true) }
    },
    every: (_ms, f) => {
      this.ticks.push(f)
      return () => void (this.ticks = [])
    },
  }
}

const nodes: WeftNode[] = []
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop()
})

async function setup(autoDial = false): Promise<{ node: WeftNode; sock: FakeSocket }> {
  const sock = new FakeSocket()
  const node = await createNode({ transports: [tcp()], listen: ['/ip4/0.0.0.0/tcp/0'], services: { mdns: mdns({ socket: sock.factory, autoDial }) } })
  nodes.push(node)
  for (let i = 0; i < 50 && sock.deliver === undefined; i++) await new Promise((r) => setTimeout(r, 1))
  return { node, sock }
}

const otherPeer = () => generatePrivateKey(nodeCrypto).publicKey.toPeerId()

describe('mdns service', () => {
  test('queries at start and on every tick', async () => {
    const { sock } = await setup()
    expect(sock.sent.length).toBe(1)
    const q = decodeDnsMessage(sock.sent[0]!)
    expect(q.questions.map((x) => [x.name, x.type])).toEqual([[SERVICE_NAME, 12]])
    expect(sock.ticks.length).toBe(1)
    sock.ticks[0]!()
    expect(sock.sent.length).toBe(2)
  })

  test('answers a query with its non-loopback listen addresses; its own response is not a discovery', async () => {
    const { node, sock } = await setup()
    const seen: unknown[] = []
    node.on('peer:discovery', (d) => seen.push(d))
    sock.deliver!(buildQuery())
    const answers = sock.sent.slice(1)
    expect(answers.length).toBe(1)
    const peers = parseResponse(decodeDnsMessage(answers[0]!))
    expect(peers.length).toBe(1)
    expect(peers[0]!.peer.equals(node.peerId)).toBe(true)
    // the TCP transport already expanded 0.0.0.0 to the host's interfaces; loopback is left out
    const mine = node.getMultiaddrs().map((a) => a.withoutPeerId().toString()).filter((a) => !a.startsWith('/ip4/127.'))
    expect(peers[0]!.addrs.map(String)).toEqual(mine)
    sock.deliver!(answers[0]!) // multicast loopback brings our own response back
    expect(seen).toEqual([])
    expect(node.service<Mdns>('mdns').stats()).toMatchObject({ answered: 1, discovered: 0 })
  })

  test("another peer's response: an event with its usable addresses (loopback and link-local dropped), in the peer store", async () => {
    const { node, sock } = await setup()
    const seen: Array<{ peer: { toString(): string }; addrs: Multiaddr[]; source: string }> = []
    node.on('peer:discovery', (d) => seen.push(d))
    const peer = otherPeer()
    const addrs = ['/ip4/127.0.0.1/tcp/4001', '/ip4/169.254.3.3/tcp/4001', '/ip4/192.0.2.9/tcp/4001', '/ip6/fe80::1/tcp/4001'].map((a) => Multiaddr.fromString(a))
    for (const p of buildResponse({ peerId: peer, peerName: peerNameFromBytes(new Uint8Array(32).fill(7)), addrs, ips: [new Uint8Array([192, 0, 2, 9])] })) sock.deliver!(p)
    expect(seen.length).toBe(1)
    expect(seen[0]!.peer.toString()).toBe(peer.toString())
    expect(seen[0]!.addrs.map(String)).toEqual(['/ip4/192.0.2.9/tcp/4001'])
    expect(seen[0]!.source).toBe('mdns')
    expect(node.peerStore.get(peer)?.addrs.map(String)).toContain('/ip4/192.0.2.9/tcp/4001')
  })

  test('a response with only loopback addresses is no discovery', async () => {
    const { node, sock } = await setup()
    const seen: unknown[] = []
    node.on('peer:discovery', (d) => seen.push(d))
    for (const p of buildResponse({ peerId: otherPeer(), peerName: peerNameFromBytes(new Uint8Array(32)), addrs: [Multiaddr.fromString('/ip4/127.0.0.1/tcp/1')] })) sock.deliver!(p)
    expect(seen).toEqual([])
  })

  test('malformed datagrams are counted, never thrown, and the next query is still answered', async () => {
    const { node, sock } = await setup()
    const garbage = [new Uint8Array([1, 2, 3]), new Uint8Array([0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12]), new Uint8Array(600).fill(0xff)]
    for (const g of garbage) expect(() => sock.deliver!(g)).not.toThrow()
    expect(node.service<Mdns>('mdns').stats()).toMatchObject({ received: 3, malformed: 3 })
    sock.deliver!(buildQuery())
    expect(sock.sent.length).toBe(2)
  })

  test('stop closes the socket and the timer', async () => {
    const { node, sock } = await setup()
    await node.stop()
    nodes.length = 0
    expect(sock.closed).toBe(true)
    expect(sock.ticks).toEqual([])
  })

  test('options are checked', () => {
    const socket = new FakeSocket().factory
    expect(() => mdns({ socket, interval: 0 })).toThrow(RangeError)
    expect(() => mdns({ socket, ttl: 1.5 })).toThrow(RangeError)
  })
})
