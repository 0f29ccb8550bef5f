/**
 * A `weft node --json` process of the built CLI (bin/weft.js; run `npm run build` first) for the CLI
 * tests that talk to one, and the shape of a failed in-process command.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { expect } from 'vitest'

/** One JSON log line of `weft node --json`. */
export interface NodeLine { event: string; addrs?: string[]; spec?: string; codec?: string; [k: string]: unknown }

const children: ChildProcess[] = []

/**
 * Spawn `weft node --identity <identity> --json --listen /ip4/127.0.0.1/tcp/0 <extra>` (stopCliNodes
 * kills it); resolves with its first listen address and its log lines so far once it printed `started` and
 * `ready(lines)` holds (20 s at most).
 */
export function startCliNode(identity: string, extra: string[], ready: (lines: NodeLine[]) => boolean = () => true): Promise<{ addr: string; lines: NodeLine[] }> {
  const child = spawn('node', ['bin/weft.js', 'node', '--identity', identity, '--json', '--listen', '/ip4/127.0.0.1/tcp/0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  let err = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not started within 20 s: ${out} ${err}`)), 20_000)
    child.stderr!.on('data', (d) => { err += d })
    child.stdout!.on('data', (d) => {
      out += d
      const lines = out.split('\n').filter((l) => l.startsWith('{') && l.endsWith('}')).map((l) => JSON.parse(l) as NodeLine)
      const started = lines.find((l) => l.event === 'started')
      if (started !== undefined && ready(lines)) { clearTimeout(timer); resolve({ addr: started.addrs![0]!, lines }) }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${out} ${err}`)) })
  })
}

/** Kill the nodes startCliNode started (the test files' afterAll). */
export function stopCliNodes(): void {
  for (const c of children.splice(0)) c.kill('SIGTERM')
}

/** A failed command: exit 1, nothing on stdout and exactly one line on stderr (returned). */
export function failure(r: { code: number; out: string; err: string }): string {
  expect(r.code).toBe(1)
  expect(r.out).toBe('')
  expect(r.err.split('\n')).toHaveLength(1)
  return r.err
}
