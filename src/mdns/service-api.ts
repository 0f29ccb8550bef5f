/**
 * mDNS discovery as a node service (spec/mdns.md, "Socket and node"): announce our records at start
 * and when our addresses change, query `_p2p._udp.local` at once and then on a backing-off
 * schedule, answer queries (multicast at most once a second, unicast for QU and legacy queriers),
 * turn responses into `peer:discovery` events and peer-store addresses, expire discovered peers
 * when their TTL passes (or at once on a goodbye), and say goodbye when the node stops.
 *
 * The sockets, the clock and the timers are handed in (this module draws no IO): `udpMdnsSocket()`
 * from 'weft/node' is the UDP one, and `createNode({ discovery: { mdns: true } })` uses it.
 *
 *   const node = await createNode({ discovery: { mdns: { autoDial: true } } })
 *   node.on('peer:discovery', ({ peer, addrs }) => console.log(peer.toString(), addrs.length))
 *   node.service<Mdns>('mdns').on('expired', ({ peer }) => console.log('gone', peer.toString()))
 */
import { ProtocolError } from '../core/errors.js'
import { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { Behaviour, NodeService, ServiceFactory } from '../swarm/index.js'
import { decodeDnsMessage, sameName, type DecodedDnsMessage, type DnsLimits } from './dns.js'
import { SERVICE_NAME, buildQuery, buildResponse, parseQuery, parseResponse, peerNameFromBytes, type QueryQuestions } from './message.js'
import { DiscoveredPeers, type MdnsPeerEntry } from './peers.js'
import { ipBytes, isLoopbackHost, ourAddrs, usable } from './addrs.js'
import { mdnsMetrics, type MdnsMetrics } from './metrics.js'

/** What the service needs of an open socket (src/io/mdns-socket.ts has it). */
export interface MdnsSocket {
  /** The port it is bound to (default 5353): a query from another port is a legacy one (RFC 6762 §6.7). */
  readonly port?: number
  /** To the group(s) when `to` is undefined, else unicast. */
  send(packet: Uint8Array, to?: { address: string; port: number }): void
  /** Addresses of the non-loopback interfaces (IPv4 dotted; IPv6, not link-local, when opened with ipv6). */
  interfaceIps(): string[]
  /** Join the group on interfaces that came up since (called before each scheduled query). */
  refresh?(): void
  /** Close once what was sent has left (the goodbyes). */
  close(): void
}

/**
 * What mDNS needs from the platform: UDP multicast sockets, a monotonic clock and timers (`udpMdnsSocket()` from `weft/node`).
 */
export interface MdnsSocketFactory {
  /** Join the mDNS group (IPv4, or IPv6 with `options.ipv6`) and deliver each datagram to `handlers.onPacket`. */
  open(handlers: { onPacket(data: Uint8Array, from: { address: string; port: number }): void; onError(error: Error): void }, options?: { ipv6?: boolean }): Promise<MdnsSocket>
  /** Milliseconds on a monotonic clock. */
  now(): number
  /** Call f once after ms; returns a canceller. */
  after(ms: number, f: () => void): () => void
}

/** Options of the mDNS discovery service (libp2p specs discovery/mdns.md). */
export interface MdnsOptions {
  /** The UDP sockets, clock and timers (`udpMdnsSocket()` from 'weft/node'). */
  socket: MdnsSocketFactory
  /**
   * Longest wait between queries, ms. The first query goes out at once, then after 1 s, 2 s, 4 s ...
   * (each plus up to 10 % jitter) until this. Default 60 000 (go's zeroconf cap; rust: 5 min).
   */
  interval?: number
  /** TTL of our records, seconds. Default 360 (rust's; go: 3200). */
  ttl?: number
  /** Dial every discovered peer we are not connected to. Default false (the node's discovery.autoDial policy dials below the low watermark). */
  autoDial?: boolean
  /** Also ff02::fb over IPv6 and AAAA records. Default true (go does both; rust defaults to IPv4 only). */
  ipv6?: boolean
  /** Discovered peers remembered at once, default 256. Stops a flood of fake peer ids growing memory; later peers wait for an expiry. */
  maxPeers?: number
  /** Addresses remembered per peer, default 32. Stops one peer's thousand addresses reaching the peer store and the dialer. */
  maxAddrsPerPeer?: number
  /** Largest TTL honoured, seconds, default 3600. Stops a peer that announced TTL 2^32-1 staying discovered forever after it left. */
  maxTtl?: number
  /** Unicast answers (QU and legacy queries) per second, default 16. Stops a query flood turning us into a unicast packet source. */
  maxUnicastAnswers?: number
  /**
   * The DNS-SD service queried and announced. Default `_p2p._udp.local` (the spec's); go-libp2p's
   * `NewMdnsService(host, serviceName, ...)` takes one too (`<serviceName>.local`): peers only find
   * peers of the same service, e.g. one application's nodes among others on the LAN.
   */
  serviceName?: string
  /** Codec limits (spec/mdns.md Limits). */
  limits?: Partial<DnsLimits>
}

/** Default interval between mDNS queries once the first backoff doubled up to it, in ms (60 s). */
export const DEFAULT_MDNS_INTERVAL = 60_000
/** Default TTL of our answers, in seconds (discovery/mdns.md; RFC 6762 §10). */
export const DEFAULT_MDNS_TTL = 360
/** Default most peers remembered at once. */
export const DEFAULT_MDNS_MAX_PEERS = 256
/** Default most addresses remembered per peer. */
export const DEFAULT_MDNS_MAX_ADDRS_PER_PEER = 32
/** Default cap on a received TTL, in seconds: a peer cannot make us remember it longer. */
export const DEFAULT_MDNS_MAX_TTL = 3600
/** Default most unicast answers (QU questions, RFC 6762 §5.4) sent per interval: stops us being used to flood. */
export const DEFAULT_MDNS_MAX_UNICAST_ANSWERS = 16
/** The first wait after the first query (then doubling). */
export const MDNS_FIRST_BACKOFF = 1000
/** go's zeroconf: 2 announcements, 1 s apart (RFC 6762 §8.3 asks for at least 2). */
export const MDNS_ANNOUNCEMENTS = 2
/** RFC 6762 §6: a record is multicast at most once a second. */
export const MDNS_MIN_MULTICAST_GAP = 1000
const MDNS_PORT = 5353

/** A peer found on the local link, with its addresses. */
export interface PeerDiscoveryEvent {
  peer: PeerId
  addrs: Multiaddr[]
  source: 'mdns'
}

/** `node.service<Mdns>('mdns').on('expired', ...)`: addresses of a peer that passed their TTL, or a goodbye. */
export interface MdnsExpiredEvent {
  peer: PeerId
  /** The addresses that expired. */
  addrs: Multiaddr[]
  /** The peer has no address left and was forgotten (it is discovered again by its next response). */
  gone: boolean
  /** 'ttl': not refreshed in time; 'goodbye': it sent TTL 0 (it stopped). */
  reason: 'ttl' | 'goodbye'
}

/** The events of the `Mdns` API (`peer` discoveries go to the node's `peer:discovery`). */
export interface MdnsEvents {
  expired: MdnsExpiredEvent
}

/** Counters of the mDNS service, for diagnostics. */
export interface MdnsStats {
  /** Datagrams received. */
  received: number
  /** Datagrams dropped because they did not decode (ProtocolError from the codec). */
  malformed: number
  /** Queries sent (multicast). */
  queriesSent: number
  /** Response datagrams multicast (answers, announcements, goodbyes). */
  responsesSent: number
  /** Response datagrams sent unicast (QU and legacy queries). */
  unicastSent: number
  /** Queries for us received and answered (multicast answers may be merged within a second). */
  answered: number
  /** Queries not answered because they listed our record as a known answer (RFC 6762 §7.1). */
  knownAnswers: number
  /** Unicast answers not sent because of maxUnicastAnswers. */
  unicastDropped: number
  /** Peer discoveries surfaced (a new peer, or new addresses of a known one). */
  discovered: number
  /** Peers (or addresses of peers) expired, goodbyes included. */
  expired: number
  /** Goodbyes (TTL 0) received. */
  goodbyes: number
  /** Responses about a new peer refused because maxPeers were remembered. */
  peersRefused: number
  /** Socket errors (send failures and the like). */
  socketErrors: number
  /** Auto-dials that failed. */
  dialFailures: number
}

/** What the service needs of the node (WeftNode has it). */
interface MdnsNode {
  readonly peerId: PeerId
  getMultiaddrs(): Multiaddr[]
  getConnections(peer?: PeerId): unknown[]
  dial(target: PeerId): Promise<unknown>
  readonly peerStore: { addAddrs(peer: PeerId, addrs: readonly Multiaddr[]): void }
  dispatchEvent(event: Event): boolean
}

/** `node.service<Mdns>('mdns')`. */
export class Mdns extends EventTarget {
  readonly #impl: { stats(): MdnsStats; query(): void; discovered(): MdnsPeerEntry[] }
  /** @internal */
  constructor(impl: { stats(): MdnsStats; query(): void; discovered(): MdnsPeerEntry[] }) {
    super()
    this.#impl = impl
  }
  /** The service's counters. */
  stats(): MdnsStats {
    return this.#impl.stats()
  }
  /** Send a query now (the schedule goes on). */
  query(): void {
    this.#impl.query()
  }
  /** The peers discovered and not expired, with their live addresses (rust's `discovered_nodes`). */
  discovered(): MdnsPeerEntry[] {
    return this.#impl.discovered()
  }
  /** Typed addEventListener; returns a function that removes the listener. */
  on<K extends keyof MdnsEvents>(type: K, listener: (detail: MdnsEvents[K]) => void): () => void {
    const l = (e: Event): void => listener((e as CustomEvent<MdnsEvents[K]>).detail)
    this.addEventListener(type, l)
    return () => this.removeEventListener(type, l)
  }
}

const idle: Behaviour<never> = {
  protocols: [],
  handle() {},
  handleTimeout() {},
  pollAction: () => undefined,
  pollTimeout: () => undefined,
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive whole number`)
  return v
}

/**
 * The mDNS discovery service (libp2p specs discovery/mdns.md): query `_p2p._udp.local` on the local link
 * and answer others' queries with our addresses. Usually enabled with `createNode({ discovery: { mdns: true } })` on `weft/node` (which supplies the socket).
 * @param options - the socket factory (`udpMdnsSocket()`), query interval, TTL and limits. Throws `RangeError` for a non-positive interval.
 */
export function mdns(options: MdnsOptions): ServiceFactory<Mdns> {
  const interval = options.interval ?? DEFAULT_MDNS_INTERVAL
  if (!Number.isFinite(interval) || interval <= 0) throw new RangeError('interval must be a positive number of ms')
  const ttl = options.ttl ?? DEFAULT_MDNS_TTL
  if (!Number.isInteger(ttl) || ttl <= 0 || ttl > 0xffff_ffff) throw new RangeError('ttl must be a positive whole number of seconds')
  const maxPeers = positiveInt(options.maxPeers ?? DEFAULT_MDNS_MAX_PEERS, 'maxPeers')
  const maxAddrsPerPeer = positiveInt(options.maxAddrsPerPeer ?? DEFAULT_MDNS_MAX_ADDRS_PER_PEER, 'maxAddrsPerPeer')
  const maxTtl = positiveInt(options.maxTtl ?? DEFAULT_MDNS_MAX_TTL, 'maxTtl')
  const maxUnicast = positiveInt(options.maxUnicastAnswers ?? DEFAULT_MDNS_MAX_UNICAST_ANSWERS, 'maxUnicastAnswers')
  const autoDial = options.autoDial ?? false
  const ipv6 = options.ipv6 ?? true
  const serviceName = options.serviceName ?? SERVICE_NAME
  if (!/^_[a-z0-9-]{1,62}\._(udp|tcp)\.local$/i.test(serviceName)) throw new RangeError('serviceName must look like _name._udp.local')
  const io = options.socket
  return (ctx): NodeService<Mdns> => {
    const peerName = peerNameFromBytes(ctx.random(32))
    const instance = `${peerName}.${serviceName}`
    const stats: MdnsStats = {
      received: 0, malformed: 0, queriesSent: 0, responsesSent: 0, unicastSent: 0, answered: 0, knownAnswers: 0, unicastDropped: 0,
      discovered: 0, expired: 0, goodbyes: 0, peersRefused: 0, socketErrors: 0, dialFailures: 0,
    }
    const table = new DiscoveredPeers({ maxPeers, maxAddrsPerPeer })
    let node: MdnsNode | undefined
    let metrics: MdnsMetrics | undefined
    let sock: MdnsSocket | undefined
    let stopped = false
    let opening = false
    // timers (cancellers)
    let queryTimer: (() => void) | undefined
    let answerTimer: (() => void) | undefined
    let answerMeta = false
    let announceTimer: (() => void) | undefined
    let expiryTimer: { at: number; cancel: () => void } | undefined
    let lastMulticast = -Infinity
    let announcedKey: string | undefined
    let lastAddrs: Multiaddr[] = []
    let unicastWindow = { start: -Infinity, count: 0 }

    const now = (): number => io.now()
    /** A fraction in [0, 1) from the node's random source (cores draw no Math.random). */
    const rand = (): number => {
      const b = ctx.random(4)
      return ((b[0]! << 24 >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!) / 2 ** 32
    }

    const api = new Mdns({
      stats: () => ({ ...stats }),
      query: () => sendQuery(),
      discovered: () => table.list(),
    })

    const sendQuery = (): void => {
      if (sock === undefined) return
      sock.send(buildQuery(serviceName))
      stats.queriesSent++
      metrics?.sent('query')
    }

    /** Query now-ish: after `delay` (+ up to 10 % jitter), then double the delay up to `interval`. */
    const scheduleQuery = (delay: number): void => {
      queryTimer?.()
      queryTimer = io.after(delay + Math.floor(rand() * delay * 0.1), () => {
        queryTimer = undefined
        if (sock === undefined) return
        sock.refresh?.()
        sendQuery()
        checkAddrs()
        scheduleQuery(Math.min(delay * 2, interval))
      })
    }

    const currentAddrs = (s: MdnsSocket, loopback = false): Multiaddr[] =>
      ourAddrs(node?.getMultiaddrs() ?? [], s.interfaceIps(), loopback)

    const packets = (s: MdnsSocket, o: { meta?: boolean; ttl?: number; loopback?: boolean; legacy?: { id: number; msg: DecodedDnsMessage } } = {}): Uint8Array[] => {
      if (node === undefined) return []
      const addrs = o.ttl === 0 ? lastAddrs : currentAddrs(s, o.loopback) // a goodbye names what we announced
      const ips = s.interfaceIps().map(ipBytes).filter((b): b is Uint8Array => b !== undefined).slice(0, 8)
      return buildResponse({
        serviceName,
        peerId: node.peerId, peerName, addrs, ttl: o.ttl ?? ttl, ips, meta: o.meta === true,
        ...(o.legacy !== undefined ? { legacy: { id: o.legacy.id, questions: o.legacy.msg.questions } } : {}),
      })
    }

    /** Multicast our records now (announcements, answers, goodbyes with ttl 0). */
    const multicastNow = (o: { meta?: boolean; ttl?: number } = {}): void => {
      const s = sock
      if (s === undefined) return
      answerTimer?.()
      answerTimer = undefined
      const meta = o.meta === true || answerMeta
      answerMeta = false
      for (const p of packets(s, { ...o, meta })) {
        s.send(p)
        stats.responsesSent++
        metrics?.sent('response')
      }
      lastMulticast = now()
    }

    /** Multicast an answer, at most once per MDNS_MIN_MULTICAST_GAP (queries in between share it). */
    const multicastSoon = (meta: boolean): void => {
      answerMeta ||= meta
      if (answerTimer !== undefined) return
      const wait = lastMulticast + MDNS_MIN_MULTICAST_GAP - now()
      if (wait <= 0) multicastNow()
      else answerTimer = io.after(wait, () => {
        answerTimer = undefined
        multicastNow()
      })
    }

    const unicastAllowed = (): boolean => {
      const t = now()
      if (t - unicastWindow.start >= 1000) unicastWindow = { start: t, count: 0 }
      if (unicastWindow.count >= maxUnicast) {
        stats.unicastDropped++
        metrics?.dropped('unicast-limit')
        return false
      }
      unicastWindow.count++
      return true
    }

    /** Announce our records `n` times, MDNS_MIN_MULTICAST_GAP apart (a multicast of the last half second counts as one). */
    const announce = (n: number): void => {
      announceTimer?.()
      announceTimer = undefined
      if (sock === undefined || n <= 0) return
      if (now() - lastMulticast >= MDNS_MIN_MULTICAST_GAP / 2) multicastNow()
      if (n > 1) announceTimer = io.after(MDNS_MIN_MULTICAST_GAP, () => announce(n - 1))
    }

    /** Our addresses changed since the last announcement: announce again. */
    const checkAddrs = (): void => {
      const s = sock
      if (s === undefined || stopped || node === undefined) return
      const addrs = currentAddrs(s)
      const key = addrs.map(String).sort().join(' ')
      lastAddrs = addrs
      if (key === announcedKey) return
      announcedKey = key
      announce(MDNS_ANNOUNCEMENTS)
    }

    const onQuery = (q: QueryQuestions, msg: DecodedDnsMessage, from: { address: string; port: number }, s: MdnsSocket): void => {
      // RFC 6762 §7.1 known-answer suppression: the querier lists our PTR with at least half its TTL
      // left, so it knows us already (a meta question still gets its answer).
      if (!q.meta && msg.answers.some((r) => r.type === 'PTR' && sameName(r.name, serviceName) && sameName(r.target, instance) && r.ttl >= ttl / 2)) {
        stats.knownAnswers++
        return
      }
      stats.answered++
      const loopback = isLoopbackHost(from.address)
      if (from.port !== (s.port ?? MDNS_PORT)) {
        // RFC 6762 §6.7: a one-shot (legacy) querier gets a unicast reply with its id and question.
        // rust-libp2p queries from an ephemeral port but reads only its 5353 socket, so the
        // multicast answer below is what it sees; the unicast one is for resolvers like `dig -p 5353`.
        if (unicastAllowed()) for (const p of packets(s, { meta: q.meta, loopback, legacy: { id: msg.id, msg } })) {
          s.send(p, from)
          stats.unicastSent++
          metrics?.sent('unicast')
        }
        multicastSoon(q.meta)
        return
      }
      if (q.unicastResponse) {
        // RFC 6762 §5.4: QU asks for a unicast answer; multicast anyway when we have not multicast
        // for a quarter of the TTL, so the other caches on the link are refreshed too.
        if (unicastAllowed()) for (const p of packets(s, { meta: q.meta, loopback })) {
          s.send(p, from)
          stats.unicastSent++
          metrics?.sent('unicast')
        }
        if (now() - lastMulticast > (ttl * 1000) / 4) multicastSoon(q.meta)
        return
      }
      multicastSoon(q.meta)
    }

    const emitExpired = (ev: MdnsExpiredEvent): void => {
      stats.expired++
      metrics?.expired(ev.reason)
      api.dispatchEvent(new CustomEvent('expired', { detail: ev }))
    }

    const scheduleExpiry = (): void => {
      const next = table.nextExpiry()
      if (next === expiryTimer?.at) return
      expiryTimer?.cancel()
      expiryTimer = undefined
      if (next === undefined || stopped) return
      expiryTimer = { at: next, cancel: io.after(Math.max(0, next - now()), onExpiry) }
    }

    const onExpiry = (): void => {
      expiryTimer = undefined
      for (const e of table.expire(now())) emitExpired({ ...e, reason: 'ttl' })
      scheduleExpiry()
    }

    const onResponse = (msg: DecodedDnsMessage, from: { address: string }): void => {
      const n = node
      if (n === undefined) return
      // Addresses a peer on another host cannot use are dropped, unless the packet came over
      // loopback (then the sender is on this host and 127.0.0.1 reaches it).
      const loopback = isLoopbackHost(from.address)
      for (const d of parseResponse(msg, { maxAddrsPerPeer, serviceName })) {
        if (d.peer.equals(n.peerId)) continue // our own response (multicast loopback)
        if (d.ttl === 0) {
          stats.goodbyes++
          const addrs = table.remove(d.peer)
          if (addrs.length > 0) emitExpired({ peer: d.peer, addrs, gone: true, reason: 'goodbye' })
          continue
        }
        const addrs = d.addrs.filter((a) => usable(a, loopback))
        if (addrs.length === 0) continue
        const r = table.update(now(), d.peer, addrs, Math.min(d.ttl, maxTtl) * 1000)
        if (r.refused) {
          stats.peersRefused++
          metrics?.dropped('peer-limit')
          continue
        }
        if (r.added.length === 0) continue // a refresh
        const known = table.list().find((e) => e.peer.equals(d.peer))?.addrs ?? r.added
        stats.discovered++
        metrics?.discovered()
        ctx.run(() => n.peerStore.addAddrs(d.peer, known))
        n.dispatchEvent(new CustomEvent('peer:discovery', { detail: { peer: d.peer, addrs: known, source: 'mdns' } satisfies PeerDiscoveryEvent }))
        if (autoDial && n.getConnections(d.peer).length === 0) n.dial(d.peer).catch(() => { stats.dialFailures++ })
      }
      scheduleExpiry()
    }

    const onPacket = (data: Uint8Array, from: { address: string; port: number }): void => {
      stats.received++
      let msg: DecodedDnsMessage
      try {
        msg = decodeDnsMessage(data, options.limits ?? {})
      } catch (e) {
        if (e instanceof ProtocolError) {
          stats.malformed++
          metrics?.received('malformed')
          return
        }
        throw e
      }
      const s = sock
      if (node === undefined || s === undefined || stopped) return
      const q = parseQuery(msg, { peerName, serviceName })
      metrics?.received(q !== undefined ? 'query' : 'response')
      if (q !== undefined) onQuery(q, msg, from, s)
      else onResponse(msg, from)
    }

    const open = (): void => {
      opening = true
      io.open({ onPacket, onError: () => { stats.socketErrors++ } }, { ipv6 })
        .then((s) => {
          if (stopped) return s.close()
          sock = s
          // RFC 6762 §8.3 / go: announce at start (twice, 1 s apart); query at once, then back off.
          checkAddrs()
          sendQuery()
          scheduleQuery(Math.min(MDNS_FIRST_BACKOFF, interval))
        })
        .catch((e: unknown) => {
          stats.socketErrors++
          node?.dispatchEvent(new CustomEvent('error', { detail: { error: e instanceof Error ? e : new Error(String(e)), origin: 'behaviour', behaviour: 'mdns' } }))
        })
    }

    return {
      name: 'mdns',
      behaviour: idle as NodeService['behaviour'],
      api,
      attach(attached) {
        node = attached as MdnsNode
        metrics = mdnsMetrics(attached, () => table.size)
      },
      // The node asks the services for their listen addresses once it is listening (end of start())
      // and whenever they change: the socket opens the first time (so what we announce and dial is
      // never a node that cannot serve yet), later calls re-announce if our addresses changed.
      listenAddrs() {
        if (!opening && !stopped && node !== undefined) open()
        else if (sock !== undefined) queueMicrotask(checkAddrs)
        return []
      },
      onEvent() {},
      stop() {
        if (stopped) return
        const s = sock
        // RFC 6762 §10.1: goodbye, our records with TTL 0, so peers forget us now instead of in `ttl`.
        if (s !== undefined && announcedKey !== undefined) multicastNow({ ttl: 0 })
        stopped = true
        for (const c of [queryTimer, answerTimer, announceTimer, expiryTimer?.cancel]) c?.()
        queryTimer = answerTimer = announceTimer = expiryTimer = undefined
        table.clear()
        s?.close()
        sock = undefined
      },
    }
  }
}
