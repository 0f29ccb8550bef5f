/**
 * Scenario `request-response` (../CONTRACT.md, section `request-response`): the weft side, with the
 * public API of weft/request-response (`requestResponse`, `cbor`, `json`, `noResponse`).
 *
 * Listener: serves `/weft-interop/rr/cbor/1.0.0` (cbor()) and `/weft-interop/rr/json/1.0.0` (json(),
 * payloads as arrays of numbers as serde_json writes serde_bytes) and pushes `listenerResult` ok once
 * it has sent every expected response, seen both omissions and the delayed request, and seen the
 * oversize request fail ('reqresp/request-too-large').
 * Dialer: dial, one ping, then (a) one request per codec, (b) 64 concurrent, (c) oversize then a
 * normal request, (d) a 2 s timeout against a 4 s delay, (e) omitted responses; the error names the
 * first failed sub-check. Over the runner's `transport` and `security` (TCP + Noise or TLS, or
 * QUIC v1: common.mjs scenarioStack).
 *
 * Dispatched from peer.mjs before it builds its usual node; never returns (exits, or serves).
 */
import { performance } from 'node:perf_hooks'
import { createNode } from '../../dist/node.js'
import { requestResponse, cbor, json, noResponse } from '../../dist/request-response/index.js'
import { log, die, env, armTestTimeout, connectRedis, dialListener, waitForListenerResult, finishDialer, listenerResult, publishAndServe, firstAddr, scenarioStack } from './common.mjs'

export const CBOR = '/weft-interop/rr/cbor/1.0.0'
export const JSON_P = '/weft-interop/rr/json/1.0.0'
const MIB = 1024 * 1024
const SHORT_TIMEOUT_MS = 2000
const DELAY_MS = 4000
const LISTENER_CHECK_MS = 60_000
export const ID = {
  aCbor: 2 ** 40 + 1, aJson: 2 ** 40 + 2, b0: 1000, oversize: 2000, after: 2001, delay: 3000, omitCbor: 4000, omitJson: 4001,
}
const CONCURRENT = 64

/** Request payloads: byte j = (id + j) & 0xff. */
export function reqPayload(/** @type {number} */ id, /** @type {number} */ len) {
  const b = new Uint8Array(len)
  for (let j = 0; j < len; j++) b[j] = (id + j) & 0xff
  return b
}
/** Response payloads: byte j = j & 0xff. */
export function respPayload(/** @type {number} */ len) {
  const b = new Uint8Array(len)
  for (let j = 0; j < len; j++) b[j] = j & 0xff
  return b
}
const normal = (/** @type {number} */ id, /** @type {number} */ respLen) => ({ id, payload: reqPayload(id, 16), delay_ms: 0, resp_len: respLen, omit: false })
const equal = (/** @type {Uint8Array} */ a, /** @type {Uint8Array} */ b) => a.length === b.length && a.every((x, i) => x === b[i])

/**
 * serde_json writes a `serde_bytes` field as an array of numbers: wrap json() so the application
 * sees `payload` as a Uint8Array, as with cbor(), and the wire carries the array.
 * @param {any} inner @returns {any}
 */
function jsonBytes(inner) {
  const out = (/** @type {any} */ m) => ({ ...m, payload: Array.from(m.payload) })
  const into = (/** @type {any} */ m) => {
    if (!Array.isArray(m?.payload) || !m.payload.every((/** @type {unknown} */ x) => Number.isInteger(x) && /** @type {number} */ (x) >= 0 && /** @type {number} */ (x) <= 255)) {
      throw new TypeError('payload is not an array of byte values')
    }
    return { ...m, payload: Uint8Array.from(m.payload) }
  }
  return {
    name: 'json',
    encodeRequest: (/** @type {any} */ r) => inner.encodeRequest(out(r)),
    decodeRequest: (/** @type {Uint8Array} */ b) => into(inner.decodeRequest(b)),
    encodeResponse: (/** @type {any} */ r) => inner.encodeResponse(out(r)),
    decodeResponse: (/** @type {Uint8Array} */ b) => into(inner.decodeResponse(b)),
  }
}

/** The error's code (OutcomeError / ProtocolError), or its message. */
const codeOf = (/** @type {any} */ e) => e?.code ?? e?.message ?? String(e)

export async function run() {
  const isDialer = env('is_dialer') === 'true'
  const stack = scenarioStack()
  const ip = env('ip', '0.0.0.0')
  armTestTimeout()
  const redis = await connectRedis()
  log(`${isDialer ? 'dialer' : 'listener'} scenario=request-response ${stack.name}`)
  if (isDialer) await dialer(redis, ip, stack)
  else await listener(redis, ip, stack)
  await new Promise(() => {}) // serve until killed
}

// ---- dialer ----------------------------------------------------------------------------------

/** @param {any} redis @param {string} ip @param {ReturnType<typeof scenarioStack>} stack */
async function dialer(redis, ip, stack) {
  // The dialer only asks (no handler). Its own request cap is raised so that (c) puts the oversize
  // request on the wire (weft checks maxRequestBytes before sending, as the listener will).
  const opts = { maxRequestBytes: 2 * MIB }
  const node = await createNode({
    listen: [stack.listen(ip)],
    security: stack.security,
    services: {
      rrCbor: requestResponse({ protocol: CBOR, codec: cbor(), ...opts }),
      rrJson: requestResponse({ protocol: JSON_P, codec: jsonBytes(json()), ...opts }),
    },
  })
  let closed = /** @type {string | undefined} */ (undefined)
  node.on('connection:close', ({ connection, error }) => {
    closed = `connection to ${connection.peer} closed${error ? `: ${error.message}` : ''}`
    log(closed)
  })
  const { peer, rtt, handshake } = await dialListener(node, redis, 60)

  /** node.request picks the service by protocol; 'short' is cbor with (d)'s 2 s timeout. */
  const how = {
    cbor: { protocol: CBOR }, json: { protocol: JSON_P }, short: { protocol: CBOR, timeout: SHORT_TIMEOUT_MS },
  }
  /** @param {'cbor' | 'json' | 'short'} which @param {any} req */
  const request = (which, req) => node.request(peer, req, how[which])
  /** @param {'cbor' | 'json' | 'short'} which @param {any} req */
  const expectOk = async (which, req) => {
    let r
    try {
      r = await request(which, req)
    } catch (e) {
      throw new Error(`request ${req.id} (${which}) failed: ${codeOf(e)}`)
    }
    if (Number(r.id) !== req.id) throw new Error(`request ${req.id} (${which}): response id ${r.id}`)
    if (!(r.payload instanceof Uint8Array) || !equal(r.payload, respPayload(req.resp_len))) {
      throw new Error(`request ${req.id} (${which}): response payload (${r.payload?.length} bytes) is not the ${req.resp_len}-byte pattern`)
    }
  }
  /** @param {'cbor' | 'json' | 'short'} which @param {any} req @param {string[]} codes */
  const expectFail = async (which, req, codes) => {
    let r
    try {
      r = await request(which, req)
    } catch (e) {
      if (codes.includes(codeOf(e))) { log(`request ${req.id} (${which}) failed as expected: ${/** @type {Error} */ (e).message}`); return }
      throw new Error(`request ${req.id} (${which}): failed with ${codeOf(e)}, want ${codes.join(' or ')}`)
    }
    throw new Error(`request ${req.id} (${which}): got a response (${r.payload?.length} payload bytes), want ${codes.join(' or ')}`)
  }
  const alive = (/** @type {string} */ step) => { if (closed !== undefined) throw new Error(`${step}: ${closed}`) }
  /** @param {string} name @param {() => Promise<void>} f */
  const step = async (name, f) => {
    const t = performance.now()
    try {
      await f()
    } catch (e) {
      die(`request-response ${name}: ${/** @type {Error} */ (e).message}`)
    }
    log(`${name}: ok in ${(performance.now() - t).toFixed(0)} ms`)
  }

  await step('(a) one request per codec', async () => {
    await expectOk('cbor', normal(ID.aCbor, 100_000))
    await expectOk('json', normal(ID.aJson, 10_000))
  })
  await step('(b) 64 concurrent', async () => {
    await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => expectOk('cbor', normal(ID.b0 + i, i * 16))))
  })
  await step('(c) oversize', async () => {
    // The listener resets the stream past its 1 MiB cap (weft, go: 'reqresp/reset'), or reads 1 MiB,
    // fails to decode it and closes the stream without a response (rust: 'reqresp/no-response').
    await expectFail('cbor', { ...normal(ID.oversize, 10), payload: reqPayload(ID.oversize, MIB + 1) }, ['reqresp/reset', 'reqresp/no-response'])
    await expectOk('cbor', normal(ID.after, 10))
    alive('(c) oversize')
  })
  await step('(d) timeout', async () => {
    await expectFail('short', { ...normal(ID.delay, 10), delay_ms: DELAY_MS }, ['reqresp/timeout'])
  })
  await step('(e) omit', async () => {
    await expectFail('cbor', { ...normal(ID.omitCbor, 10), omit: true }, ['reqresp/no-response'])
    await expectFail('json', { ...normal(ID.omitJson, 10), omit: true }, ['reqresp/no-response'])
    alive('(e) omit')
  })

  await waitForListenerResult(redis)
  await finishDialer(node, redis, handshake, rtt)
}

// ---- listener --------------------------------------------------------------------------------

/** @param {any} redis @param {string} ip @param {ReturnType<typeof scenarioStack>} stack */
async function listener(redis, ip, stack) {
  const sent = new Set()
  const omitted = new Set()
  let delayed = false
  let oversize = 0
  const pushResult = listenerResult(redis)
  const want = [ID.aCbor, ID.aJson, ID.after, ...Array.from({ length: CONCURRENT }, (_, i) => ID.b0 + i)]
  const summary = () => `${sent.size} of ${want.length} responses sent, omissions [${[...omitted]}], delayed request ${delayed ? 'seen' : 'not seen'}, oversize failures ${oversize}`
  /** @param {boolean} ok @param {string} [error] */
  const push = (ok, error) => void pushResult(ok, error)
  const check = () => {
    if (want.every((id) => sent.has(id)) && omitted.has(ID.omitCbor) && omitted.has(ID.omitJson) && delayed && oversize >= 1) push(true)
  }
  /** Requests whose response is being written, by the handler's peer: response-sent names only the peer, so count in order. */
  const writing = /** @type {number[]} */ ([])

  /** @param {any} req @param {{ signal: AbortSignal }} ctx */
  const handler = async (req, { signal }) => {
    const id = Number(req.id)
    if (!(req.payload instanceof Uint8Array) || !equal(req.payload, reqPayload(id, 16))) {
      push(false, `request ${id}: payload (${req.payload?.length} bytes) is not the 16-byte pattern`)
      return noResponse
    }
    if (req.omit === true) {
      omitted.add(id)
      log(`request ${id}: omit`)
      queueMicrotask(check)
      return noResponse
    }
    if (req.delay_ms > 0) {
      delayed = true
      log(`request ${id}: answering after ${req.delay_ms} ms`)
      await new Promise((resolve, reject) => {
        const t = setTimeout(resolve, req.delay_ms)
        signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason) }, { once: true })
      })
    }
    if (id !== ID.delay) writing.push(id)
    return { id: req.id, payload: respPayload(req.resp_len) }
  }
  const node = await createNode({
    listen: [stack.listen(ip)],
    security: stack.security,
    // stock limits: (b)'s 64 concurrent requests fit under maxConcurrentStreams (100, rust's)
    services: {
      rrCbor: requestResponse({ protocol: CBOR, codec: cbor(), handler }),
      rrJson: requestResponse({ protocol: JSON_P, codec: jsonBytes(json()), handler }),
    },
  })
  for (const name of ['rrCbor', 'rrJson']) {
    const svc = node.service(name)
    svc.on('response-sent', () => {
      // one connection, answered in the order handlers returned (writes of different streams may
      // finish out of order, but every expected id is counted once all are sent)
      const id = writing.shift()
      if (id !== undefined) sent.add(id)
      check()
    })
    svc.on('inbound-failure', ({ error }) => {
      log(`${name}: inbound failure ${codeOf(error)}: ${error.message}`)
      if (codeOf(error) === 'reqresp/request-too-large') { oversize++; check() } else if (codeOf(error) === 'reqresp/decode') push(false, `${name}: ${error.message}`)
    })
  }
  let armed = false
  node.on('connection:open', (c) => {
    log(`connection from ${c.peer}`)
    if (armed) return
    armed = true
    setTimeout(() => push(false, `after 60 s: ${summary()}`), LISTENER_CHECK_MS).unref()
  })
  await publishAndServe(node, redis, firstAddr(node))
}
