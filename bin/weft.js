#!/usr/bin/env node
// The weft command line; the implementation is compiled from src/cli/main.ts into dist/.
import { main } from '../dist/cli/main.js'

// `weft chat | head`, `weft node --json | grep -m1 started`: a reader that leaves closes our stdout.
// That ends the command quietly (exit 0), as for any Unix filter, instead of an EPIPE stack trace.
process.stdout.on('error', (e) => {
  if (/** @type {NodeJS.ErrnoException} */ (e).code === 'EPIPE') process.exit(0)
  throw e
})

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
}, (e) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`)
  process.exitCode = 1
})
