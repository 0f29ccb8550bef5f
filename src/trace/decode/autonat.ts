/**
 * AutoNAT v1 `/libp2p/autonat/1.0.0` (libp2p/specs autonat/autonat-v1.md: DIAL, DIAL_RESPONSE) and
 * v2 `/libp2p/autonat/2/dial-request`, `/libp2p/autonat/2/dial-back` (autonat/autonat-v2.md:
 * DialRequest, DialResponse, DialDataRequest, DialDataResponse, DialBack, DialBackResponse), each
 * length-prefixed message decoded by autonat's own codecs (src/autonat/message-v1.ts, -v2.ts)
 * within their default limits.
 */
import type { DecodedMessage } from '../../core/trace.js'
import {
  decodeDialBack, decodeDialBackResponse, decodeV1Message, decodeV2Message, DEFAULT_V1_LIMITS, DEFAULT_V2_LIMITS,
  DialBackStatus, DialStatus, ResponseStatus, V1Status, type V1Message, type V2Message,
} from '../../autonat/index.js'
import { addrText, FramedDecoder, hex, list, msg, num, text, type Fields } from './common.js'

/** The spec's name of an enum value, or the number when the spec defines none. */
export function enumName(table: Record<string, number>, v: number): string | number {
  for (const [name, value] of Object.entries(table)) if (value === v) return name
  return v
}

export function v1Message(m: V1Message): DecodedMessage {
  if (m.type === 'dial') return msg('DIAL', { peer: m.peer.id.toString(), addrs: list(m.peer.addrs, addrText) })
  const f: Fields = { status: enumName(V1Status, m.status) }
  if (m.statusText !== undefined) f.statusText = text(m.statusText)
  if (m.addr !== undefined) f.addr = addrText(m.addr)
  return msg('DIAL_RESPONSE', f)
}

export function v2Message(m: V2Message): DecodedMessage {
  switch (m.type) {
    case 'dial-request':
      return msg('DIAL_REQUEST', { addrs: list(m.addrs, addrText), nonce: num(m.nonce) })
    case 'dial-response':
      return msg('DIAL_RESPONSE', { status: enumName(ResponseStatus, m.status), addrIdx: m.addrIdx, dialStatus: enumName(DialStatus, m.dialStatus) })
    case 'dial-data-request':
      return msg('DIAL_DATA_REQUEST', { addrIdx: m.addrIdx, numBytes: num(m.numBytes) })
    case 'dial-data-response':
      return msg('DIAL_DATA_RESPONSE', { dataLength: m.data.length, data: hex(m.data, 16) })
  }
}

export function autonatV1Decoder(): FramedDecoder {
  return new FramedDecoder('autonat', DEFAULT_V1_LIMITS.maxMessageSize, (body, out) => {
    out.push(v1Message(decodeV1Message(body)))
  })
}

export function autonatV2Decoder(): FramedDecoder {
  return new FramedDecoder('autonat', DEFAULT_V2_LIMITS.maxMessageSize, (body, out) => {
    out.push(v2Message(decodeV2Message(body)))
  })
}

/**
 * The dial-back stream carries DialBack from its opener (the server) and DialBackResponse back.
 * `opener` says which side this direction is; when unknown the message is told by its field's
 * wire type (nonce: fixed64, status: varint), an empty message being the likelier
 * DialBackResponse{OK}.
 */
export function autonatDialBackDecoder(opener: boolean | undefined): FramedDecoder {
  return new FramedDecoder('autonat', DEFAULT_V2_LIMITS.maxDialBackSize, (body, out) => {
    const isDialBack = opener ?? (body.length > 0 && (body[0]! & 7) === 1)
    if (isDialBack) out.push(msg('DIAL_BACK', { nonce: num(decodeDialBack(body).nonce) }))
    else out.push(msg('DIAL_BACK_RESPONSE', { status: enumName(DialBackStatus, decodeDialBackResponse(body).status) }))
  })
}
