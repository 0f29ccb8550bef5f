/**
 * The local datastore of a DHT server: value records and provider records, both with expiry and
 * limits (libp2p/specs kad-dht/README.md, "Value storage", "Content provider advertisement").
 *
 * Records: key -> { value, expires, from }. Validation happens before `put` (the behaviour's job);
 * the store only keeps what it is handed, bounded by `maxRecords`, `maxRecordSize` and
 * `maxRecordsPerPeer` (records last written by one remote peer).
 * Providers: key (a multihash) -> provider peer -> { expires, addrs, addrsExpire }. A provider
 * record lives `providerTtl` (48 h, the spec's "Expiration Interval"); the provider's addresses are
 * served only for `providerAddrTtl` (30 min, the spec's suggested routing table refresh interval),
 * then the peer id alone. Bounded by `maxProviderKeys`, `maxProvidersPerKey` and
 * `maxProviderRecordsPerPeer`.
 *
 * Time is `now` (monotonic ms); expired entries are skipped on read and removed by `prune(now)`.
 */
import type { Millis } from '../core/byte-machine.js'
import { toHex } from '../core/bytes.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'

export interface StoreLimits {
  /** Value records kept. Stops: a network of peers filling our memory with PUT_VALUEs. */
  maxRecords: number
  /** Bytes of one record value. Stops: one PUT_VALUE claiming megabytes of storage. */
  maxRecordSize: number
  /** Value records attributed to one remote peer. Stops: one peer filling the whole store. */
  maxRecordsPerPeer: number
  /** Keys with provider records. Stops: ADD_PROVIDER floods over many keys. */
  maxProviderKeys: number
  /** Providers kept per key. Stops: one key's list growing without bound. */
  maxProvidersPerKey: number
  /** Provider records attributed to one remote peer. Stops: one peer filling the provider store. */
  maxProviderRecordsPerPeer: number
  /** Value record lifetime, ms. Default 36 h. */
  recordTtl: number
  /** Provider record lifetime, ms. Default 48 h. */
  providerTtl: number
  /** How long a provider's addresses are served, ms. Default 30 min. */
  providerAddrTtl: number
}

export const DEFAULT_STORE_LIMITS: StoreLimits = {
  maxRecords: 4096,
  maxRecordSize: 16 * 1024,
  maxRecordsPerPeer: 128,
  maxProviderKeys: 16_384,
  maxProvidersPerKey: 64,
  maxProviderRecordsPerPeer: 1024,
  recordTtl: 36 * 3600_000,
  providerTtl: 48 * 3600_000,
  providerAddrTtl: 30 * 60_000,
}

export interface StoredRecord {
  readonly key: Uint8Array
  readonly value: Uint8Array
  readonly receivedAt: Millis
  readonly expires: Millis
  /** The peer that sent it (its id string), or undefined for our own puts. */
  readonly from: string | undefined
}

export interface ProviderEntry {
  readonly peer: PeerId
  readonly addrs: readonly Multiaddr[]
  readonly expires: Millis
  readonly addrsExpire: Millis
}

export type StoreRejection = 'too-large' | 'store-full' | 'peer-quota'

export class RecordStore {
  readonly limits: StoreLimits
  readonly #records = new Map<string, StoredRecord>()
  readonly #providers = new Map<string, Map<string, ProviderEntry & { from: string | undefined }>>()
  readonly #recordsByPeer = new Map<string, number>()
  readonly #providersByPeer = new Map<string, number>()

  constructor(limits: Partial<StoreLimits> = {}) {
    this.limits = { ...DEFAULT_STORE_LIMITS, ...limits }
  }

  get recordCount(): number {
    return this.#records.size
  }

  get providerKeyCount(): number {
    return this.#providers.size
  }

  // --- value records --------------------------------------------------------------------------------

  getRecord(key: Uint8Array, now: Millis): StoredRecord | undefined {
    const id = toHex(key)
    const r = this.#records.get(id)
    if (r === undefined) return undefined
    if (r.expires <= now) {
      this.#deleteRecord(id, r)
      return undefined
    }
    return r
  }

  /** Store (replace) a validated record; `from` is the sending peer's id string (undefined: local). */
  putRecord(key: Uint8Array, value: Uint8Array, now: Millis, from: string | undefined): StoreRejection | undefined {
    if (value.length > this.limits.maxRecordSize) return 'too-large'
    const id = toHex(key)
    const old = this.#records.get(id)
    if (old === undefined && this.#records.size >= this.limits.maxRecords) {
      this.prune(now)
      if (this.#records.size >= this.limits.maxRecords) return 'store-full'
    }
    if (from !== undefined && old?.from !== from && (this.#recordsByPeer.get(from) ?? 0) >= this.limits.maxRecordsPerPeer) return 'peer-quota'
    if (old !== undefined) this.#deleteRecord(id, old)
    this.#records.set(id, { key: key.slice(), value: value.slice(), receivedAt: now, expires: now + this.limits.recordTtl, from })
    if (from !== undefined) this.#recordsByPeer.set(from, (this.#recordsByPeer.get(from) ?? 0) + 1)
    return undefined
  }

  #deleteRecord(id: string, r: StoredRecord): void {
    this.#records.delete(id)
    if (r.from !== undefined) dec(this.#recordsByPeer, r.from)
  }

  // --- provider records -----------------------------------------------------------------------------

  addProvider(key: Uint8Array, peer: PeerId, addrs: readonly Multiaddr[], now: Millis, from: string | undefined): StoreRejection | undefined {
    const id = toHex(key)
    let m = this.#providers.get(id)
    if (m === undefined) {
      if (this.#providers.size >= this.limits.maxProviderKeys) {
        this.prune(now)
        if (this.#providers.size >= this.limits.maxProviderKeys) return 'store-full'
      }
      m = new Map()
      this.#providers.set(id, m)
    }
    const pid = peer.toString()
    const old = m.get(pid)
    if (old === undefined) {
      if (from !== undefined && (this.#providersByPeer.get(from) ?? 0) >= this.limits.maxProviderRecordsPerPeer) return 'peer-quota'
      if (m.size >= this.limits.maxProvidersPerKey) {
        // Replace the provider record closest to expiry, if it expires sooner than the new one.
        let victim: string | undefined
        let soonest = Infinity
        for (const [k, e] of m) if (e.expires < soonest) { soonest = e.expires; victim = k }
        if (victim === undefined) return 'store-full'
        const v = m.get(victim)!
        m.delete(victim)
        if (v.from !== undefined) dec(this.#providersByPeer, v.from)
      }
      if (from !== undefined) this.#providersByPeer.set(from, (this.#providersByPeer.get(from) ?? 0) + 1)
    }
    m.set(pid, { peer, addrs: [...addrs], expires: now + this.limits.providerTtl, addrsExpire: now + this.limits.providerAddrTtl, from: old?.from ?? from })
    return undefined
  }

  /** Live providers of `key`, most recently refreshed last; addresses omitted once stale. */
  getProviders(key: Uint8Array, now: Millis, max = Infinity): ProviderEntry[] {
    const id = toHex(key)
    const m = this.#providers.get(id)
    if (m === undefined) return []
    const out: ProviderEntry[] = []
    for (const [pid, e] of m) {
      if (e.expires <= now) {
        m.delete(pid)
        if (e.from !== undefined) dec(this.#providersByPeer, e.from)
        continue
      }
      if (out.length < max) out.push({ peer: e.peer, addrs: e.addrsExpire > now ? e.addrs : [], expires: e.expires, addrsExpire: e.addrsExpire })
    }
    if (m.size === 0) this.#providers.delete(id)
    return out
  }

  /** Drop every expired record and provider. */
  prune(now: Millis): void {
    for (const [id, r] of this.#records) if (r.expires <= now) this.#deleteRecord(id, r)
    for (const [id, m] of this.#providers) {
      for (const [pid, e] of m) {
        if (e.expires > now) continue
        m.delete(pid)
        if (e.from !== undefined) dec(this.#providersByPeer, e.from)
      }
      if (m.size === 0) this.#providers.delete(id)
    }
  }
}

function dec(m: Map<string, number>, k: string): void {
  const n = (m.get(k) ?? 1) - 1
  if (n <= 0) m.delete(k)
  else m.set(k, n)
}
