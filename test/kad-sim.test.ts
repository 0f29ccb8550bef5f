import { expect, test } from 'vitest'
import { runKadSim } from '../bench/sim-kad.js'
import { nodeCrypto } from '../src/io/crypto-node.js'

test('60-node simulated network: exact closest peers, GET before and after 20% churn, deterministic', () => {
  const a = runKadSim({ nodes: 60, seed: 3, lookups: 20, puts: 5 })
  expect(a.closestCorrect).toBeGreaterThanOrEqual(0.98)
  expect(a.getSuccess).toBe(1)
  expect(a.getSuccessAfterChurn).toBeGreaterThanOrEqual(0.9)
  expect(a.hopsMedian).toBeLessThanOrEqual(Math.log2(60) / 2)
  const b = runKadSim({ nodes: 60, seed: 3, lookups: 20, puts: 5 })
  expect({ ...b, wallSeconds: 0 }).toEqual({ ...a, wallSeconds: 0 })
}, 60_000)

// The test: 1,000 nodes, 200 lookups against the brute-force truth, 50 PUT/GETs, GETs
// again after 20% of the nodes left. About 15 s of CPU (bench/README.md, "Kademlia simulation").
test('1,000-node simulated network meets the issue goals', () => {
  const r = runKadSim({ nodes: 1000, seed: 1, crypto: nodeCrypto })
  expect(r.lookups).toBe(200)
  expect(r.closestCorrect).toBeGreaterThanOrEqual(0.98)
  expect(r.getSuccess).toBe(1)
  expect(r.getSuccessAfterChurn).toBeGreaterThanOrEqual(0.99)
  expect(r.hopsMedian).toBeLessThanOrEqual(Math.log2(1000) / 2)
}, 300_000)
