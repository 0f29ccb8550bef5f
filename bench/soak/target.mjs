// The soak's target: ONE weft node in its own process (so its memory is measured alone), forked
// by bench/soak.mjs with an IPC channel. It serves an echo protocol, a pubsub topic and the DHT
// (server mode), and every second it reports a sample: heap (after a forced GC when node runs with
// --expose-gc), RSS, external memory, connections, open streams, event-loop delay.
//
// Errors are sorted here, where they happen. Expected: the typed errors a misbehaving or departing
// peer causes (ProtocolError, TransportError, DialError / OutcomeError, StreamResetError). Anything
// else is unexpected: a connection closed with another error type (a UsageError is a weft bug), an
// `error` event of the node, a handler that fails with an untyped error, and every
// uncaughtException / unhandledRejection of this process (caught and counted, not fatal, so one bug
// does not end the run).
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { writeHeapSnapshot } from 'node:v8'
// dist/ by default; WEFT_SOAK_DIST (a file: URL ending in '/') points at another build (test/soak.test.ts
// builds the current src/ into node_modules/.cache so the test never runs a stale dist/).
const DIST = process.env.WEFT_SOAK_DIST ?? new URL('../../dist/', import.meta.url).href
const { createNode } = await import(new URL('node.js', DIST).href)

const ECHO = '/soak/echo/1.0.0'
export const TOPIC = 'soak'
const EXPECTED = new Set(['ProtocolError', 'TransportError', 'DialError', 'OutcomeError', 'StreamResetError'])
const MiB = 1024 * 1024

const expected = {} // "Name code" -> count
const unexpected = [] // first 50 unexpected errors, described
let unexpectedCount = 0
let streamsOpen = 0
let streamsOpened = 0
let connectionsOpened = 0
let messagesReceived = 0

function describe(e) {
  if (e instanceof Error) return { name: e.name, code: e.code, message: String(e.message).slice(0, 300), stack: String(e.stack ?? '').split('\n').slice(0, 8).join('\n') }
  return { name: typeof e, message: String(e).slice(0, 300) }
}
function countUnexpected(where, e) {
  unexpectedCount++
  if (unexpected.length < 50) unexpected.push({ where, ...describe(e) })
}
function classify(where, e) {
  if (e instanceof Error && EXPECTED.has(e.name)) {
    const k = `${e.name} ${e.code ?? ''}`.trim()
    expected[k] = (expected[k] ?? 0) + 1
  } else countUnexpected(where, e)
}

process.on('uncaughtException', (e) => countUnexpected('uncaughtException', e))
process.on('unhandledRejection', (e) => countUnexpected('unhandledRejection', e))

// '/soak/<n>' records: accepted as they are (the churn puts them; the store fills and then stays).
const validators = { soak: { validate() {}, select() { return 0 } } }
const node = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], dht: { mode: 'server', validators } })
node.on('connection:open', () => { connectionsOpened++ })
node.on('connection:close', ({ error }) => { if (error !== undefined) classify('connection:close', error) })
// The node-level 'error' event (internal errors caught by the runtime), where the build has it.
node.addEventListener('error', (ev) => countUnexpected('node error event', ev.detail?.error ?? ev.detail ?? ev))

node.handle(ECHO, async (stream) => {
  streamsOpen++
  streamsOpened++
  try {
    // Echo chunk by chunk: the sender's own flow control bounds what is in flight.
    await stream.sink(stream.source)
  } catch (e) {
    classify('echo handler', e)
    stream.reset()
  } finally {
    streamsOpen--
  }
}, { maxInboundStreams: 8 })

node.pubsub.subscribe(TOPIC)
node.pubsub.on('message', () => { messagesReceived++ })

const gc = globalThis.gc
const h = monitorEventLoopDelay({ resolution: 10 }) // per sample
h.enable()
const hAll = monitorEventLoopDelay({ resolution: 10 }) // the whole run after the warm-up ('warm' message)
hAll.enable()
let p99AtEnd

// A forced full GC costs the event loop a few ms: one every GC_EVERY samples keeps it out of
// most event-loop-delay windows while the heap trend still gets a point every 10 s.
const GC_EVERY = 10
let n = 0
function sample(forceGc = n % GC_EVERY === 0) {
  n++
  const gcForced = forceGc && gc !== undefined
  if (gcForced) gc()
  const m = process.memoryUsage()
  const p99 = h.percentile(99) / 1e6
  const max = h.max / 1e6
  h.reset()
  return {
    t: Date.now(),
    gcForced,
    heapMiB: m.heapUsed / MiB,
    rssMiB: m.rss / MiB,
    externalMiB: m.external / MiB,
    arrayBuffersMiB: m.arrayBuffers / MiB,
    connections: node.getConnections().length,
    streams: streamsOpen,
    eventLoopDelayP99Ms: p99,
    eventLoopDelayMaxMs: max,
    connectionsOpened,
    streamsOpened,
    messagesReceived,
    errorsUnexpected: unexpectedCount,
  }
}

const timer = setInterval(() => process.send?.({ type: 'sample', sample: sample() }), 1000)

process.on('message', async (msg) => {
  if (msg?.type === 'warm') hAll.reset()
  if (msg?.type === 'end') p99AtEnd = hAll.percentile(99) / 1e6
  if (msg?.type === 'snapshot') {
    gc?.()
    writeHeapSnapshot(msg.file)
    process.send?.({ type: 'snapshot', file: msg.file })
  }
  if (msg?.type === 'idle') process.send?.({ type: 'idle', sample: sample(true) })
  if (msg?.type === 'stop') {
    clearInterval(timer)
    const eventLoopDelayP99Ms = p99AtEnd ?? hAll.percentile(99) / 1e6
    const last = sample(true)
    await node.stop().catch((e) => countUnexpected('stop', e))
    process.send?.({ type: 'final', sample: last, expected, unexpected, errorsUnexpected: unexpectedCount, eventLoopDelayP99Ms, gcForced: gc !== undefined }, () => process.exit(0))
  }
})
process.on('disconnect', () => process.exit(0))

process.send?.({ type: 'ready', addr: node.getMultiaddrs()[0].toString(), gcForced: gc !== undefined })
