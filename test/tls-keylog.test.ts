/**
 * The keylog of `/tls/1.0.0` connections (spec/trace.md "Keylog"): four NSS key log lines per
 * connection (CLIENT/SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT/SERVER_TRAFFIC_SECRET_0) named by the
 * ClientHello's random, as Wireshark reads them. Checked by decrypting the captured records with
 * the logged secrets: both flights, the application data and the close_notify at the end.
 */
import { afterAll, describe, expect, test } from 'vitest'
import { Connection, type ConnectionEvent, type ConnectionOptions } from '../src/connection/index.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { nodeTlsCrypto } from '../src/io/crypto-tls-node.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'
import { createNode, memory, type WeftNode } from '../src/node.js'
import { libp2pTls, RecordProtection, ContentType } from '../src/tls/index.js'
import { connectionHooks } from '../src/trace/hooks.js'
import { parseKeylog } from '../src/trace/offline.js'

const keyA = privateKeyFromSeed(new Uint8Array(32).fill(1), nodeCrypto)
const keyB = privateKeyFromSeed(new Uint8Array(32).fill(2), nodeCrypto)
const wallClock = (): number => 1_767_225_600_000
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const LABELS = ['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0', 'SERVER_TRAFFIC_SECRET_0']

/** `<label> <client random> <secret>` lines by label; every line names the same client random. */
function parseNss(lines: string[]): { random: string; secrets: Map<string, Uint8Array> } {
  const secrets = new Map<string, Uint8Array>()
  const randoms = new Set<string>()
  for (const l of lines) {
    const [label, random, secret, ...rest] = l.split(' ')
    expect(rest).toEqual([])
    expect(random).toMatch(/^[0-9a-f]{64}$/)
    expect(secret).toMatch(/^[0-9a-f]{64}$/)
    randoms.add(random!)
    secrets.set(label!, Uint8Array.from(Buffer.from(secret!, 'hex')))
  }
  expect(randoms.size).toBe(1)
  return { random: [...randoms][0]!, secrets }
}

/** The TLS records in one direction's bytes: everything from the first record header on (multistream-select before it). */
function records(bytes: Uint8Array, first: number): { type: number; header: Uint8Array; fragment: Uint8Array }[] {
  const out = []
  for (let o = first; o + 5 <= bytes.length;) {
    const len = (bytes[o + 3]! << 8) | bytes[o + 4]!
    out.push({ type: bytes[o]!, header: bytes.subarray(o, o + 5), fragment: bytes.subarray(o + 5, o + 5 + len) })
    o += 5 + len
  }
  return out
}

/** Decrypts one direction's protected records: handshake secret until a record fails under it, then the application secret. */
function decrypt(recs: ReturnType<typeof records>, hs: Uint8Array, app: Uint8Array, suite: number): { type: number; content: Uint8Array; level: string }[] {
  const hsKeys = new RecordProtection(nodeTlsCrypto, suite, hs)
  const appKeys = new RecordProtection(nodeTlsCrypto, suite, app)
  let level = 'handshake'
  const out = []
  for (const r of recs) {
    if (r.type !== ContentType.application_data) continue // plaintext hello, ChangeCipherSpec
    if (level === 'handshake') {
      try {
        const inner = hsKeys.open(r.header, r.fragment)
        out.push({ type: inner.type, content: inner.fragment, level })
        continue
      } catch {
        level = 'application'
      }
    }
    const inner = appKeys.open(r.header, r.fragment) // throws if the logged secret were wrong
    out.push({ type: inner.type, content: inner.fragment, level })
  }
  return out
}

const concat = (xs: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(xs))

describe('TLS keylog (NSS key log format)', () => {
  test('the logged secrets decrypt both directions of a captured /tls/1.0.0 connection, close_notify included', () => {
    const linesA: string[] = [], linesB: string[] = []
    const hooksA = connectionHooks({ keylog: (l) => linesA.push(l) }, () => 0)!('dialer')
    const hooksB = connectionHooks({ keylog: (l) => linesB.push(l) }, () => 0)!('listener')
    const tls = { security: ['tls'] as const, tls: libp2pTls({ crypto: nodeTlsCrypto, wallClock }) }
    const supports = (p: string): boolean => p === '/echo/1.0.0'
    const base = { crypto: nodeCrypto, supportsProtocol: supports, listProtocols: () => ['/echo/1.0.0'], now: 0 }
    const a = new Connection({ role: 'dialer', identity: keyA, ...base, ...tls, ...hooksA } as ConnectionOptions)
    const b = new Connection({ role: 'listener', identity: keyB, ...base, ...tls, ...hooksB } as ConnectionOptions)
    const wireA: Uint8Array[] = [], wireB: Uint8Array[] = []
    const ea: ConnectionEvent[] = [], eb: ConnectionEvent[] = []
    const drive = (): void => {
      for (let i = 0; i < 100; i++) {
        let moved = 0
        for (const [from, to, wire] of [[a, b, wireA], [b, a, wireB]] as const) {
          for (let o = from.pollTransmit(1 << 20); o !== undefined; o = from.pollTransmit(1 << 20)) { wire.push(o.slice()); to.handleData(0, o); moved++ }
        }
        for (let e = a.pollEvent(); e !== undefined; e = a.pollEvent()) ea.push(e)
        for (let e = b.pollEvent(); e !== undefined; e = b.pollEvent()) eb.push(e)
        if (moved === 0) return
      }
    }
    drive()
    a.openStream(0, ['/echo/1.0.0'], 1)
    drive()
    const out = ea.find((e) => e.type === 'stream-opened') as Extract<ConnectionEvent, { type: 'stream-opened' }>
    const secret = new TextEncoder().encode('decrypted by the keylog')
    a.write(out.id, secret)
    drive()
    a.close(0)
    drive()

    // four lines per side, one per label, the same on both sides
    expect(linesA.map((l) => l.split(' ')[0]).sort()).toEqual([...LABELS].sort())
    expect([...linesB].sort()).toEqual([...linesA].sort())
    const { random, secrets } = parseNss(linesA)
    // the Noise keylog reader skips TLS lines
    expect(parseKeylog(linesA.join('\n')).size).toBe(0)

    // the client random names the connection: it is the ClientHello's, in clear on the wire
    const bytesA = concat(wireA), bytesB = concat(wireB)
    const helloAt = Buffer.from(bytesA).indexOf(Buffer.from([0x16, 0x03, 0x03]))
    expect(helloAt).toBeGreaterThan(0)
    expect(bytesA[helloAt + 5]).toBe(1) // client_hello
    expect(hex(bytesA.subarray(helloAt + 11, helloAt + 43))).toBe(random)
    const serverAt = Buffer.from(bytesB).indexOf(Buffer.from([0x16, 0x03, 0x03]))
    expect(bytesB[serverAt + 5]).toBe(2) // server_hello
    const suite = (bytesB[serverAt + 5 + 4 + 2 + 32 + 1 + bytesB[serverAt + 5 + 4 + 2 + 32]!]! << 8) | bytesB[serverAt + 5 + 4 + 2 + 32 + 2 + bytesB[serverAt + 5 + 4 + 2 + 32]!]!
    expect([0x1301, 0x1303]).toContain(suite)

    const fromClient = decrypt(records(bytesA, helloAt), secrets.get('CLIENT_HANDSHAKE_TRAFFIC_SECRET')!, secrets.get('CLIENT_TRAFFIC_SECRET_0')!, suite)
    const fromServer = decrypt(records(bytesB, serverAt), secrets.get('SERVER_HANDSHAKE_TRAFFIC_SECRET')!, secrets.get('SERVER_TRAFFIC_SECRET_0')!, suite)
    // the server's first protected message is EncryptedExtensions (8); the client's flight ends with Finished (20)
    expect(fromServer[0]).toMatchObject({ level: 'handshake', type: ContentType.handshake })
    expect(fromServer[0]!.content[0]).toBe(8)
    const clientHs = concat(fromClient.filter((r) => r.level === 'handshake').map((r) => r.content))
    expect(clientHs[0]).toBe(11) // Certificate
    expect(fromClient.some((r) => r.level === 'application')).toBe(true)
    // the application data carries the stream's bytes in clear once decrypted
    const appData = concat(fromClient.filter((r) => r.level === 'application' && r.type === ContentType.application_data).map((r) => r.content))
    expect(Buffer.from(appData).indexOf(Buffer.from(secret))).toBeGreaterThan(0)
    // the client's last record is close_notify: alert level warning (1), description close_notify (0)
    expect(fromClient.at(-1)).toMatchObject({ level: 'application', type: ContentType.alert })
    expect(Array.from(fromClient.at(-1)!.content)).toEqual([1, 0])
  })

  const nodes: WeftNode[] = []
  afterAll(async () => { await Promise.all(nodes.map((n) => n.stop())) })

  test('createNode({ keylog, security: [\'tls\'] }): four NSS lines per connection on each node, the same secrets', async () => {
    const la: string[] = [], lb: string[] = []
    const server = await createNode({ listen: ['/memory/0'], transports: [memory()], security: ['tls'], keylog: (l) => lb.push(l) })
    nodes.push(server)
    const client = await createNode({ listen: [], transports: [memory()], security: ['tls'], keylog: (l) => la.push(l) })
    nodes.push(client)
    await client.ping(server.getMultiaddrs()[0]!)
    expect(la.map((l) => l.split(' ')[0]).sort()).toEqual([...LABELS].sort())
    for (let i = 0; i < 100 && lb.length < 4; i++) await new Promise((r) => setTimeout(r, 10))
    expect([...lb].sort()).toEqual([...la].sort())
  })
})
