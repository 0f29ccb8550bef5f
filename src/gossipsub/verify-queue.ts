/**
 * Signature checks in flight (spec/gossipsub.md "Validation on workers"): StrictSign messages whose
 * Ed25519 signature is being checked elsewhere (a worker pool), in arrival order.
 *
 * Guarantees, whatever order the answers come back in:
 * - messages leave the queue in the order they arrived (first in, first out, across peers): a message
 *   is delivered, forwarded or rejected only once every earlier one was, so the application sees each
 *   author's messages in the order we received them, as with synchronous checks;
 * - the queue is bounded by `maxPendingSignatures` messages and `maxPendingSignatureBytes` bytes (of
 *   the frames the messages are views of, each frame counted once while any of its messages waits:
 *   no copy per message, and a small message cannot pin an uncounted 1 MiB frame); a message over
 *   either is dropped (counted in `dropped`), neither marked seen nor penalised, so gossip
 *   can bring it again;
 * - a byte-identical copy of a message in flight is a duplicate (the same bytes cannot differ in
 *   validity); a different message with the same id is checked on its own: a forged copy racing the
 *   real one cannot make us drop the real one.
 * Pure: answers arrive as commands (`GossipsubBehaviour.signaturesVerified`).
 */
import type { Millis } from '../core/byte-machine.js'
import { equals } from '../core/bytes.js'
import type { Ed25519Job } from '../core/crypto/batch-verify.js'
import type { SignatureRejectReason } from './message.js'
import type { PendingValidation } from './types.js'

/**
 * One message waiting for its signature check: a received message's fields (PendingValidation),
 * where `deadline` is the moment past which the check is done inline (a verifier that never
 * answers cannot hold the queue).
 */
export interface SignatureEntry extends PendingValidation {
  /** What the verifier must check (an Ed25519 key); undefined for a message checked inline (other key types). */
  readonly job: Ed25519Job | undefined
  /** Until answered: 'pending'. */
  result: 'pending' | 'valid' | SignatureRejectReason
}

/** The FIFO of signature checks, the batches out, and the in-flight ids. */
export class SignatureQueue {
  #entries: SignatureEntry[] = []
  #head = 0
  /** Bytes of the frames the queued messages are views of, each once (≤ maxPendingSignatureBytes). */
  bytes = 0
  /** Frame buffer → queued messages in it. */
  readonly #frames = new Map<ArrayBufferLike, number>()
  /** Messages dropped because the queue was full. */
  dropped = 0
  /** Entries not yet handed out in a batch. */
  #open: SignatureEntry[] = []
  readonly #batches = new Map<number, SignatureEntry[]>()
  readonly #byId = new Map<string, SignatureEntry | SignatureEntry[]>()

  constructor(readonly maxMessages: number, readonly maxBytes: number, readonly batchSize: number) {}

  /** Messages in the queue. */
  get size(): number {
    return this.#entries.length - this.#head
  }

  /** Batches handed out and not answered. */
  get batchesOut(): number {
    return this.#batches.size
  }

  /** Would message `raw` fit (its frame counted unless already held)? */
  fits(raw: Uint8Array): boolean {
    return this.size < this.maxMessages && this.bytes + (this.#frames.has(raw.buffer) ? 0 : raw.buffer.byteLength) <= this.maxBytes
  }

  /** Is a byte-identical copy of `raw` (id `id`) in the queue? */
  hasCopy(id: string, raw: Uint8Array): boolean {
    const e = this.#byId.get(id)
    if (e === undefined) return false
    if (!Array.isArray(e)) return equals(e.wm.raw, raw)
    return e.some((x) => equals(x.wm.raw, raw))
  }

  /** Queue `e`; true when a full batch is ready (`takeBatch`). */
  push(e: SignatureEntry): boolean {
    this.#entries.push(e)
    const buf = e.wm.raw.buffer
    const n = this.#frames.get(buf)
    if (n === undefined) this.bytes += buf.byteLength
    this.#frames.set(buf, (n ?? 0) + 1)
    const same = this.#byId.get(e.id)
    if (same === undefined) this.#byId.set(e.id, e)
    else if (Array.isArray(same)) same.push(e)
    else this.#byId.set(e.id, [same, e])
    if (e.result === 'pending') this.#open.push(e)
    return this.#open.length >= this.batchSize
  }

  /** The entries not yet handed out (at most batchSize), registered under `batch`; undefined when none. */
  takeBatch(batch: number): readonly Ed25519Job[] | undefined {
    if (this.#open.length === 0) return undefined
    const entries = this.#open.length <= this.batchSize ? this.#open : this.#open.slice(0, this.batchSize)
    this.#open = entries === this.#open ? [] : this.#open.slice(this.batchSize)
    this.#batches.set(batch, entries)
    return entries.map((e) => e.job!)
  }

  /** Are there entries not yet handed out? */
  get hasOpen(): boolean {
    return this.#open.length > 0
  }

  /** Apply a batch's answers (one byte per job, 1 = valid). False for an unknown batch or a wrong count. */
  answer(batch: number, results: ArrayLike<number>): boolean {
    const entries = this.#batches.get(batch)
    if (entries === undefined) return false
    this.#batches.delete(batch)
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!
      // a short answer leaves the rest pending: their deadline checks them inline
      if (e.result === 'pending' && i < results.length) e.result = results[i] === 1 ? 'valid' : 'gossipsub/invalid-signature'
    }
    return results.length === entries.length
  }

  /** The oldest message, if any. */
  first(): SignatureEntry | undefined {
    return this.#entries[this.#head]
  }

  /** Remove the oldest message (answered). */
  shift(): SignatureEntry | undefined {
    const e = this.#entries[this.#head]
    if (e === undefined) return undefined
    this.#entries[this.#head++] = undefined as unknown as SignatureEntry
    if (this.#head >= 1024 && this.#head * 2 >= this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head)
      this.#head = 0
    }
    const buf = e.wm.raw.buffer
    const n = this.#frames.get(buf)!
    if (n === 1) {
      this.#frames.delete(buf)
      this.bytes -= buf.byteLength
    } else this.#frames.set(buf, n - 1)
    const same = this.#byId.get(e.id)
    if (same === e) this.#byId.delete(e.id)
    else if (Array.isArray(same)) {
      same.splice(same.indexOf(e), 1)
      if (same.length === 1) this.#byId.set(e.id, same[0]!)
    }
    return e
  }

  /** Entries still pending whose deadline is at or before `now`, oldest first. */
  *overdue(now: Millis): Generator<SignatureEntry> {
    for (let i = this.#head; i < this.#entries.length; i++) {
      const e = this.#entries[i]!
      if (e.deadline > now) return // deadlines grow with arrival order
      if (e.result === 'pending') yield e
    }
  }
}
