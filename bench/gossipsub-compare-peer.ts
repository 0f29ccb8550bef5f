// weft's side of bench/gossipsub-compare.mjs: one publisher or one subscriber, speaking the same
// stdin/stdout line protocol as the go peer's `pubsub-bench` mode (interop/go/pubsub_bench.go):
//
//   subscriber: prints "addr <multiaddr with /p2p>", then "ack <n>" every --ack-every messages and at
//               --messages; exits when stdin closes.
//   publisher:  dials --addr, waits until the subscriber is a topic peer, publishes --messages messages
//               of --size bytes, never more than --window ahead of the last "ack <n>" read on stdin;
//               prints "start" just before the first publish and {"messages":..,"seconds":..,
//               "msgPerSec":..} when the last ack arrives.
//
// Policies: nosign = StrictNoSign + 'content-sha256' ids; sign = StrictSign + 'from-seqno' ids (what
// go uses by default). Same options as bench/gossipsub-throughput.ts (scoring on).
import { createInterface } from 'node:readline'
import { createNode } from '../src/node.js'

const argv = process.argv.slice(2)
const arg = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1]! : def
}
const TOPIC = 'bench'
const role = arg('role', '')
const policy = arg('policy', 'nosign')
const total = Number(arg('messages', '100000'))
const size = Number(arg('size', '100'))
const window = Number(arg('window', '4000'))
const ackEvery = Number(arg('ack-every', '2000'))
if (policy !== 'nosign' && policy !== 'sign') throw new Error('--policy must be nosign or sign')
const pubsub = {
  signaturePolicy: policy === 'sign' ? ('StrictSign' as const) : ('StrictNoSign' as const),
  msgId: policy === 'sign' ? ('from-seqno' as const) : ('content-sha256' as const),
  scoring: true,
}

if (role === 'sub') {
  // WEFT_SIG_THREADS: signature checks at once off the event loop (createNode's signatureThreads;
  // unset = its default, 0 = inline), for A/B runs
  // WEFT_SIG_VERIFIER=workers: the node:worker_threads pool (ed25519VerifyPool) instead
  const w = process.env.WEFT_SIG_THREADS
  const workers = process.env.WEFT_SIG_VERIFIER === 'workers'
    ? { signatureVerifier: (await import('../src/io/verify-pool.js')).ed25519VerifyPool(w === undefined ? {} : { size: Number(w) }) }
    : {}
  const node = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], pubsub: { ...pubsub, ...workers }, ...(w === undefined || workers.signatureVerifier !== undefined ? {} : { signatureThreads: Number(w) }) })
  node.pubsub.subscribe(TOPIC)
  let n = 0
  node.pubsub.on('message', () => {
    n++
    if (n % ackEvery === 0 || n === total) process.stdout.write(`ack ${n}\n`)
  })
  node.pubsub.on('invalid-message', (e) => process.stderr.write(`weft subscriber: invalid message: ${e.reason}\n`))
  const a = node.getMultiaddrs()[0]!.toString()
  process.stdout.write(`addr ${a.includes('/p2p/') ? a : `${a}/p2p/${node.peerId.toString()}`}\n`)
  process.stdin.on('end', () => { void node.stop().then(() => process.exit(0)) })
  process.stdin.resume()
} else if (role === 'pub') {
  let acked = 0
  let onAck: (() => void) | undefined
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l.startsWith('ack ')) { acked = Number(l.slice(4)); onAck?.() }
  })
  const node = await createNode({ listen: [], pubsub })
  await node.dial(arg('addr', ''))
  const deadline = performance.now() + 20_000
  while (node.pubsub.getSubscribers(TOPIC).length === 0) {
    if (performance.now() > deadline) throw new Error('subscriber never announced the topic')
    await new Promise((r) => setTimeout(r, 10))
  }
  const failures: string[] = []
  process.stdout.write('start\n') // the orchestrator samples both processes' CPU time here
  const t0 = performance.now()
  let sent = 0
  while (acked < total) {
    while (sent < total && sent - acked < window) {
      const data = new Uint8Array(size)
      const view = new DataView(data.buffer)
      view.setUint32(0, sent) // distinct content (content ids)
      view.setUint32(4, 0x5eed)
      node.pubsub.publish(TOPIC, data).then((r) => { if (r.recipients === 0) failures.push('dropped (queue over maxOutboundBytes)') }, (e: Error) => { failures.push(e.message) })
      sent++
      if (sent % 500 === 0) break // let the runtime write
    }
    const before = acked
    await new Promise<void>((resolve) => {
      if (sent < total && sent - acked < window) setImmediate(resolve)
      else {
        const t = setTimeout(resolve, 10_000)
        onAck = () => { onAck = undefined; clearTimeout(t); resolve() }
      }
    })
    if (acked === before && !(sent < total && sent - acked < window)) {
      throw new Error(`stalled at ${acked}/${total} acknowledged (${sent} sent; ${failures.length} publish failures: ${failures[0] ?? 'none'})`)
    }
  }
  const seconds = (performance.now() - t0) / 1000
  process.stdout.write(JSON.stringify({ messages: total, seconds, msgPerSec: total / seconds }) + '\n')
  await node.stop()
  process.exit(0)
} else {
  throw new Error('--role must be pub or sub')
}
