/**
 * README promise: "streams are { source, sink } duplexes (it-pipe works)". These run the real
 * `it-pipe` package (a dev dependency) against weft streams in both directions.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { pipe } from 'it-pipe'
import { createNode, readAll, type WeftNode } from '../src/node.js'

const nodes: WeftNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

async function pair(): Promise<[WeftNode, WeftNode]> {
  const a = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], services: {} })
  const b = await createNode({ listen: [], services: {} })
  nodes.push(a, b)
  return [a, b]
}

const chunk = (i: number, n: number): Uint8Array => Uint8Array.from({ length: n }, (_, j) => (i * 7 + j) & 0xff)

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const c of source) out.push(c.slice())
  return out
}

function joined(parts: Uint8Array[]): string {
  return Buffer.concat(parts).toString('hex')
}

describe('it-pipe with weft streams', () => {
  test('pipe(stream, stream) echo server; pipe(chunks, stream, collect) client', async () => {
    const [a, b] = await pair()
    a.handle('/echo/1.0.0', async (s) => { await pipe(s, s) })
    const sent = Array.from({ length: 20 }, (_, i) => chunk(i, 10_000 + i))
    const s = await b.newStream(a.getMultiaddrs()[0]!, '/echo/1.0.0')
    const back = await pipe(sent, s, collect)
    expect(joined(back)).toBe(joined(sent))
  })

  test('pipe with a transform in the middle, both directions', async () => {
    const [a, b] = await pair()
    a.handle('/upper/1.0.0', async (s) => {
      await pipe(s, async function* (src) {
        for await (const c of src) yield Uint8Array.from(c, (x) => (x >= 97 && x <= 122 ? x - 32 : x))
      }, s)
    })
    const s = await b.newStream(a.getMultiaddrs()[0]!, '/upper/1.0.0')
    const back = await pipe([new TextEncoder().encode('hello '), new TextEncoder().encode('weft')], s, (src) => readAll(src))
    expect(new TextDecoder().decode(back)).toBe('HELLO WEFT')
  })

  test('source is one iterable: reading the property twice is fine, iterating it twice is a TypeError', async () => {
    const [a, b] = await pair()
    a.handle('/echo/1.0.0', async (s) => { await pipe(s, s) })
    const s = await b.newStream(a.getMultiaddrs()[0]!, '/echo/1.0.0')
    expect(s.source).toBe(s.source)
    await s.sink([chunk(1, 10)])
    expect((await readAll(s.source)).length).toBe(10)
    await expect(readAll(s.source)).rejects.toThrow(TypeError)
  })

  test('a sink source that throws resets the stream (the remote does not see a clean end)', async () => {
    const [a, b] = await pair()
    const seen = new Promise<unknown>((resolve) => {
      a.handle('/drain/1.0.0', async (s) => {
        try { resolve(await readAll(s.source)) } catch (e) { resolve(e) }
      })
    })
    const s = await b.newStream(a.getMultiaddrs()[0]!, '/drain/1.0.0')
    await expect(pipe(async function* () { yield chunk(0, 100); throw new Error('source failed') }, s)).rejects.toThrow('source failed')
    expect(await seen).toMatchObject({ code: 'stream/reset' })
  })
})
