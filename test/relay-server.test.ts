/**
 * The relay server behaviour alone (src/relay/server*.ts): reservations, CONNECT / STOP, refusals,
 * limits at the limit and one past, splicing with manual flow control. No IO: inputs are fed by
 * test/relay-server-driver.ts on a virtual clock.
 */
import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { streamKey } from '../src/swarm/behaviour.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import {
  DEFAULT_RELAY_SERVER_OPTIONS, HOP_TAG, HopType, RESERVATION_TAG, Status, StopType, circuitRelayServer, encodeHopFrame,
  encodeStopFrame, openVoucher, resolveRelayServerOptions,
} from '../src/relay/index.js'
import type { RelayServerEvent } from '../src/relay/index.js'
import { EPOCH, RelayDriver, alice, bob, carol, hopMessages, on, onlyHop, relayId, stopMessages, written } from './relay-server-driver.js'
import type { Action } from './relay-server-driver.js'
import { testIdentity } from './helpers/behaviour-harness.js'

const ev = (d: RelayDriver, type: RelayServerEvent['type']): RelayServerEvent[] => d.events().filter((e) => e.type === type)

describe('reservations', () => {
  test('RESERVE: STATUS OK with expire, the relay addresses with /p2p, a voucher and the default limit; stream closed; peer tagged', () => {
    const d = new RelayDriver()
    d.h.now = 5_000
    const a = d.connect(alice)
    const { ref, answer, actions } = d.reserve(a)
    expect(answer.type).toBe(HopType.STATUS)
    expect(answer.status).toBe(Status.OK)
    const expire = BigInt(Math.floor((EPOCH + 5_000 + 3_600_000) / 1000))
    expect(answer.reservation!.expire).toBe(expire)
    expect(answer.reservation!.addrs.map(String)).toEqual([`/ip4/11.0.0.1/tcp/4001/p2p/${relayId.peer.toString()}`])
    const { voucher } = openVoucher(answer.reservation!.voucher!, nobleCrypto, { relay: relayId.peer, peer: alice.peer })
    expect(voucher.expiration).toBe(expire)
    expect(answer.limit).toEqual({ duration: 120, data: 131072n })
    expect(on(actions, 'close-write', ref)).toHaveLength(1)
    expect(actions).toContainEqual({ type: 'tag-peer', peer: alice.peer, tag: RESERVATION_TAG, value: 10 })
    expect(ev(d, 'reservation-accepted')).toMatchObject([{ peer: alice.peer, expire, renewed: false }])
    expect(d.relay.reservationCount).toBe(1)
  })

  test('addresses: confirmed external first, then listen ones; unspecified, relayed and repeated ones left out; never empty', () => {
    const d = new RelayDriver({}, ['/ip4/0.0.0.0/tcp/4001', '/ip4/127.0.0.1/tcp/4001', '/ip4/11.0.0.1/tcp/4001/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN/p2p-circuit'])
    d.h.input({ type: 'reachability', reachable: true, externalAddrs: [Multiaddr.fromString('/ip4/11.9.9.9/tcp/4001'), Multiaddr.fromString('/ip4/127.0.0.1/tcp/4001')] })
    const p = `/p2p/${relayId.peer.toString()}`
    expect(d.relay.reservationAddrs().map(String)).toEqual([`/ip4/11.9.9.9/tcp/4001${p}`, `/ip4/127.0.0.1/tcp/4001${p}`])
  })

  test('no address to offer: RESERVATION_REFUSED', () => {
    const d = new RelayDriver({}, ['/ip4/0.0.0.0/tcp/4001'])
    const { answer } = d.reserve(d.connect(alice))
    expect(answer.status).toBe(Status.RESERVATION_REFUSED)
    expect(answer.reservation).toBeUndefined()
    expect(d.relay.reservationCount).toBe(0)
    expect(ev(d, 'reservation-refused')).toMatchObject([{ status: 'RESERVATION_REFUSED' }])
  })

  test('addresses are trimmed to fit one message', () => {
    const listen = Array.from({ length: 16 }, (_, i) => `/dns4/${'x'.repeat(200)}${i}.example/tcp/4001`)
    const d = new RelayDriver({}, listen)
    const { actions, ref } = d.reserve(d.connect(alice))
    const frame = on(actions, 'write', ref)[0] as { data: Uint8Array }
    expect(frame.data.length).toBeLessThanOrEqual(4096)
    const n = onlyHop(actions, ref).reservation!.addrs.length
    expect(n).toBeGreaterThan(1)
    expect(n).toBeLessThan(16)
  })

  test('a new RESERVE from the same peer replaces the old one (renewed, same count, tagged once)', () => {
    const d = new RelayDriver()
    const a = d.connect(alice)
    const first = d.reserve(a).answer.reservation!.expire
    d.h.now = 10_000
    const second = d.reserve(a)
    expect(second.answer.reservation!.expire).toBe(first + 10n)
    expect(d.relay.reservationCount).toBe(1)
    expect(second.actions.filter((x) => x.type === 'tag-peer')).toHaveLength(0)
    expect(ev(d, 'reservation-accepted').map((e) => (e as { renewed: boolean }).renewed)).toEqual([false, true])
    // it expires at the new time, not the old one
    d.advance(3_600_000 - 1)
    expect(ev(d, 'reservation-closed')).toHaveLength(0)
    d.advance(1)
    expect(ev(d, 'reservation-closed')).toMatchObject([{ peer: alice.peer, reason: 'expired' }])
  })

  test('expiry: the reservation ends at expire, the tag goes, CONNECT then gets NO_RESERVATION', () => {
    const d = new RelayDriver({ reservationTtl: 10_000 })
    const a = d.connect(alice)
    const b = d.connect(bob)
    d.reserve(a)
    d.advance(9_999)
    expect(d.relay.hasReservation(alice.peer)).toBe(true)
    const out = d.advance(1)
    expect(d.relay.hasReservation(alice.peer)).toBe(false)
    expect(out).toContainEqual({ type: 'tag-peer', peer: alice.peer, tag: RESERVATION_TAG, value: undefined })
    const { ref, actions } = d.connectTo(b, alice)
    expect(onlyHop(actions, ref).status).toBe(Status.NO_RESERVATION)
  })

  test("the reservation ends when the peer's last connection closes, not before", () => {
    const d = new RelayDriver()
    const a1 = d.connect(alice)
    const a2 = d.connect(alice)
    d.reserve(a1)
    d.disconnect(a1)
    expect(d.relay.hasReservation(alice.peer)).toBe(true)
    const out = d.disconnect(a2)
    expect(d.relay.hasReservation(alice.peer)).toBe(false)
    expect(out).toContainEqual({ type: 'tag-peer', peer: alice.peer, tag: RESERVATION_TAG, value: undefined })
    expect(ev(d, 'reservation-closed')).toMatchObject([{ reason: 'disconnected' }])
  })

  test('maxReservations: at the limit accepted, one past refused; a renewal at the limit is accepted', () => {
    const d = new RelayDriver({ maxReservations: 2 })
    const conns = [alice, bob, carol].map((p, i) => d.connect(p, { addr: `/ip4/11.0.1.${i}/tcp/1` }))
    expect(d.reserve(conns[0]!).answer.status).toBe(Status.OK)
    expect(d.reserve(conns[1]!).answer.status).toBe(Status.OK)
    expect(d.reserve(conns[2]!).answer.status).toBe(Status.RESERVATION_REFUSED)
    expect(d.reserve(conns[0]!).answer.status).toBe(Status.OK)
    expect(d.relay.reservationCount).toBe(2)
  })

  test('maxReservationsPerIp (IPv4 address, IPv6 /56): at the limit accepted, one past refused', () => {
    const d = new RelayDriver({ maxReservationsPerIp: 2 })
    const peers = [2, 3, 4, 5].map((s) => testIdentity(20 + s, '/ip4/11.0.0.9/tcp/1'))
    expect(d.reserve(d.connect(peers[0]!, { addr: '/ip4/11.0.0.9/tcp/1' })).answer.status).toBe(Status.OK)
    expect(d.reserve(d.connect(peers[1]!, { addr: '/ip4/11.0.0.9/tcp/2' })).answer.status).toBe(Status.OK)
    expect(d.reserve(d.connect(peers[2]!, { addr: '/ip4/11.0.0.9/tcp/3' })).answer.status).toBe(Status.RESERVATION_REFUSED)
    // another IP is fine; so is a renewal from a full IP
    expect(d.reserve(d.connect(peers[3]!, { addr: '/ip4/11.0.0.10/tcp/1' })).answer.status).toBe(Status.OK)
    const again = d.connect(peers[0]!, { addr: '/ip4/11.0.0.9/tcp/9' })
    expect(d.reserve(again).answer.status).toBe(Status.OK)
    const v6 = new RelayDriver({ maxReservationsPerIp: 1 })
    expect(v6.reserve(v6.connect(peers[0]!, { addr: '/ip6/2001:4860:0:100::1/tcp/1' })).answer.status).toBe(Status.OK)
    expect(v6.reserve(v6.connect(peers[1]!, { addr: '/ip6/2001:4860:0:1ff::2/tcp/1' })).answer.status).toBe(Status.RESERVATION_REFUSED)
    expect(v6.reserve(v6.connect(peers[2]!, { addr: '/ip6/2001:4860:0:200::1/tcp/1' })).answer.status).toBe(Status.OK)
  })

  test('reservation rate limits per peer and per IP: the burst passes, one more is refused, a token comes back after the interval', () => {
    const d = new RelayDriver({ reservationRatePerPeer: { burst: 2, intervalMs: 1000 } })
    const a = d.connect(alice)
    expect(d.reserve(a).answer.status).toBe(Status.OK)
    expect(d.reserve(a).answer.status).toBe(Status.OK)
    expect(d.reserve(a).answer.status).toBe(Status.RESERVATION_REFUSED)
    d.advance(1000)
    expect(d.reserve(a).answer.status).toBe(Status.OK)
    const ip = new RelayDriver({ reservationRatePerIp: { burst: 2, intervalMs: 1000 } })
    expect(ip.reserve(ip.connect(alice, { addr: '/ip4/11.0.0.7/tcp/1' })).answer.status).toBe(Status.OK)
    expect(ip.reserve(ip.connect(bob, { addr: '/ip4/11.0.0.7/tcp/2' })).answer.status).toBe(Status.OK)
    expect(ip.reserve(ip.connect(carol, { addr: '/ip4/11.0.0.7/tcp/3' })).answer.status).toBe(Status.RESERVATION_REFUSED)
  })

  test('rate limiter tables are bounded: past maxRateEntries a new key is refused until entries refill', () => {
    const rate = { burst: 5, intervalMs: 1000 }
    const d = new RelayDriver({ maxRateEntries: 2, reservationRatePerIp: rate, reservationRatePerPeer: rate })
    const ids = [30, 31, 32].map((s) => testIdentity(s, '/ip4/11.0.0.1/tcp/1'))
    expect(d.reserve(d.connect(ids[0]!, { addr: '/ip4/11.0.2.1/tcp/1' })).answer.status).toBe(Status.OK)
    expect(d.reserve(d.connect(ids[1]!, { addr: '/ip4/11.0.2.2/tcp/1' })).answer.status).toBe(Status.OK)
    const c = d.connect(ids[2]!, { addr: '/ip4/11.0.2.3/tcp/1' })
    expect(d.reserve(c).answer.status).toBe(Status.RESERVATION_REFUSED)
    d.advance(5_000)
    expect(d.reserve(c).answer.status).toBe(Status.OK)
  })
})

describe('refusals and hostile requests', () => {
  test('RESERVE and CONNECT over a limited (relayed) connection: PERMISSION_DENIED', () => {
    const d = new RelayDriver()
    d.reserve(d.connect(alice))
    const viaRelay = d.connect(bob, { addr: `/ip4/11.0.0.5/tcp/1/p2p/${carol.peer.toString()}/p2p-circuit`, limited: true })
    expect(d.reserve(viaRelay).answer.status).toBe(Status.PERMISSION_DENIED)
    const { ref, actions } = d.connectTo(viaRelay, alice)
    expect(onlyHop(actions, ref).status).toBe(Status.PERMISSION_DENIED)
    expect(actions.some((a) => a.type === 'open-stream')).toBe(false)
  })

  test('garbage: MALFORMED_MESSAGE, stream closed', () => {
    const d = new RelayDriver()
    const ref = d.openHop(d.connect(alice))
    const actions = d.send(ref, Uint8Array.of(0x03, 0xff, 0xff, 0xff))
    expect(onlyHop(actions, ref).status).toBe(Status.MALFORMED_MESSAGE)
    expect(on(actions, 'close-write', ref)).toHaveLength(1)
    // what follows the answer is ignored
    expect(d.send(ref, new Uint8Array(100_000)).length).toBe(0)
  })

  test('a length prefix over maxMessageSize: MALFORMED_MESSAGE at once, before the body', () => {
    const d = new RelayDriver()
    const at = d.openHop(d.connect(alice))
    // 4096 announced: waits for the body
    expect(d.send(at, Uint8Array.of(0x80, 0x20)).length).toBe(0)
    const past = d.openHop(d.connect(bob))
    expect(onlyHop(d.send(past, Uint8Array.of(0x81, 0x20)), past).status).toBe(Status.MALFORMED_MESSAGE)
  })

  test('a STATUS sent to the relay: UNEXPECTED_MESSAGE', () => {
    const d = new RelayDriver()
    const ref = d.openHop(d.connect(alice))
    expect(onlyHop(d.sendHop(ref, { type: HopType.STATUS, status: 100 }), ref).status).toBe(Status.UNEXPECTED_MESSAGE)
  })

  test('CONNECT to a peer without a reservation (or to itself): NO_RESERVATION', () => {
    const d = new RelayDriver()
    const a = d.connect(alice)
    d.connect(bob)
    const { ref, actions } = d.connectTo(a, bob)
    expect(onlyHop(actions, ref).status).toBe(Status.NO_RESERVATION)
    d.reserve(a)
    const self = d.connectTo(a, alice)
    expect(onlyHop(self.actions, self.ref).status).toBe(Status.NO_RESERVATION)
    expect(ev(d, 'circuit-refused')).toMatchObject([{ src: alice.peer, dst: bob.peer, status: 'NO_RESERVATION' }, { status: 'NO_RESERVATION' }])
  })

  test('a silent hop stream is reset after hopTimeout; an answered one the remote never closes too', () => {
    const d = new RelayDriver({ hopTimeout: 1000 })
    const a = d.connect(alice)
    const silent = d.openHop(a)
    const { ref: answered } = d.reserve(a)
    const out = d.advance(1000)
    expect(on(out, 'reset', silent)).toHaveLength(1)
    expect(on(out, 'reset', answered)).toHaveLength(1)
  })

  test('EOF before a whole request: the relay closes too, answers nothing', () => {
    const d = new RelayDriver()
    const ref = d.openHop(d.connect(alice))
    d.send(ref, Uint8Array.of(0x02, 0x08))
    const out = d.h.input({ type: 'stream-eof', stream: ref }) as Action[]
    expect(out).toEqual([{ type: 'close-write', stream: ref }])
    expect(d.relay.pollTimeout()).toBeUndefined()
  })
})

describe('connect', () => {
  test('CONNECT: STOP CONNECT {peer: initiator, limit} on the reservation connection; OK -> hop STATUS OK {limit}, both streams manual-consume', () => {
    const d = new RelayDriver()
    const a = d.connect(alice)
    const b = d.connect(bob)
    d.reserve(a)
    const { ref: hop, actions } = d.connectTo(b, alice)
    const open = actions.find((x) => x.type === 'open-stream')!
    expect(open).toMatchObject({ peer: alice.peer, connection: a.id })
    expect(actions).toContainEqual({ type: 'tag-peer', peer: bob.peer, tag: HOP_TAG, value: 2 })
    const { ref: stop, actions: stopActions } = d.stopOpened(open, a)
    const [connect] = stopMessages(stopActions, stop)
    expect(connect!.type).toBe(StopType.CONNECT)
    expect(connect!.peer!.id.equals(bob.peer)).toBe(true)
    expect(connect!.limit).toEqual({ duration: 120, data: 131072n })
    const ok = d.send(stop, encodeStopFrame({ type: StopType.STATUS, status: Status.OK }))
    expect(onlyHop(ok, hop)).toEqual({ type: HopType.STATUS, status: Status.OK, limit: { duration: 120, data: 131072n } })
    expect(on(ok, 'manual-consume', hop)).toHaveLength(1)
    expect(on(ok, 'manual-consume', stop)).toHaveLength(1)
    expect(ev(d, 'circuit-opened')).toMatchObject([{ src: bob.peer, dst: alice.peer }])
    expect(d.relay.circuitCount).toBe(1)
  })

  test('bytes flow both ways; a side is credited (consume) only after the other side took the bytes (stream-writable)', () => {
    const d = new RelayDriver()
    const { hop, stop } = d.circuit(d.connect(bob), d.connect(alice), alice)
    const out = d.send(hop, Uint8Array.of(1, 2, 3))
    expect(written(out, stop)).toEqual([1, 2, 3])
    expect(out.some((a) => a.type === 'consume')).toBe(false)
    const credit = d.h.input({ type: 'stream-writable', stream: stop }) as Action[]
    expect(credit).toEqual([{ type: 'consume', stream: hop, bytes: 3 }])
    // a slow reader: the target never takes its bytes; the initiator is never credited again
    for (let i = 0; i < 10; i++) d.send(hop, new Uint8Array(1000))
    expect(d.h.log.filter((a) => a.type === ('consume' as string)).length).toBe(1)
    const back = d.send(stop, Uint8Array.of(9))
    expect(written(back, hop)).toEqual([9])
    expect(d.h.input({ type: 'stream-writable', stream: hop })).toEqual([{ type: 'consume', stream: stop, bytes: 1 }])
  })

  test('flow accounting (property): whatever the interleaving, a side is never credited more than it sent, and all of it once the other side drained', () => {
    type Step = { kind: 'data'; side: 0 | 1; n: number } | { kind: 'writable'; side: 0 | 1 }
    const step = fc.oneof(
      fc.record({ kind: fc.constant('data' as const), side: fc.constantFrom(0 as const, 1 as const), n: fc.integer({ min: 1, max: 5000 }) }),
      fc.record({ kind: fc.constant('writable' as const), side: fc.constantFrom(0 as const, 1 as const) }),
    )
    fc.assert(fc.property(fc.array(step, { maxLength: 40 }), (steps: Step[]) => {
      const d = new RelayDriver({ limitData: 0 })
      const { hop, stop } = d.circuit(d.connect(bob), d.connect(alice), alice)
      const refs = [hop, stop]
      const sent = [0, 0]
      const credited = [0, 0]
      const count = (out: Action[]): void => {
        for (const x of out) if (x.type === 'consume') credited[streamKey(x.stream) === streamKey(hop) ? 0 : 1]! += x.bytes
      }
      for (const s of steps) {
        if (s.kind === 'data') {
          sent[s.side]! += s.n
          count(d.send(refs[s.side]!, new Uint8Array(s.n)))
        } else count(d.h.input({ type: 'stream-writable', stream: refs[s.side]! }) as Action[])
        expect(credited[0]).toBeLessThanOrEqual(sent[0]!)
        expect(credited[1]).toBeLessThanOrEqual(sent[1]!)
      }
      count(d.h.input({ type: 'stream-writable', stream: stop }) as Action[])
      count(d.h.input({ type: 'stream-writable', stream: hop }) as Action[])
      expect(credited).toEqual(sent)
    }))
  })

  test('bytes glued behind CONNECT and behind the STOP STATUS reach the other side after STATUS OK', () => {
    const d = new RelayDriver()
    const a = d.connect(alice)
    d.reserve(a)
    const { ref: hop, actions } = d.connectTo(d.connect(bob), alice, Uint8Array.of(0xaa, 0xbb))
    const more = d.send(hop, Uint8Array.of(0xcc))
    expect(more.length).toBe(0)
    const { ref: stop } = d.stopOpened(actions.find((x) => x.type === 'open-stream')!, a)
    const status = encodeStopFrame({ type: StopType.STATUS, status: Status.OK })
    const ok = d.send(stop, Uint8Array.of(...status, 0xdd))
    expect(written(ok, stop)).toEqual([0xaa, 0xbb, 0xcc])
    const hopBytes = written(ok, hop)
    expect(hopBytes.slice(-1)).toEqual([0xdd])
    expect(hopMessages(ok, hop)[0]!.status).toBe(Status.OK)
  })

  test('memoryBytes counts the bytes held before a splice', () => {
    const d = new RelayDriver()
    const a = d.connect(alice)
    d.reserve(a)
    const base = d.relay.memoryBytes()
    const { ref: hop } = d.connectTo(d.connect(bob), alice, new Uint8Array(1000))
    expect(d.relay.memoryBytes()).toBeGreaterThanOrEqual(base + 1000)
    d.h.input({ type: 'stream-reset', stream: hop })
    expect(d.relay.memoryBytes()).toBeLessThan(base + 1000)
  })

  test('more than maxMessageSize bytes before STATUS OK: both streams reset', () => {
    const d = new RelayDriver()
    const a = d.connect(alice)
    d.reserve(a)
    const { ref: hop, actions } = d.connectTo(d.connect(bob), alice)
    const { ref: stop } = d.stopOpened(actions.find((x) => x.type === 'open-stream')!, a)
    expect(d.send(hop, new Uint8Array(4096)).length).toBe(0)
    const out = d.send(hop, new Uint8Array(1))
    expect(on(out, 'reset', hop)).toHaveLength(1)
    expect(on(out, 'reset', stop)).toHaveLength(1)
    expect(d.relay.circuitCount).toBe(0)
  })

  test('the target refuses, the stop stream fails, or the target is silent: CONNECTION_FAILED', () => {
    const d = new RelayDriver({ connectTimeout: 5000 })
    const a = d.connect(alice)
    const b = d.connect(bob)
    d.reserve(a)
    // refusal
    let c = d.connectTo(b, alice)
    let s = d.stopOpened(c.actions.find((x) => x.type === 'open-stream')!, a)
    let out = d.send(s.ref, encodeStopFrame({ type: StopType.STATUS, status: Status.RESOURCE_LIMIT_EXCEEDED }))
    expect(onlyHop(out, c.ref).status).toBe(Status.CONNECTION_FAILED)
    expect(on(out, 'reset', s.ref)).toHaveLength(1)
    // the stop stream could not be opened
    c = d.connectTo(b, alice)
    const open = c.actions.find((x) => x.type === 'open-stream') as { requestId: number }
    out = d.h.input({ type: 'stream-open-failed', requestId: open.requestId, error: new Error('protocol not supported') }) as Action[]
    expect(onlyHop(out, c.ref).status).toBe(Status.CONNECTION_FAILED)
    // a CONNECT on the stop stream, garbage
    c = d.connectTo(b, alice)
    s = d.stopOpened(c.actions.find((x) => x.type === 'open-stream')!, a)
    out = d.send(s.ref, encodeStopFrame({ type: StopType.CONNECT, peer: { id: bob.peer, addrs: [] } }))
    expect(onlyHop(out, c.ref).status).toBe(Status.CONNECTION_FAILED)
    // silence: CONNECTION_FAILED at connectTimeout, the late stop stream is reset when it opens
    c = d.connectTo(b, alice)
    const late = c.actions.find((x) => x.type === 'open-stream')!
    expect(d.advance(4999).length).toBe(0)
    out = d.advance(1)
    expect(onlyHop(out, c.ref).status).toBe(Status.CONNECTION_FAILED)
    const lateStop = d.stopOpened(late, a)
    expect(on(lateStop.actions, 'reset', lateStop.ref)).toHaveLength(1)
    expect(d.relay.circuitCount).toBe(0)
    expect(ev(d, 'circuit-refused').map((e) => (e as { status: string }).status)).toEqual(Array(4).fill('CONNECTION_FAILED'))
  })

  test('the initiator resets its hop stream while the relay reaches the target: the stop stream is reset', () => {
    const d = new RelayDriver()
    const a = d.connect(alice)
    d.reserve(a)
    const c = d.connectTo(d.connect(bob), alice)
    const s = d.stopOpened(c.actions.find((x) => x.type === 'open-stream')!, a)
    const out = d.h.input({ type: 'stream-reset', stream: c.ref }) as Action[]
    expect(on(out, 'reset', s.ref)).toHaveLength(1)
    // the stream the remote reset is not reset again (fuzz finding)
    expect(on(out, 'reset', c.ref)).toHaveLength(0)
    expect(d.relay.circuitCount).toBe(0)
  })

  test('the target resets the stop stream before its STATUS: CONNECTION_FAILED, the stop stream not reset again', () => {
    const d = new RelayDriver()
    const a = d.connect(alice)
    d.reserve(a)
    const c = d.connectTo(d.connect(bob), alice)
    const s = d.stopOpened(c.actions.find((x) => x.type === 'open-stream')!, a)
    const out = d.h.input({ type: 'stream-reset', stream: s.ref }) as Action[]
    expect(onlyHop(out, c.ref).status).toBe(Status.CONNECTION_FAILED)
    expect(on(out, 'reset', s.ref)).toHaveLength(0)
    expect(d.relay.circuitCount).toBe(0)
  })

  test('a reservation ends with its last direct connection: a relayed one left does not keep it', () => {
    const d = new RelayDriver()
    const a = d.connect(alice)
    const a2 = d.connect(alice)
    d.reserve(a)
    d.connect(alice, { addr: `/ip4/11.0.0.5/tcp/1/p2p/${carol.peer.toString()}/p2p-circuit`, limited: true })
    d.disconnect(a)
    expect(d.relay.hasReservation(alice.peer)).toBe(true)
    // the STOP goes over the remaining direct connection
    const c = d.connectTo(d.connect(bob), alice)
    expect(c.actions.find((x) => x.type === 'open-stream')).toMatchObject({ connection: a2.id })
    d.disconnect(a2)
    expect(d.relay.hasReservation(alice.peer)).toBe(false)
    expect(ev(d, 'reservation-closed')).toMatchObject([{ reason: 'disconnected' }])
  })

  test('maxCircuitsPerPeer: at the limit accepted, one past RESOURCE_LIMIT_EXCEEDED (initiator and target each)', () => {
    const d = new RelayDriver({ maxCircuitsPerPeer: 2 })
    const a = d.connect(alice)
    const b = d.connect(bob)
    const c = d.connect(carol)
    d.reserve(a)
    for (let i = 0; i < 2; i++) expect(d.connectTo(b, alice).actions.some((x) => x.type === 'open-stream')).toBe(true)
    const past = d.connectTo(b, alice)
    expect(onlyHop(past.actions, past.ref).status).toBe(Status.RESOURCE_LIMIT_EXCEEDED)
    // the target is full too, whoever asks
    const other = d.connectTo(c, alice)
    expect(onlyHop(other.actions, other.ref).status).toBe(Status.RESOURCE_LIMIT_EXCEEDED)
  })

  test('maxCircuits: at the limit accepted, one past RESOURCE_LIMIT_EXCEEDED; a closed circuit frees its slot', () => {
    const d = new RelayDriver({ maxCircuits: 1 })
    const a = d.connect(alice)
    const b = d.connect(bob)
    const { hop } = d.circuit(b, a, alice)
    const past = d.connectTo(d.connect(carol), alice)
    expect(onlyHop(past.actions, past.ref).status).toBe(Status.RESOURCE_LIMIT_EXCEEDED)
    d.h.input({ type: 'stream-reset', stream: hop })
    expect(d.relay.circuitCount).toBe(0)
    expect(d.connectTo(b, alice).actions.some((x) => x.type === 'open-stream')).toBe(true)
  })
})

describe('circuit limits', () => {
  test('data: exactly limitData bytes in one direction pass; one more resets both streams', () => {
    const d = new RelayDriver({ limitData: 1000 })
    const { hop, stop } = d.circuit(d.connect(bob), d.connect(alice), alice)
    expect(written(d.send(hop, new Uint8Array(600)), stop)).toHaveLength(600)
    expect(written(d.send(hop, new Uint8Array(400)), stop)).toHaveLength(400)
    // the other direction has its own budget
    expect(written(d.send(stop, new Uint8Array(1000)), hop)).toHaveLength(1000)
    const out = d.send(hop, new Uint8Array(1))
    expect(written(out, stop)).toHaveLength(0)
    expect(on(out, 'reset', hop)).toHaveLength(1)
    expect(on(out, 'reset', stop)).toHaveLength(1)
    expect(ev(d, 'circuit-closed')).toMatchObject([{ reason: 'data-limit', srcToDst: 1001, dstToSrc: 1000 }])
    expect(out).toContainEqual({ type: 'tag-peer', peer: bob.peer, tag: HOP_TAG, value: undefined })
    expect(d.relay.circuitCount).toBe(0)
  })

  test('duration: both streams reset when limitDuration passes, not before', () => {
    const d = new RelayDriver({ limitDuration: 3000 })
    const { hop, stop } = d.circuit(d.connect(bob), d.connect(alice), alice)
    expect(d.advance(2999).filter((a) => a.type === 'reset')).toHaveLength(0)
    const out = d.advance(1)
    expect(on(out, 'reset', hop)).toHaveLength(1)
    expect(on(out, 'reset', stop)).toHaveLength(1)
    expect(ev(d, 'circuit-closed')).toMatchObject([{ reason: 'duration-limit', duration: 3000 }])
  })

  test('limit 0 means none: no Limit sent, no reset', () => {
    const d = new RelayDriver({ limitData: 0, limitDuration: 0 })
    const a = d.connect(alice)
    expect(d.reserve(a).answer.limit).toBeUndefined()
    const { hop, actions } = d.circuit(d.connect(bob), a, alice)
    expect(onlyHop(actions, hop)).toEqual({ type: HopType.STATUS, status: Status.OK })
    d.send(hop, new Uint8Array(1 << 20))
    expect(d.relay.circuitCount).toBe(1)
  })

  test('half-close passes through; the circuit ends cleanly when both streams closed', () => {
    const d = new RelayDriver()
    const { hop, stop } = d.circuit(d.connect(bob), d.connect(alice), alice)
    expect(d.h.input({ type: 'stream-eof', stream: hop })).toEqual([{ type: 'close-write', stream: stop }])
    expect(d.h.input({ type: 'stream-eof', stream: stop })).toEqual([{ type: 'close-write', stream: hop }])
    d.h.input({ type: 'stream-closed', stream: hop })
    expect(d.relay.circuitCount).toBe(1)
    const out = d.h.input({ type: 'stream-closed', stream: stop }) as Action[]
    expect(out.filter((a) => a.type === 'reset')).toHaveLength(0)
    expect(ev(d, 'circuit-closed')).toMatchObject([{ reason: 'closed' }])
  })

  test('a reset on one side resets the other', () => {
    const d = new RelayDriver()
    const { hop, stop } = d.circuit(d.connect(bob), d.connect(alice), alice)
    const out = d.h.input({ type: 'stream-reset', stream: stop }) as Action[]
    expect(on(out, 'reset', hop)).toHaveLength(1)
    expect(on(out, 'reset', stop)).toHaveLength(0)
    expect(ev(d, 'circuit-closed')).toMatchObject([{ reason: 'reset' }])
  })
})

describe('options', () => {
  test('defaults are go-libp2p\'s where go has one', () => {
    expect(DEFAULT_RELAY_SERVER_OPTIONS).toMatchObject({
      reservationTtl: 3_600_000, maxReservations: 128, maxReservationsPerIp: 8, maxCircuitsPerPeer: 16,
      limitDuration: 120_000, limitData: 131072, maxMessageSize: 4096, connectTimeout: 30_000, hopTimeout: 60_000,
    })
  })

  test('bad values are RangeErrors, at the call', () => {
    expect(() => resolveRelayServerOptions({ maxReservations: 0 })).toThrow(RangeError)
    expect(() => resolveRelayServerOptions({ limitData: -1 })).toThrow(RangeError)
    expect(() => resolveRelayServerOptions({ reservationRatePerIp: { burst: 0, intervalMs: 1 } })).toThrow(RangeError)
    expect(() => circuitRelayServer({ hopTimeout: 1.5 })).toThrow(RangeError)
  })

  test('a duration that is not whole seconds is announced rounded up and enforced at that', () => {
    const d = new RelayDriver({ limitDuration: 1500 })
    const a = d.connect(alice)
    expect(d.reserve(a).answer.limit!.duration).toBe(2)
    const { hop } = d.circuit(d.connect(bob), a, alice)
    expect(d.advance(1999).length).toBe(0)
    expect(on(d.advance(1), 'reset', hop)).toHaveLength(1)
  })
})

test('hop frames the relay writes are whole frames (encodeHopFrame) and decode', () => {
  const d = new RelayDriver()
  const { ref, actions } = d.reserve(d.connect(alice))
  const w = on(actions, 'write', ref)[0] as { data: Uint8Array }
  expect(w.data).toEqual(encodeHopFrame(onlyHop(actions, ref)))
})
