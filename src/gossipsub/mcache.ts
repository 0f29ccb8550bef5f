/**
 * The message cache (gossipsub-v1.0.md "Message Cache"): recently seen messages, in `mcache_len`
 * history windows, the newest first. `put` adds to the current window, `get` serves IWANT, `getGossipIds`
 * lists the ids of the first `mcache_gossip` windows for a topic (what IHAVE advertises), `shift`
 * (once per heartbeat) drops the oldest window and opens a new one.
 *
 * v1.1 "Spam Protection Measures": IWANT responses are limited per peer and message
 * (`gossipRetransmission`); `getForPeer` counts them.
 *
 * Bounded by bytes (`maxBytes`, the encoded messages) and by count (`maxMessages`) as well as by the
 * windows: over either, the oldest messages go first (a later IWANT for them is a miss, nothing worse).
 * Stops: fast or large traffic pinning `mcache_len` heartbeats' worth of remote bytes.
 */
export interface CachedMessage {
  readonly id: Uint8Array
  readonly topic: string
  /** The encoded Message, sent as is. */
  readonly raw: Uint8Array
  /** IWANT transmissions per peer (bounded by the number of peers asking, itself bounded); allocated on the first. */
  iwantCounts: Map<string, number> | undefined
}

/**
 * The message cache (gossipsub v1.0 "Message Cache"): the messages of the last `mcacheLength` heartbeats, served to IWANT; IHAVE gossip names those of the last `mcacheGossip`. Bounded in bytes.
 */
export class MessageCache {
  readonly #msgs = new Map<string, CachedMessage>()
  /** windows[0] is the current one; each holds message-id keys. */
  readonly #windows: string[][] = [[]]
  /** Keys of the oldest window before this index were evicted early (over a bound). */
  #oldestAt = 0
  readonly #history: number
  readonly #gossip: number
  readonly #maxBytes: number
  readonly #maxMessages: number
  #bytes = 0

  constructor(history: number, gossip: number, maxBytes = Infinity, maxMessages = Infinity) {
    if (!Number.isInteger(history) || history < 1) throw new RangeError('mcacheLength must be >= 1')
    if (!Number.isInteger(gossip) || gossip < 1 || gossip > history) throw new RangeError('mcacheGossip must be in [1, mcacheLength]')
    if (!(maxBytes >= 1) || !(maxMessages >= 1)) throw new RangeError('mcacheMaxBytes and mcacheMaxMessages must be >= 1')
    this.#history = history
    this.#gossip = gossip
    this.#maxBytes = maxBytes
    this.#maxMessages = maxMessages
  }

  /** Messages cached. */
  get size(): number {
    return this.#msgs.size
  }

  /** Bytes of the cached encoded messages. */
  get bytes(): number {
    return this.#bytes
  }

  /** Remember a message (its id, topic and wire bytes) in the current window; a known key is ignored. */
  put(key: string, id: Uint8Array, topic: string, raw: Uint8Array): void {
    if (this.#msgs.has(key)) return
    this.putNew(key, id, topic, raw)
  }

  /**
   * `put` for a message the caller knows is new (it just passed the seen cache, which outlives the
   * message cache): one map operation less. Were it cached after all, its entry is replaced and the
   * older window's shift drops it early: a cache miss for a later IWANT, nothing worse.
   */
  putNew(key: string, id: Uint8Array, topic: string, raw: Uint8Array): void {
    if (raw.length > this.#maxBytes) return // never cached: it alone is over the bound
    this.#delete(key)
    while (this.#msgs.size >= this.#maxMessages || this.#bytes + raw.length > this.#maxBytes) if (!this.#evictOldest()) break
    this.#msgs.set(key, { id, topic, raw, iwantCounts: undefined })
    this.#bytes += raw.length
    this.#windows[0]!.push(key)
  }

  #delete(key: string): void {
    const m = this.#msgs.get(key)
    if (m === undefined) return
    this.#msgs.delete(key)
    this.#bytes -= m.raw.length
  }

  /** Drop the oldest cached message; false when there is none. */
  #evictOldest(): boolean {
    for (;;) {
      const w = this.#windows
      const oldest = w[w.length - 1]!
      if (this.#oldestAt < oldest.length) {
        const k = oldest[this.#oldestAt++]!
        if (!this.#msgs.has(k)) continue // already gone (a replaced key's older slot)
        this.#delete(k)
        return true
      }
      if (w.length === 1) { oldest.length = 0; this.#oldestAt = 0; return false }
      w.pop()
      this.#oldestAt = 0
    }
  }

  /** The cached message with this id key, or undefined once it left the last window. */
  get(key: string): CachedMessage | undefined {
    return this.#msgs.get(key)
  }

  /** The message for an IWANT from `peer`, with how many times it has now been sent to that peer. */
  getForPeer(key: string, peer: string): { msg: CachedMessage; count: number } | undefined {
    const msg = this.#msgs.get(key)
    if (msg === undefined) return undefined
    msg.iwantCounts ??= new Map()
    const count = (msg.iwantCounts.get(peer) ?? 0) + 1
    msg.iwantCounts.set(peer, count)
    return { msg, count }
  }

  /** Ids to advertise for `topic`: the first `mcache_gossip` windows. */
  getGossipIds(topic: string): Uint8Array[] {
    const out: Uint8Array[] = []
    for (let i = 0; i < this.#gossip && i < this.#windows.length; i++) {
      for (const k of this.#windows[i]!) {
        const m = this.#msgs.get(k)
        if (m !== undefined && m.topic === topic) out.push(m.id)
      }
    }
    return out
  }

  /** Heartbeat: drop the oldest window, open a new one. */
  shift(): void {
    if (this.#windows.length >= this.#history) {
      const oldest = this.#windows.pop()!
      for (let i = this.#oldestAt; i < oldest.length; i++) this.#delete(oldest[i]!)
      this.#oldestAt = 0
    }
    this.#windows.unshift([])
  }
}
