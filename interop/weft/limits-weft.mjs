/**
 * The weft side of the limits scenarios (../limits.mjs, README.md "Limits"): weft's connection
 * manager and go-libp2p's resource limits, against real go and rust peers. The weft nodes run in the
 * orchestrator's process (imports ../../dist: `npm run build` first).
 *
 * Each case gets `ctx`: { weft (the dist/node.js module), redis (a Resp), spawn(impl, env), log }
 * and returns { ok, error?, ...observations }; it throws only on harness failures.
 */
import { performance } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import { PeerId } from '../../dist/peer-id/index.js'
import { until as pollUntil } from '../lib/wait.mjs'

const HOLD = '/weft/hold/1.0.0'
const PING = '/ipfs/ping/1.0.0'
const GC = 0x1005 // ConnGarbageCollected (yamux GoAway length field)
const STREAM_LIMIT = 0x1002 // StreamResourceLimitExceeded (RST WindowUpdate length field)

/** Poll `f` every 50 ms until it returns a truthy value; throws after `ms`. @template T */
const until = (/** @type {() => Promise<T> | T} */ f, /** @type {number} */ ms, /** @type {string} */ what) => pollUntil(f, ms, what, 50)

/** @param {any} redis @param {string} key */
async function list(redis, key) {
  return /** @type {string[]} */ (await redis.command('LRANGE', key, '0', '-1')).map((s) => JSON.parse(s))
}

/** What a connection:close error tells (typed ConnectionClosedError or whatever weft gave). @param {any} e */
function describeClose(e) {
  if (e === undefined) return { error: null }
  return { error: `${e.name}: ${e.message}`, code: e.code, wireCode: e.wireCode, by: e.by }
}

/** @param {any} weft @param {any} e */
const isGcClose = (weft, e, /** @type {'local' | 'remote'} */ by) =>
  e !== undefined && (weft.ConnectionClosedError === undefined || e instanceof weft.ConnectionClosedError) &&
  e.code === 'close/garbage-collected' && e.wireCode === GC && e.by === by

/** Read exactly n bytes from a stream's source iterator. @param {AsyncIterator<Uint8Array>} it @param {number} n */
async function readN(it, n) {
  const out = new Uint8Array(n)
  let off = 0
  /** @type {Uint8Array | undefined} */ let rest
  while (off < n) {
    const r = await it.next()
    if (r.done) throw new Error(`EOF after ${off} of ${n} bytes`)
    const take = Math.min(n - off, r.value.length)
    out.set(r.value.subarray(0, take), off)
    off += take
    if (take < r.value.length) rest = r.value.subarray(take)
  }
  return { bytes: out, rest }
}

/** @template T @param {Promise<T>} p @param {number} ms @param {string} what @returns {Promise<T>} */
function withTimeout(p, ms, what) {
  /** @type {NodeJS.Timeout | undefined} */ let t
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms) })])
    .finally(() => clearTimeout(t))
}

/** A weft node without the optional services (no kad, no gossipsub: nothing redials). @param {any} weft @param {object} [extra] */
const bareNode = (weft, extra = {}) => weft.createNode({ services: {}, ...extra })

// ---- 1. go trims weft ----------------------------------------------------------------------------

/**
 * A go listener with connmgr low 2 / high 4 / grace 1 s / silence 1 s; six weft identities dial it.
 * go trims to low water counting only trimmable connections (protected peers are not candidates:
 * `target = candidates - lowWater` in go's getConnsToClose), so it keeps 3: the identity it
 * Protects and 2 more. Each of the 3 trimmed weft nodes sees a typed ConnectionClosedError
 * (close/garbage-collected, 0x1005, by remote).
 */
export async function goTrimsWeft(/** @type {any} */ ctx) {
  const { weft, redis, log } = ctx
  const nodes = await Promise.all(Array.from({ length: 6 }, () => bareNode(weft)))
  try {
    const ids = nodes.map((n) => n.peerId.toString())
    const protectedId = ids[0]
    /** @type {Map<string, any>} closes of the connection to go, by weft peer id */
    const closed = new Map()
    ctx.spawn('go', { limits_scenario: 'go-trims', protect_peer: protectedId })
    const goAddr = await until(async () => (await redis.command('LRANGE', 'goAddr', '0', '-1'))[0], 20_000, 'go listener address')
    const goPeer = goAddr.replace(/.*\/p2p\//, '')
    nodes.forEach((n, i) => n.addEventListener('connection:close', (/** @type {any} */ ev) => {
      const { connection, error } = ev.detail
      if (connection.peer.toString() !== goPeer) return
      log(`weft-${i} ${ids[i].slice(-6)}: connection to go closed: ${error === undefined ? '(no error)' : `${error.name} ${error.code} 0x${error.wireCode?.toString(16)} by ${error.by}`}`)
      closed.set(ids[i], error)
    }))
    await Promise.all(nodes.map((n) => withTimeout(n.dial(goAddr), 10_000, 'dial go')))
    // go protects every peer until `release`: a slow dial on a loaded machine must not make it trim
    // early, and go trims only peers past their grace period (1 s), so release after that.
    const dialed = performance.now()
    await until(() => performance.now() > dialed + 1200, 5000, 'go grace period over')
    await redis.command('SET', 'release', '1')
    log('6 weft nodes connected to go, past grace; released; waiting for go to trim to 3')
    const waited = await until(() => closed.size >= 3, 30_000, 'go trimming 3 of 6 weft connections').then(() => null, (e) => e.message)
    const open = ids.filter((_, i) => nodes[i].getConnections().some((/** @type {any} */ c) => c.peer.toString() === goPeer))
    await redis.command('SET', 'report', '1')
    const status = await until(async () => (await list(redis, 'status'))[0], 10_000, 'go status')
    const problems = []
    if (waited !== null) problems.push(waited)
    if (closed.size !== 3) problems.push(`${closed.size} weft connections closed, want 3`)
    if (open.length !== 3) problems.push(`${open.length} weft nodes still connected, want 3`)
    if (!open.includes(protectedId)) problems.push('the identity go protects was trimmed')
    const untyped = [...closed].filter(([, e]) => !isGcClose(weft, e, 'remote'))
    if (untyped.length > 0) problems.push(`${untyped.length} closes without ConnectionClosedError close/garbage-collected 0x1005 by remote; first: ${JSON.stringify(describeClose(untyped[0][1]))}`)
    if (status.connected.length !== 3 || !status.connected.includes(protectedId)) problems.push(`go still has ${JSON.stringify(status.connected)}`)
    return {
      ok: problems.length === 0, error: problems.join('; ') || null,
      kept: open.length, goKept: status.connected.length, protectedKept: open.includes(protectedId),
      closes: [...closed.values()].map(describeClose),
    }
  } finally {
    await Promise.all(nodes.map((n) => withTimeout(n.stop(), 3000, 'stop').catch(() => {})))
  }
}

// ---- 2. weft trims go and rust -------------------------------------------------------------------

/**
 * weft listens with low 2 / high 4 / grace 1 s / silence 0.5 s; 3 go hosts (each holding one
 * /weft/hold stream) and 3 rust swarms (each holding its outbound ping stream) dial it at once.
 * weft protects one rust peer and, once connected, tags one go peer 100 and one rust peer 50 (a tag
 * set before the connection makes a temporary entry, which go and weft trim first). Like go, weft
 * trims until lowWater *trimmable* connections remain (protected ones are not candidates), so it
 * keeps 3 (the protected and the two tagged peers) and closes the three untagged ones (2 go, 1 rust)
 * with GoAway 0x1005. go surfaces network.ConnError{Remote: true, ErrorCode: 0x1005}; rust reports
 * its ConnectionClosed cause (rust-yamux does not expose GoAway codes).
 *
 * Trimming only considers peers past their grace period, and weft (like go) trims only while the
 * count is above high water: a peer still in grace when the count first passes high would survive
 * by timing. So every peer is protected ('setup') until all six are connected, holding their
 * streams and past the grace period; then weft lifts that protection and trims on its own
 * silence-period timer.
 */
export async function weftTrimsGoRust(/** @type {any} */ ctx) {
  const { weft, redis, log } = ctx
  const GRACE = 1000
  const node = await bareNode(weft, {
    listen: ['/ip4/127.0.0.1/tcp/0'],
    connectionManager: { lowWater: 2, highWater: 4, gracePeriodMs: GRACE, silencePeriodMs: 500 },
  })
  try {
    const cm = node.connectionManager
    if (cm === undefined || typeof cm.protect !== 'function' || typeof cm.tag !== 'function') {
      return { ok: false, error: 'weft API missing: node.connectionManager (protect, tag)' }
    }
    node.handle(HOLD, async (/** @type {any} */ s) => {
      const it = s.source[Symbol.asyncIterator]()
      try {
        await readN(it, 1)
        await s.write(new Uint8Array([1]))
        while (!(await it.next()).done) { /* hold until the connection goes */ }
      } catch { /* the trim resets it */ }
    })
    /** @type {Map<string, any>} */ const localCloses = new Map()
    node.addEventListener('connection:close', (/** @type {any} */ ev) => localCloses.set(ev.detail.connection.peer.toString(), ev.detail.error))
    ctx.spawn('go', { limits_scenario: 'weft-trims', hosts: '3' })
    ctx.spawn('rust', { limits_scenario: 'weft-trims', hosts: '3' })
    const peers = await until(async () => {
      const l = /** @type {string[]} */ (await redis.command('LRANGE', 'peers', '0', '-1'))
      return l.length >= 6 ? l.map((s) => { const [impl, peer] = s.split(' '); return { impl, peer } }) : undefined
    }, 30_000, '6 go and rust peers registered')
    const go = peers.filter((p) => p.impl === 'go').map((p) => p.peer)
    const rust = peers.filter((p) => p.impl === 'rust').map((p) => p.peer)
    if (go.length !== 3 || rust.length !== 3) throw new Error(`peers: ${JSON.stringify(peers)}`)
    const protectedPeer = rust[0]
    /** @type {Map<string, number>} */ const tags = new Map([[go[0], 100], [rust[1], 50]])
    const expectKept = [protectedPeer, ...tags.keys()]
    const expectTrimmed = [go[1], go[2], rust[2]]
    cm.protect(PeerId.parse(protectedPeer), 'interop')
    for (const p of peers) cm.protect(PeerId.parse(p.peer), 'setup')
    let lastOpen = performance.now()
    node.addEventListener('connection:open', (/** @type {any} */ ev) => {
      lastOpen = performance.now()
      const v = tags.get(ev.detail.peer.toString())
      if (v !== undefined) cm.tag(ev.detail.peer, 'interop', v)
    })
    await redis.command('SET', 'weftAddr', `${node.getMultiaddrs()[0]}`)
    await redis.command('SET', 'start', '1')
    log(`protecting rust ${protectedPeer.slice(-6)}, tagging go ${go[0].slice(-6)} 100 and rust ${rust[1].slice(-6)} 50; 6 peers dialing`)
    await until(async () => node.getConnections().length >= 6 && (await list(redis, 'events')).filter((e) => e.event === 'held').length >= 6, 20_000, '6 peers connected and holding')
    await until(() => performance.now() > lastOpen + GRACE + 200, 10_000, 'grace period over')
    for (const p of peers) cm.unprotect(PeerId.parse(p.peer), 'setup')
    log('6 connected, holding, past grace; setup protection lifted; waiting for weft to trim to 3')
    const closedEvents = () => list(redis, 'events').then((l) => l.filter((e) => e.event === 'closed'))
    const waited = await until(async () => (await closedEvents()).length >= 3, 20_000, 'weft trimming 3 of 6').then(() => null, (e) => e.message)
    const closed = await closedEvents()
    const held = (await list(redis, 'events')).filter((e) => e.event === 'held')
    const kept = node.getConnections().map((/** @type {any} */ c) => c.peer.toString())
    await redis.command('SET', 'report', '1')
    const status = await until(async () => { const l = await list(redis, 'status'); return l.filter((e) => e.event === 'done').length >= 2 ? l : undefined }, 10_000, 'go and rust status')
    const open = status.filter((e) => e.event === 'open').map((e) => e.peer)
    const short = (/** @type {string[]} */ l) => JSON.stringify(l.map((p) => `${go.includes(p) ? 'go' : 'rust'} ${p.slice(-6)}`))
    const same = (/** @type {string[]} */ a, /** @type {string[]} */ b) => a.length === b.length && a.every((p) => b.includes(p))
    const problems = []
    if (waited !== null) problems.push(waited)
    if (!same(closed.map((e) => e.peer), expectTrimmed)) problems.push(`go/rust saw closes of ${short(closed.map((e) => e.peer))}, want the 3 untagged ${short(expectTrimmed)}`)
    if (!same(kept, expectKept)) problems.push(`weft kept ${short(kept)}, want the protected and the 2 tagged ${short(expectKept)}`)
    if (!same(open, expectKept)) problems.push(`go/rust still connected: ${short(open)}`)
    const goClosed = closed.filter((e) => e.impl === 'go')
    const badGo = goClosed.filter((e) => !(e.connError === true && e.remote === true && e.code === GC))
    if (badGo.length > 0) problems.push(`go saw ${JSON.stringify(badGo[0].error)}, want ConnError remote code 0x1005`)
    const badLocal = expectTrimmed.filter((p) => !isGcClose(weft, localCloses.get(p), 'local'))
    if (badLocal.length > 0) problems.push(`weft's own close of ${badLocal.length} trimmed connections is not ConnectionClosedError close/garbage-collected 0x1005 by local: ${JSON.stringify(describeClose(localCloses.get(badLocal[0])))}`)
    if (problems.length > 0) {
      log(`connection manager: ${JSON.stringify(cm.info?.())}`)
      for (const p of peers) {
        const t = cm.getTagInfo?.(PeerId.parse(p.peer))
        log(`${p.impl} ${p.peer.slice(-6)}: ${t === undefined ? 'no entry' : JSON.stringify({ ...t, tags: [...t.tags] })}`)
      }
    }
    return {
      ok: problems.length === 0, error: problems.join('; ') || null,
      held: held.length, kept: kept.length,
      goSaw: goClosed.map((e) => e.error), rustSaw: closed.filter((e) => e.impl === 'rust').map((e) => e.error),
      weftLocal: expectTrimmed.map((p) => describeClose(localCloses.get(p))),
    }
  } finally {
    await withTimeout(node.stop(), 3000, 'stop').catch(() => {})
  }
}

// ---- 2b. the CLI trims go ------------------------------------------------------------------------

/**
 * The same from the command line: `weft node --conns-low 2 --conns-high 4 --conns-grace 1s --json`
 * (silence period: the default 10 s) and 6 go hosts, each pinging it every 500 ms on one stream.
 * When the 5th connects every peer is still in grace (nothing to trim); the next automatic trim, one
 * silence period later, finds all 6 past grace and closes 4 (value, streams and direction tie: the
 * most recently seen go first). The CLI logs 4 `connection:close` events naming 0x1005; go sees
 * ConnError remote 0x1005 on each of those 4 and keeps 2 connections.
 */
export async function cliTrimsGo(/** @type {any} */ ctx) {
  const { redis, log } = ctx
  const cli = ctx.spawn('weft-cli', {}, ['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--conns-low', '2', '--conns-high', '4', '--conns-grace', '1s', '--json'])
  const events = () => cli.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => { try { return JSON.parse(l) } catch { return {} } })
  const started = await until(() => events().find((e) => e.event === 'started'), 20_000, 'weft node started')
  const addr = started.addrs.find((/** @type {string} */ a) => a.startsWith('/ip4/127.0.0.1/tcp/'))
  if (addr === undefined) throw new Error(`weft node addrs: ${JSON.stringify(started.addrs)}`)
  await redis.command('SET', 'weftAddr', addr.includes('/p2p/') ? addr : `${addr}/p2p/${started.peerId}`)
  ctx.spawn('go', { limits_scenario: 'weft-trims', hosts: '6', hold_proto: PING })
  const peers = await until(async () => {
    const l = /** @type {string[]} */ (await redis.command('LRANGE', 'peers', '0', '-1'))
    return l.length >= 6 ? l.map((s) => s.split(' ')[1]) : undefined
  }, 20_000, '6 go hosts registered')
  await redis.command('SET', 'start', '1')
  log(`weft node ${started.peerId.slice(-6)} at ${addr}; 6 go hosts dialing`)
  const closedEvents = () => list(redis, 'events').then((l) => l.filter((e) => e.event === 'closed'))
  const waited = await until(async () => (await closedEvents()).length >= 4, 30_000, 'the CLI node trimming 4 of 6').then(() => null, (e) => e.message)
  const closed = await closedEvents()
  const held = (await list(redis, 'events')).filter((e) => e.event === 'held')
  const cliCloses = events().filter((e) => e.event === 'connection:close')
  await redis.command('SET', 'report', '1')
  const status = await until(async () => { const l = await list(redis, 'status'); return l.some((e) => e.event === 'done') ? l : undefined }, 10_000, 'go status')
  const open = status.filter((e) => e.event === 'open').map((e) => e.peer)
  const problems = []
  if (waited !== null) problems.push(waited)
  if (held.length !== 6) problems.push(`${held.length} go hosts held a ping stream, want 6`)
  if (closed.length !== 4) problems.push(`${closed.length} go hosts saw their connection close, want 4`)
  const badGo = closed.filter((e) => !(e.connError === true && e.remote === true && e.code === GC))
  if (badGo.length > 0) problems.push(`go saw ${JSON.stringify(badGo[0].error)}, want ConnError remote code 0x1005`)
  if (open.length !== 2 || open.some((p) => closed.some((e) => e.peer === p)) || !open.every((p) => peers.includes(p))) problems.push(`go hosts still connected: ${open.length}, want the 2 untrimmed`)
  const cliGc = cliCloses.filter((e) => /garbage-collected/.test(e.error ?? '') && /0x1005/.test(e.error ?? ''))
  if (cliGc.length !== 4 || cliCloses.length !== 4) problems.push(`the CLI logged ${cliCloses.length} connection:close events, ${cliGc.length} naming garbage-collected 0x1005, want 4 of 4: ${JSON.stringify(cliCloses[0]?.error ?? null)}`)
  return { ok: problems.length === 0, error: problems.join('; ') || null, held: held.length, goSaw: closed.map((e) => e.error), cliLogged: cliCloses.map((e) => e.error) }
}

// ---- 3. go's per-peer ping stream limit ------------------------------------------------------------

/**
 * go-libp2p's default resource manager allows 2 inbound `/ipfs/ping/1.0.0` streams per peer (protocol
 * peer scope); weft opens 3 at once and pings on each: two echo, the third is reset by go's host with
 * StreamResourceLimitExceeded, which go-yamux v5 puts in the RST frame (0x1002).
 */
export async function goPingLimit(/** @type {any} */ ctx) {
  const { weft, redis, log } = ctx
  const node = await bareNode(weft)
  try {
    ctx.spawn('go', { limits_scenario: 'ping-limit' })
    const goAddr = await until(async () => (await redis.command('LRANGE', 'goAddr', '0', '-1'))[0], 20_000, 'go listener address')
    await withTimeout(node.dial(goAddr), 10_000, 'dial go')
    const outcomes = await Promise.all([0, 1, 2].map(async (i) => {
      try {
        const s = await withTimeout(node.newStream(goAddr, PING), 10_000, `ping stream ${i}`)
        const it = s.source[Symbol.asyncIterator]()
        const out = []
        for (let round = 0; round < 2; round++) { // two round trips: the stream stays open meanwhile
          const payload = new Uint8Array(randomBytes(32))
          await s.write(payload)
          const { bytes } = await withTimeout(readN(it, 32), 10_000, `ping ${i} round ${round}`)
          if (Buffer.compare(bytes, payload) !== 0) return { i, ok: false, error: 'echo differs' }
          out.push(round)
        }
        return { i, ok: true, s }
      } catch (e) {
        const err = /** @type {any} */ (e)
        return { i, ok: false, error: `${err.name}: ${err.message}`, code: err.code, wireCode: err.wireCode, reset: err instanceof weft.StreamResetError }
      }
    }))
    for (const o of outcomes) log(`ping stream ${o.i}: ${o.ok ? 'echoed twice' : `${o.error} code=${o.code} wireCode=${o.wireCode}`}`)
    for (const o of outcomes) if (o.ok) o.s.reset()
    const good = outcomes.filter((o) => o.ok)
    const bad = outcomes.filter((o) => !o.ok)
    const problems = []
    if (good.length !== 2) problems.push(`${good.length} ping streams echoed, want 2`)
    if (bad.length !== 1) problems.push(`${bad.length} ping streams failed, want 1`)
    else if (!(bad[0].reset === true && bad[0].wireCode === STREAM_LIMIT)) problems.push(`the third stream ended with ${bad[0].error} (wireCode ${bad[0].wireCode}), want StreamResetError wireCode 0x1002`)
    return { ok: problems.length === 0, error: problems.join('; ') || null, echoed: good.length, failed: bad.map(({ s, ...o }) => o) }
  } finally {
    await withTimeout(node.stop(), 3000, 'stop').catch(() => {})
  }
}

/**
 * The other way round: weft's ping service accepts 2 inbound streams per peer (spec/ping.md); go
 * opens 3 at once and pings twice on each: two echo, the third is reset by weft with the stream
 * code 0x1002 (resource limit exceeded), which go-libp2p surfaces as
 * network.StreamError{Remote: true, ErrorCode: 0x1002}.
 */
export async function weftPingLimit(/** @type {any} */ ctx) {
  const { weft, redis, log } = ctx
  const node = await bareNode(weft, { listen: ['/ip4/127.0.0.1/tcp/0'] })
  try {
    await redis.command('SET', 'weftAddr', `${node.getMultiaddrs()[0]}`)
    ctx.spawn('go', { limits_scenario: 'ping-dial' })
    const events = await until(async () => { const l = await list(redis, 'events'); return l.some((e) => e.event === 'done') ? l : undefined }, 20_000, 'go pinging on 3 streams')
    const streams = events.filter((e) => e.event === 'stream')
    for (const e of streams) log(`go ping stream ${e.stream}: ${e.ok ? 'echoed twice' : e.error}`)
    const good = streams.filter((e) => e.ok)
    const bad = streams.filter((e) => !e.ok)
    const problems = []
    if (good.length !== 2) problems.push(`${good.length} of go's ping streams echoed, want 2`)
    if (bad.length !== 1) problems.push(`${bad.length} of go's ping streams failed, want 1`)
    else if (!(bad[0].streamError === true && bad[0].remote === true && bad[0].code === STREAM_LIMIT)) problems.push(`go's third stream ended with ${JSON.stringify(bad[0].error)}, want StreamError remote code 0x1002`)
    return { ok: problems.length === 0, error: problems.join('; ') || null, echoed: good.length, goSaw: bad.map((e) => e.error) }
  } finally {
    await withTimeout(node.stop(), 3000, 'stop').catch(() => {})
  }
}
