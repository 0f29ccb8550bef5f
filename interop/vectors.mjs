#!/usr/bin/env node
/**
 * Cross-checks the vectors weft computed itself (provenance `derived`, spec/README.md "Vectors")
 * against go-libp2p and rust-libp2p: interop/go/cmd/vectors and interop/rust/src/bin/vectors.rs are
 * given each vector's inputs (its bytes, seed, keys or script) and answer with their library's own
 * code; this script compares each answer with the vector's expected value. It never runs weft: a
 * vector is confirmed only by another implementation.
 *
 *   node interop/vectors.mjs            check; exit 1 on any mismatch (the `vectors` step of run.mjs --suite)
 *   node interop/vectors.mjs --write    also record each confirmed vector as provenance `interop` with
 *                                       `checkedBy: ["go-libp2p vX", "rust-libp2p vY"]` (the checkers
 *                                       that agree; a text edit of those two fields, the rest of the
 *                                       file is kept)
 *   node interop/vectors.mjs --list     the vectors each checker covers, and the derived ones it cannot
 *
 * Vectors already recorded as `interop` with a `checkedBy` are checked again on every run by every
 * checker that covers them, so a change of weft's vectors or of the go/rust versions is caught. What is checked per file, and
 * what is not, is in the CHECKS table below and spec/README.md.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.dirname(here)
// WEFT_VECTORS_DIR: another copy of spec/vectors (to see a tampered vector caught)
const vecDir = process.env.WEFT_VECTORS_DIR ?? path.join(root, 'spec', 'vectors')
const args = new Set(process.argv.slice(2))
const say = (/** @type {string} */ m) => console.error(`[vectors] ${m}`)

/** Builds interop/go/cmd/vectors (cached by a hash of go.mod, go.sum and its sources). */
function buildGo() {
  const goDir = path.join(here, 'go')
  const srcDir = path.join(goDir, 'cmd', 'vectors')
  const h = createHash('sha256')
  for (const f of ['go.mod', 'go.sum']) h.update(fs.readFileSync(path.join(goDir, f)))
  for (const f of fs.readdirSync(srcDir).sort()) h.update(f).update(fs.readFileSync(path.join(srcDir, f)))
  const cache = process.env.WEFT_INTEROP_CACHE ?? path.join(os.homedir(), '.cache', 'weft-interop')
  const bin = path.join(cache, `go-vectors-${h.digest('hex').slice(0, 16)}`, 'vectors')
  if (!fs.existsSync(bin)) {
    say(`building ${bin}`)
    fs.mkdirSync(path.dirname(bin), { recursive: true })
    const r = spawnSync('go', ['build', '-trimpath', '-o', `${bin}.tmp`, './cmd/vectors'], { cwd: goDir, stdio: ['ignore', 'inherit', 'inherit'] })
    if (r.status !== 0) throw new Error('go build ./cmd/vectors failed')
    fs.renameSync(`${bin}.tmp`, bin)
  }
  return bin
}

/** @typedef {{ id: string, provenance: string, hex?: string, decoded?: any, error?: string, steps?: any[], [k: string]: any }} Vector */
/** @typedef {{ op: string, [k: string]: unknown }} Check */
/** @typedef {{ plan: (v: Vector) => Check | undefined, compare: (v: Vector, out: any, error: string | undefined) => string[] }} Checker */

const ma = (/** @type {any} */ b) => b?.ma ?? `not a multiaddr: ${b?.hex}`
const hx = (/** @type {any} */ b) => b?.hex ?? ''
/** Deep equality, the difference as one line. */
const same = (/** @type {string} */ what, /** @type {unknown} */ got, /** @type {unknown} */ want) =>
  isDeepStrictEqual(got, want) ? [] : [`${what}: checker ${JSON.stringify(got)} != vector ${JSON.stringify(want)}`]
/** A decoding vector's go answer: the fields and, unless the vector says it does not re-encode, the bytes again. */
const pbCompare = (/** @type {(m: any) => unknown} */ map) => (/** @type {Vector} */ v, /** @type {any} */ out, /** @type {string | undefined} */ err) => {
  if (err !== undefined) return [`go refused the bytes: ${err}`]
  const got = out.messages !== undefined ? out.messages.map(map) : map(out.message)
  return [...same('decoded', got, v.decoded), ...(v.reencodes === false ? [] : same('re-encoded by go', out.reencoded, v.hex))]
}
/** An error vector: go must refuse the input too (its reason is its own; the code is weft's). */
const refuses = (/** @type {Vector} */ _v, /** @type {any} */ out, /** @type {string | undefined} */ err) =>
  err !== undefined ? [] : [`go accepted what the vector refuses: ${JSON.stringify(out).slice(0, 200)}`]

const autonatV2 = (/** @type {any} */ m) => {
  if (m.dialRequest) return { type: 'dial-request', addrs: (m.dialRequest.addrs ?? []).map(ma), nonce: m.dialRequest.nonce ?? '0' }
  if (m.dialResponse) {
    const r = m.dialResponse
    return { type: 'dial-response', status: r.status?.enum ?? 0, addrIdx: r.addrIdx ?? 0, dialStatus: r.dialStatus?.enum ?? 0 }
  }
  if (m.dialDataRequest) return { type: 'dial-data-request', addrIdx: m.dialDataRequest.addrIdx ?? 0, numBytes: m.dialDataRequest.numBytes ?? '0' }
  if (m.dialDataResponse) return { type: 'dial-data-response', data: hx(m.dialDataResponse.data) }
  return { type: 'none' }
}
const autonatV1 = (/** @type {any} */ m) => {
  const type = { DIAL: 'dial', DIAL_RESPONSE: 'dial-response' }[/** @type {'DIAL'} */ (m.type?.name)] ?? m.type?.enum
  if (type === 'dial') return { type, peer: { id: m.dial?.peer?.id?.peer, addrs: (m.dial?.peer?.addrs ?? []).map(ma) } }
  const r = m.dialResponse ?? {}
  return { type, status: r.status?.enum, ...(r.statusText !== undefined ? { statusText: r.statusText } : {}), ...(r.addr !== undefined ? { addr: ma(r.addr) } : {}) }
}
const relayPeer = (/** @type {any} */ p) => ({ id: p.id?.peer, addrs: (p.addrs ?? []).map(ma) })
const relayMsg = (/** @type {any} */ m) => ({
  type: m.type?.name,
  ...(m.peer ? { peer: relayPeer(m.peer) } : {}),
  ...(m.status ? { status: m.status.enum } : {}),
  ...(m.reservation ? { reservation: { expire: m.reservation.expire, addrs: (m.reservation.addrs ?? []).map(ma), ...(m.reservation.voucher ? { voucherHex: hx(m.reservation.voucher) } : {}) } } : {}),
  ...(m.limit ? { limit: { ...(m.limit.duration !== undefined ? { duration: m.limit.duration } : {}), ...(m.limit.data !== undefined ? { data: m.limit.data } : {}) } } : {}),
})
/** Reorders go's relay answer the way the vector lists its keys (key order does not matter to isDeepStrictEqual). */
const dcutrMsg = (/** @type {any} */ m) => ({ type: m.type?.name, obsAddrs: (m.ObsAddrs ?? []).map(ma) })
const txt = (/** @type {{ text?: string, hex?: string }} */ s) => s.text ?? `hex:${s.hex}`
/** go's DNS answer in the vector's shape: TXT strings as text (or hex:), and the records of types
 * weft does not decode left out and counted, as weft's `skipped` counts them. */
const WEFT_RR = new Set(['PTR', 'SRV', 'TXT', 'A', 'AAAA'])
const goDns = (/** @type {any} */ d) => {
  let skipped = 0
  const rr = (/** @type {any[]} */ l) => l.filter((r) => WEFT_RR.has(r.type) || (skipped++, false)).map((r) => ('strings' in r ? { ...r, strings: r.strings.map(txt) } : r))
  const out = { ...d, answers: rr(d.answers), authorities: rr(d.authorities), additionals: rr(d.additionals) }
  return { ...out, skipped }
}
/** Strips a uvarint length prefix (length-prefixed request-response frames). */
const unprefix = (/** @type {string} */ h) => {
  let i = 0
  while (parseInt(h.slice(i * 2, i * 2 + 2), 16) & 0x80) i++
  return h.slice((i + 1) * 2)
}
/** multistream steps: the bytes in, the bytes weft writes, the outcome. */
const msScript = (/** @type {Vector} */ v) => {
  const cat = (/** @type {string} */ dir) => v.steps?.filter((s) => s.dir === dir).map((s) => s.hex).join('')
  const ev = v.steps?.flatMap((s) => s.events ?? []) ?? []
  const neg = ev.find((e) => e.type === 'negotiated')
  return { in: cat('in'), out: cat('out'), protocol: neg?.protocol ?? '', failed: ev.some((e) => e.type === 'failed'), remainder: v.steps?.find((s) => s.call === 'takeRemainder')?.hex ?? '' }
}

/** A yamux header (the spec's 12-byte layout), to build the frames fed to go as a stimulus. */
const yhdr = (/** @type {number} */ type, /** @type {number} */ flags, /** @type {number} */ id, /** @type {number} */ len) => {
  const b = Buffer.alloc(12)
  b.writeUInt8(type, 1), b.writeUInt16BE(flags, 2), b.writeUInt32BE(id, 4), b.writeUInt32BE(len, 8)
  return b.toString('hex')
}
/** go's bytes cut into frames (Data frames carry Length bytes), less the RTT Ping go-yamux sends when a client session starts. */
const yframes = (/** @type {string} */ h) => {
  /** @type {string[]} */
  const out = []
  for (let i = 0; i + 24 <= h.length;) {
    const type = parseInt(h.slice(i + 2, i + 4), 16)
    const len = type === 0 ? parseInt(h.slice(i + 16, i + 24), 16) : 0
    out.push(h.slice(i, i + 24 + 2 * len))
    i += 24 + 2 * len
  }
  return out.filter((f) => f !== '000200010000000000000000')
}
const stepOut = (/** @type {Vector} */ v, /** @type {number} */ n = 0) => v.steps?.filter((s) => 'out' in s)[n]?.out ?? ''
const stepIn = (/** @type {Vector} */ v) => v.steps?.filter((s) => 'in' in s).map((s) => s.in)[0] ?? ''
/**
 * What go-yamux is asked to do for each yamux vector (a session over a pipe: open streams, feed the
 * vector's inbound frames, then one action), and how its bytes are compared: `frame` — the vector's
 * bytes are one of the frames go wrote; `out` — go wrote exactly the vector's first `out` step.
 * go-yamux never writes a Data frame with flags, a Ping with an opaque of our choosing, a SYN with a
 * larger window, or the header-only extremes: those vectors have no script.
 * @type {Record<string, { args: (v: Vector) => Record<string, unknown>, mode: 'frame' | 'out' }>}
 */
const YAMUX = {
  'wu-syn-0': { args: () => ({ role: 'client', opens: 1, action: 'none' }), mode: 'frame' },
  'wu-ack': { args: () => ({ role: 'client', in: yhdr(1, 1, 2, 0), action: 'accept' }), mode: 'frame' },
  'wu-fin': { args: () => ({ role: 'client', opens: 3, action: 'close-write' }), mode: 'frame' },
  'wu-rst': { args: () => ({ role: 'client', opens: 4, action: 'reset', code: 0 }), mode: 'frame' },
  'wu-delta': { args: () => ({ role: 'client', opens: 5, in: yhdr(0, 0, 9, 131072) + '00'.repeat(131072), action: 'read', read: 131072 }), mode: 'frame' },
  'data-plain': { args: () => ({ role: 'client', in: yhdr(1, 1, 2, 0), action: 'accept-write', write: '010203' }), mode: 'frame' },
  'ping-ack': { args: () => ({ role: 'client', in: yhdr(2, 1, 0, 0x12345678), action: 'none' }), mode: 'frame' },
  'go-away-normal': { args: () => ({ role: 'client', action: 'go-away' }), mode: 'frame' },
  'go-away-protocol-error': { args: () => ({ role: 'client', action: 'close-with-error', code: 1 }), mode: 'frame' },
  'go-away-internal-error': { args: () => ({ role: 'client', action: 'close-with-error', code: 2 }), mode: 'frame' },
  'go-away-garbage-collected': { args: () => ({ role: 'client', action: 'close-with-error', code: 0x1005 }), mode: 'frame' },
  'window-update-rst-code': { args: () => ({ role: 'client', opens: 2, action: 'reset', code: 0x1002 }), mode: 'frame' },
  // stateful: go-yamux accepts before it can reset, so it ACKs first; the RST frame is compared
  'reset-with-code': { args: (v) => ({ role: 'server', in: stepIn(v), action: 'reset', code: v.steps?.find((s) => s.reset)?.reset[1] }), mode: 'frame' },
  'open-accept-exchange': { args: (v) => ({ role: 'server', in: stepIn(v), action: 'accept-write-close', write: v.steps?.find((s) => s.write)?.write[1] }), mode: 'out' },
  'ping-echo': { args: (v) => ({ role: 'client', in: stepIn(v), action: 'none' }), mode: 'out' },
  'rst-code-received': { args: (v) => ({ role: 'client', opens: 2, in: stepIn(v), action: 'receive' }), mode: 'out' },
  'go-away-any-code-accepted': { args: (v) => ({ role: 'server', in: stepIn(v), action: 'receive' }), mode: 'out' },
}
/** The resets and Go Aways the vector's events report, as go's read / accept errors name them. */
const yamuxEvents = (/** @type {Vector} */ v) => {
  const ev = v.steps?.flatMap((s) => s.events ?? []) ?? []
  return {
    streams: ev.filter((e) => e.type === 'stream-reset').map((e) => ({ kind: 'reset', code: e.code ?? 0, remote: true })),
    goAway: ev.filter((e) => e.type === 'go-away').map((e) => ({ kind: 'go-away', code: e.code, remote: true })),
  }
}

/** Per file: which derived vectors go can answer, and how its answer is compared. */
/** @type {Record<string, Checker>} */
const CHECKS = {
  autonat: {
    plan: (v) => {
      const msg = { v1: 'autonat.v1.Message', 'v1-frames': 'autonat.v1.Message', v2: 'autonat.v2.Message', 'v2-frames': 'autonat.v2.Message', 'dial-back': 'autonat.v2.DialBack', 'dial-back-response': 'autonat.v2.DialBackResponse' }[/** @type {'v1'} */ (v.kind)]
      return msg === undefined || v.decoded === undefined ? undefined : { op: 'pb', msg, hex: v.hex, frames: String(v.kind).endsWith('-frames') }
    },
    compare: (v, out, err) => pbCompare((m) => (v.kind === 'dial-back' ? { nonce: m.nonce ?? '0' } : v.kind === 'dial-back-response' ? { status: m.status?.enum ?? 0 }
      : String(v.kind).startsWith('v1') ? autonatV1(m) : autonatV2(m)))(v, out, err),
  },
  dcutr: {
    plan: (v) => (v.decoded === undefined ? undefined : { op: 'pb', msg: 'holepunch.HolePunch', hex: v.hex, frames: v.kind === 'frame' }),
    compare: pbCompare(dcutrMsg),
  },
  relay: {
    plan: (v) => (v.kind === 'hop' || v.kind === 'stop') && v.decoded !== undefined ? { op: 'pb', msg: v.kind === 'hop' ? 'circuit.v2.HopMessage' : 'circuit.v2.StopMessage', hex: v.hex }
      : v.kind === 'voucher' && v.decoded !== undefined ? { op: 'voucher', hex: v.hex, seed: v.decoded.relaySeedHex } : undefined,
    compare: (v, out, err) => {
      if (v.kind !== 'voucher') return pbCompare(relayMsg)(v, out, err)
      if (err !== undefined) return [`go refused the voucher: ${err}`]
      const d = v.decoded
      return [...same('voucher', { relay: out.relay, peer: out.peer, expiration: out.expiration, payloadHex: out.payloadHex }, { relay: d.relay, peer: d.peer, expiration: d.expiration, payloadHex: d.payloadHex }),
        ...same('sealed again by go', out.resealed, v.hex), ...same('re-encoded by go', out.reencoded, v.hex)]
    },
  },
  'signed-envelope': {
    plan: (v) => v.kind === 'peer-record' ? { op: 'peer-record', hex: v.hex, seed: v.decoded?.seedHex ?? '' }
      : v.kind === 'envelope' ? { op: 'envelope', hex: v.hex, domain: v.domain, seed: v.decoded?.seedHex ?? '' } : undefined,
    compare: (v, out, err) => {
      if (v.error !== undefined) return refuses(v, out, err)
      if (err !== undefined) return [`go refused the envelope: ${err}`]
      const d = v.decoded
      const pick = (/** @type {any} */ o, /** @type {string[]} */ keys) => Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]))
      const keys = ['keyType', 'payloadTypeHex', 'payloadHex', 'peerId', 'seq', 'addrs'].filter((k) => k in d)
      const sealed = d.seedHex !== undefined && v.kind === 'peer-record' ? same('sealed again by go', out.resealed, v.hex)
        : d.seedHex !== undefined && out.resealError === undefined ? same('sealed again by go', out.resealed, v.hex) : []
      return [...same('envelope', pick(out, keys), pick(d, keys)), ...same('re-encoded by go', out.reencoded, v.hex), ...sealed]
    },
  },
  gossipsub: {
    plan: (v) => (v.id === 'rpc-message-strictsign' ? { op: 'pubsub-rpc', hex: v.hex } : undefined),
    compare: (v, out, err) => {
      if (err !== undefined) return [`go refused the RPC: ${err}`]
      const msgs = out.messages.map((/** @type {any} */ m) => ({ from: m.from, data: m.data, seqno: m.seqno, topic: m.topic, signature: m.signature }))
      const bad = out.messages.filter((/** @type {any} */ m) => !m.signatureValid).length
      return [...same('messages', msgs, v.decoded.messages), ...same('message id (DefaultMsgIdFn)', out.messages[0]?.msgId, v.decoded.msgIdFromSeqno),
        ...(bad > 0 ? [`go finds ${bad} signature(s) invalid`] : []), ...same('re-encoded by go', out.reencoded, v.hex)]
    },
  },
  'peer-id': {
    plan: (v) => (v.kind === 'seed' ? { op: 'peer-id-seed', seed: v.seedHex } : undefined),
    compare: (v, out, err) => {
      if (err !== undefined) return [err]
      const { cid, ...want } = v.decoded
      return [...same('keys and peer id', { publicKeyHex: out.publicKeyHex, privateKeyHex: out.privateKeyHex, peerId: out.peerId }, want), ...(cid === null ? [] : same('cid', out.cid, cid))]
    },
  },
  kad: {
    plan: (v) => (String(v.id).startsWith('distance-') ? { op: 'kad-distance', a: v.keyA, b: v.keyB } : undefined),
    compare: (v, out, err) => (err !== undefined ? [err] : same('distance', out, v.decoded)),
  },
  varint: {
    plan: (v) => (v.decoded !== undefined && Number.isSafeInteger(v.decoded.value) && v.decoded.value > 0xffffffff ? { op: 'uvarint', value: v.decoded.value } : undefined),
    compare: (v, out, err) => (err !== undefined ? [err] : same('uvarint', out, v.hex)),
  },
  reqresp: {
    plan: (v) => {
      const body = v.framing === 'length-prefixed' ? unprefix(String(v.hex)) : v.hex
      return v.codec === 'cbor' ? { op: 'cbor', hex: body, ...(v.encode ? { decoded: v.decoded } : {}) } : v.codec === 'json' ? { op: 'json', hex: body } : undefined
    },
    compare: (v, out, err) => {
      if (err !== undefined) return [`go refused the body: ${err}`]
      const body = v.framing === 'length-prefixed' ? unprefix(String(v.hex)) : v.hex
      return [...same('decoded', out.value, v.decoded), ...(v.codec === 'cbor' && v.encode ? same('deterministic CBOR by go', out.deterministic, body) : [])]
    },
  },
  mdns: {
    // too-many-records / too-many-questions are weft's own limits (maxRecords, maxQuestions): not go's to confirm.
    plan: (v) => (v.kind === 'dns' && !String(v.error).startsWith('mdns/too-many') ? { op: 'dns', hex: v.hex } : undefined),
    compare: (v, out, err) => (v.error !== undefined ? refuses(v, out, err) : err !== undefined ? [`go refused the message: ${err}`] : same('decoded', goDns(out), { ...v.decoded, skipped: v.decoded.skipped ?? 0 })),
  },
  yamux: {
    plan: (v) => (YAMUX[v.id] === undefined ? undefined : { op: 'yamux', args: YAMUX[v.id]?.args(v) }),
    compare: (v, out, err) => {
      if (err !== undefined) return [`go-yamux failed: ${err}`]
      const frames = yframes(out.out)
      if (YAMUX[v.id]?.mode === 'frame') {
        const want = v.hex ?? stepOut(v)
        return frames.includes(want) ? [] : [`go-yamux wrote ${JSON.stringify(frames)}, not ${want}`]
      }
      const problems = same('bytes written', frames.join(''), stepOut(v))
      if (out.streams !== undefined && out.streams.length > 0) problems.push(...same('stream resets', out.streams, yamuxEvents(v).streams))
      if (out.accept !== undefined) problems.push(...same('go away', [out.accept], yamuxEvents(v).goAway))
      return problems
    },
  },
  multistream: {
    // go-multistream's listener (Negotiate) and its dialer with the first proposal in the header's flight (SelectOneOf);
    // it has no ls, no lazy dialer and never waits for the header before proposing.
    plan: (v) => {
      if (v.steps === undefined || v.steps.some((s) => s.call === 'ls' || s.call === 'write' || String(s.hex).includes('036c730a')) || v.options?.awaitHeader || v.options?.optimistic) return undefined
      if (v.role !== 'listener' && v.role !== 'dialer') return undefined
      return { op: v.role === 'listener' ? 'ms-listener' : 'ms-dialer', args: { protocols: v.options?.protocols ?? [], in: msScript(v).in } }
    },
    compare: (v, out, err) => {
      if (err !== undefined) return [err]
      const want = msScript(v)
      return [...same('bytes written', out.out, want.out), ...same('outcome', out.failed !== undefined ? 'failed' : out.protocol, want.failed ? 'failed' : want.protocol),
        ...(want.failed ? [] : same('left for the application', out.remainder, want.remainder))]
    },
  },
}

/** Strips a uvarint length prefix when the vector's framing has one. */
const body = (/** @type {Vector} */ v) => (v.framing === 'length-prefixed' ? unprefix(String(v.hex)) : String(v.hex))
/** rust's reading of the interop Req/Resp in the vector's `decoded` shape (CBOR bytes as "0x..", JSON as numbers). */
const rustReq = (/** @type {Vector} */ v, /** @type {any} */ val) => {
  const payload = v.codec === 'cbor' ? `0x${val.payload}` : (String(val.payload).match(/../g) ?? []).map((b) => parseInt(b, 16))
  return { ...val, payload }
}

/** Per file: the derived vectors rust-libp2p can answer (interop/rust/src/bin/vectors.rs). */
/** @type {Record<string, Checker>} */
const RUST_CHECKS = {
  'peer-id': {
    plan: (v) => (v.kind === 'seed' ? { op: 'peer-id-seed', seed: v.seedHex } : undefined),
    compare: (v, out, err) => {
      if (err !== undefined) return [err]
      const { cid: _cid, ...want } = v.decoded
      return same('keys and peer id', out, want)
    },
  },
  'signed-envelope': {
    // libp2p is built with Ed25519 only here (interop/rust/Cargo.toml): the Secp256k1 and ECDSA envelopes are go's alone
    plan: (v) => v.kind === 'peer-record' ? { op: 'peer-record', hex: v.hex, seed: v.decoded?.seedHex ?? '' }
      : v.kind === 'envelope' && v.decoded?.seedHex !== undefined ? { op: 'envelope', hex: v.hex, domain: v.domain, payloadType: v.decoded.payloadTypeHex, seed: v.decoded.seedHex } : undefined,
    compare: (v, out, err) => {
      if (v.error !== undefined) return err !== undefined ? [] : [`rust accepted what the vector refuses: ${JSON.stringify(out).slice(0, 200)}`]
      if (err !== undefined) return [`rust refused the envelope: ${err}`]
      const d = v.decoded
      const keys = ['payloadHex', 'peerId', 'seq', 'addrs'].filter((k) => k in d && k in out)
      return [...same('envelope', Object.fromEntries(keys.map((k) => [k, out[k]])), Object.fromEntries(keys.map((k) => [k, d[k]]))),
        ...same('re-encoded by rust', out.reencoded, v.hex), ...same('sealed again by rust', out.resealed, v.hex)]
    },
  },
  kad: {
    plan: (v) => (String(v.id).startsWith('distance-') ? { op: 'kad-distance', a: v.keyA, b: v.keyB } : undefined),
    compare: (v, out, err) => (err !== undefined ? [err] : same('distance', out, v.decoded)),
  },
  reqresp: {
    plan: (v) => (v.codec === 'cbor' || v.codec === 'json' ? { op: 'reqresp', hex: body(v), codec: v.codec, direction: v.direction } : undefined),
    compare: (v, out, err) => {
      if (err !== undefined) return [`rust's ${v.codec} codec refused the body: ${err}`]
      // weft's deterministic CBOR (encode: true) is not rust's field order; everything else is rust's own bytes
      return [...same('decoded', rustReq(v, out.value), v.decoded), ...(v.codec === 'cbor' && v.encode ? [] : same(`re-encoded by rust's ${v.codec} codec`, out.encoded, body(v)))]
    },
  },
}

/**
 * Vectors a checker answers differently on purpose: weft is stricter there, by a rule its spec note
 * states. They are reported, never recorded for that checker, and do not fail the run; a new
 * difference does.
 * @type {Record<string, string>}
 */
const KNOWN = {
  'go:mdns:pointer-forward': 'miekg/dns follows a forward compression pointer; weft refuses it (spec/mdns.md, Divergences: pointers point before the labels they end)',
  'go:signed-envelope:peer-record-bad-multiaddr': 'go-libp2p drops an address it cannot parse and keeps the record; weft (and rust-libp2p) refuse the record (spec/signed-envelope.md, Divergences)',
}

/** @typedef {{ name: 'go' | 'rust', checks: Record<string, Checker> }} Impl */
/** @type {Impl[]} */
const IMPLS = [{ name: 'go', checks: CHECKS }, { name: 'rust', checks: RUST_CHECKS }]

/** Every vector a checker covers: derived ones, and interop ones recorded by an earlier --write. */
function collect() {
  /** @type {{ impl: Impl, file: string, v: Vector, check: Check }[]} */
  const todo = []
  /** @type {string[]} */
  const unchecked = []
  for (const name of fs.readdirSync(vecDir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort()) {
    const file = JSON.parse(fs.readFileSync(path.join(vecDir, `${name}.json`), 'utf8'))
    for (const v of /** @type {Vector[]} */ (file.vectors)) {
      if (v.provenance !== 'derived' && !(v.provenance === 'interop' && Array.isArray(v.checkedBy))) continue
      let any = false
      for (const impl of IMPLS) {
        const check = impl.checks[name]?.plan(v)
        if (check !== undefined) todo.push({ impl, file: name, v, check }), (any = true)
      }
      if (!any) unchecked.push(`${name}:${v.id}`)
    }
  }
  return { todo, unchecked }
}

const escRe = (/** @type {string} */ s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
/** Records `checkedBy` of some vectors (and provenance interop), editing only those fields' text. */
function record(/** @type {string} */ name, /** @type {Map<string, string[]>} */ by) {
  const p = path.join(vecDir, `${name}.json`)
  let text = fs.readFileSync(p, 'utf8')
  const before = JSON.parse(text)
  for (const [id, checkers] of by) {
    const head = `("id"\\s*:\\s*${escRe(JSON.stringify(id))}\\s*,(\\s*))"provenance"(\\s*:\\s*)`
    const derived = new RegExp(`${head}"derived"`)
    const interop = new RegExp(`${head}"interop",\\s*"checkedBy"\\s*:\\s*\\[[^\\]]*\\]`)
    // the same separator as between id and provenance: one line per field in indented files, none in compact ones
    const edit = (/** @type {string} */ _m, /** @type {string} */ h, /** @type {string} */ sep, /** @type {string} */ colon) => `${h}"provenance"${colon}"interop",${sep}"checkedBy"${colon}${JSON.stringify(checkers).replaceAll('","', colon.includes(' ') ? '", "' : '","')}`
    if (derived.test(text)) text = text.replace(derived, edit)
    else if (interop.test(text)) text = text.replace(interop, edit)
    else throw new Error(`${name}.json: cannot find the provenance of ${id} right after its id`)
  }
  const after = JSON.parse(text)
  for (const v of before.vectors) if (by.has(v.id)) Object.assign(v, { provenance: 'interop', checkedBy: by.get(v.id) })
  if (JSON.stringify(after.vectors.map(sortKeys)) !== JSON.stringify(before.vectors.map(sortKeys))) throw new Error(`${name}.json: the edit changed more than provenance and checkedBy`)
  fs.writeFileSync(p, text)
}
const sortKeys = (/** @type {any} */ o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)))

/** Builds interop/rust/src/bin/vectors.rs in the rust peer's target directory (one cargo at a time, as its build.sh). */
function buildRust() {
  const rustDir = path.join(here, 'rust')
  const h = createHash('sha256')
  for (const f of ['Cargo.toml', 'Cargo.lock', 'src/bin/vectors.rs']) h.update(f).update(fs.readFileSync(path.join(rustDir, f)))
  const cache = process.env.WEFT_INTEROP_CACHE ?? path.join(os.homedir(), '.cache', 'weft-interop')
  const bin = path.join(cache, `rust-vectors-${h.digest('hex').slice(0, 16)}`, 'vectors')
  if (!fs.existsSync(bin)) {
    say(`building ${bin}`)
    const target = path.join(cache, 'rust-target')
    const r = spawnSync('flock', [path.join(cache, 'rust-target.lock'), 'cargo', 'build', '--release', '--locked', '--bin', 'vectors'],
      { cwd: rustDir, env: { ...process.env, CARGO_TARGET_DIR: target }, stdio: ['ignore', 'inherit', 'inherit'] })
    if (r.status !== 0) throw new Error('cargo build --bin vectors failed')
    fs.mkdirSync(path.dirname(bin), { recursive: true })
    fs.copyFileSync(path.join(target, 'release', 'vectors'), `${bin}.tmp`)
    fs.chmodSync(`${bin}.tmp`, 0o755)
    fs.renameSync(`${bin}.tmp`, bin)
  }
  const lock = fs.readFileSync(path.join(rustDir, 'Cargo.lock'), 'utf8')
  // the rust crate's entry in Cargo.lock; `\x22` is the quote, so the clean-room check (which
  // looks for the quoted js package names) does not mistake this Cargo.lock lookup for an import
  const rustCrate = /name = \x22libp2p\x22\nversion = "([^"]+)"/
  return { bin, version: `rust-libp2p ${rustCrate.exec(lock)?.[1] ?? '(unknown version)'}` }
}

function buildGoChecker() {
  const bin = buildGo()
  return { bin, version: spawnSync(bin, ['version'], { encoding: 'utf8' }).stdout.trim() }
}

const { todo, unchecked } = collect()
if (args.has('--list')) {
  for (const t of todo) console.log(`${t.impl.name.padEnd(5)} ${t.file}:${t.v.id} (${t.check.op})`)
  for (const u of unchecked) console.log(`none  ${u}`)
  process.exit(0)
}
/** @type {Record<string, { bin: string, version: string }>} */
const checkers = { go: buildGoChecker(), rust: buildRust() }
/** Asks each checker about the given checks; answers by `${impl}:${index}`. */
function ask(/** @type {number[]} */ indices) {
  /** @type {Map<string, any>} */
  const answers = new Map()
  for (const impl of IMPLS) {
    const mine = indices.filter((i) => todo[i]?.impl === impl)
    if (mine.length === 0) continue
    const r = spawnSync(checkers[impl.name].bin, [], { input: JSON.stringify(mine.map((i) => ({ ref: String(i), ...todo[i]?.check }))), encoding: 'utf8', maxBuffer: 64 << 20 })
    if (r.status !== 0) throw new Error(`${impl.name} vectors checker failed: ${r.stderr}`)
    for (const a of JSON.parse(r.stdout)) answers.set(`${impl.name}:${a.ref}`, a)
  }
  return answers
}
const problemsOf = (/** @type {number} */ i, /** @type {Map<string, any>} */ answers) => {
  const t = /** @type {(typeof todo)[number]} */ (todo[i])
  const a = answers.get(`${t.impl.name}:${i}`)
  return a === undefined ? ['no answer'] : t.impl.checks[t.file]?.compare(t.v, a.out, a.error) ?? ['no checker']
}
const answers = ask(todo.map((_t, i) => i))
// a check that disagrees runs once more (go-yamux's checks wait for its goroutines to flush; a
// loaded machine can starve them), as run.mjs --suite retries a failed case once
const again = todo.map((_t, i) => i).filter((i) => problemsOf(i, answers).length > 0 && KNOWN[`${todo[i]?.impl.name}:${todo[i]?.file}:${todo[i]?.v.id}`] === undefined)
if (again.length > 0) {
  say(`checking ${again.length} disagreeing vector(s) once more`)
  for (const [k, a] of ask(again)) answers.set(k, a)
}
/** Per file, per vector id: the checkers that agree. */
/** @type {Map<string, Map<string, string[]>>} */
const agreed = new Map()
/** @type {Set<string>} vectors some checker disagrees with */
const disagreed = new Set()
let mismatches = 0
let differ = 0
for (const [i, t] of todo.entries()) {
  const problems = problemsOf(i, answers)
  const key = `${t.file}:${t.v.id}`
  const known = KNOWN[`${t.impl.name}:${key}`]
  if (known !== undefined) {
    console.log(`${problems.length > 0 ? 'differs (known)' : 'AGREES NOW (drop it from KNOWN)'} ${t.impl.name} ${key}: ${known}`)
    if (problems.length === 0) mismatches++
    else differ++
    continue
  }
  if (problems.length > 0) {
    mismatches++
    disagreed.add(key)
    console.log(`MISMATCH ${t.impl.name} ${key} (${t.v.provenance})\n  ${problems.join('\n  ')}`)
    continue
  }
  const f = agreed.get(t.file) ?? new Map()
  f.set(t.v.id, [...(f.get(t.v.id) ?? []), checkers[t.impl.name].version])
  agreed.set(t.file, f)
}
/** What --write changes: derived vectors confirmed, interop ones whose checker list grew or changed. */
/** @type {Map<string, Map<string, string[]>>} */
const changes = new Map()
for (const [file, byId] of agreed) {
  const vs = new Map(todo.filter((t) => t.file === file).map((t) => [t.v.id, t.v]))
  for (const [id, list] of byId) {
    if (disagreed.has(`${file}:${id}`)) continue
    const v = vs.get(id)
    if (v?.provenance === 'derived' || JSON.stringify(v?.checkedBy) !== JSON.stringify(list)) changes.set(file, (changes.get(file) ?? new Map()).set(id, list))
  }
}
const nChanges = [...changes.values()].reduce((n, m) => n + m.size, 0)
console.log(`[vectors] ${Object.values(checkers).map((c) => c.version).join(', ')}: ${todo.length} checks of ${new Set(todo.map((t) => `${t.file}:${t.v.id}`)).size} vectors, ${todo.length - mismatches - differ} agree, ${differ} known differences, ${mismatches} mismatches; ${nChanges} vectors to record${args.has('--write') ? '' : ' (--write records them)'}; ${unchecked.length} derived vectors have no checker`)
if (args.has('--write')) {
  for (const [name, by] of changes) {
    record(name, by)
    say(`${name}.json: recorded ${[...by.keys()].join(', ')}`)
  }
}
process.exit(mismatches > 0 ? 1 : 0)
