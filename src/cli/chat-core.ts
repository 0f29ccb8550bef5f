/**
 * `weft chat`: the parts without IO (src/cli/chat.ts drives them): the wire formats of room
 * messages and direct messages, the limits, the input commands, resolving `/msg <peer>` against the
 * peers we know, the per-peer rate limit of the DM handler, and the room key for the DHT.
 *
 * Room messages (gossipsub topic `weft-chat/<name>`): UTF-8 JSON `{"text": "...", "nick": "..."}`
 * (nick optional). Any other payload that is UTF-8 (e.g. from `weft pub`) is shown as its text, so
 * plain publishers can talk to the room. The sender is the message's signed author, never the nick,
 * which is only a self-chosen label shown next to the short peer id.
 *
 * Direct messages (request-response `/weft/chat/dm/1.0.0`, json codec): request
 * `{"text": "...", "nick": "..."}`, response `{"ok": true}` or `{"ok": false, "error": "<code>"}`
 * (`chat/rate-limited`, `chat/message-too-long`, `chat/bad-request`).
 */
import { UsageError } from '../core/errors.js'
import { BASE32, rfc4648Encode } from '../core/base.js'
import { concat, fromUtf8, utf8 } from '../core/bytes.js'

export const DM_PROTOCOL = '/weft/chat/dm/1.0.0'
export const TOPIC_PREFIX = 'weft-chat/'
export const DEFAULT_ROOM = 'lobby'

export interface ChatLimits {
  /**
   * Largest message text, UTF-8 bytes, room or DM. Default 1024. Stops: a peer making every member
   * print (and forward) megabyte lines; over it a typed line is refused (chat/message-too-long) and
   * an arriving one is dropped and counted (rejected by the topic validator, so it is not forwarded).
   */
  maxMessageBytes: number
  /** Longest nick, characters. Default 32. Stops: a nick used as a second, unbounded message. */
  maxNickChars: number
  /**
   * Direct messages accepted from one peer in a burst, then `dmPerSecond` more each second. Default
   * 5 and 1. Stops: one peer flooding our screen through the DM handler; past it the request is
   * answered `chat/rate-limited` and not printed.
   */
  dmBurst: number
  dmPerSecond: number
  /** Peers whose nick and rate-limit bucket we remember, default 1024 (oldest forgotten first). Stops: a stream of peer ids growing memory. */
  maxKnownPeers: number
  /** Largest DM request on the wire, bytes, default 4096 (the behaviour resets a longer one). Stops: buffering a huge request before the handler sees it. */
  maxDmRequestBytes: number
}

export const DEFAULT_CHAT_LIMITS: ChatLimits = {
  maxMessageBytes: 1024,
  maxNickChars: 32,
  dmBurst: 5,
  dmPerSecond: 1,
  maxKnownPeers: 1024,
  maxDmRequestBytes: 4096,
}

export function topicOf(room: string): string {
  return `${TOPIC_PREFIX}${room}`
}

/** The DHT key of a room: the sha2-256 multihash of the topic name, and its CIDv1 (raw) text. */
export function roomKey(topic: string, sha256: (b: Uint8Array) => Uint8Array): { multihash: Uint8Array; cid: string } {
  const multihash = concat([Uint8Array.of(0x12, 0x20), sha256(utf8(topic))])
  return { multihash, cid: `b${rfc4648Encode(concat([Uint8Array.of(0x01, 0x55), multihash]), BASE32, 5)}` }
}

/**
 * Text from a peer, safe to print: control characters (terminal escapes, carriage returns that
 * would overwrite the line, newlines that would fake a second message) become U+FFFD.
 */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '\uFFFD')
}

export function byteLength(s: string): number {
  return utf8(s).length
}

/** The text we send: refused past the cap with a typed error. */
export function checkOutgoing(text: string, limits: ChatLimits): void {
  const n = byteLength(text)
  if (n > limits.maxMessageBytes) throw new UsageError('chat/message-too-long', `${n} bytes; at most ${limits.maxMessageBytes}`)
}

export function checkNick(nick: string, limits: ChatLimits): string {
  if (nick === '' || [...nick].length > limits.maxNickChars || printable(nick) !== nick || /\s/.test(nick)) {
    throw new UsageError('chat/bad-nick', `a nick is 1 to ${limits.maxNickChars} characters without spaces or control characters`)
  }
  return nick
}

export interface ChatMessage {
  text: string
  nick?: string
}

/** A presence announcement, `{"hello": true, "nick": "..."}`: sent on joining and when members join, so nicks are known before anyone speaks. */
export interface Hello {
  hello: true
  nick?: string
}

export function encodeMessage(m: ChatMessage | Hello): Uint8Array {
  const body = 'hello' in m ? { hello: true } : { text: m.text }
  return utf8(JSON.stringify(m.nick !== undefined ? { ...body, nick: m.nick } : body))
}

/**
 * A room payload: our JSON, or any UTF-8 text (shown as is). undefined when it is not UTF-8.
 * 'too-long' when the text is past the cap. The nick is cut to the cap and made printable.
 */
export function decodeMessage(data: Uint8Array, limits: ChatLimits): ChatMessage | Hello | 'too-long' | 'not-text' {
  // a payload longer than the cap plus JSON framing and a nick cannot hold an acceptable text
  if (data.length > limits.maxMessageBytes * 6 + limits.maxNickChars * 24 + 64) return 'too-long'
  let s: string
  try {
    s = fromUtf8(data)
  } catch {
    return 'not-text'
  }
  const m = parseJsonMessage(s, limits)
  const out = m ?? { text: s }
  if ('text' in out && byteLength(out.text) > limits.maxMessageBytes) return 'too-long'
  return out
}

/** `{"text": string, "nick"?: string}`, `{"hello": true, "nick"?: string}` or undefined; the nick is sanitised and cut. */
export function parseJsonMessage(s: string, limits: ChatLimits): ChatMessage | Hello | undefined {
  if (!s.startsWith('{')) return undefined
  let v: unknown
  try {
    v = JSON.parse(s)
  } catch {
    return undefined
  }
  if (v !== null && typeof v === 'object' && (v as { hello?: unknown }).hello === true && !('text' in v)) {
    const n = nickOf((v as { nick?: unknown }).nick, limits)
    return n !== undefined ? { hello: true, nick: n } : { hello: true }
  }
  return fromJsonValue(v, limits)
}

function nickOf(nick: unknown, limits: ChatLimits): string | undefined {
  return typeof nick === 'string' && nick !== '' ? printable([...nick].slice(0, limits.maxNickChars).join('')) : undefined
}

export function fromJsonValue(v: unknown, limits: ChatLimits): ChatMessage | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined
  const { text, nick } = v as { text?: unknown; nick?: unknown }
  if (typeof text !== 'string') return undefined
  const n = nickOf(nick, limits)
  return n !== undefined ? { text, nick: n } : { text }
}

/** A DM request as received: the message, or the error code to answer with. */
export function checkDm(v: unknown, limits: ChatLimits): ChatMessage | { error: string } {
  const m = fromJsonValue(v, limits)
  if (m === undefined) return { error: 'chat/bad-request' }
  if (byteLength(m.text) > limits.maxMessageBytes) return { error: 'chat/message-too-long' }
  return m
}

/** A DM response as received: ok, or the error the peer named (a typed error here). */
export function dmOutcome(v: unknown): void {
  if (v !== null && typeof v === 'object' && (v as { ok?: unknown }).ok === true) return
  const code = v !== null && typeof v === 'object' ? (v as { error?: unknown }).error : undefined
  const c = typeof code === 'string' && /^[a-z0-9-]+\/[a-z0-9-]+$/.test(code) ? code : 'chat/refused'
  throw new UsageError(c, c === 'chat/rate-limited' ? 'the peer refused it: too many messages, try again later' : 'the peer refused the message')
}

/** Short form of a peer id for the screen: the last 6 characters. */
export function shortId(id: string): string {
  return `…${id.slice(-6)}`
}

/** One line typed on stdin. */
export type Command =
  | { kind: 'say'; text: string }
  | { kind: 'msg'; peer: string; text: string }
  | { kind: 'peers' }
  | { kind: 'help' }
  | { kind: 'quit' }
  | { kind: 'nothing' }

export function parseLine(line: string): Command {
  const l = line.replace(/\r$/, '')
  if (l.trim() === '') return { kind: 'nothing' }
  if (!l.startsWith('/')) return { kind: 'say', text: l }
  if (l.startsWith('//')) return { kind: 'say', text: l.slice(1) }
  const m = /^\/(\S+)\s*(.*)$/s.exec(l)!
  const [cmd, rest] = [m[1]!, m[2]!]
  switch (cmd) {
    case 'msg': {
      const p = /^(\S+)\s+(.+)$/s.exec(rest)
      if (p === null) throw new UsageError('chat/usage', 'usage: /msg <peer> <text>  (a peer id, a unique part of one, or a nick)')
      return { kind: 'msg', peer: p[1]!, text: p[2]! }
    }
    case 'peers': return { kind: 'peers' }
    case 'help': return { kind: 'help' }
    case 'quit':
    case 'exit': return { kind: 'quit' }
    default: throw new UsageError('chat/unknown-command', `/${cmd}; try /help (start a message with // to send a line beginning with /)`)
  }
}

export const CHAT_HELP = `  <text>               send to the room
  /msg <peer> <text>   direct message (a peer id, a unique start or end of one, or a nick)
  /peers               connected peers and room members
  /help                this help
  /quit                leave (as do end of input and Ctrl-C)`

/** What `/msg` can resolve against: every peer id we know, with its nick when it has one. */
export interface KnownPeer {
  id: string
  nick?: string
}

/**
 * `/msg <peer>`: a full id; else a nick seen in the room (unique); else a unique start or end of a
 * known id (the `…abc123` short form included). Typed errors: chat/unknown-peer, chat/ambiguous-peer.
 */
export function resolvePeer(token: string, known: readonly KnownPeer[], isPeerId: (s: string) => boolean): string {
  if (isPeerId(token)) return token
  const byNick = new Set(known.filter((k) => k.nick === token).map((k) => k.id))
  if (byNick.size === 1) return [...byNick][0]!
  if (byNick.size > 1) throw new UsageError('chat/ambiguous-peer', `${printable(token)} is the nick of ${byNick.size} peers: ${[...byNick].map(shortId).join(', ')}; use a peer id`)
  const part = token.replace(/^(…|\.\.\.?)/, '')
  if (part.length < 3) throw new UsageError('chat/unknown-peer', `${printable(token)}: give at least 3 characters of a peer id, or a nick`)
  const ids = new Set(known.map((k) => k.id).filter((id) => id.startsWith(part) || id.endsWith(part)))
  if (ids.size === 1) return [...ids][0]!
  if (ids.size > 1) throw new UsageError('chat/ambiguous-peer', `${printable(token)} matches ${ids.size} peers: ${[...ids].map(shortId).join(', ')}`)
  throw new UsageError('chat/unknown-peer', `no known peer or nick matches ${printable(token)} (/peers lists them)`)
}

/** A bounded map that forgets its oldest entry (by last write) past `max`. */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(readonly max: number) {
    super()
  }

  override set(key: K, value: V): this {
    super.delete(key)
    super.set(key, value)
    while (this.size > this.max) super.delete(this.keys().next().value as K)
    return this
  }
}

/** Token buckets per peer (the DM handler): `take(peer, nowMs)` is false while the peer is over its rate. */
export class RateLimiter {
  readonly #buckets: BoundedMap<string, { tokens: number; at: number }>
  readonly #burst: number
  readonly #perSecond: number

  constructor(burst: number, perSecond: number, maxPeers: number) {
    if (!(burst >= 1) || !(perSecond > 0)) throw new RangeError('burst must be at least 1 and perSecond more than 0')
    this.#burst = burst
    this.#perSecond = perSecond
    this.#buckets = new BoundedMap(maxPeers)
  }

  take(peer: string, now: number): boolean {
    const b = this.#buckets.get(peer) ?? { tokens: this.#burst, at: now }
    b.tokens = Math.min(this.#burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.#perSecond)
    b.at = now
    const ok = b.tokens >= 1
    if (ok) b.tokens -= 1
    this.#buckets.set(peer, b)
    return ok
  }

  get size(): number {
    return this.#buckets.size
  }
}

/**
 * Longest input line read from a pipe, bytes (64 KiB). Stops: input without a newline (a binary
 * file, /dev/zero) growing one string until the process dies; the rest of such a line is skipped
 * and reported as one chat/line-too-long.
 */
export const MAX_INPUT_LINE_BYTES = 64 * 1024

/** Splits stdin bytes into UTF-8 lines, at most `max` bytes each; a longer one becomes `{ tooLong: bytes }`. */
export class LineSplitter {
  #parts: Uint8Array[] = []
  #size = 0
  #skipped = -1
  readonly #decoder = new TextDecoder()

  constructor(readonly max = MAX_INPUT_LINE_BYTES) {}

  push(chunk: Uint8Array): Array<string | { tooLong: number }> {
    const out: Array<string | { tooLong: number }> = []
    let start = 0
    for (;;) {
      const nl = chunk.indexOf(10, start)
      this.#add(chunk.subarray(start, nl === -1 ? chunk.length : nl))
      if (nl === -1) return out
      out.push(this.#take())
      start = nl + 1
    }
  }

  /** At end of input: the last line when it had no newline. */
  end(): Array<string | { tooLong: number }> {
    return this.#size > 0 || this.#skipped >= 0 ? [this.#take()] : []
  }

  #add(piece: Uint8Array): void {
    if (this.#skipped >= 0) {
      this.#skipped += piece.length
      return
    }
    if (this.#size + piece.length > this.max) {
      this.#skipped = this.#size + piece.length
      this.#parts = []
      this.#size = 0
      return
    }
    if (piece.length > 0) this.#parts.push(piece.slice())
    this.#size += piece.length
  }

  #take(): string | { tooLong: number } {
    const r = this.#skipped >= 0 ? { tooLong: this.#skipped } : this.#decoder.decode(concat(this.#parts, this.#size)).replace(/\r$/, '')
    this.#parts = []
    this.#size = 0
    this.#skipped = -1
    return r
  }
}
