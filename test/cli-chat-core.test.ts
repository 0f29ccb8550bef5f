/**
 * `weft chat` without processes (src/cli/chat-core.ts): input lines, /msg peer resolution, the
 * wire formats, the caps at the limit and past it, sanitising what peers send, the DM rate limit.
 */
import { createHash } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import {
  BoundedMap, DEFAULT_CHAT_LIMITS as L, LineSplitter, MAX_INPUT_LINE_BYTES, RateLimiter, checkDm, checkNick, checkOutgoing, decodeMessage, dmOutcome, encodeMessage,
  parseLine, printable, resolvePeer, roomKey, shortId, topicOf,
} from '../src/cli/chat-core.js'
import { cidMultihash } from '../src/cli/cid.js'
import { utf8 } from '../src/core/bytes.js'

const A = '12D3KooWQ9nQzVNySbzBNcn6SPncsLpcvnt9bDPjv1XSWDi4XBV5'
const B = '12D3KooWEvMgEL1cD3UWTph6VjssimGPqmoLhf26jfpfFBVS8aUa'
const C = '12D3KooWQDtErKcHMv9EKbcnEd4cwRRJUJYsb24D4SzQLywL2aar'
const isId = (s: string): boolean => s.startsWith('12D3KooW') && s.length === 52

function code(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    return (e as { code: string }).code
  }
  return 'no error'
}

describe('input lines', () => {
  test('text, commands, // escapes a leading slash, unknown commands and a bare /msg are typed errors', () => {
    expect(parseLine('hello there')).toEqual({ kind: 'say', text: 'hello there' })
    expect(parseLine('//etc/passwd is a path')).toEqual({ kind: 'say', text: '/etc/passwd is a path' })
    expect(parseLine('/msg bob hi  there')).toEqual({ kind: 'msg', peer: 'bob', text: 'hi  there' })
    expect(parseLine('/peers')).toEqual({ kind: 'peers' })
    expect(parseLine('/help')).toEqual({ kind: 'help' })
    expect(parseLine('/quit')).toEqual({ kind: 'quit' })
    expect(parseLine('   ')).toEqual({ kind: 'nothing' })
    expect(parseLine('hi\r')).toEqual({ kind: 'say', text: 'hi' })
    expect(code(() => parseLine('/msg bob'))).toBe('chat/usage')
    expect(code(() => parseLine('/nope'))).toBe('chat/unknown-command')
  })
})

describe('/msg <peer>', () => {
  const known = [{ id: A, nick: 'alice' }, { id: B, nick: 'bob' }, { id: C, nick: 'bob' }]
  test('a full id, a unique nick, a unique start or end of an id, the short form', () => {
    expect(resolvePeer(C, [], isId)).toBe(C)
    expect(resolvePeer('alice', known, isId)).toBe(A)
    expect(resolvePeer(A.slice(-8), known, isId)).toBe(A)
    expect(resolvePeer(shortId(B), known, isId)).toBe(B)
    expect(resolvePeer('12D3KooWEv', known, isId)).toBe(B)
  })
  test('ambiguous and unknown names are typed errors', () => {
    expect(code(() => resolvePeer('bob', known, isId))).toBe('chat/ambiguous-peer')
    expect(code(() => resolvePeer('12D3KooWQ', known, isId))).toBe('chat/ambiguous-peer')
    expect(code(() => resolvePeer('nobody', known, isId))).toBe('chat/unknown-peer')
    expect(code(() => resolvePeer('aa', known, isId))).toBe('chat/unknown-peer')
  })
})

describe('wire formats and caps', () => {
  test('a room message round-trips; a presence; plain UTF-8 text from other publishers; not UTF-8 is refused', () => {
    expect(decodeMessage(encodeMessage({ text: 'hi', nick: 'bob' }), L)).toEqual({ text: 'hi', nick: 'bob' })
    expect(decodeMessage(encodeMessage({ text: 'hi' }), L)).toEqual({ text: 'hi' })
    expect(decodeMessage(encodeMessage({ hello: true, nick: 'bob' }), L)).toEqual({ hello: true, nick: 'bob' })
    expect(decodeMessage(utf8('plain'), L)).toEqual({ text: 'plain' })
    expect(decodeMessage(utf8('{"text": 5}'), L)).toEqual({ text: '{"text": 5}' })
    expect(decodeMessage(Uint8Array.of(0xff, 0xfe), L)).toBe('not-text')
  })
  test('the text cap: at the limit accepted, one byte past it refused (send) and dropped (receive)', () => {
    const atLimit = 'é'.repeat(L.maxMessageBytes / 2)
    expect(() => checkOutgoing(atLimit, L)).not.toThrow()
    expect(code(() => checkOutgoing(`${atLimit}x`, L))).toBe('chat/message-too-long')
    expect(decodeMessage(encodeMessage({ text: atLimit }), L)).toEqual({ text: atLimit })
    expect(decodeMessage(encodeMessage({ text: `${atLimit}x` }), L)).toBe('too-long')
    expect(decodeMessage(utf8('x'.repeat(L.maxMessageBytes)), L)).toEqual({ text: 'x'.repeat(L.maxMessageBytes) })
    expect(decodeMessage(utf8('x'.repeat(L.maxMessageBytes + 1)), L)).toBe('too-long')
    // a huge payload is refused before it is decoded
    expect(decodeMessage(new Uint8Array(1 << 20).fill(0x78), L)).toBe('too-long')
    expect(checkDm({ text: atLimit }, L)).toEqual({ text: atLimit })
    expect(checkDm({ text: `${atLimit}x` }, L)).toEqual({ error: 'chat/message-too-long' })
    expect(checkDm('hi', L)).toEqual({ error: 'chat/bad-request' })
  })
  test('nicks: at most maxNickChars, no spaces or control characters; a received one is cut and made printable', () => {
    expect(checkNick('n'.repeat(L.maxNickChars), L)).toBe('n'.repeat(L.maxNickChars))
    expect(code(() => checkNick('n'.repeat(L.maxNickChars + 1), L))).toBe('chat/bad-nick')
    expect(code(() => checkNick('a b', L))).toBe('chat/bad-nick')
    expect(code(() => checkNick('a\u001b[2J', L))).toBe('chat/bad-nick')
    expect(decodeMessage(utf8(JSON.stringify({ text: 'x', nick: `\u001b[31m${'n'.repeat(40)}` })), L)).toEqual({ text: 'x', nick: `\uFFFD[31m${'n'.repeat(L.maxNickChars - 5)}` })
  })
  test('what peers send is printed without terminal escapes, carriage returns or line breaks', () => {
    expect(printable('a\u001b[2Jb\rc\nd\u2028e\u202ef')).toBe('a\uFFFD[2Jb\uFFFDc\uFFFDd\uFFFDe\uFFFDf')
    expect(printable('héllo ✓ 日本')).toBe('héllo ✓ 日本')
  })
  test('DM answers: ok, or the typed error the peer named', () => {
    expect(() => dmOutcome({ ok: true })).not.toThrow()
    expect(code(() => dmOutcome({ ok: false, error: 'chat/rate-limited' }))).toBe('chat/rate-limited')
    expect(code(() => dmOutcome({ ok: false, error: 'not a code\u001b' }))).toBe('chat/refused')
    expect(code(() => dmOutcome(null))).toBe('chat/refused')
  })
  test('the room key: the sha2-256 multihash of the topic, as a CIDv1 (raw) that names it', () => {
    const sha = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest())
    const k = roomKey(topicOf('lobby'), sha)
    expect(k.multihash.slice(0, 2)).toEqual(Uint8Array.of(0x12, 0x20))
    expect(k.multihash.slice(2)).toEqual(sha(utf8('weft-chat/lobby')))
    expect(k.cid).toMatch(/^bafkrei[a-z2-7]+$/)
    expect(cidMultihash(k.cid)).toEqual(k.multihash)
  })
})

describe('bounded state', () => {
  test('the DM rate limit: the burst passes, the next is refused, a token comes back per 1/dmPerSecond', () => {
    const r = new RateLimiter(5, 1, 16)
    for (let i = 0; i < 5; i++) expect(r.take(A, 1000)).toBe(true)
    expect(r.take(A, 1000)).toBe(false)
    expect(r.take(B, 1000)).toBe(true) // per peer
    expect(r.take(A, 1999)).toBe(false)
    expect(r.take(A, 2000)).toBe(true)
    expect(r.take(A, 2000)).toBe(false)
    // a long silence refills to the burst, not beyond
    for (let i = 0; i < 5; i++) expect(r.take(A, 100_000)).toBe(true)
    expect(r.take(A, 100_000)).toBe(false)
    expect(() => new RateLimiter(0, 1, 1)).toThrow(RangeError)
  })
  test('remembered peers are capped: the oldest is forgotten', () => {
    const m = new BoundedMap<string, number>(2)
    m.set('a', 1).set('b', 2).set('a', 3).set('c', 4)
    expect([...m.keys()]).toEqual(['a', 'c'])
    const r = new RateLimiter(1, 1, 2)
    for (const p of [A, B, C]) r.take(p, 0)
    expect(r.size).toBe(2)
  })
})

describe('input lines from a pipe', () => {
  test('split across chunks, CRLF, UTF-8 cut mid-character, the last line without a newline', () => {
    const s = new LineSplitter()
    const e = utf8('é')
    expect(s.push(utf8('hel'))).toEqual([])
    expect(s.push(Uint8Array.of(...utf8('lo\r\nwa'), e[0]!))).toEqual(['hello'])
    expect(s.push(Uint8Array.of(e[1]!, 10, ...utf8('end')))).toEqual(['waé'])
    expect(s.end()).toEqual(['end'])
    expect(s.end()).toEqual([])
  })
  test('a line of MAX_INPUT_LINE_BYTES is read; one byte more is skipped to its newline and reported once', () => {
    const s = new LineSplitter()
    expect(s.push(new Uint8Array(MAX_INPUT_LINE_BYTES).fill(0x61))).toEqual([])
    expect(s.push(Uint8Array.of(10))).toEqual(['a'.repeat(MAX_INPUT_LINE_BYTES)])
    const over = new Uint8Array(MAX_INPUT_LINE_BYTES + 1).fill(0x61)
    expect(s.push(over.subarray(0, 10))).toEqual([])
    expect(s.push(over.subarray(10))).toEqual([])
    expect(s.push(new Uint8Array(1 << 20))).toEqual([])
    expect(s.push(utf8('\nnext\n'))).toEqual([{ tooLong: MAX_INPUT_LINE_BYTES + 1 + (1 << 20) }, 'next'])
    expect(s.push(new Uint8Array(MAX_INPUT_LINE_BYTES + 5))).toEqual([])
    expect(s.end()).toEqual([{ tooLong: MAX_INPUT_LINE_BYTES + 5 }])
  })
})
