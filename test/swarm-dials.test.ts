/**
 * The swarm's dial state machine alone (src/swarm/dials.ts), with a fake host: fresh addresses for
 * a peer the store has never seen (finding 3), the maxDialAddrs cap when addresses are merged into
 * a pending dial (finding 8), DialError with each address's cause, and cancellation.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { createNode, type WeftNode } from '../src/node.js'
import { DialError } from '../src/core/errors.js'
import { TransportError } from '../src/io/transport.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { generatePrivateKey, type PeerId } from '../src/peer-id/index.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { Dials, type Dial, type DialHost, type DialWaiter } from '../src/swarm/dials.js'

const me = generatePrivateKey(nodeCrypto).publicKey.toPeerId()
const peer = generatePrivateKey(nodeCrypto).publicKey.toPeerId()
const addr = (i: number): Multiaddr => Multiaddr.fromString(`/ip4/10.0.0.${i}/tcp/4001`)

interface Outcome { w: DialWaiter; c: string | undefined; error: DialError | undefined }

function setup(opts: { known?: Multiaddr[]; maxDialAddrs?: number; maxPendingDials?: number; connLimit?: number } = {}): {
  dials: Dials<string>; connects: Array<{ d: Dial; addr: Multiaddr; id: number }>; outcomes: Outcome[]; abandoned: number[]
} {
  const connects: Array<{ d: Dial; addr: Multiaddr; id: number }> = []
  const outcomes: Outcome[] = []
  const abandoned: number[] = []
  let next = 1
  const host: DialHost<string> = {
    localPeer: me,
    stopped: false,
    openConnection: () => undefined,
    knownAddrs: (p: PeerId) => (p.equals(peer) ? opts.known ?? [] : []),
    connect: (d, a) => {
      if (connects.length >= (opts.connLimit ?? Infinity)) return undefined
      const id = next++
      connects.push({ d, addr: a, id })
      return id
    },
    abandon: (id) => { abandoned.push(id) },
    notify: (w, c, error) => { outcomes.push({ w, c, error }) },
  }
  const dials = new Dials(host, { maxDialAddrs: opts.maxDialAddrs ?? 8, maxPendingDials: opts.maxPendingDials ?? 64 })
  return { dials, connects, outcomes, abandoned }
}

const user = (requestId: number): DialWaiter => ({ owner: { kind: 'user' }, requestId })

describe('dials', () => {
  test('addresses given with the dial are tried for a peer the store has never seen', () => {
    const { dials, connects, outcomes } = setup()
    dials.dial(peer, user(1), [addr(1)])
    expect(outcomes).toEqual([])
    expect(connects.map((x) => x.addr.toString())).toEqual([addr(1).toString()])
  })

  test('a peer with no given and no known addresses fails with DialError dial/no-addresses', () => {
    const { dials, outcomes } = setup()
    dials.dial(peer, user(1))
    expect(outcomes[0]!.error).toBeInstanceOf(DialError)
    expect(outcomes[0]!.error!.code).toBe('dial/no-addresses')
  })

  test('given addresses come first, then the known ones, deduplicated', () => {
    const { dials, connects } = setup({ known: [addr(2), addr(1)] })
    dials.dial(peer, user(1), [addr(1)])
    const d = connects[0]!.d
    expect(d.addrs.map(String)).toEqual([addr(1), addr(2)].map(String))
  })

  test('maxDialAddrs holds on merges into a pending dial: at the limit, and one past', () => {
    const { dials, connects } = setup({ maxDialAddrs: 3 })
    dials.dial(peer, user(1), [addr(1), addr(2)])
    const d = connects[0]!.d
    dials.dial(peer, user(2), [addr(1), addr(3)]) // addr(1) is a duplicate; addr(3) reaches the limit
    expect(d.addrs.map(String)).toEqual([addr(1), addr(2), addr(3)].map(String))
    dials.dial(peer, user(3), [addr(4)]) // one past the limit: dropped
    expect(d.addrs).toHaveLength(3)
    expect(d.waiters).toHaveLength(3)
    expect(connects).toHaveLength(1) // still one dial, one attempt in flight
  })

  test('maxDialAddrs holds on the first request too (a peer advertising many addresses)', () => {
    const { dials, connects } = setup({ maxDialAddrs: 3 })
    dials.dial(peer, user(1), Array.from({ length: 1000 }, (_, i) => addr(i % 250)))
    expect(connects[0]!.d.addrs).toHaveLength(3)
  })

  test('every address failing is DialError dial/all-failed listing each address and its cause', () => {
    const { dials, connects, outcomes } = setup()
    dials.dial(peer, user(1), [addr(1), addr(2)])
    const d = connects[0]!.d
    const e1 = new TransportError('transport/refused', 'one')
    const e2 = new TransportError('transport/unreachable', 'two')
    dials.attemptFailed(d, e1)
    expect(connects).toHaveLength(2)
    dials.attemptFailed(d, e2)
    const err = outcomes[0]!.error!
    expect(err).toBeInstanceOf(DialError)
    expect(err.code).toBe('dial/all-failed')
    expect(err.attempts).toEqual([{ addr: addr(1).toString(), error: e1 }, { addr: addr(2).toString(), error: e2 }])
    expect(dials.size).toBe(0)
  })

  test('every address timing out is dial/timeout', () => {
    const { dials, connects, outcomes } = setup()
    dials.dial(peer, user(1), [addr(1)])
    dials.attemptFailed(connects[0]!.d, new TransportError('transport/timeout', 'slow'))
    expect(outcomes[0]!.error!.code).toBe('dial/timeout')
  })

  test('the connection limit and the pending-dial limit are DialErrors', () => {
    const a = setup({ connLimit: 0 })
    a.dials.dial(peer, user(1), [addr(1)])
    expect(a.outcomes[0]!.error!.code).toBe('dial/connection-limit')
    const b = setup({ maxPendingDials: 1 })
    b.dials.dial(addr(1), user(1))
    b.dials.dial(addr(2), user(2))
    expect(b.outcomes.map((o) => o.error?.code)).toEqual(['dial/too-many-pending'])
  })

  test('dialing our own id is dial/self; stop is dial/aborted for every waiter', () => {
    const { dials, outcomes } = setup()
    dials.dial(me, user(1), [addr(1)])
    expect(outcomes[0]!.error!.code).toBe('dial/self')
    dials.dial(peer, user(2), [addr(1)])
    dials.dial(peer, user(3))
    dials.abortAll('stopped')
    expect(outcomes.slice(1).map((o) => [o.w.requestId, o.error?.code])).toEqual([[2, 'dial/aborted'], [3, 'dial/aborted']])
  })

  test('success reaches every waiter once; a later failure of the attempt is ignored', () => {
    const { dials, connects, outcomes } = setup()
    dials.dial(peer, user(1), [addr(1)])
    dials.dial(peer, user(2))
    const d = connects[0]!.d
    dials.succeed(d, 'conn')
    dials.attemptFailed(d, new Error('late'))
    expect(outcomes.map((o) => [o.w.requestId, o.c])).toEqual([[1, 'conn'], [2, 'conn']])
  })

  test('cancelling the last waiter ends the dial and abandons its attempt; others keep waiting', () => {
    const { dials, connects, outcomes, abandoned } = setup()
    dials.dial(peer, user(1), [addr(1)])
    dials.dial(peer, user(2))
    expect(dials.cancel((w) => w.requestId === 1)).toBe(true)
    expect(dials.size).toBe(1)
    expect(abandoned).toEqual([])
    expect(dials.cancel((w) => w.requestId === 2)).toBe(true)
    expect(dials.size).toBe(0)
    expect(abandoned).toEqual([connects[0]!.id])
    expect(dials.cancel((w) => w.requestId === 2)).toBe(false)
    expect(outcomes).toEqual([])
  })
})

describe('maxDialAddrs through createNode', () => {
  const nodes: WeftNode[] = []
  afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())) })

  async function dialThird(maxDialAddrs: number): Promise<unknown> {
    const a = await createNode({ listen: ['/memory/0'], services: {} })
    const b = await createNode({ listen: [], services: {}, limits: { maxDialAddrs } })
    nodes.push(a, b)
    // Two addresses nobody listens on, then the real one: only a third attempt can succeed.
    b.peerStore.addAddrs(a.peerId, [Multiaddr.fromString('/memory/999001'), Multiaddr.fromString('/memory/999002'), a.getMultiaddrs()[0]!.withoutPeerId()])
    return b.dial(a.peerId).catch((e: unknown) => e)
  }

  test('at the limit (3) the third address is tried; one below it (2) it is not', async () => {
    expect(await dialThird(3)).toMatchObject({ direction: 'outbound' })
    const e = await dialThird(2)
    expect(e).toBeInstanceOf(DialError)
    expect(e).toMatchObject({ code: 'dial/all-failed' })
    expect((e as DialError).attempts.map((x) => x.addr)).toEqual(['/memory/999001', '/memory/999002'])
  })
})
