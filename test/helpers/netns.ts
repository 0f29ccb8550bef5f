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

/** Bundle a driver (test/helpers/<entry>.ts) into one script the namespaces' node processes run; its path. */
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
