/**
 * weft nodes on TCP loopback for end-to-end tests of one file: `node(services, extra)` starts one
 * listening on /ip4/127.0.0.1/tcp/0 (`extra` overrides, e.g. `{ listen: [] }`), and every node
 * started in a test is stopped after it (an afterEach this registers). `nodes`: those still to stop
 * (a test that stops one itself takes it out).
 */
import { afterEach, expect } from 'vitest'
import { createNode, type WeftNode } from '../../src/node.js'

type NodeOptions = NonNullable<Parameters<typeof createNode>[0]>

export function loopbackNodes(): { node: (services: NonNullable<NodeOptions['services']>, extra?: NodeOptions) => Promise<WeftNode>; nodes: WeftNode[] } {
  const nodes: WeftNode[] = []
  afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())) })
  const node = async (services: NonNullable<NodeOptions['services']>, extra: NodeOptions = {}): Promise<WeftNode> => {
    const n = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], services, ...extra })
    nodes.push(n)
    return n
  }
  return { node, nodes }
}

/** The code of the error `p` rejects with, or 'resolved'. */
export const code = (p: Promise<unknown>): Promise<string> => p.then(() => 'resolved', (e: { code?: string }) => String(e.code))

/** Wait (up to 5 s) for a condition the test can see, no fixed sleeps; fails the test if it never holds. */
export async function until(f: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !f(); i++) await new Promise((r) => setTimeout(r, 10))
  expect(f()).toBe(true)
}
