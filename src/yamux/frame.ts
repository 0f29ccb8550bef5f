/**
 * Yamux framing (hashicorp/yamux spec.md, "Framing").
 *
 * Every frame starts with a 12-byte header, all fields in network order (big endian):
 *
 *   Version (8 bits) | Type (8 bits) | Flags (16 bits) | StreamID (32 bits) | Length (32 bits)
 *
 * Version is always 0. Type is Data (0x0), Window Update (0x1), Ping (0x2) or Go Away (0x3). The
 * meaning of Length depends on the type: the payload size of a Data frame, the window delta of a
 * Window Update, the opaque value of a Ping, the error code of a Go Away. Only Data frames carry a
 * payload. StreamID 0 is reserved for the session (Ping and Go Away).
 *
 * Encoding writes straight into one allocation per frame (header + payload); decoding reads the
 * header in place, without per-byte loops or intermediate objects beyond the returned header.
 */

export const VERSION = 0
/** Length of a yamux frame header (yamux spec "Framing"): version, type, flags (2 bytes), stream id (4), length (4). */
export const HEADER_LENGTH = 12

/** Type field. */
export const FrameType = {
  Data: 0,
  WindowUpdate: 1,
  Ping: 2,
  GoAway: 3,
} as const
export type FrameType = (typeof FrameType)[keyof typeof FrameType]

/** Flag field bits. */
export const Flag = {
  SYN: 0x1,
  ACK: 0x2,
  FIN: 0x4,
  RST: 0x8,
} as const

/** Go Away error codes (Length field of a Go Away frame). */
export const GoAwayCode = {
  Normal: 0,
  ProtocolError: 1,
  InternalError: 2,
} as const

/** Every stream starts with this window, in both directions (spec: "256KiB window size"). */
export const INITIAL_STREAM_WINDOW = 256 * 1024

/** Largest value a 32-bit header field can hold (StreamID, Length, window delta). */
export const MAX_U32 = 0xffff_ffff

/** A decoded yamux frame header (yamux spec "Framing"); all fields are big-endian on the wire. */
export interface FrameHeader {
  version: number
  type: number
  flags: number
  streamId: number
  length: number
}

/** Write a header at `off` in `buf` (which must have 12 bytes of room). */
export function writeHeader(buf: Uint8Array, off: number, type: number, flags: number, streamId: number, length: number): void {
  buf[off] = VERSION
  buf[off + 1] = type
  buf[off + 2] = flags >>> 8
  buf[off + 3] = flags & 0xff
  buf[off + 4] = streamId >>> 24
  buf[off + 5] = (streamId >>> 16) & 0xff
  buf[off + 6] = (streamId >>> 8) & 0xff
  buf[off + 7] = streamId & 0xff
  buf[off + 8] = length >>> 24
  buf[off + 9] = (length >>> 16) & 0xff
  buf[off + 10] = (length >>> 8) & 0xff
  buf[off + 11] = length & 0xff
}

/** Read a header at `off` (12 bytes must be present). Does not validate: the session does. */
export function readHeader(buf: Uint8Array, off: number): FrameHeader {
  return {
    version: buf[off]!,
    type: buf[off + 1]!,
    flags: (buf[off + 2]! << 8) | buf[off + 3]!,
    streamId: ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0,
    length: ((buf[off + 8]! << 24) | (buf[off + 9]! << 16) | (buf[off + 10]! << 8) | buf[off + 11]!) >>> 0,
  }
}

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > MAX_U32) throw new RangeError(`${name} must be a 32-bit unsigned integer`)
}

/** A header-only frame (Window Update, Ping, Go Away, or an empty Data frame). */
export function encodeHeaderFrame(type: number, flags: number, streamId: number, length: number): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH)
  writeHeader(out, 0, type, flags, streamId, length)
  return out
}

/**
 * A Data frame: header and a copy of `payload` in one piece of memory. `out`, when given, is where
 * to write it (exactly 12 + payload bytes); otherwise a new allocation.
 */
export function encodeDataFrame(
  flags: number,
  streamId: number,
  payload: Uint8Array,
  start = 0,
  end = payload.length,
  out: Uint8Array = new Uint8Array(HEADER_LENGTH + end - start),
): Uint8Array {
  const n = end - start
  writeHeader(out, 0, FrameType.Data, flags, streamId, n)
  out.set(start === 0 && end === payload.length ? payload : payload.subarray(start, end), HEADER_LENGTH)
  return out
}

/** Encode any header with argument checks (used by tests and vectors; the session uses the fast paths). */
export function encodeFrame(header: Omit<FrameHeader, 'version'> & { version?: number }, payload?: Uint8Array): Uint8Array {
  for (const [k, v] of [['type', header.type], ['version', header.version ?? 0]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`${k} must be a byte`)
  }
  if (!Number.isInteger(header.flags) || header.flags < 0 || header.flags > 0xffff) throw new RangeError('flags must be 16 bits')
  checkU32('streamId', header.streamId)
  checkU32('length', header.length)
  const body = payload ?? new Uint8Array(0)
  const out = new Uint8Array(HEADER_LENGTH + body.length)
  writeHeader(out, 0, header.type, header.flags, header.streamId, header.length)
  out[0] = header.version ?? VERSION
  out.set(body, HEADER_LENGTH)
  return out
}

/** Human-readable flag names, for tests and debugging ("SYN|ACK"). */
export function flagNames(flags: number): string {
  const names: string[] = []
  for (const [name, bit] of Object.entries(Flag)) if ((flags & bit) !== 0) names.push(name)
  return names.join('|')
}
