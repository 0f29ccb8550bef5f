/**
 * TLS 1.3 target (src/tls, spec/tls13.md): a victim TlsSession (client or server) reads what an
 * attacker sends over TCP, and the handshake message decoder reads hostile messages.
 *
 * Inputs (first byte = mode): 0 / 1: the victim is a client / server. The attacker is an honest weft
 * TlsSession of the other role with fixed keys and a varied configuration (suite, ALPN, a
 * HelloRetryRequest, a KeyUpdate, data, close_notify): its records, mutated or not, reordered,
 * cut short or with records out of nowhere, delivered in pieces by the schedule byte. The victim's
 * random, key share and identity are fixed and its other randomness comes from the fuzzer's
 * deterministic provider, so an unmutated input completes the same handshake at run time as at
 * generation. 2: decodeHandshake on a valid message (one of each type weft sends or reads), mutated.
 * 3 / 4: QUIC mode, no records: a victim TlsHandshake (client / server, with transport parameters)
 * fed an honest attacker's handshake messages per level (level byte, 24-bit length, bytes), mutated.
 * Checks: only a ProtocolError escapes; the victim completes only with the attacker's certificate;
 * every delivered byte is the attacker's data, in order; an unmutated input delivers all of it;
 * a decoded message re-encodes and decodes again to the same bytes.
 */
import { ProtocolError } from '../../src/core/errors.js'
import { equals } from '../../src/core/bytes.js'
import type { TlsCrypto } from '../../src/core/crypto/tls.js'
import { nodeTlsCrypto } from '../../src/io/crypto-tls-node.js'
import { TlsError } from '../../src/tls/errors.js'
import { decodeHandshake, encodeHandshake, HELLO_RETRY_REQUEST_RANDOM, type HandshakeMessage } from '../../src/tls/messages.js'
import { TlsSession, type TlsSessionEvent, type TlsSessionOptions } from '../../src/tls/session.js'
import { TlsHandshake } from '../../src/tls/handshake.js'
import { SignatureScheme, type TlsCertificate, type TlsHandshakeOptions, type TlsLevel } from '../../src/tls/types.js'
import { fuzzCrypto } from './crypto.js'
import { bounded, check, count, type Target } from './engine.js'
import { concatBytes, deliver, mutateOnce } from './mutate.js'
import { Rand } from './rng.js'
import { LIBP2P_ALPN } from '../../src/tls/index.js'

const base = fuzzCrypto()
const crypto: TlsCrypto = { ...nodeTlsCrypto, base }

function identity(tag: number): TlsCertificate {
  const seed = new Uint8Array(32).fill(tag)
  return { chain: [base.ed25519PublicKey(seed)], scheme: SignatureScheme.ed25519, sign: (d) => base.ed25519Sign(seed, d) }
}
const VICTIM = identity(7)
const ATTACKER = identity(9)
const verify = (chain: Uint8Array[], scheme: number, content: Uint8Array, sig: Uint8Array): void => {
  if (chain.length !== 1 || scheme !== SignatureScheme.ed25519 || !base.ed25519Verify(chain[0]!, content, sig)) throw new TlsError('tls/bad-certificate', 'fuzz verifier')
}

const LIMITS = { maxHandshakeMessage: 4096, maxBufferedHandshake: 6000, maxExtensions: 16, maxCertificates: 2 }

function victim(role: 'client' | 'server'): TlsSession {
  return new TlsSession({
    role, crypto, certificate: VICTIM, verifyPeer: verify, alpn: [LIBP2P_ALPN, '/yamux/1.0.0'], limits: LIMITS, maxBufferedData: 64 * 1024,
    maxEmptyRecords: 8, random: new Uint8Array(32).fill(1), keyShare: new Uint8Array(32).fill(2),
  })
}

const pattern = (offset: number, n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => ((offset + i) * 13 + 5) & 0xff)

/** The attacker's records (each pollTransmit chunk is whole records) against a victim of `role`. */
function attackerRecords(r: Rand, role: 'client' | 'server'): Uint8Array[] {
  base.reset()
  const v = victim(role)
  const opts: TlsSessionOptions = {
    role: role === 'client' ? 'server' : 'client', crypto, certificate: ATTACKER, verifyPeer: verify,
    random: new Uint8Array(32).fill(3), keyShare: new Uint8Array(32).fill(4),
    ...(r.chance(0.3) ? { cipherSuites: [r.pick([0x1301, 0x1303])] } : {}),
    ...(r.chance(0.7) ? { alpn: [r.pick([LIBP2P_ALPN, '/yamux/1.0.0', 'h2'])] } : {}),
    ...(role === 'server' && r.chance(0.2) ? { keyShareInFirstHello: false } : {}),
  }
  const a = new TlsSession(opts)
  const out: Uint8Array[] = []
  let sentData = 0
  const step = bounded(10_000, 'tls generate')
  const pump = (): void => {
    for (let moved = true; moved;) {
      moved = false
      for (let b = a.pollTransmit(1 << 20); b !== undefined; b = a.pollTransmit(1 << 20)) {
        step()
        out.push(b.slice())
        moved = true
        try { v.handleData(0, b) } catch { return }
      }
      for (let b = v.pollTransmit(1 << 20); b !== undefined; b = v.pollTransmit(1 << 20)) {
        step()
        moved = true
        try { a.handleData(0, b) } catch { return }
      }
      while (v.pollEvent() !== undefined) step()
      while (a.pollEvent() !== undefined) step()
    }
  }
  pump()
  if (!a.isEstablished) return out
  for (let i = r.int(4); i > 0; i--) {
    if (r.chance(0.2)) a.updateKeys(r.chance(0.5))
    const n = r.size(20_000)
    a.write(pattern(sentData, n))
    sentData += n
    pump()
  }
  if (r.chance(0.5)) { a.close(); pump() }
  return out
}

const QUIC_LEVELS: readonly TlsLevel[] = ['initial', 'handshake', 'application']
const VICTIM_PARAMS = Uint8Array.of(1, 2, 3, 4)

function quicVictim(role: 'client' | 'server'): TlsHandshake {
  return new TlsHandshake({
    role, crypto, certificate: VICTIM, verifyPeer: verify, alpn: [LIBP2P_ALPN], limits: LIMITS, quicTransportParameters: VICTIM_PARAMS,
    random: new Uint8Array(32).fill(1), keyShare: new Uint8Array(32).fill(2),
  })
}

/** The attacker's handshake messages, as (level, bytes), against a QUIC-mode victim of `role`. */
function attackerMessages(r: Rand, role: 'client' | 'server'): Array<{ level: TlsLevel; data: Uint8Array }> {
  base.reset()
  const v = quicVictim(role)
  const opts: TlsHandshakeOptions = {
    role: role === 'client' ? 'server' : 'client', crypto, certificate: ATTACKER, verifyPeer: verify,
    random: new Uint8Array(32).fill(3), keyShare: new Uint8Array(32).fill(4),
    ...(r.chance(0.9) ? { quicTransportParameters: r.bytes(r.size(64)) } : {}),
    ...(r.chance(0.9) ? { alpn: [LIBP2P_ALPN] } : {}),
    ...(r.chance(0.3) ? { cipherSuites: [r.pick([0x1301, 0x1303])] } : {}),
    ...(role === 'server' && r.chance(0.2) ? { keyShareInFirstHello: false } : {}),
  }
  const a = new TlsHandshake(opts)
  const out: Array<{ level: TlsLevel; data: Uint8Array }> = []
  for (let moved = true, n = 0; moved && n < 20; n++) {
    moved = false
    for (let o = a.pollOutput(); o !== undefined; o = a.pollOutput()) {
      out.push(o)
      moved = true
      try { v.handleMessages(o.level, o.data) } catch { return out }
    }
    for (let o = v.pollOutput(); o !== undefined; o = v.pollOutput()) {
      moved = true
      try { a.handleMessages(o.level, o.data) } catch { return out }
    }
    while (a.pollEvent() !== undefined || v.pollEvent() !== undefined) { /* drain */ }
  }
  if (r.chance(0.3) && role === 'client') {
    out.push({ level: 'application', data: encodeHandshake({ type: 'new_session_ticket', lifetime: 1, ageAdd: 2, nonce: r.bytes(r.int(5)), ticket: r.bytes(1 + r.size(100)), extensions: [] }) })
  }
  return out
}

function runQuic(input: Uint8Array): void {
  base.reset()
  const v = quicVictim(input[0] === 3 ? 'client' : 'server')
  const pristine = ((input[1] ?? 0) & 0x80) !== 0
  let complete = false
  const step = bounded(100_000, 'tls quic')
  const drain = (): void => {
    while (v.pollOutput() !== undefined) step()
    for (let e = v.pollEvent(); e !== undefined; e = v.pollEvent()) {
      step()
      if (e.kind === 'complete') {
        complete = true
        check(e.peerChain.length === 1 && equals(e.peerChain[0]!, ATTACKER.chain[0]!), 'QUIC handshake completed with a chain that is not the attacker\'s')
        check(e.peerTransportParameters !== undefined, 'QUIC handshake completed without the peer\'s transport parameters')
      }
    }
  }
  drain()
  for (let o = 2; o + 4 <= input.length;) {
    const level = QUIC_LEVELS[input[o]! % 3]!
    const len = (input[o + 1]! << 16) | (input[o + 2]! << 8) | input[o + 3]!
    const data = input.subarray(o + 4, o + 4 + len)
    o += 4 + len
    try {
      v.handleMessages(level, data)
    } catch (e) {
      count(stats, e instanceof ProtocolError ? `quic ${e.code}` : 'quic other')
      throw e
    }
    drain()
  }
  count(stats, complete ? 'quic complete' : 'quic incomplete')
  if (pristine) check(complete, 'an untouched QUIC handshake did not complete')
}

/** Valid messages of every type weft reads, for the decoder mode. */
function sampleMessage(r: Rand): Uint8Array {
  const b = (n: number) => r.bytes(n)
  const exts = () => Array.from({ length: r.int(4) }, () => ({ type: r.pick([0, 10, 13, 16, 43, 44, 51, 57, r.int(65536)]), data: b(r.size(40)) }))
    .filter((e, i, all) => all.findIndex((x) => x.type === e.type) === i)
  const ms: HandshakeMessage[] = [
    { type: 'client_hello', random: b(32), sessionId: b(r.pick([0, 32])), cipherSuites: [0x1301, 0x1303], compressionMethods: Uint8Array.of(0), extensions: exts() },
    { type: 'server_hello', random: r.chance(0.3) ? HELLO_RETRY_REQUEST_RANDOM : b(32), sessionId: b(r.pick([0, 32])), cipherSuite: 0x1301, compressionMethod: 0, extensions: exts() },
    { type: 'encrypted_extensions', extensions: exts() },
    { type: 'certificate_request', context: b(r.int(3)), extensions: [{ type: 13, data: Uint8Array.of(0, 2, 8, 7) }, ...exts().filter((e) => e.type !== 13)] },
    { type: 'certificate', context: new Uint8Array(0), entries: Array.from({ length: 1 + r.int(3) }, () => ({ data: b(1 + r.size(600)), extensions: exts() })) },
    { type: 'certificate_verify', scheme: r.pick([0x0403, 0x0807]), signature: b(r.size(80)) },
    { type: 'finished', verifyData: b(32) },
    { type: 'new_session_ticket', lifetime: r.int(2 ** 31), ageAdd: r.int(2 ** 31), nonce: b(r.int(9)), ticket: b(1 + r.size(200)), extensions: exts() },
    { type: 'key_update', updateRequested: r.chance(0.5) },
  ]
  return encodeHandshake(r.pick(ms))
}

const stats: Record<string, number> = {}

export const tlsTarget: Target = {
  name: 'tls',
  stats,
  generate(r) {
    const mode = r.int(10) < 6 ? r.int(2) : r.chance(0.3) ? 2 : 3 + r.int(2)
    if (mode >= 3) {
      const msgs = attackerMessages(r, mode === 3 ? 'client' : 'server')
      let mutated = false
      const parts = msgs.map((m) => {
        const data = r.chance(0.1) ? ((mutated = true), mutateOnce(r, m.data, msgs.map((x) => x.data))) : m.data
        const level = r.chance(0.03) ? ((mutated = true), r.int(3)) : QUIC_LEVELS.indexOf(m.level)
        return concatBytes([Uint8Array.of(level, data.length >> 16, (data.length >> 8) & 0xff, data.length & 0xff), data])
      })
      if (r.chance(0.05)) { mutated = true; parts.length = r.int(parts.length + 1) }
      return concatBytes([Uint8Array.of(mode, mutated ? 0 : 0x80), ...parts])
    }
    if (mode === 2) {
      const m = sampleMessage(r)
      return concatBytes([Uint8Array.of(2, 0), r.chance(0.8) ? mutateOnce(r, m) : m])
    }
    const records = attackerRecords(r, mode === 0 ? 'client' : 'server')
    let mutated = false
    const out = records.map((rec) => (r.chance(0.1) ? ((mutated = true), mutateOnce(r, rec, records)) : rec))
    if (r.chance(0.05)) { mutated = true; out.splice(r.int(out.length + 1), 0, r.bytes(r.size(300))) }
    if (r.chance(0.05) && out.length > 1) { mutated = true; const i = r.int(out.length - 1); [out[i], out[i + 1]] = [out[i + 1]!, out[i]!] }
    if (r.chance(0.05)) { mutated = true; out.length = r.int(out.length + 1) }
    // byte 1: the delivery schedule (low 7 bits) and whether the records are untouched (top bit)
    return concatBytes([Uint8Array.of(mode, (r.int(128)) | (mutated ? 0 : 0x80)), ...out])
  },
  run(input) {
    const mode = input[0] ?? 0
    if (mode === 3 || mode === 4) return runQuic(input)
    if (mode % 3 === 2) {
      let m: HandshakeMessage
      try {
        m = decodeHandshake(input.subarray(2))
      } catch (e) {
        check(e instanceof TlsError, `decodeHandshake threw ${String(e)}`)
        count(stats, 'decode-error')
        return
      }
      count(stats, `decoded-${m.type}`)
      const again = encodeHandshake(m)
      check(equals(encodeHandshake(decodeHandshake(again)), again), `${m.type} does not re-encode stably`)
      return
    }
    base.reset()
    const v = victim(mode % 3 === 0 ? 'client' : 'server')
    const pristine = ((input[1] ?? 0) & 0x80) !== 0
    let offset = 0
    let failed: unknown
    let complete = false
    const step = bounded(1_000_000, 'tls')
    const drain = (): void => {
      for (let b = v.pollTransmit(1 << 20); b !== undefined; b = v.pollTransmit(1 << 20)) step()
      for (let ev: TlsSessionEvent | undefined = v.pollEvent(); ev !== undefined; ev = v.pollEvent()) {
        step()
        if (ev.type === 'handshake-complete') {
          complete = true
          check(ev.peerChain.length === 1 && equals(ev.peerChain[0]!, ATTACKER.chain[0]!), 'handshake completed with a chain that is not the attacker\'s')
        }
        if (ev.type === 'data') {
          const want = pattern(offset, ev.data.length)
          check(equals(ev.data, want), `tls delivered unauthenticated bytes at offset ${offset}`)
          offset += ev.data.length
        }
      }
    }
    drain()
    const schedule = (input[1] ?? 0) & 0x7f
    deliver(input.subarray(2), schedule, new Rand(schedule), (piece) => {
      if (failed !== undefined || !v.wantsData()) return false
      try {
        v.handleData(0, piece)
      } catch (e) {
        failed = e
      }
      drain()
      return failed === undefined
    })
    if (failed === undefined) {
      try { v.handleEof(0) } catch (e) { failed = e }
      drain()
    }
    if (failed !== undefined) {
      count(stats, failed instanceof ProtocolError ? failed.code : 'other')
      throw failed
    }
    count(stats, complete ? 'complete' : 'incomplete')
    if (pristine) check(complete, 'an untouched handshake did not complete')
  },
}
