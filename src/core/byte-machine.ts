/**
 * The contract every byte-level protocol core follows (see ARCHITECTURE.md §1).
 *
 * Call order for a driver: after any `handle*` input or any command, drain `pollTransmit` until it
 * returns undefined, then `pollEvent` until undefined, then read `pollTimeout` and arm one timer.
 * When the timer fires (now >= deadline), call `handleTimeout(now)` and drain again.
 * When `wantsData()` is false, stop reading from the transport until it becomes true again.
 */

/** Monotonic time in milliseconds. Cores never read a clock: time is an input. */
export type Millis = number

export interface ByteMachine<Ev> {
  handleData(now: Millis, data: Uint8Array): void
  handleEof(now: Millis): void
  handleTimeout(now: Millis): void
  wantsData(): boolean
  /** Up to `max` bytes to write to the transport; the returned bytes belong to the caller. */
  pollTransmit(max: number): Uint8Array | undefined
  pollEvent(): Ev | undefined
  pollTimeout(): Millis | undefined
}

/** Source of randomness handed to cores that need it (Noise ephemeral keys, ping payloads, ids). */
export type RandomBytes = (n: number) => Uint8Array
