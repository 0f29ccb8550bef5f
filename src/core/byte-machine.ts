/**
 * The contract every byte-level protocol core follows (see ARCHITECTURE.md §1).
 *
 * Call order for a driver: after any `handle*` input or any command, drain `pollTransmit` until it
 * returns undefined, then `pollEvent` until undefined, then read `pollTimeout` and arm one timer.
 * When the timer fires (now >= deadline), call `handleTimeout(now)` and drain again.
 * When `wantsData()` is false, stop reading from the transport until it becomes true again.
 *
 * Memory ownership (every core implementing this interface):
 * - Input: a core never keeps a reference to `handleData` input. It reads `data` during the call
 *   (copying what it must keep: a partial frame, a partial message) and the driver may reuse or
 *   overwrite that memory as soon as the call returns. src/io/tcp.ts relies on this: every socket
 *   is read into one process-wide buffer. No core of weft has an exception; Noise decrypts whole
 *   frames straight out of `data`, which holds because the CryptoProvider returns fresh memory
 *   from `chachaOpen` (src/core/crypto/provider.ts). A core may offer a separate entry point for
 *   input the caller hands over (yamux `handleOwnedData`); it says so in its name.
 * - Output: bytes returned by `pollTransmit` belong to the caller: fresh memory or a view of memory
 *   the core never writes again, which the caller may keep (queue for a socket) as long as it likes.
 *   A core may offer a cheaper output whose memory is reused (yamux `pollTransmitTransient`); it
 *   says so in its name and its doc.
 * - Events: bytes carried by events (`data`, `stream-data`) belong to the driver on the same terms
 *   as `pollTransmit` output, unless the core's doc says otherwise.
 */

/** Monotonic time in milliseconds. Cores never read a clock: time is an input. */
export type Millis = number

/**
 * A sans-IO protocol core that speaks bytes (ARCHITECTURE.md §1): the driver feeds it input with the
 * `handle*` methods and drains its output with the `poll*` methods; it never reads a clock, never
 * touches a socket and never throws for anything a remote peer sends (that becomes an event).
 * Driver loop: after any input or command, drain `pollTransmit` until undefined, then `pollEvent`
 * until undefined, then arm one timer at `pollTimeout()` and call `handleTimeout(now)` when it fires.
 * `handleData` input is read during the call only; `pollTransmit` output belongs to the caller.
 * @typeParam Ev - the core's event type.
 */
export interface ByteMachine<Ev> {
  /** Bytes from the transport, read during the call only: never referenced after it returns. */
  handleData(now: Millis, data: Uint8Array): void
  /** The transport reached end of stream (the remote closed its write side). */
  handleEof(now: Millis): void
  /** The timer armed at `pollTimeout()` fired; `now` is at or after that deadline. */
  handleTimeout(now: Millis): void
  /**
   * False while the core's receive buffers are full: the driver stops reading from the transport until this is true again (backpressure).
   */
  wantsData(): boolean
  /** Up to `max` bytes to write to the transport. They belong to the caller: fresh, or a view of
   * memory the core never writes again. */
  pollTransmit(max: number): Uint8Array | undefined
  /** The next event for the application, or undefined when none is pending. */
  pollEvent(): Ev | undefined
  /** The earliest deadline (monotonic ms) at which `handleTimeout` must be called, or undefined for no timer. */
  pollTimeout(): Millis | undefined
}

/** Source of randomness handed to cores that need it (Noise ephemeral keys, ping payloads, ids). */
export type RandomBytes = (n: number) => Uint8Array
