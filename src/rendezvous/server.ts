/**
 * The rendezvous point's registry (libp2p/specs rendezvous/README.md), pure: the caller passes the
 * authenticated sender and a virtual clock (`now`, milliseconds) to every call, and sends back the
 * response message this returns. No streams, no timers: expiry happens on the next call.
 *
 * - REGISTER: the namespace must be 1..maxNamespaceLength characters, the TTL (seconds, default
 *   2 h) within [minTtl, maxTtl], and the signed peer record must verify and name the sender (a peer
 *   registers only itself). A new REGISTER for the same (namespace, peer) replaces the old one.
 * - UNREGISTER: removes the sender's registration; no response (a no-op when none exists).
 * - DISCOVER: live registrations of a namespace (or of all namespaces when `ns` is absent), oldest
 *   first, at most min(limit, maxDiscoverLimit). The cookie is opaque to clients: it holds the
 *   namespace and the sequence number of the last registration returned, so the next DISCOVER with
 *   it returns only registrations made (or refreshed) after those.
 * - State is bounded by maxRegistrations, maxRegistrationsPerNamespace and maxRegistrationsPerPeer;
 *   a registration past a cap is refused with E_UNAVAILABLE (E_NOT_AUTHORIZED for the per-peer cap).
 */
import type { CryptoProvider } from '../core/index.js'
import type { PeerId } from '../peer-id/index.js'
import { openRendezvousRecord } from './record.js'
import { MessageType, ResponseStatus, type Discover, type DiscoverResponse, type Register, type RegisterResponse, type RendezvousMessage } from './message.js'

/** Bounds of the rendezvous point's registry (rendezvous spec; spec/rendezvous.md "Limits"). */
export interface RendezvousRegistryOptions {
  /** Longest namespace, in characters. Default 255 (the spec's recommendation). Stops unbounded keys. */
  maxNamespaceLength: number
  /** TTL (seconds) when a REGISTER has none. Default 7200 (the spec's 2 h). */
  defaultTtl: number
  /** Shortest accepted TTL, seconds. Default 7200 (spec recommendation). Stops re-registration churn. */
  minTtl: number
  /** Longest accepted TTL, seconds. Default 259200 (the spec's 72 h). Stops stale entries living forever. */
  maxTtl: number
  /** Most live registrations in total. Default 10000. Stops memory exhaustion by many peers. */
  maxRegistrations: number
  /** Most live registrations in one namespace. Default 1000. Stops one namespace crowding out the rest. */
  maxRegistrationsPerNamespace: number
  /** Most live registrations of one peer (over all namespaces). Default 100. Stops one peer filling the registry. */
  maxRegistrationsPerPeer: number
  /** Most registrations in one DiscoverResponse. Default 100 (the codec's maxRegistrations). Stops huge responses. */
  maxDiscoverLimit: number
  /** Largest signed peer record, bytes. Default 4096. Stops a peer from storing large blobs with us. */
  maxRecordBytes: number
  /**
   * Bytes of registrations in one DiscoverResponse. Default 60000 (under the codec's 64 KiB message
   * cap, so a full page always decodes at the client). Stops responses a client must refuse.
   */
  maxDiscoverBytes: number
}

/**
 * Default `RendezvousRegistryOptions`: namespaces of 255 characters, TTL 2 h by default, between 2 h and 72 h, 10 000 registrations (1000 per namespace, 100 per peer), 100 per DISCOVER.
 */
export const DEFAULT_RENDEZVOUS_REGISTRY_OPTIONS: Readonly<RendezvousRegistryOptions> = Object.freeze({
  maxNamespaceLength: 255,
  defaultTtl: 7200,
  minTtl: 7200,
  maxTtl: 72 * 3600,
  maxRegistrations: 10_000,
  maxRegistrationsPerNamespace: 1000,
  maxRegistrationsPerPeer: 100,
  maxDiscoverLimit: 100,
  maxRecordBytes: 4096,
  maxDiscoverBytes: 60_000,
})

interface Registration {
  ns: string
  peer: string
  record: Uint8Array
  /** Milliseconds on the caller's clock. */
  expires: number
  seq: number
}

/**
 * The cookie: the sequence number of the last registration returned as 8 big-endian bytes, then
 * the namespace in UTF-8 (nothing for all namespaces). The layout rust-libp2p's client parses
 * (`Cookie::from_wire_encoding`: a u64 id, then the namespace), so rust clients can page a weft point.
 */
function encodeCookie(ns: string | undefined, seq: number): Uint8Array {
  const name = new TextEncoder().encode(ns ?? '')
  const out = new Uint8Array(8 + name.length)
  new DataView(out.buffer).setBigUint64(0, BigInt(seq))
  out.set(name, 8)
  return out
}

function decodeCookie(bytes: Uint8Array): { ns: string | undefined; seq: number } | undefined {
  if (bytes.length < 8 || bytes.length > 8 + 4 * 255) return undefined
  const seq = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0)
  if (seq > BigInt(Number.MAX_SAFE_INTEGER)) return undefined
  let ns: string
  try {
    ns = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8))
  } catch {
    return undefined
  }
  return { ns: ns === '' ? undefined : ns, seq: Number(seq) }
}

/**
 * The registry of a rendezvous point (rendezvous spec "Interaction"): registrations per namespace with expiry, paginated discovery with cookies.
 */
export class RendezvousRegistry {
  readonly #o: RendezvousRegistryOptions
  readonly #crypto: CryptoProvider
  /** namespace -> peer id text -> registration. */
  readonly #byNs = new Map<string, Map<string, Registration>>()
  readonly #perPeer = new Map<string, number>()
  #size = 0
  #seq = 0

  constructor(crypto: CryptoProvider, options: Partial<RendezvousRegistryOptions> = {}) {
    this.#crypto = crypto
    this.#o = { ...DEFAULT_RENDEZVOUS_REGISTRY_OPTIONS, ...options }
  }

  /** Live registrations (after the last call's expiry). */
  get size(): number {
    return this.#size
  }

  /** Answer one decoded message from `from`; undefined for UNREGISTER and for responses (a client's messages). */
  handle(now: number, from: PeerId, msg: RendezvousMessage): RendezvousMessage | undefined {
    switch (msg.type) {
      case MessageType.REGISTER:
        return { type: MessageType.REGISTER_RESPONSE, registerResponse: this.register(now, from, msg.register) }
      case MessageType.UNREGISTER:
        this.unregister(now, from, msg.unregister.ns ?? '')
        return undefined
      case MessageType.DISCOVER:
        return { type: MessageType.DISCOVER_RESPONSE, discoverResponse: this.discover(now, msg.discover) }
      default:
        return undefined
    }
  }

  /**
   * Handle REGISTER from `from`: check the namespace, the TTL and the signed peer record (it must be `from`'s), then store it.
   */
  register(now: number, from: PeerId, req: Register): RegisterResponse {
    this.#expire(now)
    const ns = req.ns ?? ''
    if (!this.#validNs(ns) || ns.length === 0) return { status: ResponseStatus.E_INVALID_NAMESPACE, statusText: 'namespace length' }
    const ttl = req.ttl ?? this.#o.defaultTtl
    if (ttl < this.#o.minTtl || ttl > this.#o.maxTtl) return { status: ResponseStatus.E_INVALID_TTL, statusText: `ttl outside [${this.#o.minTtl}, ${this.#o.maxTtl}]` }
    const record = req.signedPeerRecord
    if (record === undefined || record.length > this.#o.maxRecordBytes) return { status: ResponseStatus.E_INVALID_SIGNED_PEER_RECORD, statusText: 'missing or too large' }
    let signer: PeerId
    try {
      signer = openRendezvousRecord(record, this.#crypto).record.peerId
    } catch {
      return { status: ResponseStatus.E_INVALID_SIGNED_PEER_RECORD, statusText: 'does not verify' }
    }
    if (!signer.equals(from)) return { status: ResponseStatus.E_NOT_AUTHORIZED, statusText: 'record of another peer' }
    const peer = from.toString()
    const regs = this.#byNs.get(ns)
    const old = regs?.get(peer)
    if (old === undefined) {
      if (this.#size >= this.#o.maxRegistrations) return { status: ResponseStatus.E_UNAVAILABLE, statusText: 'registry full' }
      if ((regs?.size ?? 0) >= this.#o.maxRegistrationsPerNamespace) return { status: ResponseStatus.E_UNAVAILABLE, statusText: 'namespace full' }
      if ((this.#perPeer.get(peer) ?? 0) >= this.#o.maxRegistrationsPerPeer) return { status: ResponseStatus.E_NOT_AUTHORIZED, statusText: 'too many registrations' }
    } else this.#remove(old)
    const reg: Registration = { ns, peer, record, expires: now + ttl * 1000, seq: ++this.#seq }
    let m = this.#byNs.get(ns) // #remove may have dropped an emptied map
    if (m === undefined) this.#byNs.set(ns, (m = new Map()))
    m.set(peer, reg)
    this.#perPeer.set(peer, (this.#perPeer.get(peer) ?? 0) + 1)
    this.#size++
    return { status: ResponseStatus.OK, ttl }
  }

  /** Handle UNREGISTER: drop `from`'s registration in `ns`. */
  unregister(now: number, from: PeerId, ns: string): void {
    this.#expire(now)
    const reg = this.#byNs.get(ns)?.get(from.toString())
    if (reg !== undefined) this.#remove(reg)
  }

  /** Handle DISCOVER: registrations after the cookie, up to the limit, and the next cookie. */
  discover(now: number, req: Discover): DiscoverResponse {
    this.#expire(now)
    const ns = req.ns === undefined || req.ns === '' ? undefined : req.ns
    if (ns !== undefined && !this.#validNs(ns)) return { registrations: [], status: ResponseStatus.E_INVALID_NAMESPACE, statusText: 'namespace length' }
    let after = 0
    if (req.cookie !== undefined) {
      const c = decodeCookie(req.cookie)
      if (c === undefined || c.ns !== ns || c.seq > this.#seq) return { registrations: [], status: ResponseStatus.E_INVALID_COOKIE, statusText: 'invalid cookie' }
      after = c.seq
    }
    const limit = Math.min(req.limit === undefined || req.limit === 0 ? this.#o.maxDiscoverLimit : req.limit, this.#o.maxDiscoverLimit)
    const pool: Registration[] = []
    for (const m of ns === undefined ? this.#byNs.values() : [this.#byNs.get(ns) ?? new Map<string, Registration>()]) {
      for (const r of m.values()) if (r.seq > after) pool.push(r)
    }
    pool.sort((a, b) => a.seq - b.seq)
    const page: Registration[] = []
    let bytes = 0
    for (const r of pool) {
      // a Register's size: record + namespace + tags, lengths and the TTL varint (at most 32)
      const size = r.record.length + r.ns.length * 4 + 32
      if (page.length >= limit || (page.length > 0 && bytes + size > this.#o.maxDiscoverBytes)) break
      page.push(r)
      bytes += size
    }
    const last = page.length > 0 ? page[page.length - 1]!.seq : after
    return {
      registrations: page.map((r) => ({ ns: r.ns, signedPeerRecord: r.record, ttl: Math.max(0, Math.floor((r.expires - now) / 1000)) })),
      cookie: encodeCookie(ns, last),
      status: ResponseStatus.OK,
    }
  }

  #validNs(ns: string): boolean {
    return ns.length <= this.#o.maxNamespaceLength
  }

  #remove(r: Registration): void {
    const m = this.#byNs.get(r.ns)
    if (m?.get(r.peer) !== r) return
    m.delete(r.peer)
    if (m.size === 0) this.#byNs.delete(r.ns)
    const n = (this.#perPeer.get(r.peer) ?? 1) - 1
    if (n === 0) this.#perPeer.delete(r.peer)
    else this.#perPeer.set(r.peer, n)
    this.#size--
  }

  #expire(now: number): void {
    for (const m of [...this.#byNs.values()]) for (const r of [...m.values()]) if (r.expires <= now) this.#remove(r)
  }
}
