/** AutoNAT's options (with the attack each limit stops) and events. */
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { NodeReachability, Reachability } from './tracker.js'

/**
 * Options of the AutoNAT server: which versions to serve and the limits that stop it being used to make us dial others (spec/autonat.md "Limits").
 */
export interface AutoNATServerOptions {
  /** Serve `/libp2p/autonat/1.0.0`. Default true. */
  v1: boolean
  /** Serve `/libp2p/autonat/2/dial-request`. Default true. */
  v2: boolean
  /**
   * Dial back private, loopback and other non-public addresses. Default false: go, rust and the
   * spec refuse them (a public server asked to dial 10.0.0.1 would probe its own LAN). Tests on
   * loopback need true. The observed-IP rule holds either way.
   */
  allowPrivateAddrs: boolean
  /** v2 requests served per `rateWindow` from everyone. Default 60 (go). Stops the server being used as a dialing engine. */
  globalRequests: number
  /** v2 requests served per `rateWindow` from one peer. Default 12 (go). Stops one peer taking the whole budget. */
  peerRequests: number
  /** v2 requests needing dial data (another IP) per `rateWindow`. Default 12 (go). Bounds dials to third-party IPs. */
  dialDataRequests: number
  /** v2 requests of one peer in progress at once. Default 2 (go). Stops one peer tying up many dials. */
  maxConcurrentPerPeer: number
  /** v2 requests in progress at once in all. Default 32. Bounds state and open dials. */
  maxConcurrent: number
  /** v1 requests per `rateWindow` from everyone. Default 30 (go throttleGlobalMax). */
  v1GlobalRequests: number
  /** v1 requests per `rateWindow` from one peer. Default 3 (go throttlePeerMax). */
  v1PeerRequests: number
  /** The rate limits' window, ms. Default 60 000. */
  rateWindow: number
  /** Addresses of one v2 request considered. Default 50 (go maxPeerAddresses). Bounds parsing work per request. */
  maxRequestAddrs: number
  /** Addresses of one v1 request dialled (after the IP is replaced). Default 16 (go maxPeerAddresses). Bounds dials per request. */
  v1MaxDialAddrs: number
  /** Dial data asked for when the address's IP is not the observed one: uniform in [min, max). Default 30 000 / 100 000 (spec, go). */
  minDialDataBytes: number
  maxDialDataBytes: number
  /** Smallest non-final DialDataResponse chunk. Default 100 (go). Stops a client paying in 1-byte messages that cost us more than it. */
  minDialDataChunk: number
  /** Random wait [0, this] before an amplification dial, ms. Default 3000 (go). Stops many servers being synchronised onto one victim. */
  amplificationJitter: number
  /** A v2 request from the stream's opening to our response, ms. Default 15 000 (go streamTimeout). Stops slow clients holding state. */
  streamTimeout: number
  /** From opening the dial-back stream to its response, ms. Default 5000 (go dialBackStreamTimeout). */
  dialBackTimeout: number
  /** A v1 request from the stream's opening to our response, ms. Default 60 000 (go). */
  v1StreamTimeout: number
  /**
   * Dial-back connections are closed this long after use, ms, unless the client sent an AutoNAT
   * request on one meanwhile (go's client opens its next request on any connection to us, the
   * dial-back one included; go's server avoids that with a separate identity). Default 1000; 0 closes at once.
   */
  dialBackCloseDelay: number
}

/** Default `AutoNATServerOptions` (spec/autonat.md "Limits"). */
export const DEFAULT_SERVER_OPTIONS: Readonly<AutoNATServerOptions> = Object.freeze({
  v1: true,
  v2: true,
  allowPrivateAddrs: false,
  globalRequests: 60,
  peerRequests: 12,
  dialDataRequests: 12,
  maxConcurrentPerPeer: 2,
  maxConcurrent: 32,
  v1GlobalRequests: 30,
  v1PeerRequests: 3,
  rateWindow: 60_000,
  maxRequestAddrs: 50,
  v1MaxDialAddrs: 16,
  minDialDataBytes: 30_000,
  maxDialDataBytes: 100_000,
  minDialDataChunk: 100,
  amplificationJitter: 3000,
  streamTimeout: 15_000,
  dialBackTimeout: 5000,
  v1StreamTimeout: 60_000,
  dialBackCloseDelay: 1000,
})

/** Options of the AutoNAT client: versions, probe schedule and how many verdicts make a conclusion. */
export interface AutoNATClientOptions {
  /** Probe with v2 servers (per-address verdicts). Default true. */
  v2: boolean
  /** Probe with v1 servers (node-level verdict). Default true. */
  v1: boolean
  /** Test private and loopback addresses too. Default false (the spec: clients SHOULD NOT send them). */
  allowPrivateAddrs: boolean
  /** Addresses tracked. Default 16. Stops peers' observed addresses growing our probe work without bound. */
  maxCandidates: number
  /** Probes in flight at once. Default 2. */
  maxConcurrentProbes: number
  /** A server is not asked again for this long after it answered, ms. Default 120 000 (go's v2 client; v1 uses 90 s). Spreads load over servers. */
  serverThrottle: number
  /** A probe from opening the stream to the verdict, ms. Default 30 000 (go, rust). */
  probeTimeout: number
  /** After an OK response, how long to wait for its dial-back before discarding the response, ms. Default 2000. */
  dialBackGrace: number
  /** Dial data we pay at most; a larger DialDataRequest is refused (stream reset). Default 100 000 (go). 0 refuses every request. */
  maxDialDataBytes: number
  /** Inbound dial-back streams being read at once. Default 8. Stops unknown peers holding many dial-back streams. */
  maxDialBackStreams: number
  /** An inbound dial-back stream must deliver its DialBack within this, ms. Default 5000 (go dialBackStreamTimeout). Stops idle dial-back streams. */
  dialBackTimeout: number
  /** A settled address is probed again after this long, ms. Default 3 600 000 (go: 1 h). */
  refreshInterval: number
  /** Wait after an inconclusive probe of an address: doubles from this, ms. Default 5000, at most `maxBackoff` (300 000). */
  backoff: number
  maxBackoff: number
  /** Confidence rule (src/autonat/tracker.ts). */
  minConfidence: number
  targetConfidence: number
  window: number
}

/** Default `AutoNATClientOptions` (spec/autonat.md). */
export const DEFAULT_CLIENT_OPTIONS: Readonly<AutoNATClientOptions> = Object.freeze({
  v2: true,
  v1: true,
  allowPrivateAddrs: false,
  maxCandidates: 16,
  maxConcurrentProbes: 2,
  serverThrottle: 120_000,
  probeTimeout: 30_000,
  dialBackGrace: 2000,
  maxDialDataBytes: 100_000,
  maxDialBackStreams: 8,
  dialBackTimeout: 5000,
  refreshInterval: 3_600_000,
  backoff: 5000,
  maxBackoff: 300_000,
  minConfidence: 2,
  targetConfidence: 3,
  window: 5,
})

/** How a request we served ended. */
export type ServedOutcome =
  | 'dial-ok' | 'dial-error' | 'dial-back-error'
  | 'refused' | 'rejected' | 'bad-request' | 'dial-data-refused' | 'aborted'

/** What a probe told us. */
export type ProbeOutcome = 'reachable' | 'unreachable' | 'inconclusive'

/**
 * Events of the AutoNAT behaviour: requests served or refused (server), probe verdicts and reachability changes (client).
 */
export type AutoNATEvent =
  /** We served a request (server). `addr`: the address chosen; `dialDataBytes`: dial data received (v2, another IP). */
  /** v1 `refused`: `refusal` says why (the observed address cannot be dialed, or no requested address can). */
  | { type: 'served'; peer: PeerId; version: 1 | 2; outcome: ServedOutcome; addr?: Multiaddr; reason?: string; dialDataBytes?: number; refusal?: 'dial-blocked' | 'no-valid-address' }
  /**
   * A probe ended (client). v2: `addr` is the address tested; v1: the address the server reports,
   * and `v1Status` the DialResponse status the server answered (absent when none came).
   */
  | { type: 'probe'; server: PeerId; version: 1 | 2; outcome: ProbeOutcome; addr?: Multiaddr; reason?: string; v1Status?: number }
  /** An address's verdict changed (client). */
  | { type: 'addr-reachability'; addr: Multiaddr; reachability: Reachability }
  /** The node's status changed (client). */
  | { type: 'status'; reachability: NodeReachability }

/** The verdict on one of our addresses: reachable, unreachable, or unknown. */
export interface AddrStatus {
  /** The address probed. */
  addr: Multiaddr
  /** The verdict: reachable, unreachable or unknown. */
  reachability: Reachability
  /** Probes that reached it (dial-backs that arrived). */
  successes: number
  /** Probes that could not reach it. */
  failures: number
}

/** The client's current conclusion: the node's reachability and each address's status. */
export interface AutoNATStatus {
  /** The node's reachability. */
  reachability: NodeReachability
  /** The verdict on each address probed. */
  addrs: AddrStatus[]
}
