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
import type { GossipsubBehaviour } from './gossipsub.js'
import { encodeRpc, type ControlMessage, type SubOpts } from './rpc.js'
import type { PeerState } from './types.js'

export interface OutgoingRpc { subscriptions?: SubOpts[]; messages?: Uint8Array[]; control?: Partial<ControlMessage> }

/** Queue an RPC for `p`; control-only RPCs may exceed the message budget a little. */
export function sendRpc(g: GossipsubBehaviour, p: PeerState, rpc: OutgoingRpc, control: boolean): boolean {
  if (p.protocol === FLOODSUB && rpc.control !== undefined) {
    if (rpc.subscriptions === undefined && rpc.messages === undefined) return false
    rpc = { ...rpc, control: {} }
  }
  return sendFrame(g, p, encodeLp(encodeRpc(rpc)), control)
}

/** Queue one LP frame for `p` (control frames may exceed the message budget by one RPC). */
export function sendFrame(g: GossipsubBehaviour, p: PeerState, frame: Uint8Array, control: boolean, id?: string): boolean {
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

function markSlow(g: GossipsubBehaviour, p: PeerState, dropped: number): void {
  if (!p.slow) {
    p.slow = true
    for (const [topic, m] of g.mesh) {
      if (!m.delete(p.key)) continue
      g.score.prune(p.key, topic)
      g.event({ type: 'prune', peer: p.id, topic })
    }
  }
  g.event({ type: 'slow-peer', peer: p.id, droppedBytes: dropped })
}

/** A heartbeat tick clears slow marks of peers that caught up. */
export function clearSlow(g: GossipsubBehaviour, p: PeerState): void {
  if (p.slow && p.inFlight + p.outboxBytes < g.cfg.maxOutboundBytes / 2) p.slow = false
}

/** Write the outbox of every peer with something to send, one buffer per peer. */
export function flush(g: GossipsubBehaviour): void {
  for (const p of g.dirty) {
    if (p.out === undefined || p.outbox.length === 0) continue
    // while a write is in flight only control frames go (messages stay cancellable by IDONTWANT)
    const take = p.inFlight === 0 ? p.outbox : p.outbox.filter((e) => e.id === undefined)
    if (take.length === 0) continue
    const rest = p.inFlight === 0 ? [] : p.outbox.filter((e) => e.id !== undefined)
    let bytes = 0
    for (const e of take) bytes += e.frame.length
    const data = take.length === 1 ? take[0]!.frame : concatFrames(take, bytes)
    p.inFlight += bytes
    p.outbox = rest
    p.outboxBytes -= bytes
    g.actions.push({ type: 'write', stream: p.out, data })
  }
  g.dirty.clear()
}

function concatFrames(parts: Array<{ frame: Uint8Array }>, total: number): Uint8Array {
  const out = new Uint8Array(total)
  let o = 0
  for (const { frame } of parts) { out.set(frame, o); o += frame.length }
  return out
}
