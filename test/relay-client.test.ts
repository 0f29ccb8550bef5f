/**
 * The relay client's reservation manager (src/relay/client.ts) on a virtual clock: reserve, check
 * the answer (voucher, expire, addrs), renew at 3/4 of the lifetime (never before minRenewDelay),
 * lose on relay disconnect or expiry, re-reserve when the relay comes back, retry with backoff,
 * time out, and the limits at and one past their values. spec/relay.md "Relay client".
 */
import { describe, expect, test } from 'vitest'
import { Harness, testIdentity } from './helpers/behaviour-harness.js'
import { RelayClientBehaviour, RelayStatusError, DEFAULT_RELAY_CLIENT_LIMITS, type RelayClientEvent, type RelayReservationEvent, type RelayClientLimits } from '../src/relay/client.js'
import { encodeHopFrame, HopType, Status, sealVoucher, type HopMessage } from '../src/relay/index.js'
import { HOP_PROTOCOL, encodeHopMessage } from '../src/relay/message.js'
import { encodeLp } from '../src/core/lp.js'
import { concat } from '../src/core/bytes.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { OutcomeError, ProtocolError } from '../src/core/errors.js'
import type { BehaviourAction, ConnectionInfo, StreamRef } from '../src/swarm/behaviour.js'

const relay = testIdentity(1, '/ip4/203.0.113.1/tcp/4001')
const self = testIdentity(2, '/ip4/10.0.0.2/tcp/4001')
const other = testIdentity(3, '/ip4/203.0.113.3/tcp/4001')
const RELAY_ADDR = Multiaddr.fromString(`/ip4/203.0.113.1/tcp/4001/p2p/${relay.peer.toString()}`)
/** Wall clock at node creation: a whole second, so `expire` seconds give exact lifetimes. */
const EPOCH = 1_700_000_000_000
const EPOCH_S = BigInt(EPOCH / 1000)

type H = Harness<RelayClientEvent>

function client(limits: Partial<RelayClientLimits> = {}, epoch = EPOCH): H {
  return new Harness(new RelayClientBehaviour({ crypto: nobleCrypto, self: self.peer, epoch, limits }))
}

function conn(id: number, limited = false): ConnectionInfo {
  return {
    id, peer: relay.peer, remotePublicKey: relay.publicKey, remoteAddr: relay.addr, localAddr: undefined, direction: 'outbound',
    opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: false, limited,
  }
}

function reservationEvents(h: H): RelayReservationEvent[] {
  return h.events().flatMap((e) => (e.type === 'reservation' ? [e.event] : []))
}

function voucherFor(peer = self.peer, key = relay.key, expiration = EPOCH_S + 3600n): Uint8Array {
  return sealVoucher(key, { relay: key.publicKey.toPeerId(nobleCrypto), peer, expiration }, nobleCrypto).bytes
}

function ok(expire: bigint = EPOCH_S + 3600n, extra: Partial<HopMessage> = {}): HopMessage {
  return {
    type: HopType.STATUS, status: Status.OK,
    reservation: { expire, addrs: [Multiaddr.fromString('/ip4/203.0.113.1/tcp/4001')], voucher: voucherFor(self.peer, relay.key, expire) },
    limit: { duration: 120, data: 131072n },
    ...extra,
  }
}

/** Drive one reservation attempt to the point where RESERVE was written; returns the hop stream. */
function toReserve(h: H, actions: BehaviourAction<RelayClientEvent>[], connection = 1, stream = 1): StreamRef {
  const dial = actions.find((a) => a.type === 'dial')
  let open = actions.find((a) => a.type === 'open-stream')
  if (dial?.type === 'dial') {
    expect(dial.peer?.equals(relay.peer)).toBe(true)
    const out = h.input({ type: 'dial-succeeded', requestId: dial.requestId, connection: conn(connection) })
    open = out.find((a) => a.type === 'open-stream')
  }
  expect(open?.type).toBe('open-stream')
  if (open?.type !== 'open-stream') throw new Error('no open-stream')
  expect(open.protocols).toEqual([HOP_PROTOCOL])
  expect(open.connection).toBe(connection)
  const ref = { connection, stream }
  const out = h.input({ type: 'stream-opened', stream: ref, protocol: HOP_PROTOCOL, direction: 'outbound', connection: conn(connection), requestId: open.requestId })
  const w = out.find((a) => a.type === 'write')
  expect(w?.type === 'write' && [...w.data]).toEqual([...encodeHopFrame({ type: HopType.RESERVE })])
  return ref
}

function answer(h: H, ref: StreamRef, msg: HopMessage): BehaviourAction<RelayClientEvent>[] {
  return h.input({ type: 'stream-data', stream: ref, data: encodeHopFrame(msg) })
}

/** A harness holding a reservation on connection 1. */
function reserved(limits: Partial<RelayClientLimits> = {}, msg = ok()): H {
  const h = client(limits)
  const ref = toReserve(h, add(h))
  answer(h, ref, msg)
  expect(reservationEvents(h).at(-1)?.type).toBe('accepted')
  return h
}

const b = (h: H): RelayClientBehaviour => h.behaviour as RelayClientBehaviour
const add = (h: H, addr = RELAY_ADDR): BehaviourAction<RelayClientEvent>[] => { b(h).addRelay(h.now, addr); return h.drain() }

describe('reservation', () => {
  test('accepted: protect the relay, advertise <addr>/p2p/<relay>/p2p-circuit, close the hop stream', () => {
    const h = client()
    const ref = toReserve(h, add(h))
    const out = answer(h, ref, ok())
    expect(out).toContainEqual({ type: 'close-write', stream: ref })
    expect(out).toContainEqual({ type: 'protect-peer', peer: relay.peer, tag: 'relay-reservation', protect: true })
    expect(out).toContainEqual({ type: 'event', event: { type: 'listen-addrs' } })
    const ev = reservationEvents(h)[0]!
    expect(ev.type).toBe('accepted')
    if (ev.type !== 'accepted') return
    expect(ev.reservation.expire).toBe(EPOCH_S + 3600n)
    expect(ev.reservation.limit).toEqual({ duration: 120, data: 131072n })
    expect(ev.reservation.voucher?.peer.equals(self.peer)).toBe(true)
    expect(b(h).listenAddrs().map(String)).toEqual([`/ip4/203.0.113.1/tcp/4001/p2p/${relay.peer.toString()}/p2p-circuit`])
    expect(b(h).hasReservation(relay.peer)).toBe(true)
  })

  test('a limited connection to the relay is neither used nor counted for the reservation', () => {
    const h = client()
    const dial = add(h).find((a) => a.type === 'dial')!
    if (dial.type !== 'dial') return
    const out = h.input({ type: 'dial-succeeded', requestId: dial.requestId, connection: conn(7, true) })
    const open = out.find((a) => a.type === 'open-stream')
    expect(open?.type === 'open-stream' && open.connection).toBeUndefined() // the swarm picks a direct one (or fails)
    const h2 = reserved()
    h2.input({ type: 'connection-established', connection: conn(8, true) })
    h2.input({ type: 'connection-closed', connection: conn(8, true) })
    expect(b(h2).hasReservation(relay.peer)).toBe(true)
  })

  test('the answer in any chunking (one byte at a time)', () => {
    const h = client()
    const ref = toReserve(h, add(h))
    for (const byte of encodeHopFrame(ok())) h.input({ type: 'stream-data', stream: ref, data: Uint8Array.of(byte) })
    expect(reservationEvents(h).map((e) => e.type)).toEqual(['accepted'])
  })

  test('relay addresses: /p2p/<relay> added, other peers and /p2p-circuit dropped, none left is a protocol error', () => {
    const addrs = [
      Multiaddr.fromString('/ip4/203.0.113.1/tcp/4001'),
      Multiaddr.fromString(`/ip4/203.0.113.9/tcp/1/p2p/${relay.peer.toString()}`),
      Multiaddr.fromString(`/ip4/203.0.113.1/tcp/4001/p2p/${other.peer.toString()}`),
      Multiaddr.fromString(`/ip4/203.0.113.1/tcp/4001/p2p/${relay.peer.toString()}/p2p-circuit`),
    ]
    const h = reserved({}, ok(undefined, { reservation: { expire: EPOCH_S + 3600n, addrs } }))
    expect(b(h).reservations()[0]!.addrs.map(String)).toEqual([`/ip4/203.0.113.1/tcp/4001/p2p/${relay.peer.toString()}`, `/ip4/203.0.113.9/tcp/1/p2p/${relay.peer.toString()}`])
  })

  test.each([
    ['no reservation in OK', { type: HopType.STATUS, status: Status.OK } as HopMessage, 'relay/missing-field'],
    ['empty addrs', ok(undefined, { reservation: { expire: EPOCH_S + 3600n, addrs: [] } }), 'relay/no-reservation-addrs'],
    ['only foreign addrs', ok(undefined, { reservation: { expire: EPOCH_S + 3600n, addrs: [Multiaddr.fromString(`/ip4/1.2.3.4/tcp/1/p2p/${other.peer.toString()}`)] } }), 'relay/no-reservation-addrs'],
    ['expire now (not in the future)', ok(EPOCH_S), 'relay/reservation-expired'],
    ['expire in the past', ok(EPOCH_S - 10n), 'relay/reservation-expired'],
    ['voucher signed by another key', ok(undefined, { reservation: { expire: EPOCH_S + 3600n, addrs: [relay.addr], voucher: voucherFor(self.peer, other.key) } }), 'relay/voucher-relay-mismatch'],
    ['voucher for another peer', ok(undefined, { reservation: { expire: EPOCH_S + 3600n, addrs: [relay.addr], voucher: voucherFor(other.peer) } }), 'relay/voucher-peer-mismatch'],
    ['voucher expired', ok(undefined, { reservation: { expire: EPOCH_S + 3600n, addrs: [relay.addr], voucher: voucherFor(self.peer, relay.key, EPOCH_S) } }), 'relay/voucher-expired'],
    ['voucher garbage', ok(undefined, { reservation: { expire: EPOCH_S + 3600n, addrs: [relay.addr], voucher: Uint8Array.of(1, 2, 3) } }), 'relay/voucher-malformed'],
    ['not a STATUS', { type: HopType.RESERVE } as HopMessage, 'relay/unexpected-message'],
  ])('%s: ProtocolError, the stream reset, no reservation', (_name, msg, code) => {
    const h = client()
    const ref = toReserve(h, add(h))
    const out = answer(h, ref, msg)
    expect(out).toContainEqual({ type: 'reset', stream: ref })
    const ev = reservationEvents(h)[0]!
    expect(ev.type).toBe('failed')
    if (ev.type !== 'failed') return
    expect(ev.error).toBeInstanceOf(ProtocolError)
    expect((ev.error as ProtocolError).code).toBe(code)
    expect(b(h).listenAddrs()).toEqual([])
  })

  test('maxMessageSize (4096): a 4096-byte STATUS is read, a 4097-byte one fails', () => {
    /** A valid OK answer padded with an unknown field to exactly `size` body bytes. */
    const padded = (size: number): Uint8Array => {
      const base = encodeHopMessage(ok())
      const l = size - base.length - 3 // tag (1 byte) + a 2-byte varint length
      expect(l).toBeGreaterThanOrEqual(128)
      return encodeLp(concat([base, Uint8Array.of(0x7a, (l & 0x7f) | 0x80, l >> 7), new Uint8Array(l)]))
    }
    const h = client()
    h.input({ type: 'stream-data', stream: toReserve(h, add(h)), data: padded(4096) })
    expect(reservationEvents(h).map((e) => e.type)).toEqual(['accepted'])
    const h2 = client()
    h2.input({ type: 'stream-data', stream: toReserve(h2, add(h2)), data: padded(4097) })
    const ev = reservationEvents(h2)[0]!
    expect(ev.type === 'failed' && (ev.error as ProtocolError).code).toBe('relay/message-too-large')
  })

  test('a refusal keeps the status and retries with a doubling backoff', () => {
    const h = client()
    const ref = toReserve(h, add(h))
    answer(h, ref, { type: HopType.STATUS, status: Status.RESERVATION_REFUSED })
    const ev = reservationEvents(h)[0]!
    expect(ev.type).toBe('refused')
    if (ev.type !== 'refused') return
    expect(ev.status).toBe(200)
    expect(ev.statusName).toBe('RESERVATION_REFUSED')
    expect(ev.error).toBeInstanceOf(RelayStatusError)
    expect(ev.error.code).toBe('relay/reservation-refused')
    // retry after retryInitialDelay (5 s): at 4999 nothing, at 5000 a new attempt on the open connection
    expect(h.advance(4999).filter((a) => a.type === 'open-stream')).toEqual([])
    const again = h.advance(1)
    expect(again.map((a) => a.type)).toContain('open-stream')
    const ref2 = toReserve(h, again, 1, 2)
    answer(h, ref2, { type: HopType.STATUS, status: Status.RESOURCE_LIMIT_EXCEEDED })
    expect(h.advance(9999).filter((a) => a.type === 'open-stream')).toEqual([])
    expect(h.advance(1).map((a) => a.type)).toContain('open-stream')
  })

  test('an undefined status keeps its number', () => {
    const e = new RelayStatusError(499, 'x')
    expect(e.code).toBe('relay/status-499')
    expect(e.statusName).toBeUndefined()
    expect(e).toBeInstanceOf(OutcomeError)
  })

  test('retryMaxDelay caps the backoff', () => {
    const h = client({ retryInitialDelay: 1000, retryMaxDelay: 3000 })
    let ref = toReserve(h, add(h))
    const delays: number[] = []
    for (let i = 0; i < 4; i++) {
      answer(h, ref, { type: HopType.STATUS, status: Status.RESERVATION_REFUSED })
      const t0 = h.now
      let out: BehaviourAction<RelayClientEvent>[] = []
      while (!out.some((a) => a.type === 'open-stream')) out = h.advance(500)
      delays.push(h.now - t0)
      ref = toReserve(h, out, 1, 10 + i)
    }
    expect(delays).toEqual([1000, 2000, 3000, 3000])
  })
})

describe('lifetime', () => {
  test('renewal at 3/4 of the granted lifetime, on the same connection (no dial)', () => {
    const h = reserved()
    expect(h.advance(2_700_000 - 1).filter((a) => a.type === 'open-stream' || a.type === 'dial')).toEqual([])
    const out = h.advance(1)
    expect(out.map((a) => a.type)).toEqual(['open-stream'])
    const ref = toReserve(h, out, 1, 2)
    answer(h, ref, ok(EPOCH_S + 2700n + 3600n))
    expect(reservationEvents(h).map((e) => e.type)).toEqual(['accepted', 'renewed'])
    // a renewal does not protect again, nor announce unchanged addresses
    expect(h.log.filter((a) => a.type === 'protect-peer').length).toBe(1)
    expect(h.events().filter((e) => e.type === 'listen-addrs').length).toBe(1)
    // a renewal with other addresses announces them
    const ref3 = toReserve(h, h.advance(2_700_000), 1, 3)
    answer(h, ref3, ok(EPOCH_S + 9000n, { reservation: { expire: EPOCH_S + 9000n, addrs: [Multiaddr.fromString('/ip4/203.0.113.2/tcp/4001')] } }))
    expect(h.events().filter((e) => e.type === 'listen-addrs').length).toBe(2)
    expect(b(h).listenAddrs().map(String)).toEqual([`/ip4/203.0.113.2/tcp/4001/p2p/${relay.peer.toString()}/p2p-circuit`])
  })

  test('minRenewDelay (1000 ms): 3/4 of the lifetime at the limit renews then, one ms under it waits for the limit', () => {
    // lifetime 1333 ms: 3/4 = 999.75 -> 999 < 1000: renewal at 1000
    const h = client({}, EPOCH - 333)
    const ref = toReserve(h, add(h))
    answer(h, ref, ok(EPOCH_S + 1n))
    expect(h.advance(999).filter((a) => a.type === 'open-stream')).toEqual([])
    expect(h.advance(1).map((a) => a.type)).toContain('open-stream')
    // lifetime 4000 ms: 3/4 = 3000 >= 1000
    const h2 = client({ minRenewDelay: 3000 })
    const ref2 = toReserve(h2, add(h2))
    answer(h2, ref2, ok(EPOCH_S + 4n))
    expect(h2.advance(2999).filter((a) => a.type === 'open-stream')).toEqual([])
    expect(h2.advance(1).map((a) => a.type)).toContain('open-stream')
  })

  test('a reservation that is never renewed expires: lost, unprotected, address withdrawn', () => {
    const h = reserved({}, ok(EPOCH_S + 8n))
    // the renewal at 6 s is refused; the retry (5 s later) comes after the expiry at 8 s
    const out = h.advance(6000)
    const ref = toReserve(h, out, 1, 2)
    answer(h, ref, { type: HopType.STATUS, status: Status.RESERVATION_REFUSED })
    expect(b(h).hasReservation(relay.peer)).toBe(true)
    const expired = h.advance(2000)
    expect(expired).toContainEqual({ type: 'protect-peer', peer: relay.peer, tag: 'relay-reservation', protect: false })
    expect(reservationEvents(h).at(-1)).toEqual({ type: 'lost', relay: relay.peer, reason: 'expired' })
    expect(b(h).listenAddrs()).toEqual([])
  })

  test('the relay connection closing drops the reservation; the relay coming back re-reserves at once', () => {
    const h = reserved()
    const out = h.input({ type: 'connection-closed', connection: conn(1) })
    expect(out).toContainEqual({ type: 'protect-peer', peer: relay.peer, tag: 'relay-reservation', protect: false })
    expect(out).toContainEqual({ type: 'event', event: { type: 'listen-addrs' } })
    expect(reservationEvents(h).at(-1)).toEqual({ type: 'lost', relay: relay.peer, reason: 'connection-closed' })
    expect(b(h).listenAddrs()).toEqual([])
    const back = h.input({ type: 'connection-established', connection: conn(2) })
    expect(back.map((a) => a.type)).toEqual(['open-stream'])
    const ref = toReserve(h, back, 2, 5)
    answer(h, ref, ok())
    expect(reservationEvents(h).at(-1)?.type).toBe('accepted')
  })

  test('without the relay coming back on its own, it is redialed after retryInitialDelay', () => {
    const h = reserved()
    h.input({ type: 'connection-closed', connection: conn(1) })
    expect(h.advance(4999).filter((a) => a.type === 'dial')).toEqual([])
    expect(h.advance(1).map((a) => a.type)).toContain('dial')
  })

  test('one of two relay connections closing keeps the reservation', () => {
    const h = reserved()
    h.input({ type: 'connection-established', connection: conn(1) })
    h.input({ type: 'connection-established', connection: conn(2) })
    h.input({ type: 'connection-closed', connection: conn(1) })
    expect(b(h).hasReservation(relay.peer)).toBe(true)
  })

  test('removeRelay: the last holder drops the reservation', () => {
    const h = reserved()
    b(h).addRelay(h.now, RELAY_ADDR)
    b(h).removeRelay(relay.peer)
    expect(b(h).hasReservation(relay.peer)).toBe(true)
    b(h).removeRelay(relay.peer)
    h.drain()
    expect(reservationEvents(h).at(-1)).toEqual({ type: 'lost', relay: relay.peer, reason: 'removed' })
  })
})

describe('failures', () => {
  test('reserveTimeout (60 s): no answer at 59 999 ms is still waiting, at 60 000 the stream is reset', () => {
    const h = client()
    const ref = toReserve(h, add(h))
    expect(h.advance(DEFAULT_RELAY_CLIENT_LIMITS.reserveTimeout - 1).filter((a) => a.type === 'reset')).toEqual([])
    const out = h.advance(1)
    expect(out).toContainEqual({ type: 'reset', stream: ref })
    const ev = reservationEvents(h)[0]!
    expect(ev.type === 'failed' && (ev.error as OutcomeError).code).toBe('relay/reserve-timeout')
  })

  test('dial failure, stream refusal and an early EOF are reported and retried', () => {
    const h = client()
    const dial = add(h).find((a) => a.type === 'dial')!
    if (dial.type !== 'dial') return
    h.input({ type: 'dial-failed', requestId: dial.requestId, error: new Error('refused') })
    expect(reservationEvents(h)[0]).toMatchObject({ type: 'failed' })
    const retry = h.advance(5000)
    const ref = toReserve(h, retry)
    h.input({ type: 'stream-eof', stream: ref })
    const ev = reservationEvents(h)[1]!
    expect(ev.type === 'failed' && (ev.error as ProtocolError).code).toBe('relay/closed-early')
  })

  test('bad relay addresses are a UsageError at the call', () => {
    const h = client()
    expect(() => b(h).addRelay(0, Multiaddr.fromString('/ip4/1.2.3.4/tcp/1'))).toThrow(/name the relay/)
    expect(() => b(h).addRelay(0, Multiaddr.fromString(`/ip4/1.2.3.4/tcp/1/p2p/${relay.peer.toString()}/p2p-circuit/p2p/${other.peer.toString()}`))).toThrow(/nothing may follow/)
    expect(() => b(h).addRelay(0, Multiaddr.fromString(`/p2p/${self.peer.toString()}`))).toThrow(/ourselves/)
  })

  test('limits must be positive', () => {
    expect(() => client({ reserveTimeout: 0 })).toThrow(RangeError)
  })
})

describe('relays option and deadlines', () => {
  test('relays given at construction start on the first local-info', () => {
    const h = new Harness(new RelayClientBehaviour({ crypto: nobleCrypto, self: self.peer, epoch: EPOCH, relays: [RELAY_ADDR] }))
    expect(h.drain()).toEqual([])
    const out = h.input({ type: 'local-info', listenAddrs: [], protocols: [] })
    expect(out.map((a) => a.type)).toEqual(['dial'])
    expect(h.input({ type: 'local-info', listenAddrs: [], protocols: [] })).toEqual([])
  })

  test('armDeadline: an event at the deadline, none when cleared', () => {
    const h = client()
    const t1 = b(h).armDeadline(0, 100)
    const t2 = b(h).armDeadline(0, 100)
    b(h).clearDeadline(t2)
    expect(h.advance(99)).toEqual([])
    expect(h.advance(1)).toEqual([{ type: 'event', event: { type: 'deadline', token: t1 } }])
  })
})
