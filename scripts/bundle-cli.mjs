#!/usr/bin/env node
// Bundles the command line (src/cli/main.ts and everything it imports, the runtime dependencies
// included) into dist/cli/bundle/ with esbuild: one entry file plus a chunk per lazily imported
// command, which bin/weft.js runs. A fresh `weft inspect` then reads a few files instead of ~60 ESM
// modules and the tree-shaken @noble/curves no longer computes unused constants at import
// (bench/README.md, "Start-up"). Run by `npm run build` after tsc; dist/ keeps the module form for
// the library's importers.
import { build } from 'esbuild'
import { rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const OUTDIR = path.join(ROOT, 'dist/cli/bundle')

/** Builds the bundle into `outdir`; `options` are passed to esbuild (the test asks for a metafile). */
export async function bundleCli(outdir = OUTDIR, options = {}) {
  rmSync(outdir, { recursive: true, force: true })
  return build({
    entryPoints: { weft: path.join(ROOT, 'src/cli/main.ts') },
    outdir,
    bundle: true,
    splitting: true, // each command's `await import()` becomes its own chunk, read only when it runs
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
    // ws's optional native helpers, required inside try/catch: absent, ws uses its JS fallbacks
    external: ['bufferutil', 'utf-8-validate'],
    // ws is CommonJS: the ESM bundle gives its require() calls a real require for node: built-ins,
    // created on first use (createRequire per chunk at start-up showed in the profile of weft inspect)
    banner: { js: "import { createRequire as __weftCreateRequire } from 'node:module'; let __weftRequire; const require = (id) => (__weftRequire ??= __weftCreateRequire(import.meta.url))(id);" },
    legalComments: 'eof', // the dependencies' license notices stay in the chunks that hold their code
    logLevel: 'warning',
    ...options,
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundleCli()
