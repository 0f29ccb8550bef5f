/**
 * The offline decryptor's `/tls/1.0.0` part (spec/trace.md "Decrypting a capture"): a TCP
 * connection's two byte streams after the security negotiation are TLS 1.3 records (RFC 8446 §5).
 * The ClientHello travels in clear; its random names the connection's NSS key log lines (the four
 * traffic secrets a weft node writes with `--keylog`, as Wireshark reads them). Each side's
 * protected records are opened with the tls module's RecordProtection under its handshake traffic
 * secret, then, after that side's Finished, its application traffic secret (KeyUpdate followed,
 * RFC 8446 §7.2). Handshake messages become `tls-handshake` events (tls-view.ts); application data
 * is handed back for the muxer, as Noise's transport messages are.
 */
import type { TlsCrypto } from '../core/crypto/tls.js'
import type { Direction, TlsKeylogLabel } from '../core/trace.js'
import { MAX_CIPHERTEXT, RecordProtection, nextTrafficSecret } from '../tls/index.js'
import { Bytes, type Emit } from './negotiation.js'
import { HandshakeReader, tlsHandshakeEvent, type TraceTlsLevel } from './tls-view.js'

/** The NSS key log lines of TLS connections (TLS over TCP and QUIC): client random (hex) -> label -> secret. */
export type TlsKeys = Map<string, Map<TlsKeylogLabel, Uint8Array>>

const LABELS: ReadonlySet<string> = new Set(['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0', 'SERVER_TRAFFIC_SECRET_0'])
/** An NSS key log line (any label: other implementations also log EXPORTER_SECRET and the like). */
export const NSS_LINE = /^[A-Z][A-Z0-9_]*\s+[0-9a-fA-F]{64}\s+[0-9a-fA-F]+$/

/** The TLS 1.3 traffic secrets of a keylog file's text (other lines are skipped: parseKeylog reads the Noise ones). */
export function parseTlsKeylog(text: string): TlsKeys {
  const out: TlsKeys = new Map()
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (!NSS_LINE.test(line)) continue
    const [label, random, secret] = line.split(/\s+/) as [string, string, string]
    if (!LABELS.has(label) || secret.length % 2 !== 0) continue
    const r = random.toLowerCase()
    let m = out.get(r)
    if (m === undefined) out.set(r, (m = new Map()))
    m.set(label as TlsKeylogLabel, Uint8Array.from(secret.match(/../g)!, (h) => parseInt(h, 16)))
  }
  return out
}

const CT = { change_cipher_spec: 20, alert: 21, handshake: 22, application_data: 23 } as const

interface Side {
  bytes: Bytes
  level: TraceTlsLevel
  readers: Map<TraceTlsLevel, HandshakeReader>
  rp: RecordProtection | undefined
}

/** One TLS connection's records, both sides (see the file comment). */
export class TlsRecordDecoder {
  readonly #sides: Record<'client' | 'server', Side>
  #suite = 0x1301
  #secrets: Map<TlsKeylogLabel, Uint8Array> | undefined
  /** Set once the decoding stopped: why (emitted once by the caller as `undecodable`). */
  failed: string | undefined
  /** No keylog lines for this connection: only the clear handshake messages are shown. */
  noKeys = false

  constructor(readonly o: { crypto: TlsCrypto; keys: TlsKeys; emit: Emit; dirOf: (fromClient: boolean) => Direction; now?: () => number }) {
    const side = (): Side => ({ bytes: new Bytes(), level: 'initial', readers: new Map(), rp: undefined })
    this.#sides = { client: side(), server: side() }
  }

  /** Bytes from the client (the connection's initiator) or the server: the application data they complete. */
  push(fromClient: boolean, bytes: Uint8Array): Uint8Array[] {
    const name = fromClient ? 'client' : 'server'
    const s = this.#sides[name]
    s.bytes.push(bytes)
    const out: Uint8Array[] = []
    while (this.failed === undefined && s.bytes.length >= 5) {
      const h = s.bytes.peek(5)
      const len = (h[3]! << 8) | h[4]!
      if (len > MAX_CIPHERTEXT) {
        this.failed = `a TLS record of ${len} bytes`
        break
      }
      if (s.bytes.length < 5 + len) break
      const header = s.bytes.take(5).slice()
      const body = s.bytes.take(len)
      this.#record(name, s, header, body, out)
    }
    return out
  }

  #record(name: 'client' | 'server', s: Side, header: Uint8Array, body: Uint8Array, out: Uint8Array[]): void {
    const dir = this.o.dirOf(name === 'client')
    const type = header[0]!
    if (type === CT.change_cipher_spec) return // middlebox compatibility (RFC 8446 Appendix D.4)
    if (type === CT.handshake && s.rp === undefined) return this.#handshake(name, s, dir, 'initial', body)
    if (type === CT.alert && s.rp === undefined) return this.#alert(dir, body)
    if (type !== CT.application_data) {
      this.failed = `a TLS record of type ${type}`
      return
    }
    if (this.noKeys) return
    if (s.rp === undefined) {
      const secret = this.#secrets?.get(name === 'client' ? 'CLIENT_HANDSHAKE_TRAFFIC_SECRET' : 'SERVER_HANDSHAKE_TRAFFIC_SECRET')
      if (secret === undefined) {
        this.failed = `a protected ${name} record before the ClientHello named its keys`
        return
      }
      s.rp = new RecordProtection(this.o.crypto, this.#suite, secret)
      s.level = 'handshake'
    }
    let inner
    try {
      inner = s.rp.open(header, body)
    } catch {
      this.failed = `a ${name} record does not decrypt with the logged ${s.level} secret (record ${s.rp.sequence})`
      return
    }
    if (inner.type === CT.handshake) this.#handshake(name, s, dir, s.level, inner.fragment)
    else if (inner.type === CT.alert) this.#alert(dir, inner.fragment)
    else if (inner.type === CT.application_data && s.level === 'application') out.push(inner.fragment.slice())
    else this.failed = `${name} content type ${inner.type} at the ${s.level} level`
  }

  #alert(dir: Direction, body: Uint8Array): void {
    this.o.emit({ kind: 'state', layer: 'tls', to: body[1] === 0 ? 'close_notify' : 'alert', reason: `${dir === 'out' ? 'sent' : 'received'}: level ${body[0]}, description ${body[1]}` })
  }

  #handshake(name: 'client' | 'server', s: Side, dir: Direction, level: TraceTlsLevel, bytes: Uint8Array): void {
    let r = s.readers.get(level)
    if (r === undefined) s.readers.set(level, (r = new HandshakeReader()))
    for (const raw of r.push(bytes)) {
      const e = tlsHandshakeEvent(dir, level, raw, this.o.now === undefined ? undefined : this.o.crypto, this.o.now?.())
      this.o.emit(e)
      if (e.type === 'client_hello' && typeof e.fields.random === 'string' && this.#secrets === undefined) {
        this.#secrets = this.o.keys.get(e.fields.random)
        if (this.#secrets === undefined) {
          this.noKeys = true
          this.o.emit({ kind: 'state', layer: 'tls', to: 'no-keys', reason: `no keylog line for client random ${e.fields.random}` })
        }
      } else if (e.type === 'server_hello' && raw.length >= 4 + 2 + 32 + 1) {
        const at = 4 + 2 + 32 + 1 + raw[4 + 2 + 32]!
        if (raw.length >= at + 2) this.#suite = (raw[at]! << 8) | raw[at + 1]!
      } else if (e.type === 'finished' && s.rp !== undefined && s.level === 'handshake') {
        // this side's next records are under its application traffic secret
        s.rp = new RecordProtection(this.o.crypto, this.#suite, this.#secrets!.get(name === 'client' ? 'CLIENT_TRAFFIC_SECRET_0' : 'SERVER_TRAFFIC_SECRET_0') ?? new Uint8Array(32))
        s.level = 'application'
        if (name === 'client') this.o.emit({ kind: 'state', layer: 'tls', from: 'handshake', to: 'established' })
      } else if (e.type === 'key_update' && s.rp !== undefined) {
        s.rp.update(nextTrafficSecret(this.o.crypto.base, s.rp.secret))
        this.o.emit({ kind: 'state', layer: 'tls', to: 'key-update', reason: `${name} (RFC 8446 §4.6.3)` })
      }
    }
    if (r.failed !== undefined) this.failed = r.failed
  }
}
