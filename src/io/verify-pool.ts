/**
 * Ed25519 verification off the event loop (spec/gossipsub.md "Validation on workers"), two ways:
 * `ed25519ThreadpoolVerifier` (libuv's threadpool; weft/node's default, the cheaper in CPU) and
 * `ed25519VerifyPool` (a pool of node:worker_threads, below).
 *
 * node:crypto's Ed25519 verify costs ~105-115 us a signature on the 2-core machine (OpenSSL's own
 * speed); a gossipsub subscriber under StrictSign spent ~80% of its thread there. The pool moves that
 * work to other cores: each batch is packed into one ArrayBuffer (transferred, not copied), verified by
 * one worker, answered with one byte per job.
 *
 * Batch layout: u32 count, then per job u32 message length, 32-byte key, 64-byte signature, message.
 *
 * Failure: a worker that dies (error, exit) has its batches sent to another live worker once, else
 * checked inline with `fallback` (node:crypto here); after `maxRespawns` deaths the pool stops
 * spawning and verifies inline. So `verify` always resolves while the pool is open: nothing is lost,
 * nothing waits forever. Workers are unref'd: an idle pool never keeps a process alive. They start on
 * the first batch, so a node that never sees a signed message never pays for them.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { Ed25519BatchVerifier, Ed25519Job } from '../core/crypto/batch-verify.js'
import { nodeCrypto } from './crypto-node.js'

/** Options of `ed25519VerifyPool`. */
export interface VerifyPoolOptions {
  /** Worker threads (default: `os.availableParallelism()`, at least 1). */
  size?: number
  /** Worker deaths after which the pool verifies inline only (default 3). */
  maxRespawns?: number
  /** Inline check for batches no worker can take (default node:crypto's Ed25519 verify). */
  fallback?: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean
  /** @internal the worker's source (tests inject a failing worker). */
  source?: string
}

/** The pool with its counters (tests and benchmarks). */
export interface VerifyPool extends Ed25519BatchVerifier {
  /** Worker threads at most. */
  readonly size: number
  /** Batches checked by workers, retried after a worker died, checked inline; workers that died. */
  stats(): { workerBatches: number; retried: number; inline: number; deaths: number; live: number }
}

/** The worker: a plain CommonJS script (eval'd), so no file has to be found beside a bundle. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const nc = require('node:crypto')
const keys = new Map()
let lastBytes = Buffer.alloc(32)
let lastKey
function key(pk) {
  // a batch is mostly one author's: compare with the last key before encoding it
  if (lastKey !== undefined && lastBytes.equals(pk)) return lastKey
  const id = Buffer.from(pk.buffer, pk.byteOffset, 32).toString('base64url')
  let k = keys.get(id)
  if (k === undefined) {
    k = nc.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: id }, format: 'jwk' })
    if (keys.size >= 1024) keys.delete(keys.keys().next().value)
    keys.set(id, k)
  }
  lastBytes = Buffer.from(pk)
  lastKey = k
  return k
}
parentPort.on('message', (m) => {
  const u = new Uint8Array(m.buf)
  const dv = new DataView(m.buf)
  const n = dv.getUint32(0)
  const out = new Uint8Array(n)
  let o = 4
  for (let i = 0; i < n; i++) {
    const len = dv.getUint32(o)
    const pk = u.subarray(o + 4, o + 36)
    const sig = u.subarray(o + 36, o + 100)
    const msg = u.subarray(o + 100, o + 100 + len)
    o += 100 + len
    try { out[i] = nc.verify(null, msg, key(pk), sig) ? 1 : 0 } catch { out[i] = 0 }
  }
  parentPort.postMessage({ id: m.id, out }, [out.buffer])
})
`

interface Batch {
  readonly id: number
  readonly jobs: readonly Ed25519Job[]
  readonly resolve: (r: Uint8Array) => void
  readonly reject: (e: Error) => void
  tries: number
}

interface Slot {
  readonly worker: Worker
  readonly out: Map<number, Batch>
  jobs: number
  dead: boolean
}

/**
 * A pool of Ed25519 verifier worker threads (Node), for `gossipsub({ signatureVerifier })`. It costs
 * ~10% more CPU per message than the threadpool verifier (an isolate per worker, packing), which
 * `createNode` uses by default.
 */
export function ed25519VerifyPool(options: VerifyPoolOptions = {}): VerifyPool {
  const size = options.size ?? Math.max(1, availableParallelism())
  if (!Number.isInteger(size) || size < 1) throw new RangeError('size must be an integer >= 1')
  const maxRespawns = options.maxRespawns ?? 3
  const fallback = options.fallback ?? nodeCrypto.ed25519Verify
  const source = options.source ?? WORKER_SOURCE
  const slots: Slot[] = []
  let nextId = 1
  let closed = false
  const st = { workerBatches: 0, retried: 0, inline: 0, deaths: 0 }

  const inline = (b: Batch): void => {
    st.inline++
    const out = new Uint8Array(b.jobs.length)
    b.jobs.forEach((j, i) => {
      try { out[i] = fallback(j.publicKey, j.message, j.signature) ? 1 : 0 } catch { out[i] = 0 }
    })
    b.resolve(out)
  }

  const spawn = (): Slot | undefined => {
    if (st.deaths > maxRespawns) return undefined
    let worker: Worker
    try {
      worker = new Worker(source, { eval: true })
    } catch {
      st.deaths++
      return undefined
    }
    worker.unref()
    const slot: Slot = { worker, out: new Map(), jobs: 0, dead: false }
    worker.on('message', (m: { id: number; out: Uint8Array }) => {
      const b = slot.out.get(m.id)
      if (b === undefined) return
      slot.out.delete(m.id)
      slot.jobs -= b.jobs.length
      if (slot.out.size === 0) worker.unref()
      if (m.out?.length === b.jobs.length) {
        st.workerBatches++
        b.resolve(m.out)
      } else retry(b)
    })
    const die = (): void => {
      if (slot.dead) return
      slot.dead = true
      slots.splice(slots.indexOf(slot), 1)
      if (closed) return
      st.deaths++
      const lost = [...slot.out.values()]
      slot.out.clear()
      void worker.terminate().catch(() => {})
      for (const b of lost) retry(b)
    }
    worker.on('error', die)
    worker.on('exit', die)
    worker.on('messageerror', die)
    slots.push(slot)
    return slot
  }

  /** A live worker with the least work, spawning up to `size`. */
  const pick = (): Slot | undefined => {
    let best: Slot | undefined
    for (const s of slots) if (best === undefined || s.jobs < best.jobs) best = s
    if ((best === undefined || best.jobs > 0) && slots.length < size) return spawn() ?? best
    return best
  }

  const send = (b: Batch): void => {
    const slot = pick()
    if (slot === undefined) return inline(b)
    let bytes = 4
    for (const j of b.jobs) bytes += 100 + j.message.length
    const buf = new ArrayBuffer(bytes)
    const u = new Uint8Array(buf)
    const dv = new DataView(buf)
    dv.setUint32(0, b.jobs.length)
    let o = 4
    for (const j of b.jobs) {
      dv.setUint32(o, j.message.length)
      u.set(j.publicKey, o + 4)
      u.set(j.signature, o + 36)
      u.set(j.message, o + 100)
      o += 100 + j.message.length
    }
    slot.out.set(b.id, b)
    slot.jobs += b.jobs.length
    if (slot.out.size === 1) slot.worker.ref() // an answer is awaited: keep the process up for it
    try {
      slot.worker.postMessage({ id: b.id, buf }, [buf])
    } catch {
      slot.out.delete(b.id)
      slot.jobs -= b.jobs.length
      inline(b)
    }
  }

  /** A batch whose worker died: once more on another worker, then inline. */
  const retry = (b: Batch): void => {
    if (closed) return b.reject(new Error('verify pool closed'))
    st.retried++
    b.tries++
    if (b.tries > 1) return inline(b)
    send(b)
  }

  return {
    size,
    verify(jobs) {
      if (closed) return Promise.reject(new Error('verify pool closed'))
      return new Promise<Uint8Array>((resolve, reject) => {
        const b: Batch = { id: nextId++, jobs, resolve, reject, tries: 0 }
        // a key or signature of the wrong length cannot be packed: such a batch is checked inline
        // (the fallback refuses it; the gossipsub core never sends one)
        if (jobs.some((j) => j.publicKey.length !== 32 || j.signature.length !== 64)) inline(b)
        else send(b)
      })
    },
    close() {
      if (closed) return
      closed = true
      for (const s of slots.splice(0)) {
        s.dead = true
        for (const b of s.out.values()) b.reject(new Error('verify pool closed'))
        s.out.clear()
        void s.worker.terminate().catch(() => {})
      }
    },
    stats: () => ({ ...st, live: slots.length }),
  }
}

/** Options of `ed25519ThreadpoolVerifier`. */
export interface ThreadpoolVerifierOptions {
  /**
   * Verifications submitted to libuv's threadpool at once (default: twice the threadpool's size,
   * UV_THREADPOOL_SIZE or 4, so 8); the rest wait in order on the event loop. Twice the size keeps
   * each thread's next verification queued: a thread that finishes takes it without sleeping, and
   * the event loop wakes once for several answers (-10% CPU per StrictSign message in the
   * subscriber against 2 at once, bench/README.md "Issue 15"). fs, dns.lookup and zlib jobs share
   * the threadpool: they wait behind at most one queued verification per thread (~0.1 ms each).
   */
  concurrency?: number
  /** @internal node:crypto's callback `verify` (tests count the verifications in flight). */
  verify?: typeof cryptoVerify
}

/**
 * Ed25519 verification on libuv's threadpool: node:crypto's one-shot `verify` with a callback. No
 * isolate per thread and no packing: measured ~138 us of CPU per StrictSign message in the whole
 * subscriber process against ~150 with 2 worker threads (inline: ~139, on one thread). weft/node's
 * default verifier for gossipsub (`createNode` `signatureThreads`).
 */
export function ed25519ThreadpoolVerifier(options: ThreadpoolVerifierOptions = {}): Ed25519BatchVerifier {
  const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4
  const concurrency = options.concurrency ?? 2 * poolSize
  const verifyOne = options.verify ?? cryptoVerify
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be an integer >= 1')
  let closed = false
  let running = 0
  /** Verifications waiting for a place on the threadpool, in order. */
  const waiting: Array<() => void> = []
  const keys = new Map<string, KeyObject>()
  let lastBytes: Uint8Array | undefined
  let lastKey: KeyObject | undefined
  const key = (pk: Uint8Array): KeyObject => {
    if (lastKey !== undefined && lastBytes !== undefined && Buffer.compare(lastBytes, pk) === 0) return lastKey
    const id = Buffer.from(pk.buffer, pk.byteOffset, pk.length).toString('base64url')
    let k = keys.get(id)
    if (k === undefined) {
      k = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: id }, format: 'jwk' })
      if (keys.size >= 1024) keys.delete(keys.keys().next().value!)
      keys.set(id, k)
    }
    lastBytes = pk.slice()
    lastKey = k
    return k
  }
  const next = (): void => {
    running--
    const run = waiting.shift()
    if (run !== undefined) run()
  }
  return {
    verify(jobs) {
      if (closed) return Promise.reject(new Error('verifier closed'))
      const out = new Uint8Array(jobs.length)
      let left = jobs.length
      if (left === 0) return Promise.resolve(out)
      return new Promise((resolve, reject) => {
        const done = (i: number, ok: boolean): void => {
          out[i] = ok ? 1 : 0
          if (--left > 0) return
          if (closed) reject(new Error('verifier closed'))
          else resolve(out)
        }
        jobs.forEach((j, i) => {
          if (j.publicKey.length !== 32 || j.signature.length !== 64) return done(i, false)
          const run = (): void => {
            if (closed) return done(i, false)
            running++
            try {
              verifyOne(null, j.message, key(j.publicKey), j.signature, (e, ok) => { next(); done(i, e === null && ok) })
            } catch {
              next()
              done(i, false)
            }
          }
          if (running < concurrency) run()
          else waiting.push(run)
        })
      })
    },
    close() {
      closed = true
      for (const run of waiting.splice(0)) run()
    },
  }
}
