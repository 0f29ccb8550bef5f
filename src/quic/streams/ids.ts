/**
 * QUIC stream ids (RFC 9000 §2.1). The two least significant bits of a stream id say who opened the
 * stream and in which directions it carries data:
 *
 *   bit 0  initiator: 0 = client, 1 = server
 *   bit 1  direction: 0 = bidirectional, 1 = unidirectional
 *
 * so the four types are 0x0 client bidi, 0x1 server bidi, 0x2 client uni, 0x3 server uni, and the
 * n-th stream of a type (counting from 0) has id 4n + type. Ids reach 2^62 - 1; weft keeps them as
 * numbers and does arithmetic, not bit operations (which JavaScript truncates to 32 bits).
 */

/** A QUIC stream id (a 62-bit varint on the wire). */
export type StreamId = number

/** Which end of the connection this is. The client opened the connection. */
export type QuicRole = 'client' | 'server'

/** The largest count of streams of one type (RFC 9000 §4.6): 2^60, so the largest id, 4 * 2^60 - 1, is a 62-bit varint. */
export const MAX_STREAM_COUNT = 2 ** 60

/** Who opened stream `id`. */
export function streamInitiator(id: StreamId): QuicRole {
  return id % 2 === 0 ? 'client' : 'server'
}

/** Does stream `id` carry data both ways? */
export function isBidirectional(id: StreamId): boolean {
  return id % 4 < 2
}

/** The position of stream `id` among the streams of its type (0 for the first one). */
export function streamIndex(id: StreamId): number {
  return Math.floor(id / 4)
}

/** The id of the `index`-th stream of a type (RFC 9000 Table 1). */
export function streamIdOf(initiator: QuicRole, bidirectional: boolean, index: number): StreamId {
  return index * 4 + (initiator === 'server' ? 1 : 0) + (bidirectional ? 0 : 2)
}

/** Was stream `id` opened by the side playing `role`? */
export function isLocal(id: StreamId, role: QuicRole): boolean {
  return streamInitiator(id) === role
}
