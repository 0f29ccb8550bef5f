// Gossipsub throughput: messages per second from one publisher to one subscriber over TCP (loopback),
// 100-byte messages, StrictNoSign (content-sha256 ids) and StrictSign (from+seqno ids, Ed25519). The
// subscriber runs in a child process (its own core); the publisher keeps at most WINDOW messages
// unacknowledged (the subscriber reports its count every ACK_EVERY messages) so neither side's queue
// overflows. Also measures Ed25519 verification alone on one core (node:crypto), the StrictSign ceiling.
//
// Run: npx esbuild bench/gossipsub-throughput.ts --bundle --platform=node --format=esm --packages=external \
//        --log-level=warning --outfile=node_modules/.cache/weft-bench/gossipsub-throughput.mjs \
//      && node node_modules/.cache/weft-bench/gossipsub-throughput.mjs [--messages 200000] [--size 100] [--only sign|nosign] [--json]
import { spawn } from 'node:child_process'
import { loadavg } from 'node:os'
import { createInterface } from 'node:readline'
import { createNode } from '../src/node.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'
import { buildMessage, signatureInput, type GossipsubBehaviour } from '../src/gossipsub/index.js'

type Policy = 'StrictNoSign' | 'StrictSign'
const argv = process.argv.slice(2)
const arg = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1]! : def
}
const TOPIC = 'bench'
const ACK_EVERY = 2000
const WINDOW = 4_000

const pubsubOptions = (policy: Policy) => ({
  signaturePolicy: policy,
  msgId: policy === 'StrictSign' ? ('from-seqno' as const) : ('content-sha256' as const),
  scoring: true,
})

async function subscriber(policy: Policy, total: number): Promise<void> {
  const node = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], pubsub: pubsubOptions(policy) })
  node.pubsub.subscribe(TOPIC)
  let n = 0
  const busy = Number(process.env.WEFT_BENCH_BUSY_US ?? '0')
  let cpu0: NodeJS.CpuUsage | undefined
  node.pubsub.on('message', () => {
    if (busy > 0) { const t = performance.now() + busy / 1000; while (performance.now() < t); }
    n++
    if (n === 1) cpu0 = process.cpuUsage()
    if (n === total && cpu0 !== undefined) {
      // CPU time of this process from the first message to the last (user + system), per message
      const d = process.cpuUsage(cpu0)
      process.stdout.write(`cpu ${(d.user + d.system) / Math.max(1, total - 1)}\n`)
    }
    if (n % ACK_EVERY === 0 || n === total) process.stdout.write(`ack ${n}\n`)
  })
  let invalid = 0
  node.pubsub.on('invalid-message', (e) => { if (invalid++ === 0) process.stderr.write(`subscriber: invalid message: ${e.reason}\n`) })
  node.on('connection:close', ({ error }) => process.stderr.write(`subscriber: connection closed ${error?.message ?? ''}\n`))
  if (process.env.WEFT_BENCH_DEBUG !== undefined) {
    setInterval(() => {
      const g = node.swarm.behaviours.gossipsub as unknown as GossipsubBehaviour
      process.stderr.write(`sub: n=${n} peers=${JSON.stringify([...g.inspect().peers.values()].map((p) => ({ score: g.getScore(p.id, 0), inbound: [...p.inbound.values()].map((i) => i.stream), buffered: [...p.inbound.values()].map((i) => i.decoder.buffered) })))}\n`)
    }, 2000).unref()
  }
  process.stdout.write(`addr ${node.getMultiaddrs()[0]!.toString()}\n`)
  process.stdin.on('end', () => { void node.stop().then(() => process.exit(0)) })
  process.stdin.resume()
}

interface RunResult {
  msgPerSec: number
  /** CPU time (user + system) per message of each process: the honest figure on a loaded machine. */
  publisherCpuUsPerMsg: number
  subscriberCpuUsPerMsg: number
}

async function run(policy: Policy, total: number, size: number): Promise<RunResult> {
  const child = spawn(process.execPath, [...(process.env.WEFT_BENCH_CHILD_ARGS?.split(' ').filter(Boolean) ?? []), process.argv[1]!, '--role', 'sub', '--policy', policy, '--messages', String(total)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout! })
  let acked = 0
  let subCpu = NaN
  let onAck: (() => void) | undefined
  const addr = await new Promise<string>((resolve) => {
    lines.on('line', (l) => {
      if (l.startsWith('addr ')) resolve(l.slice(5))
      else if (l.startsWith('cpu ')) subCpu = Number(l.slice(4))
      else if (l.startsWith('ack ')) { acked = Number(l.slice(4)); onAck?.() }
    })
  })
  const node = await createNode({ listen: [], pubsub: pubsubOptions(policy) })
  let writtenBytes = 0
  let writtenMsgs = 0
  if (process.env.WEFT_BENCH_DEBUG !== undefined) {
    const g = node.swarm.behaviours.gossipsub as unknown as GossipsubBehaviour
    const po = g.pollAction.bind(g)
    g.pollAction = () => {
      const a = po()
      if (a?.type === 'write') { writtenBytes += a.data.length; let pos = 0; while (pos < a.data.length) { let len = 0, mul = 1; for (;;) { const x = a.data[pos++]!; len += (x & 0x7f) * mul; if ((x & 0x80) === 0) break; mul *= 128 } if (a.data[pos] === 0x12) writtenMsgs++; pos += len } }
      return a
    }
  }
  await node.dial(addr)
  while (node.pubsub.getSubscribers(TOPIC).length === 0) await new Promise((r) => setTimeout(r, 10))
  const data = new Uint8Array(size)
  const view = new DataView(data.buffer)
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const failures: string[] = []
  let sent = 0
  let lastAck = 0
  let lastProgress = performance.now()
  while (acked < total) {
    while (sent < total && sent - acked < WINDOW) {
      view.setUint32(0, sent) // distinct content (content-addressed ids)
      view.setUint32(4, 0x5eed)
      node.pubsub.publish(TOPIC, data).then((r) => { if (r.recipients === 0) failures.push('dropped: subscriber queue over maxOutboundBytes') }, (e: Error) => { failures.push(e.message) })
      sent++
      if (sent % 500 === 0) break
    }
    await new Promise<void>((resolve) => {
      if (sent < total && sent - acked < WINDOW) setImmediate(resolve)
      else {
        onAck = () => { onAck = undefined; resolve() }
        setTimeout(resolve, 1000)
      }
    })
    if (acked !== lastAck) { lastAck = acked; lastProgress = performance.now() }
    if (performance.now() - lastProgress > 10_000) {
      child.kill()
      const st = [...(node.swarm.behaviours.gossipsub as unknown as GossipsubBehaviour).inspect().peers.values()].map((p) => ({ inFlight: p.inFlight, outbox: p.outbox.length, outboxBytes: p.outboxBytes, out: p.out, slow: p.slow }))
      throw new Error(`written ${writtenBytes} bytes, ${writtenMsgs} messages; ${JSON.stringify(st)} ${policy}: stalled at ${acked}/${total} delivered (${failures.length} publish failures: ${failures[0] ?? 'none'})`)
    }
  }
  const secs = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  child.stdin!.end()
  await node.stop()
  await new Promise((r) => child.once('exit', r))
  return { msgPerSec: total / secs, publisherCpuUsPerMsg: (cpu.user + cpu.system) / total, subscriberCpuUsPerMsg: subCpu }
}

/** Ed25519 verifications per second (wall clock) and CPU µs per verification, node:crypto, one core. */
function verifyRate(size: number): { perSec: number; cpuUs: number } {
  const key = privateKeyFromSeed(new Uint8Array(32).fill(1), nodeCrypto)
  const m = buildMessage('StrictSign', TOPIC, new Uint8Array(size), { key, crypto: nodeCrypto, seqno: 1n })
  const input = signatureInput(m)
  const pub = key.publicKey.data
  const n = 20_000
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < n; i++) nodeCrypto.ed25519Verify(pub, input, m.signature!)
  const cpu = process.cpuUsage(cpu0)
  return { perSec: n / ((performance.now() - t0) / 1000), cpuUs: (cpu.user + cpu.system) / n }
}

if (arg('role', 'main') === 'sub') {
  await subscriber(arg('policy', 'StrictNoSign') as Policy, Number(arg('messages', '200000')))
} else {
  const total = Number(arg('messages', '200000'))
  const size = Number(arg('size', '100'))
  const only = arg('only', '')
  const none: RunResult = { msgPerSec: 0, publisherCpuUsPerMsg: NaN, subscriberCpuUsPerMsg: NaN }
  const noSign = only === 'sign' ? none : await run('StrictNoSign', total, size)
  const sign = only === 'nosign' ? none : await run('StrictSign', Math.min(total, 100_000), size)
  const verify = verifyRate(size)
  const us = (x: number): number | null => (Number.isFinite(x) ? Math.round(x * 100) / 100 : null)
  const out = {
    messageSize: size,
    strictNoSignMsgPerSec: Math.round(noSign.msgPerSec),
    strictSignMsgPerSec: Math.round(sign.msgPerSec),
    ed25519VerifyPerSec: Math.round(verify.perSec),
    strictSignVsVerify: sign.msgPerSec / verify.perSec,
    // additive: CPU µs per message of each process, and the load average the run saw
    strictNoSignCpuUsPerMsg: { publisher: us(noSign.publisherCpuUsPerMsg), subscriber: us(noSign.subscriberCpuUsPerMsg) },
    strictSignCpuUsPerMsg: { publisher: us(sign.publisherCpuUsPerMsg), subscriber: us(sign.subscriberCpuUsPerMsg) },
    ed25519VerifyCpuUsPerMsg: us(verify.cpuUs),
    // what the subscriber's CPU per message allows against verification alone (load-independent ratio)
    strictSignCpuVsVerify: Number.isFinite(sign.subscriberCpuUsPerMsg) ? verify.cpuUs / Math.max(sign.subscriberCpuUsPerMsg, sign.publisherCpuUsPerMsg) : null,
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
  }
  if (argv.includes('--json')) console.log(JSON.stringify(out))
  else {
    const cpu = (c: { publisher: number | null; subscriber: number | null }): string => `(CPU per message: publisher ${c.publisher ?? '-'} µs, subscriber ${c.subscriber ?? '-'} µs)`
    console.log(`gossipsub throughput, one publisher -> one subscriber over TCP loopback, ${size}-byte messages, load average ${out.loadAverage.join(' ')}`)
    console.log(`  StrictNoSign   ${out.strictNoSignMsgPerSec.toLocaleString('en-US')} msg/s ${cpu(out.strictNoSignCpuUsPerMsg)}`)
    console.log(`  StrictSign     ${out.strictSignMsgPerSec.toLocaleString('en-US')} msg/s ${cpu(out.strictSignCpuUsPerMsg)}`)
    console.log(`  Ed25519 verify ${out.ed25519VerifyPerSec.toLocaleString('en-US')} /s on one core, ${out.ed25519VerifyCpuUsPerMsg} µs each (StrictSign at ${(out.strictSignVsVerify * 100).toFixed(0)}% of it by wall clock, ${((out.strictSignCpuVsVerify ?? 0) * 100).toFixed(0)}% by CPU per message)`)
  }
}
