/**
 * Limited connections (Circuit Relay v2, spec/relay.md "Limited connections"): a connection relayed
 * through a relay, whose duration and bytes the relay caps. Only protocols that opt in run on it:
 * a behaviour lists them in `limitedProtocols`, the user passes `allowLimited` to `handle` and to
 * `newStream` / `open-stream`. Identify, ping and DCUtR opt in; everything else waits for a direct
 * connection, as in go-libp2p (`WithAllowLimitedConn`) and rust-libp2p.
 */
import { OutcomeError } from '../core/errors.js'
import { CODE, type Multiaddr } from '../multiaddr/index.js'

/** True when `addr` goes through a relay (contains `/p2p-circuit`). */
export function isLimitedAddr(addr: Multiaddr): boolean {
  return addr.components().some((c) => c.code === CODE.p2pCircuit)
}

/** A stream was asked for on a limited connection by an opener that did not opt in (allowLimited). */
export function limitedConnectionError(protocols: readonly string[]): OutcomeError<'swarm/limited-connection'> {
  return new OutcomeError('swarm/limited-connection', `the only connection is limited (relayed); open ${protocols.join(', ')} with allowLimited to run over it, or wait for a direct connection`)
}
