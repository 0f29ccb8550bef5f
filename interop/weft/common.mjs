/**
 * What every weft interop peer program does the same way (../CONTRACT.md): read the contract's
 * environment, log to stderr, die with one error line, talk to Redis (take `listenerAddr`, publish
 * it, push `listenerResult` once, wait for it), measure dial + one ping, print the dialer's one-line
 * result on stdout and leave. Used by peer.mjs and the scenario programs it dispatches to
 * (reqresp.mjs, rendezvous.mjs, mdns.mjs).
 */
import { performance } from 'node:perf_hooks'
import { Resp } from './resp.mjs'

const t0 = performance.now()

/** One stderr line, `[weft-peer <ms since start>ms] ...`; errors print their stack, objects as JSON. @param {...unknown} args */
export function log(...args) {
  const ms = (performance.now() - t0).toFixed(0).padStart(6)
  process.stderr.write(`[weft-peer ${ms}ms] ${args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.stack ?? a.message : JSON.stringify(a))).join(' ')}\n`)
}

/** The error line on stderr, then exit 1. @param {string} msg @returns {never} */
export function die(msg) {
  process.stderr.write(`[weft-peer] error: ${msg}\n`)
  process.exit(1)
}

/** The contract variable `k`, or `d` when it is unset or empty. @param {string} k @param {string} [d] */
export const env = (k, d = '') => { const v = process.env[k]; return v === undefined || v === '' ? d : v }

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** @template T @param {Promise<T>} p @param {number} ms @param {string} what @returns {Promise<T>} */
export function withTimeout(p, ms, what) {
  /** @type {NodeJS.Timeout | undefined} */ let t
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms) })])
    .finally(() => clearTimeout(t))
}

/**
 * `test_timeout_seconds` (default `dflt`): dies once it has passed. Returns the seconds.
 * @param {string} [dflt]
 */
export function armTestTimeout(dflt = '180') {
  const timeoutSec = Number(env('test_timeout_seconds', dflt))
  if (!Number.isFinite(timeoutSec) || timeoutSec <= 0) die(`bad test_timeout_seconds "${env('test_timeout_seconds')}"`)
  setTimeout(() => die(`test_timeout_seconds (${timeoutSec}) passed`), timeoutSec * 1000).unref()
  return timeoutSec
}

/** The Redis of `redis_addr` (default redis:6379). */
export const connectRedis = () => Resp.connect(env('redis_addr', 'redis:6379'))

/**
 * The dialer's side of the handshake measurement: take `listenerAddr` (BLPOP, `waitSec`), dial it,
 * ping once. `handshake` is dial + one ping in ms, as the contract's result line wants it.
 * @param {any} node @param {any} redis @param {number} waitSec
 * @returns {Promise<{ addr: string, conn: any, peer: any, rtt: number, handshake: number }>}
 */
export async function dialListener(node, redis, waitSec) {
  const reply = await redis.command('BLPOP', 'listenerAddr', Math.max(1, Math.floor(waitSec)))
  if (reply === null) die('BLPOP listenerAddr timed out')
  const addr = reply[1]
  log(`dialing ${addr}`)
  const start = performance.now()
  const conn = await node.dial(addr)
  const peer = conn.peer
  const rtt = await node.ping(peer)
  const handshake = performance.now() - start
  log(`connected to ${peer} via ${conn.remoteAddr?.toString?.() ?? '?'}; handshake+1RTT ${handshake.toFixed(2)} ms, ping ${rtt.toFixed(2)} ms`)
  return { addr, conn, peer, rtt, handshake }
}

/**
 * Wait (polling every `everyMs`) until the listener has pushed `listenerResult`, without consuming
 * it: the orchestrator reads it. Gives up after `ms` (upstream listeners push none). True when it came.
 * @param {any} redis @param {number} [ms] @param {number} [everyMs]
 */
export async function waitForListenerResult(redis, ms = 10_000, everyMs = 25) {
  const until = performance.now() + ms
  while (performance.now() < until) {
    if ((await redis.command('LLEN', 'listenerResult')) > 0) return true
    await sleep(everyMs)
  }
  log(`listenerResult did not appear within ${ms / 1000} s; exiting anyway`)
  return false
}

/**
 * The dialer's end: the one-line result on stdout, stop the node (2 s at most), close Redis, exit 0.
 * @param {any} node @param {any} redis @param {number} handshake @param {number} rtt @returns {Promise<never>}
 */
export async function finishDialer(node, redis, handshake, rtt) {
  process.stdout.write(`${JSON.stringify({ handshakePlusOneRTTMillis: handshake, pingRTTMilllis: rtt })}\n`)
  await withTimeout(node.stop(), 2000, 'stop').catch((e) => log(`stop: ${e.message}`))
  redis.close()
  process.exit(0)
}

/**
 * The listener's verdict, pushed once (`RPUSH listenerResult`): later calls are ignored. The error
 * is folded onto one line.
 * @param {any} redis @returns {(ok: boolean, error?: string) => Promise<void>}
 */
export function listenerResult(redis) {
  let pushed = false
  return async (ok, error) => {
    if (pushed) return
    pushed = true
    log(ok ? 'listener checks passed' : `listener check failed: ${error}`)
    await redis.command('RPUSH', 'listenerResult', JSON.stringify(ok ? { ok } : { ok, error: (error ?? '').replace(/\s+/g, ' ') }))
  }
}

/**
 * Publish `addr` as `listenerAddr`, and stop the node on SIGTERM / SIGINT (exiting within 1 s even
 * when the stop hangs: a graceful stop must not keep a killed peer alive).
 * @param {any} node @param {any} redis @param {string} addr
 */
export async function publishAndServe(node, redis, addr) {
  await redis.command('RPUSH', 'listenerAddr', addr)
  log(`listening; published ${addr}`)
  const stop = () => {
    setTimeout(() => process.exit(0), 1000).unref()
    void node.stop().finally(() => process.exit(0))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

/** The node's first listen address (dies when it has none). @param {any} node */
export function firstAddr(node) {
  const addrs = node.getMultiaddrs().map((/** @type {any} */ a) => a.toString())
  if (addrs.length === 0) die('no listen address')
  return /** @type {string} */ (addrs[0])
}

/**
 * The stack of the scenarios that build their own node (request-response, rendezvous, mdns): the
 * contract's `transport` (`tcp` | `quic-v1`, default tcp) and `security` (`noise` | `tls`, default
 * noise; quic-v1 needs tls). `listen(ip)` is the listen address, `security` createNode's option,
 * `isOurs(addr)` whether an address (without /p2p) is one of this transport. Dies on anything else.
 */
export function scenarioStack() {
  const transport = env('transport', 'tcp')
  const security = env('security', 'noise')
  if (transport !== 'tcp' && transport !== 'quic-v1') die(`scenario ${env('scenario')} runs over tcp or quic-v1, not "${transport}"`)
  if (security !== 'noise' && security !== 'tls') die(`unsupported security "${security}"`)
  if (transport === 'quic-v1' && security !== 'tls') die('quic-v1 needs security tls')
  const quic = transport === 'quic-v1'
  const re = quic ? /^\/ip4\/[^/]+\/udp\/\d+\/quic-v1$/ : /^\/ip4\/[^/]+\/tcp\/\d+$/
  return {
    transport,
    name: quic ? 'quic-v1' : `tcp/${security}`,
    security: [/** @type {'noise' | 'tls'} */ (security)],
    listen: (/** @type {string} */ ip) => (quic ? `/ip4/${ip}/udp/0/quic-v1` : `/ip4/${ip}/tcp/0`),
    isOurs: (/** @type {string} */ a) => re.test(a.replace(/\/p2p\/[^/]+$/, '')),
  }
}
