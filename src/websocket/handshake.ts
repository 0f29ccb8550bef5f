/**
 * RFC 6455 §4, the opening handshake, sans IO: the client's request, the server's checks and 101
 * response, the client's checks of that response, and a bounded reader of an HTTP/1.1 head. SHA-1
 * is injected (the driver passes node:crypto's), so this module needs no hash of its own.
 */
import { BASE64, rfc4648Decode, rfc4648Encode } from '../core/base.js'
import { fromUtf8, utf8 } from '../core/bytes.js'
import { wsError } from './frame.js'

/** §1.3: the GUID appended to the key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

/** Default largest HTTP head (request or response line plus headers) accepted. */
export const DEFAULT_MAX_HEADER_BYTES = 8 * 1024

export type Sha1 = (data: Uint8Array) => Uint8Array

/** A fresh Sec-WebSocket-Key: 16 random bytes, base64 (§4.1). */
export function websocketKey(random16: Uint8Array): string {
  if (random16.length !== 16) throw new RangeError('a Sec-WebSocket-Key is 16 random bytes')
  return rfc4648Encode(random16, BASE64, 6, true)
}

/** Sec-WebSocket-Accept for `key`: base64(SHA-1(key + GUID)) (§4.2.2). */
export function acceptKey(key: string, sha1: Sha1): string {
  return rfc4648Encode(sha1(utf8(key + WEBSOCKET_GUID)), BASE64, 6, true)
}

/** A parsed HTTP/1.1 head: the start line's three parts and the headers (names lower-cased; repeats joined with ", "). */
export interface HttpHead {
  startLine: [string, string, string]
  headers: Map<string, string>
}

/**
 * Collects an HTTP head, bytes in any split, up to and including the blank line, at most
 * `maxBytes` of it (stops: a peer that streams an endless head, holding memory before the upgrade).
 * push() returns the head and the bytes after it (the first frames may follow at once), or undefined
 * while incomplete; too many bytes or an unparsable head throw ProtocolError.
 */
export class HttpHeadReader {
  readonly #max: number
  #buf: Uint8Array
  #len = 0

  constructor(maxBytes = DEFAULT_MAX_HEADER_BYTES) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 16) throw new RangeError('maxHeaderBytes must be an integer >= 16')
    this.#max = maxBytes
    this.#buf = new Uint8Array(Math.min(maxBytes, 1024))
  }

  push(input: Uint8Array): { head: HttpHead; rest: Uint8Array } | undefined {
    const start = Math.max(0, this.#len - 3) // the blank line may straddle two pushes
    const room = this.#max - this.#len
    const take = Math.min(input.length, room)
    if (this.#len + take > this.#buf.length) {
      const bigger = new Uint8Array(Math.min(this.#max, Math.max(this.#buf.length * 2, this.#len + take)))
      bigger.set(this.#buf.subarray(0, this.#len))
      this.#buf = bigger
    }
    this.#buf.set(input.subarray(0, take), this.#len)
    this.#len += take
    const b = this.#buf
    for (let i = start; i + 3 < this.#len; i++) {
      if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) {
        const end = i + 4
        const head = parseHead(b.subarray(0, i))
        const usedFromInput = end - (this.#len - take)
        return { head, rest: input.subarray(usedFromInput) }
      }
    }
    if (this.#len >= this.#max) throw wsError('websocket/header-too-large', `no end of the HTTP head within ${this.#max} bytes`)
    return undefined
  }
}

function parseHead(bytes: Uint8Array): HttpHead {
  let text: string
  try {
    text = fromUtf8(bytes)
  } catch {
    throw wsError('websocket/bad-handshake', 'an HTTP head that is not text')
  }
  const lines = text.split('\r\n')
  const first = lines[0]!.split(' ')
  if (first.length < 3) throw wsError('websocket/bad-handshake', `bad HTTP start line ${JSON.stringify(lines[0]!.slice(0, 80))}`)
  const startLine: [string, string, string] = [first[0]!, first[1]!, first.slice(2).join(' ')]
  const headers = new Map<string, string>()
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon <= 0) throw wsError('websocket/bad-handshake', `bad HTTP header line ${JSON.stringify(line.slice(0, 80))}`)
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    const had = headers.get(name)
    headers.set(name, had === undefined ? value : `${had}, ${value}`)
  }
  return { startLine, headers }
}

/** A comma-separated header contains `token` (case-insensitive), e.g. Connection: keep-alive, Upgrade. */
function hasToken(value: string | undefined, token: string): boolean {
  return value !== undefined && value.split(',').some((t) => t.trim().toLowerCase() === token)
}

/** The client's opening request (§4.1). `host` is the Host header value (with the port when not the scheme's default). */
export function clientRequest(options: { host: string; path: string; key: string }): Uint8Array {
  return utf8(
    `GET ${options.path} HTTP/1.1\r\nHost: ${options.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${options.key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  )
}

/** A client's check of the server's response (§4.1, the last list): anything else fails the connection. */
export function checkServerResponse(head: HttpHead, key: string, sha1: Sha1): void {
  const [version, status] = head.startLine
  if (!version.startsWith('HTTP/1.') || status !== '101') throw wsError('websocket/bad-handshake', `the server answered ${head.startLine.join(' ').slice(0, 80)}, not 101`)
  const h = head.headers
  if (h.get('upgrade')?.toLowerCase() !== 'websocket') throw wsError('websocket/bad-handshake', 'the response has no Upgrade: websocket')
  if (!hasToken(h.get('connection'), 'upgrade')) throw wsError('websocket/bad-handshake', 'the response has no Connection: Upgrade')
  if (h.get('sec-websocket-accept') !== acceptKey(key, sha1)) throw wsError('websocket/bad-handshake', 'wrong or missing Sec-WebSocket-Accept')
  if (h.has('sec-websocket-extensions')) throw wsError('websocket/bad-handshake', 'the server chose an extension we did not offer')
  if (h.has('sec-websocket-protocol')) throw wsError('websocket/bad-handshake', 'the server chose a subprotocol we did not offer')
}

/** The outcome of a server's check of a request: the key to answer, or the HTTP status to refuse with. */
export type RequestCheck = { ok: true; key: string } | { ok: false; status: 400 | 426; reason: string }

/** A server's check of the client's request (§4.2.1). Offered extensions and subprotocols are ignored (none chosen). */
export function checkClientRequest(head: HttpHead): RequestCheck {
  const [method, , version] = head.startLine
  const h = head.headers
  const bad = (reason: string): RequestCheck => ({ ok: false, status: 400, reason })
  if (method !== 'GET') return bad(`method ${method.slice(0, 16)}`)
  if (version !== 'HTTP/1.1') return bad(`version ${version.slice(0, 16)}`)
  if (!h.has('host')) return bad('no Host header')
  if (h.get('upgrade')?.toLowerCase() !== 'websocket') return bad('no Upgrade: websocket')
  if (!hasToken(h.get('connection'), 'upgrade')) return bad('no Connection: Upgrade')
  const key = h.get('sec-websocket-key')
  if (key === undefined || rfc4648Decode(key, BASE64, 6)?.length !== 16) return bad('no Sec-WebSocket-Key of 16 bytes')
  if (h.get('sec-websocket-version') !== '13') return { ok: false, status: 426, reason: 'Sec-WebSocket-Version is not 13' }
  return { ok: true, key }
}

/** The server's 101 response accepting `key` (§4.2.2). */
export function serverResponse(key: string, sha1: Sha1): Uint8Array {
  return utf8(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key, sha1)}\r\n\r\n`)
}

/** The server's refusal (§4.2.1: 400, or 426 with the version it speaks, §4.4). */
export function refusalResponse(status: 400 | 426): Uint8Array {
  const line = status === 400 ? '400 Bad Request' : '426 Upgrade Required\r\nSec-WebSocket-Version: 13'
  return utf8(`HTTP/1.1 ${line}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}
