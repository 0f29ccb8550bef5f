// The connection upgrade's CPU on a dial's critical path, measured without sockets (issue 15, "warm
// dial to ready"): two connection cores wired back to back in one process, timing only the three
// synchronous steps a dial waits for, in order:
//   dialer    new Connection + take its first flight (multistream /noise proposal + Noise message 1)
//   listener  new Connection (at accept) + read that flight + take message 2
//   dialer    read message 2 + take message 3; the connection is open
// (the listener's reading of message 3 follows "ready" and is not timed). Key pools, when the build
// has them, are refilled between dials, as the node's microtask does after the flush that took a key.
// Several builds interleave dial by dial, so every build sees the same machine load.
//   node bench/latency-upgrade.mjs [dials] [name=distdir ...]     (default: 2000 dials of ./dist)
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const [nText, ...specs] = process.argv.slice(2)
const n = Number(nText ?? 2000)
const builds = (specs.length > 0 ? specs : [`dist=${path.join(REPO, 'dist')}`]).map((s) => s.split('='))

async function load(name, dir) {
  const url = (p) => pathToFileURL(path.join(path.resolve(dir), p)).href
  const [{ Connection }, noise, { privateKeyFromSeed }, { nodeCrypto }] = await Promise.all([
    import(url('connection/index.js')), import(url('noise/index.js')), import(url('peer-id/index.js')), import(url('io/crypto-node.js')),
  ])
  const ids = [privateKeyFromSeed(new Uint8Array(32).fill(1), nodeCrypto), privateKeyFromSeed(new Uint8Array(32).fill(2), nodeCrypto)]
  const pools = noise.NoiseKeyPool === undefined ? [] : ids.map((identity) => new noise.NoiseKeyPool({ crypto: nodeCrypto, identity }))
  const base = (role, i) => ({
    role, crypto: nodeCrypto, identity: ids[i], now: 0, supportsProtocol: () => false, listProtocols: () => [],
    ...(pools[i] !== undefined ? { noiseKeys: pools[i] } : {}),
  })
  const out = (c) => { const parts = []; for (let b = c.pollTransmit(1 << 20); b !== undefined; b = c.pollTransmit(1 << 20)) parts.push(b); return parts }
  return {
    name, steps: [[], [], []], total: [],
    dial() {
      for (const p of pools) p.refill()
      const t0 = performance.now()
      const d = new Connection(base('dialer', 0))
      const f1 = out(d)
      const t1 = performance.now()
      const l = new Connection(base('listener', 1))
      for (const b of f1) l.handleData(0, b)
      const f2 = out(l)
      const t2 = performance.now()
      for (const b of f2) d.handleData(0, b)
      const f3 = out(d)
      const t3 = performance.now()
      if (!d.isOpen) throw new Error(`${name}: the dialer did not open`)
      for (const b of f3) l.handleData(0, b)
      if (!l.isOpen) throw new Error(`${name}: the listener did not open`)
      return [t1 - t0, t2 - t1, t3 - t2]
    },
  }
}

const q = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))] }
const bs = await Promise.all(builds.map(([name, dir]) => load(name, dir)))
for (let i = -200; i < n; i++) {
  for (const b of (i % 2 === 0 ? bs : [...bs].reverse())) {
    const s = b.dial()
    if (i < 0) continue
    s.forEach((v, k) => b.steps[k].push(v * 1000))
    b.total.push((s[0] + s[1] + s[2]) * 1000)
  }
}
console.log(`upgrade CPU on the dial's critical path, us (${n} dials per build, interleaved): p10 / p50 / p90`)
for (const b of bs) {
  const f = (a) => `${q(a, 0.1).toFixed(0)} / ${q(a, 0.5).toFixed(0)} / ${q(a, 0.9).toFixed(0)}`
  console.log(`${b.name.padEnd(8)} total ${f(b.total).padEnd(16)} | dialer msg1 ${f(b.steps[0]).padEnd(16)} | listener msg2 ${f(b.steps[1]).padEnd(16)} | dialer msg3 ${f(b.steps[2])}`)
}
