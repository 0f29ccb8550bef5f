/**
 * Circuit Relay v2 codec target (src/relay): HopMessage, StopMessage, their framing on a stream, and
 * reservation vouchers. The first input byte picks the decoder and the chunking; the rest is a
 * schema-generated message (valid peer ids and multiaddrs most of the time), mutated.
 * Checks: only ProtocolError('relay', 'relay/...') escapes; a decoded message re-encodes to bytes
 * that decode to the same encoding (a fixed point); the frame decoder's buffer stays bounded.
 */
import { ProtocolError } from '../../src/core/errors.js'
import { equals } from '../../src/core/bytes.js'
import { encodeLp } from '../../src/core/lp.js'
import { Multiaddr } from '../../src/multiaddr/index.js'
import { privateKeyFromSeed } from '../../src/peer-id/index.js'
import {
  DEFAULT_RELAY_MESSAGE_LIMITS, RelayFrameDecoder, decodeHopMessage, decodeStopMessage, encodeHopMessage, encodeStopMessage, openVoucher, sealVoucher,
} from '../../src/relay/index.js'
import { check, type Target } from './engine.js'
import { concatBytes, deliver, mutate } from './mutate.js'
import { genMessage, type Schema } from './pbgen.js'
import { Rand } from './rng.js'
import { fuzzCrypto } from './crypto.js'

const crypto = fuzzCrypto()
const RELAY_KEY = privateKeyFromSeed(new Uint8Array(32).fill(11), crypto)
const PEERS = [11, 12].map((i) => privateKeyFromSeed(new Uint8Array(32).fill(i), crypto).publicKey.toPeerId(crypto))
const ADDRS = ['/ip4/198.51.100.1/tcp/4001', '/ip6/2001:db8::1/udp/4001/quic-v1', '/dns4/relay.example/tcp/443/wss'].map((s) => Multiaddr.fromString(s).bytes)
const VOUCHER = sealVoucher(RELAY_KEY, { relay: PEERS[0]!, peer: PEERS[1]!, expiration: 1767229200n }, crypto).bytes

const peerId = { gen: (r: Rand) => (r.chance(0.9) ? r.pick(PEERS).multihash : r.bytes(r.size(40))) }
const addr = { gen: (r: Rand) => (r.chance(0.9) ? r.pick(ADDRS) : r.bytes(r.size(40))) }
const PEER: Schema = { 1: peerId, 2: addr }
const LIMIT: Schema = { 1: 'varint', 2: 'varint' }
const STATUS = { oneOf: [0, 100, 200, 201, 202, 203, 204, 400, 401] }
const HOP: Schema = {
  1: { oneOf: [0, 1, 2] }, 2: { msg: PEER }, 4: { msg: LIMIT }, 5: STATUS,
  3: { msg: { 1: 'varint', 2: addr, 3: { gen: (r: Rand) => (r.chance(0.7) ? VOUCHER : r.bytes(r.size(200))) } } },
}
const STOP: Schema = { 1: { oneOf: [0, 1] }, 2: { msg: PEER }, 3: { msg: LIMIT }, 4: STATUS }

export const relayTarget: Target = {
  name: 'relay',
  generate(r) {
    const mode = r.int(256)
    const kind = mode % 4
    let body: Uint8Array
    if (kind === 3) body = VOUCHER
    else if (kind === 1) body = genMessage(r, STOP)
    else if (kind === 2) body = concatBytes([encodeLp(genMessage(r, HOP)), encodeLp(genMessage(r, HOP))])
    else body = genMessage(r, HOP)
    return concatBytes([Uint8Array.of(mode), mutate(r, body)])
  },
  run(input) {
    try {
      runRelay(input)
    } catch (e) {
      // the engine accepts any ProtocolError; this codec promises its own protocol and codes only
      if (e instanceof ProtocolError) check(e.protocol === 'relay' && e.code.startsWith('relay/'), `ProtocolError(${e.protocol}, ${e.code}) escaped the relay codec`)
      throw e
    }
  },
}

function runRelay(input: Uint8Array): void {
  const mode = input[0] ?? 0
  const b = input.subarray(1)
  switch (mode % 4) {
    case 0: {
      const m = decodeHopMessage(b)
      const once = encodeHopMessage(m)
      check(equals(encodeHopMessage(decodeHopMessage(once)), once), 'HopMessage: encode(decode(x)) is not a fixed point')
      return
    }
    case 1: {
      const m = decodeStopMessage(b)
      const once = encodeStopMessage(m)
      check(equals(encodeStopMessage(decodeStopMessage(once)), once), 'StopMessage: encode(decode(x)) is not a fixed point')
      return
    }
    case 2: {
      const dec = RelayFrameDecoder.hop()
      deliver(b, mode >> 2, new Rand(mode), (piece) => {
        dec.push(piece)
        while (dec.next() !== undefined);
        check(dec.buffered <= DEFAULT_RELAY_MESSAGE_LIMITS.maxMessageSize + 9, `RelayFrameDecoder buffers ${dec.buffered}`)
      })
      return
    }
    default:
      openVoucher(b, crypto)
  }
}
