#!/usr/bin/env node
// Where a browser bundle's bytes come from: `node bench/size-why.mjs [bundle...] [--top N] [--files]`
// (also `npm run bench -- size --why`). For each bundle of bench/bundles.ts (default: browser-minimal),
// prints its packages / source folders and then its top files, each with its minified bytes and its
// marginal gzip bytes (what the bundle would lose without it; see explainBundle in bench/bundles.ts).
// Marginal figures do not sum to the total: shared text compresses against other inputs.
import { build } from 'esbuild'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const BENCH = path.dirname(fileURLToPath(import.meta.url))
const CACHE = path.join(BENCH, '../node_modules/.cache/weft-bench')

export async function why(names, { top = 25, log = console.log } = {}) {
  mkdirSync(CACHE, { recursive: true })
  const outfile = path.join(CACHE, 'bundles-why.mjs')
  await build({ entryPoints: [path.join(BENCH, 'bundles.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'warning', target: 'node20' })
  const { BUNDLES, explainBundle } = await import(pathToFileURL(outfile).href + `?${Date.now()}`)
  for (const name of names) {
    const spec = BUNDLES.find((b) => b.name === name)
    if (!spec) throw new Error(`unknown bundle ${name}; known: ${BUNDLES.map((b) => b.name).join(', ')}`)
    const e = await explainBundle(spec)
    if (!e) { log(`${name}: not buildable yet`); continue }
    const table = (title, rows) => {
      log(`\n${name} (${e.raw} B minified, ${e.gzip} B gzip -9): ${title}`)
      log(`${'minified'.padStart(9)} ${'gzip'.padStart(7)}  input`)
      for (const r of rows) log(`${String(r.minified).padStart(9)} ${String(r.gzip).padStart(7)}  ${r.input}`)
    }
    table('by package / source folder', e.groups)
    table(`top ${top} files`, e.files.slice(0, top))
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2)
  const ti = argv.indexOf('--top')
  const top = ti >= 0 ? Number(argv[ti + 1]) : 25
  const names = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--top')
  await why(names.length ? names : ['browser-minimal'], { top })
}
