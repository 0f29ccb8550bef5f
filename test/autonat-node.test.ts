/**
 * AutoNAT end to end over TCP loopback: a weft client and a weft server (allowPrivateAddrs, as
 * loopback is private). Reachable when listening (the verdict feeds the node's confirmed external
 * addresses), unreachable for a closed port, amplification protection for another IP (127.0.0.2):
 * a paying client is dialled after the dial data, a refusing one never is; v1 gives the node status.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { createServer } from 'node:net'
import { createNode, type WeftNode } from '../src/node.js'
import { autoNAT, type AutoNAT, type AutoNATEvents, type AutoNATOptions } from '../src/autonat/index.js'
import { Multiaddr } from '../src/multiaddr/index.js'

const nodes: WeftNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

async function node(opts: AutoNATOptions, listen = ['/ip4/127.0.0.1/tcp/0']): Promise<WeftNode> {
  const n = await createNode({ listen, services: { autonat: autoNAT({ allowPrivateAddrs: true, ...opts }) } })
  nodes.push(n)
  return n
}

const api = (n: WeftNode): AutoNAT => n.service<AutoNAT>('autonat')

function waitFor<K extends keyof AutoNATEvents>(n: WeftNode, type: K, pred: (d: AutoNATEvents[K]) => boolean = () => true): Promise<AutoNATEvents[K]> {
  return new Promise((resolve) => {
    const off = api(n).on(type, (d) => {
      if (!pred(d)) return
      off()
      resolve(d)
    })
  })
}

function collect<K extends keyof AutoNATEvents>(n: WeftNode, type: K): AutoNATEvents[K][] {
  const out: AutoNATEvents[K][] = []
  api(n).on(type, (d) => out.push(d))
  return out
}

async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

/** The server runs its client too, as by default (the two parts must not touch each other's streams). */
const SERVER_OPTS: AutoNATOptions = { server: { amplificationJitter: 0 } }
const CLIENT_OPTS = { serverThrottle: 0 }

describe('AutoNAT over TCP loopback', () => {
  test('a listening client is reachable at observed IP + listen port; the address becomes a confirmed external address; status public', async () => {
    const server = await node(SERVER_OPTS)
    const client = await node({ client: CLIENT_OPTS })
    const served = collect(server, 'served')
    const reachable = waitFor(client, 'addr-reachability', (d) => d.reachability === 'reachable')
    const status = waitFor(client, 'status')
    await client.dial(server.getMultiaddrs()[0]!)
    const r = await reachable
    const listen = client.getMultiaddrs()[0]!.withoutPeerId()
    expect(r.addr.toString()).toBe(listen.toString())
    expect((await status).reachability).toBe('public')
    expect(api(client).status()).toMatchObject({ reachability: 'public', addrs: [{ reachability: 'reachable', failures: 0 }] })
    expect(client.getExternalAddresses().map(String)).toContain(listen.toString())
    const v2 = served.filter((s) => s.version === 2)
    expect(v2.length).toBeGreaterThanOrEqual(2)
    expect(v2.map((s) => `${s.outcome} ${String(s.addr)} ${String(s.dialDataBytes)}`)).toEqual(v2.map(() => `dial-ok ${listen.toString()} undefined`))
  }, 20_000)

  test('a closed port is unreachable (two E_DIAL_ERROR)', async () => {
    const server = await node(SERVER_OPTS)
    const client = await node({ client: CLIENT_OPTS })
    const port = await closedPort()
    const target = `/ip4/127.0.0.1/tcp/${port}`
    const unreachable = waitFor(client, 'addr-reachability', (d) => d.addr.toString() === target && d.reachability === 'unreachable')
    await client.dial(server.getMultiaddrs()[0]!)
    expect(api(client).probe(target)).toBe(true)
    await unreachable
    const entry = api(client).status().addrs.find((a) => a.addr.toString() === target)
    expect(entry).toMatchObject({ reachability: 'unreachable', successes: 0 })
    expect(client.getExternalAddresses().map(String)).not.toContain(target)
  }, 20_000)

  test('another IP (127.0.0.2) costs dial data: a paying client is dialled there after paying', async () => {
    const server = await node(SERVER_OPTS)
    const client = await node({ client: CLIENT_OPTS }, ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.2/tcp/0'])
    const other = client.getMultiaddrs().map((a) => a.withoutPeerId()).find((a) => a.toString().startsWith('/ip4/127.0.0.2/'))!
    const servedThere = waitFor(server, 'served', (s) => s.addr?.toString() === other.toString())
    const probed = waitFor(client, 'probe', (p) => p.addr?.toString() === other.toString())
    await client.dial(server.getMultiaddrs()[0]!)
    api(client).probe(other)
    const s = await servedThere
    expect(s.outcome).toBe('dial-ok')
    expect(s.dialDataBytes).toBeGreaterThanOrEqual(30_000)
    expect((await probed).outcome).toBe('reachable')
  }, 20_000)

  test('a client that refuses to pay (maxDialDataBytes 0) is never dialled at the other IP', async () => {
    const server = await node(SERVER_OPTS)
    const client = await node({ client: { ...CLIENT_OPTS, maxDialDataBytes: 0 } }, ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.2/tcp/0'])
    const other = client.getMultiaddrs().map((a) => a.withoutPeerId()).find((a) => a.toString().startsWith('/ip4/127.0.0.2/'))!
    const inboundThere: string[] = []
    client.addEventListener('connection:open', (e) => {
      const c = (e as CustomEvent<{ localAddr?: Multiaddr; direction: string }>).detail
      if (c.localAddr?.toString().startsWith('/ip4/127.0.0.2/') === true) inboundThere.push(String(c.localAddr))
    })
    const servedThere = waitFor(server, 'served', (s) => s.addr?.toString() === other.toString())
    const probed = waitFor(client, 'probe', (p) => p.addr?.toString() === other.toString())
    await client.dial(server.getMultiaddrs()[0]!)
    api(client).probe(other)
    expect((await probed).outcome).toBe('inconclusive')
    const s = await servedThere
    expect(s.outcome).not.toBe('dial-ok')
    expect(s.dialDataBytes).toBe(0)
    expect(inboundThere).toEqual([])
  }, 20_000)

  test('v1 only: the node status becomes public through two OK answers', async () => {
    const server = await node({ client: false, server: { v2: false } })
    const client = await node({ client: { ...CLIENT_OPTS, v2: false } })
    const status = waitFor(client, 'status')
    const probes = collect(client, 'probe')
    await client.dial(server.getMultiaddrs()[0]!)
    expect((await status).reachability).toBe('public')
    expect(probes.filter((p) => p.version === 1 && p.outcome === 'reachable')).toHaveLength(2)
    void Multiaddr
  }, 20_000)
})
