/**
 * What the QUIC stream layer tells the application (`QuicStreams.pollEvent`), and the state view it
 * offers (`QuicStreams.states`).
 */
import type { StreamId } from './ids.js'
import type { RecvState } from './recv.js'
import type { SendState } from './send.js'

/** What the stream layer tells the application. */
export type QuicStreamEvent =
  /** The peer opened a stream (or a higher-numbered one, which opens every lower one of its type, §3.2). */
  | { readonly kind: 'incoming', readonly id: StreamId, readonly bidirectional: boolean }
  /** Bytes or the end of the stream can be read: call `read` until it returns no data. */
  | { readonly kind: 'readable', readonly id: StreamId }
  /** A short `write` can be retried: acknowledgements freed send-buffer room. */
  | { readonly kind: 'writable', readonly id: StreamId }
  /** Everything we wrote, FIN included, was acknowledged (sending part "Data Recvd"). */
  | { readonly kind: 'finished', readonly id: StreamId }
  /** The peer abandoned its sending part (RESET_STREAM); unread data is gone. */
  | { readonly kind: 'reset', readonly id: StreamId, readonly errorCode: number }
  /** The peer asked us to stop sending (STOP_SENDING); our sending part was reset with its code. */
  | { readonly kind: 'stop-sending', readonly id: StreamId, readonly errorCode: number }
  /** The peer's MAX_STREAMS allows `open` again after it returned undefined. */
  | { readonly kind: 'streams-available', readonly bidirectional: boolean }
  /** Both parts of the stream are finished; its id is forgotten. */
  | { readonly kind: 'closed', readonly id: StreamId }

/** Both parts' RFC 9000 §3 states (a part a unidirectional stream lacks is absent). */
export interface StreamStates {
  readonly send: SendState | undefined
  readonly recv: RecvState | undefined
}
