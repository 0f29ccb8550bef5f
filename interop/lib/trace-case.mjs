// One case of the `trace` scenario (interop/CONTRACT.md, section `trace`): `weft trace` against a go,
// rust or weft listener, under tcpdump on loopback, then the capture decrypted offline with the keylog.
//
//   run.mjs:  if (c.scenario === 'trace') r = await runTraceCase(c, { commands, root, timeout, db, redisAddr })
//   TRACE_KEEP=<dir> keeps each case's capture, keylog and both event streams there
//
// The listener (scenario=trace: interop/go/trace.go, interop/rust/src/trace.rs, interop/weft/trace.mjs)
// listens on the case's transport (tcp with its security, noise or tls; or quic-v1) and prints on
// stdout one line {"identify": {...}}: what its identify sends. The case checks:
//  - every event kind of the channel appears in the live trace (noise: transport, multistream,
//    noise-handshake 1, 2 and 3, yamux-frame, message, state; tls: tls-handshake instead of
//    noise-handshake; quic-v1: quic-packet, tls-handshake, multistream, message, state); Noise message
//    2's decoded payload, or the listener's TLS certificate, names the listener's peer id;
//  - the identify message weft decoded equals what the listener printed: agentVersion, protocolVersion,
//    protocols (as a set), listenAddrs (as a set), the peer id;
//  - ping, kad and gossipsub messages were decoded (the protocols the case asked for);
//  - the capture decrypted offline (`weft trace --pcap --keylog --json`) decodes to the end and yields
//    every message event of the live trace (same direction, stream, protocol, name and fields), its
//    multistream lines and the same handshake messages (Noise: sizes, ephemeral keys; TLS: direction,
//    level, type, size; QUIC: every packet decrypted). The capture may hold more: bytes
//    that reached the socket after the live trace stopped reading (counted and printed, not failed).
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { killGroup, sleep, which } from './proc.mjs'
import { startCaptured, tail } from './peer-case.mjs'

/** What `weft trace` exercises after identify (its `--protocol` values). */
export const TRACE_PROTOCOLS = ['ping', 'kad', 'gossipsub']
/** The event kinds every case's live trace shows, per channel. */
const KINDS = {
  noise: ['transport', 'multistream', 'noise-handshake', 'yamux-frame', 'message', 'state'],
  tls: ['transport', 'multistream', 'tls-handshake', 'yamux-frame', 'message', 'state'],
  quic: ['quic-packet', 'tls-handshake', 'multistream', 'message', 'state'],
}
/** The case's channel: `quic` for quic-v1, else its security. @param {{ transport: string, security?: string }} c */
export const channelOf = (c) => (c.transport === 'quic-v1' ? 'quic' : c.security === 'tls' ? 'tls' : 'noise')

/** Why the case cannot run here, or undefined. */
export function traceUnavailable() {
  if (which('tcpdump') === undefined) return 'tcpdump is not installed (Debian: apt-get install -y tcpdump)'
  if (process.getuid?.() !== 0) return 'not root (tcpdump -i lo needs root)'
  return undefined
}

/** Parse JSON lines; lines that are not JSON objects are returned in `other`. @param {string} text */
export function jsonLines(text) {
  /** @type {any[]} */ const events = []
  /** @type {string[]} */ const other = []
  for (const l of text.split('\n')) {
    if (l.trim() === '') continue
    try {
      const j = JSON.parse(l)
      if (j !== null && typeof j === 'object') events.push(j)
      else other.push(l)
    } catch {
      other.push(l)
    }
  }
  return { events, other }
}

/** A stable key of a message event for comparing live and offline: everything but time and connection id. @param {any} e */
export const messageKey = (e) => JSON.stringify([e.dir, e.stream, e.protocol, e.name, e.fields])

/**
 * The identify fields weft decoded, whatever shape the decoder gives them (strings or {text}).
 * @param {any} fields
 */
function identifyView(fields) {
  const str = (/** @type {any} */ v) => (typeof v === 'string' ? v : v?.text ?? v?.string ?? JSON.stringify(v))
  return {
    agentVersion: fields.agentVersion,
    protocolVersion: fields.protocolVersion,
    protocols: new Set((fields.protocols ?? []).map(str)),
    listenAddrs: new Set((fields.listenAddrs ?? []).map(str)),
    peerId: fields.peerId ?? fields.publicKey?.peerId ?? fields.publicKeyPeerId,
  }
}

/** Compare the decoded identify with what the peer printed; returns the problems. @param {any} decoded @param {any} sent */
export function compareIdentify(decoded, sent) {
  const d = identifyView(decoded)
  const problems = []
  const setEq = (/** @type {Set<string>} */ a, /** @type {string[]} */ b) => a.size === new Set(b).size && b.every((x) => a.has(x))
  if (d.agentVersion !== sent.agentVersion) problems.push(`agentVersion ${JSON.stringify(d.agentVersion)} != ${JSON.stringify(sent.agentVersion)}`)
  if (d.protocolVersion !== sent.protocolVersion) problems.push(`protocolVersion ${JSON.stringify(d.protocolVersion)} != ${JSON.stringify(sent.protocolVersion)}`)
  if (!setEq(d.protocols, sent.protocols)) problems.push(`protocols ${JSON.stringify([...d.protocols].sort())} != ${JSON.stringify([...sent.protocols].sort())}`)
  if (!setEq(d.listenAddrs, sent.listenAddrs)) problems.push(`listenAddrs ${JSON.stringify([...d.listenAddrs])} != ${JSON.stringify(sent.listenAddrs)}`)
  if (d.peerId !== sent.peerId) problems.push(`peer id ${JSON.stringify(d.peerId)} != ${sent.peerId}`)
  // go and rust print the protobuf-encoded public key (hex); the decoder shows the key's bytes.
  const keyHex = decoded.publicKey?.hex
  if (typeof sent.publicKey === 'string' && typeof keyHex === 'string' && !sent.publicKey.endsWith(keyHex)) problems.push(`public key ${keyHex} is not the one in ${sent.publicKey}`)
  return problems
}

/**
 * Check a live trace (and the offline decode of its capture) against what the listener printed.
 * @param {any[]} live @param {any[] | undefined} offline @param {any} sent @param {string[]} protocols
 * @param {'noise' | 'tls' | 'quic'} [channel]
 * @returns {{ problems: string[], notes: string[] }}
 */
export function checkTrace(live, offline, sent, protocols, channel = 'noise') {
  const problems = []
  const notes = []
  for (const k of KINDS[channel]) if (!live.some((e) => e.kind === k)) problems.push(`no ${k} event`)
  if (channel === 'noise') {
    for (const m of [1, 2, 3]) if (!live.some((e) => e.kind === 'noise-handshake' && e.message === m)) problems.push(`no noise-handshake message ${m}`)
    // Noise message 2 carries the listener's signed identity (decoded live; the keylog cannot open it offline).
    const m2 = live.find((e) => e.kind === 'noise-handshake' && e.message === 2)
    if (m2 !== undefined && m2.payload?.identityKey !== sent.peerId) problems.push(`noise message 2: identity ${JSON.stringify(m2.payload?.identityKey)} != ${sent.peerId}`)
  } else {
    // the listener's certificate (TLS 1.3 handshake message, checked as weft checks it) names its peer id
    const cert = live.find((e) => e.kind === 'tls-handshake' && e.type === 'certificate' && e.dir === 'in')
    if (cert?.fields?.peerId !== sent.peerId || cert?.fields?.verified !== true) problems.push(`the listener's certificate: ${JSON.stringify(cert?.fields)} (want peer id ${sent.peerId}, verified)`)
    for (const t of ['client_hello', 'server_hello', 'encrypted_extensions', 'certificate', 'certificate_verify', 'finished']) {
      if (!live.some((e) => e.kind === 'tls-handshake' && e.type === t)) problems.push(`no tls-handshake ${t}`)
    }
  }
  const messages = live.filter((e) => e.kind === 'message')
  const id = messages.find((e) => e.protocol === '/ipfs/id/1.0.0' && e.dir === 'in')
  if (id === undefined) problems.push('no identify message from the listener')
  else problems.push(...compareIdentify(id.fields, sent).map((p) => `identify: ${p}`))
  const wanted = { ping: /^\/ipfs\/ping\//, kad: /^\/ipfs\/kad\//, gossipsub: /^\/(meshsub|floodsub)\// }
  for (const p of protocols) {
    const re = wanted[/** @type {keyof typeof wanted} */ (p)]
    if (re !== undefined && !messages.some((e) => re.test(e.protocol) && e.dir === 'in')) problems.push(`no ${p} message from the listener`)
  }
  if (offline !== undefined) {
    const have = new Map()
    for (const e of offline.filter((x) => x.kind === 'message')) have.set(messageKey(e), (have.get(messageKey(e)) ?? 0) + 1)
    let missing = 0
    /** @type {string | undefined} */ let firstMissing
    for (const e of messages) {
      const k = messageKey(e)
      const n = have.get(k) ?? 0
      if (n === 0) {
        missing++
        firstMissing ??= k
      } else have.set(k, n - 1)
    }
    if (missing > 0) problems.push(`${missing} of ${messages.length} live message events are not in the decrypted capture (first: ${firstMissing?.slice(0, 300)})`)
    const extra = [...have.values()].reduce((a, b) => a + b, 0)
    // The capture's multistream lines and handshake keys are the live trace's too; it decoded to the end.
    const lines = (/** @type {any[]} */ evs) => evs.filter((e) => e.kind === 'multistream').map((e) => `${e.dir} ${e.stream ?? '-'} ${e.line}`)
    const offLines = new Set(lines(offline))
    const lost = lines(live).filter((l) => !offLines.has(l))
    if (lost.length > 0) problems.push(`${lost.length} live multistream lines are not in the decrypted capture (first: ${lost[0]})`)
    const eph = (/** @type {any[]} */ evs) => evs.filter((e) => e.kind === 'noise-handshake' || e.kind === 'tls-handshake')
      .map((e) => (e.kind === 'noise-handshake' ? `${e.dir} ${e.message} ${e.bytes} ${e.ephemeral}` : `${e.dir} ${e.level} ${e.type} ${e.bytes}`)).join(', ')
    if (eph(offline) !== eph(live)) problems.push(`handshake messages differ: live [${eph(live)}], capture [${eph(offline)}]`)
    const undecrypted = offline.filter((e) => e.kind === 'quic-packet' && e.undecryptable !== undefined)
    if (undecrypted.length > 0) problems.push(`${undecrypted.length} QUIC packets of the capture not decrypted (first: ${JSON.stringify(undecrypted[0])})`)
    if (channel === 'quic') notes.push(`offline: ${offline.filter((e) => e.kind === 'quic-packet').length} QUIC packets decrypted (live: ${live.filter((e) => e.kind === 'quic-packet').length})`)
    const bad = offline.filter((e) => e.kind === 'state' && ['undecodable', 'no-keys', 'capture-incomplete'].includes(e.to))
    if (bad.length > 0) problems.push(`the capture: ${bad.map((e) => `${e.to} (${e.reason})`).join('; ')}`)
    notes.push(`offline: ${offline.filter((x) => x.kind === 'message').length} message events, ${messages.length} live ones all found${extra > 0 ? `, ${extra} more in the capture` : ''}`)
  }
  return { problems, notes }
}

/**
 * @param {{ dialer: string, listener: string, transport: string, security?: string, scenario: string }} c
 * @param {{ commands: Record<string, string[]>, root: string, timeout: number, db: any, redisAddr: string }} ctx
 */
export async function runTraceCase(c, ctx) {
  const t0 = Date.now()
  const base = { ...c, handshakePlusOneRTTMillis: null, pingRTTMillis: null }
  const channel = channelOf(c)
  const done = (/** @type {string | null} */ error, /** @type {Record<string, unknown>} */ extra = {}) => ({ ...base, ok: error === null, error, seconds: (Date.now() - t0) / 1000, ...extra })
  if (c.dialer !== 'weft') return done(`trace: the dialer is weft (\`weft trace\`), not ${c.dialer}`)
  const why = traceUnavailable()
  if (why !== undefined) {
    const ci = process.env.CI === 'true' || process.env.CI === '1'
    console.log(`[interop] trace: ${ci ? 'FAILING' : 'skipping'}: ${why}`)
    return done(`trace: ${why}`, ci ? {} : { skipped: why })
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-trace-'))
  const pcap = path.join(dir, 'capture.pcap')
  const keylog = path.join(dir, 'keylog.txt')
  const weft = [process.execPath, path.join(ctx.root, 'bin/weft.js')]
  /** @type {import('./peer-case.mjs').Peer[]} */ const procs = []
  /** @type {string | null} */ let error = null
  /** @type {string[]} */ let notes = []
  let traceRun
  let listener
  try {
    await ctx.db.command('DEL', 'listenerAddr', 'listenerResult')
    listener = startCaptured(ctx.commands[c.listener], {
      transport: c.transport, muxer: 'yamux', security: channel === 'noise' ? 'noise' : 'tls', scenario: 'trace', is_dialer: 'false',
      ip: '127.0.0.1', redis_addr: ctx.redisAddr, test_timeout_seconds: String(Math.max(10, ctx.timeout)),
    }, ctx.root)
    procs.push(listener)
    const r = await ctx.db.command('BLPOP', 'listenerAddr', 20)
    if (r === null) throw new Error('the listener published no listenerAddr within 20 s')
    const addr = String(r[1]).trim()
    const port = /\/(?:tcp|udp)\/(\d+)/.exec(addr)?.[1]
    /** @type {any} */ let sent
    for (let i = 0; i < 100 && sent === undefined; i++) {
      sent = jsonLines(listener.stdout()).events.find((j) => j.identify !== undefined)?.identify
      if (sent === undefined) await sleep(50)
    }
    if (sent === undefined) throw new Error('the listener printed no {"identify": ...} line')

    // tcpdump on loopback, packet-buffered (-U), whole packets (-s 0), this listener's port only.
    const dump = spawn('tcpdump', ['-i', 'lo', '-U', '-s', '0', '-w', pcap, `${channel === 'quic' ? 'udp' : 'tcp'} port ${port}`], { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
    let dumpErr = ''
    const ready = new Promise((resolve) => dump.stderr.on('data', (d) => { dumpErr += d; if (/listening on/.test(dumpErr)) resolve(true) }))
    const dumpExit = new Promise((resolve) => dump.once('exit', resolve))
    const up = await Promise.race([ready, dumpExit.then(() => false), sleep(10_000).then(() => false)])
    if (up !== true) throw new Error(`tcpdump did not start: ${dumpErr.trim().split('\n').pop()}`)
    try {
      const argv = ['trace', addr, '--json', '--keylog', keylog, ...TRACE_PROTOCOLS.flatMap((p) => ['--protocol', p]), ...(channel === 'tls' ? ['--security', 'tls'] : [])]
      traceRun = spawnSync(weft[0], [...weft.slice(1), ...argv], { cwd: ctx.root, encoding: 'utf8', timeout: ctx.timeout * 1000, maxBuffer: 64 << 20 })
    } finally {
      // Let the last packets reach the file, then stop tcpdump (SIGINT flushes what it read; on a
      // loaded machine it may lag behind the kernel, so wait until the file stops growing).
      for (let size = -1, same = 0, i = 0; i < 40 && same < 3; i++) {
        await sleep(200)
        const now = fs.existsSync(pcap) ? fs.statSync(pcap).size : 0
        same = now === size ? same + 1 : 0
        size = now
      }
      try { process.kill(/** @type {number} */ (dump.pid), 'SIGINT') } catch { /* gone */ }
      await Promise.race([dumpExit, sleep(5000)])
      killGroup(dump, 'SIGKILL')
    }
    if (traceRun.error !== undefined || traceRun.status !== 0) {
      throw new Error(`weft trace exited ${traceRun.status ?? traceRun.signal ?? traceRun.error}: ${tail(traceRun.stderr ?? '', 3).join(' | ')}`)
    }
    const live = jsonLines(traceRun.stdout).events
    const off = spawnSync(weft[0], [...weft.slice(1), 'trace', '--pcap', pcap, '--keylog', keylog, '--json'], { cwd: ctx.root, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 })
    if (off.status !== 0) throw new Error(`weft trace --pcap exited ${off.status ?? off.signal}: ${tail(off.stderr ?? '', 3).join(' | ')}`)
    const offline = jsonLines(off.stdout).events
    if (process.env.TRACE_KEEP) {
      const keep = path.join(process.env.TRACE_KEEP, `${c.dialer}-${c.listener}-${channel}`)
      fs.mkdirSync(keep, { recursive: true })
      for (const f of ['capture.pcap', 'keylog.txt']) fs.copyFileSync(path.join(dir, f), path.join(keep, f))
      fs.writeFileSync(path.join(keep, 'live.jsonl'), traceRun.stdout)
      fs.writeFileSync(path.join(keep, 'offline.jsonl'), off.stdout)
      fs.writeFileSync(path.join(keep, 'identify-sent.json'), `${JSON.stringify(sent, null, 2)}\n`)
    }
    const verdict = checkTrace(live, offline, sent, TRACE_PROTOCOLS, channel)
    notes = verdict.notes
    const counts = Object.fromEntries(KINDS[channel].map((k) => [k, live.filter((e) => e.kind === k).length]))
    notes.push(`live events: ${JSON.stringify(counts)}`)
    if (verdict.problems.length > 0) error = `trace: ${verdict.problems.join('; ')}`
  } catch (e) {
    error = `trace: ${/** @type {Error} */ (e).message}`
  } finally {
    for (const p of procs) killGroup(p.proc, 'SIGKILL')
    fs.rmSync(dir, { recursive: true, force: true })
  }
  for (const n of notes) console.log(`[interop] trace ${c.dialer}->${c.listener}: ${n}`)
  if (error !== null && listener !== undefined) {
    console.log(`----- listener (${c.listener}) stderr, last 20 lines:`)
    for (const l of tail(listener.stderr(), 20)) console.log(`  | ${l}`)
    if (traceRun !== undefined) {
      console.log('----- weft trace stderr, last 20 lines:')
      for (const l of tail(traceRun.stderr ?? '', 20)) console.log(`  | ${l}`)
    }
  }
  return done(error, { notes })
}
