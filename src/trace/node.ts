/**
 * weft/node's trace wiring: the connection hooks with every protocol decoder (src/trace/decode).
 * Loaded by createNode only when `trace` or `keylog` is set, so a node without tracing never
 * compiles the decoders.
 */
import type { TlsCrypto } from '../core/crypto/tls.js'
import { createDecoder } from './decode/index.js'
import { connectionHooks, type TraceOptions } from './hooks.js'

export function nodeConnectionHooks(o: TraceOptions, now: () => number, crypto?: TlsCrypto): ReturnType<typeof connectionHooks> {
  return connectionHooks(o, now, createDecoder, undefined, crypto)
}
