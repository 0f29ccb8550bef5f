/** `weft` from the sources, bundled by test/netns-mdns.test.ts to run in a namespace (argv: the CLI's). */
import { main } from '../../src/cli/main.js'

main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (e: unknown) => { process.stderr.write(`${String(e)}\n`); process.exit(1) })
