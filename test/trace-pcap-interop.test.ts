/**
 * The checks of the interop `trace` case (interop/lib/trace-case.mjs): they pass on a matching
 * trace and name each mismatch (so a pass of `node interop/run.mjs --scenario trace` means something).
 */
import { describe, expect, test } from 'vitest'
// @ts-expect-error plain ESM without types (interop/ is JavaScript)
import { checkTrace, compareIdentify } from '../interop/lib/trace-case.mjs'

const sent = {
  agentVersion: 'go-libp2p-interop/0.48.0 (trace)', protocolVersion: 'ipfs/0.1.0',
  protocols: ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0', '/ipfs/kad/1.0.0', '/meshsub/1.2.0'],
  listenAddrs: ['/ip4/127.0.0.1/tcp/4001'], peerId: '12D3KooWpeer', publicKey: '08011220abcd',
}
const fields = {
  agentVersion: sent.agentVersion, protocolVersion: 'ipfs/0.1.0', protocols: [...sent.protocols].reverse(),
  listenAddrs: ['/ip4/127.0.0.1/tcp/4001'], publicKey: { type: 'Ed25519', peerId: '12D3KooWpeer', hex: 'abcd' },
}
const ev = (kind: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ t: 0, conn: 'c1', kind, dir: 'in', ...extra })
const live = [
  ev('transport'), ev('multistream', { line: '/noise' }), ev('yamux-frame'), ev('state'),
  ev('noise-handshake', { message: 1 }), ev('noise-handshake', { message: 2, payload: { identityKey: '12D3KooWpeer', keyType: 'Ed25519', signature: '00', muxers: [] } }), ev('noise-handshake', { message: 3 }),
  ev('message', { stream: 1, protocol: '/ipfs/id/1.0.0', name: 'Identify', fields }),
  ev('message', { stream: 3, protocol: '/ipfs/ping/1.0.0', name: 'Ping', fields: { echo: true } }),
]

describe('interop trace checks', () => {
  test('a matching identify (protocols in another order) passes', () => {
    expect(compareIdentify(fields, sent)).toEqual([])
    expect(checkTrace(live, live, sent, ['ping']).problems).toEqual([])
  })
  test.each([
    ['agentVersion', { agentVersion: 'x' }],
    ['protocolVersion', { protocolVersion: '' }],
    ['protocols', { protocols: sent.protocols.slice(1) }],
    ['listenAddrs', { listenAddrs: [] }],
    ['peer id', { publicKey: { ...fields.publicKey, peerId: 'other' } }],
    ['public key', { publicKey: { ...fields.publicKey, hex: 'beef' } }],
  ])('a different %s is named', (what, change) => {
    const p = compareIdentify({ ...fields, ...change }, sent)
    expect(p).toHaveLength(1)
    expect(p[0]).toContain(what)
  })
  test('a missing kind, handshake message, protocol or offline message is named', () => {
    expect(checkTrace(live.filter((e) => e.kind !== 'yamux-frame'), live, sent, []).problems).toEqual(['no yamux-frame event'])
    const no2 = live.filter((e) => e.kind !== 'noise-handshake' || e.message !== 2)
    expect(checkTrace(no2, no2, sent, []).problems).toEqual(['no noise-handshake message 2'])
    expect(checkTrace(live, live, sent, ['kad']).problems).toEqual(['no kad message from the listener'])
    const otherIdentity = live.map((e) => (e.message === 2 ? { ...e, payload: { identityKey: 'other' } } : e))
    expect(checkTrace(otherIdentity, live, sent, []).problems).toEqual(['noise message 2: identity "other" != 12D3KooWpeer'])
    const offline = live.filter((e) => e.kind !== 'message' || e.protocol !== '/ipfs/ping/1.0.0')
    expect(checkTrace(live, offline, sent, []).problems[0]).toMatch(/^1 of 2 live message events are not in the decrypted capture/)
    const incomplete = [...live, ev('state', { to: 'capture-incomplete', reason: 'gap' })]
    expect(checkTrace(live, incomplete, sent, []).problems).toEqual(['the capture: capture-incomplete (gap)'])
    const otherKey = live.map((e) => (e.message === 1 ? { ...e, ephemeral: 'ff' } : e))
    expect(checkTrace(live, otherKey, sent, []).problems[0]).toMatch(/^handshake messages differ/)
    const noLines = live.filter((e) => e.kind !== 'multistream')
    expect(checkTrace(live, noLines, sent, []).problems[0]).toMatch(/^1 live multistream lines are not in the decrypted capture/)
    // more in the capture than live: a note, not a problem
    const r = checkTrace(live, [...live, live[8]], sent, [])
    expect(r.problems).toEqual([])
    expect(r.notes[0]).toContain('1 more in the capture')
  })

  test('over TLS and QUIC: the certificate names the listener, the TLS messages and QUIC packets must match the capture', () => {
    const tls = (type: string, dir = 'in', f: Record<string, unknown> = {}) => ev('tls-handshake', { type, dir, level: 'handshake', bytes: 10, fields: f })
    const handshake = [
      tls('client_hello', 'out'), tls('server_hello'), tls('encrypted_extensions'), tls('certificate', 'in', { peerId: '12D3KooWpeer', verified: true }),
      tls('certificate_verify'), tls('finished'), tls('finished', 'out'),
    ]
    const quicLive = [...live.filter((e) => e.kind !== 'noise-handshake' && e.kind !== 'transport' && e.kind !== 'yamux-frame'), ...handshake, ev('quic-packet', { packet: '1rtt', pn: 0, frames: [] })]
    expect(checkTrace(quicLive, quicLive, sent, ['ping'], 'quic').problems).toEqual([])
    const tlsLive = [...live.filter((e) => e.kind !== 'noise-handshake'), ...handshake]
    expect(checkTrace(tlsLive, tlsLive, sent, ['ping'], 'tls').problems).toEqual([])
    expect(checkTrace(tlsLive, tlsLive, sent, ['ping'], 'quic').problems).toEqual(['no quic-packet event'])
    const otherCert = tlsLive.map((e) => (e.type === 'certificate' ? { ...e, fields: { peerId: 'other', verified: true } } : e))
    expect(checkTrace(otherCert, otherCert, sent, [], 'tls').problems[0]).toMatch(/^the listener's certificate/)
    const fewer = tlsLive.filter((e) => e.type !== 'certificate_verify')
    expect(checkTrace(tlsLive, fewer, sent, [], 'tls').problems[0]).toMatch(/^handshake messages differ/)
    const bad = [...quicLive, ev('quic-packet', { packet: '1rtt', frames: [], undecryptable: 'undecryptable' })]
    expect(checkTrace(quicLive, bad, sent, [], 'quic').problems[0]).toMatch(/^1 QUIC packets of the capture not decrypted/)
  })
})
