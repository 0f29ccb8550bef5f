/**
 * The Prometheus scrape endpoint (Node only): GET `/metrics` and `/debug/metrics/prometheus` (Kubo's
 * path, the one go-libp2p's dashboards README uses) answer the text format 0.0.4; every other path
 * is 404, every other method 405. Used by `weft node --metrics <ip:port>`; embedders can call it too:
 *
 *   const server = await serveMetrics('127.0.0.1:8888', () => node.metrics!.exposition())
 *
 * Bounded (spec/metrics.md, Limits): request bodies are never read (the connection is closed after
 * each answer), headers are capped, slow requests and idle sockets time out, and concurrent sockets
 * are capped.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
export const METRICS_PATHS = ['/metrics', '/debug/metrics/prometheus'] as const

/** Options of the Prometheus HTTP endpoint (`metrics: { listen }`, `weft node --metrics`). */
export interface MetricsServerOptions {
  /** Whole request (headers) deadline in ms, default 5 000. Stops: slowloris on the metrics port. */
  requestTimeout?: number
  /** Idle socket timeout in ms, default 10 000. Stops: scrapers (or anyone) parking sockets. */
  socketTimeout?: number
  /** Concurrent sockets, default 16. Stops: a socket flood exhausting file descriptors through this port. */
  maxConnections?: number
  /** Request header bytes, default 8 192. Stops: memory held by huge headers. */
  maxHeaderSize?: number
}

/** An HTTP server exposing the node's metrics in the Prometheus text format (`serveMetrics`). */
export interface MetricsServer {
  /** The bound address (port 0 resolved). */
  readonly host: string
  /** The bound port (port 0 resolved). */
  readonly port: number
  /** `http://host:port/metrics` */
  readonly url: string
  /** Stop the server; resolves once it is closed. */
  close(): Promise<void>
}

/** `ip:port` or `[ipv6]:port`; RangeError otherwise. */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || port > 65535) throw new RangeError(`not an ip:port: ${JSON.stringify(text)} (e.g. 127.0.0.1:8888 or [::1]:8888)`)
  return { host: m[1] ?? m[2]!, port }
}

/** Listen on `listen` (`ip:port`, port 0 picks one) and answer scrapes with `render()`. */
export async function serveMetrics(listen: string | { host: string; port: number }, render: () => string, options: MetricsServerOptions = {}): Promise<MetricsServer> {
  const { host, port } = typeof listen === 'string' ? parseHostPort(listen) : listen
  const requestTimeout = options.requestTimeout ?? 5_000
  const server: Server = createServer({
    maxHeaderSize: options.maxHeaderSize ?? 8192,
    requestTimeout,
    headersTimeout: requestTimeout,
    // Node checks the two deadlines above only this often (default 30 s).
    connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(requestTimeout / 4))),
  }, (req, res) => answer(req, res, render))
  server.maxConnections = options.maxConnections ?? 16
  server.keepAliveTimeout = 1_000
  server.setTimeout(options.socketTimeout ?? 10_000, (socket) => socket.destroy())
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const a = server.address() as AddressInfo
  const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address
  return {
    host: a.address,
    port: a.port,
    url: `http://${shown}:${a.port}/metrics`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    }),
  }
}

function answer(req: IncomingMessage, res: ServerResponse, render: () => string): void {
  // Never read a body: answer, then close the connection so unread bytes cannot pile up.
  res.setHeader('Connection', 'close')
  const path = (req.url ?? '').split('?')[0]!
  if (!(METRICS_PATHS as readonly string[]).includes(path)) {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found: the metrics are at /metrics and /debug/metrics/prometheus\n')
    return
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'Allow': 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n')
    return
  }
  let body: string
  try {
    body = render()
  } catch (e) {
    res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`metrics failed: ${e instanceof Error ? e.message : String(e)}\n`)
    return
  }
  res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body) })
  res.end(req.method === 'HEAD' ? undefined : body)
}
