// Cheap holders: many idle libp2p connections to one server from one process, each with its own
// identity, at little cost per connection. No node, no swarm, no services: a bare connection core
// (src/connection: multistream /noise, Noise XX with early muxer negotiation, yamux) per TCP socket,
// driven by this file. Inbound streams are refused ("na"), yamux keep-alive is answered (and sent
// every 30 s, as any node does), and one timer per process serves every core's deadlines.
// Used by bench/memory.mjs (memory and scale benchmarks) against weft, go and rust servers.
//   node bench/drivers/weft-hold-clients.mjs <server-multiaddr> <count> [concurrency=32] [deadline-ms]
// No new dial starts after the deadline (default none).
// stdout (JSON lines): {"progress": established, "failed": f} every second while dialing, then
//   {"ready", "failed", "attempted", "firstError", "errors": {code: n}, "connectMs", "replyMs", "noiseMs", "upgradeMs"}
//   ({p50, p95, max} of: dial -> TCP connected; connected -> the server's first byte (its accept
//   queue and event loop: it answers the multistream header at once); first byte -> established
//   (Noise XX); dial -> established), then one line
//   per stdin command:
//   count     -> {"open": n, "closed": c, "closeErrors": {code: n}}  (cores open with a live socket)
//   ping <k>  -> {"pinged": k, "ok": n, "rttMs": median}  yamux ping on k random open connections
//   cpu       -> {"cpuMs": user+system since start}
// Exits when stdin closes.
import net from 'node:net'
import { createInterface } from 'node:readline'
import { Connection } from '../../dist/connection/index.js'
import { nodeCrypto } from '../../dist/io/crypto-node.js'
import { Multiaddr } from '../../dist/multiaddr/index.js'
import { generatePrivateKey, PeerId } from '../../dist/peer-id/index.js'

const [target, countText, concText] = process.argv.slice(2)
const count = Number(countText)
const concurrency = Number(concText ?? 32)
const deadline = process.argv[5] === undefined ? Infinity : Date.now() + Number(process.argv[5])
const ma = Multiaddr.fromString(target)
const dt = ma.toDialTarget()
const peerText = ma.getPeerId()
const expected = peerText === undefined ? undefined : PeerId.parse(peerText)
const t0 = performance.now()
const now = () => performance.now() - t0

/** @type {Set<Holder>} */
const live = new Set()
const closeErrors = {}
const errors = {}
let failed = 0
let established = 0
let firstError
const connectMs = []
const upgradeMs = []
const replyMs = []
const noiseMs = []
let traced = 0

const codeOf = (e) => (e === undefined ? 'clean' : e.code ?? e.message ?? String(e))

class Holder {
  constructor(onSettled) {
    this.onSettled = onSettled
    this.started = now()
    this.open = false
    this.dead = false
    this.core = new Connection({
      role: 'dialer', crypto: nodeCrypto, identity: generatePrivateKey(nodeCrypto), expectedRemotePeer: expected,
      supportsProtocol: () => false, listProtocols: () => [], now: this.started,
    })
    this.socket = net.connect({ host: dt.host, port: dt.port })
    this.socket.setNoDelay(true)
    this.socket.once('connect', () => { this.connected = now(); connectMs.push(this.connected - this.started); this.flush() })
    this.socket.on('data', (b) => {
      const t = now()
      if (this.firstByte === undefined) { this.firstByte = t; replyMs.push(t - this.connected) }
      this.reads = (this.reads ?? 0) + 1
      this.core.handleData(t, b)
      this.flush()
    })
    this.socket.on('end', () => { this.core.handleEof(now()); this.flush() })
    this.socket.on('error', (e) => { this.error ??= e })
    this.socket.on('close', () => this.die(this.error ?? new Error('socket closed')))
  }

  flush() {
    for (let ev = this.core.pollEvent(); ev !== undefined; ev = this.core.pollEvent()) {
      if (ev.type === 'established') {
        this.open = true
        established++
        upgradeMs.push(now() - this.started)
        noiseMs.push(now() - this.firstByte)
        live.add(this)
        this.settle(undefined)
      } else if (ev.type === 'rtt') {
        const w = this.pingWaiter
        this.pingWaiter = undefined
        w?.(ev.rtt)
      } else if (ev.type === 'closed') {
        this.die(ev.error ?? new Error('closed'))
      }
    }
    if (this.dead || this.socket.destroyed) return
    for (let b = this.core.pollTransmit(256 * 1024); b !== undefined; b = this.core.pollTransmit(256 * 1024)) this.socket.write(b)
  }

  settle(error) {
    const f = this.onSettled
    this.onSettled = undefined
    f?.(error)
  }

  die(error) {
    if (this.dead) return
    this.dead = true
    this.socket.destroy()
    if (this.open) {
      live.delete(this)
      const c = codeOf(error)
      closeErrors[c] = (closeErrors[c] ?? 0) + 1
    } else if (traced < 3) {
      // the timeline of a failed upgrade, relative to the dial (stderr)
      traced++
      const rel = (t) => (t === undefined ? null : Math.round(t - this.started))
      console.error(JSON.stringify({ failedUpgrade: codeOf(error), connectedMs: rel(this.connected), firstByteMs: rel(this.firstByte), reads: this.reads ?? 0, endedMs: rel(now()) }))
    }
    this.pingWaiter?.(undefined)
    this.settle(error)
  }

  ping() {
    return new Promise((resolve) => {
      if (!this.open || this.dead) return resolve(undefined)
      this.pingWaiter = resolve
      try { this.core.ping(now()) } catch { this.pingWaiter = undefined; return resolve(undefined) }
      this.flush()
    })
  }
}

const all = []
// One timer serves every core's deadlines (keep-alive, stream negotiation, upgrade timeout).
setInterval(() => {
  const t = now()
  for (const h of all) {
    if (h.dead) continue
    const d = h.core.pollTimeout()
    if (d !== undefined && d <= t) { h.core.handleTimeout(t); h.flush() }
  }
}, 200).unref()

let next = 0
async function worker() {
  while (next < count && Date.now() < deadline) {
    next++
    const error = await new Promise((resolve) => all.push(new Holder(resolve)))
    if (error !== undefined) {
      failed++
      const c = codeOf(error)
      errors[c] = (errors[c] ?? 0) + 1
      firstError ??= String(error?.message ?? error)
    }
  }
}
const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 10) / 10 : null }
const dist = (xs) => ({ p50: q(xs, 0.5), p95: q(xs, 0.95), max: q(xs, 1) })
const progress = setInterval(() => console.log(JSON.stringify({ progress: established, failed })), 1000)
await Promise.all(Array.from({ length: concurrency }, worker))
clearInterval(progress)
// holders that failed are dropped; the rest stay in `all` for the timer
for (let i = all.length - 1; i >= 0; i--) if (all[i].dead) all.splice(i, 1)
console.log(JSON.stringify({ ready: next - failed, failed, attempted: next, firstError, errors, connectMs: dist(connectMs), replyMs: dist(replyMs), noiseMs: dist(noiseMs), upgradeMs: dist(upgradeMs) }))

for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.trim().split(/\s+/)
  if (cmd === 'count') {
    let open = 0
    for (const h of live) if (h.open && !h.dead && !h.socket.destroyed && h.core.isOpen) open++
    console.log(JSON.stringify({ open, closed: all.length - open, closeErrors }))
  } else if (cmd === 'ping') {
    const pool = [...live]
    const k = Math.min(Number(arg ?? 100), pool.length)
    for (let i = 0; i < k; i++) { const j = i + Math.floor(Math.random() * (pool.length - i)); [pool[i], pool[j]] = [pool[j], pool[i]] }
    const rtts = await Promise.all(pool.slice(0, k).map((h) => Promise.race([h.ping(), new Promise((r) => setTimeout(() => r(undefined), 10_000))])))
    const ok = rtts.filter((x) => x !== undefined)
    console.log(JSON.stringify({ pinged: k, ok: ok.length, rttMs: q(ok, 0.5) }))
  } else if (cmd === 'cpu') {
    const u = process.cpuUsage()
    console.log(JSON.stringify({ cpuMs: Math.round((u.user + u.system) / 1000) }))
  }
}
process.exit(0)
