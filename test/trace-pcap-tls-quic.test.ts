/**
 * The offline decryptor on real captures of TLS and QUIC connections: `tcpdump -i lo -w` around
 * `weft trace <addr> --keylog` against a `weft node` (the built CLI, bin/weft.js) over `/tls/1.0.0`
 * (TCP) and over QUIC v1 (UDP), then `weft trace --pcap --keylog --json`: the NSS key log lines name
 * the connections by their ClientHello random, and the decrypted capture holds the live trace's TLS
 * handshake messages and every message event it printed (QUIC: every packet decrypted). Skipped,
 * with the reason logged, only when tcpdump is absent or we are not root.
 */
import { spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { settleCapture, startUntil, tcpdump, tcpdumpUnavailable } from './trace-tcpdump-helpers.js'
import { afterAll, expect, test } from 'vitest'

const why = tcpdumpUnavailable
if (why !== undefined) console.log(`test/trace-pcap-tls-quic.test.ts: skipped: ${why}`)

const dir = mkdtempSync(join(tmpdir(), 'weft-trace-pcap-tq-'))
const children: ChildProcess[] = []
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})


type Ev = Record<string, unknown>
const jsonLines = (s: string): Ev[] => s.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Ev)
const key = (e: Ev) => JSON.stringify([e.dir, e.stream, e.protocol, e.name, e.fields])

/** Capture `weft trace` against a `weft node` listening on `listen`, decrypt the capture; both event lists. */
async function captureAndDecrypt(name: string, listen: string, filter: (port: string) => string, extra: string[]): Promise<{ live: Ev[]; off: Ev[]; keylog: string }> {
  const node = await startUntil(children, 'node', ['bin/weft.js', 'node', '--listen', listen, '--json', ...extra], /"event":"started"/, 'stdout')
  const addr = (JSON.parse(node.line) as { addrs: string[] }).addrs[0]!
  const port = /\/(?:tcp|udp)\/(\d+)/.exec(addr)![1]!
  const pcap = join(dir, `${name}.pcap`)
  const keylog = join(dir, `${name}.keys`)
  const dump = await startUntil(children, tcpdump, ['-i', 'lo', '-U', '-s', '0', '-w', pcap, filter(port)], /listening on/, 'stderr')
  const live = spawnSync('node', ['bin/weft.js', 'trace', addr, '--json', '--keylog', keylog, '--protocol', 'ping', ...extra], { encoding: 'utf8', timeout: 30_000 })
  await settleCapture(pcap) // the last packets reach the file
  dump.child.kill('SIGINT')
  await dump.exited
  node.child.kill('SIGTERM')
  expect(live.status, live.stderr).toBe(0)
  const off = spawnSync('node', ['bin/weft.js', 'trace', '--pcap', pcap, '--keylog', keylog, '--json'], { encoding: 'utf8', timeout: 30_000 })
  expect(off.status, off.stderr).toBe(0)
  return { live: jsonLines(live.stdout), off: jsonLines(off.stdout), keylog: readFileSync(keylog, 'utf8') }
}

function sameMessages(live: Ev[], off: Ev[]): void {
  const liveMessages = live.filter((e) => e.kind === 'message')
  expect(liveMessages.some((e) => e.protocol === '/ipfs/id/1.0.0')).toBe(true)
  expect(liveMessages.some((e) => e.protocol === '/ipfs/ping/1.0.0')).toBe(true)
  const have = new Map<string, number>()
  for (const e of off.filter((x) => x.kind === 'message')) have.set(key(e), (have.get(key(e)) ?? 0) + 1)
  const missing = liveMessages.filter((e) => {
    const n = have.get(key(e)) ?? 0
    if (n > 0) have.set(key(e), n - 1)
    return n === 0
  })
  expect(missing).toEqual([])
  const tls = (evs: Ev[]) => evs.filter((e) => e.kind === 'tls-handshake').map((e) => JSON.stringify([e.dir, e.level, e.type, e.bytes]))
  expect(tls(off)).toEqual(tls(live))
  expect(tls(off)).toHaveLength(10)
  expect(off.filter((e) => e.kind === 'state' && ['undecodable', 'no-keys', 'capture-incomplete'].includes(String(e.to)))).toEqual([])
}

const NSS = /^(CLIENT|SERVER)_(HANDSHAKE_TRAFFIC_SECRET|TRAFFIC_SECRET_0) [0-9a-f]{64} [0-9a-f]{64}$/

test.skipIf(why !== undefined)('a capture of a /tls/1.0.0 connection decrypts to the live trace', { timeout: 60_000 }, async () => {
  expect(existsSync('dist/cli/main.js'), 'run `npm run build` first').toBe(true)
  const { live, off, keylog } = await captureAndDecrypt('tls', '/ip4/127.0.0.1/tcp/0', (p) => `tcp port ${p}`, ['--security', 'tls'])
  expect(keylog.trim().split('\n').filter((l) => NSS.test(l))).toHaveLength(4)
  sameMessages(live, off)
  expect(off).toContainEqual(expect.objectContaining({ kind: 'state', layer: 'tls', to: 'established' }))
  expect(off.some((e) => e.kind === 'yamux-frame')).toBe(true)
})

test.skipIf(why !== undefined)('a capture of a QUIC connection decrypts to the live trace, packet by packet', { timeout: 60_000 }, async () => {
  expect(existsSync('dist/cli/main.js'), 'run `npm run build` first').toBe(true)
  const { live, off, keylog } = await captureAndDecrypt('quic', '/ip4/127.0.0.1/udp/0/quic-v1', (p) => `udp port ${p}`, [])
  expect(keylog.trim().split('\n').filter((l) => NSS.test(l))).toHaveLength(4)
  sameMessages(live, off)
  const packets = (evs: Ev[]) => evs.filter((e) => e.kind === 'quic-packet')
  expect(packets(off).filter((e) => e.undecryptable !== undefined)).toEqual([])
  // every packet the live trace saw is in the capture, with the same number and frames
  const pk = (e: Ev) => JSON.stringify([e.dir, e.packet, e.pn, e.frames])
  const offKeys = new Set(packets(off).map(pk))
  // (the node's stop polls a last CONNECTION_CLOSE datagram that may not reach the socket: the one packet allowed to be missing)
  const missing = packets(live).filter((e) => !offKeys.has(pk(e)))
  expect(missing.filter((e) => !(e === packets(live).at(-1) && (e.frames as Ev[]).every((f) => f.type === 'connection_close' || f.type === 'padding')))).toEqual([])
  expect(packets(off).length).toBeGreaterThan(10)
})
