/**
 * Datagram packetization layer PMTU discovery (DPLPMTUD: RFC 9000 §14.3, RFC 8899) for one path:
 * which datagram size to probe next, what an acknowledged or lost probe means, and black-hole
 * detection. Pure: the connection sends the probes (transmit.ts `pmtuProbe`, a PING padded to the
 * size) and reports their fate.
 *
 * The search: every connection starts at BASE_PLPMTU (1200, which every QUIC path carries), probes
 * COMMON_PLPMTU (1452: a 1500-byte Ethernet path under IPv6, the size go's and rust's QUIC use) first,
 * then the largest size allowed (min(our `maxDatagramSize`, the peer's max_udp_payload_size)), then
 * halves the gap between the largest confirmed size and the smallest failed one until the gap is
 * below 1/`SEARCH_RESOLUTION` of the confirmed one. A size fails when `attempts` probes of it are lost. A lost probe is not a
 * congestion signal (§14.4; recovery skips packets marked `pmtuProbe`). The UDP driver drops
 * datagrams above the first hop's MTU (src/io/udp.ts), so the search never relies on IP
 * fragmentation: a probe above it is lost like one a router dropped.
 *
 * Black holes (RFC 8899 §4.3): once a size above BASE_PLPMTU is in use, `BLACK_HOLE_LOSSES` lost
 * packets larger than BASE_PLPMTU, each sent after the newest such packet that was acknowledged (the
 * path stopped carrying them; a loss burst from a full queue has later large packets acknowledged),
 * fall back to BASE_PLPMTU and search again, at most `MAX_SEARCHES` times per connection (after that
 * the connection stays at BASE_PLPMTU).
 */

/** The size every QUIC path carries (RFC 9000 §14). */
export const BASE_PLPMTU = 1200
/** The first size probed: 1500 bytes of Ethernet less IPv6 and UDP headers. */
export const COMMON_PLPMTU = 1452
/** The search stops when confirmed and failed sizes are closer than the confirmed one / this (1200: 75 bytes; 1452: 90; 60,000: 3,750). */
export const SEARCH_RESOLUTION = 16
/** Lost large packets, none of that size acknowledged in between, that mean a black hole. */
export const BLACK_HOLE_LOSSES = 6
/** Searches per connection (the first one plus restarts after a black hole). */
export const MAX_SEARCHES = 3
/** The largest UDP payload (RFC 9000 §18.2, max_udp_payload_size). */
export const MAX_UDP_PAYLOAD = 65527

/** The search state of one path (see the file comment). */
export class PmtuSearch {
  /** The size in use (BASE_PLPMTU until a probe is acknowledged). */
  current = BASE_PLPMTU
  /** Packet number of the probe in flight. */
  pn: number | undefined
  /** Size of the probe to send next, or of the one in flight (0: none). */
  size = 0
  #max = BASE_PLPMTU
  /** Smallest size known to fail (above `current`). */
  #failed = Number.POSITIVE_INFINITY
  #lostOfSize = 0
  #largeLost = 0
  /** When the newest acknowledged packet larger than BASE_PLPMTU was sent. */
  #largeAckedSent = Number.NEGATIVE_INFINITY
  #searches = 0
  /** Probes of one size before that size counts as failed. */
  readonly #attempts: number

  constructor(attempts: number) {
    this.#attempts = attempts
  }

  /** Probes of the current size left before it fails. */
  get left(): number { return this.size === 0 ? 0 : this.#attempts - this.#lostOfSize }

  /** Start (or restart) the search up to `max` bytes (min of our limit and the peer's max_udp_payload_size). */
  start(max: number): void {
    if (this.#searches >= MAX_SEARCHES || this.#attempts === 0) return
    this.#searches++
    this.#max = Math.min(max, MAX_UDP_PAYLOAD)
    this.#failed = Number.POSITIVE_INFINITY
    this.#next()
  }

  /**
   * The peer moved to a new IP address (path.ts): a new path, whose MTU nothing tells us (RFC 8899
   * §4.4, RFC 9000 §14.3): back to BASE_PLPMTU and a fresh search, not counted against
   * MAX_SEARCHES (path changes have their own limit, `maxPathValidations`).
   */
  newPath(): void {
    if (this.#attempts === 0) return
    this.current = BASE_PLPMTU
    this.size = 0
    this.pn = undefined
    this.#largeLost = 0
    this.#largeAckedSent = Number.NEGATIVE_INFINITY
    this.#failed = Number.POSITIVE_INFINITY
    if (this.#searches > 0) this.#next()
  }

  /** A probe of `size` bytes was sent as packet `pn`. */
  sent(pn: number): void { this.pn = pn }

  /** A packet of `size` bytes sent at `timeSent` was acknowledged (`pn`: its number); true when the size in use grew. */
  onAcked(pn: number, size: number, timeSent: number): boolean {
    if (size > BASE_PLPMTU && timeSent >= this.#largeAckedSent) {
      this.#largeAckedSent = timeSent
      this.#largeLost = 0
    }
    if (pn !== this.pn) return false
    this.pn = undefined
    const grew = this.size > this.current
    if (grew) this.current = this.size
    this.#next()
    return grew
  }

  /** A packet of `size` bytes sent at `timeSent` was lost (`pn`: its number); true when a black hole sent the size in use back to BASE_PLPMTU. */
  onLost(pn: number, size: number, timeSent: number): boolean {
    if (pn === this.pn) {
      this.pn = undefined
      if (++this.#lostOfSize >= this.#attempts) {
        this.#failed = this.size
        this.#next()
      }
      return false
    }
    if (size <= BASE_PLPMTU || this.current <= BASE_PLPMTU || timeSent < this.#largeAckedSent) return false
    if (++this.#largeLost < BLACK_HOLE_LOSSES) return false
    this.current = BASE_PLPMTU
    this.#largeLost = 0
    this.size = 0
    this.pn = undefined
    this.start(this.#max)
    return true
  }

  /** Choose the next size to probe, or none (the search is over). */
  #next(): void {
    this.#lostOfSize = 0
    const lo = this.current
    const hi = Math.min(this.#max + 1, this.#failed)
    let size = 0
    if (lo < COMMON_PLPMTU && COMMON_PLPMTU < hi) size = COMMON_PLPMTU
    else if (this.#failed > this.#max) size = this.#max
    else if (hi - lo > lo / SEARCH_RESOLUTION) size = lo + Math.floor((hi - lo) / 2)
    this.size = size > lo ? size : 0
  }
}
