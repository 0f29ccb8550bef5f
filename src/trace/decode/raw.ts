/**
 * The protocols that are not protobuf: ping (`/ipfs/ping/1.0.0`, ping/ping.md: 32 random bytes,
 * echoed) and perf (`/perf/1.0.0`, perf/perf.md: the client's 8-byte big-endian size header, then
 * payload bytes, counted only).
 */
import type { DecodedMessage } from '../../core/trace.js'
import { decodePerfHeader, PERF_HEADER_LENGTH } from '../../perf/index.js'
import { PING_LENGTH } from '../../ping/index.js'
import { BaseDecoder, hex, msg, num } from './common.js'

/**
 * Each complete 32-byte payload is one `Ping`; `echo` says whether it is the responder's echo
 * (known when the tracer tells which side opened the stream). Holds at most 31 bytes.
 */
export class PingDecoder extends BaseDecoder {
  readonly #payload = new Uint8Array(PING_LENGTH)
  readonly #echo: boolean | undefined
  #have = 0

  constructor(echo: boolean | undefined) {
    super()
    this.#echo = echo
  }

  get buffered(): number {
    return this.#have
  }

  protected release(): void {
    this.#have = 0
  }

  protected decode(bytes: Uint8Array, out: DecodedMessage[]): void {
    let at = 0
    while (at < bytes.length) {
      const take = Math.min(PING_LENGTH - this.#have, bytes.length - at)
      this.#payload.set(bytes.subarray(at, at + take), this.#have)
      this.#have += take
      at += take
      if (this.#have === PING_LENGTH) {
        this.#have = 0
        out.push(msg('Ping', { payload: hex(this.#payload), ...(this.#echo === undefined ? {} : { echo: this.#echo }) }))
      }
    }
  }

  protected override finish(): void {
    if (this.#have > 0) throw new RangeError(`ping: the stream ended ${this.#have} bytes into a ${PING_LENGTH}-byte payload`)
  }
}

/**
 * The client's direction: the size header (`PerfRequest`, downloadBytes), then the upload, counted.
 * The server's direction: the download, counted.
 */
export class PerfDecoder extends BaseDecoder {
  readonly #header = new Uint8Array(PERF_HEADER_LENGTH)
  #have = 0

  constructor(client: boolean) {
    super()
    if (!client) this.handOver()
  }

  get buffered(): number {
    return this.#have
  }

  protected release(): void {
    this.#have = 0
  }

  protected decode(bytes: Uint8Array, out: DecodedMessage[]): void {
    const take = Math.min(PERF_HEADER_LENGTH - this.#have, bytes.length)
    this.#header.set(bytes.subarray(0, take), this.#have)
    this.#have += take
    if (this.#have < PERF_HEADER_LENGTH) return
    out.push(msg('PerfRequest', { downloadBytes: num(decodePerfHeader(this.#header)) }))
    this.handOver()
    if (bytes.length > take) out.push(this.data(bytes.length - take))
  }

  protected override finish(): void {
    if (this.#have > 0 && this.#have < PERF_HEADER_LENGTH) decodePerfHeader(this.#header.subarray(0, this.#have))
  }
}
