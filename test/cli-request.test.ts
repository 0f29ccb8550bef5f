/**
 * Request-response on the command line: `weft node --serve-request` (the built CLI, bin/weft.js; run
 * `npm run build` first) and `weft request` against it (in-process): success with json and cbor, the
 * key-value file, and one line on stderr naming the code for each failure.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { cli } from './helpers/cli.js'
import { failure, startCliNode, stopCliNodes } from './helpers/cli-node.js'
import { CborTag } from '../src/core/cbor.js'
import { parseServeSpec, toJsonText } from '../src/cli/request.js'

afterAll(stopCliNodes)

/** Spawn `weft node ... --json`; resolves once it has started and announced each --serve-request. */
function startNode(extra: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'weft-cli-request-'))
  const services = extra.filter((a) => a === '--serve-request').length
  return startCliNode(join(dir, 'id.key'), extra, (lines) => lines.filter((l) => l.event === 'request:serving').length === services)
}

describe('weft request against weft node --serve-request', () => {
  let jsonNode = ''
  let cborNode = ''
  let lpNode = ''
  beforeAll(async () => {
    const kv = join(mkdtempSync(join(tmpdir(), 'weft-cli-request-kv-')), 'kv.json')
    writeFileSync(kv, JSON.stringify({ greeting: 'hello', config: { port: 4001, tags: ['a', 'b'] } }))
    const nodes = await Promise.all([
      startNode(['--serve-request', '/test/echo/1.0.0=echo', '--serve-request', `/test/kv/1.0.0=${kv}`, '--serve-request', '/test/never/1.0.0=never']),
      startNode(['--serve-request', '/test/echo/1.0.0=echo', '--serve-codec', 'cbor']),
      startNode(['--serve-request', '/test/echo/1.0.0=echo', '--serve-request', '/test/never/1.0.0=never', '--serve-framing', 'length-prefixed']),
    ])
    ;[jsonNode, cborNode, lpNode] = nodes.map((n) => n.addr) as [string, string, string]
    expect(nodes[0].lines.filter((l) => l.event === 'request:serving').map((l) => l.spec)).toEqual(['/test/echo/1.0.0=echo', `/test/kv/1.0.0=${kv}`, '/test/never/1.0.0=never'])
    expect(nodes[1].lines.find((l) => l.event === 'request:serving')?.codec).toBe('cbor')
    expect((nodes[2].lines.find((l) => l.event === 'request:serving') as { framing?: string } | undefined)?.framing).toBe('length-prefixed')
  }, 30_000)

  test('echo: the response is the request, as JSON text; --json adds the peer', async () => {
    const r = await cli('request', jsonNode, '/test/echo/1.0.0', '{"hello":[1,2,{"x":null}]}')
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    expect(r.out).toBe('{"hello":[1,2,{"x":null}]}')
    const j = await cli('request', jsonNode, '/test/echo/1.0.0', '"hi"', '--json')
    expect(j.code).toBe(0)
    const line = JSON.parse(j.out) as { peer: string; protocol: string; codec: string; response: unknown }
    expect(line).toMatchObject({ protocol: '/test/echo/1.0.0', codec: 'json', response: 'hi' })
    expect(jsonNode.endsWith(`/p2p/${line.peer}`)).toBe(true)
  }, 30_000)

  test('--codec cbor against a cbor server; a json server resets a cbor request (decode)', async () => {
    const r = await cli('request', cborNode, '/test/echo/1.0.0', '{"n":-7,"s":"x","l":[true,1.5]}', '--codec', 'cbor')
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.out)).toEqual({ n: -7, s: 'x', l: [true, 1.5] })
    expect(failure(await cli('request', jsonNode, '/test/echo/1.0.0', '{"n":1}', '--codec', 'cbor'))).toContain('reqresp/reset')
  }, 30_000)

  test('--framing length-prefixed against a length-prefixed server; an EOF-framed request there is refused', async () => {
    const r = await cli('request', lpNode, '/test/echo/1.0.0', '{"lp":[1,2,3]}', '--framing', 'length-prefixed', '--json')
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.out)).toMatchObject({ framing: 'length-prefixed', response: { lp: [1, 2, 3] } })
    // '{' read as a length prefix announces 123 bytes; 7 come, then EOF: the server resets (decode)
    expect(failure(await cli('request', lpNode, '/test/echo/1.0.0', '{"n":1}'))).toContain('reqresp/reset')
    expect(failure(await cli('request', lpNode, '/test/never/1.0.0', '1', '--framing', 'length-prefixed', '--timeout', '300ms'))).toContain('reqresp/timeout')
  }, 30_000)

  test('the key-value file: a known key is answered, an unknown one gets reqresp/no-response', async () => {
    const r = await cli('request', jsonNode, '/test/kv/1.0.0', '{"key":"config"}')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.out)).toEqual({ port: 4001, tags: ['a', 'b'] })
    expect((await cli('request', jsonNode, '/test/kv/1.0.0', '{"key":"greeting"}')).out).toBe('"hello"')
    expect(failure(await cli('request', jsonNode, '/test/kv/1.0.0', '{"key":"missing"}'))).toContain('reqresp/no-response')
    expect(failure(await cli('request', jsonNode, '/test/kv/1.0.0', '"config"'))).toContain('reqresp/no-response')
  }, 30_000)

  test('a protocol the node does not serve: reqresp/unsupported-protocol', async () => {
    expect(failure(await cli('request', jsonNode, '/test/other/1.0.0', '1'))).toContain('reqresp/unsupported-protocol')
  }, 30_000)

  test('a handler that never answers: reqresp/timeout after --timeout', async () => {
    expect(failure(await cli('request', jsonNode, '/test/never/1.0.0', '1', '--timeout', '300ms'))).toContain('reqresp/timeout')
  }, 30_000)

  test('nobody listening: the dial error, one line', async () => {
    expect(failure(await cli('request', '/ip4/127.0.0.1/tcp/1', '/test/echo/1.0.0', '1'))).toContain('dial/')
  }, 30_000)
})

describe('weft request usage errors', () => {
  test('bad JSON text, a missing argument, a bad codec or timeout: one line, exit 1, no dial', async () => {
    expect(failure(await cli('request', '/ip4/127.0.0.1/tcp/1', '/p/1', '{bad'))).toContain('not JSON text')
    expect(failure(await cli('request', '/ip4/127.0.0.1/tcp/1', '/p/1'))).toContain('usage: weft request')
    expect(failure(await cli('request', '/ip4/127.0.0.1/tcp/1', '/p/1', '1', '--codec', 'xml'))).toContain('--codec must be json or cbor')
    expect(failure(await cli('request', '/ip4/127.0.0.1/tcp/1', '/p/1', '1', '--timeout', 'soon'))).toContain('--timeout must be a duration')
    expect(failure(await cli('node', '--serve-request', 'echo'))).toContain('--serve-request must be <protocol>=echo|never|<file.json>')
    expect(failure(await cli('node', '--serve-codec', 'cbor'))).toContain('--serve-codec needs --serve-request')
    expect(failure(await cli('node', '--serve-request', '/a/1=echo', '--serve-codec', 'xml'))).toContain('--serve-codec must be json or cbor')
    expect(failure(await cli('request', '/ip4/127.0.0.1/tcp/1', '/p/1', '1', '--framing', 'varint'))).toContain('--framing must be eof or length-prefixed')
    expect(failure(await cli('node', '--serve-framing', 'length-prefixed'))).toContain('--serve-framing needs --serve-request')
    expect(failure(await cli('node', '--serve-request', '/a/1=echo', '--serve-framing', 'lp'))).toContain('--serve-framing must be eof or length-prefixed')
  })

  test('parseServeSpec and toJsonText', () => {
    expect(parseServeSpec('/a/1=echo')).toEqual({ protocol: '/a/1', mode: 'echo' })
    expect(parseServeSpec('/a/1=never')).toEqual({ protocol: '/a/1', mode: 'never' })
    expect(parseServeSpec('/a/1=x=y.json')).toEqual({ protocol: '/a/1=x', mode: 'file', file: 'y.json' })
    expect(() => parseServeSpec('/a/1=')).toThrow('--serve-request')
    expect(toJsonText(new Map<unknown, unknown>([['a', 1n], [2, new Uint8Array([1, 255])]]))).toBe('{"2":"0x01ff","a":1}')
    expect(toJsonText([undefined, 2n ** 64n, new CborTag(1, 5)])).toBe('[null,"18446744073709551616",{"tag":1,"value":5}]')
  })
})
