/**
 * Receiving RPCs (pubsub README "The RPC", gossipsub-v1.0.md "Message Processing", v1.1 "Peer
 * Scoring", v1.2 "IDONTWANT").
 *
 * Message path: graylisted? (its frames are not even decoded) → decode → signature policy → message id
 * → seen? (duplicate: scoring, IWANT promise) → signature check → seen := yes, IDONTWANT to mesh peers for large messages → validation (sync,
 * or a `validate` event answered by `reportValidation`) → accept: cache, deliver, forward to mesh,
 * floodsub and direct peers (never to the source, the author, or peers that said IDONTWANT);
 * reject: P₄. Bytes that are not a valid RPC reset the peer's inbound stream and cost it P₇.
 */
import type { Millis } from '../core/byte-machine.js'
import { ProtocolError } from '../core/errors.js'
import { ownSet, shrinkSet } from '../core/empty-map.js'
import { PeerId } from '../peer-id/index.js'
import type { StreamRef } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import { FLOODSUB, GOSSIPSUB_V12 } from './config.js'
import { handleControl, type ControlContext } from './control.js'
import type { GossipsubContext } from './context.js'
import { sendFrame, sendRpc } from './send.js'
import { checkSignaturePolicy, signatureKey, signedMessageBytes, verify } from './message.js'
import { decodePubsubMessage, decodeRpc, frameMessage, type Rpc, type SubOpts, type WireMessage } from './rpc.js'
import { decodePublishRpc } from './rpc-publish.js'
import { idKey, topicLength, type GossipsubMessage, type PeerState, type PendingValidation, type ValidationResult } from './types.js'

/** What receiving reads and changes (control messages included). */
export type ReceiveContext = ControlContext & Pick<GossipsubContext, 'inStreams' | 'topicPeers' | 'subscriptions' | 'fanout' | 'validated' |
  'pending' | 'pendingBytes' | 'nextId' | 'authorKeys' | 'authorIds' | 'topicNames' | 'slab' | 'signatures'>

/** Bytes from the peer's inbound stream: decode whole RPC frames and handle them in order. */
export function receiveData(g: ReceiveContext, now: Millis, p: PeerState, s: StreamRef, data: Uint8Array): void {
  const inbound = p.inbound.get(s.connection)
  if (inbound === undefined || streamKey(inbound.stream) !== streamKey(s)) return
  const dec = inbound.decoder
  try {
    dec.push(data)
    for (let frame = dec.next(); frame !== undefined; frame = dec.next()) {
      // graylisted peers are ignored entirely (v1.1 "Score Thresholds"), before any decoding work
      if (graylisted(g, now, p)) continue
      // the frame is the decoder's own copy: the publish-only fast path keeps views of it
      const rpc = decodePublishRpc(frame, g.cfg.rpcDecodeLimits, g.topicNames) ?? decodeRpc(frame, g.cfg.rpcDecodeLimits)
      handleRpc(g, now, p, rpc)
      if (p.inbound.get(s.connection) !== inbound) return
    }
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e
    g.inStreams.delete(streamKey(s))
    p.inbound.delete(s.connection)
    g.actions.push({ type: 'reset', stream: s })
    g.score.addPenalty(p.key, 1)
    g.event({ type: 'peer-protocol-error', peer: p.id, error: e })
  }
}

/**
 * Would keeping `raw` pin a buffer much larger than itself? A received message is a view of its
 * frame (rpc-publish.ts), which may hold other messages: one kept small message could pin a 1 MiB
 * frame of messages dropped as duplicates. The message cache and pending validations keep a copy
 * instead, so a kept message pins at most about twice its size (what mcacheMaxBytes and
 * maxPendingValidationBytes count).
 */
function pins(raw: Uint8Array): boolean {
  return raw.buffer.byteLength > 2 * raw.length + 64
}

/** A copy of a received message and its fields (the general decoder copies each field). */
function unpinned(raw: Uint8Array): WireMessage {
  const copy = raw.slice()
  return { raw: copy, msg: decodePubsubMessage(copy) } // decoded once already: cannot fail
}

/** Below the graylist threshold (v1.1 "Score Thresholds"); direct peers never are. */
function graylisted(g: ReceiveContext, now: Millis, p: PeerState): boolean {
  return g.cfg.scoring && !g.direct.has(p.key) && g.score.score(p.key, now) < g.cfg.scoreThresholds.graylistThreshold
}

function handleRpc(g: ReceiveContext, now: Millis, p: PeerState, rpc: Rpc): void {
  for (const sub of rpc.subscriptions) handleSubscription(g, p, sub)
  for (const wm of rpc.messages) handleMessage(g, now, p, wm)
  if (rpc.control !== undefined && p.protocol !== FLOODSUB) handleControl(g, now, p, rpc.control)
}

function handleSubscription(g: ReceiveContext, p: PeerState, sub: SubOpts): void {
  const { topic } = sub
  if (sub.subscribe) {
    if (p.topics.has(topic) || p.topics.size >= g.cfg.maxTopicsPerPeer) return
    // a topic over maxTopicLength is never stored (nor one over the peer's byte budget); not
    // penalised: go and rust set no such limit, so a correct peer may send one
    const bytes = topicLength(topic)
    if (bytes > g.cfg.maxTopicLength || p.topicBytes + bytes > g.cfg.maxTopicBytesPerPeer) return
    p.topics = ownSet(p.topics)
    p.topics.add(topic)
    p.topicBytes += bytes
    let set = g.topicPeers.get(topic)
    if (set === undefined) g.topicPeers.set(topic, (set = new Set()))
    set.add(p.key)
  } else {
    if (!p.topics.delete(topic)) return
    p.topics = shrinkSet(p.topics)
    p.topicBytes -= topicLength(topic)
    const set = g.topicPeers.get(topic)
    set?.delete(p.key)
    if (set?.size === 0) g.topicPeers.delete(topic)
    if (g.mesh.get(topic)?.delete(p.key) === true) {
      g.score.prune(p.key, topic)
      g.event({ type: 'prune', peer: p.id, topic })
    }
    g.fanout.get(topic)?.delete(p.key)
  }
  g.event({ type: 'subscription-change', peer: p.id, topic, subscribed: sub.subscribe })
}

function invalid(g: ReceiveContext, p: PeerState, topic: string, reason: string, now: Millis): void {
  g.score.rejectMessage(p.key, undefined, topic, false, now)
  g.event({ type: 'invalid-message', peer: p.id, topic, reason })
}

function handleMessage(g: ReceiveContext, now: Millis, p: PeerState, wm: WireMessage): void {
  const { msg, raw } = wm
  const topic = msg.topic
  if (!g.subscriptions.has(topic)) return // not ours: ignored, as go does
  if (raw.length > g.cfg.maxMessageSize) return invalid(g, p, topic, 'gossipsub/message-too-large', now)
  const policy = g.cfg.signaturePolicy
  if (policy === 'StrictSign' ? (msg.from === undefined || msg.seqno === undefined || msg.signature === undefined)
    : (msg.from !== undefined || msg.seqno !== undefined || msg.signature !== undefined || msg.key !== undefined)) {
    return invalid(g, p, topic, policy === 'StrictSign' ? 'gossipsub/missing-signature-fields' : 'gossipsub/unexpected-signature-fields', now)
  }
  let messageId: Uint8Array
  try {
    messageId = g.cfg.msgIdFn(msg)
  } catch {
    return invalid(g, p, topic, 'gossipsub/message-id-failed', now)
  }
  if (messageId.length > g.cfg.maxMessageIdLength) return invalid(g, p, topic, 'gossipsub/message-id-too-long', now)
  if (messageId.buffer === raw.buffer) messageId = messageId.slice() // an id function returning a view: the cache keeps ids
  const key = idKey(messageId)
  if (g.seen.has(key)) {
    g.score.duplicateMessage(p.key, key, topic, now)
    g.promises.delete(key)
    return
  }
  const q = g.signatures
  if (q !== undefined && policy === 'StrictSign') return enqueueSignature(g, now, p, wm, messageId, key)
  const reason = checkSignaturePolicy(policy, msg, raw, g.cfg.crypto, g.authorKeys)
  if (reason !== undefined) return invalid(g, p, topic, reason, now)
  signed(g, now, p.key, p.id, wm, messageId, key)
}

/** The signature is good (or not required): seen, IDONTWANT, then validation. */
function signed(g: ReceiveContext, now: Millis, source: string, sourceId: PeerId, wm: WireMessage, messageId: Uint8Array, key: string): void {
  const topic = wm.msg.topic
  g.seen.add(now, key) // absent: checked by the callers (the signature check does not touch it)
  g.promises.delete(key)
  g.score.validateMessage(source, key, now)
  // v1.2: tell mesh peers at once, before validation, so they do not send it too
  if (wm.raw.length >= g.cfg.idontwantMessageSizeThreshold) {
    for (const k of g.mesh.get(topic) ?? []) {
      const q = g.peers.get(k)
      if (q !== undefined && k !== source && q.protocol === GOSSIPSUB_V12) sendRpc(g, q, { control: { idontwant: [{ messageIds: [messageId] }] } }, true)
    }
  }
  const v: PendingValidation = { id: key, wm, messageId, source, sourceId, deadline: now + g.cfg.validationTimeout }
  if (!g.validated.has(topic)) return finishValidation(g, now, v, 'accept')
  if (g.pending.size >= g.cfg.maxPendingValidations || g.pendingBytes + wm.raw.length > g.cfg.maxPendingValidationBytes) return finishValidation(g, now, v, 'ignore')
  const requestId = g.nextId()
  g.pending.set(requestId, pins(wm.raw) ? { ...v, wm: unpinned(wm.raw) } : v)
  g.pendingBytes += wm.raw.length
  g.event({ type: 'validate', requestId, message: appMessage(g, v, sourceId) })
}

// --- asyncSignatures (verify-queue.ts, spec/gossipsub.md "Validation on workers") -----------------

/** StrictSign with a verifier: the key now, the Ed25519 check in a batch; the message waits in order. */
function enqueueSignature(g: ReceiveContext, now: Millis, p: PeerState, wm: WireMessage, messageId: Uint8Array, key: string): void {
  const q = g.signatures!
  const { msg, raw } = wm
  if (q.hasCopy(key, raw)) {
    // the same bytes are being checked: a duplicate (mesh credit once the first is delivered)
    g.score.duplicateMessage(p.key, key, msg.topic, now)
    g.promises.delete(key)
    return
  }
  const pk = signatureKey(msg, g.cfg.crypto, g.authorKeys)
  if (typeof pk === 'string') return invalid(g, p, msg.topic, pk, now)
  if (pk.type !== 'Ed25519' || msg.signature!.length !== 64) {
    // other key types (rare) and malformed signatures are checked here, in arrival order still
    // when nothing waits
    const reason = verify(pk, raw, msg.signature!, g.cfg.crypto)
    if (reason !== undefined) return invalid(g, p, msg.topic, reason, now)
    if (q.size === 0) return signed(g, now, p.key, p.id, wm, messageId, key)
  }
  if (!q.fits(raw)) {
    // dropped: not seen, not penalised (gossip may bring it again); typed and counted
    q.dropped++
    g.event({ type: 'invalid-message', peer: p.id, topic: msg.topic, reason: 'gossipsub/signature-queue-full' })
    return
  }
  // kept as a view of its frame (the queue counts each frame once; the mcache and pending
  // validations copy what they keep, as for inline checks)
  const pending = pk.type === 'Ed25519' && msg.signature!.length === 64
  const job = pending ? { publicKey: pk.data, message: signedMessageBytes(raw), signature: msg.signature! } : undefined
  const ready = q.push({ id: key, wm, messageId, source: p.key, sourceId: p.id, deadline: now + g.cfg.signatureTimeout, job, result: pending ? 'pending' : 'valid' })
  if (ready) emitSignatureBatch(g)
}

/** Hand the verifier the next batch of signature checks (at most signatureBatchSize). */
export function emitSignatureBatch(g: ReceiveContext): void {
  const batch = g.nextId()
  const jobs = g.signatures?.takeBatch(batch)
  if (jobs !== undefined) g.event({ type: 'verify-signatures', batch, jobs })
}

/** A batch's answers; then every message at the head of the queue that has its answer goes on. */
export function signaturesVerified(g: ReceiveContext, now: Millis, batch: number, results: ArrayLike<number>): boolean {
  const q = g.signatures
  if (q === undefined) return false
  const known = q.answer(batch, results)
  drainSignatures(g, now)
  return known
}

/** Checks past their deadline (a verifier that never answered) are done inline. */
export function signatureTimeouts(g: ReceiveContext, now: Millis): void {
  const q = g.signatures
  if (q === undefined) return
  for (const e of q.overdue(now)) {
    const ok = e.job !== undefined && g.cfg.crypto.ed25519Verify(e.job.publicKey, e.job.message, e.job.signature)
    e.result = ok ? 'valid' : 'gossipsub/invalid-signature'
  }
  drainSignatures(g, now)
}

function drainSignatures(g: ReceiveContext, now: Millis): void {
  const q = g.signatures!
  for (let e = q.first(); e !== undefined && e.result !== 'pending'; e = q.first()) {
    q.shift()
    const topic = e.wm.msg.topic
    if (e.result !== 'valid') {
      g.score.rejectMessage(e.source, undefined, topic, false, now)
      g.event({ type: 'invalid-message', peer: e.sourceId, topic, reason: e.result })
    } else if (g.seen.has(e.id)) {
      // another message with this id was accepted while this one waited
      g.score.duplicateMessage(e.source, e.id, topic, now)
    } else signed(g, now, e.source, e.sourceId, e.wm, e.messageId, e.id)
  }
}

/** The application's view of a message. */
function appMessage(g: ReceiveContext, v: PendingValidation, source: PeerId): GossipsubMessage {
  const m = v.wm.msg
  const from = m.from === undefined ? undefined : authorId(g, m.from)
  const seqno = m.seqno?.length === 8 ? new DataView(m.seqno.buffer, m.seqno.byteOffset, 8).getBigUint64(0) : undefined
  // data is the application's own copy (raw stays in the message cache, served to IWANT as is)
  return { topic: m.topic, data: m.data === undefined ? new Uint8Array(0) : g.slab.copy(m.data), from, seqno, messageId: v.messageId, propagationSource: source }
}

/** The parsed `from` of an author, cached (bounded: the oldest entry goes first). */
function authorId(g: ReceiveContext, from: Uint8Array): PeerId | undefined {
  const k = idKey(from)
  if (g.authorIds.has(k)) return g.authorIds.get(k)
  let id: PeerId | undefined
  try { id = PeerId.fromMultihash(from) } catch { id = undefined }
  if (g.authorIds.size >= g.cfg.maxCachedAuthors) {
    const oldest = g.authorIds.keys().next().value
    if (oldest !== undefined) g.authorIds.delete(oldest)
  }
  g.authorIds.set(k, id)
  return id
}

/** Take a pending validation out (answered or timed out). */
export function takePending(g: Pick<GossipsubContext, 'pending' | 'pendingBytes'>, requestId: number): PendingValidation | undefined {
  const v = g.pending.get(requestId)
  if (v === undefined) return undefined
  g.pending.delete(requestId)
  g.pendingBytes -= v.wm.raw.length
  return v
}

/** The end of validation: accept caches, delivers and forwards; reject and ignore only score. */
export function finishValidation(g: ReceiveContext, now: Millis, v: PendingValidation, result: ValidationResult): void {
  const topic = v.wm.msg.topic
  const src = g.peers.get(v.source)
  if (result !== 'accept') {
    g.score.rejectMessage(v.source, v.id, topic, result === 'ignore', now)
    if (result === 'reject' && src !== undefined) g.event({ type: 'invalid-message', peer: src.id, topic, reason: 'gossipsub/validation-rejected' })
    return
  }
  g.score.deliverMessage(v.source, v.id, topic, now)
  g.mcache.putNew(v.id, v.messageId, topic, pins(v.wm.raw) ? g.slab.copy(v.wm.raw) : v.wm.raw) // first seen: new
  if (g.subscriptions.has(topic)) {
    g.event({ type: 'message', message: appMessage(g, v, v.sourceId) })
  }
  forward(g, v, topic)
}

function forward(g: ReceiveContext, v: PendingValidation, topic: string): void {
  const author = v.wm.msg.from === undefined ? undefined : authorId(g, v.wm.msg.from)?.toString()
  // the mesh, then subscribed floodsub and direct peers outside it (no per-message set)
  const mesh = g.mesh.get(topic)
  let frame: Uint8Array | undefined
  const send = (k: string): void => {
    if (k === v.source || k === author) return
    const q = g.peers.get(k)
    if (q === undefined || q.dontSend.has(v.id)) return
    frame ??= frameMessage(v.wm.raw)
    sendFrame(g, q, frame, false, v.id)
  }
  if (mesh !== undefined) for (const k of mesh) send(k)
  for (const k of g.topicPeers.get(topic) ?? []) {
    if (mesh?.has(k) === true) continue
    const q = g.peers.get(k)
    if (q !== undefined && (q.protocol === FLOODSUB || g.direct.has(k))) send(k)
  }
}
