// Yamux micro-benchmark: two sessions in memory pumping 256 MiB over one stream (no Noise, no
// sockets), for a few frame and write sizes. Measures the yamux core's own overhead.
//
// Run: npx esbuild bench/yamux.ts --bundle --platform=node --format=esm --log-level=warning | node --input-type=module
import { YamuxSession } from '../src/yamux/index.js'

const TOTAL = 256 * 1024 * 1024
const MAX = 65519 // what the driver asks for: one Noise transport message of plaintext

function run(maxFrameSize: number, writeSize: number, streams = 1): number {
  const client = new YamuxSession({ role: 'client', keepAliveInterval: undefined, maxFrameSize })
  const server = new YamuxSession({ role: 'server', keepAliveInterval: undefined })
  const chunk = new Uint8Array(writeSize).fill(7)
  const ids = Array.from({ length: streams }, () => client.openStream(0))
  let sent = 0
  let received = 0
  let now = 0
  const start = performance.now()
  while (received < TOTAL) {
    for (const id of ids) {
      while (sent < TOTAL) {
        const n = client.write(id, sent + writeSize <= TOTAL ? chunk : chunk.subarray(0, TOTAL - sent))
        sent += n
        if (n === 0) break
      }
    }
    for (let out = client.pollTransmit(MAX); out !== undefined; out = client.pollTransmit(MAX)) server.handleData(now, out)
    for (let ev = server.pollEvent(); ev !== undefined; ev = server.pollEvent()) {
      if (ev.type === 'stream-inbound') server.accept(ev.id)
      else if (ev.type === 'stream-data') {
        received += ev.data.length
        server.consume(ev.id, ev.data.length, now)
      }
    }
    for (let out = server.pollTransmit(MAX); out !== undefined; out = server.pollTransmit(MAX)) client.handleData(now, out)
    while (client.pollEvent() !== undefined);
    now++
  }
  const secs = (performance.now() - start) / 1000
  return TOTAL / 1e6 / secs
}

const cases: [string, number, number, number?][] = [
  ['frame 16 KiB, write 64 KiB', 16 * 1024, 64 * 1024],
  ['frame 16 KiB, write 1 MiB', 16 * 1024, 1024 * 1024],
  ['frame 65507, write 64 KiB', 65507, 64 * 1024],
  ['frame 65507, write 65507', 65507, 65507],
  ['frame 65507, write 1 MiB', 65507, 1024 * 1024],
  ['frame 65507, write 1 MiB, 8 streams', 65507, 1024 * 1024, 8],
]
run(65507, 1024 * 1024) // warm-up
for (const [name, frame, write, streams] of cases) {
  const best = Math.max(run(frame, write, streams), run(frame, write, streams))
  console.log(`${name.padEnd(40)} ${best.toFixed(0).padStart(6)} MB/s`)
}
