// weft pub / weft sub against a real node over TCP (the CLI runs in-process).
import { afterEach, describe, expect, test } from 'vitest'
import { cli } from './helpers/cli.js'
import { createNode, type WeftNode } from '../src/node.js'
import { fromUtf8 } from '../src/core/bytes.js'


const nodes: WeftNode[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())) })

describe('weft pub / sub', () => {
  test('pub delivers one message to a subscribed node', async () => {
    const node = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    nodes.push(node)
    node.pubsub.subscribe('news')
    const got = new Promise<string>((resolve) => node.pubsub.on('message', (m) => resolve(fromUtf8(m.data))))
    const r = await cli('pub', 'news', 'hello cli', '--peer', node.getMultiaddrs()[0]!.toString(), '--json')
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    const line = JSON.parse(r.out.split('\n').find((l) => l.includes('"published"'))!)
    expect(line.recipients).toBe(1)
    expect(await got).toBe('hello cli')
  }, 20_000)

  test('sub prints what a node publishes, then exits after --count', async () => {
    const node = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    nodes.push(node)
    const sub = cli('sub', 'news', '--peer', node.getMultiaddrs()[0]!.toString(), '--count', '1', '--json')
    let done = false
    void sub.then(() => { done = true })
    for (let i = 0; i < 200 && !done; i++) {
      if (node.pubsub.getSubscribers('news').length > 0) await node.pubsub.publish('news', `tick ${i}`).catch(() => undefined)
      await new Promise((r) => setTimeout(r, 25))
    }
    const r = await sub
    expect(r.code).toBe(0)
    const msg = JSON.parse(r.out.split('\n').find((l) => l.includes('"message"'))!)
    expect(msg.topic).toBe('news')
    expect(msg.data).toMatch(/^tick \d+$/)
    expect(msg.from).toBe(node.peerId.toString())
  }, 20_000)

  test('usage errors', async () => {
    expect((await cli('pub', 'news')).code).toBe(1)
    expect((await cli('sub')).code).toBe(1)
    const r = await cli('pub', 'news', 'x')
    expect(r.code).toBe(1)
    expect(r.err).toContain('--peer')
  })
})
