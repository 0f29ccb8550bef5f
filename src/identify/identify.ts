/**
 * Identify `/ipfs/id/1.0.0` and identify/push `/ipfs/id/push/1.0.0` (libp2p/specs identify/README.md),
 * as a behaviour.
 *
 * identify: on every new connection we open an identify stream; "the peer being identified responds
 * by returning an Identify message and closes the stream". We answer inbound identify streams the
 * same way, with our listen addresses and protocols (from the latest `local-info` input), the
 * connection's remote address as `observedAddr`, our public key, and a signed peer record.
 *
 * The addresses we advertise (listenAddrs and the signed peer record) are our listen addresses
 * followed by the swarm's confirmed external addresses (the `reachability` input), without repeats.
 *
 * identify/push: "when a peer's basic information changes", it opens a push stream to each peer,
 * sends an Identify message and closes. We push when a `local-info` or `reachability` input changes
 * our addresses or protocols, to every connected peer whose identify listed the push protocol. At most one push per
 * connection is being opened at a time; a change meanwhile is sent once that one is written.
 *
 * Receiving (identify or push), once the remote closed its side:
 * 1. decode (length-prefixed message(s), or a bare protobuf; see message.ts), within the limits;
 * 2. publicKey, when present, must be the remote's key (its peer id is the connection's peer):
 *    otherwise 'identify/public-key-mismatch' and the whole message is dropped;
 * 3. the signedPeerRecord is opened; when it verifies and names the remote peer, its addresses are
 *    the ones stored; otherwise we fall back to listenAddrs (`signedPeerRecordValid: false`). A
 *    record whose seq is below the highest this peer gave us before is a replay: no addresses are
 *    stored from that message (`signedPeerRecordError: 'identify/stale-peer-record'`);
 * 4. a `peer-info` action feeds the peer store; an `identified` / `identify-push` event reports it.
 * Malformed multiaddrs in listenAddrs / observedAddr are skipped, not fatal (as other stacks do).
 * In a push, "missing fields should be ignored": an empty repeated field leaves the stored value.
 *
 * Peer record seq: records must carry increasing seq numbers across restarts, but a core has no
 * wall clock. seq = `seqBase` (the node passes its wall-clock start time in ms) + the number
 * of address changes seen so far.
 */
import type { Millis } from '../core/byte-machine.js'
import type { CryptoProvider } from '../core/crypto/provider.js'
import { OutcomeError, ProtocolError } from '../core/errors.js'
import { equals } from '../core/bytes.js'
import { encodeLp } from '../core/lp.js'
import { ReadBuffer } from '../core/read-buffer.js'
import { Multiaddr } from '../multiaddr/index.js'
import { openPeerRecord, publicKeyFromProtobuf, sealPeerRecord } from '../peer-id/index.js'
import type { PeerId, PrivateKey, PublicKey } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput, ConnectionInfo, PeerInfoUpdate, StreamRef } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import { announcesTooLarge, decodeIdentifyStream, DEFAULT_IDENTIFY_LIMITS, encodeIdentify } from './message.js'
import type { IdentifyErrorCode, IdentifyLimits, IdentifyMessage, IdentifyOutcomeCode } from './message.js'

/** Protocol id of identify (libp2p specs identify/README.md). */
export const IDENTIFY_PROTOCOL = '/ipfs/id/1.0.0'
/** Protocol id of identify/push: a peer sends us its changed identify message unasked. */
export const IDENTIFY_PUSH_PROTOCOL = '/ipfs/id/push/1.0.0'
/** The `protocolVersion` announced by default, as go-libp2p and rust-libp2p announce it. */
export const DEFAULT_PROTOCOL_VERSION = 'ipfs/0.1.0'

/** What a remote told us, parsed. */
export interface IdentifyInfo {
  /** The remote's `protocolVersion` (e.g. `ipfs/0.1.0`). */
  protocolVersion?: string
  /** The remote's `agentVersion` (e.g. `go-libp2p/0.48.0`). */
  agentVersion?: string
  /** From the message, or the connection's key when the message has none. */
  publicKey: PublicKey
  /** The addresses the remote listens on, as it announced them. */
  listenAddrs: Multiaddr[]
  /** Our address as the remote sees it. */
  observedAddr?: Multiaddr
  /** The protocols the remote serves. */
  protocols: string[]
  /** The record's contents and its signed envelope (as received), when it verified and names the remote peer. */
  signedPeerRecord?: { seq: bigint; addrs: Multiaddr[]; envelope: Uint8Array }
  /** True when a signed record was present, verified and names the remote peer. */
  signedPeerRecordValid: boolean
  /** Set when a signed record was present but rejected: why (so "sent but invalid" differs from "not sent"). */
  signedPeerRecordError?: string
}

/**
 * Events of the identify behaviour: a peer identified itself (on connect) or pushed an update (`/ipfs/id/push/1.0.0`).
 */
export type IdentifyEvent =
  | { type: 'identified'; peer: PeerId; connection: ConnectionInfo; info: IdentifyInfo }
  | { type: 'identify-push'; peer: PeerId; connection: ConnectionInfo; info: IdentifyInfo }
  /** We sent our identify: an answer to the remote's request (`push` false), or a push. */
  | { type: 'identify-sent'; peer: PeerId; connection: ConnectionInfo; push: boolean }
  /** `push` tells which exchange failed (an inbound push, or our identify of the remote). */
  | { type: 'identify-failed'; peer: PeerId; connection: ConnectionInfo; push: boolean; error: Error }

/**
 * Options of the identify behaviour (identify spec): what we announce and the limits on what we accept (`IdentifyLimits`, defaults in `DEFAULT_IDENTIFY_LIMITS`).
 */
export interface IdentifyOptions extends Partial<IdentifyLimits> {
  /** The crypto provider (signed peer records, key checks). */
  crypto: CryptoProvider
  /** Our identity key: its public key goes in `publicKey`; it signs our peer record. */
  identity: PrivateKey
  /** The `agentVersion` we announce (a node passes `AGENT_VERSION` unless told otherwise). */
  agentVersion: string
  /** The `protocolVersion` we announce. Default `DEFAULT_PROTOCOL_VERSION` ('ipfs/0.1.0'). */
  protocolVersion?: string
  /** Milliseconds from opening an identify stream (or accepting a push) to the remote's EOF. Default 10 000. */
  timeout?: number
  /** Base of our peer records' seq (see header). Default 0n; a node passes its wall-clock start time in ms. */
  seqBase?: bigint
  /** Send a signed peer record in our messages. Default true. */
  signedPeerRecord?: boolean
  /**
   * Inbound push streams being read at once per connection. Default 2. Stops: a peer opening many
   * push streams, each holding up to maxMessageSize bytes.
   */
  maxPushStreams?: number
  /**
   * Peers whose highest signed-peer-record seq we remember. Default 10 000 (the peer store's size);
   * the least recently updated is forgotten first. Stops: memory growing with every peer ever met.
   */
  maxRecordSeqs?: number
}

/** `signedPeerRecordError` of a record older than one this peer already gave us. */
export const STALE_PEER_RECORD = 'identify/stale-peer-record'

type Conn = {
  info: ConnectionInfo
  /** Our identify of the remote completed. */
  identified: boolean
  /** Our info changed before that: push once we learn the remote supports push. */
  changedMeanwhile: boolean
  /** The remote listed IDENTIFY_PUSH_PROTOCOL in its identify. */
  supportsPush: boolean
  /** 'idle'; 'opening' (a push stream requested); 'opening-dirty' (and something changed since). */
  push: 'idle' | 'opening' | 'opening-dirty'
  pushReaders: number
}

/** A stream we read an Identify message from (our identify of the remote, or its push). */
interface Reader {
  readonly push: boolean
  readonly connection: number
  readonly stream: StreamRef
  readonly buf: ReadBuffer
  readonly deadline: Millis
}

interface PendingOpen {
  readonly push: boolean
  readonly connection: number
  readonly deadline: Millis
}

export class IdentifyBehaviour implements Behaviour<IdentifyEvent> {
  readonly protocols: readonly string[] = [IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL]
  /** Identify runs on limited (relayed) connections too: DCUtR needs it there (go waits for it). */
  readonly limitedProtocols: readonly string[] = [IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL]

  readonly #crypto: CryptoProvider
  readonly #identity: PrivateKey
  readonly #agentVersion: string
  readonly #protocolVersion: string
  readonly #timeout: number
  readonly #limits: IdentifyLimits
  readonly #seqBase: bigint
  readonly #signRecord: boolean
  readonly #maxPushStreams: number
  readonly #maxRecordSeqs: number
  /**
   * The highest peer-record seq seen per peer (map order = least recently updated first). A record
   * with a lower seq is a replay of an older one: its addresses must not replace newer ones.
   */
  readonly #recordSeqs = new Map<string, bigint>()

  readonly #actions: BehaviourAction<IdentifyEvent>[] = []
  readonly #conns = new Map<number, Conn>()
  readonly #readers = new Map<string, Reader>()
  readonly #pending = new Map<number, PendingOpen>()
  #nextId = 1
  /** The latest `now` seen, for deadlines of streams opened by commands without a `now`. */
  #lastNow: Millis = 0

  /** What we advertise: our listen addresses, then confirmed external ones (see header). */
  #listenAddrs: readonly Multiaddr[] = []
  #ownListenAddrs: readonly Multiaddr[] = []
  #externalAddrs: readonly Multiaddr[] = []
  #localProtocols: readonly string[] = []
  #addrChanges = 0n
  #record: Uint8Array | undefined

  constructor(options: IdentifyOptions) {
    this.#crypto = options.crypto
    this.#identity = options.identity
    this.#agentVersion = options.agentVersion
    this.#protocolVersion = options.protocolVersion ?? DEFAULT_PROTOCOL_VERSION
    this.#timeout = positive(options.timeout ?? 10_000, 'timeout')
    const limit = (name: keyof IdentifyLimits): number => positive(options[name] ?? DEFAULT_IDENTIFY_LIMITS[name], name)
    this.#limits = {
      maxMessageSize: limit('maxMessageSize'),
      maxProtocols: limit('maxProtocols'),
      maxProtocolBytes: limit('maxProtocolBytes'),
      maxProtocolLength: limit('maxProtocolLength'),
      maxAddrs: limit('maxAddrs'),
      maxAddrBytes: limit('maxAddrBytes'),
      maxVersionLength: limit('maxVersionLength'),
      maxSignedRecordSize: limit('maxSignedRecordSize'),
      maxMessages: limit('maxMessages'),
    }
    this.#seqBase = options.seqBase ?? 0n
    if (typeof this.#seqBase !== 'bigint' || this.#seqBase < 0n) throw new RangeError('seqBase must be a non-negative bigint')
    this.#signRecord = options.signedPeerRecord ?? true
    this.#maxPushStreams = positive(options.maxPushStreams ?? 2, 'maxPushStreams')
    this.#maxRecordSeqs = positive(options.maxRecordSeqs ?? 10_000, 'maxRecordSeqs')
  }

  /** The Identify message we send on `connection` (exposed for tests and diagnostics). */
  messageFor(connection: ConnectionInfo): IdentifyMessage {
    const msg: IdentifyMessage = {
      protocolVersion: this.#protocolVersion,
      agentVersion: this.#agentVersion,
      publicKey: this.#identity.publicKey.bytes,
      listenAddrs: this.#listenAddrs.map((a) => a.bytes),
      observedAddr: connection.remoteAddr.bytes,
      protocols: [...this.#localProtocols],
    }
    if (this.#signRecord) {
      this.#record ??= sealPeerRecord(
        this.#identity,
        { peerId: this.#identity.publicKey.toPeerId(this.#crypto), seq: this.#seqBase + this.#addrChanges, addrs: [...this.#listenAddrs] },
        this.#crypto,
      ).bytes
      msg.signedPeerRecord = this.#record
    }
    return msg
  }

  handle(now: Millis, input: BehaviourInput): void {
    this.#lastNow = Math.max(this.#lastNow, now)
    switch (input.type) {
      case 'local-info':
        this.#localInfo(input.listenAddrs, this.#externalAddrs, input.protocols)
        return
      case 'reachability':
        this.#localInfo(this.#ownListenAddrs, input.externalAddrs, this.#localProtocols)
        return
      case 'connection-established': {
        const c = input.connection
        this.#conns.set(c.id, { info: c, identified: false, changedMeanwhile: false, supportsPush: false, push: 'idle', pushReaders: 0 })
        this.#open(c, false)
        return
      }
      case 'connection-closed': {
        const id = input.connection.id
        this.#conns.delete(id)
        for (const [key, r] of this.#readers) if (r.connection === id) this.#readers.delete(key)
        for (const [rid, p] of this.#pending) if (p.connection === id) this.#pending.delete(rid)
        return
      }
      case 'stream-opened':
        this.#streamOpened(now, input.stream, input.protocol, input.direction, input.connection, input.requestId)
        return
      case 'stream-open-failed': {
        const p = this.#pending.get(input.requestId)
        if (p === undefined) return
        this.#pending.delete(input.requestId)
        const conn = this.#conns.get(p.connection)
        if (conn === undefined) return
        if (p.push) this.#pushWritten(conn)
        else this.#failed(conn, false, input.error)
        return
      }
      case 'stream-data': {
        const r = this.#readers.get(streamKey(input.stream))
        if (r === undefined) return // e.g. bytes on a stream we only answer: ignored, never buffered
        r.buf.push(input.data)
        const head = r.buf.peek(Math.min(r.buf.length, 9))
        if (r.buf.length > this.#limits.maxMessageSize || announcesTooLarge(head, this.#limits.maxMessageSize)) {
          this.#readerFailed(r, new ProtocolError<IdentifyErrorCode>('identify', 'identify/message-too-large', `more than ${this.#limits.maxMessageSize} bytes`))
        }
        return
      }
      case 'stream-eof': {
        const r = this.#readers.get(streamKey(input.stream))
        if (r !== undefined) this.#receive(r)
        return
      }
      case 'stream-reset':
      case 'stream-closed': {
        const r = this.#readers.get(streamKey(input.stream))
        if (r !== undefined) this.#readerFailed(r, new OutcomeError<IdentifyOutcomeCode>('identify/stream-reset', 'stream ended before EOF'), false)
        return
      }
      default:
        return
    }
  }

  handleTimeout(now: Millis): void {
    this.#lastNow = Math.max(this.#lastNow, now)
    for (const r of [...this.#readers.values()]) {
      if (r.deadline <= now) this.#readerFailed(r, new OutcomeError<IdentifyOutcomeCode>('identify/timeout', `no complete message within ${this.#timeout} ms`))
    }
    for (const [rid, p] of [...this.#pending]) {
      if (p.deadline > now) continue
      this.#pending.delete(rid) // a late stream-opened for it is reset
      const conn = this.#conns.get(p.connection)
      if (conn === undefined) continue
      if (p.push) this.#pushWritten(conn)
      else this.#failed(conn, false, new OutcomeError<IdentifyOutcomeCode>('identify/timeout', 'identify stream not opened in time'))
    }
  }

  pollAction(): BehaviourAction<IdentifyEvent> | undefined {
    return this.#actions.shift()
  }

  pollTimeout(): Millis | undefined {
    let min: Millis | undefined
    for (const r of this.#readers.values()) if (min === undefined || r.deadline < min) min = r.deadline
    for (const p of this.#pending.values()) if (min === undefined || p.deadline < min) min = p.deadline
    return min
  }

  // --- our side -------------------------------------------------------------------------------

  #localInfo(listen: readonly Multiaddr[], external: readonly Multiaddr[], protocols: readonly string[]): void {
    this.#ownListenAddrs = [...listen]
    this.#externalAddrs = [...external]
    const addrs = [...listen]
    for (const a of external) if (!addrs.some((x) => equals(x.bytes, a.bytes))) addrs.push(a)
    const addrsChanged = !sameList(addrs, this.#listenAddrs, (a, b) => equals(a.bytes, b.bytes))
    const protocolsChanged = !sameList(protocols, this.#localProtocols, (a, b) => a === b)
    if (!addrsChanged && !protocolsChanged) return
    this.#listenAddrs = [...addrs]
    this.#localProtocols = [...protocols]
    if (addrsChanged) {
      this.#addrChanges++
      this.#record = undefined
    }
    for (const conn of this.#conns.values()) {
      if (!conn.identified) conn.changedMeanwhile = true
      if (!conn.supportsPush) continue
      if (conn.push === 'idle') this.#pushTo(conn)
      else conn.push = 'opening-dirty'
    }
  }

  #pushTo(conn: Conn): void {
    conn.push = 'opening'
    this.#open(conn.info, true)
  }

  /** A push was written (or could not be): send again if something changed meanwhile. */
  #pushWritten(conn: Conn): void {
    const dirty = conn.push === 'opening-dirty'
    conn.push = 'idle'
    if (dirty) this.#pushTo(conn)
  }

  #open(c: ConnectionInfo, push: boolean): void {
    const requestId = this.#nextId++
    this.#pending.set(requestId, { push, connection: c.id, deadline: this.#lastNow + this.#timeout })
    this.#actions.push({ type: 'open-stream', requestId, peer: c.peer, protocols: [push ? IDENTIFY_PUSH_PROTOCOL : IDENTIFY_PROTOCOL], connection: c.id, allowLimited: true })
  }

  #streamOpened(now: Millis, stream: StreamRef, protocol: string, direction: 'inbound' | 'outbound', c: ConnectionInfo, requestId: number | undefined): void {
    const conn = this.#conns.get(c.id)
    if (direction === 'outbound') {
      const p = requestId === undefined ? undefined : this.#pending.get(requestId)
      if (p === undefined || conn === undefined) {
        this.#actions.push({ type: 'reset', stream })
        return
      }
      this.#pending.delete(requestId!)
      if (p.push) {
        this.#send(stream, conn.info, true)
        this.#pushWritten(conn)
      } else {
        // We ask; the remote answers. Nothing to write: close our side at once.
        this.#actions.push({ type: 'close-write', stream })
        this.#readers.set(streamKey(stream), { push: false, connection: c.id, stream, buf: new ReadBuffer(), deadline: now + this.#timeout })
      }
      return
    }
    if (conn === undefined) {
      this.#actions.push({ type: 'reset', stream })
      return
    }
    if (protocol === IDENTIFY_PROTOCOL) {
      this.#send(stream, conn.info, false)
    } else if (protocol === IDENTIFY_PUSH_PROTOCOL) {
      if (conn.pushReaders >= this.#maxPushStreams) {
        this.#actions.push({ type: 'reset', stream })
        this.#failed(conn, true, new ProtocolError<IdentifyErrorCode>('identify', 'identify/too-many-streams', `more than ${this.#maxPushStreams} push streams`))
        return
      }
      conn.pushReaders++
      this.#readers.set(streamKey(stream), { push: true, connection: c.id, stream, buf: new ReadBuffer(), deadline: now + this.#timeout })
    }
  }

  #send(stream: StreamRef, c: ConnectionInfo, push: boolean): void {
    this.#actions.push({ type: 'write', stream, data: encodeLp(encodeIdentify(this.messageFor(c))) })
    this.#actions.push({ type: 'close-write', stream })
    this.#actions.push({ type: 'event', event: { type: 'identify-sent', peer: c.peer, connection: c, push } })
  }

  // --- their side -----------------------------------------------------------------------------

  #dropReader(r: Reader): void {
    this.#readers.delete(streamKey(r.stream))
    if (r.push) {
      const conn = this.#conns.get(r.connection)
      if (conn !== undefined) conn.pushReaders--
    }
  }

  #readerFailed(r: Reader, error: Error, reset = true): void {
    this.#dropReader(r)
    if (reset) this.#actions.push({ type: 'reset', stream: r.stream })
    const conn = this.#conns.get(r.connection)
    if (conn !== undefined) this.#failed(conn, r.push, error)
  }

  #failed(conn: Conn, push: boolean, error: Error): void {
    this.#actions.push({ type: 'event', event: { type: 'identify-failed', peer: conn.info.peer, connection: conn.info, push, error } })
  }

  #receive(r: Reader): void {
    const conn = this.#conns.get(r.connection)
    if (conn === undefined) {
      this.#dropReader(r)
      return
    }
    let info: IdentifyInfo
    try {
      info = this.#parse(decodeIdentifyStream(r.buf.readAll(), this.#limits), conn.info)
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e
      this.#readerFailed(r, e)
      return
    }
    this.#dropReader(r)
    if (info.protocols.length > 0 || !r.push) conn.supportsPush = info.protocols.includes(IDENTIFY_PUSH_PROTOCOL)
    if (!r.push && !conn.identified) {
      conn.identified = true
      if (conn.changedMeanwhile && conn.supportsPush && conn.push === 'idle') this.#pushTo(conn)
    }

    const update: PeerInfoUpdate = { publicKey: info.publicKey }
    const addrs = info.signedPeerRecord?.addrs ?? info.listenAddrs
    // a replayed older record must not roll the addresses back, nor may the unsigned listenAddrs beside it
    const stale = info.signedPeerRecordError === STALE_PEER_RECORD
    if (!stale && (!r.push || addrs.length > 0)) update.addrs = addrs
    const spr = info.signedPeerRecord
    if (spr !== undefined) update.signedPeerRecord = { seq: spr.seq, envelope: spr.envelope }
    if (!r.push || info.protocols.length > 0) update.protocols = info.protocols
    if (info.agentVersion !== undefined) update.agentVersion = info.agentVersion
    if (info.protocolVersion !== undefined) update.protocolVersion = info.protocolVersion
    const peer = conn.info.peer
    this.#actions.push({ type: 'peer-info', peer, info: update })
    // the swarm passes it on to every behaviour (AutoNAT and DCUtR candidates), except from limited connections
    if (info.observedAddr !== undefined) this.#actions.push({ type: 'observed-addr', connection: conn.info, addr: info.observedAddr })
    this.#actions.push({ type: 'event', event: { type: r.push ? 'identify-push' : 'identified', peer, connection: conn.info, info } })
  }

  /** Steps 2 and 3 of the header. Throws ProtocolError. */
  /** Remember `seq` as the peer's highest unless an earlier record had a higher one (then false). */
  #freshRecord(peer: string, seq: bigint): boolean {
    const highest = this.#recordSeqs.get(peer)
    if (highest !== undefined && seq < highest) return false
    this.#recordSeqs.delete(peer)
    this.#recordSeqs.set(peer, seq)
    if (this.#recordSeqs.size > this.#maxRecordSeqs) this.#recordSeqs.delete(this.#recordSeqs.keys().next().value!)
    return true
  }

  #parse(msg: IdentifyMessage, c: ConnectionInfo): IdentifyInfo {
    let publicKey = c.remotePublicKey
    if (msg.publicKey !== undefined) {
      try {
        publicKey = publicKeyFromProtobuf(msg.publicKey)
      } catch (e) {
        throw new ProtocolError<IdentifyErrorCode>('identify', 'identify/invalid-public-key', e instanceof Error ? e.message : String(e), { cause: e })
      }
      if (!publicKey.toPeerId(this.#crypto).equals(c.peer)) {
        throw new ProtocolError<IdentifyErrorCode>('identify', 'identify/public-key-mismatch', `the message's key is not ${c.peer.toString()}'s`)
      }
    }
    const info: IdentifyInfo = {
      publicKey,
      listenAddrs: parseAddrs(msg.listenAddrs),
      protocols: msg.protocols,
      signedPeerRecordValid: false,
    }
    if (msg.protocolVersion !== undefined) info.protocolVersion = msg.protocolVersion
    if (msg.agentVersion !== undefined) info.agentVersion = msg.agentVersion
    if (msg.observedAddr !== undefined) {
      const observed = parseAddrs([msg.observedAddr])[0]
      if (observed !== undefined) info.observedAddr = observed
    }
    if (msg.signedPeerRecord !== undefined) {
      try {
        const { record } = openPeerRecord(msg.signedPeerRecord, this.#crypto, { maxSize: this.#limits.maxSignedRecordSize })
        if (!record.peerId.equals(c.peer)) info.signedPeerRecordError = `the record names ${record.peerId.toString()}`
        else if (record.addrs.length > this.#limits.maxAddrs || record.addrs.reduce((n, a) => n + a.bytes.length, 0) > this.#limits.maxAddrBytes) info.signedPeerRecordError = 'identify/too-many-addrs'
        else if (!this.#freshRecord(c.peer.toString(), record.seq)) info.signedPeerRecordError = STALE_PEER_RECORD
        else {
          info.signedPeerRecord = { seq: record.seq, addrs: [...record.addrs], envelope: msg.signedPeerRecord }
          info.signedPeerRecordValid = true
        }
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e
        // An invalid record is not fatal: listenAddrs stand in for it.
        info.signedPeerRecordError = e.code
      }
    }
    return info
  }
}

/** Parse binary multiaddrs, skipping malformed ones. */
function parseAddrs(list: readonly Uint8Array[]): Multiaddr[] {
  const out: Multiaddr[] = []
  for (const b of list) {
    try {
      out.push(Multiaddr.fromBytes(b))
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e
    }
  }
  return out
}

function sameList<T>(a: readonly T[], b: readonly T[], eq: (x: T, y: T) => boolean): boolean {
  return a.length === b.length && a.every((x, i) => eq(x, b[i]!))
}

function positive(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer`)
  return n
}
