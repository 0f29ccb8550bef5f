/**
 * The local datastore of a DHT server: value records and provider records, both with expiry and
 * limits (libp2p/specs kad-dht/README.md, "Value storage", "Content provider advertisement").
 *
 * Records: key -> { value, expires, from }. Validation happens before `put` (the behaviour's job);
 * the store only keeps what it is handed. Providers: key (a multihash) -> provider peer ->
 * { expires, addrs, addrsExpire }. A provider record lives `providerTtl` (48 h, the spec's
 * "Expiration Interval"); the provider's addresses are served only for `providerAddrTtl` (30 min,
 * the spec's suggested routing table refresh interval), then the peer id alone.
 *
 * Bounded by bytes, not only by count (audit finding 4). Every entry has an accounted size
 * (`recordBytes`, `providerBytes`: the bytes it keeps plus a fixed overhead). Each store has a
 * total byte budget, each provider key a byte budget, and each remote entry is charged to the
 * peer that sent it (a count quota per peer id) AND to the source of its connection (a byte quota
 * per network, source.ts), so throwaway peer ids do not multiply the quota. A full store makes
 * room by evicting the oldest entry of the source holding the most bytes, never that of a source
 * holding less than the claimant would (ledger.ts): a flood cannot lock out newcomers for 48 h.
 *
 * Time is `now` (monotonic ms); expired entries are skipped on read and removed by `prune(now)`.
 */
import type { Millis } from '../core/byte-machine.js'
import { toHex } from '../core/bytes.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import { SourceLedger } from './ledger.js'

/** Bounds of the DHT server's record and provider store (spec/kad.md "Limits"). */
export interface StoreLimits {
  /** Bytes of a record key (GET_VALUE / PUT_VALUE / FIND_NODE). Stops: huge keys multiplying what each record costs. */
  maxRecordKeyLength: number
  /** Bytes of a provider key (ADD_PROVIDER / GET_PROVIDERS), a multihash. Stops: huge keys in the provider store. */
  maxProviderKeyLength: number
  /** Value records kept. Stops: a network of peers filling our memory with PUT_VALUEs. */
  maxRecords: number
  /** Bytes of one record value. Stops: one PUT_VALUE claiming megabytes of storage. */
  maxRecordSize: number
  /** Accounted bytes of all records. Stops: many large records together exhausting memory. */
  maxRecordBytes: number
  /** Value records attributed to one remote peer id. Stops: one peer filling the whole store. */
  maxRecordsPerPeer: number
  /** Accounted record bytes per source network (source.ts). Stops: throwaway peer ids multiplying the per-peer quota. */
  maxRecordBytesPerSource: number
  /** Keys with provider records. Stops: ADD_PROVIDER floods over many keys. */
  maxProviderKeys: number
  /** Providers kept per key. Stops: one key's list growing without bound. */
  maxProvidersPerKey: number
  /** Accounted bytes of one key's providers. Stops: one key's providers (with 16 long addresses each) growing large. */
  maxProviderBytesPerKey: number
  /** Accounted bytes of all provider records. Stops: ADD_PROVIDER floods exhausting memory. */
  maxProviderBytes: number
  /** Provider records attributed to one remote peer id. Stops: one peer filling the provider store. */
  maxProviderRecordsPerPeer: number
  /** Accounted provider bytes per source network. Stops: throwaway peer ids multiplying the per-peer quota. */
  maxProviderBytesPerSource: number
  /** Value record lifetime, ms. Default 36 h. */
  recordTtl: number
  /** Provider record lifetime, ms. Default 48 h. */
  providerTtl: number
  /** How long a provider's addresses are served, ms. Default 30 min. */
  providerAddrTtl: number
}

/** Default `StoreLimits` (spec/kad.md "Limits"). */
export const DEFAULT_STORE_LIMITS: StoreLimits = {
  maxRecordKeyLength: 256,
  maxProviderKeyLength: 80,
  maxRecords: 4096,
  maxRecordSize: 16 * 1024,
  maxRecordBytes: 16 * 1024 * 1024,
  maxRecordsPerPeer: 128,
  maxRecordBytesPerSource: 1024 * 1024,
  maxProviderKeys: 16_384,
  maxProvidersPerKey: 64,
  maxProviderBytesPerKey: 64 * 1024,
  maxProviderBytes: 32 * 1024 * 1024,
  maxProviderRecordsPerPeer: 1024,
  maxProviderBytesPerSource: 2 * 1024 * 1024,
  recordTtl: 36 * 3600_000,
  providerTtl: 48 * 3600_000,
  providerAddrTtl: 30 * 60_000,
}

/** Fixed accounted overhead of one stored entry (its objects and map slots), bytes. */
export const ENTRY_OVERHEAD = 128
/** Fixed accounted overhead of one stored multiaddr object, bytes. */
export const ADDR_OVERHEAD = 64

/** Accounted size of a record: its key (kept twice: bytes and hex map key, 3 bytes a byte), value and overhead. */
export function recordBytes(key: Uint8Array, value: Uint8Array): number {
  return 3 * key.length + value.length + ENTRY_OVERHEAD
}

/** Accounted size of one provider entry: its key's hex map key, the peer id, the addresses and overhead. */
export function providerBytes(key: Uint8Array, peer: PeerId, addrs: readonly Multiaddr[]): number {
  let n = 2 * key.length + peer.multihash.length + ENTRY_OVERHEAD
  for (const a of addrs) n += a.bytes.length + ADDR_OVERHEAD
  return n
}

/** Who delivered an entry: the remote peer (id string) and its connection's source (source.ts). */
export interface Origin {
  readonly peer: string
  readonly source: string
}

/** A record held by the store, with when it was received. */
export interface StoredRecord {
  readonly key: Uint8Array
  readonly value: Uint8Array
  readonly receivedAt: Millis
  readonly expires: Millis
  /** The peer that sent it (its id string), or undefined for our own puts. */
  readonly from: string | undefined
}

/** A provider of a key: the peer, its addresses and when the announcement expires. */
export interface ProviderEntry {
  readonly peer: PeerId
  readonly addrs: readonly Multiaddr[]
  readonly expires: Millis
  readonly addrsExpire: Millis
}

/**
 * 'too-large': above maxRecordSize or maxProviderBytesPerKey; 'key-too-long': above the key length
 * limit; 'peer-quota' / 'source-quota': the sender's peer id or network holds its share;
 * 'store-full': no room, and no source holds more than the sender would.
 */
export type StoreRejection = 'too-large' | 'key-too-long' | 'store-full' | 'peer-quota' | 'source-quota'

type Rec = StoredRecord & { readonly bytes: number; readonly source: string | undefined }
type Prov = ProviderEntry & { readonly bytes: number; readonly origin: Origin | undefined }

/** The DHT server's bounded store of records (PUT_VALUE) and provider announcements (ADD_PROVIDER), with expiry. */
export class RecordStore {
  readonly limits: StoreLimits
  readonly #records = new Map<string, Rec>()
  readonly #providers = new Map<string, { bytes: number; entries: Map<string, Prov> }>()
  readonly #recordsByPeer = new Map<string, number>()
  readonly #providersByPeer = new Map<string, number>()
  readonly #recordLedger = new SourceLedger()
  readonly #providerLedger = new SourceLedger()

  constructor(limits: Partial<StoreLimits> = {}) {
    this.limits = { ...DEFAULT_STORE_LIMITS, ...limits }
    for (const [k, v] of Object.entries(this.limits)) if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`store.${k} must be a positive integer`)
  }

  /** Records stored. */
  get recordCount(): number {
    return this.#records.size
  }

  /** Keys with at least one provider. */
  get providerKeyCount(): number {
    return this.#providers.size
  }

  /** Accounted bytes of all records / all provider entries. */
  get recordBytes(): number {
    return this.#recordLedger.total
  }

  /** Accounted bytes of all provider entries (see `recordBytes`). */
  get providerBytes(): number {
    return this.#providerLedger.total
  }

  /** Accounted bytes charged to `source` in the record / provider store. */
  bytesOfSource(source: string): { records: number; providers: number } {
    return { records: this.#recordLedger.bytesOf(source), providers: this.#providerLedger.bytesOf(source) }
  }

  // --- value records --------------------------------------------------------------------------------

  /** The unexpired record of `key`, or undefined. */
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

  /** Store (replace) a validated record; `from`: who sent it (undefined: our own put). */
  putRecord(key: Uint8Array, value: Uint8Array, now: Millis, from: Origin | undefined): StoreRejection | undefined {
    const L = this.limits
    if (value.length > L.maxRecordSize) return 'too-large'
    if (key.length > L.maxRecordKeyLength) return 'key-too-long'
    const id = toHex(key)
    const bytes = recordBytes(key, value)
    const old = this.#records.get(id)
    if (from !== undefined) {
      if (old?.from !== from.peer && (this.#recordsByPeer.get(from.peer) ?? 0) >= L.maxRecordsPerPeer) return 'peer-quota'
      const had = old !== undefined && old.source === from.source ? old.bytes : 0
      if (this.#recordLedger.bytesOf(from.source) - had + bytes > L.maxRecordBytesPerSource) return 'source-quota'
    }
    if (old !== undefined) this.#deleteRecord(id, old)
    const full = (): boolean => this.#records.size >= L.maxRecords || this.#recordLedger.total + bytes > L.maxRecordBytes
    if (full()) this.prune(now)
    while (full()) {
      const victim = this.#recordLedger.victim(from?.source, bytes)
      if (victim === undefined) return 'store-full'
      this.#deleteRecord(victim, this.#records.get(victim)!)
    }
    this.#records.set(id, { key: key.slice(), value: value.slice(), receivedAt: now, expires: now + L.recordTtl, from: from?.peer, bytes, source: from?.source })
    this.#recordLedger.add(id, from?.source, bytes)
    if (from !== undefined) this.#recordsByPeer.set(from.peer, (this.#recordsByPeer.get(from.peer) ?? 0) + 1)
    return undefined
  }

  #deleteRecord(id: string, r: Rec): void {
    this.#records.delete(id)
    this.#recordLedger.remove(id, r.source, r.bytes)
    if (r.from !== undefined) dec(this.#recordsByPeer, r.from)
  }

  // --- provider records -----------------------------------------------------------------------------

  /** Record (refresh) `peer` as a provider of `key`; `from`: who sent it (undefined: ourselves). */
  addProvider(key: Uint8Array, peer: PeerId, addrs: readonly Multiaddr[], now: Millis, from: Origin | undefined): StoreRejection | undefined {
    const L = this.limits
    if (key.length > L.maxProviderKeyLength) return 'key-too-long'
    const bytes = providerBytes(key, peer, addrs)
    if (bytes > L.maxProviderBytesPerKey) return 'too-large'
    const id = toHex(key)
    const pid = peer.toString()
    const old = this.#providers.get(id)?.entries.get(pid)
    if (from !== undefined) {
      if (old === undefined && (this.#providersByPeer.get(from.peer) ?? 0) >= L.maxProviderRecordsPerPeer) return 'peer-quota'
      const had = old !== undefined && old.origin?.source === from.source ? old.bytes : 0
      if (this.#providerLedger.bytesOf(from.source) - had + bytes > L.maxProviderBytesPerSource) return 'source-quota'
    }
    // A refresh replaces the old entry (it is not evicted to make room for itself).
    if (old !== undefined) this.#deleteProvider(id, pid, old)
    // Room in the key: its providers by count and bytes (fair by source within the key).
    let slot = this.#providers.get(id)
    while (slot !== undefined && (slot.entries.size >= L.maxProvidersPerKey || slot.bytes + bytes > L.maxProviderBytesPerKey)) {
      const victim = keyVictim(slot.entries, from?.source)
      if (victim === undefined) return 'store-full'
      this.#deleteProvider(id, victim, slot.entries.get(victim)!)
      slot = this.#providers.get(id)
    }
    // Room in the store: keys by count, all entries by bytes.
    const full = (): boolean => (!this.#providers.has(id) && this.#providers.size >= L.maxProviderKeys) || this.#providerLedger.total + bytes > L.maxProviderBytes
    if (full()) this.prune(now)
    while (full()) {
      const victim = this.#providerLedger.victim(from?.source, bytes)
      if (victim === undefined) return 'store-full'
      const sep = victim.indexOf(' ')
      const vid = victim.slice(0, sep)
      const vpid = victim.slice(sep + 1)
      this.#deleteProvider(vid, vpid, this.#providers.get(vid)!.entries.get(vpid)!)
    }
    slot = this.#providers.get(id)
    if (slot === undefined) {
      slot = { bytes: 0, entries: new Map() }
      this.#providers.set(id, slot)
    }
    slot.entries.set(pid, { peer, addrs: [...addrs], expires: now + L.providerTtl, addrsExpire: now + L.providerAddrTtl, bytes, origin: from })
    slot.bytes += bytes
    this.#providerLedger.add(`${id} ${pid}`, from?.source, bytes)
    if (from !== undefined) this.#providersByPeer.set(from.peer, (this.#providersByPeer.get(from.peer) ?? 0) + 1)
    return undefined
  }

  #deleteProvider(id: string, pid: string, e: Prov): void {
    const slot = this.#providers.get(id)
    if (slot === undefined || !slot.entries.delete(pid)) return
    slot.bytes -= e.bytes
    if (slot.entries.size === 0) this.#providers.delete(id)
    this.#providerLedger.remove(`${id} ${pid}`, e.origin?.source, e.bytes)
    if (e.origin !== undefined) dec(this.#providersByPeer, e.origin.peer)
  }

  /** Live providers of `key`, most recently refreshed last; addresses omitted once stale. */
  getProviders(key: Uint8Array, now: Millis, max = Infinity): ProviderEntry[] {
    const id = toHex(key)
    const slot = this.#providers.get(id)
    if (slot === undefined) return []
    const out: ProviderEntry[] = []
    for (const [pid, e] of [...slot.entries]) {
      if (e.expires <= now) {
        this.#deleteProvider(id, pid, e)
        continue
      }
      if (out.length < max) out.push({ peer: e.peer, addrs: e.addrsExpire > now ? e.addrs : [], expires: e.expires, addrsExpire: e.addrsExpire })
    }
    return out
  }

  /** Drop every expired record and provider. */
  prune(now: Millis): void {
    for (const [id, r] of this.#records) if (r.expires <= now) this.#deleteRecord(id, r)
    for (const [id, slot] of this.#providers) for (const [pid, e] of slot.entries) if (e.expires <= now) this.#deleteProvider(id, pid, e)
  }
}

/**
 * The provider of one key to replace when the key is full: from the source with the most entries in
 * this key, the one closest to expiry; none when that source has no more entries than the claimant
 * would (ourselves: any remote entry). Within a key, Sybil ids from one network cannot push out the
 * providers of others.
 */
function keyVictim(entries: Map<string, Prov>, claimant: string | undefined): string | undefined {
  const count = new Map<string | undefined, number>()
  for (const e of entries.values()) count.set(e.origin?.source, (count.get(e.origin?.source) ?? 0) + 1)
  let top: string | undefined
  let topCount = 0
  for (const [src, n] of count) if (src !== undefined && src !== claimant && n > topCount) { top = src; topCount = n }
  if (top === undefined || (claimant !== undefined && topCount <= (count.get(claimant) ?? 0) + 1)) return undefined
  let victim: string | undefined
  let soonest = Infinity
  for (const [pid, e] of entries) if (e.origin?.source === top && e.expires < soonest) { soonest = e.expires; victim = pid }
  return victim
}

function dec(m: Map<string, number>, k: string): void {
  const n = (m.get(k) ?? 1) - 1
  if (n <= 0) m.delete(k)
  else m.set(k, n)
}
