/**
 * Rendezvous `/rendezvous/1.0.0` (libp2p/specs rendezvous/README.md "Protobuf"): each length-prefixed
 * Message, decoded by rendezvous's own codec (src/rendezvous/message.ts) within its default limits,
 * named by its type (REGISTER, REGISTER_RESPONSE, UNREGISTER, DISCOVER, DISCOVER_RESPONSE). Signed
 * peer records are opened in either envelope layout rendezvous meets (src/rendezvous/record.ts).
 */
import { nobleCrypto } from '../../core/index.js'
import type { DecodedMessage } from '../../core/trace.js'
import {
  decodeRendezvous, DEFAULT_RENDEZVOUS_MESSAGE_LIMITS, MessageType, openRendezvousRecord, ResponseStatus,
  type Register, type RendezvousMessage,
} from '../../rendezvous/index.js'
import { enumName } from './autonat.js'
import { FramedDecoder, hex, list, msg, peerRecordView, text, type Fields } from './common.js'

const registerView = (r: Register): Fields => ({
  ...(r.ns !== undefined ? { ns: text(r.ns) } : {}),
  ...(r.ttl !== undefined ? { ttl: r.ttl } : {}),
  ...(r.signedPeerRecord !== undefined ? { signedPeerRecord: peerRecordView(r.signedPeerRecord, (b) => openRendezvousRecord(b, nobleCrypto).record) } : {}),
})

const status = (s: number, statusText: string | undefined): Fields => ({ status: enumName(ResponseStatus, s), ...(statusText !== undefined ? { statusText: text(statusText) } : {}) })

export function rendezvousMessage(m: RendezvousMessage): DecodedMessage {
  const name = String(enumName(MessageType, m.type))
  switch (m.type) {
    case MessageType.REGISTER:
      return msg(name, registerView(m.register))
    case MessageType.REGISTER_RESPONSE: {
      const r = m.registerResponse
      return msg(name, { ...status(r.status, r.statusText), ...(r.ttl !== undefined ? { ttl: r.ttl } : {}) })
    }
    case MessageType.UNREGISTER:
      return msg(name, m.unregister.ns !== undefined ? { ns: text(m.unregister.ns) } : {})
    case MessageType.DISCOVER: {
      const d = m.discover
      return msg(name, {
        ...(d.ns !== undefined ? { ns: text(d.ns) } : {}),
        ...(d.limit !== undefined ? { limit: d.limit } : {}),
        ...(d.cookie !== undefined ? { cookie: hex(d.cookie) } : {}),
      })
    }
    case MessageType.DISCOVER_RESPONSE: {
      const d = m.discoverResponse
      return msg(name, {
        ...status(d.status, d.statusText),
        registrations: list(d.registrations, registerView),
        ...(d.cookie !== undefined ? { cookie: hex(d.cookie) } : {}),
      })
    }
  }
}

export function rendezvousDecoder(): FramedDecoder {
  return new FramedDecoder('rendezvous', DEFAULT_RENDEZVOUS_MESSAGE_LIMITS.maxMessageSize, (body, out) => {
    out.push(rendezvousMessage(decodeRendezvous(body)))
  })
}
