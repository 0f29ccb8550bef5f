/**
 * What the tcpdump tests of weft trace share (test/trace-pcap-cli.test.ts, trace-pcap-tls-quic.test.ts):
 * why they cannot run here, starting a process until a line appears, and waiting for a capture
 * file to settle before stopping tcpdump.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'

/** The tcpdump binary, or ''. */
export const tcpdump = spawnSync('sh', ['-c', 'command -v tcpdump'], { encoding: 'utf8' }).stdout.trim()
/** Why the tcpdump tests are skipped here, or undefined. */
export const tcpdumpUnavailable = tcpdump === '' ? 'tcpdump is not installed' : process.getuid?.() !== 0 ? 'not root (tcpdump -i lo needs root)' : undefined

/** Start a process (kept in `children`) and wait for a line of its stdout/stderr matching `re`. */
export function startUntil(children: ChildProcess[], cmd: string, args: string[], re: RegExp, stream: 'stdout' | 'stderr'): Promise<{ child: ChildProcess; line: string; exited: Promise<number | null> }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  let out = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd}: no line matching ${re}: ${out}`)), 15_000)
    child[stream]!.on('data', (d) => {
      out += d
      const line = out.split('\n').find((l) => re.test(l))
      if (line !== undefined) { clearTimeout(timer); resolve({ child, line, exited }) }
    })
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`${cmd} exited ${code}: ${out}`)) })
  })
}

/** Wait until the capture file has not grown for three 200 ms checks (on a loaded machine tcpdump lags; SIGINT drops what it has not read yet). */
export async function settleCapture(pcap: string): Promise<void> {
  for (let size = -1, same = 0, i = 0; i < 50 && same < 3; i++) {
    await new Promise((r) => setTimeout(r, 200))
    const now = existsSync(pcap) ? statSync(pcap).size : 0
    same = now === size ? same + 1 : 0
    size = now
  }
}
