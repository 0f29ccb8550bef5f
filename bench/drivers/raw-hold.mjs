// The floor of the memory benchmark: a bare node:net server holding idle sockets, and clients that
// open them. Each client socket writes 1 KiB and the server answers 1 KiB (so both have read and
// written once, as a handshake does), then the socket sits idle. No libp2p at all: what Node itself
// costs per idle socket (Socket object, stream state, TCPWrap, libuv handle, kernel buffers).
//   node --expose-gc bench/drivers/raw-hold.mjs server
//     stdout {"addr": "/ip4/127.0.0.1/tcp/PORT"}, then per stdin line like weft-hold-server.mjs:
//     stats -> {"connections"}; measure -> + {"heapUsed","rss","external","arrayBuffers"} after 3 GCs
//   node bench/drivers/raw-hold.mjs clients <port> <count>
//     stdout {"ready": n} once every socket got its answer; holds them until stdin closes
import net from 'node:net'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'

const [mode, a, b] = process.argv.slice(2)
const KIB = Buffer.alloc(1024, 0x61)

if (mode === 'server') {
  const socks = new Set()
  const server = net.createServer({ noDelay: true }, (s) => {
    socks.add(s)
    let answered = false
    s.on('data', () => { if (!answered) { answered = true; s.write(KIB) } })
    s.on('error', () => {})
    s.on('close', () => socks.delete(s))
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  console.log(JSON.stringify({ addr: `/ip4/127.0.0.1/tcp/${server.address().port}` }))
  const rssNow = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = line.trim()
    if (cmd === 'stats') console.log(JSON.stringify({ connections: socks.size }))
    else if (cmd === 'measure') {
      for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)) }
      const m = process.memoryUsage()
      console.log(JSON.stringify({ connections: socks.size, heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: rssNow(), external: m.external, arrayBuffers: m.arrayBuffers }))
    }
  }
  process.exit(0)
} else if (mode === 'clients') {
  const port = Number(a)
  const count = Number(b)
  const held = []
  let next = 0
  const one = () => new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => s.write(KIB))
    s.once('data', () => resolve(true))
    s.on('error', () => resolve(false))
    held.push(s)
  })
  const worker = async () => { while (next < count) { next++; await one() } }
  await Promise.all(Array.from({ length: 32 }, worker))
  console.log(JSON.stringify({ ready: held.filter((s) => !s.destroyed).length }))
  for await (const _ of createInterface({ input: process.stdin })) { /* hold */ }
  process.exit(0)
}
