// throughput and streams: the /perf/1.0.0 exchange between two processes on loopback.
// throughput: one stream through each implementation's perf CLI (server process + client process),
//   weft<->weft, go<->go, rust<->rust, weft->go, weft->rust (client->server), TCP and WebSocket, and a
//   raw node:net socket (no libp2p at all) as the ceiling; QUIC v1 (issue 17: the perf servers listen
//   on UDP at their TCP port number) for the pairs whose perf CLIs both have it (PERF_QUIC), the
//   others printed as n/a.
// streams: 16 concurrent streams over one connection: `weft perf --streams 16` (since issue 15; before,
//   bench/drivers/weft-streams.mjs from dist/, a different module form than the CLI bundle the
//   one-stream rows use), against the weft, go and rust servers, each round also running
//   `--streams 1` against the same server, so "16 streams >= 1 stream" compares like with like.
//   go<->go and rust<->rust run the same way: our interop peers' perf CLIs take `--streams N` too
//   (interop/go/perf.go, interop/rust/src/main.rs), so weft's 16/1 ratio has theirs beside it.
//   A "16 / 1" row per pair is the median of the per-round ratios (16 and 1 run back to back).
// TLS over TCP (issue 17): the same pairs with `--security tls` on both sides (libp2p TLS,
//   /tls/1.0.0; weft's own TLS 1.3, go's crypto/tls, rustls), against servers started with it: the
//   transport column says tcp+tls.
// Figure: (upload + download bytes) / the client's final timeSeconds, which includes the dial (the
// perf protocol runs the upload, then the download, on one stream). 1 MB = 10^6 bytes.
import { GIB, MIB, perfCli, row, missing, runPerfClient, startPerfServer } from './lib.mjs'

export const title = 'throughput: one stream, upload then download, two processes (MB/s)'
export const streamsTitle = 'streams: 16 concurrent streams on one connection, two processes (MB/s)'

async function servers(impls, extra = []) {
  const s = {}
  for (const impl of impls) {
    s[impl] = perfCli(impl) === null ? null : await startPerfServer(impl, undefined, extra)
  }
  return s
}

const PAIRS = [['weft', 'weft'], ['go', 'go'], ['rust', 'rust'], ['weft', 'go'], ['weft', 'rust']]
/** Whose perf CLI speaks `--transport quic-v1` (weft: spec/quic-endpoint.md, go: quic-go, rust: quinn). */
const PERF_QUIC = { weft: true, go: true, rust: true }
const TRANSPORTS = ['tcp', 'tcp+tls', 'ws', 'quic-v1']
/** The client and server flags of a TRANSPORTS entry: tcp+tls is TCP with `--security tls`. */
const TLS_FLAGS = ['--security', 'tls']
/** Whether pair [c, s] runs over `transport`. */
const runsOver = (transport, c, s) => transport !== 'quic-v1' || (PERF_QUIC[c] && PERF_QUIC[s])
const label = (c, s) => (c === s ? c : `${c}->${s}`)

/** `transports`: a subset of TRANSPORTS to measure (default all; bench/run.mjs passes none). */
export async function run({ quick, runs, log, transports = TRANSPORTS }) {
  const bytes = quick ? 16 * MIB : GIB
  const n = quick ? 1 : runs
  const srv = await servers(['weft', 'go', 'rust', 'raw'])
  const srvTls = transports.includes('tcp+tls') ? await servers(['weft', 'go', 'rust'], TLS_FLAGS) : {}
  const acc = new Map()
  const add = (impl, transport, v) => { const k = `${impl}|${transport}`; if (!acc.has(k)) acc.set(k, []); acc.get(k).push(v) }
  try {
    for (let i = 0; i < n; i++) {
      for (const transport of transports) {
        for (const [c, s] of PAIRS) { // alternating implementations within each round
          const tls = transport === 'tcp+tls'
          const server = tls ? srvTls[s] : srv[s]
          if (server == null || perfCli(c) === null || !runsOver(transport, c, s)) continue
          const r = await runPerfClient(c, server.port, tls ? 'tcp' : transport, bytes, bytes, 600_000, tls ? TLS_FLAGS : [])
          const mbps = (r.uploadBytes + r.downloadBytes) / 1e6 / r.timeSeconds
          log(`  round ${i + 1} ${transport} ${label(c, s)}: ${mbps.toFixed(0)} MB/s`)
          add(label(c, s), transport, mbps)
        }
        if (transport === 'tcp') {
          const r = await runPerfClient('raw', srv.raw.port, 'tcp', bytes, bytes)
          add('raw node:net', 'tcp', (r.uploadBytes + r.downloadBytes) / 1e6 / r.timeSeconds)
        }
      }
    }
  } finally {
    for (const s of [...Object.values(srv), ...Object.values(srvTls)]) s?.stop()
  }
  const rows = []
  for (const transport of transports) {
    for (const [c, s] of PAIRS) {
      const v = acc.get(`${label(c, s)}|${transport}`)
      const why = runsOver(transport, c, s) ? 'peer binary unavailable' : 'n/a: its perf CLI has no QUIC'
      rows.push(v ? row('throughput', label(c, s), transport, `1 stream, ${bytes / MIB} MiB up + down`, 'MB/s', v) : missing('throughput', label(c, s), transport, `1 stream, ${bytes / MIB} MiB up + down`, 'MB/s', why))
    }
  }
  if (transports.includes('tcp')) rows.push(row('throughput', 'raw node:net', 'tcp', `1 stream, ${bytes / MIB} MiB up + down`, 'MB/s', acc.get('raw node:net|tcp')))
  return rows
}

export async function runStreams({ quick, runs, log }) {
  const bytes = quick ? 16 * MIB : GIB
  const n = quick ? 1 : runs
  const srv = await servers(['weft', 'go', 'rust'])
  const acc = new Map()
  const add = (k, v) => { if (!acc.has(k)) acc.set(k, []); acc.get(k).push(v) }
  const pairs = PAIRS.filter(([c, s]) => srv[s] != null && perfCli(c) !== null)
  try {
    for (let i = 0; i < n; i++) {
      for (const transport of ['tcp', 'ws']) {
        for (const [c, s] of pairs) {
          const mbps = {}
          for (const streams of [16, 1]) {
            const r = await runPerfClient(c, srv[s].port, transport, bytes, bytes, 600_000, ['--streams', String(streams)])
            mbps[streams] = (r.uploadBytes + r.downloadBytes) / 1e6 / r.timeSeconds
            log(`  round ${i + 1} ${transport} ${label(c, s)} x${streams}: ${mbps[streams].toFixed(0)} MB/s`)
            add(`${label(c, s)}|${transport}|${streams}`, mbps[streams])
          }
          add(`${label(c, s)}|${transport}|ratio`, mbps[16] / mbps[1])
        }
      }
    }
  } finally {
    for (const s of Object.values(srv)) s?.stop()
  }
  const rows = []
  for (const transport of ['tcp', 'ws']) {
    for (const k of [16, 1, 'ratio']) {
      const metric = k === 'ratio' ? '16 / 1 (median of per-round ratios)'
        : `${k} stream${k > 1 ? 's' : ''} (--streams), ${bytes / MIB} MiB up + down in total`
      for (const [c, s] of PAIRS) {
        const v = acc.get(`${label(c, s)}|${transport}|${k}`)
        rows.push(v ? row('streams', label(c, s), transport, metric, k === 'ratio' ? 'x' : 'MB/s', v) : missing('streams', label(c, s), transport, metric, k === 'ratio' ? 'x' : 'MB/s', 'peer binary unavailable'))
      }
    }
  }
  return rows
}
