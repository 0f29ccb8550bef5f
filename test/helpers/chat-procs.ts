/**
 * `weft chat --json` processes for test/cli-chat*.test.ts: the CLI bundled from the sources (no
 * dist/ needed), a process per chat (optionally inside a network namespace), its events in order,
 * lines to its stdin.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export type Ev = Record<string, unknown> & { event: string }

/** Bundle src/cli/main.ts into one script; its path. */
export async function buildChatCli(): Promise<string> {
  const dir = `${ROOT}node_modules/.cache/weft-chat`
  mkdirSync(dir, { recursive: true })
  const script = `${dir}/weft-${process.pid}-${Math.random().toString(36).slice(2, 8)}.mjs`
  await build({
    stdin: { contents: "import { main } from './src/cli/main.ts'\nmain(process.argv.slice(2)).then((c) => { process.exitCode = c })\n", resolveDir: ROOT, loader: 'ts' },
    bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'warning', outfile: script,
  })
  return script
}

export function removeChatCli(script: string): void {
  if (script !== '') rmSync(script, { force: true })
}

/** A `weft chat --json` process (in namespace `ns` when given). */
export class Chat {
  readonly child: ChildProcess
  readonly events: Ev[] = []
  readonly #waiters = new Set<() => void>()
  err = ''
  readonly exit: Promise<number | null>

  constructor(script: string, args: string[], ns?: string) {
    const argv = [script, 'chat', '--json', ...args]
    this.child = ns === undefined
      ? spawn(process.execPath, argv, { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn('ip', ['netns', 'exec', ns, process.execPath, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] })
    this.child.stderr!.on('data', (d) => { this.err += String(d) })
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      this.events.push(JSON.parse(l) as Ev)
      for (const w of this.#waiters) w()
    })
    this.exit = new Promise((resolve) => this.child.once('exit', (code) => { for (const w of this.#waiters) w(); resolve(code) }))
  }

  /** The first event (at index `from` or later) matching; rejects after `ms` with what was seen. */
  wait(pred: (e: Ev) => boolean, ms = 20_000, from = 0): Promise<Ev> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const e = this.events.slice(from).find(pred)
        if (e === undefined) return false
        this.#waiters.delete(check)
        clearTimeout(timer)
        resolve(e)
        return true
      }
      const timer = setTimeout(() => { this.#waiters.delete(check); reject(new Error(`not seen within ${ms} ms; events: ${JSON.stringify(this.events.slice(-15))} stderr: ${this.err}`)) }, ms)
      if (!check()) this.#waiters.add(check)
    })
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`)
  }

  get peer(): string {
    return String(this.events.find((e) => e.event === 'started')!.peer)
  }

  /** The latest mesh of the room includes every one of `others`. */
  meshHas(...others: Chat[]): Promise<Ev> {
    return this.wait(() => others.every((p) => (this.events.filter((e) => e.event === 'mesh').at(-1)?.peers as string[] | undefined)?.includes(p.peer) === true))
  }
}

/** Matches a room message from `from` with this text. */
export function msgFrom(from: Chat, text: string): (e: Ev) => boolean {
  return (e) => e.event === 'message' && e.from === from.peer && e.text === text
}
