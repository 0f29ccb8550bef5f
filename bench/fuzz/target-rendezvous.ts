/**
 * Rendezvous target (src/rendezvous): the Message codec, its framing on a stream, and the registry
 * answering a remote's decoded messages. The first input byte picks the mode and the chunking; the
 * rest is a schema-generated Message (or two framed ones), mutated.
 * Checks: only ProtocolError('rendezvous', 'rendezvous/...') escapes the codec; a decoded message
 * re-encodes to a fixed point; the frame decoder's buffer stays bounded; the registry never throws,
 * answers REGISTER and DISCOVER, and never holds more than its caps.
 */
import { ProtocolError } from '../../src/core/errors.js'
import { equals } from '../../src/core/bytes.js'
import { encodeLp } from '../../src/core/lp.js'
import { Multiaddr } from '../../src/multiaddr/index.js'
import { privateKeyFromSeed, sealPeerRecord } from '../../src/peer-id/index.js'
import { DEFAULT_RENDEZVOUS_MESSAGE_LIMITS, MessageType, RendezvousDecoder, RendezvousRegistry, decodeRendezvous, encodeRendezvous } from '../../src/rendezvous/index.js'
import { check, count, type Target } from './engine.js'
import { concatBytes, deliver, mutate } from './mutate.js'
import { genMessage, type Schema } from './pbgen.js'
import { Rand } from './rng.js'
import { fuzzCrypto } from './crypto.js'

const crypto = fuzzCrypto()
const KEY = privateKeyFromSeed(new Uint8Array(32).fill(31), crypto)
const PEER = KEY.publicKey.toPeerId(crypto)
const RECORD = sealPeerRecord(KEY, { peerId: PEER, seq: 1n, addrs: [Multiaddr.fromString('/ip4/11.0.0.3/tcp/4001')] }, crypto).bytes
const ns = { text: (r: Rand) => r.pick(['my-app', '', 'a', 'x'.repeat(256)]) }
const REGISTER: Schema = { 1: ns, 2: { gen: (r: Rand) => (r.chance(0.8) ? RECORD : r.bytes(r.size(40))) }, 3: { oneOf: [7200, 0, 259200, 259201] } }
const MESSAGE: Schema = {
  1: { oneOf: [0, 1, 2, 3, 4, 9] },
  2: { msg: REGISTER },
  3: { msg: { 1: { oneOf: [0, 100, 101, 102, 103, 200, 300, 400, 7] }, 2: 'string', 3: 'varint' } },
  4: { msg: { 1: ns } },
  5: { msg: { 1: ns, 2: 'varint', 3: 'bytes' } },
  6: { msg: { 1: { msg: REGISTER }, 2: 'bytes', 3: { oneOf: [0, 103] }, 4: 'string' } },
}

const stats: Record<string, number> = {}
const CAPS = { maxRegistrations: 3, maxRegistrationsPerPeer: 2 }

export const rendezvousTarget: Target = {
  name: 'rendezvous',
  stats,
  generate(r) {
    const mode = r.int(256)
    const body = mode % 3 === 1 ? concatBytes([encodeLp(genMessage(r, MESSAGE)), encodeLp(genMessage(r, MESSAGE))]) : genMessage(r, MESSAGE)
    return concatBytes([Uint8Array.of(mode), r.chance(0.3) ? body : mutate(r, body)])
  },
  run(input) {
    try {
      runRendezvous(input)
    } catch (e) {
      if (e instanceof ProtocolError) check(e.protocol === 'rendezvous' && e.code.startsWith('rendezvous/'), `ProtocolError(${e.protocol}, ${e.code}) escaped the rendezvous codec`)
      throw e
    }
  },
}

function runRendezvous(input: Uint8Array): void {
  const mode = input[0] ?? 0
  const b = input.subarray(1)
  if (mode % 3 === 1) {
    const dec = new RendezvousDecoder()
    deliver(b, mode >> 2, new Rand(mode), (piece) => {
      dec.push(piece)
      while (dec.next() !== undefined);
      check(dec.buffered <= DEFAULT_RENDEZVOUS_MESSAGE_LIMITS.maxMessageSize + 9, `RendezvousDecoder buffers ${dec.buffered}`)
    })
    return
  }
  const msg = decodeRendezvous(b)
  const once = encodeRendezvous(msg)
  check(equals(encodeRendezvous(decodeRendezvous(once)), once), 'Message: encode(decode(x)) is not a fixed point')
  if (mode % 3 === 0) return
  // The registry answers whatever decoded; it never throws and stays within its caps.
  const reg = new RendezvousRegistry(crypto, CAPS)
  for (let t = 0; t < 4; t++) {
    const res = reg.handle(t * 1000, PEER, msg)
    const wants = msg.type === MessageType.REGISTER || msg.type === MessageType.DISCOVER
    check(wants === (res !== undefined), `registry answer for type ${msg.type}`)
    if (res?.type === MessageType.REGISTER_RESPONSE) count(stats, `register ${res.registerResponse.status}`)
    check(reg.size <= CAPS.maxRegistrations, `registry holds ${reg.size}`)
  }
}
