import { expect, test } from 'vitest'
import { runTarget } from '../bench/fuzz/engine.js'
import { rendezvousTarget } from '../bench/fuzz/target-rendezvous.js'

test('fuzz: short pass of the rendezvous target (seed 20261206)', () => {
  const r = runTarget(rendezvousTarget, { iterations: 2000, seed: 20261206, maxEscapes: 3 })
  expect(r.reports.map((e) => `iteration ${e.iteration}: ${e.error.split('\n')[0]}\n  input ${e.hex.slice(0, 400)}`)).toEqual([])
  expect(r.iterations).toBe(2000)
  // inputs reach the registry and some registrations succeed
  expect(Object.keys(rendezvousTarget.stats ?? {}).some((k) => k.startsWith('register '))).toBe(true)
}, 60_000)
