/**
 * The measured attack of issue 12, end to end over loopback: 200 idle TCP sockets from one address
 * filled all 64 pending-inbound slots, and every honest dial failed (`unexpected-eof: during security`)
 * until the 10 s upgrade timeout freed them; an attacker that simply reconnected kept the node
 * unreachable. With pending-inbound fairness (src/swarm/ip-limits.ts) an honest peer from another
 * address gets in at once, though loopback is exempt from the per-IP limits.
 *
 * The attacker binds 127.0.0.2 (Linux routes all of 127/8 to lo); the honest node dials from 127.0.0.1.
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

test('200 idle sockets from 127.0.0.2, reconnecting when closed: an honest dial from 127.0.0.1 still succeeds', async () => {
  const server = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  nodes.push(server)
  const addr = server.getMultiaddrs()[0]!
  const port = Number(addr.toString().split('/')[4])
  let closed = 0
  let opened = 0
  attacking = true
  const open = (): void => {
    const s = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' })
    sockets.add(s)
    s.on('connect', () => { opened++ })
    s.on('error', () => {})
    s.on('close', () => {
      sockets.delete(s)
      closed++
      if (attacking) open() // the attacker simply reconnects
    })
  }
  for (let i = 0; i < 200; i++) open()
  // Positive signal: every socket connected and the server closed the 136 it had no slot for (and
  // every reconnection since), so the attacker holds all 64 pending slots.
  await expect.poll(() => opened >= 200 && closed >= 136, { timeout: 10_000, interval: 20 }).toBe(true)
  expect(server.swarm.connections()).toHaveLength(0)

  const honest = await createNode({ listen: [] })
  nodes.push(honest)
  // Well under the 10 s upgrade timeout that used to be the only way a slot came free.
  const conn = await honest.dial(addr, { signal: AbortSignal.timeout(5_000) })
  expect(conn.peer.equals(server.peerId)).toBe(true)
  expect(await honest.ping(server.peerId, { signal: AbortSignal.timeout(5_000) })).toBeGreaterThanOrEqual(0)
  expect(sockets.size).toBeGreaterThan(0) // the attack was still going on
}, 30_000)
