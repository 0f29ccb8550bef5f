/**
 * The message cache (gossipsub-v1.0.md "Message Cache"): recently seen messages, in `mcache_len`
 * history windows, the newest first. `put` adds to the current window, `get` serves IWANT, `getGossipIds`
 * lists the ids of the first `mcache_gossip` windows for a topic (what IHAVE advertises), `shift`
 * (once per heartbeat) drops the oldest window and opens a new one.
 *
 * v1.1 "Spam Protection Measures": IWANT responses are limited per peer and message
 * (`gossipRetransmission`); `getForPeer` counts them.
 */
export interface CachedMessage {
  readonly id: Uint8Array
  readonly topic: string
  /** The encoded Message, sent as is. */
  readonly raw: Uint8Array
  /** IWANT transmissions per peer (bounded by the number of peers asking, itself bounded); allocated on the first. */
  iwantCounts: Map<string, number> | undefined
}

export class MessageCache {
  readonly #msgs = new Map<string, CachedMessage>()
  /** windows[0] is the current one; each holds message-id keys. */
  readonly #windows: string[][] = [[]]
  readonly #history: number
  readonly #gossip: number

  constructor(history: number, gossip: number) {
    if (!Number.isInteger(history) || history < 1) throw new RangeError('mcacheLength must be >= 1')
    if (!Number.isInteger(gossip) || gossip < 1 || gossip > history) throw new RangeError('mcacheGossip must be in [1, mcacheLength]')
    this.#history = history
    this.#gossip = gossip
  }

  get size(): number {
    return this.#msgs.size
  }

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
    this.#msgs.set(key, { id, topic, raw, iwantCounts: undefined })
    this.#windows[0]!.push(key)
  }

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
      for (const k of this.#windows.pop()!) this.#msgs.delete(k)
    }
    this.#windows.unshift([])
  }
}
