// quic-go as a black-box oracle for the packet layer (no connection core yet): a small Go program
// (below) listens with quic-go v0.59.0, the version interop/go pins, built offline from the Go
// module cache; weft's sealPacket / parseDatagram / openPacket / decodeFrames / verifyRetry /
// Version Negotiation talk to it over UDP. Skipped, saying why, where Go or the module is missing.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import dgram from 'node:dgram'
import { mkdirSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { fromHex } from '../src/core/bytes.js'
import { nodeTlsCrypto as c } from '../src/io/crypto-tls-node.js'
import {
  QUIC_V1, decodeFrames, handleVersionNegotiation, initialKeys, isReservedVersion, openPacket, parseDatagram, sealPacket, verifyRetry,
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
const GO_MOD = `module weftquicgo

go 1.24

require (
	github.com/quic-go/quic-go v0.59.0
	golang.org/x/crypto v0.48.0
	golang.org/x/net v0.50.0
	golang.org/x/sys v0.48.0
	golang.org/x/text v0.34.0
)
`

const dir = join(tmpdir(), 'weft-quicgo-v0.59.0')
const bin = join(dir, 'quicgo')
let skip: string | undefined
const servers: ChildProcess[] = []

beforeAll(async () => {
  if (existsSync(bin)) return
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'main.go'), GO_MAIN)
  writeFileSync(join(dir, 'go.mod'), GO_MOD)
  skip = await new Promise<string | undefined>((resolve) => {
    execFile('go', ['build', '-o', bin, '.'], { cwd: dir, env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', GOSUMDB: 'off' }, timeout: 240_000 },
      (e, _out, err) => resolve(e === null ? undefined : `quic-go peer not built (Go or the module cache missing): ${String(err || e).split('\n')[0]}`))
  })
  if (skip !== undefined) console.warn(skip)
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
})
