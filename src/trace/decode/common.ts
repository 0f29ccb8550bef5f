/**
 * What every protocol decoder of `weft trace` shares (spec/trace.md "Protocol messages"): the
 * stop-on-first-error shell (`BaseDecoder`), length-prefixed framing with the protocol's own limit
 * (`FramedDecoder`, on core's LpDecoder), and the views that make fields readable: peer ids as
 * base58 text, multiaddrs as text, public keys as their peer id, signed peer records opened, bytes
 * as hex (long ones cut to MAX_SHOWN_BYTES, with their length), long lists cut to MAX_SHOWN_ITEMS.
 *
 * Every view returns JSON-safe values only (no bigint, no Uint8Array, no class instance): `--json`
 * prints the fields as they are.
 */
import { LpDecoder, nobleCrypto, ProtocolError, toHex } from '../../core/index.js'
import type { DecodedMessage, StreamDecoder } from '../../core/trace.js'
import { Multiaddr } from '../../multiaddr/index.js'
import { openPeerRecord, PeerId, publicKeyFromProtobuf } from '../../peer-id/index.js'

/** Bytes of one byte field shown as hex; longer fields are cut here and their length given. */
export const MAX_SHOWN_BYTES = 64
/** Characters of one text field shown (a topic, a namespace, a JSON string); longer ones are cut and their length given. */
export const MAX_SHOWN_CHARS = 256
/** Entries of one list shown (message ids, addresses, peers); the count of the rest is given. */
export const MAX_SHOWN_ITEMS = 32

export type Fields = Record<string, unknown>
export const msg = (name: string, fields: Fields = {}): DecodedMessage => ({ name, fields })

/** Hex of `b`; when longer than `max` bytes: the first `max` bytes, '...' and the length. */
export function hex(b: Uint8Array, max = MAX_SHOWN_BYTES): string {
  return b.length <= max ? toHex(b) : `${toHex(b.subarray(0, max))}...(${b.length} bytes)`
}

/** `s`, cut after MAX_SHOWN_CHARS characters with '...(N chars)'. */
export function text(s: string, max = MAX_SHOWN_CHARS): string {
  return s.length <= max ? s : `${s.slice(0, max)}...(${s.length} chars)`
}

/** A uint64 as a number when it is safe, else as decimal text. */
export function num(v: bigint | number): number | string {
  if (typeof v === 'number') return v
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()
}

/** Binary peer id (a multihash) as base58 text; hex with a note when it is not a peer id. */
export function peerText(b: Uint8Array): string {
  try {
    return PeerId.fromMultihash(b).toString()
  } catch {
    return `invalid peer id ${hex(b)}`
  }
}

/** Binary multiaddr as text; hex with a note when it does not parse. */
export function addrText(b: Uint8Array | Multiaddr): string {
  if (b instanceof Multiaddr) return b.toString()
  try {
    return Multiaddr.fromBytes(b).toString()
  } catch {
    return `invalid multiaddr ${hex(b)}`
  }
}

/** The first MAX_SHOWN_ITEMS entries, mapped; a last entry '... N more' when there were more. */
export function list<T>(items: readonly T[], view: (t: T) => unknown): unknown[] {
  const shown: unknown[] = items.slice(0, MAX_SHOWN_ITEMS).map(view)
  if (items.length > MAX_SHOWN_ITEMS) shown.push(`... ${items.length - MAX_SHOWN_ITEMS} more`)
  return shown
}

/** A `PublicKey` protobuf (peer-ids spec): its type, its peer id and the key data in hex. */
export function publicKeyView(b: Uint8Array): Fields {
  try {
    const key = publicKeyFromProtobuf(b)
    return { type: key.type, peerId: key.toPeerId().toString(), hex: hex(key.data) }
  } catch (e) {
    return { invalid: reason(e), hex: hex(b) }
  }
}

/** A signed peer record (RFC 0003 in an RFC 0002 envelope), opened and its signature checked. */
export function peerRecordView(b: Uint8Array, open: (b: Uint8Array) => { peerId: PeerId; seq: bigint; addrs: Multiaddr[] } = (x) => openPeerRecord(x, nobleCrypto).record): Fields {
  try {
    const r = open(b)
    return { peerId: r.peerId.toString(), seq: num(r.seq), addrs: list(r.addrs, addrText), verified: true, bytes: b.length }
  } catch (e) {
    return { verified: false, error: reason(e), hex: hex(b) }
  }
}

/** Why something did not decode: the error code and message of a ProtocolError, else its text. */
export function reason(e: unknown): string {
  if (e instanceof ProtocolError) return e.message
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e)
}

/**
 * The shell of every decoder: `decode` turns pushed bytes into messages (appending to `out`) and
 * may throw; the first throw becomes one `undecodable` message and from then on each push reports
 * only its byte count (`data`). `handOver()` switches to byte counts without an error (a relayed
 * connection after its CONNECT, perf's payload after its header). Never throws.
 */
export abstract class BaseDecoder implements StreamDecoder {
  #counting = false
  #total = 0

  push(bytes: Uint8Array): DecodedMessage[] {
    if (this.#counting) return bytes.length === 0 ? [] : [this.data(bytes.length)]
    const out: DecodedMessage[] = []
    try {
      this.decode(bytes, out)
    } catch (e) {
      out.push(this.#fail(e))
    }
    return out
  }

  /**
   * The stream direction ended (the writer's half-close, yamux FIN): what only EOF completes (a
   * request-response message framed by EOF, a bare identify protobuf). Never throws.
   */
  end(): DecodedMessage[] {
    if (this.#counting) return []
    const out: DecodedMessage[] = []
    try {
      this.finish(out)
    } catch (e) {
      out.push(this.#fail(e))
    }
    try {
      this.handOver()
    } catch {}
    return out
  }

  /** Bytes held for the message being decoded (at most the protocol's limit; 0 once counting). */
  abstract get buffered(): number

  protected abstract decode(bytes: Uint8Array, out: DecodedMessage[]): void
  protected finish(_out: DecodedMessage[]): void {}
  /** Drop whatever is held: nothing more is decoded. */
  protected abstract release(): void

  /** From now on, count bytes: a `data` message per push. */
  protected handOver(): void {
    this.#counting = true
    this.release()
  }

  protected data(n: number): DecodedMessage {
    this.#total += n
    return msg('data', { bytes: n, total: this.#total })
  }

  #fail(e: unknown): DecodedMessage {
    let held = 0
    try {
      held = this.buffered
    } catch {}
    try {
      this.handOver()
    } catch {}
    return msg('undecodable', { reason: reason(e), bytes: held })
  }
}

/**
 * Length-prefixed messages (an unsigned varint length, then the message), at most `maxMessageSize`
 * bytes each: the protocol's own limit, checked on the prefix before the body is buffered. `body`
 * decodes one message into `out`; it returns true when the stream is handed over after it (what
 * follows is counted, not decoded).
 */
export class FramedDecoder extends BaseDecoder {
  readonly #lp: LpDecoder
  readonly #protocol: string
  readonly #body: (body: Uint8Array, out: DecodedMessage[]) => boolean | void

  constructor(protocol: string, maxMessageSize: number, body: (body: Uint8Array, out: DecodedMessage[]) => boolean | void) {
    super()
    this.#lp = new LpDecoder(maxMessageSize, protocol)
    this.#protocol = protocol
    this.#body = body
  }

  get buffered(): number {
    return this.#lp.buffered
  }

  protected release(): void {
    this.#lp.takeRemainder()
  }

  /** EOF inside a message: the bytes of its beginning cannot be decoded. */
  protected override finish(): void {
    const n = this.#lp.buffered
    if (n > 0) throw new ProtocolError(this.#protocol, 'lp/truncated', `the stream ended ${n} bytes into a message`)
  }

  protected decode(bytes: Uint8Array, out: DecodedMessage[]): void {
    this.#lp.push(bytes)
    for (let b = this.#lp.next(); b !== undefined; b = this.#lp.next()) {
      if (this.#body(b, out) === true) {
        const rest = this.#lp.buffered
        this.handOver()
        if (rest > 0) out.push(this.data(rest))
        return
      }
    }
  }
}
