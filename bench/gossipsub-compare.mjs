// Gossipsub throughput, weft and go-libp2p-pubsub (v0.15.0, interop/go) in the same run: one publisher
// -> one subscriber over TCP loopback, 100-byte messages, StrictNoSign (content ids) and StrictSign
// (from+seqno ids), for the pairs weft->weft, go->go, weft->go and go->weft (the mixed pairs show which
// side bounds weft: a weft publisher feeding go's subscriber, and the reverse).
//
// Method (identical for every pair): publisher and subscriber are two processes (each its own core on
// a 2-core machine). Flow control is a window: the subscriber prints "ack <n>" every 2,000 messages;
// this orchestrator relays each ack line to the publisher's stdin; the publisher keeps at most 4,000
// messages beyond the last ack (the same ACK_EVERY / WINDOW as bench/gossipsub-throughput.ts). The
// publisher times from its first publish to the last ack; the orchestrator also samples both
// processes' CPU time (/proc) at the publisher's "start" line and at its result, and reports CPU
// microseconds per message for each side (steadier than msg/s on a loaded machine). go-libp2p-pubsub drops messages when its
// per-peer outbound queue, validation queue or subscription buffer is full (default 32 each), so the go
// peer sizes them at twice the window: the window alone limits the flow, as for weft. Both sides use
// their implementation's defaults otherwise (flood publishing; weft's scoring on, go's off).
//
// Run: node bench/gossipsub-compare.mjs [--messages 100000] [--runs 3] [--only nosign|sign] [--json]
//      npm run bench -- gossipsub-compare   (part of the suite; --quick: 20,000 messages, 1 run)
// See bench/README.md "Gossipsub throughput" / "go-libp2p-pubsub in the same run".
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { BENCH, REPO, perfCli, row, missing } from './lib.mjs'

export const title = 'Gossipsub throughput vs go-libp2p-pubsub (1 publisher -> 1 subscriber, TCP loopback, 100 B)'
const ACK_EVERY = 2000
const WINDOW = 4000
const PAIRS = [['weft', 'weft'], ['go', 'go'], ['weft', 'go'], ['go', 'weft']]
const POLICIES = { nosign: 'StrictNoSign', sign: 'StrictSign' }

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); null elsewhere. */
function cpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  } catch {
    return null
  }
}
const CLK_TCK = 100 // USER_HZ on Linux

/** [command, ...args] starting one role of `impl`. */
function roleCommand(impl, weftPeer, goBin, args) {
  // WEFT_PEER_NODE_FLAGS: extra node flags for the weft peers (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p",
  // which NODE_OPTIONS does not allow), for profiling a run
  const flags = (process.env.WEFT_PEER_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '')
  if (impl === 'weft') return [process.execPath, ...flags, weftPeer, ...args]
  return [goBin, 'pubsub-bench', ...args]
}

/** One measurement: publisher `pub` -> subscriber `sub`; resolves with msg/s. */
export async function measure({ pub, sub, policy, messages, size = 100, weftPeer, goBin, timeoutMs = 300_000 }) {
  const common = ['--policy', policy, '--messages', String(messages), '--size', String(size)]
  const [sc, ...sa] = roleCommand(sub, weftPeer, goBin, [...common, '--role', 'sub', '--ack-every', String(ACK_EVERY)])
  const subP = spawn(sc, sa, { stdio: ['pipe', 'pipe', 'pipe'] })
  let subErr = ''
  subP.stderr.on('data', (d) => { subErr = (subErr + d).slice(-2000) })
  const children = [subP]
  const kill = () => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL') }
  const timer = setTimeout(kill, timeoutMs)
  try {
    const subLines = createInterface({ input: subP.stdout })
    let pubP
    const addr = await new Promise((resolve, reject) => {
      subP.on('exit', (code) => reject(new Error(`${sub} subscriber exited (${code}): ${subErr}`)))
      subLines.on('line', (l) => {
        if (l.startsWith('addr ')) resolve(l.slice(5))
        else if (l.startsWith('ack ') && pubP?.stdin.writable) pubP.stdin.write(l + '\n') // relay the ack
      })
    })
    const [pc, ...pa] = roleCommand(pub, weftPeer, goBin, [...common, '--role', 'pub', '--window', String(WINDOW), '--addr', addr])
    pubP = spawn(pc, pa, { stdio: ['pipe', 'pipe', 'pipe'] })
    children.push(pubP)
    let out = ''
    let err = ''
    let cpuStart
    let cpuEnd
    createInterface({ input: pubP.stdout }).on('line', (l) => {
      out += l + '\n'
      if (l === 'start') cpuStart = [cpuSeconds(pubP.pid), cpuSeconds(subP.pid)]
      else if (l.startsWith('{')) cpuEnd = [cpuSeconds(pubP.pid), cpuSeconds(subP.pid)]
    })
    pubP.stderr.on('data', (d) => { err = (err + d).slice(-2000) })
    pubP.stdin.on('error', () => {})
    const code = await new Promise((r) => pubP.on('close', r))
    const last = out.trim().split('\n').filter((l) => l.startsWith('{')).pop()
    if (code !== 0 || last === undefined) throw new Error(`${pub}->${sub} ${policy}: publisher failed (${code}): ${err.slice(-600)} | subscriber: ${subErr.slice(-400)}`)
    const { msgPerSec } = JSON.parse(last)
    const us = (i) => (cpuStart?.[i] != null && cpuEnd?.[i] != null ? ((cpuEnd[i] - cpuStart[i]) * 1e6) / messages : null)
    return { msgPerSec, pubCpuUs: us(0), subCpuUs: us(1) }
  } finally {
    clearTimeout(timer)
    subP.stdin.end()
    setTimeout(kill, 2000).unref()
  }
}

/** The weft peer, bundled with esbuild (like the other TypeScript benches). */
async function bundleWeftPeer(ctx) {
  if (ctx?.bundleTs) return ctx.bundleTs('gossipsub-compare-peer.ts')
  const { build } = await import('esbuild')
  const outfile = path.join(REPO, 'node_modules/.cache/weft-bench/gossipsub-compare-peer.mjs')
  await build({ entryPoints: [path.join(BENCH, 'gossipsub-compare-peer.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'warning', target: 'node20' })
  return outfile
}

/** All pairs × policies; returns rows for bench/run.mjs (impl: 'weft' = weft->weft, 'go' = go->go). */
export async function run(ctx, opts = {}) {
  const quick = ctx?.quick === true
  const runs = opts.runs ?? (quick ? 1 : ctx?.runs ?? 3)
  const messages = opts.messages ?? (quick ? 20_000 : 100_000)
  const weftPeer = await bundleWeftPeer(ctx)
  const goBin = perfCli('go')?.[0] ?? null
  const log = ctx?.log ?? console.error
  const rows = []
  for (const policy of opts.only ? [opts.only] : Object.keys(POLICIES)) {
    const metric = `${POLICIES[policy]} msg/s`
    // StrictSign is verification-bound (tens of thousands per second): half the messages
    const n = policy === 'sign' ? Math.max(ACK_EVERY * 2, messages / 2) : messages
    for (const [pub, sub] of PAIRS) {
      const impl = pub === sub ? pub : `${pub}->${sub}`
      if ((pub === 'go' || sub === 'go') && goBin === null) {
        rows.push(missing('gossipsub-compare', impl, 'tcp', metric, 'msg/s', 'go peer not built (interop/go/build.sh)'))
        continue
      }
      const values = []
      const pubCpu = []
      const subCpu = []
      let note
      for (let r = 0; r < runs; r++) {
        try {
          const m = await measure({ pub, sub, policy, messages: n, weftPeer, goBin })
          values.push(m.msgPerSec)
          if (m.pubCpuUs !== null) pubCpu.push(m.pubCpuUs)
          if (m.subCpuUs !== null) subCpu.push(m.subCpuUs)
        } catch (e) {
          note = String(e.message).slice(0, 300)
          log(`gossipsub-compare: ${note}`)
          break
        }
      }
      log(`  ${policy} ${pub}->${sub}: ${values.map((v) => Math.round(v)).join(', ')} msg/s; CPU us/msg publisher ${pubCpu.map((v) => v.toFixed(1)).join(', ')}, subscriber ${subCpu.map((v) => v.toFixed(1)).join(', ')}`)
      rows.push(values.length ? row('gossipsub-compare', impl, 'tcp', metric, 'msg/s', values) : missing('gossipsub-compare', impl, 'tcp', metric, 'msg/s', note ?? 'failed'))
      // CPU time per message of each process over the measured window (/proc; the wall-clock rate
      // on a shared, loaded machine is noisy, CPU per message much less so)
      if (pubCpu.length) rows.push(row('gossipsub-compare', impl, 'tcp', `${POLICIES[policy]} publisher CPU`, 'us/msg', pubCpu))
      if (subCpu.length) rows.push(row('gossipsub-compare', impl, 'tcp', `${POLICIES[policy]} subscriber CPU`, 'us/msg', subCpu))
    }
  }
  return rows
}

// CLI: node bench/gossipsub-compare.mjs [--messages N] [--runs N] [--only nosign|sign] [--json]
if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  const argv = process.argv.slice(2)
  const arg = (name) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : undefined }
  const opts = {}
  if (arg('messages')) opts.messages = Number(arg('messages'))
  if (arg('runs')) opts.runs = Number(arg('runs'))
  if (arg('only')) opts.only = arg('only')
  const os = await import('node:os')
  const rows = await run({ quick: argv.includes('--quick'), log: (s) => console.error(s) }, opts)
  const loadavg = os.loadavg().map((x) => x.toFixed(2)).join(' ')
  const table = {}
  const cpu = {}
  for (const r of rows) {
    const policy = r.metric.split(' ')[0]
    const pair = r.impl === 'weft' ? 'weft->weft' : r.impl === 'go' ? 'go->go' : r.impl
    if (r.unit === 'msg/s') (table[policy] ??= {})[pair] = r.median
    else ((cpu[policy] ??= {})[pair] ??= {})[r.metric.includes('publisher') ? 'publisherUs' : 'subscriberUs'] = r.median
  }
  const ratio = (a, b) => (a && b ? a / b : null)
  const result = {}
  for (const [policy, t] of Object.entries(table)) {
    result[policy] = {
      msgPerSec: t,
      cpuUsPerMsg: cpu[policy] ?? {},
      weftVsGo: ratio(t['weft->weft'], t['go->go']),
      weftPublisherVsGo: ratio(t['weft->go'], t['go->go']),
      weftSubscriberVsGo: ratio(t['go->weft'], t['go->go']),
    }
  }
  if (argv.includes('--json')) console.log(JSON.stringify({ messageSize: 100, loadavg, results: result, rows }))
  else {
    console.log(`gossipsub throughput, weft vs go-libp2p-pubsub v0.15.0, 1 publisher -> 1 subscriber, TCP loopback, 100 B (load ${loadavg})`)
    const pairs = ['weft->weft', 'go->go', 'weft->go', 'go->weft']
    console.log(['policy'.padEnd(13), ...pairs.map((p) => p.padStart(11)), '  weft/go  weft-pub/go  weft-sub/go'].join(' '))
    const f = (x) => (x === null || x === undefined ? '—' : Math.round(x).toLocaleString('en-US'))
    const fr = (x) => (x === null ? '—' : x.toFixed(2))
    for (const [policy, r] of Object.entries(result)) {
      console.log([policy.padEnd(13), ...pairs.map((p) => f(r.msgPerSec[p]).padStart(11)), `  ${fr(r.weftVsGo).padStart(7)}  ${fr(r.weftPublisherVsGo).padStart(11)}  ${fr(r.weftSubscriberVsGo).padStart(11)}`].join(' '))
    }
    console.log('(weft-pub/go = weft->go / go->go: a weft publisher feeding go; weft-sub/go = go->weft / go->go)')
    console.log('CPU us per message over the measured window, publisher / subscriber:')
    for (const [policy, r] of Object.entries(result)) {
      const c = (p) => { const x = r.cpuUsPerMsg[p]; return x ? `${x.publisherUs?.toFixed(1) ?? '—'} / ${x.subscriberUs?.toFixed(1) ?? '—'}` : '—' }
      console.log([policy.padEnd(13), ...pairs.map((p) => c(p).padStart(15))].join(' '))
    }
  }
}
