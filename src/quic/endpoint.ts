/**
 * A QUIC endpoint (RFC 9000 §5.2, §6, §8.1, §10.3), pure and sans-IO: what one UDP socket does with
 * a datagram before any connection sees it. It routes datagrams to connections by Destination
 * Connection ID, accepts a new server connection for a valid client Initial, answers unknown versions
 * with Version Negotiation, optionally demands a Retry (address validation with sealed tokens), sends
 * rate-limited stateless resets for short-header packets of unknown connection ids, and bounds the
 * connections and handshakes one socket carries. The driver (src/io/udp.ts through the node glue)
 * owns the socket and the QuicConnections; the endpoint only knows them as handles `H`.
 *
 * The driver: for each datagram call `handleDatagram(now, remote, datagram)` and act on the result
 * ('connection': give the datagram to that connection; 'accept': build a server QuicConnection from
 * the result's ids, `accept(handle, incoming)`, then give it the datagram; 'respond': send the bytes
 * back to `remote`; 'drop': nothing). Pass every connection event to `handleEvent(handle, event)`
 * (connection ids issued and retired, the peer's reset tokens, handshake confirmation, closed), and
 * `remove(handle)` when the connection is gone. spec/quic-endpoint.md.
 */
import type { TlsCrypto } from '../core/crypto/tls.js'
import type { QuicConnectionEvent } from './connection/index.js'
import { MIN_INITIAL_DATAGRAM_SIZE, QUIC_V1, parseDatagram } from './packet.js'
import { MIN_STATELESS_RESET_SIZE, STATELESS_RESET_TOKEN_LENGTH, buildStatelessReset, statelessResetToken } from './reset.js'
import { buildRetry } from './retry.js'
import { versionNegotiationFor } from './version.js'

/** Where a datagram came from (the address a reply goes to). */
export interface QuicRemote {
  readonly address: string
  readonly port: number
}

/** Bounds of one endpoint (spec/quic-endpoint.md, Limits). */
export interface QuicEndpointLimits {
  /** Connections routed by this endpoint, any state: a flood of Initials cannot grow state past it (further Initials are dropped). */
  maxConnections: number
  /** Connections still handshaking: bounds the TLS work and handshake state spoofed or slow clients can hold. */
  maxHandshakes: number
  /** Handshaking connections per remote IP address (IPv4) or IPv6 /64 prefix (`ipBucket`): one host cannot take every handshake slot. */
  maxHandshakesPerIp: number
  /** Stateless resets sent per second (token bucket, burst of the same size): a stream of short packets to unknown ids cannot make us a reflector. */
  statelessResetsPerSecond: number
  /** A Retry token is accepted for this long (ms) after it was issued: bounds replay of a captured token. */
  tokenLifetime: number
  /** Connection ids routed to one connection (its first, the client's original DCID, the ones it issued): a connection cannot grow the routing table. */
  maxConnectionIdsPerConnection: number
}

export const DEFAULT_ENDPOINT_LIMITS: QuicEndpointLimits = {
  maxConnections: 1024,
  maxHandshakes: 128,
  maxHandshakesPerIp: 16,
  statelessResetsPerSecond: 64,
  tokenLifetime: 10_000,
  maxConnectionIdsPerConnection: 8,
}

/** Options of `QuicEndpoint`. */
export interface QuicEndpointOptions {
  crypto: TlsCrypto
  random: (n: number) => Uint8Array
  /** The secret behind stateless reset tokens and Retry tokens (at least 32 bytes; random per process is fine). */
  staticKey: Uint8Array
  /** Length of the connection ids this endpoint issues (default 8; short headers do not carry it). */
  connectionIdLength?: number
  /** Accept incoming connections (default true; false: a dial-only socket drops every Initial). */
  server?: boolean
  /**
   * Address validation before a handshake (RFC 9000 §8.1.2): 'always' answers every client Initial
   * without a valid token with a Retry; 'under-load' (default) only while at least half the handshake
   * slots are taken; 'never'.
   */
  retry?: 'always' | 'under-load' | 'never'
  limits?: Partial<QuicEndpointLimits>
}

/** What a server connection is built from (QuicConnectionOptions' ids and address validation). */
export interface IncomingConnection {
  readonly remote: QuicRemote
  /** Our connection id for it (sequence 0). */
  readonly localConnectionId: Uint8Array
  /** The client's Source Connection ID. */
  readonly remoteConnectionId: Uint8Array
  /** The Destination Connection ID of the client's first Initial (before any Retry). */
  readonly originalDestinationConnectionId: Uint8Array
  /** Set after a Retry: the Source Connection ID of our Retry (the client's Initials go to it). */
  readonly retrySourceConnectionId?: Uint8Array
  /** The client proved its address with a Retry token: no anti-amplification limit. */
  readonly addressValidated: boolean
}

/** Why the endpoint dropped a datagram (counted in `stats.dropped`). */
export type EndpointDropReason =
  | 'unparseable' | 'initial-too-small' | 'not-a-server' | 'short-dcid' | 'connection-limit' | 'handshake-limit'
  | 'ip-handshake-limit' | 'unknown-connection' | 'reset-rate-limit' | 'too-small-to-reset'

/** What to do with one datagram. */
export type EndpointResult<H> =
  | { readonly kind: 'connection', readonly handle: H }
  | { readonly kind: 'accept', readonly incoming: IncomingConnection }
  | { readonly kind: 'respond', readonly datagram: Uint8Array, readonly reason: 'version-negotiation' | 'retry' | 'stateless-reset' }
  | { readonly kind: 'drop', readonly reason: EndpointDropReason }

interface Entry<H> {
  readonly handle: H
  readonly cids: Set<string>
  readonly tokens: Set<string>
  ip: string | undefined // set while it counts as a handshake
}

const hex = (b: Uint8Array): string => {
  let s = ''
  for (const x of b) s += (x < 16 ? '0' : '') + x.toString(16)
  return s
}
const TOKEN_NONCE = 12

/**
 * The key a remote address's handshakes are counted under (`maxHandshakesPerIp`): an IPv4 address
 * (an IPv4-mapped IPv6 one too, so a dual-stack socket counts a host once), or the /64 prefix of an
 * IPv6 address, since one host usually holds a whole /64 and could otherwise take every slot with
 * addresses of its own. Text that is not an IP address is its own key.
 */
export function ipBucket(address: string): string {
  const zone = address.indexOf('%')
  const a = (zone >= 0 ? address.slice(0, zone) : address).toLowerCase()
  if (!a.includes(':') || !/^[0-9a-f:.]+$/.test(a)) return a
  if (a.startsWith('::ffff:') && a.includes('.')) return a.slice(7)
  const halves = a.split('::')
  if (halves.length > 2) return a
  const head = halves[0] === '' ? [] : halves[0]!.split(':')
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1]!.split(':') : []
  if (tail.length > 0 && tail[tail.length - 1]!.includes('.')) tail.splice(tail.length - 1, 1, '0', '0') // an embedded IPv4 tail: outside the /64 anyway
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0
  if (fill < 0 || head.length + fill + tail.length !== 8) return a
  const groups = [...head, ...new Array<string>(fill).fill('0'), ...tail].slice(0, 4)
  let out = ''
  for (const g of groups) {
    const v = g.length >= 1 && g.length <= 4 ? Number.parseInt(g, 16) : Number.NaN
    if (Number.isNaN(v)) return a
    out += `${v.toString(16)}:`
  }
  return `${out}:/64`
}
const te = new TextEncoder()

/** One socket's QUIC endpoint (see the file comment). */
export class QuicEndpoint<H> {
  readonly #o: QuicEndpointOptions
  readonly #limits: QuicEndpointLimits
  readonly #cidLength: number
  readonly #tokenKey: Uint8Array
  readonly #routes = new Map<string, Entry<H>>()
  readonly #resetTokens = new Map<string, Entry<H>>()
  readonly #entries = new Map<H, Entry<H>>()
  readonly #perIp = new Map<string, number>()
  #handshakes = 0
  #resetBudget: number
  #resetAt: number | undefined
  /** Counters for tests and metrics. */
  readonly stats = { routed: 0, accepted: 0, versionNegotiations: 0, retries: 0, statelessResets: 0, dropped: 0, invalidTokens: 0 }

  constructor(o: QuicEndpointOptions) {
    const limits = { ...DEFAULT_ENDPOINT_LIMITS, ...o.limits }
    for (const [k, v] of Object.entries(limits)) if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`limits.${k} must be a non-negative integer`)
    if (limits.maxConnectionIdsPerConnection < 2) throw new RangeError('limits.maxConnectionIdsPerConnection must be at least 2')
    const len = o.connectionIdLength ?? 8
    if (!Number.isInteger(len) || len < 4 || len > 20) throw new RangeError('connectionIdLength must be 4..20 (RFC 9000 §17.2; at least 4 to be unguessable enough)')
    if (o.staticKey.length < 32) throw new RangeError('staticKey must be at least 32 bytes')
    this.#o = o
    this.#limits = limits
    this.#cidLength = len
    this.#tokenKey = o.crypto.base.hmacSha256(o.staticKey, te.encode('weft quic retry token')).slice(0, 16)
    this.#resetBudget = limits.statelessResetsPerSecond
  }

  /** Length of the connection ids we issue. */
  get connectionIdLength(): number { return this.#cidLength }
  /** Connections routed now. */
  get connectionCount(): number { return this.#entries.size }
  /** Connections still handshaking. */
  get handshakeCount(): number { return this.#handshakes }
  /** Sizes of the routing state (connection ids routed, peer reset tokens, per-IP counters): for tests and metrics, each bounded by the limits. */
  get routingEntries(): { connectionIds: number, resetTokens: number, ips: number } {
    return { connectionIds: this.#routes.size, resetTokens: this.#resetTokens.size, ips: this.#perIp.size }
  }
  /** Handshakes counted for the IP (or IPv6 /64) of `address`. */
  handshakesFrom(address: string): number { return this.#perIp.get(ipBucket(address)) ?? 0 }

  /** A fresh connection id of our length. */
  newConnectionId(): Uint8Array {
    return this.#o.random(this.#cidLength)
  }

  /** The stateless reset token of one of our connection ids (QuicConnectionOptions.statelessResetToken). */
  resetToken(connectionId: Uint8Array): Uint8Array {
    return statelessResetToken(this.#o.crypto.base, this.#o.staticKey, connectionId)
  }

  /** One received datagram: where it goes (see the file comment). */
  handleDatagram(now: number, remote: QuicRemote, datagram: Uint8Array): EndpointResult<H> {
    if (datagram.length === 0) return this.#drop('unparseable')
    if ((datagram[0]! & 0x80) === 0) return this.#short(now, datagram)
    const parsed = parseDatagram(datagram, this.#cidLength, { maxCoalescedPackets: 1 })
    const p = parsed.packets[0]
    if (p === undefined) return this.#drop('unparseable')
    const known = this.#routes.get(hex(p.dcid))
    if (known !== undefined) {
      this.stats.routed++
      return { kind: 'connection', handle: known.handle }
    }
    if (p.type === 'unsupported_version') {
      const vn = versionNegotiationFor(p, datagram.length, { versions: [QUIC_V1], unused: this.#o.random(1)[0]! })
      if (vn === undefined) return this.#drop('initial-too-small')
      this.stats.versionNegotiations++
      return { kind: 'respond', datagram: vn, reason: 'version-negotiation' }
    }
    if (p.type !== 'initial') return this.#drop('unknown-connection')
    // RFC 9000 §14.1: a server MUST discard an Initial in a datagram smaller than 1200 bytes
    if (datagram.length < MIN_INITIAL_DATAGRAM_SIZE) return this.#drop('initial-too-small')
    if (this.#o.server === false) return this.#drop('not-a-server')
    // §7.2: the client's first DCID is at least 8 bytes (the Initial keys' entropy)
    if (p.dcid.length < 8) return this.#drop('short-dcid')
    if (this.#entries.size >= this.#limits.maxConnections) return this.#drop('connection-limit')
    if (this.#handshakes >= this.#limits.maxHandshakes) return this.#drop('handshake-limit')
    if ((this.#perIp.get(ipBucket(remote.address)) ?? 0) >= this.#limits.maxHandshakesPerIp) return this.#drop('ip-handshake-limit')
    const validated = p.token.length > 0 ? this.#openToken(now, remote, p.token, p.dcid) : undefined
    if (validated !== undefined) {
      this.stats.accepted++
      return {
        kind: 'accept',
        incoming: {
          remote, localConnectionId: this.newConnectionId(), remoteConnectionId: p.scid.slice(),
          originalDestinationConnectionId: validated, retrySourceConnectionId: p.dcid.slice(), addressValidated: true,
        },
      }
    }
    const policy = this.#o.retry ?? 'under-load'
    if (policy === 'always' || (policy === 'under-load' && this.#handshakes * 2 >= this.#limits.maxHandshakes)) {
      const scid = this.newConnectionId()
      const token = this.#sealToken(now, remote, p.dcid, scid)
      this.stats.retries++
      return { kind: 'respond', datagram: buildRetry(this.#o.crypto, { dcid: p.scid, scid, token, odcid: p.dcid }), reason: 'retry' }
    }
    this.stats.accepted++
    return {
      kind: 'accept',
      incoming: { remote, localConnectionId: this.newConnectionId(), remoteConnectionId: p.scid.slice(), originalDestinationConnectionId: p.dcid.slice(), addressValidated: false },
    }
  }

  /** Start routing a server connection built from `incoming` (after an 'accept' result). */
  accept(handle: H, incoming: IncomingConnection): void {
    const e = this.#add(handle, incoming.localConnectionId)
    this.#route(e, incoming.originalDestinationConnectionId)
    if (incoming.retrySourceConnectionId !== undefined) this.#route(e, incoming.retrySourceConnectionId)
    e.ip = ipBucket(incoming.remote.address)
    this.#handshakes++
    this.#perIp.set(e.ip, (this.#perIp.get(e.ip) ?? 0) + 1)
  }

  /** Start routing a client connection whose first connection id is `localConnectionId` (from `newConnectionId()`). */
  connect(handle: H, localConnectionId: Uint8Array): void {
    this.#add(handle, localConnectionId)
  }

  /** A connection's event: connection ids issued and retired, the peer's reset tokens, confirmation, closed. */
  handleEvent(handle: H, event: QuicConnectionEvent): void {
    const e = this.#entries.get(handle)
    if (e === undefined) return
    switch (event.kind) {
      case 'connection-id-issued':
        this.#route(e, event.connectionId)
        break
      case 'connection-id-retired': {
        const k = hex(event.connectionId)
        if (e.cids.delete(k)) this.#routes.delete(k)
        break
      }
      case 'peer-reset-token': {
        if (event.token.length !== STATELESS_RESET_TOKEN_LENGTH || e.tokens.size >= this.#limits.maxConnectionIdsPerConnection) break
        const k = hex(event.token)
        e.tokens.add(k)
        this.#resetTokens.set(k, e)
        break
      }
      case 'handshake-confirmed':
        this.#handshakeOver(e)
        break
      case 'closed':
        this.remove(handle)
        break
      default:
    }
  }

  /** Stop routing a connection (closed, refused, destroyed). */
  remove(handle: H): void {
    const e = this.#entries.get(handle)
    if (e === undefined) return
    this.#handshakeOver(e)
    for (const k of e.cids) if (this.#routes.get(k) === e) this.#routes.delete(k)
    for (const k of e.tokens) if (this.#resetTokens.get(k) === e) this.#resetTokens.delete(k)
    this.#entries.delete(handle)
  }

  // ---- internals ----

  #short(now: number, datagram: Uint8Array): EndpointResult<H> {
    if (datagram.length < 1 + this.#cidLength) return this.#drop('unparseable')
    const known = this.#routes.get(hex(datagram.subarray(1, 1 + this.#cidLength)))
    if (known !== undefined) {
      this.stats.routed++
      return { kind: 'connection', handle: known.handle }
    }
    // §10.3.1: a stateless reset from a peer carries random bytes where the DCID was: find its connection by the token
    if (datagram.length >= 21) {
      const byToken = this.#resetTokens.get(hex(datagram.subarray(datagram.length - STATELESS_RESET_TOKEN_LENGTH)))
      if (byToken !== undefined) {
        this.stats.routed++
        return { kind: 'connection', handle: byToken.handle }
      }
    }
    // §10.3: tell the peer we lost its connection, at most statelessResetsPerSecond times a second
    // size and budget first: a flood of short packets to unknown ids costs no HMAC past the budget
    if (datagram.length - 1 < MIN_STATELESS_RESET_SIZE) return this.#drop('too-small-to-reset')
    if (!this.#takeResetBudget(now)) return this.#drop('reset-rate-limit')
    const reset = buildStatelessReset(this.resetToken(datagram.subarray(1, 1 + this.#cidLength)), datagram.length, this.#o.random)
    if (reset === undefined) return this.#drop('too-small-to-reset')
    this.stats.statelessResets++
    return { kind: 'respond', datagram: reset, reason: 'stateless-reset' }
  }

  #takeResetBudget(now: number): boolean {
    const rate = this.#limits.statelessResetsPerSecond
    if (this.#resetAt !== undefined && now > this.#resetAt) this.#resetBudget = Math.min(rate, this.#resetBudget + ((now - this.#resetAt) * rate) / 1000)
    this.#resetAt = this.#resetAt === undefined ? now : Math.max(this.#resetAt, now)
    if (this.#resetBudget < 1) return false
    this.#resetBudget -= 1
    return true
  }

  #add(handle: H, cid: Uint8Array): Entry<H> {
    if (this.#entries.has(handle)) throw new RangeError('this handle is routed already')
    const e: Entry<H> = { handle, cids: new Set(), tokens: new Set(), ip: undefined }
    this.#entries.set(handle, e)
    this.#route(e, cid)
    return e
  }

  #route(e: Entry<H>, cid: Uint8Array): void {
    if (e.cids.size >= this.#limits.maxConnectionIdsPerConnection) return
    const k = hex(cid)
    if (this.#routes.has(k)) return // a collision (random ids): the first owner keeps it
    e.cids.add(k)
    this.#routes.set(k, e)
  }

  #handshakeOver(e: Entry<H>): void {
    if (e.ip === undefined) return
    this.#handshakes--
    const n = (this.#perIp.get(e.ip) ?? 1) - 1
    if (n <= 0) this.#perIp.delete(e.ip)
    else this.#perIp.set(e.ip, n)
    e.ip = undefined
  }

  #drop(reason: EndpointDropReason): EndpointResult<H> {
    this.stats.dropped++
    return { kind: 'drop', reason }
  }

  /**
   * A Retry token (RFC 9000 §8.1.4): AES-128-GCM under a key derived from staticKey, nonce random,
   * additional data the client's IP address; plaintext the issue time (ms, 6 bytes), the original
   * DCID and the Retry's SCID.
   */
  #sealToken(now: number, remote: QuicRemote, odcid: Uint8Array, scid: Uint8Array): Uint8Array {
    const plain = new Uint8Array(6 + 1 + odcid.length + 1 + scid.length)
    const t = Math.max(0, Math.floor(now))
    for (let i = 0; i < 6; i++) plain[i] = Math.floor(t / 2 ** (8 * (5 - i))) & 0xff
    plain[6] = odcid.length
    plain.set(odcid, 7)
    plain[7 + odcid.length] = scid.length
    plain.set(scid, 8 + odcid.length)
    const nonce = this.#o.random(TOKEN_NONCE)
    const sealed = this.#o.crypto.aes128GcmSeal(this.#tokenKey, nonce, plain, te.encode(remote.address))
    const out = new Uint8Array(TOKEN_NONCE + sealed.length)
    out.set(nonce)
    out.set(sealed, TOKEN_NONCE)
    return out
  }

  /** The original DCID of a valid token for this address and DCID (the Retry's SCID), else undefined (then the Initial is treated as tokenless). */
  #openToken(now: number, remote: QuicRemote, token: Uint8Array, dcid: Uint8Array): Uint8Array | undefined {
    if (token.length < TOKEN_NONCE + 16 + 8) return this.#invalidToken()
    const plain = this.#o.crypto.aes128GcmOpen(this.#tokenKey, token.subarray(0, TOKEN_NONCE), token.subarray(TOKEN_NONCE), te.encode(remote.address))
    if (plain === undefined || plain.length < 8) return this.#invalidToken()
    let issued = 0
    for (let i = 0; i < 6; i++) issued = issued * 256 + plain[i]!
    if (now < issued || now - issued > this.#limits.tokenLifetime) return this.#invalidToken()
    const olen = plain[6]!
    if (7 + olen + 1 > plain.length) return this.#invalidToken()
    const odcid = plain.slice(7, 7 + olen)
    const slen = plain[7 + olen]!
    const scid = plain.subarray(8 + olen, 8 + olen + slen)
    if (scid.length !== slen || scid.length !== dcid.length || !scid.every((x, i) => x === dcid[i])) return this.#invalidToken()
    return odcid
  }

  #invalidToken(): undefined {
    this.stats.invalidTokens++
    return undefined
  }
}
