#!/usr/bin/env node
/**
 * Captures the request-response bytes rust-libp2p (request_response::cbor / ::json, serde with
 * serde_bytes) and the go peer (fxamacker/cbor, encoding/json) put on the wire for the
 * `request-response` scenario's messages, and writes them to spec/vectors/interop-reqresp.json as
 * `interop` vectors (test/interop-reqresp-vectors.test.ts decodes them with weft's codecs).
 * Run by hand, not by `npm test`:
 *
 *   npm run build && node interop/weft/reqresp-capture.mjs [--dry-run]
 *
 * For each of rust and go (built with their build.sh): (1) the peer as a dialer against a weft
 * listener that serves both protocols with `raw()` and records the request bytes of sub-check (a)
 * (answering them correctly, so the peer moves from the cbor request to the json one); (2) the peer
 * as a listener, asked by weft with `raw()` for `Req { id: 2^40 + 1, payload: 16 bytes, resp_len: 4 }`
 * in each codec, recording the response bytes.
 */
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNode } from '../../dist/node.js'
import { requestResponse, raw, cbor, json } from '../../dist/request-response/index.js'
import { killGroup, missingTools, sleep, startRedis } from '../lib/proc.mjs'
import { CBOR, JSON_P, ID, reqPayload } from './reqresp.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '../..')
const dryRun = process.argv.includes('--dry-run')
const hex = (/** @type {Uint8Array} */ b) => Buffer.from(b).toString('hex')
const say = (/** @type {string} */ s) => console.error(`[capture] ${s}`)

const { redisServer, missing } = missingTools(new Set(['go', 'rust']))
if (missing.length > 0) { say(`missing: ${missing.join(', ')}`); process.exit(1) }
const { proc: redisProc, addr: redisAddr, db } = await startRedis(/** @type {string} */ (redisServer))
if (db === undefined) { say('redis did not start'); process.exit(1) }

const bins = {}
for (const impl of ['rust', 'go']) {
  const r = spawnSync('bash', [path.join(root, 'interop', impl, 'build.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  if (r.status !== 0) { say(`${impl} build failed`); process.exit(1) }
  bins[impl] = r.stdout.trim().split('\n').pop()
}

/** @param {string} impl @param {boolean} dialer */
function startPeer(impl, dialer) {
  const env = { ...process.env, transport: 'tcp', muxer: 'yamux', security: 'noise', scenario: 'request-response', ip: '127.0.0.1', redis_addr: redisAddr, test_timeout_seconds: '30', is_dialer: String(dialer) }
  return spawn(bins[impl], [], { env, stdio: ['ignore', 'ignore', 'ignore'], detached: true })
}

const jsonCodec = json()
const cborCodec = cbor()
/** The correct response to a request the peer sent (decoded with weft's codecs). */
function answer(/** @type {string} */ protocol, /** @type {Uint8Array} */ bytes) {
  if (protocol === CBOR) {
    const req = /** @type {any} */ (cborCodec.decodeRequest(bytes))
    return cborCodec.encodeResponse({ id: req.id, payload: Uint8Array.from({ length: req.resp_len }, (_, j) => j & 0xff) })
  }
  const req = /** @type {any} */ (jsonCodec.decodeRequest(bytes))
  return jsonCodec.encodeResponse({ id: req.id, payload: Array.from({ length: req.resp_len }, (_, j) => j & 0xff) })
}

/** @type {Record<string, Record<string, Uint8Array>>} */
const captured = {}
for (const impl of ['rust', 'go']) {
  captured[impl] = {}
  // (1) the peer's requests
  await db.command('DEL', 'listenerAddr', 'listenerResult')
  /** @type {Map<string, Uint8Array>} */
  const got = new Map()
  /** @type {() => void} */ let done = () => {}
  const both = new Promise((r) => { done = () => r(undefined) })
  const handler = (/** @type {string} */ protocol) => async (/** @type {Uint8Array} */ bytes) => {
    if (!got.has(protocol)) got.set(protocol, bytes.slice())
    if (got.size === 2) done()
    return answer(protocol, bytes)
  }
  const listener = await createNode({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    services: {
      c: requestResponse({ protocol: CBOR, codec: raw(), handler: handler(CBOR) }),
      j: requestResponse({ protocol: JSON_P, codec: raw(), handler: handler(JSON_P) }),
    },
  })
  await db.command('RPUSH', 'listenerAddr', listener.getMultiaddrs()[0].toString())
  const d = startPeer(impl, true)
  await Promise.race([both, sleep(20_000).then(() => { throw new Error(`${impl} dialer: no requests within 20 s`) })])
  killGroup(d, 'SIGKILL')
  await listener.stop()
  captured[impl].request_cbor = /** @type {Uint8Array} */ (got.get(CBOR))
  captured[impl].request_json = /** @type {Uint8Array} */ (got.get(JSON_P))

  // (2) the peer's responses
  await db.command('DEL', 'listenerAddr', 'listenerResult')
  const l = startPeer(impl, false)
  const reply = await db.command('BLPOP', 'listenerAddr', 20)
  if (reply === null) throw new Error(`${impl} listener published no address`)
  const asker = await createNode({
    listen: [],
    services: { c: requestResponse({ protocol: CBOR, codec: raw() }), j: requestResponse({ protocol: JSON_P, codec: raw() }) },
  })
  const peer = (await asker.dial(reply[1])).peer
  const req = { id: ID.aCbor, payload: reqPayload(ID.aCbor, 16), delay_ms: 0, resp_len: 4, omit: false }
  captured[impl].response_cbor = await asker.service('c').request(peer, cborCodec.encodeRequest(req))
  captured[impl].response_json = await asker.service('j').request(peer, jsonCodec.encodeRequest({ ...req, payload: Array.from(req.payload) }))
  await asker.stop()
  killGroup(l, 'SIGKILL')
  for (const [k, v] of Object.entries(captured[impl])) say(`${impl} ${k}: ${v.length} bytes ${hex(v).slice(0, 120)}${v.length > 60 ? '...' : ''}`)
}
killGroup(redisProc, 'SIGTERM')

const SOURCES = {
  rust: 'rust-libp2p 0.57.1 (libp2p-request-response 0.30, request_response::cbor with cbor4ii / ::json with serde_json; Req and Resp derive serde, payload #[serde(with = "serde_bytes")]): interop/rust/src/reqresp.rs',
  go: 'go-libp2p v0.48.0 peer by hand: github.com/fxamacker/cbor/v2 v2.10.0 (default options) and encoding/json with the payload as []uint16: interop/go/reqresp.go',
}
const date = new Date().toISOString().slice(0, 10)
/** A decoded value for the file: bytes as "0x..". */
const show = (/** @type {any} */ v) => Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x instanceof Uint8Array ? `0x${hex(x)}` : Array.isArray(x) ? `0x${hex(Uint8Array.from(x))}` : x]))
const vectors = []
for (const impl of ['rust', 'go']) {
  for (const [k, bytes] of Object.entries(captured[impl])) {
    const [direction, codec] = k.split('_')
    const c = codec === 'cbor' ? cborCodec : jsonCodec
    const decoded = show(direction === 'request' ? c.decodeRequest(bytes) : c.decodeResponse(bytes))
    vectors.push({
      id: `${impl}-${codec}-${direction}`,
      provenance: 'interop',
      source: `${SOURCES[impl]}; captured by interop/weft/reqresp-capture.mjs on ${date}`,
      codec,
      direction,
      hex: hex(bytes),
      ...(codec === 'json' ? { text: Buffer.from(bytes).toString('utf8') } : {}),
      decoded,
    })
  }
}
const file = {
  protocol: 'request-response (interop)',
  description: 'The bytes rust-libp2p and the go peer write for the request-response scenario\'s Req and Resp (interop/CONTRACT.md, request-response), captured from live runs; weft decodes each to `decoded` (bytes as "0x..") and, for JSON, re-encodes the same object to the same bytes. Regenerate with interop/weft/reqresp-capture.mjs.',
  vectors,
}
const out = path.join(root, 'spec/vectors/interop-reqresp.json')
if (dryRun) console.log(JSON.stringify(file, null, 2))
else { fs.writeFileSync(out, `${JSON.stringify(file, null, 2)}\n`); say(`wrote ${path.relative(root, out)} (${vectors.length} vectors)`) }
process.exit(0)
