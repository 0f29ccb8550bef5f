/**
 * Code-only error messages in browser builds (issue 15, scripts/strip-messages.mjs, spec/browser.md
 * "Error messages"): the transform drops only the literal text of typed errors, and a browser
 * bundle built through it still works, its errors keeping their codes (`message` = the code).
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import { WebSocket as WsClient } from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stripMessages, writeWebTree } from '../scripts/strip-messages.mjs'
import { REPO, webMessages } from '../bench/bundles.js'
import { createNode, type WeftNode } from '../src/node.js'

describe('stripMessages', () => {
  it("drops a typed error's literal message after its code, and nothing else", () => {
    const src = [
      "throw new UsageError('node/stopped', 'the node was stopped')",
      "new ProtocolError('ping', 'ping/wrong-echo', `${n} bytes echoed`)",
      "fail('multiaddr/invalid-port', 'port out of range', e)",
      "new DialError('dial/self', 'dialed our own peer id', attempts)",
      "new TransportError('transport/unsupported', `cannot dial ${a}`)",
    ].join('\n')
    const r = stripMessages(src)
    expect(r.count).toBe(5)
    expect(r.code).toBe([
      "throw new UsageError('node/stopped', void 0)",
      "new ProtocolError('ping', 'ping/wrong-echo', void 0)",
      "fail('multiaddr/invalid-port', void 0, e)",
      "new DialError('dial/self', void 0, attempts)",
      "new TransportError('transport/unsupported', void 0)",
    ].join('\n'))
  })

  it('keeps messages without a code, computed messages, other calls and protocol strings', () => {
    const src = [
      "throw new RangeError('timeout must be a positive integer')", // no code: the text is all there is
      "new TypeError('random must be a function')",
      "new UsageError('node/no-such-service', name)", // not a literal
      "new UsageError('node/stopped')",
      "log('node/stopped', 'a text')", // not an error builder
      "open('/ipfs/ping/1.0.0', 'x y')", // not a code
      "new ProtocolError('a/b c', 'x y')", // 'a/b c' is no code
    ].join('\n')
    expect(stripMessages(src)).toEqual({ code: src, count: 0 })
  })

  it('writes the web tree: every .js module, stripped, without source map links; cli/ and web/ skipped', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weft-web-'))
    try {
      const from = path.join(dir, 'dist')
      mkdirSync(path.join(from, 'core'), { recursive: true })
      mkdirSync(path.join(from, 'cli'), { recursive: true })
      writeFileSync(path.join(from, 'core/a.js'), "throw new UsageError('x/y', 'text')\n//# sourceMappingURL=a.js.map\n")
      writeFileSync(path.join(from, 'core/a.d.ts'), 'export {}\n')
      writeFileSync(path.join(from, 'cli/main.js'), 'x\n')
      expect(writeWebTree(from, path.join(from, 'web'))).toEqual({ files: 1, stripped: 1 })
      expect(readFileSync(path.join(from, 'web/core/a.js'), 'utf8')).toBe("throw new UsageError('x/y', void 0)\n")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("package.json's browser condition points every browser-usable subpath at dist/web/", () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { exports: Record<string, string | Record<string, string>>; scripts: Record<string, string> }
    for (const [sub, e] of Object.entries(pkg.exports)) {
      if (typeof e === 'string' || ['./node', './crypto/node'].includes(sub)) continue
      expect(Object.keys(e), sub).toEqual(['types', 'browser', 'default'])
      expect(e.browser, sub).toBe(e.default!.replace('./dist/', './dist/web/'))
    }
    expect(pkg.scripts.build).toContain('node scripts/strip-messages.mjs')
  })
})

describe('a browser bundle with code-only messages', () => {
  let server: WeftNode
  let dir: string
  const g = globalThis as { WebSocket?: unknown }
  const had = g.WebSocket

  beforeAll(async () => {
    if (g.WebSocket === undefined) g.WebSocket = WsClient
    server = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0/ws'], services: {} })
    dir = mkdtempSync(path.join(REPO, 'node_modules/.cache/weft-web-test-'))
  })
  afterAll(async () => {
    await server.stop()
    g.WebSocket = had
    rmSync(dir, { recursive: true, force: true })
  })

  it('pings, and its errors carry their codes as messages', async () => {
    const entry = "export { createNode, UsageError } from './src/browser.ts'\nexport { Multiaddr } from './src/multiaddr/index.ts'\n"
    const out = path.join(dir, 'bundle.mjs')
    await build({ stdin: { contents: entry, resolveDir: REPO, loader: 'ts' }, bundle: true, format: 'esm', platform: 'browser', target: 'es2022', outfile: out, plugins: [webMessages], logLevel: 'silent' })
    const text = readFileSync(out, 'utf8')
    expect(text).not.toContain('the node was stopped') // src/edge/weft-node.ts's text is gone
    expect(text).toContain('node/stopped') // its code is not
    const web = await import(pathToFileURL(out).href) as typeof import('../src/browser.js') & { Multiaddr: typeof import('../src/multiaddr/index.js').Multiaddr }
    const node = await web.createNode()
    try {
      expect(await node.ping(server.getMultiaddrs()[0]!)).toBeGreaterThanOrEqual(0)
      expect(() => node.service('nope')).toThrow(expect.objectContaining({ code: 'node/no-such-service', message: 'node/no-such-service' }))
      // a computed message (not a literal) stays
      expect(() => web.Multiaddr.fromString('/ip4/300.0.0.1')).toThrow(expect.objectContaining({ code: 'multiaddr/invalid-ip4', message: 'multiaddr/invalid-ip4: "300.0.0.1"' }))
    } finally {
      await node.stop()
    }
    await expect(web.createNode({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })).rejects.toMatchObject({ code: 'transport/unsupported', message: 'transport/unsupported' })
    await expect(node.ping(server.getMultiaddrs()[0]!)).rejects.toMatchObject({ code: 'node/stopped', message: 'node/stopped' })
  })
})
