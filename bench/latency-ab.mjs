// Warm dial to ready, A/B across builds, in interleaved blocks (issue 15, bench/README.md "Warm dial").
//   node bench/latency-ab.mjs [--seconds 120] [--block 10] name=distdir [name=distdir ...]
// e.g. build the tree before a change with `npx tsc -p tsconfig.build.json --outDir /some/dir/A`,
// then `node bench/latency-ab.mjs A=/some/dir/A B=dist`. Per build: one listener process and one
// dialer process, both `createNode` from that build (services: perf, like the latency benchmark's
// API driver), started once and warmed with 30 dials. Then blocks of `--block` dials (dial to ready,
// hang up, wait until the connection is gone) alternate between the builds, rotating the order,
// until `--seconds` have passed: every build sees the same minutes of machine load. Prints
// p5/p10/p25/p50/p90 of each build's dials and the median of the paired block medians' difference
// against the first build.
import { spawn } from 'node:child_process'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'

const SELF = fileURLToPath(import.meta.url)
const [mode, dist, target] = process.argv.slice(2)

async function loadNode(dir, options) {
  const { createNode, perf } = await import(pathToFileURL(path.join(path.resolve(dir), 'node.js')).href)
  return createNode({ ...options, services: { perf: perf() } })
}

if (mode === '--listener') {
  const node = await loadNode(dist, { listen: ['/ip4/127.0.0.1/tcp/0'] })
  console.log(node.getMultiaddrs().map(String).find((a) => a.includes('/tcp/') && !a.includes('/ws')))
  process.stdin.on('end', async () => { await node.stop(); process.exit(0) })
  process.stdin.resume()
} else if (mode === '--dialer') {
  const node = await loadNode(dist, { listen: [] })
  const block = async (k) => {
    const ms = []
    for (let i = 0; i < k; i++) {
      const t0 = performance.now()
      const conn = await node.dial(target)
      ms.push(performance.now() - t0)
      await node.hangUp(conn.peer)
      while (node.getConnections().length > 0) await new Promise((r) => setTimeout(r, 1))
    }
    return ms
  }
  await block(30)
  console.log('ready')
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (line.trim() === 'quit') break
    console.log(JSON.stringify(await block(Number(line))))
  }
  await node.stop()
  process.exit(0)
} else {
  const args = process.argv.slice(2)
  const opt = (name, d) => { const i = args.indexOf(name); return i >= 0 ? Number(args.splice(i, 2)[1]) : d }
  const seconds = opt('--seconds', 120)
  const k = opt('--block', 10)
  const builds = args.map((s) => s.split('='))
  if (builds.length === 0 || builds.some((b) => b.length !== 2)) {
    console.error('usage: node bench/latency-ab.mjs [--seconds 120] [--block 10] name=distdir [name=distdir ...]')
    process.exit(2)
  }
  const q = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))] }
  const procs = []
  for (const [name, dir] of builds) {
    const listener = spawn(process.execPath, [SELF, '--listener', dir], { stdio: ['pipe', 'pipe', 'inherit'] })
    const addr = await new Promise((res) => { let b = ''; listener.stdout.on('data', (d) => { b += d; if (b.includes('\n')) res(b.trim()) }) })
    const dialer = spawn(process.execPath, [SELF, '--dialer', dir, addr], { stdio: ['pipe', 'pipe', 'inherit'] })
    const lines = readline.createInterface({ input: dialer.stdout })[Symbol.asyncIterator]()
    if ((await lines.next()).value !== 'ready') throw new Error(`${name}: the dialer did not start`)
    procs.push({ name, listener, dialer, lines, ms: [], blocks: [] })
  }
  const end = Date.now() + seconds * 1000
  let round = 0
  while (Date.now() < end) {
    for (let i = 0; i < procs.length; i++) {
      const p = procs[(i + round) % procs.length]
      p.dialer.stdin.write(`${k}\n`)
      const ms = JSON.parse((await p.lines.next()).value)
      p.ms.push(...ms)
      p.blocks[round] = q(ms, 0.5)
    }
    round++
  }
  for (const p of procs) { p.dialer.stdin.write('quit\n'); p.listener.stdin.end() }
  console.log(`warm dial to ready, ms (${round} blocks of ${k} dials per build, interleaved)`)
  for (const p of procs) {
    const diffs = p.blocks.map((b, i) => b - procs[0].blocks[i])
    const f = (x) => q(p.ms, x).toFixed(2)
    console.log(`${p.name.padEnd(8)} n=${p.ms.length} p5 ${f(0.05)} p10 ${f(0.1)} p25 ${f(0.25)} p50 ${f(0.5)} p90 ${f(0.9)} | block medians vs ${procs[0].name}: ${q(diffs, 0.5) >= 0 ? '+' : ''}${q(diffs, 0.5).toFixed(2)} ms`)
  }
  process.exit(0)
}
