/**
 * `weft perf --security`: the client offers the listed secure channels (spec/tls.md), so a
 * TLS-only perf server is reached with `--security tls` and refused with the default (Noise).
 */
import { afterAll, expect, test } from 'vitest'
import { cli } from './helpers/cli.js'
import { createNode, perf, type WeftNode } from '../src/node.js'

const nodes: WeftNode[] = []
afterAll(async () => { await Promise.all(nodes.map((n) => n.stop())) })

test('weft perf --security tls reaches a TLS-only perf server; the default (noise) does not; a bad value is a usage line', async () => {
  const server = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], security: ['tls'], services: { perf: perf() } })
  nodes.push(server)
  const addr = server.getMultiaddrs()[0]!.withoutPeerId().encapsulate(`/p2p/${server.peerId.toString()}`).toString()
  const r = await cli('perf', '--server-address', addr, '--security', 'tls', '--upload-bytes', '100000', '--download-bytes', '200000')
  expect(r.err).toBe('')
  expect(r.code).toBe(0)
  expect(JSON.parse(r.out.trim().split('\n').at(-1)!)).toMatchObject({ type: 'final', uploadBytes: 100000, downloadBytes: 200000 })
  const both = await cli('perf', '--server-address', addr, '--security', 'noise,tls', '--upload-bytes', '1', '--download-bytes', '1')
  expect(both.code).toBe(0)
  const noise = await cli('perf', '--server-address', addr, '--upload-bytes', '1', '--download-bytes', '1')
  expect(noise.code).toBe(1)
  expect(noise.err).toMatch(/^error: /)
  const bad = await cli('perf', '--server-address', addr, '--security', 'ssl')
  expect(bad.code).not.toBe(0)
  expect(bad.err).toMatch(/--security/)
})
