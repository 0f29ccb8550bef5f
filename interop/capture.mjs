#!/usr/bin/env node
/**
 * Capture real bytes from the go-libp2p and rust-libp2p interop peers and keep representative ones
 * as `interop` vectors (spec/vectors/interop-transcripts.json). Run by hand, never by `npm test`:
 *
 *   npm run build && node interop/capture.mjs            # go and rust
 *   node interop/capture.mjs --only go --dry-run         # print what would be kept, write nothing
 *
 * How: the go / rust peer runs as a `streams` listener (interop/CONTRACT.md; it serves ping,
 * identify, /weft/echo/1.0.0 and /weft/reset/1.0.0). A weft node dials it through a small TCP
 * proxy (the plaintext multistream-select security negotiation before Noise) with a `crypto`
 * provider that wraps nodeCrypto and records every Noise *transport* plaintext (empty associated
 * data: handshake payloads carry the handshake hash as AD): `chachaOpen` outputs are what the
 * remote sent (yamux frames), `chachaSeal` inputs what weft sent. The wrapper leaves out the
 * optional fast paths (`chachaSealInto`, `chachaSealDetached`, `chachaOpenInto`) so every frame
 * goes through the two recorded methods. The scenario: ping, identify (the remote opens a stream
 * to us), a proposal the remote does not support (`na`) then echo with half-close, a stream the
 * remote resets, a stream weft resets, 1 MiB echoed (window updates), then a duplicate SYN (weft's
 * next SYN rewritten to reuse the open stream id 3) so the remote ends the session (Go Away 1 from
 * rust; go closes TCP without one). Then the peer runs as a `ping` dialer of a weft listener, behind
 * the same tap. The remote's plaintext is split into yamux frames with weft's own readHeader; the
 * first frame of each kind (type, flags, empty or not) is kept, and each multistream flight up to
 * its first protocol id. `--frames` prints every frame both ways.
 */
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNode, nodeCrypto, tcp, readAll } from '../dist/node.js'
import { readHeader } from '../dist/yamux/frame.js'
import { killGroup, sleep, startRedis, which } from './lib/proc.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.dirname(here)
const OUT = path.join(root, 'spec/vectors/interop-transcripts.json')
const VERSIONS = { go: 'go-libp2p v0.48.0 (interop/go)', rust: 'rust-libp2p libp2p 0.57.1 (interop/rust)' }

const args = process.argv.slice(2)
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined
const dryRun = args.includes('--dry-run')
const peers = ['go', 'rust'].filter((p) => only === undefined || p === only)
const log = (/** @type {string} */ s) => process.stderr.write(`[capture] ${s}\n`)
const hex = (/** @type {Uint8Array} */ b) => Buffer.from(b).toString('hex')
const today = new Date().toISOString().slice(0, 10)

// ---- the recording crypto provider -----------------------------------------------------------

/** @typedef {{ dir: 'in' | 'out', key: string, counter: bigint, pt: Uint8Array }} Record_ */
/**
 * @param {Record_[]} rec
 * @param {{ corrupt?: (pt: Uint8Array) => Uint8Array | undefined }} [hooks] fault injection: `corrupt`
 *   may replace one outgoing transport plaintext (same length, so Noise framing is unchanged)
 */
function tapCrypto(rec, hooks = {}) {
  const counter = (/** @type {Uint8Array} */ n) => Buffer.from(n).readBigUInt64LE(4)
  const { chachaSealInto: _a, chachaSealDetached: _b, chachaOpenInto: _c, ...base } = nodeCrypto
  return {
    ...base,
    name: 'node+capture',
    chachaSeal: (/** @type {Uint8Array} */ key, /** @type {Uint8Array} */ nonce, /** @type {Uint8Array} */ pt, /** @type {Uint8Array} */ ad) => {
      const bad = ad.length === 0 && hooks.corrupt !== undefined ? hooks.corrupt(pt) : undefined
      if (bad !== undefined) { hooks.corrupt = undefined; pt = bad }
      if (ad.length === 0) rec.push({ dir: 'out', key: hex(key), counter: counter(nonce), pt: pt.slice() })
      return nodeCrypto.chachaSeal(key, nonce, pt, ad)
    },
    chachaOpen: (/** @type {Uint8Array} */ key, /** @type {Uint8Array} */ nonce, /** @type {Uint8Array} */ ct, /** @type {Uint8Array} */ ad) => {
      const pt = nodeCrypto.chachaOpen(key, nonce, ct, ad)
      if (pt !== undefined && ad.length === 0) rec.push({ dir: 'in', key: hex(key), counter: counter(nonce), pt: pt.slice() })
      return pt
    },
  }
}

// ---- the plaintext tap (a TCP proxy) ---------------------------------------------------------

/** @param {string} host @param {number} port */
async function proxy(host, port) {
  /** @type {{ in: Buffer[], out: Buffer[] }} */
  const raw = { in: [], out: [] }
  const server = net.createServer((c) => {
    const u = net.connect(port, host)
    // pipe() forwards a half-close after the last bytes (destroy() could drop a final Go Away)
    c.on('data', (d) => { raw.out.push(Buffer.from(d)) })
    u.on('data', (d) => { raw.in.push(Buffer.from(d)) })
    c.pipe(u)
    u.pipe(c)
    c.on('error', () => u.destroy())
    u.on('error', () => c.destroy())
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)))
  const a = /** @type {net.AddressInfo} */ (server.address())
  return { port: a.port, raw, close: () => server.close() }
}

// ---- multistream and yamux parsing -----------------------------------------------------------

/** Split a multistream flight into messages (stops at the first incomplete one or non-line). */
function msMessages(/** @type {Uint8Array} */ b, max = 16) {
  const out = []
  let off = 0
  while (off < b.length && out.length < max) {
    let len = 0, shift = 0, i = off
    for (; i < b.length; i++) { len |= (b[i] & 0x7f) << shift; shift += 7; if ((b[i] & 0x80) === 0) break }
    if (i >= b.length || len === 0 || i + 1 + len > b.length || b[i + len] !== 0x0a) break
    const line = Buffer.from(b.subarray(i + 1, i + len)).toString('utf8')
    out.push({ hex: hex(b.subarray(off, i + 1 + len)), line })
    off = i + 1 + len
    // a protocol id (not the header, na or ls) ends the negotiation: what follows is application data
    if (!['/multistream/1.0.0', 'na', 'ls'].includes(line)) break
  }
  return { messages: out, used: off }
}

/** @param {Uint8Array} b */
function yamuxFrames(b) {
  const frames = []
  let off = 0
  while (off + 12 <= b.length) {
    const h = readHeader(b, off)
    const n = h.type === 0 ? h.length : 0
    if (off + 12 + n > b.length) break
    frames.push({ ...h, bytes: b.subarray(off, off + 12 + n), payload: b.subarray(off + 12, off + 12 + n) })
    off += 12 + n
  }
  return { frames, rest: b.length - off }
}

const TYPE = ['Data', 'WindowUpdate', 'Ping', 'GoAway']
const flagText = (/** @type {number} */ f) => ['SYN', 'ACK', 'FIN', 'RST'].filter((_, i) => f & (1 << i)).join('|') || 'none'

// ---- one capture -----------------------------------------------------------------------------

/** @param {string} impl @param {string} bin @param {string} redisAddr @param {any} db */
async function capture(impl, bin, redisAddr, db) {
  await db.command('DEL', 'listenerAddr', 'listenerResult')
  const env = { transport: 'tcp', muxer: 'yamux', security: 'noise', scenario: 'streams', ip: '127.0.0.1', redis_addr: redisAddr, is_dialer: 'false', test_timeout_seconds: '60' }
  const peer = spawn(bin, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], detached: true })
  let stderr = ''
  peer.stderr.on('data', (d) => { stderr += d })
  try {
    const popped = await db.command('BLPOP', 'listenerAddr', '20')
    if (!Array.isArray(popped)) throw new Error(`${impl} listener published no address; stderr:\n${stderr}`)
    const addr = String(popped[1])
    const m = /^\/ip4\/([^/]+)\/tcp\/(\d+)\/p2p\/(\w+)$/.exec(addr)
    if (m === null) throw new Error(`unexpected listener address ${addr}`)
    const px = await proxy(m[1], Number(m[2]))
    /** @type {Record_[]} */
    const rec = []
    /** @type {{ corrupt?: (pt: Uint8Array) => Uint8Array | undefined }} */
    const hooks = {}
    const node = await createNode({ crypto: tapCrypto(rec, hooks), transports: [tcp()], services: {} })
    const target = `/ip4/127.0.0.1/tcp/${px.port}/p2p/${m[3]}`
    log(`${impl}: dialing ${addr} through the tap on port ${px.port}`)
    const notes = []
    await node.dial(target)
    const rtt = await node.ping(target)
    notes.push(`ping ${rtt.toFixed(1)} ms`)
    await sleep(1000) // identify both ways, the start-up yamux ping
    // `na`, then echo with half-close both ways
    const s1 = await node.newStream(target, ['/weft/absent/1.0.0', '/weft/echo/1.0.0'])
    await s1.write(new TextEncoder().encode('hello'))
    s1.closeWrite()
    notes.push(`echo: ${Buffer.from(await readAll(s1.source)).toString()}`)
    // the remote resets
    const s2 = await node.newStream(target, '/weft/reset/1.0.0')
    await s2.write(new Uint8Array([1]))
    try { await readAll(s2.source); notes.push('reset stream: clean EOF') } catch (e) { notes.push(`reset stream: ${/** @type {Error} */ (e).name}`) }
    // weft resets
    const s3 = await node.newStream(target, '/weft/echo/1.0.0')
    await s3.write(new Uint8Array(10))
    s3.reset()
    // 1 MiB echoed: window updates both ways
    const s4 = await node.newStream(target, '/weft/echo/1.0.0')
    const big = new Uint8Array(1 << 20).map((_, j) => j & 0xff)
    const reading = readAll(s4.source, 2 << 20)
    await s4.write(big)
    s4.closeWrite()
    notes.push(`1 MiB echo: ${(await reading).length} bytes`)
    await node.ping(target)
    // A protocol error makes the remote end the session with Go Away 1: weft's next SYN is rewritten
    // to declare stream 3 (weft's ping stream, still open) a second time. (A clean hang-up shows no
    // Go Away: neither stack answers weft's Go Away 0 with its own.)
    hooks.corrupt = (pt) => {
      for (let off = 0; off + 12 <= pt.length;) {
        const h = readHeader(pt, off)
        if (h.type === 1 && (h.flags & 1) !== 0) {
          const bad = pt.slice()
          bad.set([0, 0, 0, 3], off + 4)
          return bad
        }
        off += 12 + (h.type === 0 ? h.length : 0)
      }
      return undefined
    }
    const closed = new Promise((r) => node.on('connection:close', () => r(undefined)))
    await node.newStream(target, '/weft/echo/1.0.0').then((s) => s.reset(), () => undefined)
    notes.push(await Promise.race([closed.then(() => 'the remote closed the connection'), sleep(8000).then(() => 'the connection was still open 8 s later')]))
    notes.push(hooks.corrupt === undefined ? 'sent a second SYN for stream 3' : 'the duplicate SYN was not sent')
    await sleep(300)
    await node.stop()
    px.close()
    return { rec, raw: px.raw, notes }
  } finally {
    killGroup(peer, 'SIGKILL')
  }
}

/** The remote as the dialer (scenario ping) and weft as the listener, behind the tap. */
async function captureDialer(/** @type {string} */ impl, /** @type {string} */ bin, /** @type {string} */ redisAddr, /** @type {any} */ db) {
  await db.command('DEL', 'listenerAddr', 'listenerResult')
  /** @type {Record_[]} */
  const rec = []
  const node = await createNode({ crypto: tapCrypto(rec), transports: [tcp()], services: {}, listen: ['/ip4/127.0.0.1/tcp/0'] })
  const la = /^\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(node.getMultiaddrs()[0].toString())
  if (la === null) throw new Error('weft listens nowhere')
  const px = await proxy(la[1], Number(la[2]))
  await db.command('RPUSH', 'listenerAddr', `/ip4/127.0.0.1/tcp/${px.port}/p2p/${node.peerId.toString()}`)
  const env = { transport: 'tcp', muxer: 'yamux', security: 'noise', scenario: 'ping', ip: '127.0.0.1', redis_addr: redisAddr, is_dialer: 'true', test_timeout_seconds: '30' }
  const peer = spawn(bin, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  peer.stdout.on('data', (d) => { out += d })
  const code = await new Promise((r) => peer.once('exit', (c) => r(c)))
  log(`${impl} dialer exited ${code}: ${out.trim()}`)
  await sleep(500)
  await node.stop()
  px.close()
  // weft's side of the proxy is "in" for the remote's bytes: swap the directions
  return { rec, raw: { in: px.raw.out, out: px.raw.in }, notes: [`dialer exit ${code}`] }
}

// ---- selecting vectors -----------------------------------------------------------------------

/** Which derived yamux vector a remote frame has the meaning of, and the fields that must agree. */
function yamuxConfirms(/** @type {any} */ f) {
  const empty = f.payload.length === 0
  const c = (/** @type {string} */ id, /** @type {string[]} */ extra = []) => ({ file: 'yamux', id, fields: ['version', 'type', 'flags', ...extra] })
  if (f.type === 1) {
    if (f.flags === 1) return f.length === 0 ? c('wu-syn-0', ['length']) : c('wu-syn-additive')
    if (f.flags === 2) return f.length === 0 ? c('wu-ack', ['length']) : undefined
    if (f.flags === 4) return c('wu-fin', ['length'])
    if (f.flags === 8) return c('wu-rst', ['length'])
    if (f.flags === 0) return c('wu-delta')
  }
  if (f.type === 0) {
    if (f.flags === 1 && !empty) return c('data-syn-hello')
    if (f.flags === 0 && !empty) return c('data-plain')
    if (f.flags === 2) return empty ? c('data-ack', ['length', 'payload']) : c('data-ack')
    if (f.flags === 4 && empty) return c('data-fin-empty', ['length', 'payload'])
    if (f.flags === 8 && empty) return c('data-rst', ['length', 'payload'])
    if (f.flags === 6) return c('data-ack-fin')
  }
  if (f.type === 2) return c(f.flags === 1 ? 'ping-syn' : 'ping-ack', ['streamId'])
  if (f.type === 3) return c(['go-away-normal', 'go-away-protocol-error', 'go-away-internal-error'][f.length] ?? 'go-away-normal', ['streamId', 'length'])
  return undefined
}

/** A confirmation: messages [c0, c1) of the capture are byte-equal to messages [s0, s1) of step `step` of a derived vector (its `hex` when step is undefined). */
const ms = (/** @type {string} */ id, /** @type {number | undefined} */ step, /** @type {number[]} */ stepMessages, /** @type {number[]} */ captureMessages) => ({ file: 'multistream', id, step, stepMessages, captureMessages })
const slug = (/** @type {string} */ s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')

/**
 * @param {string} impl @param {'listener' | 'dialer'} role the remote's role
 * @param {Awaited<ReturnType<typeof capture>>} cap @param {Set<string>} kept yamux kinds already kept for impl
 */
function select(impl, role, cap, kept) {
  const src = (/** @type {string} */ what) => `${VERSIONS[impl]} as the ${role}, captured ${today} by interop/capture.mjs: ${what}`
  const pre = role === 'listener' ? impl : `${impl}-dialer`
  const vectors = []
  const msVector = (/** @type {string} */ id, /** @type {string} */ what, /** @type {ReturnType<typeof msMessages>} */ m, /** @type {any[]} */ confirms, /** @type {Record<string, unknown>} */ extra = {}) =>
    vectors.push({ id, provenance: 'interop', source: src(what), hex: m.messages.map((x) => x.hex).join(''),
      decoded: { kind: 'messages', lines: m.messages.map((x) => x.line) }, ...(confirms.length ? { confirms } : {}), ...extra })
  // plaintext security negotiation (before Noise)
  const rawIn = Buffer.concat(cap.raw.in), rawOut = Buffer.concat(cap.raw.out)
  const secIn = msMessages(rawIn, 2)
  if (role === 'listener') {
    msVector(`${pre}-ms-security-reply`, 'the reply to weft\'s "/multistream/1.0.0" + "/noise" (plaintext TCP, before Noise)', secIn,
      [ms('dialer-na-then-accept', 1, [0, 1], [0, 1]), ms('dialer-na-then-accept', 4, [0, 1], [1, 2])])
  } else {
    const first = cap.raw.in[0] ?? Buffer.alloc(0)
    const lazy = first.length > secIn.used ? `; the first TCP read held ${first.length - secIn.used} more bytes after them (the first Noise message in the same flight: multistream V1Lazy)` : ''
    msVector(`${pre}-ms-security-propose`, `the dialer's first plaintext multistream messages (TCP, before Noise)${lazy}`, secIn,
      [ms('listener-accept', 1, [0, 1], [0, 1]), ms('listener-na-then-accept', 4, [0, 1], [1, 2])])
  }
  // Noise messages on the wire after the negotiation (2-byte length each) against what weft decrypted
  let noiseFrames = 0
  for (let off = secIn.used; off + 2 <= rawIn.length; off += 2 + rawIn.readUInt16BE(off)) noiseFrames++
  const opened = cap.rec.filter((r) => r.dir === 'in').length
  log(`${impl} (${role}): ${noiseFrames} Noise messages from the remote on the wire, ${opened} transport messages decrypted by weft`)
  // Noise transport plaintext, in nonce order, per key (one connection: one key per direction)
  const byDir = (/** @type {'in' | 'out'} */ d) => {
    const rs = cap.rec.filter((r) => r.dir === d)
    const keys = [...new Set(rs.map((r) => r.key))]
    if (keys.length !== 1) throw new Error(`${impl}: expected one ${d} key, got ${keys.length}`)
    return Buffer.concat(rs.sort((a, b) => (a.counter < b.counter ? -1 : 1)).map((r) => r.pt))
  }
  // Without Noise early muxer negotiation (rust), yamux is selected by multistream inside Noise.
  const muxer = (/** @type {Buffer} */ b) => {
    const m = msMessages(b, 2)
    return m.messages[0]?.line === '/multistream/1.0.0' ? m : { messages: [], used: 0 }
  }
  const inPt = byDir('in'), outPt = byDir('out')
  const muxIn = muxer(inPt), muxOut = muxer(outPt)
  if (muxIn.messages.length > 0) {
    if (role === 'listener') {
      msVector(`${pre}-ms-muxer-reply`, 'the reply to weft\'s "/multistream/1.0.0" + "/yamux/1.0.0" (the first Noise transport plaintext: no early muxer negotiation)', muxIn,
        [ms('dialer-await-header', 1, [0, 1], [0, 1]), ms('dialer-await-header', 3, [0, 1], [1, 2])])
    } else {
      msVector(`${pre}-ms-muxer-propose`, 'the dialer\'s first Noise transport plaintext (no early muxer negotiation)', muxIn,
        [ms('listener-accept', 1, [0, 1], [0, 1]), ms('listener-ls', 3, [0, 1], [1, 2])])
    }
  }
  const remote = yamuxFrames(inPt.subarray(muxIn.used)), local = yamuxFrames(outPt.subarray(muxOut.used))
  log(`${impl} (${role}): remote sent ${remote.frames.length} yamux frames (${remote.rest} bytes left over), weft sent ${local.frames.length}`)
  const summary = []
  /** @type {Map<number, Uint8Array[]>} */
  const streams = new Map()
  for (const f of remote.frames) {
    summary.push(`${TYPE[f.type]} ${flagText(f.flags)} id=${f.streamId} len=${f.length}`)
    if (f.type === 0 && f.payload.length > 0) streams.set(f.streamId, [...(streams.get(f.streamId) ?? []), f.payload])
    const kind = `${f.type}:${f.flags}:${f.payload.length === 0 ? 'empty' : 'data'}`
    if (kept.has(kind) || f.payload.length > 64) continue
    kept.add(kind)
    const confirms = yamuxConfirms(f)
    let what = `${TYPE[f.type]} ${flagText(f.flags)} on stream ${f.streamId}, length ${f.length}`
    if (f.type === 2 && f.flags === 2) {
      const mine = local.frames.find((x) => x.type === 2 && x.flags === 1 && x.length === f.length)
      what += mine ? ` (answers weft's Ping ${hex(mine.bytes)})` : ''
    }
    vectors.push({ id: `${pre}-yamux-${slug(`${TYPE[f.type]} ${flagText(f.flags)}`)}${f.type === 0 ? (f.payload.length ? '-data' : '-empty') : ''}`,
      provenance: 'interop', source: src(what), hex: hex(f.bytes),
      decoded: { version: f.version, type: f.type, flags: f.flags, streamId: f.streamId, length: f.length, payload: hex(f.payload) },
      ...(confirms ? { confirms: [confirms] } : {}) })
  }
  // each stream's multistream flight from the remote
  const seenMs = new Set()
  for (const [id, parts] of streams) {
    const m = msMessages(Buffer.concat(parts), 3)
    if (m.messages.length === 0 || m.messages[0].line !== '/multistream/1.0.0') continue
    const lines = m.messages.map((x) => x.line)
    const remoteOpened = (id % 2 === 0) === (role === 'listener')
    const confirms = []
    if (!remoteOpened && lines[1] === 'na') confirms.push(ms('dialer-na-then-accept', 1, [0, 2], [0, 2]), ms('dialer-all-na', 1, [0, 2], [0, 2]))
    else if (!remoteOpened && lines[1] === '/ipfs/ping/1.0.0') confirms.push(ms('dialer-select', 2, [0, 2], [0, 2]))
    else if (remoteOpened) {
      confirms.push(ms('listener-accept', 1, [0, 1], [0, 1]))
      if (lines[1] === '/ipfs/ping/1.0.0') confirms.push(ms('proposal-ping', undefined, [0, 1], [1, 2]))
    }
    else confirms.push(ms('dialer-select', 2, [0, 1], [0, 1]))
    const vid = `${pre}-ms-${remoteOpened ? 'propose' : 'reply'}-${lines[1] === 'na' ? 'na' : slug(lines[1] ?? '')}`
    if (seenMs.has(vid)) continue
    seenMs.add(vid)
    msVector(vid, `the first multistream messages on yamux stream ${id} (${remoteOpened ? 'opened by the remote' : 'opened by weft'}), Data payloads concatenated`, m, confirms)
  }
  const localSummary = local.frames.map((f) => `${TYPE[f.type]} ${flagText(f.flags)} id=${f.streamId} len=${f.length}`)
  return { vectors, summary, localSummary }
}

// ---- main ------------------------------------------------------------------------------------

const redisServer = which('redis-server')
if (redisServer === undefined) { log('needs redis-server'); process.exit(1) }
const { proc: redis, addr: redisAddr, db } = await startRedis(redisServer)
if (db === undefined) { log('redis did not start'); process.exit(1) }
const all = []
try {
  for (const impl of peers) {
    const r = spawnSync('bash', [path.join(here, impl, 'build.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    const bin = r.stdout.trim().split('\n').pop()
    if (r.status !== 0 || !bin || !fs.existsSync(bin)) throw new Error(`interop/${impl}/build.sh failed`)
    const kept = new Set()
    for (const role of /** @type {const} */ (['listener', 'dialer'])) {
      const cap = role === 'listener' ? await capture(impl, bin, redisAddr, db) : await captureDialer(impl, bin, redisAddr, db)
      log(`${impl} (${role}): ${cap.notes.join('; ')}`)
      const { vectors, summary, localSummary } = select(impl, role, cap, kept)
      if (args.includes('--frames')) {
        for (const s of summary) log(`  ${impl} -> weft: ${s}`)
        for (const s of localSummary) log(`  weft -> ${impl}: ${s}`)
      }
      for (const v of vectors) log(`  keep ${v.id}: ${v.hex.length > 80 ? v.hex.slice(0, 80) + '...' : v.hex}`)
      all.push(...vectors)
    }
  }
} finally {
  killGroup(redis, 'SIGKILL')
}
if (!dryRun) {
  const file = { protocol: 'interop-transcripts', description: 'Frames and multistream flights captured from live go-libp2p and rust-libp2p peers by interop/capture.mjs (run by hand). Yamux vectors: decoded as in yamux.json. Multistream vectors: decoded {kind:"messages",lines}: the flight is exactly these length-prefixed lines. confirms: derived vectors (in yamux.json, multistream.json) whose meaning the capture shares; yamux: the listed `fields` of both decodings are equal; multistream: messages [stepMessages) of the derived vector\'s steps[step].hex (its hex when step is absent) are byte-equal to messages [captureMessages) of the capture.', vectors: all }
  fs.writeFileSync(OUT, JSON.stringify(file, null, 2) + '\n')
  log(`wrote ${all.length} vectors to ${path.relative(root, OUT)}`)
}
process.exit(0)
