// Process and Redis helpers shared by the interop orchestrators (run.mjs, capture.mjs, lib/scenarios.mjs).
import { spawn, spawnSync } from 'node:child_process'
import net from 'node:net'
import { Resp } from '../weft/resp.mjs'
import { sleep } from './wait.mjs'

export { sleep }

/** The path of `cmd` on PATH, or undefined. @param {string} cmd */
export function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : undefined
}

/**
 * The tools the cases need that are not on PATH: redis-server always, go and cargo when `impls`
 * has go / rust. Returns redis-server's path too (the caller starts it).
 * @param {Set<string>} impls
 */
export function missingTools(impls) {
  const redisServer = which('redis-server')
  /** @type {('redis-server' | 'go' | 'cargo')[]} */
  const missing = []
  if (redisServer === undefined) missing.push('redis-server')
  if (impls.has('go') && which('go') === undefined) missing.push('go')
  if (impls.has('rust') && which('cargo') === undefined) missing.push('cargo')
  return { redisServer, missing }
}

/** A free TCP port on loopback. @returns {Promise<number>} */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0))
    })
  })
}

/** Signal a child's whole process group (peers are spawned detached), falling back to the child. */
export function killGroup(/** @type {import('node:child_process').ChildProcess} */ p, /** @type {NodeJS.Signals} */ sig) {
  if (p.pid === undefined || p.exitCode !== null || p.signalCode !== null) return
  try { process.kill(-p.pid, sig) } catch { try { p.kill(sig) } catch { /* gone */ } }
}

/**
 * Connect to a redis-server just started at `addr` (`host:port` or `unix:<path>`): retries for
 * about 5 s until it answers PING; undefined when it never does.
 * @param {string} addr
 * @returns {Promise<Resp | undefined>}
 */
export async function redisReady(addr) {
  for (let i = 0; i < 100; i++) {
    try {
      const r = await Resp.connect(addr, 1000)
      await r.command('PING')
      return r
    } catch {
      await sleep(50)
    }
  }
  return undefined
}

/**
 * Start redis-server on a free loopback port (no persistence) and wait until it answers PING.
 * @param {string} redisServer the binary
 * @returns {Promise<{ proc: import('node:child_process').ChildProcess, addr: string, db: Resp | undefined }>}
 *   `db` is undefined when the server never answered (the caller reports and exits).
 */
export async function startRedis(redisServer) {
  const port = await freePort()
  const addr = `127.0.0.1:${port}`
  const proc = spawn(redisServer, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'ignore', 'inherit'], detached: true })
  return { proc, addr, db: await redisReady(addr) }
}
