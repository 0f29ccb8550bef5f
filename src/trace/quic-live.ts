/**
 * A live QUIC connection's trace (spec/trace.md "TLS and QUIC"): the connection core (src/swarm/
 * quic-connection.ts) hands the tracer its datagrams, both ways, and its traffic secrets; the QUIC
 * trace decoder (quic.ts) decrypts them as an observer would, so a live trace and a decrypted
 * capture of the same connection show the same events. Only weft/node loads this module.
 */
import type { TlsCrypto } from '../core/crypto/tls.js'
import type { CoreTrace, DecoderFactory, TraceBody, TraceEvent } from '../core/trace.js'
import { QuicTraceDecoder } from './quic.js'

/** The per-connection handler of a QUIC connection's core events. */
export class QuicConnectionTrace {
  readonly #decoder: QuicTraceDecoder | undefined
  readonly #emitEvent: (e: TraceBody) => void
  #dead = false

  constructor(readonly id: string, role: 'dialer' | 'listener', o: { emit: (e: TraceEvent) => void; now: () => number; decoders?: DecoderFactory | undefined; crypto?: TlsCrypto | undefined; maxStreams?: number | undefined }) {
    this.#emitEvent = (body) => o.emit({ t: o.now(), conn: id, ...body } as TraceEvent)
    const emit = (body: TraceBody): void => this.#emitEvent(body)
    this.#decoder = o.crypto === undefined
      ? undefined
      : new QuicTraceDecoder({ crypto: o.crypto, emit, local: role === 'dialer' ? 'client' : 'server', decoders: o.decoders, now: o.now, ...(o.maxStreams !== undefined ? { maxStreams: o.maxStreams } : {}) })
    this.handle({ kind: 'state', layer: 'connection', to: 'handshaking', reason: role, protocol: '/quic-v1' })
  }

  handle(e: CoreTrace): void {
    if (this.#dead) return
    try {
      if (e.kind === 'quic-datagram') this.#decoder?.datagram(e.dir, e.data)
      else if (e.kind === 'tls-secret') this.#decoder?.secret(e.label, e.secret)
      else if (e.kind === 'state') this.#emitEvent(e)
    } catch {
      // tracing never changes behaviour: a failing decoder or sink ends this connection's trace only
      this.#dead = true
    }
  }
}
