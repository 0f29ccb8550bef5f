/**
 * QUIC transport parameters (RFC 9000 §18): the quic_transport_parameters TLS extension's value
 * (RFC 9001 §8.2), a sequence of (id varint, length varint, value). The TLS core carries the bytes;
 * this codec turns them into `TransportParameters` and checks every rule §7.3, §7.4 and §18.2 state
 * about the values: a violation is TRANSPORT_PARAMETER_ERROR. Unknown parameters (including the
 * reserved 31 * N + 27 ids) are ignored (§7.4.2, §18.1).
 */
import { quicError } from './errors.js'
import type { StreamParameters } from './streams/index.js'
import { MAX_CID_LENGTH } from './packet.js'
import { QuicReader, varintSize, writeVarint } from './varint.js'

/** The server's preferred_address (§18.2, §9.6). Addresses in network byte order. */
export interface PreferredAddress {
  readonly ipv4: Uint8Array // 4 bytes, 0.0.0.0 when absent
  readonly ipv4Port: number
  readonly ipv6: Uint8Array // 16 bytes, :: when absent
  readonly ipv6Port: number
  readonly connectionId: Uint8Array // 1..20 bytes
  readonly statelessResetToken: Uint8Array // 16 bytes
}

/** Every transport parameter of RFC 9000 §18.2; absent ones hold their defaults. The six flow-control ones (0x04–0x09: initial_max_data ... initial_max_streams_uni, stream counts at most 2^60) are StreamParameters, the stream layer's view. */
export interface TransportParameters extends StreamParameters {
  /** original_destination_connection_id (0x00): server only. */
  readonly originalDestinationConnectionId?: Uint8Array
  /** max_idle_timeout (0x01), milliseconds; 0: none. */
  readonly maxIdleTimeout: number
  /** stateless_reset_token (0x02): server only, 16 bytes. */
  readonly statelessResetToken?: Uint8Array
  /** max_udp_payload_size (0x03): default 65527, at least 1200. */
  readonly maxUdpPayloadSize: number
  /** ack_delay_exponent (0x0a): default 3, at most 20. */
  readonly ackDelayExponent: number
  /** max_ack_delay (0x0b), milliseconds: default 25, below 2^14. */
  readonly maxAckDelay: number
  /** disable_active_migration (0x0c): an empty value. */
  readonly disableActiveMigration: boolean
  /** preferred_address (0x0d): server only. */
  readonly preferredAddress?: PreferredAddress
  /** active_connection_id_limit (0x0e): default 2, at least 2. */
  readonly activeConnectionIdLimit: number
  /** initial_source_connection_id (0x0f): required from both endpoints (§7.3). */
  readonly initialSourceConnectionId?: Uint8Array
  /** retry_source_connection_id (0x10): server only, after a Retry. */
  readonly retrySourceConnectionId?: Uint8Array
}

export const DEFAULT_TRANSPORT_PARAMETERS: TransportParameters = {
  maxIdleTimeout: 0, maxUdpPayloadSize: 65527, initialMaxData: 0, initialMaxStreamDataBidiLocal: 0, initialMaxStreamDataBidiRemote: 0,
  initialMaxStreamDataUni: 0, initialMaxStreamsBidi: 0, initialMaxStreamsUni: 0, ackDelayExponent: 3, maxAckDelay: 25,
  disableActiveMigration: false, activeConnectionIdLimit: 2,
}

export interface TransportParameterLimits {
  /**
   * Parameters read from one extension, unknown ones included. Stops a peer from filling the TLS
   * extension with thousands of empty unknown parameters for the receiver to walk; more is a
   * TRANSPORT_PARAMETER_ERROR (implementations send about 15, plus a reserved one or two).
   */
  readonly maxParameters: number
}

export const DEFAULT_TRANSPORT_PARAMETER_LIMITS: TransportParameterLimits = { maxParameters: 128 }

type IntKey = 'maxIdleTimeout' | 'maxUdpPayloadSize' | 'initialMaxData' | 'initialMaxStreamDataBidiLocal' | 'initialMaxStreamDataBidiRemote'
  | 'initialMaxStreamDataUni' | 'initialMaxStreamsBidi' | 'initialMaxStreamsUni' | 'ackDelayExponent' | 'maxAckDelay' | 'activeConnectionIdLimit'
type CidKey = 'originalDestinationConnectionId' | 'initialSourceConnectionId' | 'retrySourceConnectionId'

const INT: ReadonlyArray<[number, IntKey]> = [
  [0x01, 'maxIdleTimeout'], [0x03, 'maxUdpPayloadSize'], [0x04, 'initialMaxData'], [0x05, 'initialMaxStreamDataBidiLocal'],
  [0x06, 'initialMaxStreamDataBidiRemote'], [0x07, 'initialMaxStreamDataUni'], [0x08, 'initialMaxStreamsBidi'], [0x09, 'initialMaxStreamsUni'],
  [0x0a, 'ackDelayExponent'], [0x0b, 'maxAckDelay'], [0x0e, 'activeConnectionIdLimit'],
]
const CID: ReadonlyArray<[number, CidKey]> = [[0x00, 'originalDestinationConnectionId'], [0x0f, 'initialSourceConnectionId'], [0x10, 'retrySourceConnectionId']]
const SERVER_ONLY = new Set([0x00, 0x02, 0x0d, 0x10])
const MAX = Number.MAX_SAFE_INTEGER

function invalid(message: string): never {
  throw quicError('TRANSPORT_PARAMETER_ERROR', message)
}

/** Checks the value rules of §18.2 on integer parameters (shared by the encoder and the decoder). */
function checkInt(key: IntKey, v: number, fail: (m: string) => never): void {
  if (key === 'maxUdpPayloadSize' && v < 1200) fail(`max_udp_payload_size ${v} below 1200`)
  if (key === 'ackDelayExponent' && v > 20) fail(`ack_delay_exponent ${v} above 20`)
  if (key === 'maxAckDelay' && v >= 2 ** 14) fail(`max_ack_delay ${v} of 2^14 or more`)
  if (key === 'activeConnectionIdLimit' && v < 2) fail(`active_connection_id_limit ${v} below 2`)
}

/**
 * Decodes the transport parameters an endpoint in role `sender` sent. Throws QuicProtocolError
 * TRANSPORT_PARAMETER_ERROR for a malformed or invalid one, a duplicate, a server-only parameter
 * from a client, or a missing initial_source_connection_id (or original_destination_connection_id
 * from a server). Byte fields are copies.
 */
export function decodeTransportParameters(bytes: Uint8Array, sender: 'client' | 'server', limits: Partial<TransportParameterLimits> = {}): TransportParameters {
  const max = limits.maxParameters ?? DEFAULT_TRANSPORT_PARAMETER_LIMITS.maxParameters
  const r = new QuicReader(bytes, 0, bytes.length, 'TRANSPORT_PARAMETER_ERROR')
  const out: Record<string, unknown> = { ...DEFAULT_TRANSPORT_PARAMETERS }
  const seen = new Set<number>()
  for (let n = 0; r.remaining > 0; n++) {
    if (n >= max) invalid(`more than ${max} transport parameters`)
    const idBig = r.big()
    const len = r.varint()
    const value = r.bytes(len)
    if (idBig > 0x10n) continue // unknown, reserved (31 * N + 27) included: ignored, duplicates too
    const id = Number(idBig)
    if (seen.has(id)) invalid(`transport parameter 0x${id.toString(16)} twice`)
    seen.add(id)
    if (sender === 'client' && SERVER_ONLY.has(id)) invalid(`server-only transport parameter 0x${id.toString(16)} from a client`)
    const int = INT.find(([i]) => i === id)
    if (int !== undefined) {
      const v = new QuicReader(value, 0, value.length, 'TRANSPORT_PARAMETER_ERROR')
      const big = v.big()
      if (v.remaining !== 0) invalid(`transport parameter 0x${id.toString(16)}: ${v.remaining} bytes after its value`)
      if ((int[1] === 'initialMaxStreamsBidi' || int[1] === 'initialMaxStreamsUni') && big > 2n ** 60n) invalid('initial_max_streams above 2^60')
      const n = big > BigInt(MAX) ? MAX : Number(big) // limits above 2^53 - 1 mean "no limit" here (types.ts)
      checkInt(int[1], n, invalid)
      out[int[1]] = n
      continue
    }
    const cid = CID.find(([i]) => i === id)
    if (cid !== undefined) {
      if (value.length > MAX_CID_LENGTH) invalid(`connection id of ${value.length} bytes`)
      out[cid[1]] = value.slice()
      continue
    }
    if (id === 0x02) {
      if (value.length !== 16) invalid(`stateless_reset_token of ${value.length} bytes`)
      out['statelessResetToken'] = value.slice()
    } else if (id === 0x0c) {
      if (value.length !== 0) invalid('disable_active_migration with a value')
      out['disableActiveMigration'] = true
    } else { // 0x0d preferred_address
      out['preferredAddress'] = decodePreferredAddress(value)
    }
  }
  if (!seen.has(0x0f)) invalid('no initial_source_connection_id')
  if (sender === 'server' && !seen.has(0x00)) invalid('no original_destination_connection_id from the server')
  return out as unknown as TransportParameters
}

function decodePreferredAddress(value: Uint8Array): PreferredAddress {
  const r = new QuicReader(value, 0, value.length, 'TRANSPORT_PARAMETER_ERROR')
  const ipv4 = r.bytes(4).slice()
  const ipv4Port = (r.u8() << 8) | r.u8()
  const ipv6 = r.bytes(16).slice()
  const ipv6Port = (r.u8() << 8) | r.u8()
  const len = r.u8()
  if (len < 1 || len > MAX_CID_LENGTH) invalid(`preferred_address connection id of ${len} bytes`)
  const connectionId = r.bytes(len).slice()
  const statelessResetToken = r.bytes(16).slice()
  if (r.remaining !== 0) invalid('bytes after preferred_address')
  return { ipv4, ipv4Port, ipv6, ipv6Port, connectionId, statelessResetToken }
}

/**
 * Encodes transport parameters: every field given that differs from its default, connection ids
 * and tokens when present, in id order. Throws RangeError for a value the peer would refuse.
 */
export function encodeTransportParameters(p: Partial<TransportParameters>): Uint8Array {
  const parts: Array<[number, Uint8Array]> = []
  const d = DEFAULT_TRANSPORT_PARAMETERS
  const bad = (m: string): never => { throw new RangeError(m) }
  for (const [id, key] of CID) {
    const v = p[key]
    if (v === undefined) continue
    if (v.length > MAX_CID_LENGTH) bad(`${key} longer than 20 bytes`)
    parts.push([id, v])
  }
  for (const [id, key] of INT) {
    const v = p[key]
    if (v === undefined || v === d[key]) continue
    if (!Number.isSafeInteger(v) || v < 0) bad(`${key} ${v}`)
    checkInt(key, v, bad)
    const b = new Uint8Array(varintSize(v))
    writeVarint(b, 0, v)
    parts.push([id, b])
  }
  if (p.statelessResetToken !== undefined) {
    if (p.statelessResetToken.length !== 16) bad('stateless_reset_token must be 16 bytes')
    parts.push([0x02, p.statelessResetToken])
  }
  if (p.disableActiveMigration === true) parts.push([0x0c, new Uint8Array(0)])
  if (p.preferredAddress !== undefined) {
    const a = p.preferredAddress
    if (a.ipv4.length !== 4 || a.ipv6.length !== 16 || a.statelessResetToken.length !== 16 || a.connectionId.length < 1 || a.connectionId.length > MAX_CID_LENGTH) bad('malformed preferred_address')
    const b = new Uint8Array(4 + 2 + 16 + 2 + 1 + a.connectionId.length + 16)
    b.set(a.ipv4, 0); b[4] = a.ipv4Port >> 8; b[5] = a.ipv4Port & 0xff
    b.set(a.ipv6, 6); b[22] = a.ipv6Port >> 8; b[23] = a.ipv6Port & 0xff
    b[24] = a.connectionId.length; b.set(a.connectionId, 25); b.set(a.statelessResetToken, 25 + a.connectionId.length)
    parts.push([0x0d, b])
  }
  parts.sort((x, y) => x[0] - y[0])
  const size = parts.reduce((n, [id, v]) => n + varintSize(id) + varintSize(v.length) + v.length, 0)
  const out = new Uint8Array(size)
  let o = 0
  for (const [id, v] of parts) {
    o = writeVarint(out, o, id)
    o = writeVarint(out, o, v.length)
    out.set(v, o)
    o += v.length
  }
  return out
}
