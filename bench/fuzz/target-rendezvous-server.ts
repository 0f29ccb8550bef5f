/**
 * Rendezvous server target (src/rendezvous/server-behaviour.ts): the point's behaviour over
 * `/rendezvous/1.0.0` streams, driven like identify, kad and gossipsub (targets-behaviour.ts) by a
 * remote peer: inbound streams carrying framed Messages from the schema (REGISTER with the remote's
 * own signed record, a foreign one or garbage; DISCOVER with cookies; UNREGISTER; responses a point
 * never expects), mutated and re-chunked, EOF, resets, reconnects and time, with small limits
 * (streams per peer, requests per stream, stream timeout, registry caps).
 * Checks: nothing thrown from handle / handleTimeout; no action on a stream the behaviour does not
 * hold or after its close-write (the shared behaviour driver); registrations <= the registry's cap
 * and open streams <= maxStreamsPerPeer after every step.
 */
import { encodeLp } from '../../src/core/lp.js'
import { Multiaddr } from '../../src/multiaddr/index.js'
import { privateKeyFromSeed, sealPeerRecord } from '../../src/peer-id/index.js'
import type { Behaviour } from '../../src/swarm/behaviour.js'
import { MessageType, RENDEZVOUS_PROTOCOL, RendezvousServerBehaviour, decodeRendezvous, encodeRendezvousFrame, sealRendezvousRecord } from '../../src/rendezvous/index.js'
import { check } from './engine.js'
import { behaviourTarget } from './targets-behaviour.js'
import { genMessage, type Schema } from './pbgen.js'
import type { Rand } from './rng.js'
import { fuzzCrypto } from './crypto.js'

const crypto = fuzzCrypto()
/** The same remote as the shared behaviour driver's (seed 0x32): its records are the registrant's own. */
const REMOTE = privateKeyFromSeed(new Uint8Array(32).fill(0x32), crypto)
const OTHER = privateKeyFromSeed(new Uint8Array(32).fill(0x33), crypto)
const ADDRS = [Multiaddr.fromString('/ip4/11.0.0.3/tcp/4001')]
const RECORDS = [
  sealPeerRecord(REMOTE, { peerId: REMOTE.publicKey.toPeerId(crypto), seq: 1n, addrs: ADDRS }, crypto).bytes,
  sealRendezvousRecord(REMOTE, { peerId: REMOTE.publicKey.toPeerId(crypto), seq: 2n, addrs: ADDRS }, crypto, 'rust-legacy'),
  sealPeerRecord(OTHER, { peerId: OTHER.publicKey.toPeerId(crypto), seq: 1n, addrs: ADDRS }, crypto).bytes,
]
const ns = { text: (r: Rand) => r.pick(['my-app', 'other', '', 'x'.repeat(256)]) }
const REGISTER: Schema = { 1: ns, 2: { gen: (r: Rand) => (r.chance(0.85) ? r.pick(RECORDS) : r.bytes(r.size(40))) }, 3: { oneOf: [7200, 0, 1, 120, 259200, 259201] } }
const MESSAGE: Schema = {
  1: { oneOf: [0, 0, 3, 3, 2, 1, 4, 9] },
  2: { msg: REGISTER },
  3: { msg: { 1: { oneOf: [0, 100, 7] }, 2: 'string', 3: 'varint' } },
  4: { msg: { 1: ns } },
  5: { msg: { 1: ns, 2: { oneOf: [0, 1, 2, 1000, 2 ** 32] }, 3: { gen: (r: Rand) => r.bytes(r.size(40)) } } },
  6: { msg: { 1: { msg: REGISTER }, 2: 'bytes', 3: { oneOf: [0, 103] }, 4: 'string' } },
}

/** What a real client sends (mostly valid: the point's own paths past decoding). */
function wellFormed(r: Rand): Uint8Array {
  const n = r.pick(['my-app', 'other', ''])
  switch (r.int(3)) {
    case 0: return encodeRendezvousFrame({ type: MessageType.REGISTER, register: { ns: n, signedPeerRecord: r.pick(RECORDS), ...(r.chance(0.5) ? { ttl: r.pick([7200, 120, 0, 259201]) } : {}) } })
    case 1: return encodeRendezvousFrame({ type: MessageType.DISCOVER, discover: { ...(r.chance(0.8) ? { ns: n } : {}), ...(r.chance(0.5) ? { limit: r.int(5) } : {}), ...(r.chance(0.3) ? { cookie: r.bytes(r.size(40)) } : {}) } })
    default: return encodeRendezvousFrame({ type: MessageType.UNREGISTER, unregister: { ns: n } })
  }
}

export const rendezvousServerTarget = behaviourTarget('rendezvous-server', {
  protocols: [RENDEZVOUS_PROTOCOL],
  schema: MESSAGE,
  make: () => new RendezvousServerBehaviour({
    crypto, maxStreamsPerPeer: 3, maxRequestsPerStream: 4, streamTimeout: 2000,
    registry: { maxRegistrations: 4, maxRegistrationsPerPeer: 3 },
  }) as unknown as Behaviour<unknown>,
  decode: (b) => { decodeRendezvous(b) },
  invariant: (b) => {
    const s = b as unknown as RendezvousServerBehaviour
    check(s.registry.size <= 4, `the point holds ${s.registry.size} registrations, maxRegistrations 4`)
    check(s.openStreams <= 3, `the point holds ${s.openStreams} streams of one peer, maxStreamsPerPeer 3`)
  },
  message: (r) => (r.chance(0.5) ? wellFormed(r) : encodeLp(genMessage(r, MESSAGE))),
})
