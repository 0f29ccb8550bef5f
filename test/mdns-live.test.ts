// mDNS datagrams sent by the real go-libp2p and rust-libp2p peers of the interop `mdns` scenario
// (spec/vectors/mdns-live.json, recorded from the group by interop/lib/mdns-case.mjs): weft's codec
// decodes each, its query layer sees the queries as `_p2p._udp.local` questions to answer, and its
// response layer finds the announced peer id and addresses in both layouts (go's query answer with
// the TXT in Additional, go's announcement with everything in Answer, rust's bare-label instance).
// Also: the datagrams the case runner puts on the group while a case runs are all malformed to
// weft's codec (a typed ProtocolError each), so the interop check "weft counted them" means something.
import { describe, expect, test } from 'vitest'
import { ProtocolError } from '../src/core/errors.js'
import { fromHex } from '../src/core/bytes.js'
import { decodeDnsMessage, parseQuery, parseResponse } from '../src/mdns/index.js'
import { vectorFile } from './helpers/vectors.js'

const vectors = vectorFile('mdns-live')
const noise = (await import('../interop/lib/mdns-case.mjs' as string)) as { malformedPackets(): Record<string, Uint8Array> }

describe('mDNS datagrams of real go and rust peers', () => {
  for (const v of vectors.all()) {
    test(`${v.id} (${v.source.split(',')[0]})`, () => {
      expect(v.provenance).toBe('interop')
      const msg = decodeDnsMessage(fromHex(v.hex!))
      const expected = v.decoded as { kind: 'query' | 'response' | 'probe'; peers?: true | Array<{ peer: string; addrs: string[] }> }
      if (expected.kind === 'query') {
        const q = parseQuery(msg)
        expect(q?.peers).toBe(true)
        expect(parseResponse(msg)).toEqual([])
      } else if (expected.kind === 'probe') {
        expect(parseQuery(msg)).toBeUndefined()
        expect(parseResponse(msg)).toEqual([])
      } else {
        expect(parseQuery(msg)).toBeUndefined()
        const found = parseResponse(msg).map((d) => ({ peer: d.peer.toString(), addrs: d.addrs.map((a) => a.toString()) }))
        expect(found).toEqual(expected.peers)
        // every announced address is the sender's namespace address, never loopback
        for (const p of found) for (const a of p.addrs) expect(a).toMatch(/^\/ip4\/10\.77\.0\.\d+\/tcp\/\d+$/)
      }
    })
  }

  test('both implementations and both kinds are covered', () => {
    const ids = vectors.where(() => true).map((v) => v.id)
    for (const id of ['go-query', 'go-response', 'rust-query', 'rust-response']) expect(ids).toContain(id)
  })
})

describe('the malformed datagrams of the interop noise host', () => {
  const expected: Record<string, string> = {
    'truncated-header': 'mdns/truncated',
    'pointer-loop': 'mdns/bad-pointer',
    'pointer-forward': 'mdns/bad-pointer',
    'label-over-63': 'mdns/bad-label',
    'oversize-txt': 'mdns/packet-too-large',
    'txt-overrun': 'mdns/bad-rdata',
  }
  for (const [kind, bytes] of Object.entries(noise.malformedPackets())) {
    test(kind, () => {
      let err: unknown
      try {
        decodeDnsMessage(Uint8Array.from(bytes))
      } catch (e) {
        err = e
      }
      if (kind === 'random-bytes') {
        // random: almost always malformed; whatever it is, only a ProtocolError may escape
        if (err !== undefined) expect(err).toBeInstanceOf(ProtocolError)
        return
      }
      expect(err).toBeInstanceOf(ProtocolError)
      expect((err as ProtocolError).code).toBe(expected[kind])
    })
  }
})
