/**
 * The resource manager's families, go-libp2p's `libp2p_rcmgr_*` (p2p/host/resource-manager/stats.go),
 * read at scrape time from `ResourceSnapshot` (the resource manager, src/swarm/resources.ts, provides
 * `snapshot()` returning exactly this shape).
 *
 * go updates these on every reservation; weft reads the current usage when scraped, which gives the
 * same gauges. go's per-peer histograms (`peer_connections` with `previous_peer_connections`, and the
 * same for streams and memory) are kept the way go keeps them: when a peer's count changes from `a`
 * to `b`, `a` is observed in `previous_*` (if not 0) and `b` in the current one (if not 0), so
 * `peer_* - previous_peer_*` is the distribution of the current per-peer counts (what go's dashboard
 * plots). weft compares against the previous scrape instead of every event: same difference.
 */
import type { Gauge, Histogram, Registry } from './registry.js'

/** Usage of one scope. */
export interface ScopeUsage {
  readonly connsInbound: number
  readonly connsOutbound: number
  readonly streamsInbound: number
  readonly streamsOutbound: number
  /** Bytes reserved. */
  readonly memory: number
}

/** The resource manager's scope kinds (src/core/errors.ts ResourceScope). */
export type RcmgrScope = 'system' | 'transient' | 'peer' | 'protocol' | 'service' | 'protocol-peer' | 'connection' | 'stream'

/** The limits of one scope (`Infinity`: unlimited). */
export interface RcmgrLimits {
  /** Connections, both directions. */
  readonly conns: number
  /** Inbound connections. */
  readonly connsInbound: number
  /** Outbound connections. */
  readonly connsOutbound: number
  /** Streams, both directions. */
  readonly streams: number
  /** Inbound streams. */
  readonly streamsInbound: number
  /** Outbound streams. */
  readonly streamsOutbound: number
  /** Bytes reserved. */
  readonly memory: number
}

/**
 * What the collector reads: `ResourceManager.snapshot()` (src/swarm/resources.ts) returns it. No
 * peer ids: `peers` and `connections` are anonymous usages; names are protocol ids the node handles
 * or opens and service names.
 */
export interface ResourceSnapshot {
  /** system, transient, every protocol, every service (`name`: the protocol or the service). */
  readonly scopes: ReadonlyArray<{ readonly scope: RcmgrScope; readonly name?: string; readonly usage: ScopeUsage; readonly limits: RcmgrLimits }>
  /** One entry per peer with usage (go's libp2p_rcmgr_peer_* histograms). */
  readonly peers: readonly ScopeUsage[]
  /** One entry per open connection (go's libp2p_rcmgr_conn_memory). */
  readonly connections: readonly ScopeUsage[]
  /** Reservations refused since start, by the kind of scope that refused, resource and direction. */
  readonly blocked: ReadonlyArray<{ readonly scope: RcmgrScope; readonly resource: 'connection' | 'stream' | 'memory'; readonly direction: 'inbound' | 'outbound'; readonly count: number }>
}

/** go: 1 to 10, then 16 to 256 doubling. */
export const PEER_COUNT_BUCKETS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 32, 64, 128, 256]
/** go's memDistribution: 1 KiB to 4 GiB. */
export const MEMORY_BUCKETS = [1 << 10, 4 << 10, 32 << 10, 1 << 20, 32 << 20, 256 << 20, 512 << 20, 1 << 30, 2 * 2 ** 30, 4 * 2 ** 30]

/** go's scope names in `blocked_resources{scope}`: the scope name up to its first ':' or '-'. */
const GO_SCOPE: Record<RcmgrScope, string> = {
  'system': 'system', 'transient': 'transient', 'peer': 'peer', 'protocol': 'protocol', 'service': 'service',
  'protocol-peer': 'protocol', 'connection': 'conn', 'stream': 'stream',
}
const LIMITS: ReadonlyArray<[keyof RcmgrLimits, string]> = [
  ['memory', 'memory'], ['conns', 'conns'], ['connsInbound', 'conns_inbound'], ['connsOutbound', 'conns_outbound'],
  ['streams', 'streams'], ['streamsInbound', 'streams_inbound'], ['streamsOutbound', 'streams_outbound'],
]

/** A histogram pair kept as go keeps `peer_*` / `previous_peer_*` (see the header). */
interface Pair { now: Histogram; prev: Histogram; labels: Record<string, string>; pick: (u: ScopeUsage) => number; last: Map<number, number> }

/**
 * The resource manager families (go-libp2p's `libp2p_rcmgr_*`): connections, streams and memory per scope, and what was blocked; read when the registry is collected.
 */
export class RcmgrMetrics {
  readonly #source: () => ResourceSnapshot | undefined
  readonly #conns: Gauge
  readonly #streams: Gauge
  readonly #memory: Gauge
  readonly #blocked: Gauge
  readonly #limit: Gauge
  readonly #peerPairs: Pair[]
  readonly #connPairs: Pair[]

  constructor(r: Registry, source: () => ResourceSnapshot | undefined) {
    this.#source = source
    const dir = ['inbound', 'outbound']
    this.#conns = r.gauge({ name: 'libp2p_rcmgr_connections', help: 'Number of Connections', labels: ['dir', 'scope'], values: { dir, scope: ['system', 'transient'] } })
    const h = (name: string, help: string, labels: string[], buckets: number[]): Histogram =>
      r.histogram({ name, help, labels, ...(labels.length > 0 ? { values: { dir } } : {}), buckets })
    const peerConns = h('libp2p_rcmgr_peer_connections', 'Number of connections this peer has', ['dir'], PEER_COUNT_BUCKETS)
    const prevPeerConns = h('libp2p_rcmgr_previous_peer_connections', 'Number of connections this peer previously had. This is used to get the current connection number per peer histogram by subtracting this from the peer_connections histogram', ['dir'], PEER_COUNT_BUCKETS)
    // Protocol ids are the node's own (handled or opened) protocols; the cap bounds them anyway.
    this.#streams = r.gauge({ name: 'libp2p_rcmgr_streams', help: 'Number of Streams', labels: ['dir', 'scope', 'protocol'], values: { dir, scope: ['system', 'transient', 'protocol'] }, maxSeries: 512 })
    const peerStreams = h('libp2p_rcmgr_peer_streams', 'Number of streams this peer has', ['dir'], PEER_COUNT_BUCKETS)
    const prevPeerStreams = h('libp2p_rcmgr_previous_peer_streams', 'Number of streams this peer has', ['dir'], PEER_COUNT_BUCKETS)
    this.#memory = r.gauge({
      name: 'libp2p_rcmgr_memory', help: 'Amount of memory reserved as reported to the Resource Manager', labels: ['scope', 'protocol'],
      values: { scope: ['system', 'transient', 'protocol', 'service'] }, maxSeries: 512,
    })
    const peerMemory = h('libp2p_rcmgr_peer_memory', 'How many peers have reserved this bucket of memory, as reported to the Resource Manager', [], MEMORY_BUCKETS)
    const prevPeerMemory = h('libp2p_rcmgr_previous_peer_memory', 'How many peers have previously reserved this bucket of memory, as reported to the Resource Manager', [], MEMORY_BUCKETS)
    const connMemory = h('libp2p_rcmgr_conn_memory', 'How many conns have reserved this bucket of memory, as reported to the Resource Manager', [], MEMORY_BUCKETS)
    const prevConnMemory = h('libp2p_rcmgr_previous_conn_memory', 'How many conns have previously reserved this bucket of memory, as reported to the Resource Manager', [], MEMORY_BUCKETS)
    this.#blocked = r.gauge({
      name: 'libp2p_rcmgr_blocked_resources', help: 'Number of blocked resources', labels: ['dir', 'scope', 'resource'],
      values: { dir: ['inbound', 'outbound', ''], scope: [...new Set(Object.values(GO_SCOPE))], resource: ['connection', 'stream', 'memory', 'fd'] },
    })
    this.#limit = r.gauge({
      name: 'libp2p_rcmgr_limit', help: 'Resource manager limits', labels: ['scope', 'resource'],
      values: { scope: ['system', 'transient'], resource: ['memory', 'fd', ...LIMITS.map(([, l]) => l)] },
    })
    const pair = (now: Histogram, prev: Histogram, labels: Record<string, string>, pick: (u: ScopeUsage) => number): Pair => ({ now, prev, labels, pick, last: new Map() })
    this.#peerPairs = [
      pair(peerConns, prevPeerConns, { dir: 'inbound' }, (u) => u.connsInbound),
      pair(peerConns, prevPeerConns, { dir: 'outbound' }, (u) => u.connsOutbound),
      pair(peerStreams, prevPeerStreams, { dir: 'inbound' }, (u) => u.streamsInbound),
      pair(peerStreams, prevPeerStreams, { dir: 'outbound' }, (u) => u.streamsOutbound),
      pair(peerMemory, prevPeerMemory, {}, (u) => u.memory),
    ]
    this.#connPairs = [pair(connMemory, prevConnMemory, {}, (u) => u.memory)]
    // go creates these series (both directions) when it loads; its dashboard plots peer_* - previous_peer_*,
    // which is empty while either side has no series.
    for (const p of [...this.#peerPairs, ...this.#connPairs]) { p.now.touch(p.labels); p.prev.touch(p.labels) }
    r.onCollect(() => this.collect())
  }

  /** Rebuild the gauges from a fresh snapshot and bring the histogram pairs up to date. */
  collect(): void {
    const s = this.#source()
    if (s === undefined) return
    for (const g of [this.#conns, this.#streams, this.#memory, this.#blocked, this.#limit]) g.clear()
    for (const { scope, name, usage: u, limits } of s.scopes) {
      if (scope === 'system' || scope === 'transient') {
        this.#conns.set({ dir: 'inbound', scope }, u.connsInbound)
        this.#conns.set({ dir: 'outbound', scope }, u.connsOutbound)
        this.#streams.set({ dir: 'inbound', scope }, u.streamsInbound)
        this.#streams.set({ dir: 'outbound', scope }, u.streamsOutbound)
        this.#memory.set({ scope }, u.memory)
        for (const [k, resource] of LIMITS) this.#limit.set({ scope, resource }, limits[k])
      } else if (scope === 'protocol' && name !== undefined) {
        this.#streams.set({ dir: 'inbound', scope, protocol: name }, u.streamsInbound)
        this.#streams.set({ dir: 'outbound', scope, protocol: name }, u.streamsOutbound)
        this.#memory.set({ scope, protocol: name }, u.memory)
      } else if (scope === 'service' && name !== undefined) {
        // go reports no service scope here; its dashboard asks for one: the service name in `protocol`.
        this.#memory.set({ scope, protocol: name }, u.memory)
      }
    }
    for (const b of s.blocked) this.#blocked.inc({ dir: b.resource === 'memory' ? '' : b.direction, scope: GO_SCOPE[b.scope] ?? 'other', resource: b.resource }, b.count)
    for (const p of this.#peerPairs) update(p, s.peers)
    for (const p of this.#connPairs) update(p, s.connections)
  }
}

/**
 * go observes a count's old value in `previous_*` and its new value in the current histogram at
 * each change. Comparing the multiset of values with the previous scrape's does the same without
 * knowing which peer had which: the values that appeared go to the current histogram, the values
 * that went away to `previous_*` (zeros are never observed, as in go).
 */
function update(p: Pair, usages: readonly ScopeUsage[]): void {
  const next = new Map<number, number>()
  for (const u of usages) {
    const v = p.pick(u)
    if (v !== 0) next.set(v, (next.get(v) ?? 0) + 1)
  }
  for (const [v, n] of next) for (let i = (p.last.get(v) ?? 0); i < n; i++) p.now.observe(p.labels, v)
  for (const [v, n] of p.last) for (let i = (next.get(v) ?? 0); i < n; i++) p.prev.observe(p.labels, v)
  p.last = next
}
