// Launcher for `npm run sim:kad`: bundles bench/sim-kad.ts with esbuild (dev dependency) and runs it
// with node:crypto's sha256 (the pure cores take any CryptoProvider).
import { build } from 'esbuild'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
// inside the repo, so the bundle resolves the noble packages & co. from node_modules
const out = path.join(here, '.cache', 'sim-kad.mjs')
await build({ entryPoints: [path.join(here, 'sim-kad-entry.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile: out, logLevel: 'warning', target: 'node20' })
const mod = await import(pathToFileURL(out).href)
mod.run(process.argv.slice(2))
