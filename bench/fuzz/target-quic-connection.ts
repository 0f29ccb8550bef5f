/**
 * QUIC connection target (src/quic/connection, spec/quic-connection.md): a victim QuicConnection
 * (client or server) and an honest peer exchange datagrams on a virtual clock; the input is a
 * program deciding the fate of each datagram the victim receives: delivered, dropped, duplicated,
 * held back (reordered), mutated, cut short, or replaced by a forged Initial packet (Initial keys
 * derive from the Destination Connection ID, so anyone can forge one) carrying frames from the
 * input; and when time jumps. Both sides open a stream after the handshake and send a few KiB.
 * Checks: no call throws; a connection that closes by itself names a ProtocolError (a local failure
 * would be INTERNAL_ERROR: an escape); what a side reads is always a prefix of what the other wrote
 * (packets authenticate); with only delivery, duplication and reordering, the handshake completes and
 * every byte arrives. The victim's datagrams carry a source address that op 8 changes now and then
 * (a NAT rebinding: a server victim validates and follows it, spec/quic-connection.md "Peer address
 * change"; every datagram still reaches it).
 */
import { ProtocolError } from '../../src/core/errors.js'
import { equals } from '../../src/core/bytes.js'
import type { TlsCrypto } from '../../src/core/crypto/tls.js'
import { nodeTlsCrypto } from '../../src/io/crypto-tls-node.js'
import { QuicConnection } from '../../src/quic/connection/index.js'
import { initialKeys, sealPacket } from '../../src/quic/protection.js'
import { SignatureScheme, type TlsCertificate } from '../../src/tls/types.js'
import { fuzzCrypto } from './crypto.js'
import { check, count, type Target } from './engine.js'
import { mutateOnce, Program } from './mutate.js'
import { Rand } from './rng.js'
import { LIBP2P_ALPN } from '../../src/tls/index.js'

const base = fuzzCrypto()
const crypto: TlsCrypto = { ...nodeTlsCrypto, base }
const stats: Record<string, number> = {}

function identity(tag: number): TlsCertificate {
  const seed = new Uint8Array(32).fill(tag)
  return { chain: [base.ed25519PublicKey(seed)], scheme: SignatureScheme.ed25519, sign: (d) => base.ed25519Sign(seed, d) }
}
const IDS = [identity(3), identity(5)] as const
const ADDRS = [{ address: '192.0.2.1', port: 1000 }, { address: '192.0.2.1', port: 1001 }, { address: '2001:db8::7', port: 1000 }] as const
const DATA = 3000
const OPS = 9

function generate(r: Rand): Uint8Array {
  const out: number[] = [r.int(2), r.int(256)]
  const n = r.range(1, 60)
  for (let i = 0; i < n; i++) {
    // mostly deliveries so handshakes progress; the other ops now and then
    out.push(r.chance(0.6) ? 0 : r.int(OPS))
    for (let k = 0; k < 3; k++) out.push(r.int(256))
  }
  if (r.chance(0.2)) return mutateOnce(r, Uint8Array.from(out))
  return Uint8Array.from(out)
}

function run(input: Uint8Array): void {
  base.reset(1)
  const p = new Program(input)
  const victimIsClient = (p.u8() & 1) === 0
  const r = new Rand(1 + p.u8())
  const random = (n: number): Uint8Array => r.bytes(n)
  const clientCid = Uint8Array.of(1, 1, 1, 1, 1, 1, 1, 1)
  const serverCid = Uint8Array.of(2, 2, 2, 2, 2, 2, 2, 2)
  const odcid = Uint8Array.of(3, 3, 3, 3, 3, 3, 3, 3)
  const verifyPeer = (tag: number) => (chain: Uint8Array[], _s: number, content: Uint8Array, sig: Uint8Array): void => {
    if (!equals(chain[0] ?? new Uint8Array(0), IDS[tag]!.chain[0]!) || !base.ed25519Verify(chain[0]!, content, sig)) {
      throw new ProtocolError('tls', 'tls/bad-certificate', 'not the expected key')
    }
  }
  const client = new QuicConnection({
    role: 'client', crypto, tls: { alpn: [LIBP2P_ALPN], certificate: IDS[0], verifyPeer: verifyPeer(1) },
    localConnectionId: clientCid, remoteConnectionId: odcid, random, now: 0, limits: { idleTimeout: 10_000 },
  })
  const server = new QuicConnection({
    role: 'server', crypto, tls: { alpn: [LIBP2P_ALPN], certificate: IDS[1], verifyPeer: verifyPeer(0) },
    localConnectionId: serverCid, remoteConnectionId: clientCid, originalDestinationConnectionId: odcid, random, now: 0, limits: { idleTimeout: 10_000 },
  })
  const victim = victimIsClient ? client : server
  const peer = victimIsClient ? server : client
  const sent = new Map<QuicConnection, Uint8Array>()
  const got = new Map<QuicConnection, Uint8Array[]>([[client, []], [server, []]])
  const streamOf = new Map<QuicConnection, number>()
  let corrupted = false
  let dropped = false
  let now = 0
  let held: Uint8Array | undefined
  let from: { address: string, port: number } = ADDRS[0]

  const forge = (frames: Uint8Array): Uint8Array => {
    const keys = initialKeys(crypto, odcid)
    const h = victimIsClient ? { type: 'initial' as const, dcid: clientCid, scid: serverCid } : { type: 'initial' as const, dcid: odcid, scid: clientCid, token: new Uint8Array(0) }
    return sealPacket(crypto, victimIsClient ? keys.server : keys.client, h, 1000 + r.int(1000), frames, { minPacketSize: 1200 })
  }
  const toVictim: Uint8Array[] = []
  const pump = (): void => {
    for (const c of [client, server]) {
      for (let e = c.pollEvent(), n = 0; e !== undefined && n < 10_000; e = c.pollEvent(), n++) {
        if (e.kind === 'handshake-complete') {
          const id = c.openStream(true)
          if (id !== undefined) {
            const data = r.bytes(DATA)
            sent.set(c, data)
            streamOf.set(c, id)
            c.write(id, data)
            c.finish(id)
          }
        } else if (e.kind === 'stream' && e.event.kind === 'readable') {
          for (let k = 0; k < 100; k++) {
            const { data, fin } = c.read(e.event.id)
            if (data.length > 0) got.get(c)!.push(data)
            if (fin || data.length === 0) break
          }
        } else if (e.kind === 'closing' || e.kind === 'closed') {
          const err = e.info.error
          check(err === undefined || err instanceof ProtocolError, `closed by a local failure: ${String(err)}`)
          count(stats, `${c === victim ? 'victim' : 'peer'}-${e.kind}-${e.info.source}${e.info.error instanceof ProtocolError ? `-${e.info.error.code}` : ''}`)
        }
      }
    }
    for (let d = peer.pollTransmit(now), n = 0; d !== undefined && n < 1000; d = peer.pollTransmit(now), n++) toVictim.push(d)
    const out: Uint8Array[] = []
    for (let d = victim.pollTransmit(now), n = 0; d !== undefined && n < 1000; d = victim.pollTransmit(now), n++) out.push(d)
    for (const d of out) peer.handleDatagram(now, d)
    // the driving contract: after any input, transmit until nothing is left (and drain events)
    if (out.length > 0 && depth < 50) { depth++; pump(); depth-- }
  }
  let depth = 0
  const tick = (): void => {
    for (const c of [client, server]) {
      const t = c.pollTimeout()
      if (t !== undefined && t <= now) c.handleTimeout(now)
    }
  }

  pump()
  for (let step = 0; step < 400 && !p.done; step++) {
    const op = p.u8() % OPS
    const a = p.u8()
    const b = p.u8()
    const c = p.u8()
    if (op === 5) { now += a * 10 + 1; tick(); pump(); count(stats, 'op-time'); continue }
    if (op === 4) {
      corrupted = true
      const frames = new Uint8Array(1 + (a % 40)).map((_, i) => (i === 0 ? b % 31 : (c * (i + 7)) & 0xff))
      victim.handleDatagram(now, forge(frames), from)
      pump()
      count(stats, 'op-forge')
      continue
    }
    const d = toVictim.shift()
    if (d === undefined) { now += 5; tick(); pump(); continue }
    switch (op) {
      case 0: victim.handleDatagram(now, d, from); break
      case 1: dropped = true; break
      case 2: victim.handleDatagram(now, d, from); victim.handleDatagram(now, d, from); break
      case 3: corrupted = true; victim.handleDatagram(now, mutateOnce(r, d), from); break
      case 6: corrupted = true; victim.handleDatagram(now, d.subarray(0, a % d.length), from); break
      case 7: if (held !== undefined) victim.handleDatagram(now, held, from); held = d; break
      case 8: from = ADDRS[a % ADDRS.length]!; count(stats, 'op-move'); victim.handleDatagram(now, d, from); break
      default: victim.handleDatagram(now, d, from)
    }
    count(stats, `op-${op}`)
    now += 1
    pump()
  }
  if (held !== undefined) victim.handleDatagram(now, held, from)
  let stalled = 0
  // the rest of the conversation on a clean network
  for (let step = 0; step < 5000 && !(client.isClosed && server.isClosed); step++) {
    pump()
    while (toVictim.length > 0) { victim.handleDatagram(now, toVictim.shift()!, from); pump() }
    const done = [client, server].every((x) => { const s = sent.get(x === client ? server : client); return s !== undefined && total(got.get(x)!) === s.length })
    if (done) break
    const ts = [client.pollTimeout(), server.pollTimeout()].filter((t): t is number => t !== undefined)
    if (ts.length === 0) break
    const next = Math.max(now, Math.min(...ts))
    stalled = next === now ? stalled + 1 : 0
    check(stalled < 50, 'a timer stays due after handleTimeout and pollTransmit (the driver would spin)')
    now = next
    tick()
  }
  for (const [c, parts] of got) {
    const from = sent.get(c === client ? server : client)
    const all = concat(parts)
    check(from !== undefined ? equals(all, from.subarray(0, all.length)) : all.length === 0, 'a side read bytes the other never wrote')
  }
  if (!corrupted && !dropped) {
    check(client.isHandshakeComplete && server.isHandshakeComplete, 'a clean run did not complete the handshake')
    for (const [c, parts] of got) check(total(parts) === DATA, `a clean run delivered ${total(parts)} of ${DATA} bytes to the ${c.role}`)
    count(stats, 'clean-complete')
  }
  if (client.isHandshakeComplete && server.isHandshakeComplete) count(stats, 'handshake-complete')
  if (victim.stats.pathChanges > 0) count(stats, 'path-changed')
}

const total = (parts: Uint8Array[]): number => parts.reduce((n, x) => n + x.length, 0)

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(total(parts))
  let o = 0
  for (const x of parts) { out.set(x, o); o += x.length }
  return out
}

export const quicConnectionTarget: Target = { name: 'quic-connection', generate, run, stats }
