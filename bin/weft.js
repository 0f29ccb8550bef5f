#!/usr/bin/env node
// The weft command line. `npm run build` compiles src/ into dist/ (tsc) and then bundles the CLI
// into dist/cli/bundle/ (scripts/bundle-cli.mjs): a fresh process reads a few files instead of
// hundreds of ESM modules (bench/README.md, "Start-up"). The bundle is used only when it is at
// least as new as dist/cli/main.js, so a dist/ rebuilt by tsc alone never runs a stale bundle.
import { statSync } from 'node:fs'
import module from 'node:module'

// Node 22.1+: V8's code cache for the modules loaded from here on, kept by Node in its own folder
// (os.tmpdir()/node-compile-cache, invalidated by Node; NODE_DISABLE_COMPILE_CACHE=1 turns it off).
// Absent on Node 20, where this does nothing (bench/README.md "Start-up": V8 code cache).
module.enableCompileCache?.()

// `weft chat | head`, `weft node --json | grep -m1 started`: a reader that leaves closes our stdout.
// That ends the command quietly (exit 0), as for any Unix filter, instead of an EPIPE stack trace.
process.stdout.on('error', (e) => {
  if (/** @type {NodeJS.ErrnoException} */ (e).code === 'EPIPE') process.exit(0)
  throw e
})

const mtime = (rel) => statSync(new URL(rel, import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? -1
const bundle = mtime('../dist/cli/bundle/weft.mjs')
const { main } = await import(bundle >= 0 && bundle >= mtime('../dist/cli/main.js') ? '../dist/cli/bundle/weft.mjs' : '../dist/cli/main.js')

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
}, (e) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`)
  process.exitCode = 1
})
