// QUIC throughput A/B across builds (issue 17, bench/README.md "QUIC throughput"): wall MB/s and
// CPU per MB (client + server user + sys time, read from /proc) of `weft perf --transport quic-v1`,
// the builds interleaved round by round so each sees the same minutes of machine load.
//   node bench/quic-ab.mjs [--rounds 5] [--mib 128] [--down] [--max-datagram-size N] [--transport tcp|ws] name=repo-dir [name=repo-dir ...]
// --transport (default quic-v1) makes it an A/B of any transport (`tcp`: the one-stream TCP row).
// A repo dir is a checkout with bin/weft.js and a built dist/ (`npm run build`); `go` or `rust` as
// a dir name runs that implementation's perf CLI (interop/<impl>/build.sh) for comparison. Each
// round uploads --mib MiB (with --down: downloads them) on one stream; a fresh server per run, so
// its CPU counts only this transfer (plus its handshake). Prints per build the median MB/s and the
// median ms of CPU per MB (1 MB = 10^6 bytes), client and server separately. --max-datagram-size
// goes to weft's client and server (1452: go's and rust's size, a 1500-byte path's).
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { perfCli, sleep } from './lib.mjs'

const args = process.argv.slice(2)
const opt = (name, dflt) => { const i = args.indexOf(name); return i < 0 ? dflt : Number(args[i + 1]) }
const rounds = opt('--rounds', 5)
const mib = opt('--mib', 128)
const down = args.includes('--down')
const mds = opt('--max-datagram-size', 0)
const transport = args.includes('--transport') ? args[args.indexOf('--transport') + 1] : 'quic-v1'
const weftFlags = (dir) => (mds > 0 && dir !== 'go' && dir !== 'rust' ? ['--max-datagram-size', String(mds)] : [])
const builds = args.filter((a) => a.includes('=')).map((a) => { const [name, dir] = a.split('='); return { name, dir } })
if (builds.length === 0) { console.error('usage: node bench/quic-ab.mjs [--rounds N] [--mib N] [--down] name=repo-dir ...'); process.exit(2) }

const TICK_MS = 10 // USER_HZ 100
const cpuMs = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * TICK_MS }
/** Run the perf client under /usr/bin/time: its final JSON line and its user + sys CPU, ms. */
function runClient([cmd, ...pre], port, up, dn, extra) {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', 'cpu %U %S', cmd, ...pre, '--server-address', `127.0.0.1:${port}`, '--transport', transport, '--upload-bytes', String(up), '--download-bytes', String(dn), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    child.on('close', (code) => {
      const final = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((j) => j.type === 'final')
      const m = /cpu ([\d.]+) ([\d.]+)/.exec(err)
      if (code !== 0 || final === undefined || m === null) return reject(new Error(`perf client failed (${code}): ${err.slice(-400)}`))
      resolve({ ...final, cpuMs: (Number(m[1]) + Number(m[2])) * 1000 })
    })
  })
}
const cli = (dir) => (dir === 'go' || dir === 'rust' ? perfCli(dir) : [process.execPath, path.join(path.resolve(dir), 'bin/weft.js'), 'perf'])

async function one(dir) {
  const port = 21000 + Math.floor(Math.random() * 8000)
  const [cmd, ...pre] = cli(dir)
  const server = spawn(cmd, [...pre, '--run-server', '--server-address', `127.0.0.1:${port}`, ...weftFlags(dir)], { stdio: ['ignore', 'ignore', 'ignore'] })
  try {
    await sleep(dir === 'go' || dir === 'rust' ? 300 : 1200)
    const s0 = cpuMs(server.pid)
    const bytes = mib * 1024 * 1024
    const r = await runClient([cmd, ...pre], port, down ? 0 : bytes, down ? bytes : 0, weftFlags(dir))
    const s1 = cpuMs(server.pid)
    const mb = bytes / 1e6
    return { mbps: mb / r.timeSeconds, client: r.cpuMs / mb, server: (s1 - s0) / mb }
  } finally {
    server.kill('SIGKILL')
  }
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2 }
const acc = new Map(builds.map((b) => [b.name, []]))
for (let i = 0; i < rounds; i++) {
  const order = builds.map((_, k) => builds[(k + i) % builds.length])
  for (const b of order) {
    const r = await one(b.dir)
    acc.get(b.name).push(r)
    console.log(`round ${i + 1} ${b.name}: ${r.mbps.toFixed(1)} MB/s, cpu ms/MB client ${r.client.toFixed(2)} server ${r.server.toFixed(2)}`)
  }
}
console.log(`\n${mib} MiB ${down ? 'down' : 'up'}, ${rounds} rounds, medians:`)
for (const b of builds) {
  const rs = acc.get(b.name)
  console.log(`${b.name.padEnd(10)} ${median(rs.map((r) => r.mbps)).toFixed(1).padStart(7)} MB/s   cpu ms/MB client ${median(rs.map((r) => r.client)).toFixed(2)} server ${median(rs.map((r) => r.server)).toFixed(2)} total ${median(rs.map((r) => r.client + r.server)).toFixed(2)}`)
}
