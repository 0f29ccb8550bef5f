// Interop vectors of request-response: the bytes rust-libp2p (request_response::cbor / ::json) and the go
// peer (fxamacker/cbor, encoding/json) wrote for the interop scenario's Req and Resp, captured from live
// runs by interop/weft/reqresp-capture.mjs (spec/vectors/interop-reqresp.json). weft's codecs must decode
// each to the recorded value; JSON re-encodes to the same bytes (same key order), CBOR to weft's
// deterministic encoding of the same value.
import { describe, expect, test } from 'vitest'
import { decodeCbor, encodeCbor } from '../src/core/cbor.js'
import { fromHex, toHex } from '../src/core/bytes.js'
import { cbor, json } from '../src/request-response/index.js'
import { vectorFile } from './helpers/vectors.js'

const vectors = vectorFile('interop-reqresp')

/** Bytes (a Uint8Array, or a JSON array of numbers) as "0x..", as the file records them. */
function show(v: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x instanceof Uint8Array ? `0x${toHex(x)}` : Array.isArray(x) ? `0x${toHex(Uint8Array.from(x as number[]))}` : x]))
}

describe('request-response bytes of rust-libp2p and go (interop vectors)', () => {
  for (const v of vectors.all()) {
    test(v.id, () => {
      const bytes = fromHex(v.hex!)
      const isReq = v.direction === 'request'
      if (v.codec === 'cbor') {
        const c = cbor<Record<string, unknown>, Record<string, unknown>>()
        const value = (isReq ? c.decodeRequest(bytes) : c.decodeResponse(bytes)) as Record<string, unknown>
        // serde_bytes / []byte travel as a CBOR byte string: weft sees a Uint8Array
        expect(value.payload).toBeInstanceOf(Uint8Array)
        expect(show(value)).toEqual(v.decoded)
        // rust and go write the fields in declaration order; weft writes sorted keys: same value
        const ours = isReq ? c.encodeRequest(value) : c.encodeResponse(value)
        expect(ours.length).toBe(bytes.length)
        expect(decodeCbor(ours)).toEqual(decodeCbor(bytes))
        expect(encodeCbor(decodeCbor(bytes))).toEqual(ours)
      } else {
        const c = json()
        const value = (isReq ? c.decodeRequest(bytes) : c.decodeResponse(bytes)) as Record<string, unknown>
        // serde_json writes a serde_bytes field as an array of numbers
        expect(Array.isArray(value.payload)).toBe(true)
        expect(show(value)).toEqual(v.decoded)
        expect(new TextDecoder().decode(bytes)).toBe(v.text)
        // the same object (same key order) encodes to the same bytes
        expect(toHex(isReq ? c.encodeRequest(value) : c.encodeResponse(value))).toBe(v.hex)
      }
    })
  }

  test('go writes the same bytes as rust for every message', () => {
    const all = vectors.all()
    for (const r of all.filter((v) => v.id.startsWith('rust-'))) {
      const g = all.find((v) => v.id === r.id.replace(/^rust-/, 'go-'))
      expect(g?.hex, r.id).toBe(r.hex)
    }
  })
})
