// The Ed25519 worker pool (src/io/verify-pool.ts) and gossipsub StrictSign on it between two Node
// nodes (spec/gossipsub.md "Validation on workers"): answers in job order, a worker that dies (its
// batches retried, then checked inline: nothing lost, nothing hangs), close with batches out, and a
// node stopped with messages in flight.
import { verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { afterEach, describe, expect, test } from 'vitest'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { ed25519ThreadpoolVerifier, ed25519VerifyPool, type VerifyPool } from '../src/io/verify-pool.js'
import type { Ed25519Job } from '../src/core/crypto/batch-verify.js'
import { createNode, gossipsub } from '../src/node.js'
import type { WeftNode } from '../src/edge/weft-node.js'

const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b)

/** n jobs, every third one with a wrong signature (a flipped bit). */
function jobs(n: number): { jobs: Ed25519Job[]; expected: number[] } {
  const out: Ed25519Job[] = []
  const expected: number[] = []
  for (let i = 0; i < n; i++) {
    const s = seed(1 + (i % 3))
    const message = new TextEncoder().encode(`message ${i}`)
    const signature = nodeCrypto.ed25519Sign(s, message)
    const bad = i % 3 === 2
    if (bad) signature[5]! ^= 1
    out.push({ publicKey: nodeCrypto.ed25519PublicKey(s), message, signature })
    expected.push(bad ? 0 : 1)
  }
  return { jobs: out, expected }
}

const pools: VerifyPool[] = []
const nodes: WeftNode[] = []
afterEach(async () => {
  for (const p of pools.splice(0)) p.close()
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})
function pool(o: Parameters<typeof ed25519VerifyPool>[0]): VerifyPool {
  const p = ed25519VerifyPool(o)
  pools.push(p)
  return p
}

describe('ed25519VerifyPool', () => {
  test('batches checked by workers, one byte per job in order; concurrent batches spread over the workers', async () => {
    const p = pool({ size: 2 })
    const a = jobs(40)
    const b = jobs(7)
    const [ra, rb] = await Promise.all([p.verify(a.jobs), p.verify(b.jobs)])
    expect([...ra]).toEqual(a.expected)
    expect([...rb]).toEqual(b.expected)
    expect(p.stats()).toMatchObject({ workerBatches: 2, inline: 0, deaths: 0, live: 2 })
  })

  test('a key or signature of the wrong length is invalid (checked inline, never packed)', async () => {
    const p = pool({ size: 1 })
    const { jobs: js } = jobs(2)
    const r = await p.verify([{ ...js[0]!, signature: js[0]!.signature.subarray(0, 63) }, js[1]!])
    expect([...r]).toEqual([0, 1])
    expect(p.stats().inline).toBe(1)
  })

  test('a worker that dies: its batch is retried on another, then checked inline; results stay right and nothing hangs', async () => {
    // every worker of this source dies on its first batch
    const p = pool({ size: 2, source: "require('node:worker_threads').parentPort.on('message', () => process.exit(3))" })
    const a = jobs(9)
    expect([...(await p.verify(a.jobs))]).toEqual(a.expected)
    const st = p.stats()
    expect(st.deaths).toBeGreaterThanOrEqual(2)
    expect(st.retried).toBeGreaterThanOrEqual(1)
    expect(st.inline).toBe(1)
    // after maxRespawns deaths the pool checks inline without spawning
    for (let i = 0; i < 3; i++) expect([...(await p.verify(a.jobs))]).toEqual(a.expected)
    expect(p.stats().deaths).toBeLessThanOrEqual(4)
  })

  test('a worker whose answer is malformed: the batch is retried', async () => {
    const p = pool({ size: 1, maxRespawns: 0, source: "const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage({ id: m.id, out: new Uint8Array(0) }))" })
    const a = jobs(3)
    expect([...(await p.verify(a.jobs))]).toEqual(a.expected)
    expect(p.stats().retried).toBe(2)
    expect(p.stats().inline).toBe(1)
  })

  test('close: batches out are rejected, later ones too; close is idempotent', async () => {
    const p = pool({ size: 1, source: "require('node:worker_threads').parentPort.on('message', () => {})" }) // never answers
    const out = p.verify(jobs(2).jobs)
    p.close()
    p.close()
    await expect(out).rejects.toThrow('closed')
    await expect(p.verify(jobs(1).jobs)).rejects.toThrow('closed')
    expect(p.stats().live).toBe(0)
  })

  test('size must be a positive integer', () => {
    expect(() => ed25519VerifyPool({ size: 0 })).toThrow(RangeError)
    expect(() => ed25519VerifyPool({ size: 1.5 })).toThrow(RangeError)
  })
})

describe('ed25519ThreadpoolVerifier', () => {
  test('one byte per job in order; wrong lengths invalid; at most `concurrency` on the threadpool, the rest in order', async () => {
    const v = ed25519ThreadpoolVerifier({ concurrency: 2 })
    const a = jobs(30)
    const b = jobs(5)
    const bad = { ...a.jobs[0]!, publicKey: a.jobs[0]!.publicKey.subarray(0, 31) }
    const [ra, rb, rc] = await Promise.all([v.verify(a.jobs), v.verify(b.jobs), v.verify([bad, a.jobs[1]!])])
    expect([...ra]).toEqual(a.expected)
    expect([...rb]).toEqual(b.expected)
    expect([...rc]).toEqual([0, 1])
    expect([...(await v.verify([]))]).toEqual([])
    v.close()
  })

  test('close: batches out and later ones are rejected; nothing hangs', async () => {
    const v = ed25519ThreadpoolVerifier({ concurrency: 1 })
    const out = v.verify(jobs(20).jobs)
    v.close()
    await expect(out).rejects.toThrow('closed')
    await expect(v.verify(jobs(1).jobs)).rejects.toThrow('closed')
  })

  test('concurrency must be a positive integer', () => {
    expect(() => ed25519ThreadpoolVerifier({ concurrency: 0 })).toThrow(RangeError)
  })

  test('in flight: at most `concurrency`; by default twice the threadpool size (each thread has its next job queued)', async () => {
    const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4
    const inFlight = async (concurrency: number | undefined): Promise<number> => {
      let now = 0
      let max = 0
      // node:crypto's verify, answering a turn later (the threadpool's answer arrives on the loop)
      const verify = ((_a: null, m: Uint8Array, k: KeyObject, s: Uint8Array, cb: (e: Error | null, ok: boolean) => void) => {
        max = Math.max(max, ++now)
        setImmediate(() => { now--; cb(null, cryptoVerify(null, m, k, s)) })
      }) as unknown as typeof cryptoVerify
      const v = ed25519ThreadpoolVerifier({ ...(concurrency === undefined ? {} : { concurrency }), verify })
      const a = jobs(3 * poolSize + 3)
      expect([...(await v.verify(a.jobs))]).toEqual(a.expected)
      v.close()
      return max
    }
    expect(await inFlight(undefined)).toBe(2 * poolSize)
    expect(await inFlight(2)).toBe(2)
  })
})

describe('StrictSign between two nodes, subscriber off the event loop', () => {
  async function pair(workers: number | undefined) {
    const pubsub = { signaturePolicy: 'StrictSign' as const, scoring: false }
    const sub = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], pubsub, discovery: { autoDial: false }, ...(workers === undefined ? {} : { signatureThreads: workers }) })
    const pub = await createNode({ listen: [], pubsub, discovery: { autoDial: false }, signatureThreads: 0 })
    nodes.push(sub, pub)
    sub.pubsub.subscribe('t')
    await pub.dial(sub.getMultiaddrs()[0]!)
    for (let i = 0; i < 500 && pub.pubsub.getSubscribers('t').length === 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(pub.pubsub.getSubscribers('t')).toHaveLength(1)
    return { sub, pub }
  }

  test('every message is delivered once, in publish order', async () => {
    const { sub, pub } = await pair(2)
    const got: number[] = []
    const all = new Promise<void>((resolve) => sub.pubsub.on('message', (m) => { got.push(new DataView(m.data.buffer, m.data.byteOffset).getUint32(0)); if (got.length === 600) resolve() }))
    for (let i = 0; i < 600; i++) {
      const d = new Uint8Array(8)
      new DataView(d.buffer).setUint32(0, i)
      void pub.pubsub.publish('t', d)
      if (i % 100 === 99) await new Promise((r) => setImmediate(r))
    }
    await all
    expect(got).toEqual(Array.from({ length: 600 }, (_, i) => i))
  })

  test('signatureThreads 0 checks inline; a negative or fractional count is a RangeError', async () => {
    const { sub, pub } = await pair(0)
    const got = new Promise((resolve) => sub.pubsub.on('message', resolve))
    await pub.pubsub.publish('t', 'x')
    await got
    await expect(createNode({ listen: [], signatureThreads: -1 })).rejects.toThrow(RangeError)
    await expect(createNode({ listen: [], signatureThreads: 1.5 })).rejects.toThrow(RangeError)
  })

  test('stopping the subscriber with messages in flight: the verifier is closed, stop resolves, a late answer delivers nothing', async () => {
    // a verifier answered by hand, so the answer comes after stop for certain
    const asked: Array<{ jobs: readonly Ed25519Job[]; resolve: (r: Uint8Array) => void }> = []
    let closed = 0
    const manual = { verify: (js: readonly Ed25519Job[]) => new Promise<Uint8Array>((resolve) => { asked.push({ jobs: js, resolve }) }), close: () => { closed++ } }
    const pubsub = { signaturePolicy: 'StrictSign' as const, scoring: false }
    const sub = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], discovery: { autoDial: false }, services: { pubsub: gossipsub({ ...pubsub, signatureVerifier: manual }) } })
    const pub = await createNode({ listen: [], pubsub, discovery: { autoDial: false }, signatureThreads: 0 })
    nodes.push(sub, pub)
    sub.pubsub.subscribe('t')
    await pub.dial(sub.getMultiaddrs()[0]!)
    for (let i = 0; i < 500 && pub.pubsub.getSubscribers('t').length === 0; i++) await new Promise((r) => setTimeout(r, 10))
    let delivered = 0
    sub.pubsub.on('message', () => { delivered++ })
    await pub.pubsub.publish('t', 'in flight')
    for (let i = 0; i < 500 && asked.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(asked).toHaveLength(1)
    await sub.stop()
    expect(closed).toBe(1)
    const late = asked[0]!
    late.resolve(Uint8Array.from(late.jobs.map((j) => (nodeCrypto.ed25519Verify(j.publicKey, j.message, j.signature) ? 1 : 0))))
    await new Promise((r) => setImmediate(r)) // the answer's continuation has run
    expect(delivered).toBe(0)
  })

  test('the same, answered before stop: delivered (the control for the test above)', async () => {
    const asked: Array<{ jobs: readonly Ed25519Job[]; resolve: (r: Uint8Array) => void }> = []
    const manual = { verify: (js: readonly Ed25519Job[]) => new Promise<Uint8Array>((resolve) => { asked.push({ jobs: js, resolve }) }), close: () => {} }
    const pubsub = { signaturePolicy: 'StrictSign' as const, scoring: false }
    const sub = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], discovery: { autoDial: false }, services: { pubsub: gossipsub({ ...pubsub, signatureVerifier: manual }) } })
    const pub = await createNode({ listen: [], pubsub, discovery: { autoDial: false }, signatureThreads: 0 })
    nodes.push(sub, pub)
    sub.pubsub.subscribe('t')
    await pub.dial(sub.getMultiaddrs()[0]!)
    for (let i = 0; i < 500 && pub.pubsub.getSubscribers('t').length === 0; i++) await new Promise((r) => setTimeout(r, 10))
    let delivered = 0
    sub.pubsub.on('message', () => { delivered++ })
    await pub.pubsub.publish('t', 'in flight')
    for (let i = 0; i < 500 && asked.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
    const a = asked[0]!
    a.resolve(Uint8Array.from(a.jobs.map((j) => (nodeCrypto.ed25519Verify(j.publicKey, j.message, j.signature) ? 1 : 0))))
    await new Promise((r) => setImmediate(r))
    expect(delivered).toBe(1)
  })

  test('a real pool stopped with a flood in flight: stop resolves and no error escapes', async () => {
    const { sub, pub } = await pair(1)
    let first!: () => void
    const firstSeen = new Promise<void>((r) => { first = r })
    sub.pubsub.on('message', () => first())
    for (let i = 0; i < 2000; i++) void pub.pubsub.publish('t', `m${i}`).catch(() => {})
    await firstSeen
    await sub.stop()
  })
})
