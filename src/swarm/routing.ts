/**
 * What the swarm does with a connection core's events (a connection established, streams opened,
 * bytes, resets, close) and with a behaviour's actions (dial, open a stream, write, close...).
 * Free functions over `RouteHost`, the swarm's state and the few commands they need; the swarm
 * (src/swarm/swarm.ts) owns the state and the order of calls.
 */
import type { Millis } from '../core/byte-machine.js'
import { emptyMap, ownMap, shrinkMap } from '../core/empty-map.js'
import { ConnectionClosedError, DialError, InternalError, UsageError } from '../core/errors.js'
import type { ConnectionEvent } from '../connection/index.js'
import { StreamResetCode } from '../core/close-codes.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput, ConnectionInfo, StreamRef } from './behaviour.js'
import type { BehaviourSet } from './behaviours.js'
import type { DialWaiter, Dials } from './dials.js'
import type { PeerStore } from './peer-store.js'
import type { ProtocolTable } from './protocols.js'
import { enqueue, flushQueue, newStream, type SwarmStream } from './streams.js'
import type { Conn, Owner, SwarmEvent, SwarmIo, SwarmLimits } from './types.js'
import type { SwarmPolicy } from './policy.js'
import { isLimitedAddr, limitedConnectionError } from './limited.js'

/** The swarm as the routing functions see it. */
export interface RouteHost {
  readonly peerId: PeerId
  readonly limits: SwarmLimits
  readonly policy: SwarmPolicy
  readonly conns: Map<number, Conn>
  readonly byPeer: Map<string, Set<number>>
  /** Internal request id -> (owner, requestId) for stream opens routed through connections. */
  readonly opens: Map<number, { owner: Owner; requestId: number }>
  readonly protocols: ProtocolTable
  readonly peerStore: PeerStore
  readonly dials: Dials<Conn>
  readonly set: BehaviourSet<Record<string, Behaviour<unknown>>>
  readonly io: SwarmIo[]
  readonly events: SwarmEvent[]
  /** Connections that may have bytes to send. */
  readonly dirty: Set<number>
  closeConnection(now: Millis, id: number, code?: number): void
  reset(now: Millis, ref: StreamRef): void
  openStream(now: Millis, owner: Owner, target: PeerId | Multiaddr, protocols: readonly string[], requestId: number, connection: number | undefined, allowLimited: boolean): void
  setBehaviourProtocols(now: Millis, name: string, protocols: readonly string[]): void
  toOwner(now: Millis, owner: Owner, input: BehaviourInput): void
  /** Report a bug concerning connection `id` and close it (the swarm's containment). */
  fault(now: Millis, id: number, e: unknown): void
  /** A fresh internal request id for a stream opening. */
  nextRequestId(): number
  /** Route `c`'s pending core events, containing any exception. */
  drain(now: Millis, c: Conn): void
  /** A behaviour confirmed or withdrew an external address (AutoNAT). */
  external(now: Millis, addr: Multiaddr, confirmed: boolean): void
}

export function onConnEvent(h: RouteHost, now: Millis, c: Conn, ev: ConnectionEvent): void {
  switch (ev.type) {
    case 'established': {
      const peer = ev.remotePeer
      if (peer.equals(h.peerId)) {
        const d = c.dial
        c.dial = undefined
        if (d !== undefined) h.dials.fail(d, new DialError('dial/self', 'dialed our own peer id', [{ addr: c.remoteAddr.toString(), error: new UsageError('dial/self', 'the remote has our peer id') }]))
        h.closeConnection(now, c.id)
        return
      }
      const info: ConnectionInfo = {
        id: c.id, peer, remotePublicKey: ev.remotePublicKey, remoteAddr: c.remoteAddr, localAddr: c.localAddr, direction: c.direction,
        opened: c.opened, established: now, security: ev.security, muxer: ev.muxer, earlyMuxer: ev.earlyMuxerNegotiation, limited: isLimitedAddr(c.remoteAddr),
      }
      const refused = h.policy.admitPeer(now, info)
      if (refused !== undefined) {
        h.events.push({ type: 'connection-refused', direction: c.direction, addr: c.remoteAddr, peer, refusal: refused })
        const d = c.dial
        c.dial = undefined
        if (d !== undefined) h.dials.attemptFailed(d, refused.error)
        c.closeError = refused.error
        h.closeConnection(now, c.id, refused.wireCode)
        return
      }
      c.info = info
      const key = peer.toString()
      let set = h.byPeer.get(key)
      const first = set === undefined || set.size === 0
      if (set === undefined) h.byPeer.set(key, (set = new Set()))
      set.add(c.id)
      h.peerStore.update(peer, { publicKey: ev.remotePublicKey })
      if (c.direction === 'outbound') h.peerStore.addAddrs(peer, [c.remoteAddr.withoutPeerId()])
      h.events.push({ type: 'connection-open', connection: info })
      if (first) h.events.push({ type: 'peer-connect', peer })
      h.set.broadcast(now, { type: 'connection-established', connection: info })
      const d = c.dial
      c.dial = undefined
      if (d !== undefined) h.dials.succeed(d, c)
      // Waiters of other pending dials to this peer (dialed by address) join this connection, unless
      // it is limited (a relayed connection does not answer a dial for a direct one).
      const other = h.dials.pendingFor(peer)
      if (other !== undefined && other !== d && !info.limited) h.dials.succeed(other, c)
      break
    }
    case 'stream-opened': {
      // A connection refused after the handshake (admitPeer) is closing with its GoAway: streams the
      // remote opened in the same bytes as its last handshake message end with it, unrouted.
      if (c.info === undefined) return
      const info = c.info
      const ref: StreamRef = { connection: c.id, stream: ev.id }
      if (ev.direction === 'inbound') {
        const handler = h.protocols.get(ev.protocol)
        if (handler === undefined) {
          // unhandled while it negotiated: as go, "protocol negotiation failed"
          c.core!.reset(ev.id, StreamResetCode.ProtocolNegotiationFailed)
          return
        }
        let count = 0
        for (const s of c.streams.values()) if (s.protocol === ev.protocol) count++
        if (count >= handler.maxInboundStreams) {
          c.core!.reset(ev.id, StreamResetCode.ResourceLimitExceeded)
          return
        }
        const refused = h.policy.admitStream(now, info, ev.id, 'inbound', ev.protocol, ownerName(handler.owner))
        if (refused !== undefined) {
          h.events.push({ type: 'stream-refused', direction: 'inbound', protocol: ev.protocol, connection: info, refusal: refused })
          c.core!.reset(ev.id, refused.wireCode)
          return
        }
        ;(c.streams = ownMap(c.streams)).set(ev.id, newStream(handler.owner, ev.protocol))
        h.toOwner(now, handler.owner, { type: 'stream-opened', stream: ref, protocol: ev.protocol, direction: 'inbound', connection: info })
      } else {
        const open = h.opens.get(ev.requestId!)
        h.opens.delete(ev.requestId!)
        if (open === undefined) {
          c.core!.reset(ev.id)
          return
        }
        const refused = h.policy.admitStream(now, info, ev.id, 'outbound', ev.protocol, ownerName(open.owner))
        if (refused !== undefined) {
          h.events.push({ type: 'stream-refused', direction: 'outbound', protocol: ev.protocol, connection: info, refusal: refused })
          c.core!.reset(ev.id, refused.wireCode)
          h.toOwner(now, open.owner, { type: 'stream-open-failed', requestId: open.requestId, error: refused.error })
          return
        }
        ;(c.streams = ownMap(c.streams)).set(ev.id, newStream(open.owner, ev.protocol))
        h.toOwner(now, open.owner, { type: 'stream-opened', stream: ref, protocol: ev.protocol, direction: 'outbound', connection: info, requestId: open.requestId })
      }
      break
    }
    case 'stream-open-failed': {
      const open = h.opens.get(ev.requestId)
      h.opens.delete(ev.requestId)
      if (open !== undefined) h.toOwner(now, open.owner, { type: 'stream-open-failed', requestId: open.requestId, error: ev.error })
      break
    }
    case 'stream-data': {
      const s = c.streams.get(ev.id)
      if (s === undefined) return
      const ref = { connection: c.id, stream: ev.id }
      if (s.owner.kind === 'behaviour') {
        // Behaviours bound their own buffers: the bytes count as read at once (unless the behaviour
        // credits them itself: `manual-consume`).
        if (s.manualConsume !== true) c.core!.consume(now, ev.id, ev.data.length)
        h.set.feed(now, s.owner.name, { type: 'stream-data', stream: ref, data: ev.data })
      } else {
        h.events.push({ type: 'stream-data', stream: ref, data: ev.data })
      }
      break
    }
    case 'stream-eof':
    case 'stream-reset': {
      const s = c.streams.get(ev.id)
      if (s === undefined) return
      const stream = { connection: c.id, stream: ev.id }
      // a remote RST's libp2p reset code (src/core/close-codes.ts) travels on to the owner; a reset
      // the connection's end caused (its core no longer open while emitting it: the remote's GoAway;
      // or our own close or stop under way, to which the remote answers with resets) says so
      if (ev.type === 'stream-eof') h.toOwner(now, s.owner, { type: 'stream-eof', stream })
      else h.toOwner(now, s.owner, { type: 'stream-reset', stream, ...(ev.code !== undefined ? { code: ev.code } : {}), ...(c.closing || c.core?.isOpen !== true ? { connectionClosed: true as const } : {}) })
      break
    }
    case 'stream-writable': {
      const s = c.streams.get(ev.id)
      if (s === undefined) return
      const ref = { connection: c.id, stream: ev.id }
      if (s.owner.kind === 'behaviour') flushBehaviourQueue(h, now, c, ev.id)
      else h.events.push({ type: 'stream-writable', stream: ref })
      break
    }
    case 'stream-closed': {
      const s = c.streams.get(ev.id)
      if (s === undefined) return
      c.streams.delete(ev.id)
      c.streams = shrinkMap(c.streams)
      h.policy.streamRemoved(now, c.id, ev.id)
      h.toOwner(now, s.owner, { type: 'stream-closed', stream: { connection: c.id, stream: ev.id } })
      break
    }
    case 'rtt':
      h.events.push({ type: 'rtt', connection: c.id, rtt: ev.rtt })
      break
    case 'closed':
      c.closing = true
      h.io.push({ type: 'close', connection: c.id })
      // a bug the connection core contained itself (it closed with an InternalError, threw nothing)
      // is reported like one the swarm caught
      if (ev.error instanceof InternalError) {
        h.events.push({ type: 'error', error: ev.error, origin: 'connection', ...(c.info !== undefined ? { connection: c.info, peer: c.info.peer } : {}) })
      }
      // A refusal after the handshake (admitPeer) set closeError first: it stays the reason.
      c.closeError ??= ev.error
      if (c.info === undefined) {
        h.events.push({ type: 'connection-failed', addr: c.remoteAddr, direction: c.direction, error: c.closeError ?? new UsageError('connection/closed') })
        if (c.dial !== undefined) {
          const d = c.dial
          c.dial = undefined
          h.dials.attemptFailed(d, c.closeError ?? new UsageError('connection/closed'))
        }
      }
      break
  }
}

/** A new connection's stream table: the shared empty map until its first stream (core/empty-map.ts). */
export const noStreams = (): Map<number, SwarmStream> => emptyMap()

export function removeConn(h: RouteHost, now: Millis, c: Conn, error?: Error): void {
  if (h.conns.get(c.id) !== c) return
  h.conns.delete(c.id)
  h.dirty.delete(c.id)
  for (const sid of c.streams.keys()) h.policy.streamRemoved(now, c.id, sid)
  h.policy.connectionRemoved(now, c.id)
  const err = c.closeError ?? error
  if (c.dial !== undefined && c.info === undefined) h.dials.attemptFailed(c.dial, err ?? new UsageError('connection/closed'))
  for (const [sid, s] of c.streams) {
    const ref = { connection: c.id, stream: sid }
    h.toOwner(now, s.owner, { type: 'stream-reset', stream: ref, connectionClosed: true })
    h.toOwner(now, s.owner, { type: 'stream-closed', stream: ref })
  }
  c.streams = noStreams()
  if (c.info === undefined) return
  const key = c.info.peer.toString()
  const set = h.byPeer.get(key)
  set?.delete(c.id)
  h.events.push(err === undefined ? { type: 'connection-closed', connection: c.info } : { type: 'connection-closed', connection: c.info, error: err })
  h.set.broadcast(now, { type: 'connection-closed', connection: c.info })
  if (set !== undefined && set.size === 0) {
    h.byPeer.delete(key)
    h.events.push({ type: 'peer-disconnect', peer: c.info.peer })
  }
}


export function onAction(h: RouteHost, now: Millis, name: string, a: BehaviourAction<unknown>): void {
  const owner: Owner = { kind: 'behaviour', name }
  switch (a.type) {
    case 'event':
      h.events.push({ type: 'behaviour', from: name, event: a.event })
      break
    case 'dial':
      // Fresh addresses (gossipsub PX, a kad result) are dialed even when the peer store has never
      // seen the peer, and are remembered for later dials.
      if (a.peer !== undefined && a.addrs !== undefined) h.peerStore.addAddrs(a.peer, a.addrs)
      h.dials.dial(a.peer ?? a.addrs?.[0] ?? (undefined as never), { owner, requestId: a.requestId, ...(a.options !== undefined ? { options: a.options } : {}) }, a.peer !== undefined ? a.addrs : undefined)
      break
    case 'cancel-dial':
      h.dials.cancel((w) => w.owner.kind === 'behaviour' && w.owner.name === name && w.requestId === a.requestId)
      break
    case 'open-stream':
      h.openStream(now, owner, a.peer, a.protocols, a.requestId, a.connection, a.allowLimited === true)
      break
    case 'manual-consume': {
      const s = h.conns.get(a.stream.connection)?.streams.get(a.stream.stream)
      if (s !== undefined) s.manualConsume = true
      break
    }
    case 'consume': {
      const c = h.conns.get(a.stream.connection)
      if (c?.core?.isOpen !== true || !c.streams.has(a.stream.stream)) break
      c.core.consume(now, a.stream.stream, a.bytes)
      h.dirty.add(c.id)
      break
    }
    case 'observed-addr':
      if (!a.connection.limited) h.set.broadcast(now, { type: 'observed-addr', connection: a.connection, addr: a.addr })
      break
    case 'external-addr':
      h.external(now, a.addr, a.confirmed)
      break
    case 'write': {
      const c = h.conns.get(a.stream.connection)
      const s = c?.streams.get(a.stream.stream)
      if (c?.core?.isOpen !== true || s === undefined) break
      if (!enqueue(s, a.data, h.limits.maxBehaviourStreamBuffer)) {
        c.core.reset(a.stream.stream)
        h.dirty.add(c.id)
        break
      }
      flushBehaviourQueue(h, now, c, a.stream.stream)
      break
    }
    case 'close-write': {
      const c = h.conns.get(a.stream.connection)
      const s = c?.streams.get(a.stream.stream)
      if (c?.core?.isOpen !== true || s === undefined) break
      if (s.queue.length > 0) s.closeAfterQueue = true
      else c.core.closeWrite(a.stream.stream)
      h.dirty.add(c.id)
      break
    }
    case 'reset':
      h.reset(now, a.stream)
      break
    case 'close-connection':
      h.closeConnection(now, a.connection)
      break
    case 'set-protocols':
      h.setBehaviourProtocols(now, name, a.protocols)
      break
    case 'tag-peer':
      h.policy.tagPeer(now, a.peer, a.tag, a.value, name)
      break
    case 'protect-peer':
      h.policy.protectPeer(now, a.peer, a.tag, a.protect)
      break
    case 'peer-info':
      h.peerStore.update(a.peer, a.info)
      h.set.broadcast(now, { type: 'peer-info', peer: a.peer, info: a.info, from: name })
      break
  }
}

export function flushBehaviourQueue(h: RouteHost, now: Millis, c: Conn, id: number): void {
  const s = c.streams.get(id)
  if (s === undefined || c.core?.isOpen !== true) return
  let drained: boolean
  try {
    drained = flushQueue(c.core, id, s)
  } catch (e) {
    // The stream's send side ended (the remote reset it, or the behaviour closed it) before the
    // behaviour learned of it: the bytes cannot go anywhere; drop them as a user's write racing
    // the end is. The behaviour gets the stream's end as usual. Anything else is a bug.
    if (!(e instanceof UsageError)) throw e
    s.queue.length = 0
    s.queued = 0
    return
  }
  h.dirty.add(c.id)
  if (drained && s.owner.kind === 'behaviour') h.set.feed(now, s.owner.name, { type: 'stream-writable', stream: { connection: c.id, stream: id } })
}

/** The behaviour name of a stream's owner, undefined for the user (the policy's service scope). */
function ownerName(o: Owner): string | undefined {
  return o.kind === 'behaviour' ? o.name : undefined
}

/** A dial's outcome for one waiter: a dial result, or (for a stream opening) the stream opening itself. */
export function notifyWaiter(h: RouteHost, now: Millis, w: DialWaiter, c: Conn | undefined, error: Error | undefined): void {
  if (w.openStream !== undefined) {
    if (c === undefined) h.toOwner(now, w.owner, { type: 'stream-open-failed', requestId: w.requestId, error: error! })
    else openOn(h, now, c, w.owner, w.openStream.protocols, w.requestId, w.openStream.allowLimited === true)
    return
  }
  if (c === undefined) h.toOwner(now, w.owner, { type: 'dial-failed', requestId: w.requestId, error: error! })
  else h.toOwner(now, w.owner, { type: 'dial-succeeded', requestId: w.requestId, connection: c.info! })
}

/** Open a stream on an open connection; the outcome reaches `owner` as stream-opened / stream-open-failed. */
export function openOn(h: RouteHost, now: Millis, c: Conn, owner: Owner, protocols: readonly string[], requestId: number, allowLimited: boolean): void {
  if (c.info?.limited === true && !allowLimited) {
    h.toOwner(now, owner, { type: 'stream-open-failed', requestId, error: limitedConnectionError(protocols) })
    return
  }
  const internal = h.nextRequestId()
  h.opens.set(internal, { owner, requestId })
  try {
    c.core!.openStream(now, protocols, internal)
  } catch (e) {
    h.opens.delete(internal)
    h.toOwner(now, owner, { type: 'stream-open-failed', requestId, error: e instanceof Error ? e : new Error(String(e)) })
    if (!(e instanceof UsageError)) h.fault(now, c.id, e)
    return
  }
  h.drain(now, c)
}

/**
 * A connection the policy wants closed (`pollClose`: a trim, an eviction). One still in its handshake
 * (a pending-inbound eviction) is aborted: nothing was said that needs a reply, and a graceful close
 * would keep its socket, and every slot it holds, for the transport's linger when the peer never
 * reads. Every other one closes gracefully with a GoAway carrying `p.code`.
 */
export function closeForPolicy(h: RouteHost, now: Millis, p: { connection: number; code: number }): void {
  const c = h.conns.get(p.connection)
  if (c === undefined || c.info !== undefined || c.closing) {
    h.closeConnection(now, p.connection, p.code)
    return
  }
  c.closing = true
  c.closeError = new ConnectionClosedError(p.code, 'local')
  h.io.push({ type: 'close', connection: c.id, abort: true })
  h.events.push({ type: 'connection-failed', addr: c.remoteAddr, direction: c.direction, error: c.closeError })
  removeConn(h, now, c, undefined)
}
