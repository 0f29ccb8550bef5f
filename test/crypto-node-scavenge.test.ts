// nodeCrypto's opt-in scavenge hint (src/io/crypto-node.ts `scavengeEvery`): after each n bytes its
// ChaCha20-Poly1305 calls allocated, one minor GC, so node:crypto's per-frame buffers die in
// scavenges instead of forcing Mark-Compacts (bench/README.md, "The receive path's per-frame buffer").
import { PerformanceObserver, constants } from 'node:perf_hooks'
import { afterEach, describe, expect, test } from 'vitest'
import { nodeCrypto, scavengeEvery } from '../src/io/crypto-node.js'

const FRAME = 65519
const key = nodeCrypto.randomBytes(32)
const nonce = new Uint8Array(12)
const ad = new Uint8Array(0)

/** Minor GCs seen while `work` runs (entries arrive asynchronously: wait until `atLeast` came). */
async function minorGcsDuring(work: () => void, atLeast: number): Promise<number> {
  let minor = 0
  let wake: (() => void) | undefined
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (((e as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++
    }
    if (minor >= atLeast) wake?.()
  })
  obs.observe({ entryTypes: ['gc'] })
  try {
    work()
    if (minor < atLeast) {
      await new Promise<void>((resolve) => {
        wake = resolve
        setTimeout(resolve, 5000) // a deadline for the failing case, not a sleep before a check
      })
    }
    return minor
  } finally {
    obs.disconnect()
  }
}

describe('scavengeEvery', () => {
  afterEach(() => scavengeEvery(0))

  test('a minor GC after each n bytes opened, sealed detached or sealed into a buffer', async () => {
    const pt = nodeCrypto.randomBytes(FRAME)
    const ct = nodeCrypto.chachaSeal(key, nonce, pt, ad)
    const out = new Uint8Array(FRAME + 16)
    scavengeEvery(4 * FRAME)
    // 16 frames of each kind = 12 hints; the work itself allocates a few KiB of JS objects (no
    // scavenge of its own) and 3 MiB of backing stores (V8 scavenges for those only at 32 MiB)
    const n = await minorGcsDuring(() => {
      for (let i = 0; i < 16; i++) expect(nodeCrypto.chachaOpen(key, nonce, ct, ad)!.length).toBe(FRAME)
      for (let i = 0; i < 16; i++) nodeCrypto.chachaSealDetached!(key, nonce, pt, ad)
      for (let i = 0; i < 16; i++) nodeCrypto.chachaSealInto!(key, nonce, pt, ad, out, 0)
    }, 12)
    expect(n).toBeGreaterThanOrEqual(12)
  })

  test('plaintexts stay intact across the hint (a scavenge never frees what the caller holds)', () => {
    scavengeEvery(FRAME)
    const frames = Array.from({ length: 8 }, (_, i) => nodeCrypto.randomBytes(FRAME).fill(i))
    const opened = frames.map((f) => nodeCrypto.chachaOpen(key, nonce, nodeCrypto.chachaSeal(key, nonce, f, ad), ad)!)
    opened.forEach((p, i) => expect(p.every((b) => b === i)).toBe(true))
  })

  test('bad thresholds are RangeErrors; 0 turns the hint off', () => {
    expect(() => scavengeEvery(-1)).toThrow(RangeError)
    expect(() => scavengeEvery(Number.NaN)).toThrow(RangeError)
    expect(() => scavengeEvery(Number.POSITIVE_INFINITY)).toThrow(RangeError)
    expect(() => scavengeEvery(0)).not.toThrow()
  })
})
