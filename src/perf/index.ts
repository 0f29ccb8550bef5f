/** Perf, `/perf/1.0.0`: a client-driven upload/download benchmark. See spec/perf.md. */
export { PerfBehaviour, PERF_PROTOCOL, PERF_HEADER_LENGTH, encodePerfHeader, decodePerfHeader } from './perf.js'
export type { PerfEvent, PerfOptions, PerfErrorCode } from './perf.js'
