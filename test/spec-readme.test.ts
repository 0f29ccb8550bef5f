// spec/README.md is the auditor's entry point: it must name every error code prefix and the note
// that defines it, every note with a Limits table, and only files that exist. And every error code
// written in src/ must be documented somewhere in spec/.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const spec = join(root, 'spec')
const readme = readFileSync(join(spec, 'README.md'), 'utf8')

function walk(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name)
    return e.isDirectory() ? walk(p, ext) : e.name.endsWith(ext) ? [p] : []
  })
}

/** Literals of the form '<prefix>/<name>' that are not error codes. */
const NOT_CODES = new Map<string, string>([
  // compared in src/request-response/behaviour.ts (openError) but raised nowhere in src/
  ['connection/closed', 'compared, never raised'],
  ['swarm/connection-closed', 'compared, never raised'],
])
/** 'weft/...' literals are entry points ('weft/node', 'weft/browser'), not codes. */
const isCode = (c: string): boolean => !c.startsWith('weft/') && !NOT_CODES.has(c)

/** Every error code written in src/ as a string literal '<prefix>/<name>', with a file using it. */
function codesInSrc(): Map<string, string> {
  const codes = new Map<string, string>()
  for (const f of walk(join(root, 'src'), '.ts')) {
    for (const m of readFileSync(f, 'utf8').matchAll(/(['"])([a-z][a-z0-9-]*\/[a-z0-9][a-z0-9-]*)\1/g)) {
      if (isCode(m[2]!) && !codes.has(m[2]!)) codes.set(m[2]!, f.slice(root.length))
    }
  }
  return codes
}

/** The prefix table of README "Errors": prefix -> the note that defines it (README.md for "this file"). */
function prefixNotes(): Map<string, string> {
  const out = new Map<string, string>()
  for (const m of readme.matchAll(/`([a-z][a-z0-9-]*)\/` \| (?:\[([a-z0-9-]+\.md)\]\(\2\)|(this file), below)/g)) out.set(m[1]!, m[2] ?? 'README.md')
  return out
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const specText = walk(spec, '.md').map((f) => readFileSync(f, 'utf8')).join('\n')
const noteText = new Map<string, string>()
const note = (name: string): string => {
  if (!noteText.has(name)) noteText.set(name, existsSync(join(spec, name)) ? readFileSync(join(spec, name), 'utf8') : '')
  return noteText.get(name)!
}

/** Written in full anywhere in spec/, or in the prefix's note as `name` or inside a `prefix/a|name|b` list. */
function documented(code: string, notes: Map<string, string>): boolean {
  if (new RegExp(`(?<![a-z0-9/-])${esc(code)}(?![a-z0-9-])`).test(specText)) return true
  const [prefix, name] = code.split('/') as [string, string]
  const n = notes.get(prefix)
  if (n === undefined) return false
  const bare = new RegExp(`\`${esc(name)}\``)
  const inList = new RegExp(`\`${esc(prefix)}/[^\`]*(?<![a-z0-9-])${esc(name)}(?![a-z0-9-])[^\`]*\``)
  return bare.test(note(n)) || inList.test(note(n))
}

describe('error codes', () => {
  const codes = codesInSrc()
  const notes = prefixNotes()

  test('the scan finds the codes of every error class', () => {
    // one of each: ProtocolError, UsageError, OutcomeError, DialErrorCode, TransportError, close/reset codes
    for (const c of ['yamux/credits-exceeded', 'multiaddr/unknown-protocol', 'kad/not-found', 'dial/all-failed', 'transport/refused', 'close/garbage-collected']) {
      expect(codes.has(c), c).toBe(true)
    }
  })

  test('every error code used in src/ is documented in spec/', () => {
    const missing = [...codes].filter(([c]) => !documented(c, notes)).map(([c, f]) => `${c} (${f})`)
    expect(missing, 'add each to the Errors section of its note (spec/README.md names the note per prefix)').toEqual([])
  })

  test('every code prefix is in the README prefix table, and the note it names exists', () => {
    const prefixes = new Set([...codes.keys()].map((c) => c.split('/')[0]!))
    expect([...prefixes].filter((p) => !notes.has(p)).sort()).toEqual([])
    expect([...new Set(notes.values())].filter((n) => !existsSync(join(spec, n))).sort()).toEqual([])
  })

  test('the documentation check is not vacuous', () => {
    expect(documented('yamux/credits-exceeded', notes)).toBe(true)
    expect(documented('yamux/no-such-code-anywhere', notes)).toBe(false)
    expect(documented('nosuchprefix/decode', notes)).toBe(false)
  })
})

describe('limits', () => {
  const section = readme.slice(readme.indexOf('## Limits'), readme.indexOf('## Errors'))
  const listed = [...section.matchAll(/^\| \[([a-z0-9-]+\.md)\]\(\1\) \|/gm)].map((m) => m[1]!).sort()
  const withTable = readdirSync(spec).filter((f) => f.endsWith('.md') && f !== 'README.md' && /^## Limits\b/m.test(note(f))).sort()

  test('the README lists exactly the notes that have a Limits section, and they exist', () => {
    expect(listed.length).toBeGreaterThan(0)
    expect(listed.filter((n) => !existsSync(join(spec, n)))).toEqual([])
    expect(listed).toEqual(withTable)
  })
})

describe('reading guide', () => {
  test('every src/ path in the README exists', () => {
    // a path with a folder is from the repository root; a bare `name.ts`, in the folder of the last src/ path before it
    let dir = 'src'
    const paths = [...readme.matchAll(/`([\w./-]+\.ts)`/g)].map((m) => {
      const p = m[1]!
      if (!p.includes('/')) return `${dir}/${p}`
      if (p.startsWith('src/')) dir = p.slice(0, p.lastIndexOf('/'))
      return p
    })
    expect(paths.length).toBeGreaterThan(40)
    expect(paths.filter((p) => !existsSync(join(root, p)))).toEqual([])
  })

  test('the per-protocol table names notes, files, tests, vectors and fuzz targets that exist', () => {
    const section = readme.slice(readme.indexOf('## Auditing one protocol'), readme.indexOf('## Vectors'))
    const rows = section.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| protocol') && !l.startsWith('|---'))
    expect(rows.length).toBeGreaterThan(15)
    const fuzzNames = new Set(walk(join(root, 'bench', 'fuzz'), '.ts').flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/(?:name: |behaviourTarget\()'([a-z0-9-]+)'/g)].map((m) => m[1]!)))
    const missing: string[] = []
    const list = (cell: string): string[] => cell.split(',').map((x) => x.trim()).filter((x) => x !== '' && x !== '—')
    for (const row of rows) {
      const [, , notesCell, core, tests, vectors, fuzz] = row.split('|').map((c) => c.trim())
      for (const n of [...notesCell!.matchAll(/`([a-z0-9-]+\.md)`/g)].map((m) => m[1]!)) if (!existsSync(join(spec, n))) missing.push(`spec/${n}`)
      // "multistream/wire, dialer; io/ws": a name without a folder is in the folder named last
      let dir = ''
      for (const group of core!.split(';')) {
        for (const item of list(group)) {
          if (item.includes('/')) dir = item.slice(0, item.lastIndexOf('/'))
          const file = item.includes('/') ? item : `${dir}/${item}`
          if (!existsSync(join(root, 'src', `${file}.ts`))) missing.push(`src/${file}.ts`)
        }
      }
      for (const t of list(tests!)) if (!existsSync(join(root, 'test', `${t}.test.ts`)) && !existsSync(join(root, 'test', `${t}.ts`))) missing.push(`test/${t}`)
      for (const v of list(vectors!)) if (!existsSync(join(spec, 'vectors', `${v}.json`))) missing.push(`spec/vectors/${v}.json`)
      for (const f of list(fuzz!)) if (!fuzzNames.has(f)) missing.push(`fuzz target ${f}`)
    }
    expect(missing).toEqual([])
  })
})
