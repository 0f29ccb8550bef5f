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
export interface ResourceUsage {
  readonly connsInbound: number
  readonly connsOutbound: number
  readonly streamsInbound: number
  readonly streamsOutbound: number
  /** Bytes reserved. */
  readonly memory: number
  /** File descriptors (one per transport connection); optional. */
  readonly fds?: number
}

/** Scope kinds as go names them in `libp2p_rcmgr_blocked_resources{scope}`. */
export type ResourceScopeKind = 'system' | 'transient' | 'service' | 'protocol' | 'peer' | 'conn' | 'stream'
export type ResourceKind = 'connection' | 'stream' | 'memory' | 'fd'
export type LimitResource = 'memory' | 'fd' | 'conns' | 'conns_inbound' | 'conns_outbound' | 'streams' | 'streams_inbound' | 'streams_outbound'

/**
 * What the resource manager reports; `snapshot()` of src/swarm/resources.ts returns it.
 * Peer ids and addresses never become label values: `peers[].key` only matches a peer with itself
 * across scrapes, and protocol ids are the node's own handled protocols.
 */
export interface ResourceSnapshot {
  readonly system: ResourceUsage
  readonly transient: ResourceUsage
  /** One entry per protocol scope (protocols this node handles or opened: a closed set). */
  readonly protocols: ReadonlyArray<{ readonly protocol: string; readonly streamsInbound: number; readonly streamsOutbound: number; readonly memory: number }>
  /** One entry per peer with anything reserved; `key`: any stable text for the peer (its id). */
  readonly peers: ReadonlyArray<ResourceUsage & { readonly key: string }>
  /**
   * Reservations refused since start (cumulative), by the kind of scope that refused, the resource
   * and the direction (`''` for memory, which has none).
   */
  readonly blocked: ReadonlyArray<{ readonly scope: ResourceScopeKind; readonly resource: ResourceKind; readonly dir: 'inbound' | 'outbound' | ''; readonly count: number }>
  /** The system and transient limits (go reports these two scopes). */
  readonly limits: ReadonlyArray<{ readonly scope: 'system' | 'transient'; readonly resource: LimitResource; readonly value: number }>
}

/** go: 1 to 10, then 16 to 256 doubling. */
export const PEER_COUNT_BUCKETS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 32, 64, 128, 256]
/** go's memDistribution: 1 KiB to 4 GiB. */
export const MEMORY_BUCKETS = [1 << 10, 4 << 10, 32 << 10, 1 << 20, 32 << 20, 256 << 20, 512 << 20, 1 << 30, 2 * 2 ** 30, 4 * 2 ** 30]

const SCOPE_KINDS = ['system', 'transient', 'service', 'protocol', 'peer', 'conn', 'stream']

type PeerCounts = [connsIn: number, connsOut: number, streamsIn: number, streamsOut: number, memory: number]

export class RcmgrMetrics {
  readonly #source: () => ResourceSnapshot | undefined
  readonly #conns: Gauge
  readonly #streams: Gauge
  readonly #memory: Gauge
  readonly #fds: Gauge
  readonly #blocked: Gauge
  readonly #limit: Gauge
  readonly #peer: { conns: Histogram; prevConns: Histogram; streams: Histogram; prevStreams: Histogram; memory: Histogram; prevMemory: Histogram }
  /** Per-peer counts at the previous scrape (bounded by the resource manager's own peer bound). */
  #last = new Map<string, PeerCounts>()

  constructor(r: Registry, source: () => ResourceSnapshot | undefined) {
    this.#source = source
    const dir = ['inbound', 'outbound']
    this.#conns = r.gauge({ name: 'libp2p_rcmgr_connections', help: 'Number of Connections', labels: ['dir', 'scope'], values: { dir, scope: ['system', 'transient'] } })
    this.#peer = {
      conns: r.histogram({ name: 'libp2p_rcmgr_peer_connections', help: 'Number of connections this peer has', labels: ['dir'], values: { dir }, buckets: PEER_COUNT_BUCKETS }),
      prevConns: r.histogram({
        name: 'libp2p_rcmgr_previous_peer_connections', help: 'Number of connections this peer previously had. This is used to get the current connection number per peer histogram by subtracting this from the peer_connections histogram',
        labels: ['dir'], values: { dir }, buckets: PEER_COUNT_BUCKETS,
      }),
      streams: r.histogram({ name: 'libp2p_rcmgr_peer_streams', help: 'Number of streams this peer has', labels: ['dir'], values: { dir }, buckets: PEER_COUNT_BUCKETS }),
      prevStreams: r.histogram({ name: 'libp2p_rcmgr_previous_peer_streams', help: 'Number of streams this peer has', labels: ['dir'], values: { dir }, buckets: PEER_COUNT_BUCKETS }),
      memory: r.histogram({ name: 'libp2p_rcmgr_peer_memory', help: 'How many peers have reserved this bucket of memory, as reported to the Resource Manager', buckets: MEMORY_BUCKETS }),
      prevMemory: r.histogram({
        name: 'libp2p_rcmgr_previous_peer_memory', help: 'How many peers have previously reserved this bucket of memory, as reported to the Resource Manager', buckets: MEMORY_BUCKETS,
      }),
    }
    // Protocol ids are the node's own (handled or opened) protocols; the cap bounds them anyway.
    this.#streams = r.gauge({ name: 'libp2p_rcmgr_streams', help: 'Number of Streams', labels: ['dir', 'scope', 'protocol'], values: { dir, scope: ['system', 'transient', 'protocol'] }, maxSeries: 512 })
    this.#memory = r.gauge({ name: 'libp2p_rcmgr_memory', help: 'Amount of memory reserved as reported to the Resource Manager', labels: ['scope', 'protocol'], values: { scope: ['system', 'transient', 'protocol'] } })
    this.#fds = r.gauge({ name: 'libp2p_rcmgr_fds', help: 'Number of file descriptors reserved as reported to the Resource Manager', labels: ['scope'], values: { scope: ['system', 'transient'] } })
    this.#blocked = r.gauge({
      name: 'libp2p_rcmgr_blocked_resources', help: 'Number of blocked resources', labels: ['dir', 'scope', 'resource'],
      values: { dir: ['inbound', 'outbound', ''], scope: SCOPE_KINDS, resource: ['connection', 'stream', 'memory', 'fd'] },
    })
    this.#limit = r.gauge({
      name: 'libp2p_rcmgr_limit', help: 'Resource manager limits', labels: ['scope', 'resource'],
      values: { scope: ['system', 'transient'], resource: ['memory', 'fd', 'conns', 'conns_inbound', 'conns_outbound', 'streams', 'streams_inbound', 'streams_outbound'] },
    })
    r.onCollect(() => this.collect())
  }

  /** Rebuild the gauges from a fresh snapshot and bring the per-peer histograms up to date. */
  collect(): void {
    const s = this.#source()
    if (s === undefined) return
    for (const g of [this.#conns, this.#streams, this.#memory, this.#fds, this.#blocked, this.#limit]) g.clear()
    for (const scope of ['system', 'transient'] as const) {
      const u = s[scope]
      this.#conns.set({ dir: 'inbound', scope }, u.connsInbound)
      this.#conns.set({ dir: 'outbound', scope }, u.connsOutbound)
      this.#streams.set({ dir: 'inbound', scope }, u.streamsInbound)
      this.#streams.set({ dir: 'outbound', scope }, u.streamsOutbound)
      this.#memory.set({ scope }, u.memory)
      if (u.fds !== undefined) this.#fds.set({ scope }, u.fds)
    }
    for (const p of s.protocols) {
      this.#streams.set({ dir: 'inbound', scope: 'protocol', protocol: p.protocol }, p.streamsInbound)
      this.#streams.set({ dir: 'outbound', scope: 'protocol', protocol: p.protocol }, p.streamsOutbound)
      this.#memory.set({ scope: 'protocol', protocol: p.protocol }, p.memory)
    }
    for (const b of s.blocked) this.#blocked.inc({ dir: b.dir, scope: b.scope, resource: b.resource }, b.count)
    for (const l of s.limits) this.#limit.set({ scope: l.scope, resource: l.resource }, l.value)
    this.#peers(s.peers)
  }

  #peers(peers: ResourceSnapshot['peers']): void {
    const next = new Map<string, PeerCounts>()
    for (const p of peers) {
      const counts: PeerCounts = [p.connsInbound, p.connsOutbound, p.streamsInbound, p.streamsOutbound, p.memory]
      if (counts.every((c) => c === 0)) continue
      next.set(p.key, counts)
    }
    const zero: PeerCounts = [0, 0, 0, 0, 0]
    const keys = new Set([...this.#last.keys(), ...next.keys()])
    for (const k of keys) {
      const a = this.#last.get(k) ?? zero
      const b = next.get(k) ?? zero
      this.#change(this.#peer.conns, this.#peer.prevConns, { dir: 'inbound' }, a[0], b[0])
      this.#change(this.#peer.conns, this.#peer.prevConns, { dir: 'outbound' }, a[1], b[1])
      this.#change(this.#peer.streams, this.#peer.prevStreams, { dir: 'inbound' }, a[2], b[2])
      this.#change(this.#peer.streams, this.#peer.prevStreams, { dir: 'outbound' }, a[3], b[3])
      this.#change(this.#peer.memory, this.#peer.prevMemory, {}, a[4], b[4])
    }
    this.#last = next
  }

  #change(now: Histogram, prev: Histogram, labels: Record<string, string>, a: number, b: number): void {
    if (a === b) return
    if (a !== 0) prev.observe(labels, a)
    if (b !== 0) now.observe(labels, b)
  }
}
