/**
 * The page of the Chromium suite (test/browser/chromium.test.ts): an application an embedder would
 * write, using only weft/browser's public API, bundled by esbuild the way an embedder ships it
 * (ESM, minified, platform browser; test/browser/harness.ts builds it).
 *
 * At load it creates one node (gossipsub and a kad client as services) and, when the URL carries
 * `?ping=<multiaddr>`, pings that peer at once and records `performance.now()` (ms since the
 * page's time origin, i.e. navigation start) when the first ping's RTT arrives: the time to first
 * ping. Each step of the suite is a function on `window.weftPage`; each returns plain data (never
 * throws: an error comes back as `{ error }`), so the suite can assert it with a clear message.
 */
import { createNode, gossipsub, kadDht, readAll, type WeftNode } from '../../src/browser.js'

export type StepResult<T> = { ok: true; value: T } | { ok: false; error: string }

const started = performance.now()
const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
const unhex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g) ?? [], (x) => parseInt(x, 16))

async function step<T>(f: () => Promise<T>): Promise<StepResult<T>> {
  try {
    return { ok: true, value: await f() }
  } catch (e) {
    const err = e as Error & { code?: string }
    return { ok: false, error: `${err.name}${err.code ? ` ${err.code}` : ''}: ${err.message}` }
  }
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms))])
}

const nodeReady: Promise<WeftNode> = createNode({ services: { pubsub: gossipsub(), dht: kadDht({ mode: 'client' }) } })
/** Identify results by peer id, recorded from the moment the node exists. */
const identified = new Map<string, { agentVersion: string | undefined; protocolVersion: string | undefined; protocols: string[] }>()
const identifyWaiters = new Map<string, () => void>()
void nodeReady.then((node) => {
  node.on('peer:identify', ({ peer, info }) => {
    identified.set(peer.toString(), { agentVersion: info.agentVersion, protocolVersion: info.protocolVersion, protocols: info.protocols })
    identifyWaiters.get(peer.toString())?.()
  })
})

/** `?ping=<multiaddr>`: time to first ping (set once the first ping returned, or failed). */
const firstPing: Promise<StepResult<{ rtt: number; at: number; nodeAt: number }>> = (async () => {
  const target = new URLSearchParams(location.search).get('ping')
  if (target === null) return { ok: false, error: 'no ?ping= in the URL' }
  return step(async () => {
    const node = await nodeReady
    const nodeAt = performance.now()
    const rtt = await node.ping(target)
    return { rtt, at: performance.now(), nodeAt }
  })
})()

const api = {
  /** performance.now() when this script started running, and the bundle's own resource timing. */
  loaded: async () => ({ scriptStart: started, peerId: (await nodeReady).peerId.toString() }),
  firstPing: () => firstPing,
  /** 1. connect over WebSocket: the connection's remote peer. */
  connect: (addr: string) => step(async () => {
    const node = await nodeReady
    const conn = await timeout(node.dial(addr), 15_000, 'dial')
    return { peer: conn.peer.toString(), remoteAddr: conn.remoteAddr.toString(), direction: conn.direction }
  }),
  /** 2. identify: what the peer sent (waits for it). */
  identify: (peer: string) => step(async () => {
    if (!identified.has(peer)) await timeout(new Promise<void>((resolve) => identifyWaiters.set(peer, resolve)), 15_000, 'identify')
    return identified.get(peer)!
  }),
  /** 3. ping: RTT in ms. */
  ping: (addr: string) => step(async () => timeout((await nodeReady).ping(addr), 15_000, 'ping')),
  /** 4. echo `bytes` through a new stream: sent and received lengths, equality and the first difference. */
  echo: (addr: string, protocol: string, bytes: number) => step(async () => {
    const node = await nodeReady
    const data = new Uint8Array(bytes)
    for (let i = 0; i < bytes; i++) data[i] = (i * 31 + (i >>> 8)) & 0xff
    const t0 = performance.now()
    const stream = await timeout(node.newStream(addr, protocol), 15_000, 'newStream')
    const chunks = Array.from({ length: Math.ceil(bytes / 65536) }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536))
    const [, back] = await timeout(Promise.all([stream.sink(chunks), readAll(stream.source, bytes * 2)]), 60_000, 'echo')
    let firstDifference = -1
    for (let i = 0; i < Math.min(back.length, bytes); i++) if (back[i] !== data[i]) { firstDifference = i; break }
    return { sent: bytes, received: back.length, equal: back.length === bytes && firstDifference < 0, firstDifference, ms: performance.now() - t0 }
  }),
  /**
   * 5. gossipsub: subscribe to `topic`, wait until `peer` is subscribed too, then publish every 500 ms
   * until the peer's answer (`<answerPrefix><our text>`) arrives: proof that the peer received ours
   * and that we receive the peer's.
   */
  gossip: (peer: string, topic: string, answerPrefix: string) => step(async () => {
    const node = await nodeReady
    const text = `hello from chromium ${Math.random().toString(36).slice(2)}`
    const want = answerPrefix + text
    const seen: string[] = []
    let answer: { data: string; from: string | undefined } | undefined
    const got = new Promise<void>((resolve) => node.pubsub.on('message', (m) => {
      const data = new TextDecoder().decode(m.data)
      if (m.topic !== topic) return
      seen.push(data)
      if (data === want) { answer = { data, from: m.from?.toString() }; resolve() }
    }))
    node.pubsub.subscribe(topic)
    const deadline = performance.now() + 20_000
    while (!node.pubsub.getSubscribers(topic).some((p) => p.toString() === peer)) {
      if (performance.now() > deadline) throw new Error(`the peer never appeared subscribed to ${topic} (subscribers: ${node.pubsub.getSubscribers(topic).map(String).join(', ') || 'none'})`)
      await new Promise((r) => setTimeout(r, 50))
    }
    const published: string[] = []
    while (answer === undefined) {
      if (performance.now() > deadline) throw new Error(`no answer "${want}" within 20 s; published: ${published.join('; ')}; seen: ${seen.join('; ') || 'nothing'}`)
      const r = await step(() => node.pubsub.publish(topic, text))
      published.push(r.ok ? `to ${r.value.recipients} peers` : r.error)
      await Promise.race([got, new Promise((res) => setTimeout(res, 500))])
    }
    return { ...answer, published: published.length, meshPeers: node.pubsub.getMeshPeers(topic).map(String) }
  }),
  /** 6. kad client lookups, each its own result: GET_PROVIDERS, GET_VALUE, FIND_NODE (closest peers). */
  kadProviders: (keyHex: string) => step(async () => {
    const found = await timeout((await nodeReady).dht.findProviders(unhex(keyHex)), 30_000, 'findProviders')
    return found.map((p) => ({ peer: p.peer.toString(), addrs: p.addrs.map(String) }))
  }),
  kadGet: (keyHex: string) => step(async () => hex(await timeout((await nodeReady).dht.get(unhex(keyHex)), 30_000, 'get'))),
  kadClosest: (keyHex: string) => step(async () => {
    const found = await timeout((await nodeReady).dht.getClosestPeers(unhex(keyHex)), 30_000, 'getClosestPeers')
    return found.map((p) => p.peer.toString())
  }),
  stop: async () => { await (await nodeReady).stop() },
}

export type PageApi = typeof api
;(globalThis as unknown as { weftPage: PageApi }).weftPage = api
