/**
 * The processes of test/netns-punch-port.test.ts, one per network namespace, bundled by the test with
 * esbuild. Plain node:net, no weft code: the test proves what Node 20 + libuv + Linux can do with a
 * *punch port* (a fixed local port with no listener) before weft's DCUtR builds on it.
 * Commands come on stdin, one per line; each is answered by one JSON line on stdout (`arm` answers
 * twice: at once, then with the punch result).
 *
 *   relay <ip>                     listens on <ip>:4000 and <ip>:4001. Every accepted socket gets one
 *                                  line `{"observed":"ip:port"}` (its source as seen here); on :4000 only
 *                                  after the client's first line, its name.
 *                                  prints {event:'started'}
 *     go <name> <delay> ...        writes `go <delay>` to each named :4000 socket -> {sent: n}
 *   peer <relayIp> <localIp>       prints {event:'started'}
 *     open <name> <port>           from <localIp>:<port> to relay:4000, send the name, read the observed
 *                                  address -> {ok, local, observed} or {ok:false, code}
 *     second <name> <port>         while <name>'s relay socket is open, another socket from the same
 *                                  local port to relay:4001 -> {ok, local, observed} or {ok:false, code}
 *     dup <port>                   another socket from <port> to relay:4000 (the same 4-tuple as `open`)
 *                                  -> {ok:false, code} expected
 *     listen-dial <port>           listen on <localIp>:<port>, then connect from that port to
 *                                  relay:4001 -> {ok, code}
 *     arm <name> <host> <port>     when `go <delay>` arrives on <name>'s relay socket, wait <delay> ms,
 *                                  connect from the punch port to host:port, write `hi <name>`, read the
 *                                  other side's line -> {armed}, later {name, ok, local, remote, got, ms}
 *                                  or {name, ok:false, code}
 *     abort <name>                 destroy <name>'s punch socket (still connecting) -> {name, connected}
 */
import { connect, createServer, type Socket } from 'node:net'
import { createInterface } from 'node:readline'

const out = (o: unknown): void => { process.stdout.write(`${JSON.stringify(o)}\n`) }
const RELAY_PORT = 4000
const SECOND_PORT = 4001

/** Read one `\n`-terminated line from a socket (the rest stays buffered for the next call). */
function lineReader(s: Socket): () => Promise<string> {
  let buf = ''
  const waiting: Array<(l: string) => void> = []
  const lines: string[] = []
  s.setEncoding('utf8')
  s.on('data', (d: string) => {
    buf += d
    let i: number
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i)
      buf = buf.slice(i + 1)
      const w = waiting.shift()
      if (w !== undefined) w(l)
      else lines.push(l)
    }
  })
  return () => {
    const l = lines.shift()
    return l !== undefined ? Promise.resolve(l) : new Promise((resolve) => waiting.push(resolve))
  }
}

/** Connect from localAddress:localPort; resolves with the socket or the error code. */
function dial(host: string, port: number, localAddress: string, localPort: number): Promise<Socket | string> {
  return new Promise((resolve) => {
    const s = connect({ host, port, localAddress, localPort })
    s.once('connect', () => resolve(s))
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
  })
}

function relay(ip: string): void {
  const named = new Map<string, Socket>()
  const onConn = (s: Socket, withName: boolean): void => {
    s.on('error', () => {})
    const observed = `${JSON.stringify({ observed: `${s.remoteAddress}:${s.remotePort}` })}\n`
    // On :4000 the name is registered before the answer, so a `go` after `open` always finds it.
    if (withName) void lineReader(s)().then((name) => { named.set(name, s); s.write(observed) })
    else s.write(observed)
  }
  const a = createServer((s) => onConn(s, true))
  const b = createServer((s) => onConn(s, false))
  let up = 0
  const started = (): void => { if (++up === 2) out({ event: 'started' }) }
  a.listen(RELAY_PORT, ip, started)
  b.listen(SECOND_PORT, ip, started)
  createInterface({ input: process.stdin }).on('line', (l) => {
    const [cmd, ...args] = l.trim().split(/\s+/)
    if (cmd === 'go') {
      let sent = 0
      for (let i = 0; i + 1 < args.length; i += 2) {
        const s = named.get(args[i]!)
        if (s !== undefined) { s.write(`go ${args[i + 1]}\n`); sent++ }
      }
      out({ sent })
    } else out({ error: `unknown command ${cmd}` })
  })
}

type Punch = { port: number; relay: Socket; next: () => Promise<string>; punch?: Socket; connected: boolean }

function peer(relayIp: string, localIp: string): void {
  const punches = new Map<string, Punch>()
  const commands: Record<string, (args: string[]) => Promise<void>> = {
    async open([name, port]) {
      const s = await dial(relayIp, RELAY_PORT, localIp, Number(port))
      if (typeof s === 'string') { out({ ok: false, code: s }); return }
      s.on('error', () => {})
      const next = lineReader(s)
      s.write(`${name}\n`)
      const observed = (JSON.parse(await next()) as { observed: string }).observed
      punches.set(name!, { port: Number(port), relay: s, next, connected: false })
      out({ ok: true, local: `${s.localAddress}:${s.localPort}`, observed })
    },
    async second([name]) {
      const p = punches.get(name!)!
      const s = await dial(relayIp, SECOND_PORT, localIp, p.port)
      if (typeof s === 'string') { out({ ok: false, code: s, relayOpen: !p.relay.destroyed }); return }
      const observed = (JSON.parse(await lineReader(s)()) as { observed: string }).observed
      out({ ok: true, local: `${s.localAddress}:${s.localPort}`, observed, relayOpen: !p.relay.destroyed })
      s.destroy()
    },
    async dup([port]) {
      const s = await dial(relayIp, RELAY_PORT, localIp, Number(port))
      if (typeof s === 'string') { out({ ok: false, code: s }); return }
      out({ ok: true })
      s.destroy()
    },
    async 'listen-dial'([port]) {
      const server = createServer()
      await new Promise<void>((resolve) => server.listen(Number(port), localIp, resolve))
      const s = await dial(relayIp, SECOND_PORT, localIp, Number(port))
      server.close()
      if (typeof s === 'string') { out({ ok: false, code: s }); return }
      out({ ok: true })
      s.destroy()
    },
    async arm([name, host, port]) {
      const p = punches.get(name!)!
      out({ armed: name })
      const go = await p.next()
      const delay = Number(go.split(' ')[1])
      await new Promise((resolve) => setTimeout(resolve, delay))
      const t0 = performance.now()
      const s = connect({ host: host!, port: Number(port), localAddress: localIp, localPort: p.port })
      p.punch = s
      let reported = false
      s.on('error', (e: NodeJS.ErrnoException) => {
        if (!reported) { reported = true; out({ name, ok: false, code: e.code ?? e.message }) }
      })
      s.once('connect', () => {
        p.connected = true
        const local = `${s.localAddress}:${s.localPort}`
        const remote = `${s.remoteAddress}:${s.remotePort}`
        s.write(`hi ${name}\n`)
        void lineReader(s)().then((got) => {
          if (reported) return
          reported = true
          out({ name, ok: true, local, remote, got, ms: Math.round(performance.now() - t0) })
          s.end()
        })
      })
    },
    async abort([name]) {
      const p = punches.get(name!)!
      p.punch?.destroy()
      out({ name, connected: p.connected })
    },
  }
  out({ event: 'started' })
  createInterface({ input: process.stdin }).on('line', (l) => {
    const [cmd, ...args] = l.trim().split(/\s+/)
    const f = commands[cmd!]
    if (f === undefined) out({ error: `unknown command ${cmd}` })
    else f(args).catch((e: unknown) => out({ error: String(e) }))
  })
}

const [role, ...args] = process.argv.slice(2)
if (role === 'relay') relay(args[0]!)
else if (role === 'peer') peer(args[0]!, args[1]!)
else { out({ error: `unknown role ${role}` }); process.exit(2) }
