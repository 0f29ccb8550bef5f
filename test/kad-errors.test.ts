// Error types tell the truth (issue 11 item 8, audit finding 9): local outcomes of the DHT are
// OutcomeError, a local invalid record is a UsageError, and only what a remote sent is a ProtocolError.
import { describe, expect, test } from 'vitest'
import { Harness, testIdentity } from './helpers/behaviour-harness.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { OutcomeError, ProtocolError, UsageError } from '../src/core/errors.js'
import { concat, utf8 } from '../src/core/bytes.js'
import { encodeLp } from '../src/core/lp.js'
import { encodeKadMessage, KadBehaviour, MessageType } from '../src/kad/index.js'
import type { KadEvent } from '../src/kad/index.js'
import type { BehaviourAction } from '../src/swarm/index.js'

const crypto = nobleCrypto
const random = (n: number): Uint8Array => new Uint8Array(n).fill(7)
const ia = testIdentity(1, '/memory/1')
const ib = testIdentity(2, '/memory/2')

/** Run a command on the harness, then drain its actions (returned, and logged). */
function cmd(h: Harness<KadEvent>, f: (now: number) => unknown): BehaviourAction<KadEvent>[] {
  h.command(f)
  return h.drain()
}

function events(log: BehaviourAction<KadEvent>[]): KadEvent[] {
  return log.flatMap((a) => (a.type === 'event' ? [a.event] : []))
}

/** A node that knows one DHT server (ib) which it can reach. */
function withOnePeer(): { h: Harness<KadEvent>; kad: KadBehaviour } {
  const kad = new KadBehaviour({ crypto, random, peerId: ia.peer })
  const h = new Harness<KadEvent>(kad)
  h.input({ type: 'peer-info', peer: ib.peer, info: { protocols: [kad.protocol], addrs: [ib.addr] }, from: 'identify' })
  return { h, kad }
}

describe('kad errors', () => {
  test('a query with nobody to ask: not-found and no-peers are OutcomeErrors', () => {
    const kad = new KadBehaviour({ crypto, random, peerId: ia.peer })
    const h = new Harness<KadEvent>(kad)
    cmd(h, (now) => kad.get(now, utf8('/v/x'), 1))
    cmd(h, (now) => kad.findPeer(now, ib.peer, 2))
    cmd(h, (now) => kad.provide(now, utf8('cid'), 3))
    const failed = events(h.log).filter((e) => e.type === 'query-failed') as Extract<KadEvent, { type: 'query-failed' }>[]
    expect(failed.map((e) => [e.requestId, (e.error as OutcomeError).code])).toEqual([[1, 'kad/not-found'], [2, 'kad/not-found'], [3, 'kad/no-peers']])
    for (const e of failed) {
      expect(e.error).toBeInstanceOf(OutcomeError)
      expect(e.error).not.toBeInstanceOf(ProtocolError)
    }
  })

  test('a remote that never answers: the RPC fails with OutcomeError kad/timeout, not a protocol error', () => {
    const { h, kad } = withOnePeer()
    cmd(h, (now) => kad.getClosestPeers(now, utf8('x'), 1))
    h.advance(10_000)
    const evs = events(h.log)
    const failed = evs.find((e) => e.type === 'progress' && e.progress.kind === 'failed') as Extract<KadEvent, { type: 'progress' }>
    const err = (failed.progress as { error: Error }).error
    expect(err).toBeInstanceOf(OutcomeError)
    expect(err).toMatchObject({ code: 'kad/timeout' })
    expect(evs.some((e) => e.type === 'protocol-error')).toBe(false)
  })

  test('a whole query past queryTimeout fails with OutcomeError kad/timeout', () => {
    const kad = new KadBehaviour({ crypto, random, peerId: ia.peer, queryTimeout: 1000, requestTimeout: 5000 })
    const h = new Harness<KadEvent>(kad)
    h.input({ type: 'peer-info', peer: ib.peer, info: { protocols: [kad.protocol], addrs: [ib.addr] }, from: 'identify' })
    cmd(h, (now) => kad.get(now, utf8('/v/x'), 1))
    h.advance(1000)
    const f = events(h.log).find((e) => e.type === 'query-failed') as Extract<KadEvent, { type: 'query-failed' }>
    expect(f.error).toBeInstanceOf(OutcomeError)
    expect(f.error).toMatchObject({ code: 'kad/timeout' })
  })

  test('a local put with an invalid record is a UsageError; the same record from a remote is a ProtocolError', () => {
    const key = concat([utf8('/pk/'), ib.peer.multihash])
    const kad = new KadBehaviour({ crypto, random, peerId: ia.peer })
    const h = new Harness<KadEvent>(kad)
    cmd(h, (now) => kad.put(now, key, utf8('not a key'), 1))
    const f = events(h.log).find((e) => e.type === 'query-failed') as Extract<KadEvent, { type: 'query-failed' }>
    expect(f.error).toBeInstanceOf(UsageError)
    expect(f.error).toMatchObject({ code: 'kad/invalid-record' })
    expect((f.error.cause as ProtocolError).code).toBe('kad/invalid-record')

    // From a remote: PUT_VALUE with the same invalid record.
    const stream = { connection: 9, stream: 1 }
    const conn = { id: 9, peer: ib.peer, remotePublicKey: ib.publicKey, remoteAddr: ib.addr, localAddr: undefined, direction: 'inbound' as const, opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
    h.input({ type: 'stream-opened', stream, protocol: kad.protocol, direction: 'inbound', connection: conn })
    const acts = h.input({ type: 'stream-data', stream, data: encodeLp(encodeKadMessage({ type: MessageType.PUT_VALUE, key, record: { key, value: utf8('not a key') }, closerPeers: [], providerPeers: [] })) })
    const pe = events(acts).find((e) => e.type === 'protocol-error') as Extract<KadEvent, { type: 'protocol-error' }>
    expect(pe.error).toBeInstanceOf(ProtocolError)
    expect(pe.error).toMatchObject({ code: 'kad/invalid-record' })
  })

  test('a reset by the remote (how a busy server refuses) is an OutcomeError kad/stream-reset', () => {
    const { h, kad } = withOnePeer()
    const open = cmd(h, (now) => kad.getClosestPeers(now, utf8('x'), 1)).find((a) => a.type === 'open-stream') as Extract<BehaviourAction<KadEvent>, { type: 'open-stream' }>
    const stream = { connection: 3, stream: 1 }
    const conn = { id: 3, peer: ib.peer, remotePublicKey: ib.publicKey, remoteAddr: ib.addr, localAddr: undefined, direction: 'outbound' as const, opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
    h.input({ type: 'stream-opened', stream, protocol: kad.protocol, direction: 'outbound', connection: conn, requestId: open.requestId })
    const acts = h.input({ type: 'stream-reset', stream })
    const failed = events(acts).find((e) => e.type === 'progress' && e.progress.kind === 'failed') as Extract<KadEvent, { type: 'progress' }>
    expect((failed.progress as { error: Error }).error).toBeInstanceOf(OutcomeError)
    expect((failed.progress as { error: Error }).error).toMatchObject({ code: 'kad/stream-reset' })
  })
})
