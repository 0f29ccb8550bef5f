// QUIC transport parameters (src/quic/transport-params.ts, RFC 9000 §18): round trips, every value
// rule of §18.2 and §7.3/§7.4 as TRANSPORT_PARAMETER_ERROR, unknown and reserved ids ignored, the
// parameter-count limit at and past its value.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { ProtocolError } from '../src/core/errors.js'
import {
  DEFAULT_TRANSPORT_PARAMETERS, DEFAULT_TRANSPORT_PARAMETER_LIMITS, QuicProtocolError, decodeTransportParameters, encodeTransportParameters,
  encodeVarint, type TransportParameters,
} from '../src/quic/index.js'

const cid = (n: number, f = 1): Uint8Array => new Uint8Array(n).fill(f)
const param = (id: number, value: Uint8Array): Uint8Array => Uint8Array.from([...encodeVarint(id), ...encodeVarint(value.length), ...value])
const cat = (...p: Uint8Array[]): Uint8Array => Uint8Array.from(p.flatMap((x) => [...x]))
const ISCID = param(0x0f, cid(8))
const ODCID = param(0x00, cid(8, 2))
const code = (f: () => unknown): string => {
  try { f() } catch (e) { expect(e).toBeInstanceOf(QuicProtocolError); return (e as QuicProtocolError).code }
  return 'no error'
}

describe('round trips', () => {
  test('any valid parameters encode and decode back (server role: every field allowed)', () => {
    const n = (min: number, max: number): fc.Arbitrary<number> => fc.integer({ min, max })
    const arb = fc.record({
      originalDestinationConnectionId: fc.uint8Array({ maxLength: 20 }),
      maxIdleTimeout: n(0, 2 ** 40), maxUdpPayloadSize: n(1200, 65527), initialMaxData: n(0, Number.MAX_SAFE_INTEGER),
      initialMaxStreamDataBidiLocal: n(0, 2 ** 40), initialMaxStreamDataBidiRemote: n(0, 2 ** 40), initialMaxStreamDataUni: n(0, 2 ** 40),
      initialMaxStreamsBidi: n(0, 2 ** 40), initialMaxStreamsUni: n(0, 2 ** 40), ackDelayExponent: n(0, 20), maxAckDelay: n(0, 2 ** 14 - 1),
      disableActiveMigration: fc.boolean(), activeConnectionIdLimit: n(2, 1000), initialSourceConnectionId: fc.uint8Array({ maxLength: 20 }),
      statelessResetToken: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      preferredAddress: fc.record({ ipv4: fc.uint8Array({ minLength: 4, maxLength: 4 }), ipv4Port: n(0, 65535), ipv6: fc.uint8Array({ minLength: 16, maxLength: 16 }),
        ipv6Port: n(0, 65535), connectionId: fc.uint8Array({ minLength: 1, maxLength: 20 }), statelessResetToken: fc.uint8Array({ minLength: 16, maxLength: 16 }) }),
    }, { requiredKeys: ['initialSourceConnectionId', 'originalDestinationConnectionId'] })
    fc.assert(fc.property(arb, (p) => {
      expect(decodeTransportParameters(encodeTransportParameters(p), 'server')).toEqual({ ...DEFAULT_TRANSPORT_PARAMETERS, ...p })
    }), { numRuns: 300 })
  })
  test('defaults are not written; a client sends only its own parameters', () => {
    expect(encodeTransportParameters({ ...DEFAULT_TRANSPORT_PARAMETERS, initialSourceConnectionId: cid(8) })).toEqual(ISCID)
    expect(decodeTransportParameters(ISCID, 'client')).toEqual({ ...DEFAULT_TRANSPORT_PARAMETERS, initialSourceConnectionId: cid(8) })
  })
  test('any bytes: a QuicProtocolError or parameters that re-encode to the same parameters', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (b, server) => {
      const role = server ? 'server' : 'client'
      const bytes = cat(ISCID, server ? ODCID : new Uint8Array(0), b)
      let p: TransportParameters
      try { p = decodeTransportParameters(bytes, role) } catch (e) { expect(e).toBeInstanceOf(ProtocolError); return }
      expect(decodeTransportParameters(encodeTransportParameters(p), role)).toEqual(p)
    }), { numRuns: 2000 })
  })
})

describe('TRANSPORT_PARAMETER_ERROR (RFC 9000 §7.3, §7.4, §18.2)', () => {
  test.each<[string, Uint8Array, 'client' | 'server']>([
    ['max_udp_payload_size 1199', param(0x03, encodeVarint(1199)), 'client'],
    ['ack_delay_exponent 21', param(0x0a, encodeVarint(21)), 'client'],
    ['max_ack_delay 2^14', param(0x0b, encodeVarint(2 ** 14)), 'client'],
    ['active_connection_id_limit 1', param(0x0e, encodeVarint(1)), 'client'],
    ['initial_max_streams_bidi 2^60 + 1', param(0x08, Uint8Array.of(0xd0, 0, 0, 0, 0, 0, 0, 1)), 'client'],
    ['an integer with a byte after it', param(0x04, Uint8Array.of(0x05, 0x00)), 'client'],
    ['an empty integer', param(0x04, new Uint8Array(0)), 'client'],
    ['a 21-byte connection id', param(0x10, cid(21)), 'server'],
    ['a 15-byte stateless reset token', param(0x02, cid(15)), 'server'],
    ['disable_active_migration with a value', param(0x0c, Uint8Array.of(1)), 'client'],
    ['a duplicate', cat(param(0x04, encodeVarint(1)), param(0x04, encodeVarint(1))), 'client'],
    ['stateless_reset_token from a client', param(0x02, cid(16)), 'client'],
    ['original_destination_connection_id from a client', param(0x00, cid(8)), 'client'],
    ['retry_source_connection_id from a client', param(0x10, cid(8)), 'client'],
    ['preferred_address from a client', param(0x0d, new Uint8Array(41)), 'client'],
    ['preferred_address with a zero-length connection id', param(0x0d, new Uint8Array(41)), 'server'],
    ['a truncated length', Uint8Array.of(0x04, 0x05, 0x01), 'client'],
  ])('%s', (_, extra, role) => {
    const base = role === 'server' ? cat(ISCID, ODCID) : ISCID
    expect(code(() => decodeTransportParameters(cat(base, extra), role))).toBe('TRANSPORT_PARAMETER_ERROR')
  })
  test('initial_source_connection_id is required from both; original_destination_connection_id from the server', () => {
    expect(code(() => decodeTransportParameters(new Uint8Array(0), 'client'))).toBe('TRANSPORT_PARAMETER_ERROR')
    expect(code(() => decodeTransportParameters(ISCID, 'server'))).toBe('TRANSPORT_PARAMETER_ERROR')
    expect(code(() => decodeTransportParameters(cat(ISCID, ODCID), 'server'))).toBe('no error')
  })
  test('unknown and reserved (31 * N + 27) parameters are ignored, even repeated; 62-bit ids too', () => {
    const grease = cat(param(27, cid(3)), param(31 * 5 + 27, new Uint8Array(0)), param(31 * 5 + 27, cid(2)), param(0x2ab, cid(1)),
      Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00))
    expect(decodeTransportParameters(cat(grease, ISCID), 'client')).toEqual(decodeTransportParameters(ISCID, 'client'))
  })
  test('the encoder refuses what a peer would refuse (RangeError)', () => {
    expect(() => encodeTransportParameters({ maxUdpPayloadSize: 1000 })).toThrow(RangeError)
    expect(() => encodeTransportParameters({ activeConnectionIdLimit: 1 })).toThrow(RangeError)
    expect(() => encodeTransportParameters({ initialSourceConnectionId: cid(21) })).toThrow(RangeError)
    expect(() => encodeTransportParameters({ statelessResetToken: cid(3) })).toThrow(RangeError)
  })
})

describe('limits', () => {
  test(`maxParameters (default ${DEFAULT_TRANSPORT_PARAMETER_LIMITS.maxParameters}): at the limit decodes, one past is TRANSPORT_PARAMETER_ERROR`, () => {
    const max = DEFAULT_TRANSPORT_PARAMETER_LIMITS.maxParameters
    const unknown = (k: number): Uint8Array => cat(...Array.from({ length: k }, (_, i) => param(0x40 + i, new Uint8Array(0))))
    expect(code(() => decodeTransportParameters(cat(ISCID, unknown(max - 1)), 'client'))).toBe('no error')
    expect(code(() => decodeTransportParameters(cat(ISCID, unknown(max)), 'client'))).toBe('TRANSPORT_PARAMETER_ERROR')
    expect(code(() => decodeTransportParameters(cat(ISCID, unknown(3)), 'client', { maxParameters: 4 }))).toBe('no error')
    expect(code(() => decodeTransportParameters(cat(ISCID, unknown(4)), 'client', { maxParameters: 4 }))).toBe('TRANSPORT_PARAMETER_ERROR')
  })
})
