// Running one case of `npm run interop:nat` inside the namespace topology (nat-topology.mjs): the
// peers of interop/NAT.md started with `ip netns exec`, each in its own process group, killed by pid.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { Resp } from '../weft/resp.mjs'
import { HOSTS, ROUTERS } from './nat-topology.mjs'
import { LIMIT_RELAY_DATA, judge, parseResult } from './nat-matrix.mjs'
import { killGroup, redisReady, sleep } from './proc.mjs'

const TAIL = 30

/**
 * Start a redis-server listening only on a Unix socket (research note fact 4: namespaces share the
 * filesystem, so every peer reaches it without a network path around the NATs).
 * @param {string} redisServer @param {string} dir
 * @returns {Promise<{ proc: import('node:child_process').ChildProcess, addr: string, db: Resp | undefined }>}
 */
export async function startRedisUnix(redisServer, dir) {
  fs.mkdirSync(dir, { recursive: true })
  const sock = path.join(dir, 'redis.sock')
  const proc = spawn(redisServer, ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '777', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'ignore', 'inherit'], detached: true })
  const addr = `unix:${sock}`
  return { proc, addr, db: await redisReady(addr) }
}

/**
 * @typedef {{ name: string, impl: string, p: import('node:child_process').ChildProcess, stdout: () => string,
 *   stderr: () => string, exit: Promise<{ code: number | null, signal: string | null }> }} Peer
 * @typedef {{ topo: import('./nat-topology.mjs').NatTopology, commands: Record<string, string[]>, redisAddr: string,
 *   root: string, children: Set<import('node:child_process').ChildProcess>, log: (s: string) => void,
 *   capture?: string, prefix: string, verbose?: boolean }} RunContext
 */

/**
 * Start `impl`'s peer in the namespace of host `host` with the contract's environment.
 * @param {RunContext} ctx @param {string} name @param {string} impl @param {keyof typeof HOSTS} host @param {Record<string, string>} env
 * @returns {Peer}
 */
function startPeer(ctx, name, impl, host, env) {
  const [cmd, ...argv] = ctx.commands[impl] ?? []
  if (cmd === undefined) throw new Error(`no command for ${impl}`)
  const h = HOSTS[host]
  const p = spawn('ip', ['netns', 'exec', ctx.topo.ns[h.ns], cmd, ...argv], {
    cwd: ctx.root,
    env: { ...process.env, REDIS_ADDR: ctx.redisAddr, LISTEN_IP: h.ip, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: killed with everything it started
  })
  ctx.children.add(p)
  let out = ''
  let err = ''
  p.stdout?.on('data', (d) => { out += d; if (out.length > 1 << 20) out = out.slice(-(1 << 19)) })
  p.stderr?.on('data', (d) => { err += d; if (err.length > 1 << 20) err = err.slice(-(1 << 19)) })
  // 'close', not 'exit': the output is complete by then (a peer that dies at once still shows its stderr).
  const exit = new Promise((resolve) => p.once('close', (code, signal) => resolve({ code, signal })))
  return { name, impl, p, stdout: () => out, stderr: () => err, exit: /** @type {any} */ (exit) }
}

/** @param {RunContext} ctx @param {Peer[]} peers */
async function stopPeers(ctx, peers) {
  for (const x of peers) killGroup(x.p, 'SIGKILL')
  await Promise.all(peers.map((x) => Promise.race([x.exit, sleep(2000)])))
  for (const x of peers) ctx.children.delete(x.p)
}

/** @param {string} s */
const tail = (s) => s.split('\n').filter((l) => l.trim() !== '').slice(-TAIL)

/** What to print when a case failed: each peer's last stderr lines. @param {Peer[]} peers */
function diagnostics(peers) {
  /** @type {string[]} */
  const out = []
  for (const x of peers) {
    out.push(`----- ${x.name} (${x.impl}) stderr, last ${TAIL} lines:`)
    for (const l of tail(x.stderr())) out.push(`  | ${l}`)
    const so = tail(x.stdout())
    if (so.length > 0) out.push(`  stdout: ${so.slice(-3).join(' / ')}`)
  }
  return out
}

/**
 * Wait for `main` to exit, failing early when one of `others` exits first, or after `timeoutMs`.
 * @param {Peer} main @param {Peer[]} others @param {number} timeoutMs
 * @returns {Promise<string | null>} an error, or null when `main` exited (its code is judged by the caller)
 */
async function waitMain(main, others, timeoutMs) {
  /** @type {NodeJS.Timeout | undefined} */ let t
  const timeout = new Promise((resolve) => { t = setTimeout(() => resolve(`timeout: the ${main.name} did not finish within ${timeoutMs / 1000} s`), timeoutMs) })
  const early = others.map((o) => o.exit.then((e) => `the ${o.name} (${o.impl}) exited early (${e.code ?? e.signal})`))
  const r = await Promise.race([main.exit.then(() => null), timeout, ...early])
  clearTimeout(t)
  // A peer that died at the same moment the main one finished is not the cause.
  if (r !== null && main.p.exitCode !== null) return null
  return /** @type {string | null} */ (r)
}

/**
 * A relay-suite or hole-punch case: relay on the WAN, listener behind rB, dialer behind rA.
 * @param {RunContext} ctx @param {import('./nat-matrix.mjs').NatCase} c @param {string} key TEST_KEY
 * @param {{ targetPeerId: string, db: Resp }} o
 */
export async function runRelayCase(ctx, c, key, o) {
  const t0 = Date.now()
  const common = { TEST_KEY: key, TIMEOUT_SECONDS: String(c.timeout), TRANSPORT: c.transport }
  /** @type {Peer[]} */ const peers = []
  /** @type {import('node:child_process').ChildProcess[]} */ const captures = []
  /** @type {Record<string, unknown>} */ const extra = {}
  const symmetric = c.scenario === 'symmetric-nat'
  const holePunch = c.scenario === 'hole-punch' || symmetric
  let synBefore = { rA: 0, rB: 0 }
  let udpBefore = { rA: 0, rB: 0 }
  try {
    if (symmetric) for (const r of /** @type {const} */ (['rA', 'rB'])) ctx.topo.setNatFlags(r, 'fully-random')
    if (holePunch) {
      synBefore = ctx.topo.directSyn()
      udpBefore = ctx.topo.directUdp()
      if (ctx.capture !== undefined) captures.push(...startCaptures(ctx, c, key))
    }
    const relayEnv = c.scenario === 'limit' ? { RELAY_LIMIT_DATA: String(LIMIT_RELAY_DATA) } : {}
    peers.push(startPeer(ctx, 'relay', /** @type {string} */ (c.relay), 'relay', { ...common, NAT_ROLE: 'relay', ...relayEnv }))
    if (c.scenario === 'no-reservation') {
      // Nobody reserves: the dialer reads the never-reserved target as the listener's id too.
      await o.db.command('SET', `${key}_listener_peer_id`, o.targetPeerId)
    } else {
      peers.push(startPeer(ctx, 'listener', c.listener, 'b', { ...common, NAT_ROLE: 'listener', HOLE_PUNCH: holePunch ? 'true' : 'false' }))
    }
    const dialer = startPeer(ctx, 'dialer', c.dialer, 'a', { ...common, NAT_ROLE: 'dialer', SCENARIO: holePunch ? 'hole-punch' : c.scenario, TARGET_PEER_ID: o.targetPeerId })
    peers.push(dialer)
    let error = await waitMain(dialer, peers.filter((x) => x !== dialer), (c.timeout + 10) * 1000)
    const parsed = parseResult(dialer.stdout())
    /** @type {number | null} */ let rtt = null
    if (error === null) {
      const code = dialer.p.exitCode
      if (parsed.error !== null) error = `dialer exited ${code}: ${parsed.error}`
      else {
        if (holePunch) {
          const after = ctx.topo.directSyn()
          extra.directSyn = { rA: after.rA - synBefore.rA, rB: after.rB - synBefore.rB }
          const udp = ctx.topo.directUdp()
          extra.directUdp = { rA: udp.rA - udpBefore.rA, rB: udp.rB - udpBefore.rB }
          if (parsed.rttLine !== null) extra.rttToHolepunchedPeerMillis = parsed.rttLine
          extra.direct = parsed.result?.direct ?? null
        }
        const ds = /** @type {any} */ (extra.directSyn)
        const du = /** @type {any} */ (extra.directUdp)
        error = judge(c, parsed.result, holePunch ? { directSyn: ds.rA + ds.rB, directUdp: du, listenerRouter: ROUTERS.rB.wan } : {})
        if (error === null && code !== 0 && !symmetric) error = `dialer reported ok but exited ${code}`
        if (typeof parsed.result?.rttMillis === 'number') rtt = parsed.result.rttMillis
        if (symmetric) {
          if (typeof parsed.result?.relayedPingMillis === 'number') rtt = parsed.result.relayedPingMillis
          extra.dcutr = parsed.result?.error ?? null
        }
        if (typeof parsed.result?.echoed === 'number') extra.echoed = parsed.result.echoed
        if (typeof parsed.result?.status === 'string') extra.status = parsed.result.status
      }
    } else if (parsed.result?.ok === false && typeof parsed.result.error === 'string') {
      error = `${error}; dialer: ${parsed.result.error}`
    }
    return { ok: error === null, rttMillis: rtt, error, seconds: (Date.now() - t0) / 1000, extra, log: error === null && ctx.verbose !== true ? [] : diagnostics(peers) }
  } finally {
    await stopPeers(ctx, peers)
    for (const p of captures) { killGroup(p, 'SIGINT'); ctx.children.delete(p) }
    if (symmetric) for (const r of /** @type {const} */ (['rA', 'rB'])) ctx.topo.setNatFlags(r, '')
  }
}

/**
 * An AutoNAT case: a fresh server on the WAN, weft's client on the WAN (public), behind rC (private),
 * or on the WAN asking each server to dial the victim (amplification).
 * @param {RunContext} ctx @param {import('./nat-matrix.mjs').NatCase} c @param {string} key
 */
export async function runAutonatCase(ctx, c, key) {
  const t0 = Date.now()
  const common = { TEST_KEY: key, TIMEOUT_SECONDS: String(c.timeout), TRANSPORT: 'tcp' }
  /** @type {Peer[]} */ const peers = []
  /** @type {Record<string, unknown>} */ const extra = {}
  const serverHost = /** @type {const} */ ({ go: 'sgo', rust: 'srust', weft: 'sweft' })[/** @type {'go' | 'rust' | 'weft'} */ (c.listener)]
  const victimBefore = ctx.topo.counter('victim', 'syn')
  try {
    peers.push(startPeer(ctx, 'server', c.listener, serverHost, { ...common, NAT_ROLE: 'autonat-server' }))
    const client = startPeer(ctx, 'client', c.dialer, c.scenario === 'private' ? 'cnat' : 'cpub', {
      ...common, NAT_ROLE: 'autonat-client', AUTONAT_MODE: c.scenario === 'amplification' ? 'amplification' : 'probe',
      VICTIM_ADDR: `/ip4/${HOSTS.victim.ip}/tcp/4001`,
      ...(c.scenario === 'amplification' ? {} : { EXPECT: c.scenario }), // go's control client judges itself by it
    })
    peers.push(client)
    let error = await waitMain(client, peers.filter((x) => x !== client), (c.timeout + 10) * 1000)
    const parsed = parseResult(client.stdout())
    if (error === null) {
      if (parsed.error !== null) error = `client exited ${client.p.exitCode}: ${parsed.error}`
      else {
        const victimSyns = ctx.topo.counter('victim', 'syn') - victimBefore
        if (c.scenario === 'amplification') extra.victimSyns = victimSyns
        for (const k of ['reachability', 'protocol', 'addr', 'v1', 'v2']) if (parsed.result?.[k] !== undefined) extra[k] = parsed.result[k]
        error = judge(c, parsed.result, { victimSyns })
      }
    } else if (parsed.result?.ok === false && typeof parsed.result.error === 'string') {
      error = `${error}; client: ${parsed.result.error}`
    }
    return { ok: error === null, rttMillis: null, error, seconds: (Date.now() - t0) / 1000, extra, log: error === null && ctx.verbose !== true ? [] : diagnostics(peers) }
  } finally {
    await stopPeers(ctx, peers)
  }
}

/**
 * tcpdump on rA's and rB's wan0 for a hole-punch case (`--capture <dir>`): <dir>/<key>-rA.pcap, -rB.pcap.
 * @param {RunContext} ctx @param {import('./nat-matrix.mjs').NatCase} c @param {string} key
 */
function startCaptures(ctx, c, key) {
  const dir = /** @type {string} */ (ctx.capture)
  fs.mkdirSync(dir, { recursive: true })
  return ['rA', 'rB'].map((r) => {
    const p = spawn('ip', ['netns', 'exec', ctx.topo.ns[/** @type {'rA' | 'rB'} */ (r)], 'tcpdump', '-i', 'wan0', '-U', '-w', path.join(dir, `${key}-${c.dialer}-${c.listener}-${r}.pcap`), c.transport === 'quic-v1' ? 'udp' : 'tcp'],
      { stdio: 'ignore', detached: true })
    ctx.children.add(p)
    return p
  })
}
