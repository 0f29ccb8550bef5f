/**
 * The resource manager's limits (spec/resource-manager.md): one `ScopeLimits` per scope, defaults
 * scaled to the machine's memory as go-libp2p's `AutoScale()` does, partial overrides, validation of
 * user input (`weft node --limits <file.json>`), and the coherence rule with the connection manager.
 *
 * Pure: the machine's memory comes in as `memoryBytes` (weft/node's createNode passes os.totalmem(); a browser
 * passes nothing and gets the base limits).
 */
import { UsageError } from '../core/errors.js'

/** Every limit of one scope. `Infinity` = unlimited. Connections and streams count both directions
 * against the total and each direction against its own limit. */
export interface ScopeLimits {
  /** Connections, both directions. */
  conns: number
  /** Inbound connections. */
  connsInbound: number
  /** Outbound connections. */
  connsOutbound: number
  /** Streams, both directions. */
  streams: number
  /** Inbound streams. */
  streamsInbound: number
  /** Outbound streams. */
  streamsOutbound: number
  /** Bytes reserved (see `streamMemory`). */
  memory: number
}

/**
 * The resource manager's limits per scope (spec/swarm.md "Resource manager"; go-libp2p's rcmgr): the
 * whole node, each peer, each protocol, each service, and transient (not yet attributed) resources.
 */
export interface ResourceLimits {
  /** The whole node. */
  system: ScopeLimits
  /** Connections before the security handshake names their peer. */
  transient: ScopeLimits
  /** Each remote peer (default for every peer). */
  peer: ScopeLimits
  /** Each protocol (default), and per-protocol overrides merged over it. */
  protocol: ScopeLimits
  /** Per-protocol overrides, by protocol id, merged over `protocol`. */
  protocols: Record<string, Partial<ScopeLimits>>
  /** Each service (the behaviour owning the protocol: 'identify', 'ping', 'dht', 'pubsub'...), default and overrides. */
  service: ScopeLimits
  /** Per-service overrides, by service name, merged over `service`. */
  services: Record<string, Partial<ScopeLimits>>
  /** Each (protocol, peer) pair: default and per-protocol overrides (go's built-in ping / identify limits). */
  protocolPeer: ScopeLimits
  /** Per-protocol overrides of the (protocol, peer) scope, merged over `protocolPeer`. */
  protocolsPeer: Record<string, Partial<ScopeLimits>>
  /** Each connection (its streams and their memory). */
  connection: ScopeLimits
  /** Each stream (its memory). */
  stream: ScopeLimits
  /** Bytes a stream the USER handles reserves while open: the yamux initial receive window, which the
   * remote may fill before the application reads a byte (the edge buffers it). Behaviour streams
   * reserve nothing: the swarm hands their bytes to the behaviour at once, whose own message limits
   * bound them. Default 256 KiB (spec/yamux.md `initialWindow`). */
  streamMemory: number
}

/** What `createNode({ resources })` and `--limits` take: any subset, scope by scope and field by field. */
export type ResourceLimitsInit = {
  [K in keyof ResourceLimits]?: ResourceLimits[K] extends number ? number
    : ResourceLimits[K] extends ScopeLimits ? Partial<ScopeLimits>
    : Record<string, Partial<ScopeLimits>>
}

export const SCOPE_FIELDS = ['conns', 'connsInbound', 'connsOutbound', 'streams', 'streamsInbound', 'streamsOutbound', 'memory'] as const
const SCOPES = ['system', 'transient', 'peer', 'protocol', 'service', 'protocolPeer', 'connection', 'stream'] as const
const MAPS = ['protocols', 'services', 'protocolsPeer'] as const

const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB

/** Every limit unlimited: `{ ...unlimited }` in a scope, or `unlimitedLimits()` for a whole config. */
export const unlimited: Readonly<ScopeLimits> = Object.freeze({
  conns: Infinity, connsInbound: Infinity, connsOutbound: Infinity,
  streams: Infinity, streamsInbound: Infinity, streamsOutbound: Infinity, memory: Infinity,
})

/** No limit anywhere (the built-in per-protocol limits are gone too). */
export function unlimitedLimits(): ResourceLimits {
  return {
    system: { ...unlimited }, transient: { ...unlimited }, peer: { ...unlimited }, protocol: { ...unlimited }, protocols: {},
    service: { ...unlimited }, services: {}, protocolPeer: { ...unlimited }, protocolsPeer: {},
    connection: { ...unlimited }, stream: { ...unlimited }, streamMemory: 256 * KiB,
  }
}

function lim(conns: number, connsInbound: number, connsOutbound: number, streams: number, streamsInbound: number, streamsOutbound: number, memory: number): ScopeLimits {
  return { conns, connsInbound, connsOutbound, streams, streamsInbound, streamsOutbound, memory }
}

/**
 * Base limits and their increase per GiB of memory allowed to libp2p (go-libp2p `DefaultLimits`,
 * `limit_defaults.go`), except the system connection limits, raised so that the default connection
 * manager (high water 192) trims long before the hard limit refuses (kubo #9545: at least 2 x high).
 * Each names the attack it stops (the table in spec/resource-manager.md).
 */
const BASE = {
  // the node as a whole: file descriptors and memory of a connection / stream flood
  system: { base: lim(512, 384, 512, 2048, 1024, 2048, 128 * MiB), inc: lim(128, 64, 128, 2048, 1024, 2048, 1 * GiB) },
  // handshakes in flight: SYN / slow-Noise floods pin sockets before any peer id is known. Inbound is
  // twice the swarm's pending-inbound slots (64): those slots, with the per-IP fairness eviction
  // (src/swarm/ip-limits.ts), decide who waits; this is the backstop while evicted ones close.
  transient: { base: lim(256, 128, 128, 256, 128, 256, 32 * MiB), inc: lim(32, 16, 32, 256, 128, 256, 128 * MiB) },
  // one peer hogging connection slots, streams or buffers
  peer: { base: lim(8, 8, 8, 512, 256, 512, 64 * MiB), inc: lim(0, 0, 0, 256, 128, 256, 128 * MiB) },
  // one protocol (a flood on kad) starving the others
  protocol: { base: lim(Infinity, Infinity, Infinity, 2048, 512, 2048, 64 * MiB), inc: lim(0, 0, 0, 512, 256, 512, 164 * MiB) },
  // one service starving the others
  service: { base: lim(Infinity, Infinity, Infinity, 4096, 1024, 4096, 64 * MiB), inc: lim(0, 0, 0, 2048, 512, 2048, 128 * MiB) },
  // one peer flooding one protocol (memory increase: go's is 4 bytes per GiB, read as 4 MiB, its service-peer figure)
  protocolPeer: { base: lim(Infinity, Infinity, Infinity, 256, 64, 128, 16 * MiB), inc: lim(0, 0, 0, 16, 4, 8, 4 * MiB) },
  // one connection's streams inflating buffers (yamux maxStreams bounds the count)
  connection: { base: lim(1, 1, 1, Infinity, Infinity, Infinity, 32 * MiB), inc: lim(0, 0, 0, 0, 0, 0, 0) },
  // one stream's buffers
  stream: { base: lim(Infinity, Infinity, Infinity, 1, 1, 1, 16 * MiB), inc: lim(0, 0, 0, 0, 0, 0, 0) },
} as const

/** go-libp2p's built-in per-peer protocol limits for the protocols weft serves (limits.go
 * `SetDefaultServiceLimits`): stream floods on cheap protocols. Ping's inbound 2 is spec/ping.md's
 * "at most two streams per peer"; src/node wiring makes it follow `ping.maxInboundStreams`. */
export const BUILTIN_PROTOCOL_PEER_LIMITS: Readonly<Record<string, Partial<ScopeLimits>>> = Object.freeze({
  '/ipfs/ping/1.0.0': { streamsInbound: 2, streamsOutbound: 3, streams: 4 },
  '/ipfs/id/1.0.0': { streamsInbound: 16, streamsOutbound: 16, streams: 32 },
  '/ipfs/id/push/1.0.0': { streamsInbound: 16, streamsOutbound: 16, streams: 32 },
})

/** Memory libp2p may use, from the machine's: go's AutoScale takes total RAM / 8. */
export function allowedMemory(memoryBytes: number | undefined): number {
  return memoryBytes === undefined || !(memoryBytes > 0) ? 0 : Math.floor(memoryBytes / 8)
}

function scale(base: ScopeLimits, inc: ScopeLimits, mib: number): ScopeLimits {
  const out = { ...base }
  for (const f of SCOPE_FIELDS) {
    if (!Number.isFinite(base[f]) || inc[f] === 0) continue
    // go: base + inc * MiB / 1024 (integer); memory increases are bytes per GiB
    out[f] = base[f] + Math.floor((inc[f] * mib) / 1024)
  }
  return out
}

/**
 * Default limits for a machine with `memoryBytes` of RAM (undefined: the base limits, as a browser
 * gets). As go's `ScalingLimitConfig.Scale(totalRAM / 8)`: below 128 MiB allowed (1 GiB of RAM) the
 * base applies; above, each limit grows by its increase per GiB allowed. `highWater` (the connection
 * manager's, default 192) raises the system connection limits to at least 2 x highWater and the
 * system stream limits to at least 4 x highWater (no change at the default).
 */
export function autoscale(memoryBytes?: number, highWater = 192): ResourceLimits {
  const allowed = allowedMemory(memoryBytes)
  const mib = allowed > 128 * MiB ? Math.floor(allowed / MiB) : 0
  const pick = (k: keyof typeof BASE): ScopeLimits => scale(BASE[k].base, BASE[k].inc, mib)
  const system = pick('system')
  const floor = 2 * highWater
  system.conns = Math.max(system.conns, floor)
  system.connsInbound = Math.max(system.connsInbound, floor)
  system.connsOutbound = Math.max(system.connsOutbound, floor)
  // each connected peer holds a few long-lived streams (gossipsub one each way, kad, identify push):
  // room for 4 per peer at high water, so a node told to keep 10,000 peers is not refused streams
  for (const f of ['streams', 'streamsInbound', 'streamsOutbound'] as const) system[f] = Math.max(system[f], 4 * highWater)
  return {
    system, transient: pick('transient'), peer: pick('peer'), protocol: pick('protocol'), protocols: {},
    service: pick('service'), services: {}, protocolPeer: pick('protocolPeer'),
    protocolsPeer: Object.fromEntries(Object.entries(BUILTIN_PROTOCOL_PEER_LIMITS).map(([p, l]) => [p, { ...l }])),
    connection: pick('connection'), stream: pick('stream'), streamMemory: 256 * KiB,
  }
}

/** `base` with `init` applied field by field (per-protocol / per-service maps merge by key). */
export function applyLimits(base: ResourceLimits, init: ResourceLimitsInit | undefined): ResourceLimits {
  const out: ResourceLimits = structuredCloneLimits(base)
  if (init === undefined) return out
  checkInit(init, RangeError)
  for (const s of SCOPES) if (init[s] !== undefined) Object.assign(out[s], init[s])
  for (const m of MAPS) {
    for (const [k, v] of Object.entries(init[m] ?? {})) out[m][k] = { ...out[m][k], ...v }
  }
  if (init.streamMemory !== undefined) out.streamMemory = init.streamMemory
  return out
}

function structuredCloneLimits(l: ResourceLimits): ResourceLimits {
  const out = { ...l } as ResourceLimits
  for (const s of SCOPES) out[s] = { ...l[s] }
  for (const m of MAPS) out[m] = Object.fromEntries(Object.entries(l[m]).map(([k, v]) => [k, { ...v }]))
  return out
}

/** The limits of one named protocol / service / protocol-peer scope. */
export function limitsFor(def: ScopeLimits, overrides: Record<string, Partial<ScopeLimits>>, name: string): ScopeLimits {
  const o = Object.prototype.hasOwnProperty.call(overrides, name) ? overrides[name] : undefined
  return o === undefined ? def : { ...def, ...o }
}

type ErrorCtor = new (message: string) => Error

function checkScope(path: string, v: unknown, Err: ErrorCtor): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Err(`${path} must be an object of limits`)
  for (const [k, n] of Object.entries(v)) {
    if (!(SCOPE_FIELDS as readonly string[]).includes(k)) throw new Err(`${path}.${k} is not a limit (one of ${SCOPE_FIELDS.join(', ')})`)
    if (typeof n !== 'number' || !(n >= 0) || (Number.isFinite(n) && !Number.isInteger(n))) throw new Err(`${path}.${k} must be a non-negative integer or Infinity`)
  }
}

function checkInit(init: unknown, Err: ErrorCtor): void {
  if (typeof init !== 'object' || init === null || Array.isArray(init)) throw new Err('resources must be an object')
  for (const [k, v] of Object.entries(init)) {
    if ((SCOPES as readonly string[]).includes(k)) checkScope(k, v, Err)
    else if ((MAPS as readonly string[]).includes(k)) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Err(`${k} must be an object keyed by name`)
      for (const [name, l] of Object.entries(v)) checkScope(`${k}[${JSON.stringify(name)}]`, l, Err)
    } else if (k === 'streamMemory') {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Err('streamMemory must be a non-negative integer')
    } else {
      throw new Err(`${k} is not a resource scope (one of ${[...SCOPES, ...MAPS, 'streamMemory'].join(', ')})`)
    }
  }
}

/**
 * Parse the JSON text of a limits file (`weft node --limits <file.json>`): the shape of
 * `ResourceLimitsInit`, where a limit may also be the string "unlimited" (JSON has no Infinity).
 * A bad file is a UsageError ('resources/bad-limits') whose message names the bad field.
 */
export function parseLimitsJson(text: string): ResourceLimitsInit {
  let raw: unknown
  try {
    raw = JSON.parse(text, (_k, v: unknown) => (v === 'unlimited' ? Infinity : v))
  } catch (e) {
    throw new UsageError('resources/bad-limits', `not JSON: ${(e as Error).message}`)
  }
  class Bad extends UsageError {
    constructor(message: string) {
      super('resources/bad-limits', message)
    }
  }
  checkInit(raw, Bad)
  return raw as ResourceLimitsInit
}

/**
 * The coherence rule (go-libp2p #2628, kubo #9545): the connection manager must trim before a hard
 * limit refuses, so the system's connection limits should be at least 2 x highWater. Returns one
 * sentence per broken rule (empty when coherent); the node reports them in `resources().warnings`.
 */
export function coherenceWarnings(l: ResourceLimits, highWater: number): string[] {
  const out: string[] = []
  for (const f of ['conns', 'connsInbound'] as const) {
    if (l.system[f] < 2 * highWater) {
      out.push(`system.${f} (${l.system[f]}) is below 2 x the connection manager's highWater (${highWater}): connections will be refused before the connection manager trims`)
    }
  }
  return out
}
