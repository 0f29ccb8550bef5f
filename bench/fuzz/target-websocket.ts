/**
 * WebSocket target (src/websocket): the RFC 6455 frame decoder behind an endpoint, and the opening
 * handshake's head reader and checks. The first input byte picks the mode: the low bit chooses the
 * role (server: frames must be masked), bit 1 the handshake instead of frames; the rest is a frame
 * sequence (binary messages, fragmented or not, pings, pongs, closes, masked for a server) or an
 * HTTP head, then mutated.
 * Checks: only ProtocolError('websocket', 'websocket/...') escapes; the same input whole and cut into
 * pieces (one byte at a time or random) gives the same data bytes, the same output frames and the
 * same error (so no byte of a frame past maxMessageBytes is delivered in one split and not the other); after an error exactly one close frame
 * (status 1002, 1003 or 1009) is queued; the head reader never holds more than its limit.
 */
import { ProtocolError } from '../../src/core/errors.js'
import { equals, utf8 } from '../../src/core/bytes.js'
import { HttpHeadReader, OPCODE, WebSocketEndpoint, checkClientRequest, checkServerResponse, encodeFrame } from '../../src/websocket/index.js'
import { check, count, type Target } from './engine.js'
import { concatBytes, deliver, mutate } from './mutate.js'
import { Rand } from './rng.js'

const MAX_MESSAGE = 512
const MAX_HEAD = 600
const stats: Record<string, number> = {}
const sha1 = (b: Uint8Array): Uint8Array => b.slice(0, 20) // the checks only compare: any function will do
const random = (n: number): Uint8Array => new Uint8Array(n).fill(0x5a)

function frames(r: Rand, server: boolean): Uint8Array {
  const key = (): Uint8Array | undefined => (server ? r.bytes(4) : undefined)
  const out: Uint8Array[] = []
  for (let i = 1 + r.int(6); i > 0; i--) {
    switch (r.int(6)) {
      case 0: out.push(encodeFrame(OPCODE.ping, r.bytes(r.size(125)), key())); break
      case 1: out.push(encodeFrame(OPCODE.pong, r.bytes(r.size(125)), key())); break
      case 2: out.push(encodeFrame(OPCODE.close, r.chance(0.3) ? new Uint8Array(0) : Uint8Array.of(3, 0xe8 + r.int(4), ...utf8('bye')), key())); break
      default: {
        const parts = 1 + r.int(3)
        for (let p = 0; p < parts; p++) out.push(encodeFrame(p === 0 ? OPCODE.binary : OPCODE.continuation, r.bytes(r.size(MAX_MESSAGE / 2)), key(), p === parts - 1))
      }
    }
  }
  return concatBytes(out)
}

const HEADS = [
  'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
]

interface Outcome { data: Uint8Array; output: Uint8Array[]; error: string | undefined }

function runFrames(input: Uint8Array, server: boolean, schedule: number, r: Rand): Outcome {
  const ep = new WebSocketEndpoint({ server, maxMessageBytes: MAX_MESSAGE, randomBytes: random })
  const data: Uint8Array[] = []
  const output: Uint8Array[] = []
  let error: string | undefined
  deliver(input, schedule, r, (piece) => {
    try {
      ep.receive(piece.slice(), (b) => data.push(b.slice()))
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e
      check(e.protocol === 'websocket' && e.code.startsWith('websocket/'), `ProtocolError(${e.protocol}, ${e.code}) escaped the websocket decoder`)
      error = e.code
    }
    output.push(...ep.takeOutput())
    return error === undefined
  })
  return { data: concatBytes(data), output, error }
}

export const websocketTarget: Target = {
  name: 'websocket',
  stats,
  generate(r) {
    const mode = r.int(4)
    const body = (mode & 2) !== 0 ? utf8(r.pick(HEADS)) : frames(r, (mode & 1) === 1)
    return concatBytes([Uint8Array.of(mode | (r.int(64) << 2)), mutate(r, body)])
  },
  run(input) {
    const mode = input[0] ?? 0
    const body = input.subarray(1)
    if ((mode & 2) !== 0) return runHandshake(body)
    const server = (mode & 1) === 1
    const whole = runFrames(body, server, 0, new Rand(1))
    const cut = runFrames(body, server, 1 + (mode >> 2) % 2, new Rand(mode))
    check(whole.error === cut.error, `error ${whole.error} whole, ${cut.error} in pieces`)
    check(equals(whole.data, cut.data), 'data differs between whole and pieces')
    check(whole.output.length === cut.output.length && whole.output.every((o, i) => equals(o, cut.output[i]!)), 'output frames differ between whole and pieces')
    if (whole.error !== undefined) {
      count(stats, whole.error)
      const last = whole.output.at(-1)
      check(last !== undefined && (last[0]! & 0x0f) === OPCODE.close, 'no close frame after a protocol error')
    } else count(stats, 'clean')
    // payload views come out of the input: never more bytes than went in, never a byte of a frame past the limit
    check(whole.data.length <= body.length, 'more data out than bytes in')
    check(whole.error !== 'websocket/message-too-large' || cut.data.length === whole.data.length, 'a too-large message delivered in part')
  },
}

function runHandshake(body: Uint8Array): void {
  const reader = new HttpHeadReader(MAX_HEAD)
  let got
  try {
    got = reader.push(body)
  } catch (e) {
    if (e instanceof ProtocolError) {
      check(e.protocol === 'websocket', `ProtocolError(${e.protocol}) from the head reader`)
      count(stats, e.code)
      throw e
    }
    throw e
  }
  if (got === undefined) {
    check(body.length < MAX_HEAD, `no head and no error after ${body.length} bytes`)
    count(stats, 'incomplete')
    return
  }
  count(stats, 'head')
  const req = checkClientRequest(got.head)
  count(stats, req.ok ? 'request-ok' : `request-${req.status}`)
  checkServerResponse(got.head, 'dGhlIHNhbXBsZSBub25jZQ==', sha1)
}
