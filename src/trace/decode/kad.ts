/**
 * Kademlia `/ipfs/kad/1.0.0` (libp2p/specs kad-dht/README.md "RPC messages"): each length-prefixed
 * Message, decoded by kad's own codec (src/kad/message.ts) within DEFAULT_DECODE_LIMITS, named by
 * its type (FIND_NODE, GET_VALUE, PUT_VALUE, GET_PROVIDERS, ADD_PROVIDER, PING).
 */
import type { DecodedMessage } from '../../core/trace.js'
import { decodeKadMessage, DEFAULT_DECODE_LIMITS, MESSAGE_TYPE_NAMES, type KadMessage, type KadPeer } from '../../kad/index.js'
import { PeerId } from '../../peer-id/index.js'
import { addrText, FramedDecoder, hex, list, msg, text, type Fields } from './common.js'

const CONNECTION = ['NOT_CONNECTED', 'CONNECTED', 'CAN_CONNECT', 'CANNOT_CONNECT']

/** A key as hex, plus its reading when it has one: a peer id (FIND_NODE) or printable text (`/pk/...`). */
export function keyView(key: Uint8Array): Fields {
  const f: Fields = { hex: hex(key) }
  try {
    f.peerId = PeerId.fromMultihash(key).toString()
    return f
  } catch {}
  const printable = (from: number, to: number): boolean => key.subarray(from, to).every((c) => c >= 0x20 && c <= 0x7e)
  if (key.length > 0 && key.length <= 256 && printable(0, key.length)) {
    f.text = String.fromCharCode(...key)
  } else if (key[0] === 0x2f) {
    // a namespaced key: '/pk/' or '/ipns/' and a binary multihash
    const slash = key.indexOf(0x2f, 1)
    if (slash > 0 && slash <= 64 && printable(1, slash)) f.namespace = String.fromCharCode(...key.subarray(0, slash + 1))
  }
  return f
}

const peerView = (p: KadPeer): Fields => ({ id: p.id.toString(), addrs: list(p.addrs, addrText), connection: CONNECTION[p.connection] ?? p.connection })

export function kadFields(m: KadMessage, skipped: number): Fields {
  const f: Fields = {}
  if (m.key !== undefined && m.key.length > 0) f.key = keyView(m.key)
  if (m.record !== undefined) {
    f.record = {
      key: keyView(m.record.key),
      value: hex(m.record.value),
      valueLength: m.record.value.length,
      ...(m.record.timeReceived !== undefined && m.record.timeReceived !== '' ? { timeReceived: text(m.record.timeReceived) } : {}),
    }
  }
  if (m.closerPeers.length > 0) f.closerPeers = list(m.closerPeers, peerView)
  if (m.providerPeers.length > 0) f.providerPeers = list(m.providerPeers, peerView)
  if (skipped > 0) f.skipped = skipped
  return f
}

export function kadDecoder(): FramedDecoder {
  return new FramedDecoder('kad', DEFAULT_DECODE_LIMITS.maxMessageSize, (body, out: DecodedMessage[]) => {
    const stats = { skipped: 0 }
    const m = decodeKadMessage(body, DEFAULT_DECODE_LIMITS, stats)
    out.push(msg(MESSAGE_TYPE_NAMES[m.type], kadFields(m, stats.skipped)))
  })
}
