/**
 * The relay on the command line (the built CLI, bin/weft.js): `weft node --relay` serves Circuit
 * Relay v2, `weft node --relay-via <relay>` reserves on it and prints its relayed address and its
 * reachability, and `weft ping <relay>/p2p-circuit/p2p/<peer>` pings through it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { cli } from './helpers/cli.js'

const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGTERM')
})

/** Spawn `weft node ... --json`; resolves with the first line for which `want` holds, and every line so far. */
function startNode(extra: string[], want: (line: Record<string, unknown>) => boolean): Promise<{ line: Record<string, unknown>; lines: () => Array<Record<string, unknown>> }> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-cli-relay-'))
  const child = spawn('node', ['bin/weft.js', 'node', '--identity', join(dir, 'id.key'), '--json', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  let err = ''
  const parsed = (): Array<Record<string, unknown>> => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no such line within 20 s: ${out} ${err}`)), 20_000)
    child.stderr!.on('data', (d) => { err += d })
    child.stdout!.on('data', (d) => {
      out += d
      const line = parsed().find(want)
      if (line !== undefined) { clearTimeout(timer); resolve({ line, lines: parsed }) }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${out} ${err}`)) })
  })
}

describe('weft node --relay / --relay-via, weft ping through a relay', () => {
  test('a relay, a node reserving on it, a ping over the circuit', async () => {
    const relay = await startNode(['--listen', '/ip4/127.0.0.1/tcp/0', '--relay', '--relay-limit-data', '64KiB', '--relay-limit-duration', '1m', '--relay-max-reservations', '1'], (l) => l.event === 'started')
    expect(relay.line.relay).toBe(true)
    const relayAddr = (relay.line.addrs as string[])[0]!
    const listener = await startNode(['--listen', '/ip4/127.0.0.1/tcp/0', '--relay-via', relayAddr], (l) => l.event === 'relay:reservation' && l.type === 'accepted')
    const started = listener.lines().find((l) => l.event === 'started')!
    const peer = started.peerId as string
    const circuit = `${relayAddr}/p2p-circuit/p2p/${peer}`
    expect(listener.line.relayedAddrs).toEqual([circuit])
    expect(listener.line.limit).toEqual({ duration: 60, data: 65536 })
    expect(String(listener.line.reachability)).toContain('reachable through 1 relayed address')
    expect(started.directAddrs).toHaveLength(1)

    const r = await cli('ping', circuit, '--count', '2', '--json')
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    const pongs = r.out.trim().split('\n').map((l) => JSON.parse(l) as { peer: string; rttMillis: number })
    expect(pongs).toHaveLength(2)
    expect(pongs[0]!.peer).toBe(peer)

    const text = await cli('ping', circuit, '--count', '1')
    expect(text.out).toContain('(relayed: ')

    // --relay-max-reservations 1: a second peer is refused
    const second = await startNode(['--listen', '/ip4/127.0.0.1/tcp/0', '--relay-via', relayAddr], (l) => l.event === 'relay:reservation' && l.type !== 'accepted')
    expect(second.line.type).toBe('refused')
  }, 60_000)

  test('--relay-discover: a relay met through --bootstrap is found and reserved on', async () => {
    const relay = await startNode(['--listen', '/ip4/127.0.0.1/tcp/0', '--relay'], (l) => l.event === 'started')
    const relayAddr = (relay.line.addrs as string[])[0]!
    const n = await startNode(['--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', relayAddr, '--relay-discover'], (l) => l.event === 'relay:reservation' && l.type === 'accepted')
    expect(n.line.relay).toBe(relayAddr.split('/p2p/')[1])
    expect((n.line.relayedAddrs as string[])[0]).toContain(`${relayAddr}/p2p-circuit`)
  }, 60_000)

  test('a circuit address of a peer that never reserved: one line naming NO_RESERVATION, exit 1', async () => {
    const relay = await startNode(['--listen', '/ip4/127.0.0.1/tcp/0', '--relay'], (l) => l.event === 'started')
    const relayAddr = (relay.line.addrs as string[])[0]!
    const r = await cli('ping', `${relayAddr}/p2p-circuit/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq`, '--count', '1')
    expect(r.code).toBe(1)
    expect(r.err.split('\n')).toHaveLength(1)
    expect(r.err).toMatch(/NO_RESERVATION/)
  }, 60_000)

  test('weft node --autonat-server: reachability from AutoNAT and the hole-punching status in the output; --no-hole-punch', async () => {
    const n = await startNode(['--listen', '/ip4/127.0.0.1/tcp/0', '--autonat-server'], (l) => l.event === 'started')
    expect(String(n.line.reachability)).toMatch(/^unknown \(autonat: 0 reachable, 0 unreachable\); hole punching (available|unavailable \(no TCP punch port)/)
    const plain = await startNode(['--listen', '/ip4/127.0.0.1/tcp/0', '--no-hole-punch'], (l) => l.event === 'started')
    expect(String(plain.line.reachability)).toBe('unknown (autonat: 0 reachable, 0 unreachable)')
  }, 60_000)

  test('over QUIC v1: a relay, a node reserving on it through its /udp/../quic-v1 address, a ping over the QUIC circuit', async () => {
    const relay = await startNode(['--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--relay'], (l) => l.event === 'started')
    const relayAddr = (relay.line.addrs as string[]).find((a) => a.includes('/quic-v1/'))!
    expect(relayAddr).toMatch(/^\/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1\/p2p\//)
    const listener = await startNode(['--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--relay-via', relayAddr], (l) => l.event === 'relay:reservation' && l.type === 'accepted')
    const peer = listener.lines().find((l) => l.event === 'started')!.peerId as string
    const circuit = `${relayAddr}/p2p-circuit/p2p/${peer}`
    expect(listener.line.relayedAddrs).toEqual([circuit])
    expect(String(listener.line.reachability)).toMatch(/reachable through 1 relayed address; hole punching available$/)
    const r = await cli('ping', circuit, '--count', '1', '--json')
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    expect((JSON.parse(r.out.trim()) as { peer: string }).peer).toBe(peer)
  }, 60_000)

  test('weft node listening on QUIC only: hole punching available over QUIC (no TCP punch port needed)', async () => {
    const n = await startNode(['--listen', '/ip4/127.0.0.1/udp/0/quic-v1'], (l) => l.event === 'started')
    expect(String(n.line.reachability)).toMatch(/; hole punching available$/)
  }, 60_000)

  test('usage errors: relay limits without --relay, a bad byte count, a relay address without its peer id', async () => {
    expect((await cli('node', '--relay-limit-data', '10')).err).toMatch(/need --relay/)
    expect((await cli('node', '--relay', '--relay-limit-data', '10 GB')).err).toMatch(/--relay-limit-data must be a number of bytes/)
    expect((await cli('node', '--relay-max-circuits', '4')).err).toMatch(/need --relay/)
    expect((await cli('node', '--relay', '--relay-max-reservations', '0')).err).toMatch(/--relay-max-reservations must be at least 1/)
    const r = await cli('node', '--listen', '/ip4/127.0.0.1/tcp/0', '--relay-via', '/ip4/127.0.0.1/tcp/1', '--identity', join(mkdtempSync(join(tmpdir(), 'weft-cli-relay-')), 'id.key'))
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/--relay-via .*\/p2p\/<relay id>/)
  })
})
