/**
 * weft trace (spec/trace.md): every layer of a live connection decoded, in order, as it happens.
 * weft/node only: browser bundles carry none of this (the cores hold only a guarded hook).
 */
export type {
  CoreTrace, DecodedMessage, DecoderFactory, Direction, KeylogHook, NoisePayloadView, QuicFrameView, QuicPacketKind, StateLayer, StreamDecoder, StreamHint,
  TraceBody, TraceEvent, TraceHook, YamuxFlag, YamuxFrameType,
} from './events.js'
export { Tracer, DEFAULT_MAX_TRACED_STREAMS, type TracerOptions } from './tracer.js'
export { formatEvent, createFormatter, traceJsonReplacer, type FormatOptions } from './format.js'
export { KEYLOG_LABEL, keylogLine, keylogHook, tlsKeylogLine, tlsKeylogHook } from './keylog.js'
export { connectionHooks, type TraceOptions } from './hooks.js'
