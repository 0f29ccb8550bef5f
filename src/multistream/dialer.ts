/**
 * multistream-select 1.0, the Initiator's side (the *dialer*): a sans-IO ByteMachine.
 *
 * Normal mode (`optimistic: false`, the default)
 *   The dialer sends the header `/multistream/1.0.0` and, in the same flight, its first proposal
 *   (go-multistream's SelectOneOf does the same; it saves a round trip). It then reads the
 *   Responder's header and answers in order: an echo of the proposal means agreement, `na` means
 *   "try the next one". After the last `na` it emits 'failed'. With `awaitHeader: true` the first
 *   proposal waits for the Responder's header instead (the textbook order).
 *
 *   Call order for the driver:
 *     new MultistreamDialer({ protocols })     [optional: ls() before the first pollTransmit]
 *     loop: pollTransmit* ; handleData/handleEof ; pollEvent*
 *     on { type: 'negotiated' }: call takeRemainder() once. Its bytes (whatever the Responder sent
 *     after its echo) and everything read afterwards belong to the next protocol layer; the dialer
 *     is done. wantsData() is false from 'negotiated' on, so a driver stops feeding it.
 *
 * Lazy mode (`optimistic: true`, exactly one protocol: rust-libp2p's `V1Lazy`, go's lazy client)
 *   The header, the proposal and any bytes given to write() before the first pollTransmit leave
 *   together in one flight ("0-RTT"), and 'negotiated' is emitted at once, before the Responder has
 *   confirmed anything. The Responder's header and echo are still on their way, so the dialer stays
 *   in the byte path for its whole life, as a pass-through layer:
 *     outgoing application bytes:  write(data)  -> pollTransmit
 *     incoming application bytes:  handleData   -> { type: 'data' } events (after the header and
 *                                                   the echo have been stripped)
 *     remote end of stream:        handleEof    -> { type: 'eof' }
 *   If the Responder answers `na`, application data has already been sent under a protocol the
 *   Responder refused: that is ProtocolError 'multistream/lazy-rejected'. takeRemainder() and ls()
 *   are not available in lazy mode.
 *
 * pollTimeout() is always undefined: negotiation timeouts are the driver's job.
 */
import { ProtocolError, UsageError } from '../core/errors.js'
import type { ByteMachine, Millis } from '../core/byte-machine.js'
import { ReadBuffer } from '../core/read-buffer.js'
import {
  LS, NA, PROTOCOL_ID, checkMax, checkMaxMessageLength, checkProtocolId, decodeLine, decodeLsBody,
  encodeMessage, fail, readMessage,
} from './wire.js'
import type { MultistreamEvent } from './wire.js'

/** Options of `MultistreamDialer` (multistream-select, the dialer's side). */
export interface DialerOptions {
  /** Protocols to propose, in order of preference. An empty list makes an ls-only dialer (see ls()). */
  protocols: string[]
  /** Lazy negotiation ("V1Lazy"); needs exactly one protocol. Default false. */
  optimistic?: boolean
  /** Wait for the Responder's header before the first proposal. Default false (pipeline them). */
  awaitHeader?: boolean
  /** Largest message accepted, newline included. Default 1024 (go's limit). */
  maxMessageLength?: number
  /** Trace hook (src/trace): each message sent or read, as its line. Undefined: no cost. */
  trace?: ((dir: 'in' | 'out', line: string) => void) | undefined
}

/** A request whose answer is awaited, in the order they were sent (answers come back in order). */
type Request = { kind: 'proposal'; protocol: string } | { kind: 'ls' }

type DialerState =
  /** The Responder's header has not been read yet. */
  | { kind: 'awaiting-header' }
  /** Header read; waiting for answers to the requests in #inFlight (lazy: for the echo). */
  | { kind: 'awaiting-response' }
  /** Normal mode: agreed; the bytes after the echo wait in #input for takeRemainder(). */
  | { kind: 'negotiated'; protocol: string }
  /** Normal mode: takeRemainder() was called; the dialer is finished. */
  | { kind: 'handed-over'; protocol: string }
  /** Normal mode: every proposal was refused. */
  | { kind: 'failed' }
  /** Lazy mode: the echo was consumed; incoming bytes pass straight through as 'data' events. */
  | { kind: 'open' }
  /** Lazy mode: the Responder closed its write side. */
  | { kind: 'remote-closed' }
  /** A ProtocolError was thrown; the dialer accepts no further input. */
  | { kind: 'errored'; error: ProtocolError }

export class MultistreamDialer implements ByteMachine<MultistreamEvent> {
  readonly #protocols: readonly string[]
  readonly #optimistic: boolean
  readonly #awaitHeader: boolean
  readonly #maxMessageLength: number
  readonly #trace: DialerOptions['trace']
  #state: DialerState = { kind: 'awaiting-header' }
  /** Received bytes not yet consumed. Holds at most one partial message before negotiation. */
  readonly #input = new ReadBuffer()
  /** Bytes waiting for pollTransmit. */
  readonly #output = new ReadBuffer()
  readonly #events: MultistreamEvent[] = []
  /** Requests sent and not yet answered. At most one proposal plus the ls() calls before it. */
  readonly #inFlight: Request[] = []
  /** ls() requests not yet written to #output. */
  #pendingLs = 0
  /** Index of the next proposal to send. */
  #next = 0
  #proposalInFlight = false

  constructor(options: DialerOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
    if (!Array.isArray(options.protocols)) throw new TypeError('options.protocols must be an array')
    this.#maxMessageLength = checkMaxMessageLength(options.maxMessageLength)
    // Each echo must fit our own read limit, or we could never read the agreement.
    for (const p of options.protocols) checkProtocolId(p, this.#maxMessageLength - 1)
    this.#protocols = [...options.protocols]
    this.#optimistic = options.optimistic ?? false
    this.#awaitHeader = options.awaitHeader ?? false
    this.#trace = options.trace
    this.#send(PROTOCOL_ID)
    if (this.#optimistic) {
      if (this.#protocols.length !== 1) throw new RangeError('optimistic negotiation needs exactly one protocol')
      if (this.#awaitHeader) throw new RangeError('optimistic and awaitHeader exclude each other')
      const protocol = this.#protocols[0]!
      this.#send(protocol)
      this.#inFlight.push({ kind: 'proposal', protocol })
      this.#next = 1
      this.#proposalInFlight = true
      this.#events.push({ type: 'negotiated', protocol })
    }
  }

  /** The agreed protocol (in lazy mode: the one assumed, from construction on). */
  get protocol(): string | undefined {
    if (this.#optimistic) return this.#protocols[0]
    const s = this.#state
    return s.kind === 'negotiated' || s.kind === 'handed-over' ? s.protocol : undefined
  }

  // ---- commands ----

  /**
   * Ask the Responder for its protocol list; the answer arrives as { type: 'ls' }. The request is
   * sent ahead of the next proposal, so it is only possible while no proposal is in flight: in the
   * default pipelined mode, before the first pollTransmit (or at any time in an ls-only dialer).
   * Note that go-multistream removed `ls` in 2021 and answers it with `na`, which this dialer
   * reports as 'multistream/invalid-ls-response'.
   */
  ls(): void {
    if (this.#optimistic) throw new UsageError('multistream/ls-in-lazy-mode', 'ls() is not available in lazy mode')
    const k = this.#state.kind
    if (k !== 'awaiting-header' && k !== 'awaiting-response') throw new UsageError('multistream/not-negotiating', `ls() in state ${k}`)
    if (this.#proposalInFlight) throw new UsageError('multistream/proposal-in-flight', 'ls() must precede the proposal on the wire')
    this.#pendingLs++
  }

  /**
   * Lazy mode only: application bytes to send. Before the first pollTransmit they share the flight
   * of the header and the proposal. Copies `data`.
   */
  write(data: Uint8Array): void {
    if (!this.#optimistic) throw new UsageError('multistream/not-lazy', 'write() is only for optimistic (lazy) negotiation; use takeRemainder() and the next layer')
    if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array')
    if (this.#state.kind === 'errored') throw new UsageError('multistream/errored', 'write() after a protocol error')
    this.#output.push(data)
  }

  /** Normal mode, after 'negotiated': the bytes that followed the echo (a fresh copy). Call once. */
  takeRemainder(): Uint8Array {
    if (this.#optimistic) throw new UsageError('multistream/lazy-mode', 'takeRemainder() is not available in lazy mode: the dialer stays a pass-through')
    const s = this.#state
    if (s.kind === 'handed-over') throw new UsageError('multistream/remainder-taken', 'takeRemainder() called twice')
    if (s.kind !== 'negotiated') throw new UsageError('multistream/not-negotiated', `takeRemainder() in state ${s.kind}`)
    this.#state = { kind: 'handed-over', protocol: s.protocol }
    return this.#input.readAll().slice()
  }

  // ---- ByteMachine inputs ----

  /** Read during the call only (the ByteMachine input rule): what must wait is copied. */
  handleData(_now: Millis, data: Uint8Array): void {
    const s = this.#state
    switch (s.kind) {
      case 'errored':
        throw new UsageError('multistream/errored', 'handleData after a protocol error')
      case 'handed-over':
        throw new UsageError('multistream/handed-over', 'handleData after takeRemainder(): bytes belong to the next layer')
      case 'remote-closed':
        throw new UsageError('multistream/remote-closed', 'handleData after handleEof')
      case 'failed':
        return // the negotiation is over and these bytes have no reader; dropped, never buffered
      case 'negotiated':
        this.#input.push(data) // held for takeRemainder(); wantsData() is false, so this is bounded by the driver
        return
      case 'open':
        if (data.length > 0) this.#events.push({ type: 'data', data: data.slice() })
        return
      default:
        this.#input.push(data)
        this.#guard(() => this.#process())
    }
  }

  handleEof(_now: Millis): void {
    const k = this.#state.kind
    if (k === 'awaiting-header' || k === 'awaiting-response') {
      this.#guard(() => {
        throw fail('multistream/unexpected-eof', `in state ${k}`)
      })
    }
    if (k === 'open') {
      this.#state = { kind: 'remote-closed' }
      this.#events.push({ type: 'eof' })
    }
    // negotiated / handed-over / failed: the end of stream belongs to the next layer or nobody.
  }

  handleTimeout(_now: Millis): void {}

  wantsData(): boolean {
    const k = this.#state.kind
    return k === 'awaiting-header' || k === 'awaiting-response' || (k === 'open' && this.#events.length === 0)
  }

  // ---- ByteMachine outputs ----

  /** The caller's bytes: fresh, or a view of memory this negotiator never writes again. */
  pollTransmit(max: number): Uint8Array | undefined {
    checkMax(max)
    this.#schedule()
    if (this.#output.length === 0) return undefined
    return this.#output.read(Math.min(max, this.#output.length)).slice()
  }

  pollEvent(): MultistreamEvent | undefined {
    return this.#events.shift()
  }

  pollTimeout(): Millis | undefined {
    return undefined
  }

  // ---- internals ----

  #send(line: string): void {
    this.#trace?.('out', line)
    this.#output.pushOwned(encodeMessage(line))
  }

  /** Normal mode: move due requests (pending ls, then the next proposal) into the output. */
  #schedule(): void {
    if (this.#optimistic) return
    const k = this.#state.kind
    if (k !== 'awaiting-header' && k !== 'awaiting-response') return
    if (this.#awaitHeader && k === 'awaiting-header') return
    for (; this.#pendingLs > 0; this.#pendingLs--) {
      this.#send(LS)
      this.#inFlight.push({ kind: 'ls' })
    }
    // One proposal at a time: if it is accepted, whatever follows it on the wire is application data.
    if (!this.#proposalInFlight && this.#next < this.#protocols.length) {
      const protocol = this.#protocols[this.#next++]!
      this.#send(protocol)
      this.#inFlight.push({ kind: 'proposal', protocol })
      this.#proposalInFlight = true
    }
  }

  #guard(f: () => void): void {
    try {
      f()
    } catch (e) {
      if (e instanceof ProtocolError) this.#state = { kind: 'errored', error: e }
      throw e
    }
  }

  /** Consume whole messages from #input while the negotiation is in progress. */
  #process(): void {
    for (;;) {
      const k = this.#state.kind
      if (k !== 'awaiting-header' && k !== 'awaiting-response') return
      const body = readMessage(this.#input, this.#maxMessageLength)
      if (body === undefined) return
      if (k === 'awaiting-header') {
        const line = decodeLine(body)
        this.#trace?.('in', line)
        if (line !== PROTOCOL_ID) throw fail('multistream/bad-header')
        this.#state = { kind: 'awaiting-response' }
        continue
      }
      const request = this.#inFlight.shift()
      if (request === undefined) throw fail('multistream/unexpected-message', 'message with no request outstanding')
      if (request.kind === 'ls') {
        const protocols = decodeLsBody(body)
        this.#trace?.('in', protocols.join(' '))
        this.#events.push({ type: 'ls', protocols })
        continue
      }
      this.#answer(request.protocol, decodeLine(body))
    }
  }

  /** The Responder's answer to a proposal: its echo or `na`. */
  #answer(protocol: string, line: string): void {
    this.#trace?.('in', line)
    this.#proposalInFlight = false
    if (line === protocol) {
      if (this.#optimistic) {
        this.#state = { kind: 'open' }
        if (this.#input.length > 0) this.#events.push({ type: 'data', data: this.#input.readAll().slice() })
        return
      }
      this.#state = { kind: 'negotiated', protocol }
      this.#events.push({ type: 'negotiated', protocol })
      return
    }
    if (line === NA) {
      if (this.#optimistic) throw fail('multistream/lazy-rejected', `${protocol} refused after data was sent`)
      if (this.#next >= this.#protocols.length) {
        this.#state = { kind: 'failed' }
        this.#events.push({ type: 'failed' })
        this.#input.readAll() // nothing more will be read
      }
      return
    }
    throw fail('multistream/unexpected-message', `expected echo of ${protocol} or na`)
  }
}
