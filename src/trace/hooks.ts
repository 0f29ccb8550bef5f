/**
 * A node's per-connection hooks from its `trace` and `keylog` options (weft/node's createNode, the
 * CLI): each new connection gets its own trace hook (and id) from one Tracer, and the keylog hook.
 */
import type { ConnectionOptions } from '../connection/index.js'
import type { TlsCrypto } from '../core/crypto/tls.js'
import type { DecoderFactory, TraceEvent } from '../core/trace.js'
import { keylogHook, tlsKeylogHook } from './keylog.js'
import { Tracer } from './tracer.js'

/**
 * The tracing options of `createNode` (spec/trace.md): `trace` receives every layer's events of every connection; `keylog` one line of Noise session keys per connection, or four NSS key log lines per `/tls/1.0.0` connection (secrets: handle like a private key). Both off by default, and then tracing costs nothing.
 */
export interface TraceOptions {
  /** Every layer's events of every connection (spec/trace.md). */
  trace?: ((e: TraceEvent) => void) | undefined
  /** One keylog line per connection (spec/trace.md "Keylog"). SECRETS: store with care (mode 0600). */
  keylog?: ((line: string) => void) | undefined
}

/** The swarm's `connectionTrace`: undefined when neither option is set (tracing off costs nothing). */
export function connectionHooks(
  o: TraceOptions, now: () => number, decoders?: DecoderFactory, maxStreams?: number, crypto?: TlsCrypto,
): ((role: 'dialer' | 'listener', transport?: 'quic-v1') => Pick<ConnectionOptions, 'trace' | 'keylog' | 'tlsKeylog'>) | undefined {
  const tracer = o.trace !== undefined ? new Tracer({ emit: o.trace, now, decoders, maxStreams, crypto }) : undefined
  const keylog = o.keylog !== undefined ? keylogHook(o.keylog) : undefined
  const tlsKeylog = o.keylog !== undefined ? tlsKeylogHook(o.keylog) : undefined
  if (tracer === undefined && keylog === undefined) return undefined
  return (role, transport) => ({ trace: tracer?.connection(role, transport), keylog, tlsKeylog })
}
