/**
 * The yamux session's public types: error codes (each with its trigger), events, stream statistics.
 */
import { ProtocolError, type InternalError } from '../core/errors.js'
import type { StreamId, StreamStateName } from './stream.js'

/** The `ProtocolError('yamux', code)` codes: each names the rule of the yamux spec the remote broke. */
export type YamuxErrorCode =
  | 'yamux/bad-version' // Version field is not 0
  | 'yamux/bad-type' // Type field is not one of the four frame types
  | 'yamux/bad-stream-id' // Data / Window Update on StreamID 0, or SYN with our parity
  | 'yamux/stream-id-reused' // SYN for a StreamID the remote already used
  | 'yamux/unknown-stream' // frame (without SYN) for a StreamID never opened
  | 'yamux/credits-exceeded' // Data frame longer than the remaining receive window
  | 'yamux/data-after-fin' // Data payload after the remote's FIN
  | 'yamux/window-overflow' // Window Updates pushed the send window past 2^32 - 1
  | 'yamux/unexpected-eof' // transport ended inside a frame
  | 'yamux/keep-alive-timeout' // our keep-alive Ping got no answer within one interval

/** Events of `YamuxSession`: streams opened and accepted, their data and close, pongs, and the session's end. */
export type YamuxEvent =
  | { type: 'stream-inbound'; id: StreamId } // remote opened a stream: call accept(id) or reset(id)
  | { type: 'stream-opened'; id: StreamId } // our openStream was ACKed (informational)
  | { type: 'stream-data'; id: StreamId; data: Uint8Array }
  | { type: 'stream-eof'; id: StreamId } // remote half-closed (FIN)
  | { type: 'stream-reset'; id: StreamId; code?: number } // remote reset (RST; code: its non-zero reset code), or the session ended under the stream
  | { type: 'stream-writable'; id: StreamId } // write() may accept bytes again after returning less than asked
  | { type: 'stream-closed'; id: StreamId } // stream over, state freed (always the last event of a stream)
  | { type: 'ping'; rtt: number } // RTT measured by one of our Pings
  | { type: 'go-away'; code: number } // remote sent Go Away (first one only)
  | { type: 'closed'; error?: ProtocolError | InternalError } // session over (InternalError: a bug here)

/** A stream's flow-control state, for diagnostics: its state name and the send credit and receive window left. */
export interface StreamStats {
  state: StreamStateName
  sendCredit: number
  recvWindow: number
  recvCredit: number
  unconsumed: number
}

export function protocolError(code: YamuxErrorCode, message?: string): ProtocolError<YamuxErrorCode> {
  return new ProtocolError('yamux', code, message)
}
