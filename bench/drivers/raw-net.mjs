// The ceiling for the throughput benchmark: the /perf/1.0.0 exchange over a bare node:net socket on
// loopback, with no multistream, no Noise and no yamux. Same CLI as the perf tools (TCP only):
//   node bench/drivers/raw-net.mjs --run-server --server-address 127.0.0.1:PORT
//   node bench/drivers/raw-net.mjs --server-address 127.0.0.1:PORT --upload-bytes N --download-bytes N
// Wire: the client sends the download size as a u64 big-endian, then the upload bytes, then closes
// its write side; the server then sends the download bytes and closes.
import net from 'node:net'

const args = process.argv.slice(2)
const flag = (name) => { const i = args.indexOf(`--${name}`); return i < 0 ? undefined : args[i + 1] }
const [host, portText] = flag('server-address').split(/:(?=\d+$)/)
const port = Number(portText)
const CHUNK = Buffer.alloc(256 * 1024, 0x5a)

function sendBytes(sock, n, done) {
  let left = n
  const pump = () => {
    while (left > 0) {
      const c = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left)
      left -= c.length
      if (!sock.write(c)) { sock.once('drain', pump); return }
    }
    done()
  }
  pump()
}

if (args.includes('--run-server')) {
  net.createServer({ noDelay: true, allowHalfOpen: true }, (sock) => {
    let header = Buffer.alloc(0)
    let download = -1
    sock.on('data', (d) => {
      if (download >= 0) return
      header = Buffer.concat([header, d])
      if (header.length >= 8) download = Number(header.readBigUInt64BE(0))
    })
    sock.on('end', () => sendBytes(sock, Math.max(download, 0), () => sock.end()))
    sock.on('error', () => {})
  }).listen(port, host, () => console.error(`raw perf server listening on ${host}:${port}`))
} else {
  const upload = Number(flag('upload-bytes') ?? 0)
  const download = Number(flag('download-bytes') ?? 0)
  const t0 = performance.now()
  const sock = net.connect({ host, port, noDelay: true, allowHalfOpen: true }, () => {
    const h = Buffer.alloc(8)
    h.writeBigUInt64BE(BigInt(download))
    sock.write(h)
    sendBytes(sock, upload, () => sock.end())
  })
  let got = 0
  sock.on('data', (d) => { got += d.length })
  sock.on('end', () => {
    console.log(JSON.stringify({ type: 'final', timeSeconds: (performance.now() - t0) / 1000, uploadBytes: upload, downloadBytes: got }))
  })
}
