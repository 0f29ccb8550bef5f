// Launcher for `npm run fuzz`: bundles bench/fuzz/main.ts with esbuild (a dev dependency, as
// `npm run sim:kad` does) into bench/.cache and runs it. See bench/README.md "Fuzzing".
import { build } from 'esbuild'
import { rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
// one bundle per run: a long run's workers keep loading the code they started with
const out = path.join(here, '.cache', `fuzz-${process.pid}.mjs`)
await build({ entryPoints: [path.join(here, 'fuzz', 'main.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile: out, logLevel: 'warning', target: 'node20' })
const mod = await import(pathToFileURL(out).href)
try {
  process.exitCode = await mod.main(process.argv.slice(2), out)
} catch (e) {
  process.stderr.write(`fuzz: ${e instanceof Error ? e.message : String(e)}\n`)
  process.exitCode = 2
} finally {
  rmSync(out, { force: true })
}
