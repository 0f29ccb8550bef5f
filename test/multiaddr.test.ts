import { describe, expect, test } from 'vitest'
import { isProtocolError, ProtocolError, UsageError } from '../src/core/errors.js'
import { fromHex, toHex } from '../src/core/bytes.js'
import { CODE, Multiaddr, multiaddr, PROTOCOLS, protocolByCode, protocolByName, VARIABLE } from '../src/multiaddr/index.js'
import { vectorFile } from './helpers/vectors.js'

/** Bytes (from remotes) fail with ProtocolError('multiaddr'); text (from users) with UsageError, same code. */
function expectMultiaddrError(run: () => unknown, code: string, from: 'bytes' | 'text'): void {
  try {
    run()
  } catch (e) {
    if (from === 'bytes') {
      expect(e).toBeInstanceOf(ProtocolError)
      expect((e as ProtocolError).protocol).toBe('multiaddr')
    } else {
      expect(e).toBeInstanceOf(UsageError)
      expect(isProtocolError(e)).toBe(false)
    }
    expect((e as ProtocolError | UsageError).code).toBe(code)
    return
  }
  expect.fail(`expected ${from === 'bytes' ? 'ProtocolError' : 'UsageError'} ${code}`)
}

describe('vectors', () => {
  const vectors = vectorFile('multiaddr')
  for (const v of vectors.all()) {
    test(v.id, () => {
      const input = v['input'] as string | undefined
      if (v.error !== undefined) {
        expect(v.hex === undefined).not.toBe(input === undefined) // exactly one of them
        if (v.hex !== undefined) expectMultiaddrError(() => Multiaddr.fromBytes(fromHex(v.hex!)), v.error, 'bytes')
        else expectMultiaddrError(() => Multiaddr.fromString(input!), v.error, 'text')
        return
      }
      const fromBytes = Multiaddr.fromBytes(fromHex(v.hex!))
      expect(fromBytes.toString()).toBe(v.decoded.text)
      expect(toHex(Multiaddr.fromString(v.decoded.text).bytes)).toBe(v.hex)
      if (input !== undefined) expect(toHex(Multiaddr.fromString(input).bytes)).toBe(v.hex)
      const expected = v.decoded.components as Array<{ name: string; code: number; value: string; valueHex: string }> | undefined
      if (expected !== undefined) {
        expect(fromBytes.components().map((c) => ({ name: c.name, code: c.code, value: c.value, valueHex: toHex(c.bytes) }))).toEqual(expected)
      }
    })
  }
})

// protocols.csv at multiformats/multiaddr@9b7b3fab4063a51bfea555a3f368e8e4f6ae7275, transcribed
// (code, size, name); `memory` is listed there as V but implemented as 64 (spec/multiaddr.md).
const PROTOCOLS_CSV = `
4 32 ip4; 6 16 tcp; 273 16 udp; 33 16 dccp; 41 128 ip6; 42 V ip6zone; 43 8 ipcidr; 53 V dns; 54 V dns4;
55 V dns6; 56 V dnsaddr; 132 16 sctp; 301 0 udt; 302 0 utp; 400 V unix; 421 V p2p; 421 V ipfs; 444 96 onion;
445 296 onion3; 446 V garlic64; 447 V garlic32; 448 0 tls; 449 V sni; 454 0 noise; 460 0 quic; 461 0 quic-v1;
465 0 webtransport; 466 V certhash; 480 0 http; 481 V http-path; 443 0 https; 477 0 ws; 478 0 wss;
479 0 p2p-websocket-star; 277 0 p2p-stardust; 275 0 p2p-webrtc-star; 276 0 p2p-webrtc-direct;
280 0 webrtc-direct; 281 0 webrtc; 290 0 p2p-circuit; 777 V memory`

describe('protocol table', () => {
  test('every protocols.csv row is in the table with the same code and size', () => {
    const rows = PROTOCOLS_CSV.split(';').map((r) => r.trim().split(/\s+/))
    expect(rows).toHaveLength(41)
    for (const [code, size, name] of rows as Array<[string, string, string]>) {
      const p = protocolByName(name)
      expect(p, name).toBeDefined()
      expect(p!.code, name).toBe(Number(code))
      if (name === 'memory') expect(p!.size).toBe(64)
      else expect(p!.size, name).toBe(size === 'V' ? VARIABLE : Number(size))
    }
    // plaintextv2 comes from multicodec table.csv (0x706c61); nothing else is in the table.
    expect(protocolByName('plaintextv2')!.code).toBe(0x706c61)
    expect(PROTOCOLS).toHaveLength(41)
  })

  test('codes and names are unique; ipfs is an alias of p2p', () => {
    expect(new Set(PROTOCOLS.map((p) => p.code)).size).toBe(PROTOCOLS.length)
    expect(new Set(PROTOCOLS.map((p) => p.name)).size).toBe(PROTOCOLS.length)
    expect(protocolByName('ipfs')).toBe(protocolByCode(421))
    expect(protocolByCode(421)!.name).toBe('p2p')
    for (const p of PROTOCOLS) expect(p.size === 0).toBe(p.kind === 'none')
  })
})

const PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const RELAY = 'QmdPU7PfRyKehdrP5A3WqmjyD6bhVpU1mLGKppa2FjGDjZ'

describe('Multiaddr', () => {
  test('a path protocol (unix) takes the rest of the text, its value keeps the leading /, and nothing follows it', () => {
    const m = multiaddr('/ip4/1.2.3.4/tcp/80/unix/a/tcp/b')
    expect(m.components().map((c) => c.name)).toEqual(['ip4', 'tcp', 'unix'])
    expect(m.components()[2]!.value).toBe('/a/tcp/b')
    expect(m.toString()).toBe('/ip4/1.2.3.4/tcp/80/unix/a/tcp/b')
    expect(protocolByName('unix')!.path).toBe(true)
    expect(PROTOCOLS.filter((p) => p.path).map((p) => p.name)).toEqual(['unix'])
    // encapsulating after a path would print as a longer path: refused (local misuse)
    expect(() => multiaddr('/unix/tmp/x.sock').encapsulate('/tcp/1')).toThrow(expect.objectContaining({ name: 'UsageError', code: 'multiaddr/component-after-path' }))
    expect(multiaddr('/ip4/1.2.3.4').encapsulate('/unix/tmp/x.sock').toString()).toBe('/ip4/1.2.3.4/unix/tmp/x.sock')
    expect(multiaddr('/unix/tmp/x.sock').encapsulate(Multiaddr.empty()).toString()).toBe('/unix/tmp/x.sock')
  })

  test('bytes and components are copies', () => {
    const input = fromHex('04c000022a0601bb')
    const m = Multiaddr.fromBytes(input)
    input[1] = 0
    expect(m.toString()).toBe('/ip4/192.0.2.42/tcp/443')
    const b = m.bytes
    b[1] = 0
    expect(m.toString()).toBe('/ip4/192.0.2.42/tcp/443')
    m.components()[0]!.bytes[0] = 0
    expect(m.components()[0]!.bytes).toEqual(fromHex('c000022a'))
  })

  test('components, protos, length', () => {
    const m = multiaddr(`/ip4/1.2.3.4/tcp/443/tls/sni/example.com/ws/p2p/${PEER}`)
    expect(m.components().map((c) => [c.name, c.value])).toEqual([
      ['ip4', '1.2.3.4'], ['tcp', '443'], ['tls', undefined], ['sni', 'example.com'], ['ws', undefined], ['p2p', PEER],
    ])
    expect(m.protos().map((p) => p.code)).toEqual([4, 6, 448, 449, 477, 421])
    expect(m.length).toBe(6)
    expect('value' in m.components()[2]!).toBe(false)
  })

  test('multiaddr() accepts text, bytes and Multiaddr; rejects other types with TypeError', () => {
    const m = multiaddr('/ip4/127.0.0.1/udp/1234')
    expect(multiaddr(m)).toBe(m)
    expect(multiaddr(m.bytes).equals(m)).toBe(true)
    expect(() => multiaddr(42 as unknown as string)).toThrow(TypeError)
    expect(JSON.stringify({ a: m })).toBe('{"a":"/ip4/127.0.0.1/udp/1234"}')
  })

  test('limits are options', () => {
    const text = '/tcp/1'.repeat(10)
    expectMultiaddrError(() => Multiaddr.fromString(text, { maxComponents: 9 }), 'multiaddr/too-large', 'text')
    expect(Multiaddr.fromString(text, { maxComponents: 10 }).length).toBe(10)
    const bytes = Multiaddr.fromString(text).bytes // 30 bytes
    expectMultiaddrError(() => Multiaddr.fromBytes(bytes, { maxBytes: 29 }), 'multiaddr/too-large', 'bytes')
    expect(Multiaddr.fromBytes(bytes, { maxBytes: 30 }).length).toBe(10)
    expect(() => Multiaddr.fromBytes(bytes, { maxBytes: 0 })).toThrow(RangeError)
  })

  test('encapsulate and decapsulate (addressing spec examples)', () => {
    const base = multiaddr('/ip4/198.51.100.0/tcp/1234/ws')
    expect(base.decapsulate('/ws').toString()).toBe('/ip4/198.51.100.0/tcp/1234')
    expect(base.decapsulate('/tcp/1234/ws').toString()).toBe('/ip4/198.51.100.0')
    expect(base.decapsulate('/tcp/1234').toString()).toBe('/ip4/198.51.100.0')
    expect(multiaddr('/ip4/198.51.100.0').encapsulate('/tcp/42').toString()).toBe('/ip4/198.51.100.0/tcp/42')
    expect(base.decapsulate('/tcp/1235')).toBe(base) // absent: unchanged
    expect(base.decapsulate('/ip4/198.51.100.0').isEmpty()).toBe(true)
    expect(base.decapsulate('/ip4/198.51.100.0').toString()).toBe('')
  })

  test('decapsulate removes the LAST occurrence, matching whole components', () => {
    const m = multiaddr('/ip4/1.2.3.4/tcp/1/ws/tcp/1/wss')
    expect(m.decapsulate('/tcp/1').toString()).toBe('/ip4/1.2.3.4/tcp/1/ws')
    // /tcp/1 is not a component of /tcp/10 even though its text is a prefix.
    expect(multiaddr('/ip4/1.2.3.4/tcp/10').decapsulate('/tcp/1').toString()).toBe('/ip4/1.2.3.4/tcp/10')
    expect(m.decapsulateCode(CODE.tcp).toString()).toBe('/ip4/1.2.3.4/tcp/1/ws')
    expect(m.decapsulateCode(CODE.ip4).isEmpty()).toBe(true)
    expect(m.decapsulateCode(CODE.udp)).toBe(m)
  })

  test('peer id: last /p2p, unless a /p2p-circuit follows it', () => {
    const direct = multiaddr(`/ip4/1.2.3.4/tcp/1/p2p/${PEER}`)
    expect(direct.getPeerId()).toBe(PEER)
    expect(toHex(direct.getPeerIdBytes()!)).toBe(toHex(direct.components()[2]!.bytes))
    expect(direct.withoutPeerId().toString()).toBe('/ip4/1.2.3.4/tcp/1')
    const circuit = multiaddr(`/ip4/1.2.3.4/tcp/1/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`)
    expect(circuit.getPeerId()).toBe(PEER)
    expect(circuit.withoutPeerId().toString()).toBe(`/ip4/1.2.3.4/tcp/1/p2p/${RELAY}/p2p-circuit`)
    const toRelay = multiaddr(`/ip4/1.2.3.4/tcp/1/p2p/${RELAY}/p2p-circuit`)
    expect(toRelay.getPeerId()).toBeUndefined()
    expect(toRelay.getPeerIdBytes()).toBeUndefined()
    expect(toRelay.withoutPeerId()).toBe(toRelay)
    const withPath = multiaddr(`/p2p/${PEER}/http-path/.well-known%2Flibp2p`)
    expect(withPath.getPeerId()).toBe(PEER)
    expect(withPath.withoutPeerId().toString()).toBe('/http-path/.well-known%2Flibp2p')
    // A CID-form peer id is reported in base58btc.
    expect(multiaddr('/p2p/bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe').getPeerId()).toBe('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N')
  })

  test('isLoopback, isThinWaist, isName', () => {
    const cases: Array<[string, boolean, boolean, boolean]> = [
      ['/ip4/127.0.0.1/tcp/1', true, true, false],
      ['/ip4/127.255.0.9', true, true, false],
      ['/ip4/128.0.0.1/udp/1/quic-v1', false, true, false],
      ['/ip6/::1/tcp/1', true, true, false],
      ['/ip6/::2/tcp/1', false, true, false],
      ['/ip6/::ffff:127.0.0.1/tcp/1', true, true, false],
      ['/ip6zone/lo/ip6/::1/udp/1', true, true, false],
      ['/ip4/1.2.3.4/ws', false, false, false],
      ['/ip4/1.2.3.4/ip6/::1', false, false, false],
      ['/ip6zone/x/ip4/1.2.3.4', false, false, false],
      ['/dns/localhost/tcp/1', false, false, true],
      ['/dns4/a/tcp/1', false, false, true],
      ['/dns6/a', false, false, true],
      ['/dnsaddr/a', false, false, true],
      ['/tcp/1/ip4/127.0.0.1', false, false, false],
    ]
    for (const [text, loop, thin, name] of cases) {
      const m = multiaddr(text)
      expect([text, m.isLoopback(), m.isThinWaist(), m.isName()]).toEqual([text, loop, thin, name])
    }
    expect(Multiaddr.empty().isLoopback()).toBe(false)
    expect(Multiaddr.empty().isThinWaist()).toBe(false)
  })
})

describe('toDialTarget', () => {
  const ok: Array<[string, object]> = [
    ['/ip4/1.2.3.4/tcp/80', { host: '1.2.3.4', family: 4, port: 80, transport: 'tcp' }],
    ['/ip4/1.2.3.4/tcp/80/ws', { host: '1.2.3.4', family: 4, port: 80, transport: 'ws' }],
    ['/dns4/example.com/tcp/443/wss', { host: 'example.com', family: 'dns', resolve: 4, port: 443, transport: 'wss' }],
    ['/dns/x/tcp/443/tls/ws', { host: 'x', family: 'dns', port: 443, transport: 'wss' }],
    ['/dns/x/tcp/443/tls/sni/x/ws', { host: 'x', family: 'dns', port: 443, transport: 'wss', sni: 'x' }],
    ['/dns6/x/tcp/443/tls/sni/y.example/http', { host: 'x', family: 'dns', resolve: 6, port: 443, transport: 'https', sni: 'y.example' }],
    ['/ip4/1.2.3.4/tcp/443/https', { host: '1.2.3.4', family: 4, port: 443, transport: 'https' }],
    ['/ip4/1.2.3.4/tcp/80/http/http-path/a%2Fb', { host: '1.2.3.4', family: 4, port: 80, transport: 'http', path: '/a/b' }],
    [`/dns/x/tcp/443/wss/p2p/${PEER}/http-path/%C3%A9`, { host: 'x', family: 'dns', port: 443, transport: 'wss', peerId: PEER, path: '/é' }],
    [`/dns/x/tcp/443/wss/http-path/p/p2p/${PEER}`, { host: 'x', family: 'dns', port: 443, transport: 'wss', peerId: PEER, path: '/p' }],
    [`/ip4/1.2.3.4/tcp/1234/tls/p2p/${PEER}`, { host: '1.2.3.4', family: 4, port: 1234, transport: 'tcp', security: 'tls', peerId: PEER }],
    ['/ip4/1.2.3.4/tcp/1234/noise', { host: '1.2.3.4', family: 4, port: 1234, transport: 'tcp', security: 'noise' }],
    ['/ip6/2001:db8::1/udp/4001', { host: '2001:db8::1', family: 6, port: 4001, transport: 'udp' }],
    ['/ip6zone/eth0/ip6/fe80::1/udp/4001/quic-v1', { host: 'fe80::1', zone: 'eth0', family: 6, port: 4001, transport: 'quic-v1' }],
    ['/ip4/1.2.3.4/udp/4001/quic', { host: '1.2.3.4', family: 4, port: 4001, transport: 'quic' }],
  ]
  for (const [text, target] of ok) test(text, () => expect(multiaddr(text).toDialTarget()).toEqual(target))

  test('webtransport and webrtc-direct carry their certhashes', () => {
    const h1 = 'uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g'
    const m = multiaddr(`/ip4/1.2.3.4/udp/1/quic-v1/webtransport/certhash/${h1}/certhash/${h1}/p2p/${PEER}`)
    const t = m.toDialTarget()!
    expect(t.transport).toBe('webtransport')
    expect(t.peerId).toBe(PEER)
    expect(t.certhashes!.map(toHex)).toEqual([toHex(m.components()[4]!.bytes), toHex(m.components()[5]!.bytes)])
    const w = multiaddr(`/ip4/1.2.3.4/udp/1/webrtc-direct/certhash/${h1}`).toDialTarget()!
    expect(w.transport).toBe('webrtc-direct')
    expect(w.certhashes).toHaveLength(1)
  })

  const notDialable = [
    '/dnsaddr/bootstrap.libp2p.io',
    '/ip4/1.2.3.4',
    '/ip4/1.2.3.4/sctp/1',
    '/tcp/1',
    `/ip4/1.2.3.4/tcp/1/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`,
    '/unix/%2Ftmp%2Fs',
    '/memory/1',
    '/ip4/1.2.3.4/tcp/1/ws/ws',
    '/ip4/1.2.3.4/tcp/1/http-path/x',
    '/ip4/1.2.3.4/tcp/1/tls/sni/x',
    '/ip6zone/eth0/ip4/1.2.3.4/tcp/1',
    '/ip4/1.2.3.4/udp/1/quic-v1/http-path/x',
    `/ip4/1.2.3.4/tcp/1/p2p/${PEER}/p2p/${PEER}`,
  ]
  for (const text of notDialable) test(`not dialable: ${text}`, () => expect(multiaddr(text).toDialTarget()).toBeUndefined())
})
