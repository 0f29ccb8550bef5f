/**
 * Command-line argument parsing for every `weft` command (split from main.ts so that command
 * modules such as perf.ts need not import main.ts back).
 *
 * Each command declares the flags it knows: `booleans` take no value (`--json`), `values` take one
 * (`--listen <addr>` or `--listen=<addr>`, repeatable). Any other `--flag` is a usage error, so a
 * typo such as `--listn` fails loudly instead of being ignored.
 */

export interface Args {
  positional: string[]
  flags: Map<string, string[]>
}

/** An expected command-line mistake: printed as one line (the message), exit code 1. */
export class UsageLine extends Error {}

/** The flags one command accepts. */
export interface FlagSpec {
  /** Flags without a value; present means 'true'. */
  booleans?: readonly string[]
  /** Flags that take one value each time they appear. */
  values?: readonly string[]
}

/** `--name value`, `--name=value`, bare `--flag` (value 'true'). Unknown flags are a UsageLine. */
export function parseArgs(argv: readonly string[], spec: FlagSpec): Args {
  const booleans = new Set(spec.booleans ?? [])
  const values = new Set(spec.values ?? [])
  const positional: string[] = []
  const flags = new Map<string, string[]>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (!a.startsWith('--')) {
      positional.push(a)
      continue
    }
    const eq = a.indexOf('=')
    const name = eq === -1 ? a.slice(2) : a.slice(2, eq)
    if (!booleans.has(name) && !values.has(name)) throw new UsageLine(`unknown flag --${name}${knownFlags(booleans, values)}`)
    let value: string
    if (eq !== -1) {
      if (booleans.has(name)) throw new UsageLine(`--${name} takes no value`)
      value = a.slice(eq + 1)
    } else if (booleans.has(name)) value = 'true'
    else {
      const next = argv[i + 1]
      if (next === undefined) throw new UsageLine(`--${name} needs a value`)
      value = next
      i++
    }
    flags.set(name, [...(flags.get(name) ?? []), value])
  }
  return { positional, flags }
}

function knownFlags(booleans: ReadonlySet<string>, values: ReadonlySet<string>): string {
  const all = [...booleans, ...values].sort().map((f) => `--${f}`)
  return all.length === 0 ? ' (this command takes no flags)' : ` (known: ${all.join(', ')})`
}

/** `--security noise,tls` (repeatable or comma-separated, in order of preference; spec/tls.md). */
export function securityFlag(values: string[] | undefined): { security?: Array<'noise' | 'tls'> } {
  if (values === undefined) return {}
  const list = values.flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s !== '')
  for (const s of list) if (s !== 'noise' && s !== 'tls') throw new UsageLine(`--security: unknown protocol "${s}" (noise or tls)`)
  if (list.length === 0 || new Set(list).size !== list.length) throw new UsageLine('--security: noise and/or tls, each once')
  return { security: list as Array<'noise' | 'tls'> }
}
