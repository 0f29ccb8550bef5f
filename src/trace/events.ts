/**
 * The trace event model (spec/trace.md): the types live in src/core/trace.ts so the protocol cores
 * can name their hook without importing src/trace (which sits above them); this is their public home.
 */
export type {
  CoreTrace, DecodedMessage, DecoderFactory, Direction, KeylogHook, NoisePayloadView, QuicFrameView, QuicPacketKind, StateLayer, StreamDecoder, StreamHint,
  TraceBody, TraceEvent, TraceHook, YamuxFlag, YamuxFrameType,
} from '../core/trace.js'
