/**
 * Connection ids (RFC 9000 §5.1): the ids we issue to the peer (NEW_CONNECTION_ID, RETIRE_CONNECTION_ID
 * from the peer) and the ids the peer issued to us (the Destination Connection ID we send to, retire_prior_to,
 * rotation). Both bounded by limits.
 */
import { quicError } from '../errors.js'
import type { Frame } from '../types.js'

type NewCidFrame = Extract<Frame, { type: 'new_connection_id' }>

export interface IssuedCid {
  readonly cid: Uint8Array
  readonly token: Uint8Array
  readonly sequenceNumber: number
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The ids we issued and the peer may use; `onIssued` / `onRetired` tell the endpoint. */
export class LocalCids {
  readonly #active = new Map<number, IssuedCid>()
  #nextSeq = 1
  #limit = 0
  readonly #pending: number[] = []
  readonly #make: (seq: number) => IssuedCid

  constructor(initial: Uint8Array, initialToken: Uint8Array, make: (seq: number) => IssuedCid) {
    this.#active.set(0, { cid: initial, token: initialToken, sequenceNumber: 0 })
    this.#make = make
  }

  /** How many ids we keep issued (min of the peer's active_connection_id_limit and ours); issues new ones up to it. */
  setLimit(limit: number): IssuedCid[] {
    this.#limit = limit
    return this.#fill()
  }

  #fill(): IssuedCid[] {
    const out: IssuedCid[] = []
    while (this.#active.size < this.#limit) {
      const issued = this.#make(this.#nextSeq++)
      this.#active.set(issued.sequenceNumber, issued)
      this.#pending.push(issued.sequenceNumber)
      out.push(issued)
    }
    return out
  }

  /** The peer's RETIRE_CONNECTION_ID: returns the retired id and the ones issued to replace it. */
  onRetire(seq: number, packetDcid: Uint8Array): { retired: IssuedCid | undefined, issued: IssuedCid[] } {
    if (seq >= this.#nextSeq) throw quicError('PROTOCOL_VIOLATION', `RETIRE_CONNECTION_ID of ${seq}, never issued`, 0x19)
    const c = this.#active.get(seq)
    if (c === undefined) return { retired: undefined, issued: [] }
    if (equal(c.cid, packetDcid)) throw quicError('PROTOCOL_VIOLATION', 'RETIRE_CONNECTION_ID of the id the packet was sent to', 0x19)
    this.#active.delete(seq)
    return { retired: c, issued: this.#fill() }
  }

  /** The next NEW_CONNECTION_ID frame to send, if it fits `room`. */
  poll(room: number): NewCidFrame | undefined {
    while (this.#pending.length > 0) {
      const c = this.#active.get(this.#pending[0]!)
      if (c === undefined) { this.#pending.shift(); continue }
      const f: NewCidFrame = { type: 'new_connection_id', sequenceNumber: c.sequenceNumber, retirePriorTo: 0, connectionId: c.cid, statelessResetToken: c.token }
      if (room < 3 + 8 + c.cid.length + 16) return undefined
      this.#pending.shift()
      return f
    }
    return undefined
  }

  get hasPending(): boolean {
    return this.#pending.length > 0
  }

  onLost(f: NewCidFrame): void {
    if (this.#active.has(f.sequenceNumber) && !this.#pending.includes(f.sequenceNumber)) this.#pending.push(f.sequenceNumber)
  }

  /** Every id still issued (for the endpoint at close). */
  get all(): IssuedCid[] {
    return [...this.#active.values()]
  }
}

/** The ids the peer issued to us: the current Destination Connection ID and the spare ones. */
export class PeerCids {
  readonly #ids = new Map<number, { cid: Uint8Array, token: Uint8Array | undefined }>()
  #current = 0
  #retirePriorTo = 0
  readonly #retire: number[] = []
  readonly #limit: number
  readonly #maxPending: number

  constructor(initial: Uint8Array, limit: number, maxPending: number) {
    this.#ids.set(0, { cid: initial, token: undefined })
    this.#limit = limit
    this.#maxPending = maxPending
  }

  get current(): Uint8Array {
    return this.#ids.get(this.#current)!.cid
  }

  get currentSequence(): number {
    return this.#current
  }

  /** The id of sequence 0 changed (client: the server's Source Connection ID, or a Retry's). */
  setInitial(cid: Uint8Array): void {
    this.#ids.set(0, { cid, token: this.#ids.get(0)?.token })
  }

  /** The server's stateless_reset_token transport parameter: the token of sequence 0. */
  setInitialToken(token: Uint8Array): void {
    const e = this.#ids.get(0)
    if (e !== undefined) e.token = token
  }

  /** The peer's NEW_CONNECTION_ID; returns the new reset token to watch, if any. */
  onNewConnectionId(f: NewCidFrame): Uint8Array | undefined {
    if (this.current.length === 0) throw quicError('PROTOCOL_VIOLATION', 'NEW_CONNECTION_ID from a peer using a zero-length connection id', 0x18)
    const known = this.#ids.get(f.sequenceNumber)
    if (known !== undefined) {
      if (!equal(known.cid, f.connectionId)) throw quicError('PROTOCOL_VIOLATION', `sequence ${f.sequenceNumber} reused for another connection id`, 0x18)
      return undefined
    }
    let added = false
    if (f.sequenceNumber < this.#retirePriorTo) this.#queueRetire(f.sequenceNumber)
    else {
      this.#ids.set(f.sequenceNumber, { cid: f.connectionId.slice(), token: f.statelessResetToken.slice() })
      added = true
    }
    if (f.retirePriorTo > this.#retirePriorTo) {
      this.#retirePriorTo = f.retirePriorTo
      for (const seq of [...this.#ids.keys()]) {
        if (seq < f.retirePriorTo) { this.#ids.delete(seq); this.#queueRetire(seq) }
      }
      if (!this.#ids.has(this.#current)) this.#current = Math.min(...this.#ids.keys())
    }
    if (this.#ids.size > this.#limit) throw quicError('CONNECTION_ID_LIMIT_ERROR', `more than ${this.#limit} active connection ids`, 0x18)
    return added ? f.statelessResetToken.slice() : undefined
  }

  #queueRetire(seq: number): void {
    if (this.#retire.length >= this.#maxPending) throw quicError('CONNECTION_ID_LIMIT_ERROR', `more than ${this.#maxPending} connection ids waiting to be retired`, 0x18)
    this.#retire.push(seq)
  }

  /** Switch to an unused id and retire the current one; false when the peer gave us no spare. */
  rotate(): boolean {
    let next: number | undefined
    for (const seq of this.#ids.keys()) if (seq > this.#current && (next === undefined || seq < next)) next = seq
    if (next === undefined) return false
    this.#ids.delete(this.#current)
    this.#queueRetire(this.#current)
    this.#current = next
    return true
  }

  /** The next RETIRE_CONNECTION_ID frame to send. */
  poll(room: number): Extract<Frame, { type: 'retire_connection_id' }> | undefined {
    if (this.#retire.length === 0 || room < 9) return undefined
    return { type: 'retire_connection_id', sequenceNumber: this.#retire.shift()! }
  }

  get hasPending(): boolean {
    return this.#retire.length > 0
  }

  onLost(seq: number): void {
    if (this.#retire.length < this.#maxPending) this.#retire.push(seq)
  }

  /** The stateless reset tokens of the peer's ids we hold. */
  *tokens(): IterableIterator<Uint8Array> {
    for (const e of this.#ids.values()) if (e.token !== undefined) yield e.token
  }

  get spare(): number {
    return this.#ids.size - 1
  }
}
