/**
 * Peer and stream bookkeeping (pubsub README "Stream management"): a PeerState per connected peer,
 * one long-lived outbound stream per peer that we only write (opened on the first connection, its
 * negotiated protocol says what the peer understands), and the peer's inbound stream that we only
 * read (a newer one replaces the older, as go does). When the last connection closes the peer leaves
 * every topic, mesh, fanout and promise, and its score is retained (v1.1 "retainScore").
 */
import type { Millis } from '../core/byte-machine.js'
import { emptyMap, emptySet } from '../core/empty-map.js'
import { encodeLp, LpDecoder } from '../core/lp.js'
import type { ConnectionInfo, StreamRef } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import type { GossipsubContext } from './context.js'
import { encodeRpc, PROTOCOL, type SubOpts } from './rpc.js'
import type { PeerState } from './types.js'

/** What peer and stream bookkeeping reads and changes. */
export type PeersContext = Pick<GossipsubContext, 'cfg' | 'peers' | 'topicPeers' | 'subscriptions' | 'mesh' | 'fanout' | 'promises' | 'score' |
  'actions' | 'dirty' | 'event' | 'nextId' | 'inStreams' | 'outStreams' | 'openRequests'>

/** Outbound stream (re)opens per peer: stops a peer that resets every stream from making us loop. */
const FRESH_IDS_PER_STREAM_REOPEN = 3

export function peerConnected(g: PeersContext, c: ConnectionInfo): void {
  const key = c.peer.toString()
  let p = g.peers.get(key)
  if (p === undefined) {
    p = {
      key, id: c.peer, connections: new Map(), outbound: false, protocol: undefined, out: undefined, opening: undefined,
      openAttempts: 0, inbound: new Map(), topics: emptySet(), topicBytes: 0, outbox: [], outboxBytes: 0, inFlight: 0,
      slow: false, slowPrunes: [], ihaveMessages: 0, ihaveIds: 0, iwantServed: 0, idontwant: 0, dontSend: emptyMap(),
    }
    g.peers.set(key, p)
    g.score.addPeer(key)
  }
  p.connections.set(c.id, c)
  if (c.direction === 'outbound') p.outbound = true
  g.score.setIPs(key, peerIPs(p))
  ensureOutbound(g, p)
}

function ensureOutbound(g: PeersContext, p: PeerState): void {
  if (p.out !== undefined || p.opening !== undefined || p.openAttempts >= FRESH_IDS_PER_STREAM_REOPEN) return
  const conn = p.connections.keys().next().value
  if (conn === undefined) return
  const requestId = g.nextId()
  p.opening = requestId
  p.openAttempts++
  g.openRequests.set(requestId, p)
  g.actions.push({ type: 'open-stream', requestId, peer: p.id, protocols: g.cfg.protocols, connection: conn })
}

export function peerDisconnected(g: PeersContext, now: Millis, c: ConnectionInfo): void {
  const key = c.peer.toString()
  const p = g.peers.get(key)
  if (p === undefined) return
  p.connections.delete(c.id)
  if (p.out?.connection === c.id) streamGone(g, p.out)
  const inbound = p.inbound.get(c.id)
  if (inbound !== undefined) streamGone(g, inbound.stream)
  if (p.connections.size > 0) {
    g.score.setIPs(key, peerIPs(p))
    ensureOutbound(g, p)
    return
  }
  g.peers.delete(key)
  g.dirty.delete(p)
  for (const t of p.topics) g.topicPeers.get(t)?.delete(key)
  for (const [topic, m] of g.mesh) if (m.delete(key)) g.event({ type: 'prune', peer: p.id, topic })
  for (const f of g.fanout.values()) f.delete(key)
  for (const [id, byPeer] of g.promises) {
    byPeer.delete(key)
    if (byPeer.size === 0) g.promises.delete(id)
  }
  g.score.removePeer(key, now)
}

export function streamOpened(g: PeersContext, s: StreamRef, protocol: string, direction: 'inbound' | 'outbound', c: ConnectionInfo, requestId: number | undefined): void {
  const p = g.peers.get(c.peer.toString())
  if (direction === 'inbound') {
    if (p === undefined) {
      g.actions.push({ type: 'reset', stream: s })
      return
    }
    // one inbound stream per connection: a newer one on the same connection replaces the older (as
    // go does per peer); streams on other connections stay, the peer may be sending on them
    const old = p.inbound.get(c.id)
    if (old !== undefined) {
      g.inStreams.delete(streamKey(old.stream))
      g.actions.push({ type: 'reset', stream: old.stream })
    }
    p.inbound.set(c.id, { stream: s, decoder: new LpDecoder(g.cfg.maxRpcSize, PROTOCOL) })
    g.inStreams.set(streamKey(s), p)
    return
  }
  const owner = requestId === undefined ? undefined : g.openRequests.get(requestId)
  if (requestId !== undefined) g.openRequests.delete(requestId)
  if (owner === undefined || owner !== p || p.opening !== requestId) {
    g.actions.push({ type: 'reset', stream: s })
    return
  }
  p.opening = undefined
  p.out = s
  p.protocol = protocol
  p.inFlight = 0
  g.outStreams.set(streamKey(s), p)
  // hello: our subscriptions, first on the stream
  const subs: SubOpts[] = [...g.subscriptions].map((topic) => ({ subscribe: true, topic }))
  if (subs.length > 0) {
    const hello = encodeLp(encodeRpc({ subscriptions: subs }))
    p.outbox.unshift({ frame: hello, id: undefined })
    p.outboxBytes += hello.length
  }
  if (p.outbox.length > 0) g.dirty.add(p)
}

export function streamOpenFailed(g: PeersContext, requestId: number): void {
  const p = g.openRequests.get(requestId)
  if (p === undefined) return
  g.openRequests.delete(requestId)
  p.opening = undefined
  p.outbox = []
  p.outboxBytes = 0
}

/** The muxer took everything written to `s`: queued frames may go. */
export function streamWritable(g: PeersContext, s: StreamRef): void {
  const p = g.outStreams.get(streamKey(s))
  if (p === undefined) return
  p.inFlight = 0
  if (p.outbox.length > 0) g.dirty.add(p)
}

export function streamGone(g: PeersContext, s: StreamRef): void {
  const k = streamKey(s)
  const inP = g.inStreams.get(k)
  if (inP !== undefined) {
    g.inStreams.delete(k)
    const i = inP.inbound.get(s.connection)
    if (i !== undefined && streamKey(i.stream) === k) inP.inbound.delete(s.connection)
  }
  const outP = g.outStreams.get(k)
  if (outP !== undefined) {
    g.outStreams.delete(k)
    outP.out = undefined
    outP.inFlight = 0
    outP.outbox = []
    outP.outboxBytes = 0
    g.dirty.delete(outP)
    if (outP.connections.size > 0 && g.peers.get(outP.key) === outP) ensureOutbound(g, outP)
  }
}

/** The IP addresses of a peer's connections (for P₆), loopback excluded. */
function peerIPs(p: PeerState): string[] {
  const out = new Set<string>()
  for (const c of p.connections.values()) {
    const first = c.remoteAddr.components()[0]
    if (first === undefined || (first.name !== 'ip4' && first.name !== 'ip6') || first.value === undefined) continue
    if (c.remoteAddr.isLoopback()) continue
    out.add(first.value)
  }
  return [...out]
}
