/**
 * Network-namespace tests (test/netns-*.test.ts): run `ip`, run a command inside a namespace, say
 * why namespaces cannot be used here, build a driver script, and talk to a driver process running
 * inside a namespace (one JSON line per answer). Every "public" address lives only inside the
 * namespaces a test creates and removes itself.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' })
}

/** Run `cmd args` inside namespace `ns`; its stdout. */
export function inNs(ns: string, cmd: string, args: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: 'pipe', input, encoding: 'utf8' })
}

const firstLine = (e: unknown): string => (e instanceof Error ? e.message.split('\n')[0]! : String(e))

/** Why namespace tests cannot run here (not root, no `ip netns`, and with `nft`: no nftables), or undefined. */
export function netnsUnavailable(prefix: string, needs: { nft?: boolean } = {}): string | undefined {
  if (process.getuid?.() !== 0) return 'not root'
  const probe = `${prefix}-probe`
  try {
    ip('netns', 'add', probe)
  } catch (e) {
    return `ip netns unavailable (${firstLine(e)})`
  }
  try {
    if (needs.nft === true) inNs(probe, 'nft', ['add', 'table', 'inet', 't'])
  } catch (e) {
    return `nft unavailable (${firstLine(e)}); apt-get install nftables`
  } finally {
    ip('netns', 'del', probe)
  }
  return undefined
}

/** Create the namespaces, each with its loopback up. */
export function addNamespaces(names: Iterable<string>): void {
  for (const ns of names) {
    ip('netns', 'add', ns)
    ip('-n', ns, 'link', 'set', 'lo', 'up')
  }
}

/** Remove the namespaces (those never created are skipped). */
export function deleteNamespaces(names: Iterable<string>): void {
  for (const ns of names) {
    try { ip('netns', 'del', ns) } catch { /* not created */ }
  }
}

/**
 * One LAN with multicast (the mDNS tests): a bridge br0 in namespace `br` and, for each `[name, ns]`
 * of `hosts` in order, a veth `eth0` in `ns` (its bridge end `p<name>`) with address
 * `<prefix>.<i + 1>/24`, up, and the multicast route 224.0.0.0/4 on eth0.
 */
export function multicastLan(br: string, hosts: ReadonlyArray<readonly [name: string, ns: string]>, prefix: string): void {
  ip('-n', br, 'link', 'add', 'br0', 'type', 'bridge')
  ip('-n', br, 'link', 'set', 'br0', 'up')
  hosts.forEach(([h, ns], i) => {
    ip('link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', `p${h}`, 'netns', br)
    ip('-n', br, 'link', 'set', `p${h}`, 'master', 'br0', 'up')
    ip('-n', ns, 'addr', 'add', `${prefix}.${i + 1}/24`, 'dev', 'eth0')
    ip('-n', ns, 'link', 'set', 'eth0', 'up')
    ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
  })
}

/** Bundle a driver (test/helpers/<entry>.ts) into one script the namespaces' node processes run; its path. */
/**
 * Make namespace `ns` a home router: `wan0` (address `wan`/24) and `lan0` (`lan`/24), forwarding, a
 * masquerade NAT for `lanNet` out of wan0 (`natFlags`: '' port-preserving, 'random,fully-random'
 * symmetric-like), unsolicited WAN input dropped (counter `unsolicited`: a SYN reaching the router
 * before its own host's SYN left would otherwise be answered with a RST), and forwarding of
 * established traffic and LAN-to-WAN only. `counters`: extra counting rules put first in the
 * forward chain, each ending in `comment "<name>"` (read with routerCounter).
 */
export function natRouter(ns: string, o: { wan: string; lan: string; lanNet: string; natFlags?: string; counters?: readonly string[] }): void {
  ip('-n', ns, 'addr', 'add', `${o.wan}/24`, 'dev', 'wan0')
  ip('-n', ns, 'link', 'set', 'wan0', 'up')
  ip('-n', ns, 'addr', 'add', `${o.lan}/24`, 'dev', 'lan0')
  ip('-n', ns, 'link', 'set', 'lan0', 'up')
  inNs(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0'])
  inNs(ns, 'nft', ['-f', '-'], `
table ip nat {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" ip saddr ${o.lanNet} masquerade ${o.natFlags ?? ''}
  }
}
table inet fw {
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan0" ct state established,related accept
    iifname "wan0" counter drop comment "unsolicited"
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
${(o.counters ?? []).map((r) => `    ${r}\n`).join('')}    ct state established,related accept
    iifname "lan0" oifname "wan0" accept
    iifname "wan0" counter drop
  }
}
`)
}

/** A named counter (`comment "<name>"`) of a natRouter's `inet fw` table. */
export function routerCounter(ns: string, name: string): number {
  const text = inNs(ns, 'nft', ['list', 'table', 'inet', 'fw'])
  const m = new RegExp(`counter packets (\\d+) bytes \\d+[^\\n]* comment "${name}"`).exec(text)
  if (m === null) throw new Error(`no counter ${name} in ${ns}:\n${text}`)
  return Number(m[1])
}

export async function buildDriver(entry: string): Promise<string> {
  const dir = `${ROOT}node_modules/.cache/weft-netns`
  mkdirSync(dir, { recursive: true })
  const script = `${dir}/${entry}-${process.pid}.mjs`
  await build({ entryPoints: [`${ROOT}test/helpers/${entry}.ts`], bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'warning', outfile: script })
  return script
}

export function removeDriver(script: string): void {
  if (script !== '') rmSync(script, { force: true })
}

/** A driver process in a namespace: send a command line, read its JSON answers in order. */
export class Proc {
  readonly child: ChildProcess
  readonly #lines: string[] = []
  readonly #waiters: Array<{ resolve: (l: string) => void; reject: (e: Error) => void }> = []
  #err = ''
  #exited: Error | undefined

  constructor(ns: string, script: string, args: string[]) {
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    this.child.stderr!.on('data', (d) => { this.#err += String(d) })
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      const w = this.#waiters.shift()
      if (w !== undefined) w.resolve(l)
      else this.#lines.push(l)
    })
    this.child.once('exit', (code) => {
      this.#exited = new Error(`driver exited ${code}: ${this.#err}`)
      for (const w of this.#waiters.splice(0)) w.reject(this.#exited)
    })
  }

  next(): Promise<Record<string, unknown>> {
    const l = this.#lines.shift()
    const p = l !== undefined ? Promise.resolve(l) : new Promise<string>((resolve, reject) => {
      if (this.#exited !== undefined) reject(this.#exited)
      else this.#waiters.push({ resolve, reject })
    })
    return p.then((s) => JSON.parse(s) as Record<string, unknown>)
  }

  send(cmd: string): void {
    this.child.stdin!.write(`${cmd}\n`)
  }

  ask(cmd: string): Promise<Record<string, unknown>> {
    this.send(cmd)
    return this.next()
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.pid !== undefined) this.child.kill('SIGKILL')
  }
}
