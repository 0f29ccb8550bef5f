/**
 * Hole punching (DCUtR) under go-libp2p's names, labels and label values
 * (`libp2p_holepunch_*`, go's p2p/protocol/holepunch/metrics.go), fed by the `dcutr` behaviour's
 * events (src/dcutr/dcutr.ts).
 *
 * Sides as go names them: `initiator` is the peer that opens the DCUtR stream (weft's role B, which
 * holds the inbound relayed connection), `receiver` the one that answers it (role A). As in go, an
 * outcome is recorded once per hole punch: the initiator's when it got a direct connection (at the
 * attempt that made it) or when its last attempt's dials failed; the receiver's after its dials
 * following SYNC (`num_attempts` "1"). Exchanges that end by a protocol error, a timeout or a missing
 * address are not hole punches in go's count either (its tracer reports them as protocol errors).
 * `direct_dials_total` counts the initiator's connection reversal (its direct dial of the peer's
 * public addresses before punching).
 */
import type { DcutrEvent, PunchAddrs } from '../dcutr/index.js'
import type { Multiaddr } from '../multiaddr/index.js'
import { IP_VERSIONS, ipVersion } from './labels.js'
import { GO_TRANSPORTS, goTransport } from './nat-labels.js'
import type { Counter, Registry } from './registry.js'

export const DCUTR_BEHAVIOUR = 'dcutr'
export const HOLEPUNCH_SIDES = ['initiator', 'receiver'] as const
/** go's getNumAttemptString. */
export const NUM_ATTEMPTS = ['0', '1', '2', '3', '4', '5', '> 5'] as const
export const ADDRESS_OUTCOMES = ['success', 'failed', 'cancelled', 'no_suitable_address'] as const
export const HOLEPUNCH_OUTCOMES = ['success', 'failed', 'no_suitable_address'] as const
/** Peers whose last attempt's addresses are remembered until the punch ends. Stops: peers starting exchanges that never end growing the map. */
export const MAX_PENDING_PUNCHES = 256

export function numAttempts(n: number): (typeof NUM_ATTEMPTS)[number] {
  return n > 5 ? '> 5' : NUM_ATTEMPTS[Math.max(0, Math.floor(n))]!
}

export interface AddressOutcome {
  ipv: string
  transport: string
  outcome: (typeof ADDRESS_OUTCOMES)[number]
}

/**
 * go's HolePunchFinished, per address: for each of our addresses, the first of theirs with the same
 * IP version and transport decides (`success`: the direct connection used that pair; `cancelled`: a
 * direct connection exists over another; `failed`: none); without one, `no_suitable_address`. The
 * overall outcome: `success` with a direct connection, else `no_suitable_address` when no address
 * matched, else `failed`.
 */
export function holePunchOutcomes(ours: readonly Multiaddr[], theirs: readonly Multiaddr[], directLocal: Multiaddr | undefined): { addrs: AddressOutcome[]; outcome: (typeof HOLEPUNCH_OUTCOMES)[number] } {
  const d = directLocal === undefined ? undefined : { ipv: ipVersion(directLocal), transport: goTransport(directLocal) }
  const addrs: AddressOutcome[] = []
  let matched = 0
  for (const la of ours) {
    const ipv = ipVersion(la)
    const transport = goTransport(la)
    const match = theirs.some((ra) => ipVersion(ra) === ipv && goTransport(ra) === transport)
    if (!match) {
      addrs.push({ ipv, transport, outcome: 'no_suitable_address' })
      continue
    }
    matched++
    const outcome = d === undefined ? 'failed' : d.ipv === ipv && d.transport === transport ? 'success' : 'cancelled'
    addrs.push({ ipv, transport, outcome })
  }
  return { addrs, outcome: d !== undefined ? 'success' : matched === 0 ? 'no_suitable_address' : 'failed' }
}

interface DcutrHost {
  localAddrs?: () => readonly Multiaddr[]
}

/**
 * The hole punching families (go-libp2p's `libp2p_holepunch_*`): direct dials and the outcome per address and protocol.
 */
export class HolepunchMetrics {
  readonly directDials: Counter
  readonly addressOutcomes: Counter
  readonly outcomes: Counter
  /** The initiator's last attempt per peer: the addresses the peer sent (the `attempt` event). */
  readonly #theirs = new Map<string, readonly Multiaddr[]>()

  constructor(r: Registry) {
    const side = HOLEPUNCH_SIDES
    this.directDials = r.counter({ name: 'libp2p_holepunch_direct_dials_total', help: 'Direct Dials Total', labels: ['outcome'], values: { outcome: ['success', 'failed'] } })
    this.addressOutcomes = r.counter({
      name: 'libp2p_holepunch_address_outcomes_total', help: 'Hole Punch outcomes by Transport', labels: ['side', 'num_attempts', 'ipv', 'transport', 'outcome'],
      values: { side, num_attempts: NUM_ATTEMPTS, ipv: IP_VERSIONS, transport: GO_TRANSPORTS, outcome: ADDRESS_OUTCOMES },
      // 64 zero series from the start (touchSeries), room for the other transports and attempts
      maxSeries: 512,
    })
    this.outcomes = r.counter({
      name: 'libp2p_holepunch_outcomes_total', help: 'Hole Punch outcomes overall', labels: ['side', 'num_attempts', 'outcome'],
      values: { side, num_attempts: NUM_ATTEMPTS, outcome: HOLEPUNCH_OUTCOMES },
    })
  }

  /**
   * go creates the series of attempts 1 to 4 at zero when hole punching starts, so the first
   * punch shows as an increase; weft does so for its one punchable transport (TCP), on nodes
   * running DCUtR.
   */
  touchSeries(): void {
    for (const side of HOLEPUNCH_SIDES) {
      for (const n of ['1', '2', '3', '4']) {
        for (const outcome of ADDRESS_OUTCOMES) {
          for (const ipv of ['ip4', 'ip6']) this.addressOutcomes.touch({ side, num_attempts: n, ipv, transport: 'tcp', outcome })
          if (outcome !== 'cancelled') this.outcomes.touch({ side, num_attempts: n, outcome })
        }
      }
    }
  }

  /** `host`: the dcutr behaviour, for our addresses when the event does not carry them. */
  observe(ev: DcutrEvent, host: DcutrHost | undefined): void {
    const key = ev.peer.toString()
    switch (ev.type) {
      case 'attempt':
        if (this.#theirs.has(key) || this.#theirs.size < MAX_PENDING_PUNCHES) this.#theirs.set(key, ev.addrs)
        break
      case 'direct':
        if (ev.role === 'B' && ev.via === 'reversal') {
          this.#theirs.delete(key)
          this.directDials.inc({ outcome: 'success' })
          break
        }
        this.#finished(ev, key, ev.role, ev.role === 'B' ? ev.attempts : 1, ev.connection.localAddr, host)
        break
      case 'failed': {
        const code = (ev.error as { code?: unknown }).code
        // a failed punch: B's dials failed or, over QUIC, no connection came in the punch window
        if (code === 'dcutr/dial-failed' || code === 'dcutr/punch-timeout') this.#finished(ev, key, ev.role, ev.role === 'B' ? ev.attempts : 1, undefined, host)
        else this.#theirs.delete(key)
        break
      }
      case 'reversal-failed':
        this.directDials.inc({ outcome: 'failed' })
        break
      case 'unavailable':
        this.#theirs.delete(key)
        break
    }
  }

  #finished(ev: DcutrEvent & PunchAddrs, key: string, role: 'A' | 'B', attempts: number, directLocal: Multiaddr | undefined, host: DcutrHost | undefined): void {
    const side = role === 'B' ? 'initiator' : 'receiver'
    const n = numAttempts(attempts)
    const theirs = ev.theirAddrs ?? (role === 'B' ? this.#theirs.get(key) : undefined)
    this.#theirs.delete(key)
    const ours = ev.ourAddrs ?? (typeof host?.localAddrs === 'function' ? host.localAddrs() : undefined)
    if (theirs === undefined || ours === undefined) {
      // without both address lists only the overall outcome is known
      this.outcomes.inc({ side, num_attempts: n, outcome: directLocal !== undefined ? 'success' : 'failed' })
      return
    }
    const r = holePunchOutcomes(ours, theirs, directLocal)
    for (const a of r.addrs) this.addressOutcomes.inc({ side, num_attempts: n, ipv: a.ipv, transport: a.transport, outcome: a.outcome })
    this.outcomes.inc({ side, num_attempts: n, outcome: r.outcome })
  }
}
