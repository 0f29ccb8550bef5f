/**
 * Pubsub: gossipsub `/meshsub/1.0.0`, `/1.1.0`, `/1.2.0` and floodsub `/floodsub/1.0.0`
 * (libp2p/specs pubsub/README.md "The RPC", pubsub/gossipsub/gossipsub-v1.0.md "Control messages",
 * gossipsub-v1.1.md "PRUNE Backoff and Peer Exchange", gossipsub-v1.2.md "IDONTWANT"). Each
 * length-prefixed RPC, decoded by gossipsub's own codec (src/gossipsub/rpc.ts) within
 * DEFAULT_MAX_RPC_SIZE and DEFAULT_RPC_DECODE_LIMITS, is split into one message per part:
 * SUBSCRIBE / UNSUBSCRIBE, PUBLISH, and each control message IHAVE / IWANT / GRAFT / PRUNE /
 * IDONTWANT, in that order; an RPC with none of them (a keep-alive) is one `RPC` message.
 */
import type { DecodedMessage } from '../../core/trace.js'
import { decodeRpc, DEFAULT_MAX_RPC_SIZE, DEFAULT_RPC_DECODE_LIMITS, type PubsubMessage, type Rpc } from '../../gossipsub/index.js'
import { FramedDecoder, hex, list, msg, peerRecordView, peerText, publicKeyView, text, type Fields } from './common.js'

export function publishFields(m: PubsubMessage): Fields {
  const f: Fields = { topic: text(m.topic) }
  if (m.from !== undefined) f.from = peerText(m.from)
  if (m.seqno !== undefined) f.seqno = hex(m.seqno)
  f.dataLength = m.data?.length ?? 0
  if (m.data !== undefined) f.data = hex(m.data)
  f.signature = m.signature !== undefined
  if (m.key !== undefined) f.key = publicKeyView(m.key)
  return f
}

const ids = (messageIds: Uint8Array[]): Fields => ({ messageIds: list(messageIds, (id) => hex(id)), count: messageIds.length })

/** The messages one RPC splits into. */
export function rpcMessages(rpc: Rpc, out: DecodedMessage[]): void {
  const before = out.length
  for (const s of rpc.subscriptions) out.push(msg(s.subscribe ? 'SUBSCRIBE' : 'UNSUBSCRIBE', { topic: text(s.topic) }))
  for (const w of rpc.messages) out.push(msg('PUBLISH', { ...publishFields(w.msg), bytes: w.raw.length }))
  const c = rpc.control
  if (c !== undefined) {
    for (const ih of c.ihave) out.push(msg('IHAVE', { topic: text(ih.topic), ...ids(ih.messageIds) }))
    for (const iw of c.iwant) out.push(msg('IWANT', ids(iw.messageIds)))
    for (const g of c.graft) out.push(msg('GRAFT', { topic: text(g.topic) }))
    for (const p of c.prune) {
      const f: Fields = { topic: text(p.topic) }
      if (p.peers.length > 0) {
        f.peers = list(p.peers, (px) => ({
          ...(px.peerId !== undefined ? { peerId: peerText(px.peerId) } : {}),
          ...(px.signedPeerRecord !== undefined ? { signedPeerRecord: peerRecordView(px.signedPeerRecord) } : {}),
        }))
      }
      if (p.backoff !== undefined) f.backoff = p.backoff
      out.push(msg('PRUNE', f))
    }
    for (const d of c.idontwant) out.push(msg('IDONTWANT', ids(d.messageIds)))
  }
  if (out.length === before) out.push(msg('RPC', { empty: true }))
}

export function pubsubDecoder(): FramedDecoder {
  return new FramedDecoder('gossipsub', DEFAULT_MAX_RPC_SIZE, (body, out) => {
    rpcMessages(decodeRpc(body, DEFAULT_RPC_DECODE_LIMITS), out)
  })
}
