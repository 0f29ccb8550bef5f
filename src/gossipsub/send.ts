/**
 * The outbound queue of each peer (flow control; gossipsub-v1.2.md "IDONTWANT" cancellation).
 *
 * RPCs become length-prefixed frames in the peer's outbox. A flush (before the swarm polls our
 * actions) writes the outbox as one buffer per peer. Written bytes count against the peer (`inFlight`)
 * until the muxer took them (`stream-writable`); while a write is in flight only control frames go,
 * message frames wait so an IDONTWANT can still cancel them. A peer over `maxOutboundBytes` gets no
 * more messages and is removed from every mesh: a slow peer never grows our memory.
 */
import { encodeLp } from '../core/lp.js'
import { FLOODSUB } from './config.js'
import type { GossipsubContext } from './context.js'
import { encodeRpc, type ControlMessage, type SubOpts } from './rpc.js'
import type { PeerState } from './types.js'
import { encodeInto, encodingLength } from '../core/varint.js'

/** What the outbound queue reads and changes. */
export type SendContext = Pick<GossipsubContext, 'cfg' | 'mesh' | 'score' | 'dirty' | 'actions' | 'event'>

export interface OutgoingRpc { subscriptions?: SubOpts[]; messages?: Uint8Array[]; control?: Partial<ControlMessage> }

/** Queue an RPC for `p`; control-only RPCs may exceed the message budget a little. */
export function sendRpc(g: SendContext, p: PeerState, rpc: OutgoingRpc, control: boolean): boolean {
  if (p.protocol === FLOODSUB && rpc.control !== undefined) {
    if (rpc.subscriptions === undefined && rpc.messages === undefined) return false
    rpc = { ...rpc, control: {} }
  }
  return sendFrame(g, p, encodeLp(encodeRpc(rpc)), control)
}

/** Queue one LP frame for `p` (control frames may exceed the message budget by one RPC). */
export function sendFrame(g: SendContext, p: PeerState, frame: Uint8Array, control: boolean, id?: string): boolean {
  if (p.out === undefined && p.opening === undefined) return false
  const queued = p.inFlight + p.outboxBytes
  const limit = control ? g.cfg.maxOutboundBytes + g.cfg.maxRpcSize : g.cfg.maxOutboundBytes
  if (queued + frame.length > limit) {
    if (!control) markSlow(g, p, frame.length)
    return false
  }
  p.outbox.push({ frame, id: control ? undefined : id })
  p.outboxBytes += frame.length
  if (p.out !== undefined && (control || p.inFlight === 0)) g.dirty.add(p)
  return true
}

function markSlow(g: SendContext, p: PeerState, dropped: number): void {
  if (!p.slow) {
    p.slow = true
    for (const [topic, m] of g.mesh) {
      if (!m.delete(p.key)) continue
      g.score.prune(p.key, topic)
      // the PRUNE (and our backoff) goes out with the next heartbeat, so the peer leaves its side of the mesh too
      p.slowPrunes.push(topic)
      g.event({ type: 'prune', peer: p.id, topic })
    }
  }
  g.event({ type: 'slow-peer', peer: p.id, droppedBytes: dropped })
}

/** A heartbeat tick clears slow marks of peers that caught up. */
export function clearSlow(g: SendContext, p: PeerState): void {
  if (p.slow && p.inFlight + p.outboxBytes < g.cfg.maxOutboundBytes / 2) p.slow = false
}

/** Write the outbox of every peer with something to send, one buffer per peer. */
export function flush(g: SendContext): void {
  for (const p of g.dirty) {
    if (p.out === undefined || p.outbox.length === 0) continue
    // while a write is in flight only control frames go (messages stay cancellable by IDONTWANT)
    const take = p.inFlight === 0 ? p.outbox : p.outbox.filter((e) => e.id === undefined)
    if (take.length === 0) continue
    const rest = p.inFlight === 0 ? [] : p.outbox.filter((e) => e.id !== undefined)
    let bytes = 0
    for (const e of take) bytes += e.frame.length
    const data = take.length === 1 ? take[0]!.frame : joinFrames(take, bytes, Math.min(g.cfg.maxRpcSize, MAX_JOINED_RPC))
    p.inFlight += data.length
    p.outbox = rest
    p.outboxBytes -= bytes
    g.actions.push({ type: 'write', stream: p.out, data })
  }
  g.dirty.clear()
}

/**
 * Joined RPCs stay below 64 KiB (rust-libp2p's default max_transmit_size, 65,536; go accepts 1 MiB) and
 * 512 Messages (below the 1,024 our decoder accepts per RPC).
 */
const MAX_JOINED_RPC = 64_000
const MAX_JOINED_MESSAGES = 512

/**
 * The outbox frames as one buffer. Runs of consecutive publish-only RPCs (`RPC { publish: [m] }`)
 * become one RPC: concatenated RPC encodings are the RPC with the repeated `publish` field
 * concatenated (protobuf merging), so the peer decodes the same Messages in the same order, with one
 * frame and one RPC per run instead of one per Message. Other frames (control, subscriptions) are
 * copied as they are, and end a run. (Exported for tests.)
 */
export function joinFrames(parts: ReadonlyArray<{ frame: Uint8Array }>, total: number, maxRpc: number): Uint8Array {
  // pass 1: the body of each frame (after its length prefix); runs of publish-only bodies
  const n = parts.length
  const bodyAt = new Int32Array(n)
  const runEnd = new Int32Array(n) // for the first frame of a run: index after its last frame; else 0
  let size = 0
  let i = 0
  while (i < n) {
    const f = parts[i]!.frame
    const head = lengthPrefix(f)
    bodyAt[i] = head
    if (!isPublishOnly(f, head)) { size += f.length; runEnd[i] = i + 1; i++; continue }
    let body = f.length - head
    let j = i + 1
    while (j < n && j - i < MAX_JOINED_MESSAGES) {
      const g = parts[j]!.frame
      const h = lengthPrefix(g)
      if (!isPublishOnly(g, h) || body + g.length - h > maxRpc) break
      bodyAt[j] = h
      body += g.length - h
      j++
    }
    runEnd[i] = j
    size += encodingLength(body) + body
    i = j
  }
  if (size === total) {
    // nothing joined: plain concatenation
    const out = new Uint8Array(total)
    let o = 0
    for (const { frame } of parts) { out.set(frame, o); o += frame.length }
    return out
  }
  // pass 2: write each run under one length prefix
  const out = new Uint8Array(size)
  let o = 0
  for (i = 0; i < n;) {
    const end = runEnd[i]!
    if (end === i + 1 && !isPublishOnly(parts[i]!.frame, bodyAt[i]!)) {
      out.set(parts[i]!.frame, o)
      o += parts[i]!.frame.length
      i++
      continue
    }
    let body = 0
    for (let k = i; k < end; k++) body += parts[k]!.frame.length - bodyAt[k]!
    o = encodeInto(body, out, o)
    for (let k = i; k < end; k++) { const f = parts[k]!.frame; out.set(f.subarray(bodyAt[k]!), o); o += f.length - bodyAt[k]! }
    i = end
  }
  return out
}

/** The length of an LP frame's varint prefix (our own frames: well formed). */
function lengthPrefix(f: Uint8Array): number {
  let i = 0
  while (f[i]! >= 0x80) i++
  return i + 1
}

/** Is the frame's body exactly one `publish` field (tag 0x12, length, Message)? */
function isPublishOnly(f: Uint8Array, head: number): boolean {
  if (f[head] !== 0x12) return false
  let len = 0
  let mul = 1
  let i = head + 1
  for (;;) {
    if (i >= f.length) return false
    const b = f[i++]!
    len += (b & 0x7f) * mul
    if (b < 0x80) break
    mul *= 128
  }
  return i + len === f.length
}

