/**
 * The offline decryptor on a real capture: `tcpdump -i lo -w` around `weft trace <addr> --keylog`
 * against a `weft node` (both the built CLI, bin/weft.js), then `weft trace --pcap --keylog --json`:
 * the decrypted capture holds every message event the live trace printed. Skipped, with the reason
 * logged, only when tcpdump is absent or we are not root (`.ci/run` installs tcpdump; CI runs as root).
 * Also: the command's argument mistakes and its file-size bounds, at and one byte past each.
 */
import { spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { settleCapture, startUntil, tcpdump, tcpdumpUnavailable } from './trace-tcpdump-helpers.js'
import { afterAll, describe, expect, test } from 'vitest'
import { UsageLine } from '../src/cli/args.js'
import { MAX_CAPTURE_BYTES, runTracePcap } from '../src/cli/trace-pcap.js'
import { UsageError } from '../src/core/errors.js'
import { connectionSegments, tcpPcap } from './trace-pcap-helpers.js'

const why = tcpdumpUnavailable
if (why !== undefined) console.log(`test/trace-pcap-cli.test.ts: skipped: ${why}`)

const dir = mkdtempSync(join(tmpdir(), 'weft-trace-pcap-'))
const children: ChildProcess[] = []
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})


const jsonLines = (s: string) => s.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
const key = (e: Record<string, unknown>) => JSON.stringify([e.dir, e.stream, e.protocol, e.name, e.fields])

test.skipIf(why !== undefined)('a tcpdump capture of weft trace decrypts to the same messages', { timeout: 60_000 }, async () => {
  expect(existsSync('dist/cli/main.js'), 'run `npm run build` first').toBe(true)
  const node = await startUntil(children, 'node', ['bin/weft.js', 'node', '--listen', '/ip4/127.0.0.1/tcp/0', '--json'], /"event":"started"/, 'stdout')
  const addr = (JSON.parse(node.line) as { addrs: string[] }).addrs[0]!
  const port = /\/tcp\/(\d+)/.exec(addr)![1]!
  const pcap = join(dir, 'capture.pcap')
  const keylog = join(dir, 'keys.txt')
  const dump = await startUntil(children, tcpdump, ['-i', 'lo', '-U', '-s', '0', '-w', pcap, `tcp port ${port}`], /listening on/, 'stderr')
  const live = spawnSync('node', ['bin/weft.js', 'trace', addr, '--json', '--keylog', keylog, '--protocol', 'ping'], { encoding: 'utf8', timeout: 30_000 })
  await settleCapture(pcap) // the last packets reach the file
  dump.child.kill('SIGINT')
  await dump.exited
  node.child.kill('SIGTERM')
  expect(live.status, live.stderr).toBe(0)
  expect(readFileSync(keylog, 'utf8')).toMatch(/^NOISE_XX_25519_CHACHAPOLY_SHA256 [0-9a-f]{64} [0-9a-f]{64} [0-9a-f]{64}$/m)

  const off = spawnSync('node', ['bin/weft.js', 'trace', '--pcap', pcap, '--keylog', keylog, '--json'], { encoding: 'utf8', timeout: 30_000 })
  expect(off.status, off.stderr).toBe(0)
  const liveEvents = jsonLines(live.stdout)
  const offEvents = jsonLines(off.stdout)
  for (const k of ['transport', 'multistream', 'noise-handshake', 'yamux-frame', 'message', 'state']) expect(offEvents.some((e) => e.kind === k), k).toBe(true)
  expect(offEvents.some((e) => e.kind === 'state' && (e.to === 'undecodable' || e.to === 'no-keys'))).toBe(false)
  const liveMessages = liveEvents.filter((e) => e.kind === 'message')
  expect(liveMessages.some((e) => e.protocol === '/ipfs/id/1.0.0')).toBe(true)
  expect(liveMessages.some((e) => e.protocol === '/ipfs/ping/1.0.0')).toBe(true)
  const have = new Map<string, number>()
  for (const e of offEvents.filter((x) => x.kind === 'message')) have.set(key(e), (have.get(key(e)) ?? 0) + 1)
  const missing = liveMessages.filter((e) => {
    const n = have.get(key(e)) ?? 0
    if (n > 0) have.set(key(e), n - 1)
    return n === 0
  })
  expect(missing).toEqual([])
  // The multistream lines and the handshake ephemeral agree too.
  const lines = (evs: Array<Record<string, unknown>>) => evs.filter((e) => e.kind === 'multistream').map((e) => `${String(e.dir)} ${String(e.stream)} ${String(e.line)}`).sort()
  expect(lines(offEvents)).toEqual(expect.arrayContaining(lines(liveEvents)))
  const eph = (evs: Array<Record<string, unknown>>) => evs.find((e) => e.kind === 'noise-handshake' && e.message === 1)?.ephemeral
  expect(eph(offEvents)).toBe(eph(liveEvents))
})

describe('weft trace --pcap: arguments and file bounds (no tcpdump needed)', () => {
  const pcapPath = join(dir, 'tiny.pcap')
  const keysPath = join(dir, 'tiny.keys')
  writeFileSync(pcapPath, tcpPcap(1, connectionSegments([{ fromInitiator: true, data: new Uint8Array(10) }])))
  writeFileSync(keysPath, '# no lines\n')
  const size = statSync(pcapPath).size
  const run = (argv: string[], limits = {}) => runTracePcap(argv, () => {}, limits)
  const code = async (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e instanceof UsageError ? e.code : e instanceof UsageLine ? 'usage' : String(e)))

  test('MAX_CAPTURE_BYTES / MAX_KEYLOG_BYTES: a file at the bound is read, one byte past it is pcap/too-large, keylog/too-large', async () => {
    expect(await code(run(['--pcap', pcapPath, '--keylog', keysPath, '--json'], { maxCaptureBytes: size }))).toBe('ok')
    expect(await code(run(['--pcap', pcapPath, '--keylog', keysPath], { maxCaptureBytes: size - 1 }))).toBe('pcap/too-large')
    expect(await code(run(['--pcap', pcapPath, '--keylog', keysPath, '--json'], { maxKeylogBytes: 11 }))).toBe('ok')
    expect(await code(run(['--pcap', pcapPath, '--keylog', keysPath], { maxKeylogBytes: 10 }))).toBe('keylog/too-large')
    expect(MAX_CAPTURE_BYTES).toBe(512 * 1024 * 1024)
  })

  test('usage mistakes', async () => {
    expect(await code(run(['--pcap', pcapPath]))).toBe('usage')
    expect(await code(run(['--pcap', pcapPath, '--keylog', keysPath, '--local', 'both']))).toBe('usage')
    expect(await code(run(['--pcap', join(dir, 'missing.pcap'), '--keylog', keysPath]))).toBe('pcap/read')
    expect(await code(run(['--pcap', keysPath, '--keylog', keysPath]))).toBe('pcap/truncated-header')
  })
})
