// Runs bin/weft.js with its arguments, but exits cleanly on SIGTERM so that `node --cpu-prof`
// writes its profile (a perf server never exits on its own).
//   node --cpu-prof --cpu-prof-dir=DIR bench/drivers/profiled.mjs perf --run-server --server-address ...
process.on('SIGTERM', () => process.exit(0))
await import('../../bin/weft.js')
