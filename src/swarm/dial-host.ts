/**
 * The swarm as the dial state machine (src/swarm/dials.ts) sees it: which open connection a dial can
 * reuse, how an attempt starts (the policy's admission, then a `connect` IO action), and where each
 * waiter's outcome goes (src/swarm/routing.ts notifyWaiter).
 */
import type { Millis } from '../core/byte-machine.js'
import type { PeerId } from '../peer-id/index.js'
import { Dials } from './dials.js'
import { noStreams, notifyWaiter, type RouteHost } from './routing.js'
import type { Conn } from './types.js'

/** What the dial host needs beyond RouteHost: the swarm's clock, state and id counter. */
export interface DialHostSwarm {
  readonly route: RouteHost
  now(): Millis
  stopped(): boolean
  nextConnId(): number
}

/**
 * An open connection to `peer`: a direct one when there is one, else a limited (relayed) one when
 * `limitedOk` (src/swarm/limited.ts).
 */
export function openConn(h: RouteHost, peer: PeerId, limitedOk: boolean): Conn | undefined {
  let limited: Conn | undefined
  for (const id of h.byPeer.get(peer.toString()) ?? []) {
    const c = h.conns.get(id)
    if (c?.core?.isOpen !== true || c.closing) continue
    if (c.info?.limited !== true) return c
    limited ??= c
  }
  return limitedOk ? limited : undefined
}

export function newDials(s: DialHostSwarm): Dials<Conn> {
  const h = s.route
  return new Dials<Conn>({
    localPeer: h.peerId,
    get stopped(): boolean { return s.stopped() },
    openConnection: (peer, limitedOk) => openConn(h, peer, limitedOk),
    knownAddrs: (peer) => h.peerStore.get(peer)?.addrs ?? [],
    connect: (d, addr) => {
      if (h.conns.size >= h.limits.maxConnections) return undefined
      const id = s.nextConnId()
      const now = s.now()
      const refused = h.policy.admitOutbound(now, id, d.peer, addr)
      if (refused !== undefined) {
        h.events.push({ type: 'connection-refused', direction: 'outbound', addr, ...(d.peer !== undefined ? { peer: d.peer } : {}), refusal: refused })
        return refused.error
      }
      h.conns.set(id, {
        id, core: undefined, direction: 'outbound', remoteAddr: addr.withoutPeerId(), localAddr: undefined, dial: d, info: undefined,
        streams: noStreams(), closing: false, closeError: undefined, opened: now,
      })
      h.io.push({ type: 'connect', connection: id, addr })
      return id
    },
    abandon: (id) => {
      const c = h.conns.get(id)
      if (c !== undefined) c.dial = undefined
      h.closeConnection(s.now(), id)
    },
    notify: (w, c, error) => notifyWaiter(h, s.now(), w, c, error),
  }, h.limits)
}
