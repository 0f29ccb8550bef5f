/**
 * Stopping a node that has QUIC connections: its CONNECTION_CLOSE reaches the peer before the UDP
 * socket closes, so the peer ends the connection at once instead of after its idle timeout
 * (RFC 9000 §10.2). Idle timeouts here are 120 s, far beyond the test's own timeout.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { quic } from '../src/edge/quic-transport.js'
import { createNode, type WeftNode } from '../src/node.js'

const nodes: WeftNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

async function node(listen: string[]): Promise<WeftNode> {
  const n = await createNode({ listen, transports: [quic({ connection: { limits: { idleTimeout: 120_000 }, keepAliveInterval: 0 } })], services: {} })
  nodes.push(n)
  return n
}

describe('stop() over QUIC v1', () => {
  for (const who of ['dialer', 'listener'] as const) {
    test(`the ${who} stops: the other side sees the connection close at once`, async () => {
      const a = await node(['/ip4/127.0.0.1/udp/0/quic-v1'])
      const b = await node([])
      await b.ping(a.getMultiaddrs()[0]!)
      const [stopping, other] = who === 'dialer' ? [b, a] : [a, b]
      const closed = new Promise<void>((resolve) => other.on('connection:close', () => resolve()))
      await stopping.stop()
      await closed
      expect(other.getConnections().length).toBe(0)
    }, 15_000)
  }
})
