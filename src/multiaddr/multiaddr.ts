/**
 * `Multiaddr`: an immutable, validated multiaddr.
 *
 * It owns one byte array (the machine-readable form) and the list of its components. Everything
 * it hands out is a copy. Encapsulation appends a multiaddr; decapsulation removes the LAST
 * occurrence of a multiaddr (matched component by component) and everything after it, as
 * libp2p specs addressing/README.md "Decapsulation" describes.
 */
import { concat, equals as bytesEqual } from '../core/bytes.js'
import { decodeBytes, decodeText, formatPart, formatValue, splitTrusted, type ParseOptions, type Part } from './codec.js'
import { checkUtf8, encodeBase58, percentDecode } from './encodings.js'
import { isIp4Mapped } from './ip.js'
import { CODE, type Protocol } from './protocols.js'
import { toDialTarget, type DialComponent, type DialTarget } from './dial.js'
import { fromUserText } from './errors.js'
import { UsageError } from '../core/errors.js'

/** One component of a multiaddr: protocol code and name, and its value as text and bytes. */
export interface Component {
  /** The protocol's multicodec code (e.g. 4 for ip4, 6 for tcp). */
  code: number
  /** The protocol's name (e.g. `ip4`, `tcp`). */
  name: string
  /**
   * The value in its canonical text form (as printed after `/<name>/`; for a path protocol, the
   * path with its leading `/`, as printed after `/unix`); absent for size-0 protocols.
   */
  value?: string
  /** The value bytes, without code or length prefix (empty for size-0 protocols). */
  bytes: Uint8Array
}

const SEAL = Symbol('Multiaddr')

/**
 * An immutable, validated multiaddr (multiformats/multiaddr; libp2p specs addressing/README.md): one
 * byte array, the machine-readable form, and its components. Everything it hands out is a copy.
 * Build one with `multiaddr(...)`, `Multiaddr.fromString` (throws `UsageError` with a
 * `MultiaddrErrorCode`) or `Multiaddr.fromBytes` (throws `ProtocolError('multiaddr', code)`).
 * `encapsulate` appends; `decapsulate` removes the last occurrence of a multiaddr and everything
 * after it ("Decapsulation").
 * @example
 * ```ts
 * const ma = multiaddr('/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')
 * ma.getPeerId()                  // '12D3KooWD3eck...'
 * ma.decapsulateCode(421).toString() // '/ip4/127.0.0.1/tcp/4001'
 * ```
 */
export class Multiaddr {
  readonly #bytes: Uint8Array
  readonly #parts: readonly Part[]
  #text: string | undefined

  /** @internal Use `Multiaddr.fromString`, `Multiaddr.fromBytes` or `multiaddr()`. */
  constructor(seal: typeof SEAL, bytes: Uint8Array, parts: readonly Part[]) {
    if (seal !== SEAL) throw new TypeError('use Multiaddr.fromString, Multiaddr.fromBytes or multiaddr()')
    this.#bytes = bytes
    this.#parts = parts
  }

  /**
   * Parse the human-readable form (user input). Malformed text throws `UsageError` with a
   * `multiaddr/*` code (`MultiaddrTextError`), never ProtocolError: no remote is to blame.
   */
  static fromString(text: string, options?: ParseOptions): Multiaddr {
    if (typeof text !== 'string') throw new TypeError('multiaddr text must be a string')
    const { bytes, parts } = fromUserText(() => decodeText(text, options))
    return new Multiaddr(SEAL, bytes, parts)
  }

  /** Parse the machine-readable form (copied; from remotes). Malformed bytes throw ProtocolError('multiaddr', ...). */
  static fromBytes(bytes: Uint8Array, options?: ParseOptions): Multiaddr {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('multiaddr bytes must be a Uint8Array')
    const owned = bytes.slice()
    return new Multiaddr(SEAL, owned, decodeBytes(owned, options))
  }

  /** The multiaddr with no components (what decapsulating everything leaves). Prints as ''. */
  static empty(): Multiaddr {
    return new Multiaddr(SEAL, new Uint8Array(0), [])
  }

  /** Bytes we built ourselves from valid pieces: no re-validation, no limits. */
  static #trusted(bytes: Uint8Array): Multiaddr {
    return new Multiaddr(SEAL, bytes, splitTrusted(bytes))
  }

  /** The machine-readable form; a fresh copy on every access. */
  get bytes(): Uint8Array {
    return this.#bytes.slice()
  }

  /** The number of components. */
  get length(): number {
    return this.#parts.length
  }

  /** True for the empty multiaddr (no components). */
  isEmpty(): boolean {
    return this.#parts.length === 0
  }

  /** The canonical text form, e.g. `/ip4/1.2.3.4/tcp/4001` (protocol names, never aliases). */
  toString(): string {
    this.#text ??= this.#parts.map((p) => formatPart(this.#bytes, p)).join('')
    return this.#text
  }

  /** The text form, so `JSON.stringify` prints a multiaddr as its string. */
  toJSON(): string {
    return this.toString()
  }

  /** Each component in order: code, name, value text and value bytes (copies). */
  components(): Component[] {
    return this.#parts.map((p) => {
      const c: Component = { code: p.proto.code, name: p.proto.name, bytes: this.#bytes.slice(p.valueStart, p.end) }
      if (p.proto.size !== 0) c.value = formatValue(this.#bytes, p)
      return c
    })
  }

  /** The protocol table row of each component, in order. */
  protos(): Protocol[] {
    return this.#parts.map((p) => p.proto)
  }

  /** True when both multiaddrs have the same bytes (the text forms may differ only by aliases). */
  equals(other: Multiaddr): boolean {
    return bytesEqual(this.#bytes, other.#bytes)
  }

  /**
   * This multiaddr followed by `other`. Not subject to parse limits: both halves are already valid.
   * Nothing can follow a path component (`/unix/...` takes the rest of the text): UsageError
   * `multiaddr/component-after-path`.
   */
  encapsulate(other: Multiaddr | string): Multiaddr {
    const o = typeof other === 'string' ? Multiaddr.fromString(other) : other
    if (o.#parts.length > 0 && this.#parts[this.#parts.length - 1]?.proto.path) throw new UsageError('multiaddr/component-after-path')
    return Multiaddr.#trusted(concat([this.#bytes, o.#bytes]))
  }

  /**
   * Remove the last occurrence of `other` (a run of whole components equal to its components) and
   * everything after it. Unchanged when `other` does not occur or is empty.
   */
  decapsulate(other: Multiaddr | string): Multiaddr {
    const o = typeof other === 'string' ? Multiaddr.fromString(other) : other
    const n = o.#parts.length
    if (n === 0) return this
    for (let i = this.#parts.length - n; i >= 0; i--) {
      const start = this.#parts[i]!.start
      const end = this.#parts[i + n - 1]!.end
      if (bytesEqual(this.#bytes.subarray(start, end), o.#bytes)) return this.#prefix(i)
    }
    return this
  }

  /** Remove the last component with protocol `code` and everything after it. Unchanged when absent. */
  decapsulateCode(code: number): Multiaddr {
    for (let i = this.#parts.length - 1; i >= 0; i--) if (this.#parts[i]!.proto.code === code) return this.#prefix(i)
    return this
  }

  /**
   * The peer id of this address: the base58btc text of the last /p2p component, unless a
   * /p2p-circuit follows it (then the address names a relay, and the destination is unknown).
   */
  getPeerId(): string | undefined {
    const p = this.#peerPart()
    return p === undefined ? undefined : encodeBase58(this.#bytes.subarray(p.valueStart, p.end))
  }

  /** The multihash bytes of the peer id `getPeerId` reports. */
  getPeerIdBytes(): Uint8Array | undefined {
    const p = this.#peerPart()
    return p === undefined ? undefined : this.#bytes.slice(p.valueStart, p.end)
  }

  /** This multiaddr without the /p2p component `getPeerId` reports (other components are kept). */
  withoutPeerId(): Multiaddr {
    const p = this.#peerPart()
    if (p === undefined) return this
    return Multiaddr.#trusted(concat([this.#bytes.subarray(0, p.start), this.#bytes.subarray(p.end)]))
  }

  /** The first component is a name to resolve: /dns, /dns4, /dns6 or /dnsaddr. */
  isName(): boolean {
    const c = this.#parts[0]?.proto.code
    return c === CODE.dns || c === CODE.dns4 || c === CODE.dns6 || c === CODE.dnsaddr
  }

  /** The address starts with a loopback IP: 127.0.0.0/8, ::1, or ::ffff:127.0.0.0/104. */
  isLoopback(): boolean {
    const p = this.#ipPart()
    if (p === undefined) return false
    const b = this.#bytes.subarray(p.valueStart, p.end)
    if (p.proto.code === CODE.ip4) return b[0] === 127
    if (isIp4Mapped(b)) return b[12] === 127
    return b.every((x, i) => x === (i === 15 ? 1 : 0))
  }

  /**
   * A "thin waist" address: an IP address ([/ip6zone] /ip4 | /ip6), optionally followed by /tcp
   * or /udp, and then anything.
   */
  isThinWaist(): boolean {
    const p = this.#ipPart()
    if (p === undefined) return false
    const next = this.#parts[this.#parts.indexOf(p) + 1]
    return next === undefined || next.proto.code === CODE.tcp || next.proto.code === CODE.udp
  }

  /** Host, port and transport for dialing, or undefined when this is not a direct transport address. */
  toDialTarget(): DialTarget | undefined {
    const cs: DialComponent[] = this.components().map((c) =>
      c.code === CODE.httpPath ? { ...c, text: checkUtf8(percentDecode(c.value!)) } : c,
    )
    return toDialTarget(cs)
  }

  #prefix(count: number): Multiaddr {
    if (count === this.#parts.length) return this
    const end = count === 0 ? 0 : this.#parts[count - 1]!.end
    return Multiaddr.#trusted(this.#bytes.slice(0, end))
  }

  #peerPart(): Part | undefined {
    for (let i = this.#parts.length - 1; i >= 0; i--) {
      const code = this.#parts[i]!.proto.code
      if (code === CODE.p2p) return this.#parts[i]
      if (code === CODE.p2pCircuit) return undefined
    }
    return undefined
  }

  /** The leading IP component, after an optional /ip6zone (which must qualify an /ip6). */
  #ipPart(): Part | undefined {
    let i = 0
    if (this.#parts[0]?.proto.code === CODE.ip6zone) i = 1
    const p = this.#parts[i]
    if (p === undefined) return undefined
    if (p.proto.code === CODE.ip6 || (i === 0 && p.proto.code === CODE.ip4)) return p
    return undefined
  }
}

/** A Multiaddr from text, bytes, or an existing Multiaddr (returned as is: multiaddrs are immutable). */
export function multiaddr(input: string | Uint8Array | Multiaddr, options?: ParseOptions): Multiaddr {
  if (input instanceof Multiaddr) return input
  if (typeof input === 'string') return Multiaddr.fromString(input, options)
  if (input instanceof Uint8Array) return Multiaddr.fromBytes(input, options)
  throw new TypeError('multiaddr() takes a string, a Uint8Array or a Multiaddr')
}
