// One dialer/listener case as run.mjs and lib/mdns-case.mjs judge it (../CONTRACT.md): start a
// peer with its output captured, read the dialer's exit and one-line result, read the listener's
// `listenerResult`.
import { spawn } from 'node:child_process'

/**
 * @typedef {{ code: number | null, signal: string | null }} Exit
 * @typedef {{ proc: import('node:child_process').ChildProcess, stdout: () => string, stderr: () => string, exit: Promise<Exit> }} Peer
 */

/**
 * Spawn `command` in a process group of its own (killing it takes its children along), keeping the
 * last MiB or so of its stdout and stderr.
 * @param {string[]} command @param {Record<string, string>} env extra variables @param {string} cwd
 * @returns {Peer}
 */
export function startCaptured(command, env, cwd) {
  const [cmd, ...argv] = command
  const proc = spawn(/** @type {string} */ (cmd), argv, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  let err = ''
  proc.stdout?.on('data', (d) => { out += d; if (out.length > 1 << 20) out = out.slice(-(1 << 19)) })
  proc.stderr?.on('data', (d) => { err += d; if (err.length > 1 << 20) err = err.slice(-(1 << 19)) })
  /** @type {Promise<Exit>} */
  const exit = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })))
  return { proc, stdout: () => out, stderr: () => err, exit }
}

/** The last `n` lines of `s`. @param {string} s @param {number} n */
export function tail(s, n) {
  const lines = s.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  return lines.slice(-n)
}

/**
 * Wait for the dialer to exit (at most `timeoutSec`) and judge it: exit 0 and exactly one stdout
 * line of JSON with numeric `handshakePlusOneRTTMillis` and `pingRTTMilllis` (the contract's spelling).
 * @param {Peer} dialer @param {number} timeoutSec
 * @returns {Promise<{ error: string | null, handshake: number | null, ping: number | null }>}
 */
export async function dialerVerdict(dialer, timeoutSec) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer
  const first = await Promise.race([dialer.exit, new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutSec * 1000) })])
  clearTimeout(timer)
  const none = { handshake: null, ping: null }
  if (first === 'timeout') return { error: `timeout: the dialer did not finish within ${timeoutSec} s`, ...none }
  const d = /** @type {Exit} */ (first)
  if (d.code !== 0) {
    const reason = tail(dialer.stderr(), 5).reverse().find((l) => /error|fail|panic/i.test(l)) ?? tail(dialer.stderr(), 1)[0] ?? ''
    return { error: `dialer exited ${d.code ?? d.signal}: ${reason.trim()}`, ...none }
  }
  const lines = dialer.stdout().split('\n').filter((l) => l.trim() !== '')
  if (lines.length !== 1) return { error: `dialer stdout has ${lines.length} lines, want exactly 1: ${JSON.stringify(lines.slice(0, 3))}`, ...none }
  let j
  try {
    j = JSON.parse(lines[0])
  } catch {
    return { error: `dialer stdout is not JSON: ${lines[0].slice(0, 200)}`, ...none }
  }
  if (typeof j.handshakePlusOneRTTMillis !== 'number' || typeof j.pingRTTMilllis !== 'number') {
    return { error: `dialer result lacks numeric handshakePlusOneRTTMillis / pingRTTMilllis: ${lines[0]}`, ...none }
  }
  return { error: null, handshake: j.handshakePlusOneRTTMillis, ping: j.pingRTTMilllis }
}

/**
 * Take the listener's verdict (`BLPOP listenerResult`, `waitSec`): null when it pushed `{ ok: true }`,
 * else what went wrong.
 * @param {any} db the orchestrator's Redis @param {number} waitSec @returns {Promise<string | null>}
 */
export async function listenerVerdict(db, waitSec) {
  const r = await db.command('BLPOP', 'listenerResult', waitSec)
  if (r === null) return `listener pushed no listenerResult within ${waitSec} s of the dialer exiting`
  try {
    const j = JSON.parse(r[1])
    return j.ok === true ? null : `listener: ${j.error ?? JSON.stringify(j)}`
  } catch {
    return `listenerResult is not JSON: ${String(r[1]).slice(0, 200)}`
  }
}
