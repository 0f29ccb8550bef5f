/**
 * Identify `/ipfs/id/1.0.0` and identify push `/ipfs/id/push/1.0.0` (libp2p/specs identify/README.md):
 * each length-prefixed Identify message on the stream, decoded by identify's own codec
 * (src/identify/message.ts) within its limits. A stream that is one bare protobuf (no prefix, early
 * implementations) is decoded at EOF (`end()`), as the identify behaviour does.
 */
import type { DecodedMessage } from '../../core/trace.js'
import { decodeIdentify, decodeIdentifyStream, DEFAULT_IDENTIFY_LIMITS, type IdentifyMessage } from '../../identify/index.js'
import { ProtocolError, varint } from '../../core/index.js'
import { addrText, BaseDecoder, list, msg, peerRecordView, publicKeyView, type Fields } from './common.js'

/** The fields of an Identify message as `weft trace` shows them. */
export function identifyFields(m: IdentifyMessage): Fields {
  const f: Fields = {}
  if (m.protocolVersion !== undefined) f.protocolVersion = m.protocolVersion
  if (m.agentVersion !== undefined) f.agentVersion = m.agentVersion
  if (m.publicKey !== undefined) f.publicKey = publicKeyView(m.publicKey)
  f.listenAddrs = list(m.listenAddrs, addrText)
  if (m.observedAddr !== undefined) f.observedAddr = addrText(m.observedAddr)
  f.protocols = list(m.protocols, String)
  if (m.signedPeerRecord !== undefined) f.signedPeerRecord = peerRecordView(m.signedPeerRecord)
  return f
}

/**
 * Every byte of the stream is kept (the identify limit bounds the whole stream, prefixes included:
 * DEFAULT_IDENTIFY_LIMITS.maxMessageSize), so that a stream which turns out not to be framed can
 * still be read as one bare protobuf at EOF.
 */
export class IdentifyDecoder extends BaseDecoder {
  readonly #name: string
  readonly #max = DEFAULT_IDENTIFY_LIMITS.maxMessageSize
  /** The stream so far: #store[0, #len) (grown by doubling: pushes of one byte stay linear). */
  #store = new Uint8Array(256)
  #len = 0
  /** Where the next frame starts in #buf. */
  #at = 0
  #frames = 0
  /** Framing failed: the stream may be a bare protobuf; judged at EOF. */
  #unframed = false

  constructor(name: 'Identify' | 'IdentifyPush') {
    super()
    this.#name = name
  }

  get buffered(): number {
    return this.#len - this.#at
  }

  protected release(): void {
    this.#store = new Uint8Array(0)
    this.#len = 0
    this.#at = 0
  }

  get #buf(): Uint8Array {
    return this.#store.subarray(0, this.#len)
  }

  protected decode(bytes: Uint8Array, out: DecodedMessage[]): void {
    // what fits under the whole-stream limit is decoded first (so the messages before the limit
    // come out however the bytes were cut), then the rest is refused
    const take = Math.min(bytes.length, this.#max - this.#len)
    const len = this.#len + take
    if (len > this.#store.length) {
      const grown = new Uint8Array(Math.min(this.#max, Math.max(len, this.#store.length * 2)))
      grown.set(this.#buf, 0)
      this.#store = grown
    }
    this.#store.set(bytes.subarray(0, take), this.#len)
    this.#len = len
    this.#readFrames(out)
    if (take < bytes.length) throw new ProtocolError('identify', 'identify/message-too-large', `the stream carried more than ${this.#max} bytes`)
  }

  #readFrames(out: DecodedMessage[]): void {
    if (this.#unframed) return
    while (this.#at < this.#buf.length) {
      let d: { value: number; bytes: number } | undefined
      try {
        d = varint.decode(this.#buf, this.#at, true)
      } catch (e) {
        if (this.#frames > 0) throw e
        this.#unframed = true
        return
      }
      if (d === undefined) return
      // limits are limits whatever the framing (as decodeIdentifyStream): never retried as bare
      if (d.value > this.#max) throw new ProtocolError('identify', 'identify/message-too-large', `frame of ${d.value} > ${this.#max} bytes`)
      if (this.#frames >= DEFAULT_IDENTIFY_LIMITS.maxMessages) throw new ProtocolError('identify', 'identify/too-many-messages', `> ${DEFAULT_IDENTIFY_LIMITS.maxMessages}`)
      const end = this.#at + d.bytes + d.value
      if (end > this.#buf.length) return
      let m: IdentifyMessage
      try {
        m = decodeIdentify(this.#buf.subarray(this.#at + d.bytes, end), this.#max)
      } catch (e) {
        // the first frame may really be a bare protobuf that happens to start like a prefix
        if (this.#frames === 0) {
          this.#unframed = true
          return
        }
        throw e
      }
      this.#frames++
      this.#at = end
      out.push(msg(this.#name, identifyFields(m)))
    }
  }

  protected override finish(out: DecodedMessage[]): void {
    if (!this.#unframed && this.#at === this.#buf.length) return
    if (this.#frames > 0) throw new ProtocolError('identify', 'identify/malformed', `${this.#buf.length - this.#at} bytes after the last message`)
    out.push(msg(this.#name, { ...identifyFields(decodeIdentifyStream(this.#buf)), framing: 'bare protobuf' }))
  }
}
