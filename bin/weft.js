#!/usr/bin/env node
// The weft command line; the implementation is compiled from src/cli/main.ts into dist/.
import { main } from '../dist/cli/main.js'

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
}, (e) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`)
  process.exitCode = 1
})
