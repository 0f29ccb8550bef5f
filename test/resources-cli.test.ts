/**
 * `weft node --limits <file.json>` and `--print-resources <seconds>` (spec/resource-manager.md):
 * a bad limits file is one line naming the bad field and exit 1; a good one applies (a node with
 * system connsInbound 1 refuses a second connection and its printed usage counts the refusal).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { cli } from './helpers/cli.js'
import { createNode, DialError, type WeftNode } from '../src/node.js'
import { resourcesLine } from '../src/cli/node-cmd.js'

const nodes: WeftNode[] = []
const children: Array<ReturnType<typeof spawn>> = []
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGTERM')
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

const dir = mkdtempSync(join(tmpdir(), 'weft-limits-'))
function file(name: string, text: string): string {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}

describe('weft node --limits', () => {
  test('a bad file: exit 1, one line naming the field', async () => {
    const cases: Array<[string, RegExp]> = [
      ['{"peer":{"conns":-1}}', /^--limits .*bad1\.json: resources\/bad-limits: peer\.conns must be a non-negative integer/],
      ['{"sytem":{}}', /sytem is not a resource scope/],
      ['not json', /not JSON/],
    ]
    let i = 0
    for (const [text, msg] of cases) {
      const f = file(`bad${++i}.json`, text)
      const r = await cli('node', '--listen', '/ip4/127.0.0.1/tcp/0', '--identity', join(dir, 'id.key'), '--limits', f)
      expect(r.code).toBe(1)
      expect(r.err).toMatch(msg)
      expect(r.err.split('\n')).toHaveLength(1)
    }
    const missing = await cli('node', '--identity', join(dir, 'id.key'), '--limits', join(dir, 'nope.json'))
    expect(missing.err).toMatch(/^--limits: cannot read /)
    const seconds = await cli('node', '--identity', join(dir, 'id.key'), '--print-resources', '0')
    expect(seconds.err).toBe('--print-resources must be a positive number of seconds (not 0)')
  })

  test('the built CLI applies the file and prints usage with --print-resources (JSON lines)', async () => {
    const f = file('limits.json', JSON.stringify({ system: { connsInbound: 1 }, peer: { streams: 'unlimited' } }))
    const child = spawn('node', ['bin/weft.js', 'node', '--listen', '/ip4/127.0.0.1/tcp/0', '--identity', join(dir, 'id2.key'), '--json',
      '--limits', f, '--print-resources', '0.1'], { stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(child)
    const lines: Array<Record<string, unknown>> = []
    let buf = ''
    const waiters: Array<() => void> = []
    let exited: number | null | undefined
    child.once('exit', (code) => {
      exited = code
      for (const w of waiters.splice(0)) w()
    })
    child.stdout!.on('data', (d) => {
      buf += d
      const parts = buf.split('\n')
      buf = parts.pop()!
      for (const l of parts) if (l.startsWith('{')) lines.push(JSON.parse(l) as Record<string, unknown>)
      for (const w of waiters.splice(0)) w()
    })
    const next = async (pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
      for (;;) {
        const hit = lines.find(pred)
        if (hit !== undefined) return hit
        if (exited !== undefined) throw new Error(`weft node exited ${exited}`)
        await new Promise<void>((resolve) => waiters.push(resolve))
      }
    }
    const started = await next((l) => l.event === 'started')
    const warning = await next((l) => l.event === 'resources:warning')
    expect(String(warning.warning)).toContain('system.connsInbound (1)')
    const addr = (started.addrs as string[])[0]!
    const [c1, c2] = await Promise.all([createNode({ services: {} }), createNode({ services: {} })])
    nodes.push(c1, c2)
    await c1.dial(addr)
    expect(await c2.dial(addr).then(() => undefined, (e: unknown) => e)).toBeInstanceOf(DialError)
    const printed = await next((l) => l.event === 'resources' && Array.isArray(l.blocked) && l.blocked.length > 0)
    expect(printed.blocked).toEqual([{ scope: 'system', resource: 'connection', direction: 'inbound', count: 1 }])
    expect(printed.system).toMatchObject({ connsInbound: 1 })
  }, 30_000)
})

test('resourcesLine: one line with system, transient, peers, protocols and refusals', () => {
  const z = { connsInbound: 0, connsOutbound: 0, streamsInbound: 0, streamsOutbound: 0, memory: 0 }
  const line = resourcesLine({
    system: { ...z, connsInbound: 3, memory: 1048576 }, transient: z, peers: 3, protocols: { '/ipfs/id/1.0.0': { ...z, streamsInbound: 1 } },
    services: {}, blocked: [{ scope: 'system', resource: 'connection', direction: 'inbound', count: 2 }], warnings: [],
  })
  expect(line).toBe('resources: system conns 3 in/0 out, streams 0 in/0 out, memory 1.0 MiB; transient conns 0 in/0 out, streams 0 in/0 out, memory 0.0 MiB; 3 peers; streams in/out /ipfs/id/1.0.0 1/0; blocked system/connection/inbound 2')
})
