/**
 * The measured attack of issue 12, end to end over loopback: 200 idle TCP sockets from one address
 * filled all 64 pending-inbound slots, and every honest dial failed (`unexpected-eof: during security`)
 * until the 10 s upgrade timeout freed them; an attacker that simply reconnected kept the node
 * unreachable. With pending-inbound fairness (src/swarm/ip-limits.ts) an honest peer from another
 * address gets in at once, though loopback is exempt from the per-IP limits.
 *
 * The attacker binds 127.0.0.2 (Linux routes all of 127/8 to lo); the honest node dials from 127.0.0.1.
 * The second case spreads the idle sockets over 100 addresses, so every address holds about one slot
 * and each reconnection evicts another: what protects the honest handshake there is that it speaks
 * (an idle socket is evicted before a connection whose handshake has started).
 */
import { connect, type Socket } from 'node:net'
import { afterEach, expect, test } from 'vitest'
import { createNode, type WeftNode } from '../src/node.js'

const nodes: WeftNode[] = []
const sockets = new Set<Socket>()
let attacking = false
afterEach(async () => {
  attacking = false
  for (const s of sockets) s.destroy()
  sockets.clear()
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

/** Idle sockets from `addrs` (round robin), reconnecting at once whenever the node closes one. */
async function attack(port: number, addrs: readonly string[], n: number): Promise<{ closed: () => number }> {
  let closed = 0
  let opened = 0
  attacking = true
  const open = (i: number): void => {
    const s = connect({ host: '127.0.0.1', port, localAddress: addrs[i % addrs.length]! })
    sockets.add(s)
    s.resume() // read and drop what the node says (its multistream header), so its close is seen
    s.on('connect', () => { opened++ })
    s.on('error', () => {})
    s.on('close', () => {
      sockets.delete(s)
      closed++
      if (attacking) open(i) // the attacker simply reconnects
    })
  }
  for (let i = 0; i < n; i++) open(i)
  // Positive signal: every socket connected and the node closed the ones it had no slot for (and
  // every reconnection since), so the attacker holds all 64 pending slots.
  await expect.poll(() => opened >= n && closed >= n - 64, { timeout: 10_000, interval: 20 }).toBe(true)
  return { closed: () => closed }
}

test('200 idle sockets from 127.0.0.2, reconnecting when closed: an honest dial from 127.0.0.1 still succeeds', async () => {
  const server = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  nodes.push(server)
  const addr = server.getMultiaddrs()[0]!
  await attack(addr.toDialTarget()!.port, ['127.0.0.2'], 200)
  expect(server.swarm.connections()).toHaveLength(0)

  const honest = await createNode({ listen: [] })
  nodes.push(honest)
  // Well under the 10 s upgrade timeout that used to be the only way a slot came free.
  const conn = await honest.dial(addr, { signal: AbortSignal.timeout(5_000) })
  expect(conn.peer.equals(server.peerId)).toBe(true)
  expect(await honest.ping(server.peerId, { signal: AbortSignal.timeout(5_000) })).toBeGreaterThanOrEqual(0)
  expect(sockets.size).toBeGreaterThan(0) // the attack was still going on
}, 30_000)

test('idle sockets from 100 addresses (127.0.1.x), reconnecting at once: every honest dial succeeds', async () => {
  const server = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  nodes.push(server)
  const addr = server.getMultiaddrs()[0]!
  const a = await attack(addr.toDialTarget()!.port, Array.from({ length: 100 }, (_, i) => `127.0.1.${i + 1}`), 200)
  const before = a.closed()
  const honest = await createNode({ listen: [] })
  nodes.push(honest)
  for (let i = 0; i < 5; i++) {
    const conn = await honest.dial(addr, { signal: AbortSignal.timeout(5_000) })
    expect(await honest.ping(conn.peer, { signal: AbortSignal.timeout(5_000) })).toBeGreaterThanOrEqual(0)
    await honest.hangUp(conn.peer)
  }
  expect(a.closed()).toBeGreaterThan(before) // the attacker kept churning (each eviction is a reconnection)
}, 30_000)

test('a stream of new idle sockets that never read, from 100 addresses: evicted handshakes free their slots at once; every honest dial succeeds', async () => {
  const server = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  nodes.push(server)
  const addr = server.getMultiaddrs()[0]!
  const port = addr.toDialTarget()!.port
  // A new socket every 2 ms, round robin over 100 addresses, never read, dropped by the attacker after
  // 1 s: each arrival evicts a pending one, and a graceful close would keep the evicted socket (and its
  // connection and resource slots) until the attacker's FIN, which never comes before the 1 s.
  let n = 0
  attacking = true
  const timer = setInterval(() => {
    if (!attacking) return
    const s = connect({ host: '127.0.0.1', port, localAddress: `127.0.1.${1 + (n++ % 100)}` })
    sockets.add(s)
    s.on('error', () => {})
    setTimeout(() => { s.destroy(); sockets.delete(s) }, 1_000)
  }, 2)
  try {
    await expect.poll(() => n, { timeout: 10_000, interval: 20 }).toBeGreaterThan(400) // the stream is going
    const honest = await createNode({ listen: [] })
    nodes.push(honest)
    for (let i = 0; i < 5; i++) {
      const conn = await honest.dial(addr, { signal: AbortSignal.timeout(5_000) })
      expect(await honest.ping(conn.peer, { signal: AbortSignal.timeout(5_000) })).toBeGreaterThanOrEqual(0)
      await honest.hangUp(conn.peer)
    }
  } finally {
    clearInterval(timer)
  }
}, 30_000)
