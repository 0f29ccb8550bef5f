/**
 * Publishing (gossipsub-v1.0.md "Message Publishing", v1.1 "Flood Publishing"): build (and under
 * StrictSign sign) the message, record it as seen and cached, and send it to the publish targets:
 * subscribed floodsub and direct peers always; with flood publishing every subscribed peer above the
 * publish threshold; otherwise the topic's mesh, or its fanout (chosen once, up to D, refreshed by the
 * heartbeat) when we are not subscribed.
 */
import type { Millis } from '../core/byte-machine.js'
import { UsageError } from '../core/errors.js'
import { FLOODSUB } from './config.js'
import type { GossipsubContext } from './context.js'
import { sendFrame, type SendContext } from './send.js'
import { buildMessage } from './message.js'
import { sample } from './mesh.js'
import { encodePublishFrame } from './rpc-publish.js'
import { idKey, type PublishResult } from './types.js'

/** What publishing reads and changes. */
export type PublishContext = SendContext & Pick<GossipsubContext, 'peers' | 'topicPeers' | 'subscriptions' | 'fanout' | 'fanoutLastPub' |
  'seen' | 'mcache' | 'slab' | 'topicBytes' | 'seqno' | 'rand' | 'direct' | 'graftable'>

export function publishMessage(g: PublishContext, now: Millis, topic: string, data: Uint8Array): PublishResult {
  const cfg = g.cfg
  const signer = cfg.privateKey === undefined ? undefined : { key: cfg.privateKey, crypto: cfg.crypto, seqno: g.seqno }
  // the message refers to `data` only until it is encoded, below (the frame holds the copy)
  const msg = buildMessage(cfg.signaturePolicy, topic, data, signer, false)
  const { frame, raw } = encodePublishFrame(msg, g.slab.alloc, g.topicBytes)
  if (raw.length > cfg.maxMessageSize || raw.length + 16 > cfg.maxRpcSize) throw new UsageError('gossipsub/message-too-large', `${raw.length} bytes`)
  let messageId = cfg.msgIdFn(msg)
  if (messageId.buffer === data.buffer) messageId = messageId.slice() // an id function returning a view of data
  const key = idKey(messageId)
  if (g.seen.has(key)) throw new UsageError('gossipsub/duplicate-message', 'a message with this id was seen recently')
  const to = publishTargets(g, now, topic)
  if (to.size === 0 && !cfg.allowPublishToZeroPeers) throw new UsageError('gossipsub/no-peers', `no peer to publish ${topic} to`)
  if (cfg.signaturePolicy === 'StrictSign') g.seqno++
  g.seen.add(now, key) // absent: checked above
  g.mcache.putNew(key, messageId, topic, raw)
  if (!g.subscriptions.has(topic)) g.fanoutLastPub.set(topic, now)
  let recipients = 0
  for (const k of to) if (sendFrame(g, g.peers.get(k)!, frame, false, key)) recipients++
  return { messageId, recipients }
}

function publishTargets(g: PublishContext, now: Millis, topic: string): Set<string> {
  const cfg = g.cfg
  const out = new Set<string>()
  const subs = g.topicPeers.get(topic) ?? new Set<string>()
  const ok = (k: string): boolean => !cfg.scoring || g.score.score(k, now) >= cfg.scoreThresholds.publishThreshold
  for (const k of subs) {
    const p = g.peers.get(k)
    if (p === undefined || p.protocol === undefined) continue
    if (g.direct.has(k) || p.protocol === FLOODSUB) out.add(k)
    else if (cfg.floodPublish && ok(k)) out.add(k)
  }
  if (!cfg.floodPublish) {
    let peers = g.mesh.get(topic)
    if (peers === undefined) {
      peers = g.fanout.get(topic)
      if (peers === undefined || peers.size === 0) {
        const cands = [...subs].filter((k) => !out.has(k) && g.graftable(now, topic, k, cfg.scoreThresholds.publishThreshold))
        peers = new Set(sample(cands, cfg.D, g.rand))
        g.fanout.set(topic, peers)
      }
    }
    for (const k of peers) out.add(k)
  }
  return out
}
