// The receiving perf server's GC and CPU, A/B interleaved (bench/README.md, "The receive path's
// per-frame buffer"). Each variant is a server entry (a built dist/ or CLI bundle exporting `main`)
// plus node flags; every round runs each variant once, in turn, against the same client.
// Per transfer: the server's CPU seconds (user + system from /proc, between the client's start
// and its exit), its Mark-Compacts and Scavenges (`--trace-gc` lines), and the client's timeSeconds.
//
//   node bench/gc-receive.mjs [--rounds 3] [--mib 512] [--client <entry>] \
//     'dist=dist/cli/main.js' 'bundle=dist/cli/bundle/weft.mjs' 'semi1=dist/cli/main.js --max-semi-space-size=1'
//
// Linux only (/proc). Entries are paths (relative to the working directory) to modules with `main(argv)`.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { portPair } from './lib.mjs'

const argv = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = argv.indexOf(name)
  if (i < 0) return dflt
  const v = argv[i + 1]
  argv.splice(i, 2)
  return v
}
const rounds = Number(opt('--rounds', '3'))
const mib = Number(opt('--mib', '512'))
const client = pathToFileURL(path.resolve(opt('--client', 'dist/cli/bundle/weft.mjs'))).href
const variants = argv.map((spec) => {
  const [name, rest] = spec.includes('=') ? [spec.slice(0, spec.indexOf('=')), spec.slice(spec.indexOf('=') + 1)] : [spec, spec]
  const [entry, ...flags] = rest.split(/\s+/).filter(Boolean)
  return { name, entry: pathToFileURL(path.resolve(entry)).href, flags }
})
if (variants.length === 0) {
  console.error('usage: node bench/gc-receive.mjs [--rounds n] [--mib n] [--client entry] name=entry[ flags] ...')
  process.exit(2)
}

const cpuSeconds = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) / 100 // utime + stime, in clock ticks of 1/100 s
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const listening = (port) => new Promise((res) => {
  const s = net.connect(port, '127.0.0.1', () => { s.destroy(); res(true) })
  s.on('error', () => res(false))
})
const run = (args) => new Promise((resolve) => {
  const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  c.stdout.on('data', (d) => { out += d })
  c.on('close', (code) => resolve({ code, out }))
})

async function once(v) {
  const port = portPair()
  const serverArgs = ['--trace-gc', ...v.flags, '--input-type=module', '-e',
    `const m = await import(${JSON.stringify(v.entry)}); m.main(['perf', '--run-server', '--server-address', '127.0.0.1:${port}'])`]
  const server = spawn(process.execPath, serverArgs, { stdio: ['ignore', 'pipe', 'ignore'] })
  let trace = ''
  server.stdout.on('data', (d) => { trace += d })
  for (let i = 0; !(await listening(port)); i++) {
    if (i > 300 || server.exitCode !== null) throw new Error(`${v.name}: server did not listen`)
    await sleep(50)
  }
  await sleep(200)
  const mark = trace.length
  const cpu0 = cpuSeconds(server.pid)
  const r = await run(['--input-type=module', '-e',
    `const m = await import(${JSON.stringify(client)}); process.exitCode = await m.main(['perf', '--server-address', '127.0.0.1:${port}', '--transport', 'tcp', '--upload-bytes', '${mib * 1048576}', '--download-bytes', '0'])`])
  const cpu1 = cpuSeconds(server.pid)
  server.kill('SIGKILL')
  const during = trace.slice(mark)
  const final = r.out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((j) => j.type === 'final')
  if (r.code !== 0 || final === undefined) throw new Error(`${v.name}: client failed (${r.code})`)
  return { cpu: cpu1 - cpu0, mc: (during.match(/Mark-Compact/g) ?? []).length, scav: (during.match(/Scavenge/g) ?? []).length, seconds: final.timeSeconds }
}

const results = new Map(variants.map((v) => [v.name, []]))
for (let i = 0; i < rounds; i++) {
  for (const v of variants) {
    const r = await once(v)
    results.get(v.name).push(r)
    console.log(`round ${i + 1} ${v.name}: server CPU ${r.cpu.toFixed(2)} s, ${r.mc} Mark-Compacts, ${r.scav} Scavenges, client ${r.seconds.toFixed(2)} s`)
  }
}
const range = (xs, d = 2) => `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`
console.log(`\n| receiver (${mib} MiB upload, ${rounds} rounds) | server CPU s | Mark-Compacts | Scavenges |\n|---|---|---|---|`)
for (const v of variants) {
  const rs = results.get(v.name)
  console.log(`| ${v.name} | ${range(rs.map((r) => r.cpu))} | ${range(rs.map((r) => r.mc), 0)} | ${range(rs.map((r) => r.scav), 0)} |`)
}
