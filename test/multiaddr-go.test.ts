/**
 * go-multiaddr parity: go-multiaddr's own valid and invalid cases (spec/vectors/go-multiaddr.json,
 * extracted as data from its multiaddr_test.go, provenance `external`) run through weft.
 *
 * - a case go accepts parses in weft, with the bytes, text and component values go's test asserts
 *   where it asserts them, and round-trips (text -> bytes -> text -> bytes);
 * - a case go rejects fails in weft: UsageError for text (user input), ProtocolError('multiaddr')
 *   for bytes (remote input), with the code the vector names.
 */
import { describe, expect, test } from 'vitest'
import { isProtocolError, ProtocolError, UsageError } from '../src/core/errors.js'
import { fromHex, toHex } from '../src/core/bytes.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { vectorFile } from './helpers/vectors.js'

const vectors = vectorFile('go-multiaddr')

function expectRoundTrip(m: Multiaddr): void {
  const text = m.toString()
  const again = Multiaddr.fromString(text)
  expect(toHex(again.bytes)).toBe(toHex(m.bytes))
  expect(again.toString()).toBe(text)
  expect(Multiaddr.fromBytes(m.bytes).toString()).toBe(text)
}

describe('go-multiaddr cases', () => {
  for (const v of vectors.all()) {
    const input = v['input'] as string | undefined
    test(`${v.id}: ${JSON.stringify(input ?? v.hex).slice(0, 80)}`, () => {
      expect(input === undefined).not.toBe(v.hex === undefined) // exactly one of them
      if (v.error !== undefined) {
        let thrown: unknown
        try {
          if (input !== undefined) Multiaddr.fromString(input)
          else Multiaddr.fromBytes(fromHex(v.hex!))
        } catch (e) {
          thrown = e
        }
        if (input !== undefined) {
          expect(thrown).toBeInstanceOf(UsageError)
          expect(isProtocolError(thrown)).toBe(false)
        } else {
          expect(thrown).toBeInstanceOf(ProtocolError)
          expect((thrown as ProtocolError).protocol).toBe('multiaddr')
        }
        expect((thrown as UsageError | ProtocolError).code).toBe(v.error)
        return
      }
      const m = input !== undefined ? Multiaddr.fromString(input) : Multiaddr.fromBytes(fromHex(v.hex!))
      const d = v.decoded as { hex?: string; text?: string; values?: Array<[string, string | null]> }
      if (d.hex !== undefined) expect(toHex(m.bytes)).toBe(d.hex)
      if (d.text !== undefined) expect(m.toString()).toBe(d.text)
      if (d.values !== undefined) expect(m.components().map((c) => [c.name, c.value ?? null])).toEqual(d.values)
      expectRoundTrip(m)
    })
  }
})
