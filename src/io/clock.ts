/**
 * The wall clock, read only at the edge. Cores never read it; the node reads it once at creation
 * and hands the value in (peer record sequence numbers, record expiry checks).
 */
export function wallClock(): number {
  return Date.now()
}

/** The wall clock in fractional milliseconds since the epoch (trace event times: sub-millisecond steps). */
export function preciseWallClock(): number {
  return performance.timeOrigin + performance.now()
}
