/**
 * The peer's address and its changes (RFC 9000 §9.3 peer address change, §8.2 path validation, §9.4
 * congestion state): what a server does when an authenticated non-probing packet arrives from a new
 * address (a NAT rebinding, or a client that moved despite `disable_active_migration`).
 *
 * The driver tells the connection where each datagram came from (`handleDatagram(now, d, from)`);
 * the first authenticated packet sets the path. A non-probing packet with the highest packet number
 * so far, from another address, after the handshake is confirmed, moves the connection there at
 * once ('path-changed': the driver sends to the new address from now on) and starts validating it:
 * until the peer answers our PATH_CHALLENGE, at most three times the bytes received on the new path
 * are sent there (§9.3, §8.1), the challenge's datagram expanded to 1200 bytes only when that budget
 * allows (§8.2.1). The answer validates the path; if the IP address changed (not only
 * the port, §9.4) congestion control and the RTT estimate start over. A new IP address also sends
 * the datagram size back to 1200 bytes at once and searches the new path's MTU again (pmtu.ts
 * `newPath`): the old path's size may not pass there. No answer within
 * max(3 PTO, 6 x the initial RTT) (§8.2.4; a new challenge every PTO, at most `CHALLENGES`): back to
 * the last validated address. A packet of the old address with a higher packet number moves the
 * connection back there without validation (it was validated; §9.3.2). At most
 * `maxPathValidations` validations per `PATH_VALIDATION_WINDOW`: past it, packets from new addresses
 * are processed but the connection stays where it is (an on-path attacker rewriting source addresses
 * cannot make us probe arbitrary addresses in a loop).
 *
 * A client does not follow a server's address change (servers do not migrate, §9): it keeps
 * sending where it dialed. Without addresses from the driver (`from` undefined) nothing here runs.
 */
import { K_INITIAL_RTT } from '../recovery/index.js'
import type { Frame, PacketNumberSpace } from '../types.js'
import type { ConnState } from './state.js'

/** Where a datagram came from: the driver's view of the peer's address (compared by value). */
export interface QuicPath {
  readonly address: string
  readonly port: number
}

/** The window `limits.maxPathValidations` counts in, ms. */
export const PATH_VALIDATION_WINDOW = 60_000
/** PATH_CHALLENGE frames sent per validation (a new one each PTO until the deadline). */
export const CHALLENGES = 3

/** Path state of one connection. */
export interface PathState {
  /** The address we send to (undefined until the first authenticated packet from a known address). */
  current: QuicPath | undefined
  /** The source of the datagram being processed. */
  from: QuicPath | undefined
  /** Its size (the new path's first bytes toward the anti-amplification budget). */
  fromLength: number
  /** The last validated address while `current` is being validated. */
  previous: QuicPath | undefined
  /** The validation in progress: challenges sent, when to send the next, when to give up. */
  validating: { challenges: Uint8Array[], next: number, deadline: number } | undefined
  /** Start times of the validations in the current window. */
  starts: number[]
}

export function newPathState(): PathState {
  return { current: undefined, from: undefined, fromLength: 0, previous: undefined, validating: undefined, starts: [] }
}

const same = (a: QuicPath | undefined, b: QuicPath | undefined): boolean => a !== undefined && b !== undefined && a.port === b.port && a.address === b.address
const PROBING = new Set(['path_challenge', 'path_response', 'new_connection_id', 'padding'])

/** A datagram arrives from `from`: remember it; bytes count toward the budget of the path they came on. */
export function pathOnDatagram(s: ConnState, from: QuicPath | undefined, length: number): boolean {
  const p = s.path
  p.from = from
  p.fromLength = length
  return from === undefined || p.current === undefined || same(from, p.current)
}

/**
 * An authenticated packet `pn` of `space` with `frames`, before its frames are processed (so answers
 * go to the new path); `largest` is the largest packet number received in the space before it.
 */
export function pathOnPacket(s: ConnState, space: PacketNumberSpace, pn: number, largest: number | undefined, frames: readonly Frame[], now: number, pto: number): void {
  const p = s.path
  const from = p.from
  if (from === undefined) return
  if (p.current === undefined) { p.current = from; return }
  if (space !== 'application' || same(from, p.current) || s.role !== 'server' || !s.handshakeConfirmed) return
  if ((largest !== undefined && pn <= largest) || frames.every((f) => PROBING.has(f.type))) return
  if (same(from, p.previous)) { // back to the validated address (the change was spurious or an attacker's, §9.3.2)
    p.current = from
    p.previous = undefined
    p.validating = undefined
    s.addressValidated = true
    s.events.push({ kind: 'path-changed', remote: from, validated: true })
    return
  }
  p.starts = p.starts.filter((t) => now - t < PATH_VALIDATION_WINDOW)
  if (p.starts.length >= s.limits.maxPathValidations) { s.stats.pathChangesRefused++; return }
  p.starts.push(now)
  if (p.validating === undefined) p.previous = p.current
  p.current = from
  // §9.3: the new address is unvalidated: at most 3x what it sent us until the challenge is answered
  s.addressValidated = false
  s.bytesReceived = p.fromLength
  s.bytesSent = 0
  p.validating = { challenges: [], next: now, deadline: now + Math.max(3 * pto, 6 * K_INITIAL_RTT) }
  // a new IP address is a new path: its MTU is unknown, so back to 1200 bytes and search again (pmtu.ts)
  if (p.previous !== undefined && p.previous.address !== from.address) {
    s.pmtu.newPath()
    s.maxDatagramSize = s.pmtu.current
    s.recovery.setMaxDatagramSize(s.pmtu.current)
  }
  s.stats.pathChanges++
  s.events.push({ kind: 'path-changed', remote: from, validated: false })
}

/**
 * After a datagram or a timeout: queue the next PATH_CHALLENGE once its time came. It goes in the next
 * datagram, expanded to 1200 bytes unless the new path's anti-amplification budget is smaller
 * (§8.2.1 allows that; waiting for the budget would starve it behind the data that spends it).
 */
export function pathPoll(s: ConnState, now: number, pto: number): void {
  const v = s.path.validating
  if (v === undefined || s.pathChallenge !== undefined || now < v.next || v.challenges.length >= CHALLENGES) return
  const data = s.random(8)
  v.challenges.push(data)
  v.next = now + pto
  s.pathChallenge = data
}

/** A PATH_RESPONSE: does it answer the validation in progress? Then the path is validated (§8.2.3). */
export function pathOnResponse(s: ConnState, data: Uint8Array): void {
  const p = s.path
  const v = p.validating
  if (v === undefined || !v.challenges.some((c) => c.length === data.length && c.every((x, i) => x === data[i]))) return
  // §9.4: a new IP address is a new path: congestion control and the RTT estimate start over (not for a new port only)
  if (p.previous !== undefined && p.current !== undefined && p.previous.address !== p.current.address) s.recovery.resetPath()
  p.validating = undefined
  p.previous = undefined
  s.addressValidated = true
  s.events.push({ kind: 'path-changed', remote: p.current!, validated: true })
}

/** When `pathOnTimeout` must run: the next challenge or the deadline. */
export function pathTimeout(s: ConnState): number | undefined {
  const v = s.path.validating
  if (v === undefined) return undefined
  return v.challenges.length >= CHALLENGES || s.pathChallenge !== undefined ? v.deadline : Math.min(v.next, v.deadline)
}

/** The timer: no answer by the deadline sends us back to the last validated address (§9.3.2). */
export function pathOnTimeout(s: ConnState, now: number, pto: number): void {
  const p = s.path
  const v = p.validating
  if (v === undefined) return
  if (now < v.deadline) { pathPoll(s, now, pto); return }
  p.validating = undefined
  s.stats.pathValidationsFailed++
  if (p.previous === undefined) return
  p.current = p.previous
  p.previous = undefined
  s.addressValidated = true
  s.events.push({ kind: 'path-changed', remote: p.current, validated: true })
}
