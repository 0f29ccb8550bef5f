#!/usr/bin/env node
/**
 * Cross-checks the vectors weft computed itself (provenance `derived`, spec/README.md "Vectors")
 * against go-libp2p: interop/go/cmd/vectors is given each vector's inputs (its bytes, seed, keys or
 * script) and answers with go-libp2p's own code; this script compares the answer with the vector's
 * expected value. It never runs weft: a vector is confirmed only by another implementation.
 *
 *   node interop/vectors.mjs            check; exit 1 on any mismatch (the `vectors` step of run.mjs --suite)
 *   node interop/vectors.mjs --write    also record each confirmed `derived` vector as provenance
 *                                       `interop` with `checkedBy: ["go-libp2p vX"]` (a text edit of
 *                                       that vector's provenance only; the rest of the file is kept)
 *   node interop/vectors.mjs --list     the vectors each checker covers, and the derived ones it cannot
 *
 * Vectors already recorded as `interop` with a `checkedBy` are checked again on every run, so a
 * change of weft's vectors or of the go module versions is caught. What is checked per file, and
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
  isDeepStrictEqual(got, want) ? [] : [`${what}: go ${JSON.stringify(got)} != vector ${JSON.stringify(want)}`]
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

/**
 * Vectors go answers differently on purpose: weft is stricter than go here, by a rule its spec note
 * states. They are reported, never recorded as interop, and do not fail the run; a new difference does.
 * @type {Record<string, string>}
 */
const KNOWN = {
  'mdns:pointer-forward': 'miekg/dns follows a forward compression pointer; weft refuses it (spec/mdns.md, Divergences: pointers point before the labels they end)',
  'signed-envelope:peer-record-bad-multiaddr': 'go-libp2p drops an address it cannot parse and keeps the record; weft refuses the record (spec/signed-envelope.md, Divergences)',
}

/** Every vector a checker covers: derived ones, and interop ones recorded by an earlier --write. */
function collect() {
  /** @type {{ file: string, v: Vector, check: Check }[]} */
  const todo = []
  /** @type {string[]} */
  const unchecked = []
  for (const name of fs.readdirSync(vecDir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort()) {
    const file = JSON.parse(fs.readFileSync(path.join(vecDir, `${name}.json`), 'utf8'))
    for (const v of /** @type {Vector[]} */ (file.vectors)) {
      if (v.provenance !== 'derived' && !(v.provenance === 'interop' && Array.isArray(v.checkedBy))) continue
      const check = CHECKS[name]?.plan(v)
      if (check === undefined) unchecked.push(`${name}:${v.id}`)
      else todo.push({ file: name, v, check })
    }
  }
  return { todo, unchecked }
}

/** Rewrites `"provenance": "derived"` of one vector in place, keeping the file's own layout. */
function recordInterop(/** @type {string} */ name, /** @type {string[]} */ ids, /** @type {string} */ checker) {
  const p = path.join(vecDir, `${name}.json`)
  let text = fs.readFileSync(p, 'utf8')
  const before = JSON.parse(text)
  for (const id of ids) {
    const re = new RegExp(`("id"\\s*:\\s*${JSON.stringify(id).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*,(\\s*))"provenance"(\\s*:\\s*)"derived"`)
    if (!re.test(text)) throw new Error(`${name}.json: cannot find the provenance of ${id} right after its id`)
    // the same separator as between id and provenance: one line per field in indented files, none in compact ones
    text = text.replace(re, (_m, head, sep, colon) => `${head}"provenance"${colon}"interop",${sep}"checkedBy"${colon}${JSON.stringify([checker])}`)
  }
  const after = JSON.parse(text)
  for (const v of before.vectors) if (ids.includes(v.id)) Object.assign(v, { provenance: 'interop', checkedBy: [checker] })
  if (JSON.stringify(after.vectors.map((/** @type {Vector} */ v) => ({ ...v })).map(sortKeys)) !== JSON.stringify(before.vectors.map(sortKeys))) throw new Error(`${name}.json: the edit changed more than provenance`)
  fs.writeFileSync(p, text)
}
const sortKeys = (/** @type {any} */ o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)))

const { todo, unchecked } = collect()
if (args.has('--list')) {
  for (const t of todo) console.log(`go    ${t.file}:${t.v.id} (${t.check.op})`)
  for (const u of unchecked) console.log(`none  ${u}`)
  process.exit(0)
}
const bin = buildGo()
const version = spawnSync(bin, ['version'], { encoding: 'utf8' }).stdout.trim()
const r = spawnSync(bin, [], { input: JSON.stringify(todo.map((t, i) => ({ ref: String(i), ...t.check }))), encoding: 'utf8', maxBuffer: 64 << 20 })
if (r.status !== 0) throw new Error(`go vectors checker failed: ${r.stderr}`)
const answers = new Map(JSON.parse(r.stdout).map((/** @type {any} */ a) => [a.ref, a]))
/** @type {Map<string, string[]>} */
const confirmed = new Map()
let mismatches = 0
let differ = 0
for (const [i, t] of todo.entries()) {
  const a = answers.get(String(i))
  const problems = a === undefined ? ['no answer'] : CHECKS[t.file]?.compare(t.v, a.out, a.error) ?? ['no checker']
  const known = KNOWN[`${t.file}:${t.v.id}`]
  if (known !== undefined) {
    console.log(`${problems.length > 0 ? 'differs (known)' : 'AGREES NOW (drop it from KNOWN)'} ${t.file}:${t.v.id}: ${known}`)
    if (problems.length === 0) mismatches++
    else differ++
  } else if (problems.length > 0) {
    mismatches++
    console.log(`MISMATCH ${t.file}:${t.v.id} (${t.v.provenance})\n  ${problems.join('\n  ')}`)
  } else if (t.v.provenance === 'derived') confirmed.set(t.file, [...(confirmed.get(t.file) ?? []), t.v.id])
}
const newly = [...confirmed.values()].reduce((n, l) => n + l.length, 0)
console.log(`[vectors] ${version}: ${todo.length} checked, ${todo.length - mismatches - differ} agree, ${differ} known differences, ${mismatches} mismatches; ${newly} derived vectors confirmed${args.has('--write') ? '' : ' (--write records them)'}; ${unchecked.length} derived vectors have no checker`)
if (args.has('--write')) {
  for (const [name, ids] of confirmed) {
    recordInterop(name, ids, version)
    say(`${name}.json: ${ids.length} vectors now interop (${version})`)
  }
}
process.exit(mismatches > 0 ? 1 : 0)
