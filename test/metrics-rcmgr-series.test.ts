/**
 * go-libp2p creates its rcmgr per-peer histogram series for both directions when the package loads
 * (`peerConns.With(dir)` etc. in p2p/host/resource-manager/stats.go), so they are exported, empty,
 * before the first observation. go's resource-manager dashboard plots `peer_*_bucket -
 * previous_peer_*_bucket`: a binary operation that returns nothing while one side has no series.
 * weft created `previous_peer_*` only when a count first went down, so the panels stayed empty
 * until a peer disconnected (found by the metrics-parity interop case, interop/limits.mjs).
 */
import { expect, test } from 'vitest'
import { Registry, exposition, RcmgrMetrics, type ResourceSnapshot } from '../src/metrics/index.js'
import { parsePrometheus, sumOf } from './helpers/prometheus.js'

const usage = (ci: number, co = 0) => ({ connsInbound: ci, connsOutbound: co, streamsInbound: 0, streamsOutbound: 0, memory: 0 })
const limits = { conns: 512, connsInbound: 256, connsOutbound: 512, streams: 4096, streamsInbound: 2048, streamsOutbound: 4096, memory: Infinity }

test('rcmgr: peer_* and previous_peer_* series exist for both directions before any observation, as in go', () => {
  const r = new Registry()
  const snap: ResourceSnapshot = {
    scopes: [{ scope: 'system', usage: usage(0, 2), limits }, { scope: 'transient', usage: usage(0), limits }],
    peers: [usage(0, 1), usage(0, 1)], connections: [], blocked: [],
  }
  new RcmgrMetrics(r, () => snap)
  const f = parsePrometheus(exposition(r))
  for (const name of ['libp2p_rcmgr_peer_connections', 'libp2p_rcmgr_previous_peer_connections', 'libp2p_rcmgr_peer_streams', 'libp2p_rcmgr_previous_peer_streams']) {
    for (const dir of ['inbound', 'outbound']) {
      expect(f.get(name)?.samples.some((s) => s.name === `${name}_count` && s.labels['dir'] === dir), `${name}{dir="${dir}"}`).toBe(true)
    }
  }
  // The dashboard's difference, per bucket: 2 peers with 1 outbound connection each.
  const current = sumOf(f, 'libp2p_rcmgr_peer_connections', { dir: 'outbound', le: '1' }, 'libp2p_rcmgr_peer_connections_bucket') -
    sumOf(f, 'libp2p_rcmgr_previous_peer_connections', { dir: 'outbound', le: '1' }, 'libp2p_rcmgr_previous_peer_connections_bucket')
  expect(current).toBe(2)
  expect(sumOf(f, 'libp2p_rcmgr_previous_peer_connections', { dir: 'outbound' }, 'libp2p_rcmgr_previous_peer_connections_count')).toBe(0)
})
