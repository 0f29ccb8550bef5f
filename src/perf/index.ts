/**
 * Perf, `/perf/1.0.0`: a client-driven upload/download benchmark. See spec/perf.md.
 *
 * @module weft/perf
 */
export {
  PerfBehaviour,
  PERF_PROTOCOL,
  PERF_HEADER_LENGTH,
  DEFAULT_MAX_DOWNLOAD_BYTES,
  DEFAULT_MAX_UPLOAD_BYTES,
  DEFAULT_MAX_STREAMS_PER_PEER,
  DEFAULT_MAX_INBOUND_STREAMS,
  encodePerfHeader,
  decodePerfHeader,
} from './perf.js'
export type { PerfEvent, PerfOptions, PerfErrorCode } from './perf.js'
