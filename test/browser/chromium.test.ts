/**
 * weft/browser in a real Chromium (issue 16): the page (test/browser/page.ts, bundled as an embedder
 * ships it) runs in Debian's headless chromium driven by playwright-core, against a go node, a rust
 * node and a weft node over WebSocket on 127.0.0.1. Per peer, each step is its own test:
 * 1 connect, 2 identify, 3 ping, 4 echo 1 MiB, 5 gossipsub both ways, 6 kad client lookups
 * (GET_PROVIDERS, GET_VALUE, FIND_NODE). Then the time from page load to first ping, per peer
 * (median of 5 page loads), and the bundle's size are printed (bench/README.md "Browser (issue 16)").
 *
 * Run by `npm run test:browser` (vitest.browser.config.ts); `npm test` runs it before interop.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import type { PageApi, StepResult } from './page.js'
import {
  buildPage, CHROMIUM, ECHO, hex, launchChromium, median, peerKeys, pkKey, provideKey, servePage, startInteropPeer, startWeftPeer,
  type RunningPeer,
} from './harness.js'

type Name = 'go' | 'rust' | 'weft'
const NAMES: Name[] = ['go', 'rust', 'weft']
const ECHO_BYTES = 1024 * 1024
const LOADS = 5

/**
 * As in the interop suite: a missing tool (chromium, go, cargo) skips what needs it with a line
 * saying how to install it, except under CI=true, where it fails.
 */
const onPath = (tool: string): boolean => { try { execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }); return true } catch { return false } }
const TOOLS: Record<Name, string | undefined> = { go: 'go', rust: 'cargo', weft: undefined }
const CI = process.env.CI === 'true'
const noChromium = !existsSync(CHROMIUM)
const missingTool = (n: Name): boolean => TOOLS[n] !== undefined && !onPath(TOOLS[n])
if (!CI && noChromium) console.log(`[browser] SKIP: ${CHROMIUM} not found (sudo apt-get install -y chromium); CI=true fails instead`)
for (const n of NAMES) if (!CI && missingTool(n)) console.log(`[browser] SKIP ${n}: ${TOOLS[n]} not on PATH (see interop/README.md, Prerequisites); CI=true fails instead`)

let browser: Browser
let site: { url: string; close: () => Promise<void> }
let bundle: { raw: number; gzip: number }
const peers = new Map<Name, RunningPeer>()
const peerErrors = new Map<Name, string>()
const firstPing = new Map<Name, number[]>()
const nodeReady = new Map<Name, number[]>()

beforeAll(async () => {
  if (!CI && noChromium) return
  const built = await buildPage()
  bundle = { raw: built.raw, gzip: built.gzip }
  site = await servePage(built.js)
  browser = await launchChromium()
  // go, rust and weft start side by side; a peer that fails to start fails its own tests only
  await Promise.all(NAMES.map(async (name) => {
    if (!CI && missingTool(name)) return
    try {
      peers.set(name, name === 'weft' ? await startWeftPeer() : await startInteropPeer(name))
    } catch (e) {
      peerErrors.set(name, (e as Error).message)
    }
  }))
}, 15 * 60_000) // a cold rust build takes minutes

afterAll(async () => {
  await browser?.close()
  await site?.close()
  await Promise.all([...peers.values()].map((p) => p.stop()))
  const row = (n: Name): string => {
    const xs = firstPing.get(n)
    const ready = nodeReady.get(n) ?? []
    return xs === undefined ? `${n}: not measured` : `${n}: median ${median(xs).toFixed(0)} ms (${xs.map((x) => x.toFixed(0)).join(', ')}; node ready at ${median(ready).toFixed(0)} ms)`
  }
  if (bundle !== undefined) {
    console.log(`[browser] page bundle: ${bundle.raw} B raw, ${bundle.gzip} B gzip -9; time from navigation start to first ping, ${LOADS} page loads: ${NAMES.map(row).join('; ')}`)
  }
})

/** Runs one page function with plain-data arguments and returns its result. */
async function call<K extends keyof PageApi>(page: Page, fn: K, ...args: Parameters<PageApi[K]>): Promise<Awaited<ReturnType<PageApi[K]>>> {
  return page.evaluate(([f, a]) => {
    const api = (globalThis as unknown as { weftPage: Record<string, (...x: unknown[]) => unknown> }).weftPage
    return api[f as string]!(...(a as unknown[]))
  }, [fn, args] as const) as Promise<Awaited<ReturnType<PageApi[K]>>>
}

/** The value of a step, or a failure naming the peer, the step and what the page and the peer said. */
function valueOf<T>(name: Name, what: string, r: StepResult<T>): T {
  if (!r.ok) expect.fail(`${name} peer, ${what}: the page reported ${r.error}\n--- ${name} peer log:\n${peers.get(name)?.log() ?? ''}`)
  return r.value
}

async function openPage(query = ''): Promise<Page> {
  const page = await browser.newPage()
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  await page.goto(site.url + query)
  await page.waitForFunction(() => 'weftPage' in globalThis, undefined, { timeout: 15_000 }).catch(() => {
    throw new Error(`the page never defined weftPage (page errors: ${errors.join('; ') || 'none'})`)
  })
  return page
}

for (const name of NAMES) {
  describe.skipIf(!CI && (noChromium || missingTool(name)))(`${name} peer`, () => {
    let page: Page
    let peer: RunningPeer
    beforeAll(async () => {
      if (!peers.has(name)) return
      peer = peers.get(name)!
      page = await openPage()
    }, 30_000)
    afterAll(async () => { await page?.close() })

    const running = (): RunningPeer => {
      if (!peers.has(name)) expect.fail(`${name} peer did not start: ${peerErrors.get(name)}`)
      return peer
    }

    test(`1. ${name}: the page connects over WebSocket`, async () => {
      const { info } = running()
      const conn = valueOf(name, 'step 1 connect', await call(page, 'connect', info.addr))
      expect(conn.peer, `${name} peer, step 1 connect: wrong remote peer`).toBe(info.peerId)
      expect(conn.direction, `${name} peer, step 1 connect`).toBe('outbound')
    })

    test(`2. ${name}: identify brings the peer's agent version and protocols`, async () => {
      const { info } = running()
      const id = valueOf(name, 'step 2 identify', await call(page, 'identify', info.peerId))
      expect(id.agentVersion, `${name} peer, step 2 identify: agent version`).toBe(info.agentVersion)
      for (const p of ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0', '/ipfs/kad/1.0.0', ECHO]) {
        expect(id.protocols, `${name} peer, step 2 identify: protocol ${p} missing from ${id.protocols.join(' ')}`).toContain(p)
      }
      expect(id.protocols.some((p) => p.startsWith('/meshsub/')), `${name} peer, step 2 identify: no /meshsub/ in ${id.protocols.join(' ')}`).toBe(true)
    })

    test(`3. ${name}: ping (RTT > 0)`, async () => {
      const { info } = running()
      const rtt = valueOf(name, 'step 3 ping', await call(page, 'ping', info.addr))
      expect(rtt, `${name} peer, step 3 ping: RTT`).toBeGreaterThan(0)
    })

    test(`4. ${name}: a stream echoes 1 MiB byte for byte`, async () => {
      const { info } = running()
      const r = valueOf(name, 'step 4 echo', await call(page, 'echo', info.addr, info.echo, ECHO_BYTES))
      expect(r.received, `${name} peer, step 4 echo: bytes back`).toBe(ECHO_BYTES)
      expect(r.firstDifference, `${name} peer, step 4 echo: first differing byte`).toBe(-1)
      expect(r.equal, `${name} peer, step 4 echo`).toBe(true)
    }, 90_000)

    test(`5. ${name}: gossipsub: the peer receives our message and we receive its answer`, async () => {
      const { info } = running()
      const r = valueOf(name, 'step 5 gossipsub', await call(page, 'gossip', info.peerId, info.topic, `${name} echo: `))
      expect(r.from, `${name} peer, step 5 gossipsub: the answer's author`).toBe(info.peerId)
    }, 30_000)

    test(`6a. ${name}: kad GET_PROVIDERS finds the peer as provider of its key`, async () => {
      const { info } = running()
      const found = valueOf(name, 'step 6a kad GET_PROVIDERS', await call(page, 'kadProviders', hex(provideKey(info.provide))))
      expect(found.map((p) => p.peer), `${name} peer, step 6a kad GET_PROVIDERS: providers`).toContain(info.peerId)
    }, 40_000)

    test(`6b. ${name}: kad GET_VALUE returns the peer's /pk record`, async () => {
      const { info } = running()
      const { multihash, publicKey } = peerKeys(info.peerId)
      const value = valueOf(name, 'step 6b kad GET_VALUE', await call(page, 'kadGet', hex(pkKey(multihash))))
      expect(value, `${name} peer, step 6b kad GET_VALUE: the record's value (the peer's public key)`).toBe(hex(publicKey))
    }, 40_000)

    test(`6c. ${name}: kad FIND_NODE (closest peers) finds the peer's neighbour`, async () => {
      const { info } = running()
      const target = info.neighbours[0]!
      const closest = valueOf(name, 'step 6c kad FIND_NODE', await call(page, 'kadClosest', hex(peerKeys(target).multihash)))
      expect(closest, `${name} peer, step 6c kad FIND_NODE: closest peers to neighbour ${target}`).toContain(target)
    }, 40_000)

    test(`time to first ping: ${name}, ${LOADS} page loads`, async () => {
      const { info } = running()
      const times: number[] = []
      const ready: number[] = []
      for (let i = 0; i < LOADS; i++) {
        const p = await openPage(`?ping=${encodeURIComponent(info.addr)}`)
        try {
          const r = valueOf(name, `first ping (load ${i + 1})`, await call(p, 'firstPing'))
          expect(r.rtt, `${name} peer, first ping (load ${i + 1}): RTT`).toBeGreaterThan(0)
          times.push(r.at)
          ready.push(r.nodeAt)
        } finally {
          await p.close()
        }
      }
      firstPing.set(name, times)
      nodeReady.set(name, ready)
    }, 60_000)
  })
}
