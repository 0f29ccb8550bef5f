/**
 * The stream ids the remote has opened, for a yamux session: remote ids must increase, but go-yamux
 * and rust yamux allocate ids in order while their SYNs can leave out of order (concurrent
 * OpenStream), so ids a SYN jumped over stay open for a late SYN, within a bound.
 */
import { protocolError } from './types.js'
import type { StreamId } from './stream.js'

/** Most remote ids skipped by out-of-order SYNs that we remember (see `#skipped`). */
const MAX_SKIPPED_IDS = 1024

/** The remote-opened stream ids of one session (see the file comment). */
export class RemoteIds {
  /** Highest StreamID the remote opened. Every remote-parity id at or below it that has no record
   * is a recently closed stream whose late frames we tolerate. */
  #high = 0
  /** Remote-parity ids below #high whose SYN has not arrived yet. Bounded by MAX_SKIPPED_IDS;
   * stops a SYN for id 2^32 - 1 from making us remember two billion gaps. */
  #skipped: Set<StreamId> | undefined
  /** The remote's first id: 1 when the remote is the client, 2 when it is the server. */
  readonly #first: StreamId

  constructor(first: StreamId) {
    this.#first = first
  }

  /** A SYN for remote-parity `id`: a `ProtocolError` when the id was used already. */
  syn(id: StreamId): void {
    if (id <= this.#high) {
      if (this.#skipped?.delete(id) !== true) throw protocolError('yamux/stream-id-reused', `SYN for ${id} after ${this.#high}`)
      return
    }
    // Remember the ids this SYN jumps over (a late SYN may still come for them), within the bound.
    for (let k = this.#high === 0 ? this.#first : this.#high + 2; k < id && (this.#skipped ??= new Set()).size < MAX_SKIPPED_IDS; k += 2) this.#skipped.add(k)
    this.#high = id
  }

  /** Was remote-parity `id` opened at some point (live or not)? */
  opened(id: StreamId): boolean {
    return id <= this.#high && this.#skipped?.has(id) !== true
  }
}
