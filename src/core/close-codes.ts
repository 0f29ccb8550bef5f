/**
 * libp2p connection close codes and stream reset codes (pure data).
 *
 * Source: the "error codes" proposal (libp2p/specs PR #623, open) and its yamux mapping (PR #622,
 * open; go-yamux PR #121 / #122): a connection's code travels in the Length field of the yamux Go
 * Away frame, a stream's code in the Length field of a Window Update frame carrying RST. The numbers
 * are go-libp2p's (core/network/conn.go `ConnErrorCode`, core/network/mux.go `StreamErrorCode`),
 * checked against its source; the two tables overlap (0x1002 is `rate-limited` for a connection but
 * `resource-limit-exceeded` for a stream), so a number alone never says which table it is from.
 *
 * Connection codes 0, 1 and 2 are yamux's own Go Away codes (hashicorp spec: normal termination,
 * protocol error, internal error). Stream code 0 is "no error" (a plain RST).
 *
 * Wire numbers are 32-bit unsigned. A number this table does not know maps to 'close/unknown' /
 * 'reset/unknown'; the number itself is kept beside it (ConnectionClosedError.wireCode,
 * StreamResetError.wireCode), so an application-defined code is never lost.
 */

/** Connection close codes (yamux Go Away Length field). */
export const ConnCloseCode = {
  Normal: 0,
  ProtocolError: 1,
  InternalError: 2,
  ProtocolNegotiationFailed: 0x1000,
  ResourceLimitExceeded: 0x1001,
  RateLimited: 0x1002,
  ProtocolViolation: 0x1003,
  Supplanted: 0x1004,
  GarbageCollected: 0x1005,
  Shutdown: 0x1006,
  Gated: 0x1007,
} as const
export type ConnCloseCode = (typeof ConnCloseCode)[keyof typeof ConnCloseCode]

/** Stream reset codes (Length field of a yamux Window Update with RST). 0: a plain reset. */
export const StreamResetCode = {
  NoError: 0,
  ProtocolNegotiationFailed: 0x1001,
  ResourceLimitExceeded: 0x1002,
  RateLimited: 0x1003,
  ProtocolViolation: 0x1004,
  Supplanted: 0x1005,
  GarbageCollected: 0x1006,
  Shutdown: 0x1007,
  Gated: 0x1008,
} as const
export type StreamResetCode = (typeof StreamResetCode)[keyof typeof StreamResetCode]

/** Typed reason of a connection close (`ConnectionClosedError.code`). */
export type CloseReasonCode =
  | 'close/normal'
  | 'close/protocol-error'
  | 'close/internal-error'
  | 'close/protocol-negotiation-failed'
  | 'close/resource-limit-exceeded'
  | 'close/rate-limited'
  | 'close/protocol-violation'
  | 'close/supplanted'
  | 'close/garbage-collected'
  | 'close/shutdown'
  | 'close/gated'
  | 'close/unknown'

/** Typed reason of a stream reset (`StreamResetError.reason`). */
export type ResetReasonCode =
  | 'reset/no-error'
  | 'reset/protocol-negotiation-failed'
  | 'reset/resource-limit-exceeded'
  | 'reset/rate-limited'
  | 'reset/protocol-violation'
  | 'reset/supplanted'
  | 'reset/garbage-collected'
  | 'reset/shutdown'
  | 'reset/gated'
  | 'reset/unknown'

const CLOSE_REASONS: ReadonlyMap<number, CloseReasonCode> = new Map<number, CloseReasonCode>([
  [ConnCloseCode.Normal, 'close/normal'],
  [ConnCloseCode.ProtocolError, 'close/protocol-error'],
  [ConnCloseCode.InternalError, 'close/internal-error'],
  [ConnCloseCode.ProtocolNegotiationFailed, 'close/protocol-negotiation-failed'],
  [ConnCloseCode.ResourceLimitExceeded, 'close/resource-limit-exceeded'],
  [ConnCloseCode.RateLimited, 'close/rate-limited'],
  [ConnCloseCode.ProtocolViolation, 'close/protocol-violation'],
  [ConnCloseCode.Supplanted, 'close/supplanted'],
  [ConnCloseCode.GarbageCollected, 'close/garbage-collected'],
  [ConnCloseCode.Shutdown, 'close/shutdown'],
  [ConnCloseCode.Gated, 'close/gated'],
])

const RESET_REASONS: ReadonlyMap<number, ResetReasonCode> = new Map<number, ResetReasonCode>([
  [StreamResetCode.NoError, 'reset/no-error'],
  [StreamResetCode.ProtocolNegotiationFailed, 'reset/protocol-negotiation-failed'],
  [StreamResetCode.ResourceLimitExceeded, 'reset/resource-limit-exceeded'],
  [StreamResetCode.RateLimited, 'reset/rate-limited'],
  [StreamResetCode.ProtocolViolation, 'reset/protocol-violation'],
  [StreamResetCode.Supplanted, 'reset/supplanted'],
  [StreamResetCode.GarbageCollected, 'reset/garbage-collected'],
  [StreamResetCode.Shutdown, 'reset/shutdown'],
  [StreamResetCode.Gated, 'reset/gated'],
])

const CLOSE_NUMBERS = new Map<CloseReasonCode, number>([...CLOSE_REASONS].map(([n, c]) => [c, n]))
const RESET_NUMBERS = new Map<ResetReasonCode, number>([...RESET_REASONS].map(([n, c]) => [c, n]))

/** Typed reason of a Go Away code; any number not in the table is 'close/unknown'. */
export function closeReason(wireCode: number): CloseReasonCode {
  return CLOSE_REASONS.get(wireCode) ?? 'close/unknown'
}

/** Wire number of a typed close reason; undefined for 'close/unknown' (it has no number of its own). */
export function closeWireCode(reason: CloseReasonCode): number | undefined {
  return CLOSE_NUMBERS.get(reason)
}

/** Typed reason of a RST code; any number not in the table is 'reset/unknown'. */
export function resetReason(wireCode: number): ResetReasonCode {
  return RESET_REASONS.get(wireCode) ?? 'reset/unknown'
}

/** Wire number of a typed reset reason; undefined for 'reset/unknown'. */
export function resetWireCode(reason: ResetReasonCode): number | undefined {
  return RESET_NUMBERS.get(reason)
}

/** "0x1005" */
export function formatWireCode(wireCode: number): string {
  return `0x${wireCode.toString(16)}`
}
