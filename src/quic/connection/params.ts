/**
 * The peer's transport parameters at handshake completion (RFC 9000 §7.3, §7.4, §18): decoded with
 * the codec's checks, then the connection ids of the handshake authenticated.
 */
import { quicError } from '../errors.js'
import { decodeTransportParameters, type TransportParameters } from '../transport-params.js'
import type { ConnState } from './state.js'

export const equal = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean =>
  a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i])

/**
 * Decodes and checks `bytes`: initial_source_connection_id must be the Source Connection ID of the
 * peer's first packet; a client also checks original_destination_connection_id and
 * retry_source_connection_id. Absent: TRANSPORT_PARAMETER_ERROR; different: PROTOCOL_VIOLATION. A
 * server's stateless_reset_token becomes the token of its first connection id.
 */
export function peerParameters(s: ConnState, bytes: Uint8Array | undefined, peerInitialScid: Uint8Array | undefined): TransportParameters {
  if (bytes === undefined) throw quicError('TRANSPORT_PARAMETER_ERROR', 'no quic_transport_parameters')
  const p = decodeTransportParameters(bytes, s.role === 'client' ? 'server' : 'client')
  if (p.initialSourceConnectionId === undefined) throw quicError('TRANSPORT_PARAMETER_ERROR', 'no initial_source_connection_id')
  if (!equal(p.initialSourceConnectionId, peerInitialScid)) throw quicError('PROTOCOL_VIOLATION', 'initial_source_connection_id does not match')
  if (s.role === 'client') {
    if (p.originalDestinationConnectionId === undefined) throw quicError('TRANSPORT_PARAMETER_ERROR', 'no original_destination_connection_id')
    if (!equal(p.originalDestinationConnectionId, s.originalDcid)) throw quicError('PROTOCOL_VIOLATION', 'original_destination_connection_id does not match')
    if (s.retryScid !== undefined ? !equal(p.retrySourceConnectionId, s.retryScid) : p.retrySourceConnectionId !== undefined) {
      throw quicError(s.retryScid !== undefined && p.retrySourceConnectionId === undefined ? 'TRANSPORT_PARAMETER_ERROR' : 'PROTOCOL_VIOLATION', 'retry_source_connection_id does not match')
    }
    if (p.statelessResetToken !== undefined) {
      s.peerCids.setInitialToken(p.statelessResetToken)
      s.events.push({ kind: 'peer-reset-token', token: p.statelessResetToken.slice() })
    }
  }
  return p
}
