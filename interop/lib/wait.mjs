// Waiting helpers shared by the interop orchestrators and the weft peers (no other imports, so a
// peer process loads nothing more than it did).
import { performance } from 'node:perf_hooks'

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/**
 * Poll `f` every `everyMs` until it returns a truthy value (which it returns); throws
 * `<what>: timed out after <ms> ms` once `ms` have passed.
 * @template T
 * @param {() => Promise<T> | T} f @param {number} ms @param {string} what @param {number} [everyMs]
 */
export async function until(f, ms, what, everyMs = 100) {
  const end = performance.now() + ms
  for (;;) {
    const v = await f()
    if (v) return v
    if (performance.now() > end) throw new Error(`${what}: timed out after ${ms} ms`)
    await sleep(everyMs)
  }
}
