// quic-go as a black-box oracle for the packet layer (no connection core yet): a small Go program
// (below) listens with quic-go v0.59.0, the version interop/go pins, built offline from the Go
// module cache; weft's sealPacket / parseDatagram / openPacket / decodeFrames / verifyRetry /
// Version Negotiation / transport parameters talk to it over UDP, and a minimal client driver with
// weft's TLS 1.3 core (src/tls) completes whole handshakes with both cipher suites. Skipped, saying
// why, where Go or the module is missing.
import { spawn, type ChildProcess } from 'node:child_process'
import dgram from 'node:dgram'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildGoProgram, quicGoMod } from './helpers/go-program.js'
import { fromHex } from '../src/core/bytes.js'
import { nodeTlsCrypto as c } from '../src/io/crypto-tls-node.js'
import { TlsHandshake, type TlsLevel } from '../src/tls/index.js'
import {
  QUIC_V1, decodeFrames, decodeTransportParameters, derivePacketKeys, encodeFrames, encodeTransportParameters, type CipherSuite, type PacketKeys, handleVersionNegotiation, initialKeys, isReservedVersion, openPacket, parseDatagram, sealPacket, verifyRetry,
  type Frame, type ProtectedPacket, type RetryPacket, type VersionNegotiationPacket,
} from '../src/quic/index.js'
import { readVectorFile } from './helpers/vectors.js'

const GO_MAIN = `package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"

	"github.com/quic-go/quic-go"
)

func main() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"example.com"}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	conf := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, NextProtos: []string{"alpn"}}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		panic(err)
	}
	tr := &quic.Transport{Conn: udp}
	if len(os.Args) > 1 && os.Args[1] == "retry" {
		tr.VerifySourceAddress = func(net.Addr) bool { return true }
	}
	ln, err := tr.Listen(conf, &quic.Config{})
	if err != nil {
		panic(err)
	}
	fmt.Println(udp.LocalAddr().(*net.UDPAddr).Port)
	for {
		if _, err := ln.Accept(context.Background()); err != nil {
			return
		}
	}
}
`
const GO_MOD = quicGoMod('weftquicgo')

let bin = ''
let skip: string | undefined
const servers: ChildProcess[] = []

beforeAll(async () => {
  ({ bin, skip } = await buildGoProgram('weft-quicgo-packet', GO_MAIN, GO_MOD))
}, 250_000)
afterAll(() => { for (const s of servers) s.kill() })

async function server(mode: 'plain' | 'retry'): Promise<number> {
  const p = spawn(bin, [mode])
  servers.push(p)
  return await new Promise<number>((resolve, reject) => {
    p.stdout!.once('data', (d) => resolve(Number(String(d).trim())))
    p.once('error', reject)
  })
}

/** Sends the datagrams, returns what arrives until `count` datagrams (or 5 s). */
async function exchange(port: number, datagrams: Uint8Array[], count: number): Promise<Uint8Array[]> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve))
  const got: Uint8Array[] = []
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 5000)
    s.on('message', (m) => { got.push(new Uint8Array(m)); if (got.length >= count) { clearTimeout(t); resolve() } })
    for (const d of datagrams) s.send(d, port, '127.0.0.1')
  })
  s.close()
  return got
}

const a2 = readVectorFile('quic').vectors.find((v) => v.id === 'rfc9001-a2-client-initial')!
const ODCID = fromHex(a2.decoded.dcid)
const CLIENT_HELLO_FRAME = fromHex(a2.decoded.cryptoFrame)

/** The Initial packets of a datagram, opened with `keys` and decoded as a client. */
function serverInitials(d: Uint8Array, dcid: Uint8Array): Array<{ packetNumber: number, frames: Frame[] }> {
  const keys = initialKeys(c, dcid).server
  const parsed = parseDatagram(d, 8)
  expect(parsed.dropped).toBeUndefined()
  return parsed.packets.filter((p): p is ProtectedPacket => p.type === 'initial').map((p) => {
    const r = openPacket(c, keys, p, -1)
    if (!r.ok) throw new Error(`quic-go's Initial did not open: ${r.reason}`)
    return { packetNumber: r.packetNumber, frames: decodeFrames(r.payload, 'initial', { receiver: 'client' }) }
  })
}

describe('quic-go v0.59.0 as a black box', () => {
  test('it opens our client Initial (RFC 9001 A.2 ClientHello) and answers with an Initial we open: ACK of our packet number, CRYPTO with a ServerHello', async (ctx) => {
    if (skip !== undefined) ctx.skip()
    const port = await server('plain')
    // the A.2 ClientHello names 8394c8f03e515708 as initial_source_connection_id: our SCID must be it
    const pkt = sealPacket(c, initialKeys(c, ODCID).client, { type: 'initial', dcid: ODCID, scid: ODCID }, 2, CLIENT_HELLO_FRAME, { minPacketSize: 1200 })
    const got = await exchange(port, [pkt], 1)
    expect(got.length).toBeGreaterThan(0)
    const parsed = parseDatagram(got[0]!, 8)
    expect(parsed.packets.map((p) => p.type).slice(0, 2)).toEqual(['initial', 'handshake']) // coalesced
    expect(parsed.packets.every((p) => p.dcid.length === 8)).toBe(true) // our SCID
    const [initial] = serverInitials(got[0]!, ODCID)
    expect(initial!.frames).toContainEqual({ type: 'ack', ackDelay: expect.any(Number), ranges: [{ smallest: 2, largest: 2 }] })
    const crypto = initial!.frames.find((f) => f.type === 'crypto') as { offset: number, data: Uint8Array }
    expect(crypto.offset).toBe(0)
    expect(crypto.data[0]).toBe(2) // HandshakeType server_hello
  }, 30_000)

  test('it answers an unknown version with a Version Negotiation packet we parse: v1 listed, our connection ids echoed', async (ctx) => {
    if (skip !== undefined) ctx.skip()
    const port = await server('plain')
    const d = new Uint8Array(1200)
    d.set([0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 8, ...ODCID, 4, 9, 9, 9, 9])
    const [got] = await exchange(port, [d], 1)
    const vn = parseDatagram(got!, 0).packets[0] as VersionNegotiationPacket
    expect(vn.type).toBe('version_negotiation')
    expect(vn.versions).toContain(QUIC_V1)
    expect(vn.versions.some(isReservedVersion)).toBe(true) // quic-go greases the list
    expect([vn.dcid, vn.scid]).toEqual([Uint8Array.of(9, 9, 9, 9), ODCID])
    expect(handleVersionNegotiation(vn, { scid: Uint8Array.of(9, 9, 9, 9), dcid: ODCID, version: 0x1a2a3a4a, receivedOther: false })).toBe('abandon')
  }, 30_000)

  test('its Retry verifies for our ODCID; our Initial with the token, to its new connection id, is answered', async (ctx) => {
    if (skip !== undefined) ctx.skip()
    const port = await server('retry')
    const first = sealPacket(c, initialKeys(c, ODCID).client, { type: 'initial', dcid: ODCID, scid: ODCID }, 0, CLIENT_HELLO_FRAME, { minPacketSize: 1200 })
    const [got] = await exchange(port, [first], 1)
    const retry = parseDatagram(got!, 8).packets[0] as RetryPacket
    expect(retry.type).toBe('retry')
    expect(retry.dcid).toEqual(ODCID)
    expect(verifyRetry(c, retry, ODCID)).toBe(true)
    expect(verifyRetry(c, retry, retry.scid)).toBe(false)
    const again = sealPacket(c, initialKeys(c, retry.scid).client, { type: 'initial', dcid: retry.scid, scid: ODCID, token: retry.token }, 1, CLIENT_HELLO_FRAME, { minPacketSize: 1200 })
    const answers = await exchange(port, [again], 1)
    const [initial] = serverInitials(answers[0]!, retry.scid)
    // the ClientHello's initial_source_connection_id is our SCID again: the handshake goes on (ServerHello)
    expect(initial!.frames.map((f) => f.type)).toContain('crypto')
  }, 30_000)

  for (const suite of [0x1301, 0x1303] as const) {
    test(`a whole handshake with weft's TLS 1.3 core (suite 0x${suite.toString(16)}): Initial, Handshake and 1-RTT packets both ways, its transport parameters decode, HANDSHAKE_DONE arrives`, async (ctx) => {
      if (skip !== undefined) ctx.skip()
      const port = await server('plain')
      const r = await handshake(port, suite)
      expect(r.alpn).toBe('alpn')
      expect(r.suite).toBe(suite)
      expect(r.params.originalDestinationConnectionId).toEqual(r.odcid)
      expect(r.params.initialSourceConnectionId).toEqual(r.serverCid)
      expect(r.params.statelessResetToken?.length).toBe(16)
      expect(r.oneRttFrames).toContain('handshake_done')
      expect(r.oneRttFrames).toContain('new_connection_id')
    }, 30_000)
  }
})

/** A minimal client driver (the connection core is next session's): enough to finish a handshake. */
async function handshake(port: number, suite: CipherSuite): Promise<{ alpn: string | undefined, suite: number, params: ReturnType<typeof decodeTransportParameters>, odcid: Uint8Array, serverCid: Uint8Array, oneRttFrames: string[] }> {
  const odcid = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)
  const scid = Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9)
  const tls = new TlsHandshake({
    role: 'client', crypto: c, alpn: ['alpn'], serverName: 'example.com', verifyPeer: () => {}, cipherSuites: [suite],
    quicTransportParameters: encodeTransportParameters({ initialSourceConnectionId: scid, initialMaxData: 1 << 20, initialMaxStreamDataBidiLocal: 1 << 16, initialMaxStreamDataBidiRemote: 1 << 16, initialMaxStreamsBidi: 4, maxIdleTimeout: 5000 }),
  })
  const init = initialKeys(c, odcid)
  const read: Record<string, PacketKeys | undefined> = { initial: init.server }
  const write: Record<string, PacketKeys | undefined> = { initial: init.client }
  const largest: Record<string, number> = { initial: -1, handshake: -1, '1rtt': -1 }
  const nextPn: Record<string, number> = { initial: 0, handshake: 0, '1rtt': 0 }
  const sendOffset: Record<string, number> = { initial: 0, handshake: 0 }
  const recv: Record<string, { offset: number, pending: Map<number, Uint8Array> }> = { initial: { offset: 0, pending: new Map() }, handshake: { offset: 0, pending: new Map() } }
  let dcid: Uint8Array = odcid
  let complete: { alpn: string | undefined, suite: number, params: Uint8Array } | undefined
  const oneRttFrames: string[] = []
  let serverCid: Uint8Array | undefined

  const s = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve))
  const inbox: Uint8Array[] = []
  let wake: (() => void) | undefined
  s.on('message', (m) => { inbox.push(new Uint8Array(m)); wake?.() })
  const send = (level: 'initial' | 'handshake' | '1rtt', frames: Frame[]): void => {
    const keys = write[level === '1rtt' ? 'application' : level]!
    const header = level === '1rtt' ? { type: '1rtt' as const, dcid } : { type: level, dcid, scid }
    const pkt = sealPacket(c, keys, header, nextPn[level]!++, encodeFrames(frames), level === 'initial' ? { minPacketSize: 1200 } : {})
    s.send(pkt, port, '127.0.0.1')
  }
  const ack = (space: string): Frame[] => largest[space]! >= 0 ? [{ type: 'ack', ackDelay: 0, ranges: [{ smallest: 0, largest: largest[space]! }] }] : []
  const drain = (): void => {
    for (let e = tls.pollEvent(); e !== undefined; e = tls.pollEvent()) {
      if (e.kind === 'secret') (e.direction === 'read' ? read : write)[e.level] = derivePacketKeys(c, e.suite as CipherSuite, e.secret)
      else complete = { alpn: e.alpn, suite: e.cipherSuite, params: e.peerTransportParameters! }
    }
    for (let o = tls.pollOutput(); o !== undefined; o = tls.pollOutput()) {
      const level = o.level as 'initial' | 'handshake'
      send(level, [...ack(level), { type: 'crypto', offset: sendOffset[level]!, data: o.data }])
      sendOffset[level]! += o.data.length
      drain()
    }
  }
  try {
    drain() // the ClientHello
    const deadline = Date.now() + 10_000
    while (!(complete !== undefined && oneRttFrames.includes('handshake_done'))) {
      if (Date.now() > deadline) throw new Error(`no handshake: complete=${complete !== undefined}, 1-RTT frames ${oneRttFrames}`)
      if (inbox.length === 0) await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, 200) })
      const d = inbox.shift()
      if (d === undefined) continue
      for (const p of parseDatagram(d, scid.length).packets) {
        if (p.type !== 'initial' && p.type !== 'handshake' && p.type !== '1rtt') continue
        const space = p.type
        const keys = read[space === '1rtt' ? 'application' : space]
        if (keys === undefined) continue // keys not there yet: a real connection buffers it
        const opened = openPacket(c, keys, p, largest[space]!)
        if (!opened.ok) throw new Error(`a ${space} packet from quic-go did not open: ${opened.reason}`)
        largest[space] = Math.max(largest[space]!, opened.packetNumber)
        if (space === 'initial' && serverCid === undefined) { serverCid = p.scid.slice(); dcid = serverCid }
        for (const f of decodeFrames(opened.payload, space, { receiver: 'client' })) {
          if (space === '1rtt') oneRttFrames.push(f.type)
          if (f.type !== 'crypto' || space === '1rtt') continue
          const rx = recv[space]!
          rx.pending.set(f.offset, f.data.slice())
          for (let next = rx.pending.get(rx.offset); next !== undefined; next = rx.pending.get(rx.offset)) {
            rx.pending.delete(rx.offset)
            rx.offset += next.length
            tls.handleMessages(space as TlsLevel, next)
          }
        }
        drain()
      }
      if (largest['handshake']! >= 0 && write['handshake'] !== undefined) send('handshake', ack('handshake'))
    }
    send('1rtt', [...ack('1rtt'), { type: 'connection_close', errorCode: 0, reason: new Uint8Array(0) }])
  } finally {
    s.close()
  }
  return { alpn: complete.alpn, suite: complete.suite, params: decodeTransportParameters(complete.params, 'server'), odcid, serverCid: serverCid!, oneRttFrames }
}
