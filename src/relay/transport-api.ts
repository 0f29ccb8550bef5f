/**
 * The circuit transport (`name: 'circuit'`): relayed connections as an ordinary transport of the
 * runtime (spec/relay.md "Relay client").
 *
 * Dial `<relay addr>/p2p/<relay>/p2p-circuit/p2p/<target>`: open a hop stream to the relay through
 * the node (its direct connection, dialed if needed), write `CONNECT {peer: target}`, read the
 * `STATUS`. OK: the stream becomes the connection's transport (StreamRawConnection) and the runtime
 * upgrades it like a TCP socket, as the initiator. Another status: `RelayStatusError`
 * (`relay/no-reservation`, ...), which the dial keeps in its attempts.
 *
 * Listen on `<relay addr>/p2p/<relay>/p2p-circuit`: reserve on that relay (the reservation manager,
 * src/relay/client.ts) and accept the circuits it brings; `/p2p-circuit` alone accepts circuits from
 * any relay we reserved on (`circuitRelayClient({ relays })`). The stop handler reads the relay's
 * `CONNECT {peer: initiator}`, answers `STATUS OK` when a listener takes circuits from that relay
 * (`CONNECTION_FAILED` otherwise), and hands the stream to the runtime as an inbound connection
 * whose remote address is `<relay addr>/p2p/<relay>/p2p-circuit/p2p/<initiator>`: a limited
 * connection (ConnectionInfo.limited).
 *
 * Timeouts run on the reservation manager's clock (armDeadline, via `deps.arm`), not on timers.
 */
import { OutcomeError, ProtocolError, UsageError } from '../core/errors.js'
import { CODE, type Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'
import type { ConnectionInfo } from '../swarm/index.js'
import { parseRelayAddr, RelayStatusError } from './client.js'
import { HOP_PROTOCOL, HopType, RelayFrameDecoder, Status, StopType, encodeHopFrame, encodeStopFrame } from './message.js'
import type { HopMessage, RelayMessageLimits, StopMessage } from './message.js'
import { StreamRawConnection, type ByteStream, type RawConnectionLike } from './stream-conn-api.js'

/** A negotiated stream of the node (WeftStream has this shape). */
export interface CircuitStream extends ByteStream {
  readonly source: AsyncIterable<Uint8Array>
  readonly connection: ConnectionInfo
}

/** What the transport needs of the node (WeftNode has this shape). */
export interface CircuitNode {
  readonly peerId: PeerId
  newStream(target: Multiaddr | PeerId, protocols: string | string[], options?: { signal?: AbortSignal }): Promise<CircuitStream>
}

/** The Transport contract of src/io/transport.ts (structural copy). */
export interface TransportListenerLike {
  readonly addrs: readonly Multiaddr[]
  close(): Promise<void>
}

export interface CircuitTransportDeps {
  node(): CircuitNode | undefined
  /** Call `onExpire` after `ms` unless the returned function is called first. */
  arm(ms: number, onExpire: () => void): () => void
  /** Keep a reservation on this relay (a listen address); returns the relay. */
  addRelay(addr: Multiaddr): PeerId
  removeRelay(relay: PeerId): void
  /** True when we hold a reservation on `relay` (configured through `relays`). */
  reserved(relay: PeerId): boolean
  /** ms for the relay's stop message, from the stream's opening. */
  stopTimeout: number
  /** ms for a dial when the runtime gives none. */
  dialTimeout: number
  messages: Partial<RelayMessageLimits>
}

interface Listener {
  /** The relay whose circuits it takes; undefined: any relay we reserved on. */
  readonly relay: string | undefined
  readonly onConnection: (conn: RawConnectionLike) => void
}

const hasCircuit = (a: Multiaddr): boolean => a.components().some((c) => c.code === CODE.p2pCircuit)

/** Split `<relay>/p2p-circuit/p2p/<target>`. */
export function parseCircuitAddr(addr: Multiaddr): { relay: PeerId | undefined; relayAddr: Multiaddr; target: PeerId } {
  const comps = addr.components()
  const last = comps[comps.length - 1]
  if (!hasCircuit(addr) || last?.code !== CODE.p2p || comps[comps.length - 2]?.code !== CODE.p2pCircuit) {
    throw new UsageError('relay/bad-circuit-addr', `${addr.toString()}: a circuit address ends in /p2p-circuit/p2p/<target>`)
  }
  const relayAddr = addr.decapsulateCode(CODE.p2pCircuit)
  if (hasCircuit(relayAddr)) throw new UsageError('relay/bad-circuit-addr', `${addr.toString()}: nested circuits are not supported`)
  const rid = relayAddr.getPeerId()
  const target = PeerId.parse(addr.getPeerId()!)
  return { relay: rid === undefined ? undefined : PeerId.parse(rid), relayAddr, target }
}

async function readMessage<M extends HopMessage | StopMessage>(it: AsyncIterator<Uint8Array>, dec: RelayFrameDecoder<M>): Promise<M> {
  for (;;) {
    const m = dec.next()
    if (m !== undefined) return m
    const r = await it.next()
    if (r.done === true) throw new ProtocolError('relay', 'relay/closed-early', 'the stream ended before a whole message')
    dec.push(r.value)
  }
}

/**
 * The `/p2p-circuit` transport of the relay client: a dial opens a hop CONNECT through the relay, a
 * listen reserves on it; each circuit is a limited raw connection the node upgrades as usual.
 */
export class CircuitTransport {
  readonly name = 'circuit'
  readonly #deps: CircuitTransportDeps
  readonly #listeners: Listener[] = []

  constructor(deps: CircuitTransportDeps) {
    this.#deps = deps
  }

  /** True for a `<relay>/p2p-circuit/p2p/<peer>` address. */
  canDial(addr: Multiaddr): boolean {
    try {
      parseCircuitAddr(addr)
      return true
    } catch {
      return false
    }
  }

  /** `<relay>/p2p/<relay id>/p2p-circuit` (reserve there), or `/p2p-circuit` (circuits from any relay we reserved on). */
  canListen(addr: Multiaddr): boolean {
    const comps = addr.components()
    if (comps[comps.length - 1]?.code !== CODE.p2pCircuit) return false
    if (comps.length === 1) return true
    try {
      parseRelayAddr(addr)
      return true
    } catch {
      return false
    }
  }

  /**
   * Open a circuit through the relay to the target peer; rejects with `OutcomeError` when the relay refuses (its status) or times out.
   */
  async dial(addr: Multiaddr, options: { signal?: AbortSignal | undefined; timeout?: number | undefined } = {}): Promise<RawConnectionLike> {
    const { relay, relayAddr, target } = parseCircuitAddr(addr)
    const node = this.#deps.node()
    if (node === undefined) throw new UsageError('relay/not-attached', 'the circuit transport has no node')
    if (target.equals(node.peerId)) throw new UsageError('relay/dial-self', 'cannot dial ourselves through a relay')
    if (relay?.equals(node.peerId) === true) throw new UsageError('relay/dial-self', 'we are not our own relay')
    const ac = new AbortController()
    const outer = options.signal
    const onAbort = (): void => ac.abort()
    outer?.addEventListener('abort', onAbort, { once: true })
    if (outer?.aborted === true) ac.abort()
    let timedOut = false
    const timeout = options.timeout ?? this.#deps.dialTimeout
    const cancel = this.#deps.arm(timeout, () => {
      timedOut = true
      ac.abort()
    })
    let stream: CircuitStream | undefined
    try {
      const relayTarget = relayAddr.withoutPeerId().components().length === 0 && relay !== undefined ? relay : relayAddr
      stream = await node.newStream(relayTarget, HOP_PROTOCOL, { signal: ac.signal })
      const s = stream
      if (ac.signal.aborted) throw new Error('aborted')
      ac.signal.addEventListener('abort', () => s.reset(), { once: true })
      const it = s.source[Symbol.asyncIterator]()
      await s.write(encodeHopFrame({ type: HopType.CONNECT, peer: { id: target, addrs: [] } }))
      const dec = RelayFrameDecoder.hop(this.#deps.messages)
      const msg = await readMessage(it, dec)
      if (msg.type !== HopType.STATUS) throw new ProtocolError('relay', 'relay/unexpected-message', `expected STATUS, got hop type ${msg.type}`)
      if (msg.status !== Status.OK) throw new RelayStatusError(msg.status!, `connect to ${target.toString()} through ${relay?.toString() ?? relayAddr.toString()}`)
      return new StreamRawConnection(s, it, dec.takeRemainder(), addr, undefined)
    } catch (e) {
      stream?.reset()
      if (timedOut) throw new OutcomeError('relay/connect-timeout', `no relayed connection within ${timeout} ms`, { cause: e })
      if (ac.signal.aborted) throw new OutcomeError('relay/aborted', 'the relayed dial was aborted', { cause: e })
      throw e
    } finally {
      cancel()
      outer?.removeEventListener('abort', onAbort)
    }
  }

  /**
   * Reserve on the relay named by `addr` (`<relay>/p2p-circuit`) and deliver inbound circuits. Throws `UsageError('relay/bad-listen-addr')` for another shape.
   */
  async listen(addr: Multiaddr, onConnection: (conn: RawConnectionLike) => void): Promise<TransportListenerLike> {
    if (!this.canListen(addr)) throw new UsageError('relay/bad-listen-addr', `${addr.toString()}: listen on <relay addr>/p2p/<relay id>/p2p-circuit or /p2p-circuit`)
    const relay = addr.components().length === 1 ? undefined : this.#deps.addRelay(addr)
    const l: Listener = { relay: relay?.toString(), onConnection }
    this.#listeners.push(l)
    let closed = false
    return {
      addrs: [],
      close: async () => {
        if (closed) return
        closed = true
        const i = this.#listeners.indexOf(l)
        if (i >= 0) this.#listeners.splice(i, 1)
        if (relay !== undefined) this.#deps.removeRelay(relay)
      },
    }
  }

  /** The listener for circuits from `relay`: its own, else a `/p2p-circuit` one when we reserved there. */
  #listenerFor(relay: PeerId): Listener | undefined {
    const key = relay.toString()
    return this.#listeners.find((l) => l.relay === key) ?? (this.#deps.reserved(relay) ? this.#listeners.find((l) => l.relay === undefined) : undefined)
  }

  /** The stop protocol's handler: never throws (a failure resets the stream). */
  async handleStop(stream: CircuitStream): Promise<void> {
    const cancel = this.#deps.arm(this.#deps.stopTimeout, () => stream.reset())
    try {
      const it = stream.source[Symbol.asyncIterator]()
      const dec = RelayFrameDecoder.stop(this.#deps.messages)
      let msg: StopMessage
      try {
        msg = await readMessage(it, dec)
      } catch (e) {
        if (e instanceof ProtocolError) await this.#refuse(stream, Status.MALFORMED_MESSAGE)
        else stream.reset()
        return
      }
      if (msg.type !== StopType.CONNECT) return await this.#refuse(stream, Status.UNEXPECTED_MESSAGE)
      const relay = stream.connection.peer
      const listener = stream.connection.limited ? undefined : this.#listenerFor(relay)
      if (listener === undefined) return await this.#refuse(stream, Status.CONNECTION_FAILED)
      await stream.write(encodeStopFrame({ type: StopType.STATUS, status: Status.OK }))
      cancel()
      const local = stream.connection.remoteAddr.withoutPeerId().encapsulate(`/p2p/${relay.toString()}/p2p-circuit`)
      const remote = local.encapsulate(`/p2p/${msg.peer!.id.toString()}`)
      listener.onConnection(new StreamRawConnection(stream, it, dec.takeRemainder(), remote, local))
    } catch {
      stream.reset()
    } finally {
      cancel()
    }
  }

  async #refuse(stream: CircuitStream, status: number): Promise<void> {
    await stream.write(encodeStopFrame({ type: StopType.STATUS, status }))
    stream.closeWrite()
  }
}

