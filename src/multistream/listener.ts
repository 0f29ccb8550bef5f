/**
 * multistream-select 1.0, the Responder's side (the *listener*): a sans-IO ByteMachine.
 *
 * The listener sends its header `/multistream/1.0.0` at once, without waiting for the Initiator's
 * (go-multistream's Negotiate does the same; the spec lets both sides send the header
 * simultaneously). It then reads the Initiator's header and answers each message in order:
 * - a supported protocol id: echo it, emit 'negotiated' and stop reading;
 * - an unsupported one: `na`;
 * - `ls`: the protocol list (one message of length-prefixed lines, see wire.ts).
 *
 * Call order for the driver:
 *   new MultistreamListener({ protocols })
 *   loop: pollTransmit* ; handleData/handleEof ; pollEvent*
 *   on { type: 'negotiated' }: drain pollTransmit (the echo), then call takeRemainder() once. Its
 *   bytes are what the Initiator sent after its proposal (e.g. a lazy dialer's first application
 *   data); they and everything read afterwards belong to the next protocol layer. wantsData() is
 *   false from 'negotiated' on.
 *
 * pollTimeout() is always undefined: negotiation timeouts are the driver's job.
 */
import { ProtocolError, UsageError } from '../core/errors.js'
import type { ByteMachine, Millis } from '../core/byte-machine.js'
import { ReadBuffer } from '../core/read-buffer.js'
import {
  LS, NA, PROTOCOL_ID, checkMax, checkMaxMessageLength, checkProtocolId, decodeLine, encodeLsBody,
  encodeMessage, fail, readMessage,
} from './wire.js'
import type { MultistreamEvent } from './wire.js'

/** Options of `MultistreamListener` (multistream-select, the listener's side). */
export interface ListenerOptions {
  /** Supported protocols: a list (exact match) or a predicate over the proposed id. */
  protocols: string[] | ((protocol: string) => boolean)
  /** Answer to `ls`. Default: the `protocols` list, or an empty list when `protocols` is a predicate. */
  list?: () => string[]
  /** Largest message accepted, newline included. Default 1024 (go's limit). */
  maxMessageLength?: number
  /** Most proposals (and `ls` requests) answered before giving up. Default 32. */
  maxProposals?: number
  /** Trace hook (src/trace): each message read or sent, as its line. Undefined: no cost. */
  trace?: ((dir: 'in' | 'out', line: string) => void) | undefined
}

/**
 * Default for maxProposals. Every refused proposal costs us a reply; without a cap a remote could
 * keep the listener busy (and the stream open) forever by proposing protocols we do not speak.
 */
export const DEFAULT_MAX_PROPOSALS = 32

type ListenerState =
  /** The Initiator's header has not been read yet. */
  | { kind: 'awaiting-header' }
  /** Header read; `answered` proposals and ls requests so far. */
  | { kind: 'awaiting-proposal'; answered: number }
  /** Agreed; the bytes after the proposal wait in #input for takeRemainder(). */
  | { kind: 'negotiated'; protocol: string }
  /** takeRemainder() was called; the listener is finished. */
  | { kind: 'handed-over'; protocol: string }
  /** A ProtocolError was thrown; the listener accepts no further input. */
  | { kind: 'errored'; error: ProtocolError }

/**
 * The listener's side of multistream-select 1.0 (libp2p specs connections/README.md "Protocol
 * Negotiation"): answers the header, then each proposal with the same protocol id (accepted) or `na`,
 * and `ls` with the list of supported protocols. Lines are length-prefixed and end with `\n`. A
 * malformed or oversized line fails with `ProtocolError('multistream', code)`.
 */
export class MultistreamListener implements ByteMachine<MultistreamEvent> {
  readonly #supports: (protocol: string) => boolean
  readonly #list: () => string[]
  readonly #maxMessageLength: number
  readonly #maxProposals: number
  readonly #trace: ListenerOptions['trace']
  #state: ListenerState = { kind: 'awaiting-header' }
  /** Received bytes not yet consumed: at most one partial message while negotiating. */
  readonly #input = new ReadBuffer()
  /** Bytes waiting for pollTransmit; bounded by maxProposals replies. */
  readonly #output = new ReadBuffer()
  readonly #events: MultistreamEvent[] = []

  constructor(options: ListenerOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
    const { protocols } = options
    if (Array.isArray(protocols)) {
      for (const p of protocols) checkProtocolId(p)
      const set = new Set(protocols)
      const list = [...protocols]
      this.#supports = (p) => set.has(p)
      this.#list = options.list ?? (() => list)
    } else if (typeof protocols === 'function') {
      this.#supports = protocols
      this.#list = options.list ?? (() => [])
    } else {
      throw new TypeError('options.protocols must be an array or a function')
    }
    if (options.list !== undefined && typeof options.list !== 'function') throw new TypeError('options.list must be a function')
    this.#maxMessageLength = checkMaxMessageLength(options.maxMessageLength)
    const maxProposals = options.maxProposals ?? DEFAULT_MAX_PROPOSALS
    if (!Number.isSafeInteger(maxProposals) || maxProposals < 1) throw new RangeError('maxProposals must be a positive integer')
    this.#maxProposals = maxProposals
    this.#trace = options.trace
    this.#send(PROTOCOL_ID)
  }

  /** The agreed protocol, once 'negotiated' has been emitted. */
  get protocol(): string | undefined {
    const s = this.#state
    return s.kind === 'negotiated' || s.kind === 'handed-over' ? s.protocol : undefined
  }

  /** After 'negotiated': the bytes that followed the accepted proposal (a fresh copy). Call once. */
  takeRemainder(): Uint8Array {
    const s = this.#state
    if (s.kind === 'handed-over') throw new UsageError('multistream/remainder-taken', 'takeRemainder() called twice')
    if (s.kind !== 'negotiated') throw new UsageError('multistream/not-negotiated', `takeRemainder() in state ${s.kind}`)
    this.#state = { kind: 'handed-over', protocol: s.protocol }
    return this.#input.readAll().slice()
  }

  // ---- ByteMachine inputs ----

  /** Read during the call only (the ByteMachine input rule): what must wait is copied. */
  handleData(_now: Millis, data: Uint8Array): void {
    switch (this.#state.kind) {
      case 'errored':
        throw new UsageError('multistream/errored', 'handleData after a protocol error')
      case 'handed-over':
        throw new UsageError('multistream/handed-over', 'handleData after takeRemainder(): bytes belong to the next layer')
      case 'negotiated':
        this.#input.push(data) // held for takeRemainder(); wantsData() is false, so this is bounded by the driver
        return
      default:
        this.#input.push(data)
        this.#guard(() => this.#process())
    }
  }

  handleEof(_now: Millis): void {
    const k = this.#state.kind
    if (k === 'awaiting-header' || k === 'awaiting-proposal') {
      this.#guard(() => {
        throw fail('multistream/unexpected-eof', `in state ${k}`)
      })
    }
    // negotiated / handed-over: the end of stream belongs to the next layer.
  }

  handleTimeout(_now: Millis): void {}

  wantsData(): boolean {
    const k = this.#state.kind
    return k === 'awaiting-header' || k === 'awaiting-proposal'
  }

  // ---- ByteMachine outputs ----

  /** The caller's bytes: fresh, or a view of memory this negotiator never writes again. */
  pollTransmit(max: number): Uint8Array | undefined {
    checkMax(max)
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

  #guard(f: () => void): void {
    try {
      f()
    } catch (e) {
      if (e instanceof ProtocolError) this.#state = { kind: 'errored', error: e }
      throw e
    }
  }

  #send(line: string): void {
    this.#trace?.('out', line)
    this.#output.pushOwned(encodeMessage(line))
  }

  /** Consume whole messages from #input until agreement (or until more bytes are needed). */
  #process(): void {
    for (;;) {
      const s = this.#state
      if (s.kind !== 'awaiting-header' && s.kind !== 'awaiting-proposal') return
      const body = readMessage(this.#input, this.#maxMessageLength)
      if (body === undefined) return
      const line = decodeLine(body)
      this.#trace?.('in', line)
      if (s.kind === 'awaiting-header') {
        if (line !== PROTOCOL_ID) throw fail('multistream/bad-header')
        this.#state = { kind: 'awaiting-proposal', answered: 0 }
        continue
      }
      if (s.answered >= this.#maxProposals) throw fail('multistream/too-many-proposals', `more than ${this.#maxProposals}`)
      s.answered++
      if (line === LS) {
        const list = this.#list()
        for (const p of list) checkProtocolId(p) // local input: TypeError / RangeError
        this.#trace?.('out', list.join(' '))
        this.#output.pushOwned(encodeMessage(encodeLsBody(list)))
        continue
      }
      if (line.length === 0) throw fail('multistream/empty-protocol')
      if (line === NA || line === PROTOCOL_ID || line.includes('\n')) {
        throw fail('multistream/unexpected-message', 'not a protocol id')
      }
      if (this.#supports(line)) {
        this.#send(line)
        this.#state = { kind: 'negotiated', protocol: line }
        this.#events.push({ type: 'negotiated', protocol: line })
        return
      }
      this.#send(NA)
    }
  }
}
