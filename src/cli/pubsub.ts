/**
 * `weft pub`, `weft sub`, and `weft node --topic`: gossipsub from the command line.
 *
 *   weft sub <topic> --peer <multiaddr>... [--count N] [--json]       print messages as they arrive
 *   weft pub <topic> <message> --peer <multiaddr>... [--wait <ms>] [--json]
 *
 * `pub` waits (up to --wait, default 5 s) until a connected peer announces the topic, publishes once,
 * prints the message id and how many peers it was sent to, and exits.
 */
import { createNode } from '../create-node.js'
import type { WeftNode } from '../edge/weft-node.js'
import type { GossipsubMessage } from '../gossipsub/index.js'
import { fromUtf8, toHex } from '../core/bytes.js'

type Log = (json: boolean, event: string, fields: Record<string, unknown>, text: string) => void

const defaultLog: Log = (json, event, fields, text) => {
  if (json) console.log(JSON.stringify({ time: new Date().toISOString(), event, ...fields }))
  else console.log(text)
}

function text(data: Uint8Array): string {
  try {
    return fromUtf8(data)
  } catch {
    return `0x${toHex(data)}`
  }
}

function describe(m: GossipsubMessage): Record<string, unknown> {
  return {
    topic: m.topic,
    data: text(m.data),
    from: m.from?.toString(),
    seqno: m.seqno?.toString(),
    messageId: toHex(m.messageId),
    propagationSource: m.propagationSource.toString(),
  }
}

/** Subscribe `node` to `topics` and print every message that arrives. */
export function attachTopics(node: WeftNode, topics: readonly string[], json: boolean, log: Log = defaultLog, onMessage?: () => void): void {
  if (topics.length === 0) return
  node.pubsub.on('message', (m) => {
    log(json, 'message', describe(m), `[${m.topic}] ${m.from?.toString() ?? '(unsigned)'}: ${text(m.data)}`)
    onMessage?.()
  })
  for (const t of topics) {
    node.pubsub.subscribe(t)
    log(json, 'subscribed', { topic: t }, `subscribed to ${t}`)
  }
}

async function connect(node: WeftNode, peers: readonly string[]): Promise<void> {
  if (peers.length === 0) throw new Error('at least one --peer <multiaddr> is needed')
  const results = await Promise.allSettled(peers.map((p) => node.dial(p, { signal: AbortSignal.timeout(10_000) })))
  if (results.every((r) => r.status === 'rejected')) throw (results[0] as PromiseRejectedResult).reason
}

export async function runSub(topic: string, peers: readonly string[], json: boolean, count: number | undefined): Promise<number> {
  const node = await createNode({ listen: [] })
  try {
    await connect(node, peers)
    await new Promise<void>((resolve) => {
      let seen = 0
      const stop = (): void => {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        resolve()
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
      attachTopics(node, [topic], json, defaultLog, () => {
        if (count !== undefined && ++seen >= count) stop()
      })
    })
    return 0
  } finally {
    await node.stop()
  }
}

export async function runPub(topic: string, message: string, peers: readonly string[], json: boolean, waitMs: number): Promise<number> {
  const node = await createNode({ listen: [] })
  try {
    await connect(node, peers)
    const deadline = Date.now() + waitMs
    while (node.pubsub.getSubscribers(topic).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const r = await node.pubsub.publish(topic, message)
    defaultLog(json, 'published', { topic, messageId: toHex(r.messageId), recipients: r.recipients }, `published to ${topic}: ${r.recipients} peer(s), message id ${toHex(r.messageId)}`)
    // let the RPC leave before closing the connections
    await new Promise((r) => setTimeout(r, 200))
    return 0
  } finally {
    await node.stop()
  }
}
