#!/usr/bin/env node
// Where a browser bundle's bytes come from: `node bench/size-why.mjs [bundle...] [--top N] [--set name=prefix,prefix]... [--text]`
// (also `npm run bench -- size --why`). For each bundle of bench/bundles.ts (default: browser-minimal),
// prints its packages / source folders and then its top files, each with its minified bytes and its
// marginal gzip bytes (what the bundle would lose without it; see explainBundle in bench/bundles.ts).
// Marginal figures do not sum to the total: shared text compresses against other inputs. `--set` names a
// set of inputs by path prefix (`--set policy=src/swarm/conn-manager,src/swarm/resource`), measured as one;
// `--text` measures the human-readable text left in the bundle (after code-only error messages).
import { build } from 'esbuild'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const BENCH = path.dirname(fileURLToPath(import.meta.url))
const CACHE = path.join(BENCH, '../node_modules/.cache/weft-bench')

/**
 * `--text`: the human-readable text in the bundle (string and template literals with a space in them:
 * error messages, warnings), found with TypeScript's parser in the minified output, and what the
 * bundle would weigh with each of them blanked (their marginal gzip bytes, together).
 */
async function humanText(spec, total, log, webMessages) {
  const ts = (await import('typescript')).default
  const { gzipSync } = await import('node:zlib')
  const r = await build({ stdin: { contents: spec.entry, resolveDir: path.join(BENCH, '..'), sourcefile: 'entry.ts', loader: 'ts' }, bundle: true, minify: true, treeShaking: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent', plugins: [webMessages] })
  const js = r.outputFiles[0].text
  const sf = ts.createSourceFile('bundle.js', js, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS)
  const found = []
  const visit = (n) => {
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) { if (n.text.includes(' ')) found.push([n.getStart(sf), n.end]) }
    else if (ts.isTemplateExpression(n)) {
      if ([n.head.text, ...n.templateSpans.map((x) => x.literal.text)].join('').includes(' ')) found.push([n.getStart(sf), n.end])
      n.templateSpans.forEach((x) => visit(x.expression))
      return
    }
    ts.forEachChild(n, visit)
  }
  visit(sf)
  let out = ''
  let last = 0
  for (const [a, b] of found) { out += js.slice(last, a) + '""'; last = b }
  out += js.slice(last)
  const chars = found.reduce((n, [a, b]) => n + b - a, 0)
  log(`\n${spec.name}: human-readable text: ${found.length} literals, ${chars} B minified; gzip ${total} -> ${gzipSync(out, { level: 9 }).length} B with them blanked`)
}

export async function why(names, { top = 25, log = console.log, sets = {}, text = false } = {}) {
  mkdirSync(CACHE, { recursive: true })
  const outfile = path.join(CACHE, 'bundles-why.mjs')
  await build({ entryPoints: [path.join(BENCH, 'bundles.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'warning', target: 'node20' })
  const { BUNDLES, explainBundle, webMessages } = await import(pathToFileURL(outfile).href + `?${Date.now()}`)
  for (const name of names) {
    const spec = BUNDLES.find((b) => b.name === name)
    if (!spec) throw new Error(`unknown bundle ${name}; known: ${BUNDLES.map((b) => b.name).join(', ')}`)
    const e = await explainBundle(spec, sets)
    if (!e) { log(`${name}: not buildable yet`); continue }
    const table = (title, rows) => {
      log(`\n${name} (${e.raw} B minified, ${e.gzip} B gzip -9): ${title}`)
      log(`${'minified'.padStart(9)} ${'gzip'.padStart(7)}  input`)
      for (const r of rows) log(`${String(r.minified).padStart(9)} ${String(r.gzip).padStart(7)}  ${r.input}`)
    }
    table('by package / source folder', e.groups)
    table(`top ${top} files`, e.files.slice(0, top))
    if (e.sets.length > 0) table('named sets (--set)', e.sets)
    if (text) await humanText(spec, e.gzip, log, webMessages)
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2)
  const ti = argv.indexOf('--top')
  const top = ti >= 0 ? Number(argv[ti + 1]) : 25
  const sets = {}
  argv.forEach((a, i) => {
    if (a !== '--set') return
    const [name, list] = String(argv[i + 1]).split('=')
    sets[name] = list.split(',')
  })
  const names = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--top' && argv[i - 1] !== '--set')
  await why(names.length ? names : ['browser-minimal'], { top, sets, text: argv.includes('--text') })
}
