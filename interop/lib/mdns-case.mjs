// One case of the `mdns` scenario (interop/CONTRACT.md, section `mdns`): the listener and the dialer
// each in a network namespace of their own, on one bridge, multicast routed (`224.0.0.0/4 dev
// eth0`), Redis on a Unix socket (namespaces share the file system), and a third namespace that
// sends malformed mDNS datagrams to 224.0.0.251:5353 while the case runs and records every datagram
// it hears (the live vectors of spec/vectors/mdns-live.json come from those records).
//
//   run.mjs:  if (c.scenario === 'mdns') r = await runMdnsCase(c, { commands, root, timeout, redisServer })
//   MDNS_VERBOSE=1 prints the peers' stderr of passing cases too
//   node interop/lib/mdns-case.mjs --noise <record.jsonl>   (what the third namespace runs)
//   node interop/lib/mdns-case.mjs --vectors <capture dir>  (capture dir: WEFT_MDNS_CAPTURE of a run)
//
// Namespaces are `wmd<pid>-{br,l,d,x}`: unique per orchestrator process; namespaces of a process that
// is gone (a crashed or killed run) are removed before each case, ours after it (also on errors).
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import dgram from 'node:dgram'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startRedisUnix } from './nat-run.mjs'
import { killGroup, sleep } from './proc.mjs'
import { dialerVerdict, listenerVerdict, startCaptured, tail } from './peer-case.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))

/** Addresses on the bridge (10.77.0.0/24 exists only inside the namespaces). */
export const MDNS_HOSTS = /** @type {const} */ ({ l: '10.77.0.2', d: '10.77.0.3', x: '10.77.0.9' })

/**
 * Directions known not to work (interop/README.md "Known quirks"): recorded as expected failures,
 * never as passes, never failing the suite; when one passes after all, the result says so.
 * A case needs discovery both ways, so both go<->rust directions fail on the go-finds-rust half.
 */
const GO_RUST = 'go-libp2p (zeroconf) cannot discover rust-libp2p: rust answers with a PTR to a bare `<peer-name>.` and TXT records under that name, no SRV and no A/AAAA; zeroconf keeps only TXT names under the service name and delivers an entry only once an A/AAAA matched the SRV target'
export const MDNS_EXPECTED_FAIL = /** @type {Record<string, string>} */ ({ 'go->rust': GO_RUST, 'rust->go': GO_RUST })

const TAIL_LINES = 40
const PREFIX = `wmd${process.pid}`

/** Cleanups of the case running now: run.mjs exits on SIGINT/SIGTERM through process.exit, which runs them. */
const active = new Set()
process.on('exit', () => { for (const f of active) f() })

/** @param {string[]} args */
const ip = (...args) => execFileSync('ip', args, { stdio: 'pipe' })

function listNamespaces() {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n').map((l) => l.split(' ')[0]).filter(Boolean)
  } catch {
    return []
  }
}

/** Remove `wmd<pid>-*` namespaces of processes that are gone, and our own (a case that died midway). */
function removeStale() {
  for (const n of listNamespaces()) {
    const m = /^wmd(\d+)-/.exec(n)
    if (m === null) continue
    const pid = Number(m[1])
    let alive = pid !== process.pid // our own are leftovers of a case that died midway
    if (alive) try { process.kill(pid, 0) } catch { alive = false }
    if (!alive) try { ip('netns', 'del', n) } catch { /* gone */ }
  }
}

/** Why the namespace cases cannot run here, or undefined. */
export function mdnsUnavailable() {
  if (process.getuid?.() !== 0) return 'not root (network namespaces need root)'
  try {
    ip('netns', 'add', `${PREFIX}-probe`)
    ip('netns', 'del', `${PREFIX}-probe`)
  } catch (e) {
    return `ip netns unavailable (${String(/** @type {Error} */ (e).message).split('\n')[0]})`
  }
  return undefined
}

/** Build the bridge and the three hosts; returns the namespace names. */
function up() {
  removeStale()
  const ns = { br: `${PREFIX}-br`, l: `${PREFIX}-l`, d: `${PREFIX}-d`, x: `${PREFIX}-x` }
  for (const n of Object.values(ns)) {
    ip('netns', 'add', n)
    ip('-n', n, 'link', 'set', 'lo', 'up')
    // No duplicate address detection: the link-local IPv6 address is usable at once, so the peers'
    // IPv6 mDNS sockets (go, weft) do not fail their first sends while it is still tentative.
    execFileSync('ip', ['netns', 'exec', n, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'], { stdio: 'pipe' })
  }
  ip('-n', ns.br, 'link', 'add', 'br0', 'type', 'bridge')
  ip('-n', ns.br, 'link', 'set', 'br0', 'up')
  for (const h of /** @type {const} */ (['l', 'd', 'x'])) {
    ip('link', 'add', 'eth0', 'netns', ns[h], 'type', 'veth', 'peer', 'name', `p${h}`, 'netns', ns.br)
    ip('-n', ns.br, 'link', 'set', `p${h}`, 'master', 'br0', 'up')
    ip('-n', ns[h], 'addr', 'add', `${MDNS_HOSTS[h]}/24`, 'dev', 'eth0')
    ip('-n', ns[h], 'link', 'set', 'eth0', 'up')
    ip('-n', ns[h], 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
  }
  return ns
}

/** @param {Record<string, string>} ns */
function down(ns) {
  for (const n of Object.values(ns)) try { ip('netns', 'del', n) } catch { /* gone */ }
}

/**
 * @param {string} nsName @param {string[]} command @param {Record<string, string>} env @param {string} cwd
 */
function startIn(nsName, command, env, cwd) {
  return startCaptured(['ip', 'netns', 'exec', nsName, ...command], env, cwd)
}

/**
 * Run one mdns case. `ctx.commands[impl]` is the peer's command line (as run.mjs builds it).
 * @param {{ dialer: string, listener: string, transport: string, security?: string, scenario: string }} c
 * @param {{ commands: Record<string, string[]>, root: string, timeout: number, redisServer: string }} ctx
 */
export async function runMdnsCase(c, ctx) {
  const t0 = Date.now()
  const key = `${c.dialer}->${c.listener}`
  const expectedFail = MDNS_EXPECTED_FAIL[key]
  /** @type {Record<string, unknown>} */
  const base = { ...c, handshakePlusOneRTTMillis: null, pingRTTMillis: null }
  const withExpectation = (/** @type {Record<string, any>} */ r) => {
    if (expectedFail === undefined) return r
    return { ...r, expected: 'fail', expectedReason: expectedFail, ...(r.ok ? { unexpectedPass: true } : {}) }
  }
  const why = mdnsUnavailable()
  if (why !== undefined) {
    // As the NAT suite: skipped (not failed) off CI, failed on CI, which never skips.
    const ci = process.env.CI === 'true' || process.env.CI === '1'
    return withExpectation({ ...base, ok: false, error: `mdns: cannot build namespaces: ${why}`, seconds: 0, ...(ci ? {} : { skipped: why }) })
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `weft-mdns-${process.pid}-`))
  fs.chmodSync(dir, 0o755)
  /** @type {Record<string, string>} */
  let ns = {}
  /** @type {ReturnType<typeof startIn>[]} */
  const procs = []
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let redisProc
  /** @type {any} */
  let db
  /** @type {string | null} */
  let error = null
  /** @type {number | null} */ let handshake = null
  /** @type {number | null} */ let ping = null
  let dialer
  let listener
  const cleanup = () => {
    for (const p of procs) killGroup(p.proc, 'SIGKILL')
    if (redisProc !== undefined) killGroup(redisProc, 'SIGKILL')
    down(ns)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  active.add(cleanup)
  try {
    ns = up()
    const r = await startRedisUnix(ctx.redisServer, dir)
    redisProc = r.proc
    db = r.db
    if (db === undefined) throw new Error(`redis-server did not answer on ${r.addr}`)
    const record = path.join(dir, 'record.jsonl')
    const noise = startIn(ns.x, [process.execPath, fileURLToPath(import.meta.url), '--noise', record], {}, ctx.root)
    procs.push(noise)
    // The recorder must be on the group before the peers send their first query.
    for (let i = 0; i < 100 && !noise.stdout().includes('ready'); i++) await sleep(50)
    if (!noise.stdout().includes('ready')) throw new Error(`the noise sender did not start: ${tail(noise.stderr(), 1)[0] ?? ''}`)
    const common = {
      transport: c.transport, muxer: 'yamux', security: c.security ?? 'noise', scenario: 'mdns', redis_addr: r.addr,
      test_timeout_seconds: String(Math.max(5, ctx.timeout - 5)), mdns_noise: '1',
    }
    listener = startIn(ns.l, ctx.commands[c.listener], { ...common, is_dialer: 'false', ip: MDNS_HOSTS.l }, ctx.root)
    procs.push(listener)
    dialer = startIn(ns.d, ctx.commands[c.dialer], { ...common, is_dialer: 'true', ip: MDNS_HOSTS.d }, ctx.root)
    procs.push(dialer)

    ;({ error, handshake, ping } = await dialerVerdict(dialer, ctx.timeout))
    // The listener's verdict counts even when the dialer failed (it says whether discovery worked the other way).
    const lerr = await listenerVerdict(db, error === null ? 20 : 1)
    if (lerr !== null) error = error === null ? lerr : `${error}; ${lerr}`
    if (error === null && listener.proc.exitCode !== null) error = `listener exited early (${listener.proc.exitCode})`
    if (error === null && noise.proc.exitCode !== null) error = `the noise sender exited early (${noise.proc.exitCode}): ${tail(noise.stderr(), 1)[0] ?? ''}`
    for (const p of procs) killGroup(p.proc, 'SIGTERM')
    await Promise.race([Promise.all(procs.map((p) => p.exit)), sleep(2000)])
    const capture = process.env.WEFT_MDNS_CAPTURE
    if (capture !== undefined && capture !== '' && fs.existsSync(record)) {
      fs.mkdirSync(capture, { recursive: true })
      const roles = { [MDNS_HOSTS.l]: c.listener, [MDNS_HOSTS.d]: c.dialer }
      fs.writeFileSync(path.join(capture, `${c.dialer}-${c.listener}.json`), `${JSON.stringify({ roles, packets: fs.readFileSync(record, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) })}\n`)
    }
  } catch (e) {
    error = `orchestrator: ${/** @type {Error} */ (e).message}`
  } finally {
    db?.close()
    cleanup()
    active.delete(cleanup)
  }
  const res = withExpectation({ ...base, ok: error === null, handshakePlusOneRTTMillis: handshake, pingRTTMillis: ping, error, seconds: (Date.now() - t0) / 1000 })
  if (!res.ok || res.unexpectedPass === true || process.env.MDNS_VERBOSE === '1') {
    const what = res.ok && res.unexpectedPass !== true ? 'pass' : res.ok ? 'UNEXPECTED PASS (expected to fail)' : expectedFail !== undefined ? `expected failure (${expectedFail.slice(0, 60)}...)` : 'FAIL'
    console.log(`\n----- ${what} ${c.dialer} -> ${c.listener} mdns: ${error ?? ''}`)
    const n = expectedFail !== undefined ? 8 : TAIL_LINES
    for (const [name, p] of /** @type {const} */ ([['dialer', dialer], ['listener', listener]])) {
      if (p === undefined) continue
      console.log(`----- ${name} (${name === 'dialer' ? c.dialer : c.listener}) stderr, last ${n} lines:`)
      for (const l of tail(p.stderr(), n)) console.log(`  | ${l}`)
    }
    console.log('-----')
  }
  return res
}

// ---- the noise sender and recorder (runs in the third namespace) -------------------------------------

/** Header: id 0, flags, counts. @param {number} flags @param {number[]} counts qd an ns ar */
function header(flags, counts) {
  const b = Buffer.alloc(12)
  b.writeUInt16BE(flags, 2)
  counts.forEach((n, i) => b.writeUInt16BE(n, 4 + 2 * i))
  return b
}
const svc = Buffer.from('045f703270045f756470056c6f63616c00', 'hex') // _p2p._udp.local

/** The malformed datagrams, one of each kind (interop/CONTRACT.md `mdns`). */
export function malformedPackets() {
  const txt = Buffer.concat(Array.from({ length: 40 }, () => Buffer.concat([Buffer.of(255), Buffer.alloc(255, 0x61)])))
  const rr = (/** @type {Buffer} */ name, /** @type {number} */ type, /** @type {Buffer} */ rdata) => {
    const f = Buffer.alloc(10)
    f.writeUInt16BE(type, 0); f.writeUInt16BE(1, 2); f.writeUInt32BE(120, 4); f.writeUInt16BE(rdata.length, 8)
    return Buffer.concat([name, f, rdata])
  }
  return {
    'truncated-header': Buffer.from('0000840000', 'hex'),
    // the question's name is a pointer to itself (offset 12)
    'pointer-loop': Buffer.concat([header(0, [1, 0, 0, 0]), Buffer.from('c00c000c0001', 'hex')]),
    // the question's name points forward, past itself, to a label at offset 18
    'pointer-forward': Buffer.concat([header(0, [1, 0, 0, 0]), Buffer.from('c012000c0001', 'hex'), svc]),
    // a 64-byte label (length byte 0x40: a reserved label type)
    'label-over-63': Buffer.concat([header(0, [1, 0, 0, 0]), Buffer.of(64), Buffer.alloc(64, 0x61), Buffer.from('00000c0001', 'hex')]),
    // a response whose TXT record holds 40 strings of 255 bytes: over 10 kB, past weft's 9000-byte packet limit
    'oversize-txt': Buffer.concat([header(0x8400, [0, 1, 0, 0]), rr(svc, 16, txt)]),
    // a TXT string that runs past the end of its record's rdata
    'txt-overrun': Buffer.concat([header(0x8400, [0, 1, 0, 0]), rr(svc, 16, Buffer.concat([Buffer.of(200), Buffer.alloc(20, 0x62)]))]),
    'random-bytes': randomBytes(200),
  }
}

/** Send the malformed datagrams every 200 ms and record what the group carries (JSON lines). @param {string} file */
async function noiseMain(file) {
  const iface = Object.values(os.networkInterfaces()).flat().find((i) => i?.family === 'IPv4' && !i.internal)?.address
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  const out = fs.openSync(file, 'w')
  let recorded = 0
  sock.on('message', (msg, rinfo) => {
    if (rinfo.address === iface || recorded >= 2000) return
    recorded++
    fs.writeSync(out, `${JSON.stringify({ t: Date.now(), from: rinfo.address, port: rinfo.port, hex: msg.toString('hex') })}\n`)
  })
  await new Promise((resolve) => sock.bind(5353, () => resolve(undefined)))
  sock.setMulticastLoopback(false)
  sock.setMulticastTTL(255)
  if (iface !== undefined) {
    sock.addMembership('224.0.0.251', iface)
    sock.setMulticastInterface(iface)
  }
  process.on('SIGTERM', () => process.exit(0))
  process.stdout.write('ready\n')
  // Orphaned (the orchestrator was killed before it could stop us) or past any case's length: go.
  const parent = process.ppid
  const until = Date.now() + 300_000
  for (;;) {
    if (process.ppid !== parent || Date.now() > until) process.exit(0)
    for (const p of Object.values(malformedPackets())) sock.send(p, 5353, '224.0.0.251')
    await sleep(200)
  }
}

// ---- live vectors from a capture -------------------------------------------------------------------

/**
 * spec/vectors/mdns-live.json from the records of a run with WEFT_MDNS_CAPTURE=<dir>: for go and rust,
 * the first query and the first response that names the peer (from its namespace address).
 * @param {string} dir
 */
async function vectorsMain(dir) {
  const root = path.dirname(path.dirname(here))
  const { decodeDnsMessage, parseResponse, parseQuery } = await import('../../dist/mdns/index.js')
  /** @type {any[]} */
  const vectors = []
  for (const impl of ['go', 'rust']) {
    /** @type {{ query?: any, response?: any, announcement?: any, probe?: any }} */
    const got = {}
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.json') && n.includes(impl) && n.includes('weft'))) {
      const { roles, packets } = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))
      for (const p of packets) {
        if (roles[p.from] !== impl) continue
        let msg
        try { msg = decodeDnsMessage(Uint8Array.from(Buffer.from(p.hex, 'hex'))) } catch { continue }
        if (got.query === undefined && parseQuery(msg) !== undefined) got.query = { p, f }
        if (got.probe === undefined && msg.questions.length > 0 && msg.authorities.length > 0) got.probe = { p, f }
        const peers = parseResponse(msg)
        // a query answer (PTR in Answer, the rest in Additional), and go's unsolicited announcement (all in Answer)
        if (got.response === undefined && peers.length > 0 && msg.additionals.length > 0) got.response = { p, f, peers }
        if (got.announcement === undefined && peers.length > 0 && msg.additionals.length === 0) got.announcement = { p, f, peers }
      }
    }
    if (got.query === undefined || got.response === undefined) throw new Error(`no ${impl} ${got.query === undefined ? 'query' : 'response'} in ${dir}`)
    const version = impl === 'go' ? 'go-libp2p v0.48.0 p2p/discovery/mdns (zeroconf v2.2.0)' : 'rust-libp2p 0.57.1 (libp2p-mdns 0.49.0)'
    const source = (/** @type {any} */ x) => `${version}, captured by interop/lib/mdns-case.mjs (case ${x.f.replace('.json', '').replace('-', ' -> ')}, sent from ${x.p.from}:${x.p.port}) on ${new Date(x.p.t).toISOString().slice(0, 10)}`
    vectors.push({ id: `${impl}-query`, provenance: 'interop', source: source(got.query), hex: got.query.p.hex, decoded: { kind: 'query', peers: true } })
    const peersOf = (/** @type {any} */ x) => x.peers.map((/** @type {any} */ d) => ({ peer: d.peer.toString(), addrs: d.addrs.map((/** @type {any} */ a) => a.toString()) }))
    vectors.push({ id: `${impl}-response`, provenance: 'interop', source: source(got.response), hex: got.response.p.hex, decoded: { kind: 'response', peers: peersOf(got.response) } })
    if (got.announcement !== undefined) {
      vectors.push({ id: `${impl}-announcement`, provenance: 'interop', source: source(got.announcement), hex: got.announcement.p.hex, decoded: { kind: 'response', peers: peersOf(got.announcement) }, note: 'unsolicited: every record in the Answer section' })
    }
    if (got.probe !== undefined) {
      vectors.push({ id: `${impl}-probe`, provenance: 'interop', source: source(got.probe), hex: got.probe.p.hex, decoded: { kind: 'probe' }, note: 'RFC 6762 §8.1 probe (authority section): not a query to answer, not a response' })
    }
  }
  const file = path.join(root, 'spec/vectors/mdns-live.json')
  const body = {
    protocol: 'mdns',
    description: 'mDNS datagrams sent by real go-libp2p and rust-libp2p peers in the interop `mdns` scenario (namespaces on one bridge), recorded from the group by the case runner; regenerate with WEFT_MDNS_CAPTURE=<dir> node interop/run.mjs --scenario mdns, then node interop/lib/mdns-case.mjs --vectors <dir>. decoded.peers: what weft\'s parseResponse must find (peer id, addresses without /p2p).',
    vectors,
  }
  fs.writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`)
  console.log(`wrote ${path.relative(root, file)} (${vectors.length} vectors)`)
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--noise' && process.argv[3] !== undefined) await noiseMain(process.argv[3])
  else if (process.argv[2] === '--vectors' && process.argv[3] !== undefined) await vectorsMain(path.resolve(process.argv[3]))
  else {
    console.error('usage: node interop/lib/mdns-case.mjs --noise <record.jsonl> | --vectors <capture dir>')
    process.exit(2)
  }
}
