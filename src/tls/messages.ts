/**
 * TLS 1.3 handshake messages (RFC 8446 §4): decode and encode, byte for byte. Each message is
 *
 *   struct { HandshakeType msg_type; uint24 length; <body> } Handshake;
 *
 * Decoding checks every vector's length range, rejects trailing bytes, duplicate extensions and
 * lists over the limits (MessageLimits); it copies what it keeps (no view of the input survives).
 * Extensions stay raw ({ type, data }) here; extensions.ts decodes the ones weft reads.
 */
import { tlsError } from './errors.js'
import { Reader, Writer } from './wire.js'

/** HandshakeType (RFC 8446 §4). */
export const HandshakeType = {
  client_hello: 1,
  server_hello: 2,
  new_session_ticket: 4,
  end_of_early_data: 5,
  encrypted_extensions: 8,
  certificate: 11,
  certificate_request: 13,
  certificate_verify: 15,
  finished: 20,
  key_update: 24,
  message_hash: 254,
} as const

/** One extension as it is on the wire: `struct { ExtensionType extension_type; opaque extension_data<0..2^16-1>; }`. */
export interface Extension {
  type: number
  data: Uint8Array
}

/** One CertificateEntry (X.509 cert_data and its per-certificate extensions). */
export interface CertificateEntry {
  data: Uint8Array
  extensions: Extension[]
}

/** Every handshake message weft decodes. A HelloRetryRequest is a `server_hello` (see isHelloRetryRequest). */
export type HandshakeMessage =
  | { type: 'client_hello'; random: Uint8Array; sessionId: Uint8Array; cipherSuites: number[]; compressionMethods: Uint8Array; extensions: Extension[] }
  | { type: 'server_hello'; random: Uint8Array; sessionId: Uint8Array; cipherSuite: number; compressionMethod: number; extensions: Extension[] }
  | { type: 'encrypted_extensions'; extensions: Extension[] }
  | { type: 'certificate_request'; context: Uint8Array; extensions: Extension[] }
  | { type: 'certificate'; context: Uint8Array; entries: CertificateEntry[] }
  | { type: 'certificate_verify'; scheme: number; signature: Uint8Array }
  | { type: 'finished'; verifyData: Uint8Array }
  | { type: 'new_session_ticket'; lifetime: number; ageAdd: number; nonce: Uint8Array; ticket: Uint8Array; extensions: Extension[] }
  | { type: 'key_update'; updateRequested: boolean }

/** Bounds on what one message may hold (spec/tls13.md, Limits). */
export interface MessageLimits {
  /** Extensions in one extension block. */
  maxExtensions: number
  /** CertificateEntry items in one Certificate message. */
  maxCertificates: number
}

/** Defaults: a browser's ClientHello has about 20 extensions; libp2p chains have exactly one certificate. */
export const DEFAULT_MESSAGE_LIMITS: MessageLimits = { maxExtensions: 64, maxCertificates: 8 }

/** The ServerHello.random that marks a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3). */
export const HELLO_RETRY_REQUEST_RANDOM = Uint8Array.from([
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
  0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
])

/** True when a server_hello is a HelloRetryRequest (its random is the special value). */
export function isHelloRetryRequest(m: HandshakeMessage): boolean {
  return m.type === 'server_hello' && m.random.length === 32 && m.random.every((b, i) => b === HELLO_RETRY_REQUEST_RANDOM[i])
}

const TYPE_NAMES = new Map<number, HandshakeMessage['type']>([
  [1, 'client_hello'], [2, 'server_hello'], [4, 'new_session_ticket'], [8, 'encrypted_extensions'],
  [11, 'certificate'], [13, 'certificate_request'], [15, 'certificate_verify'], [20, 'finished'], [24, 'key_update'],
])

function decodeExtensions(r: Reader, limits: MessageLimits, min: number): Extension[] {
  const list = r.sub(2, min, 0xffff)
  const out: Extension[] = []
  const seen = new Set<number>()
  while (list.remaining > 0) {
    if (out.length >= limits.maxExtensions) throw tlsError('tls/too-many-items', `more than ${limits.maxExtensions} extensions`)
    const type = list.u16()
    const data = list.vector(2)
    // RFC 8446 §4.2: "There MUST NOT be more than one extension of the same type in a given extension block."
    if (seen.has(type)) throw tlsError('tls/illegal-parameter', `duplicate extension ${type}`)
    seen.add(type)
    out.push({ type, data })
  }
  return out
}

function encodeExtensions(w: Writer, exts: Extension[]): void {
  w.nested(2, (l) => {
    for (const e of exts) l.u16(e.type).vector(2, e.data)
  })
}

/**
 * Decodes one handshake message body of the given HandshakeType. Unknown types (and
 * end_of_early_data, which needs 0-RTT weft never accepts) are 'tls/unexpected-message'.
 */
export function decodeHandshakeBody(msgType: number, body: Uint8Array, limits: MessageLimits = DEFAULT_MESSAGE_LIMITS): HandshakeMessage {
  const name = TYPE_NAMES.get(msgType)
  if (name === undefined) throw tlsError('tls/unexpected-message', `handshake message type ${msgType}`)
  const r = new Reader(body)
  let m: HandshakeMessage
  switch (name) {
    case 'client_hello': {
      if (r.u16() !== 0x0303) throw tlsError('tls/protocol-version', 'ClientHello.legacy_version is not 0x0303')
      const random = r.bytes(32)
      const sessionId = r.vector(1, 0, 32)
      const suites = r.sub(2, 2, 0xfffe)
      if (suites.remaining % 2 !== 0) throw tlsError('tls/decode-error', 'odd cipher_suites length')
      const cipherSuites: number[] = []
      while (suites.remaining > 0) cipherSuites.push(suites.u16())
      const compressionMethods = r.vector(1, 1, 255)
      // a ClientHello without extensions is a TLS 1.2-or-older client: no supported_versions, so protocol_version below
      const extensions = r.remaining === 0 ? [] : decodeExtensions(r, limits, 0)
      m = { type: name, random, sessionId, cipherSuites, compressionMethods, extensions }
      break
    }
    case 'server_hello': {
      if (r.u16() !== 0x0303) throw tlsError('tls/protocol-version', 'ServerHello.legacy_version is not 0x0303')
      const random = r.bytes(32)
      const sessionId = r.vector(1, 0, 32)
      const cipherSuite = r.u16()
      const compressionMethod = r.u8()
      const extensions = r.remaining === 0 ? [] : decodeExtensions(r, limits, 0)
      m = { type: name, random, sessionId, cipherSuite, compressionMethod, extensions }
      break
    }
    case 'encrypted_extensions':
      m = { type: name, extensions: decodeExtensions(r, limits, 0) }
      break
    case 'certificate_request': {
      const context = r.vector(1)
      m = { type: name, context, extensions: decodeExtensions(r, limits, 2) }
      break
    }
    case 'certificate': {
      const context = r.vector(1)
      const list = r.sub(3)
      const entries: CertificateEntry[] = []
      while (list.remaining > 0) {
        if (entries.length >= limits.maxCertificates) throw tlsError('tls/too-many-items', `more than ${limits.maxCertificates} certificates`)
        const data = list.vector(3, 1, 0xffffff)
        entries.push({ data, extensions: decodeExtensions(list, limits, 0) })
      }
      m = { type: name, context, entries }
      break
    }
    case 'certificate_verify':
      m = { type: name, scheme: r.u16(), signature: r.vector(2) }
      break
    case 'finished':
      m = { type: name, verifyData: r.bytes(r.remaining) }
      break
    case 'new_session_ticket': {
      const lifetime = r.u32()
      const ageAdd = r.u32()
      const nonce = r.vector(1)
      const ticket = r.vector(2, 1)
      m = { type: name, lifetime, ageAdd, nonce, ticket, extensions: decodeExtensions(r, limits, 0) }
      break
    }
    case 'key_update': {
      const v = r.u8()
      if (v > 1) throw tlsError('tls/illegal-parameter', `KeyUpdate request_update ${v}`)
      m = { type: name, updateRequested: v === 1 }
      break
    }
  }
  r.end(name)
  return m
}

/** Encodes a handshake message with its 4-byte header (msg_type, uint24 length). */
export function encodeHandshake(m: HandshakeMessage): Uint8Array {
  const w = new Writer()
  switch (m.type) {
    case 'client_hello':
      w.u16(0x0303).bytes(m.random).vector(1, m.sessionId)
      w.nested(2, (l) => { for (const s of m.cipherSuites) l.u16(s) })
      w.vector(1, m.compressionMethods)
      encodeExtensions(w, m.extensions)
      break
    case 'server_hello':
      w.u16(0x0303).bytes(m.random).vector(1, m.sessionId).u16(m.cipherSuite).u8(m.compressionMethod)
      encodeExtensions(w, m.extensions)
      break
    case 'encrypted_extensions':
      encodeExtensions(w, m.extensions)
      break
    case 'certificate_request':
      w.vector(1, m.context)
      encodeExtensions(w, m.extensions)
      break
    case 'certificate':
      w.vector(1, m.context)
      w.nested(3, (l) => {
        for (const e of m.entries) {
          l.vector(3, e.data)
          encodeExtensions(l, e.extensions)
        }
      })
      break
    case 'certificate_verify':
      w.u16(m.scheme).vector(2, m.signature)
      break
    case 'finished':
      w.bytes(m.verifyData)
      break
    case 'new_session_ticket':
      w.u32(m.lifetime).u32(m.ageAdd).vector(1, m.nonce).vector(2, m.ticket)
      encodeExtensions(w, m.extensions)
      break
    case 'key_update':
      w.u8(m.updateRequested ? 1 : 0)
      break
  }
  const body = w.finish()
  return new Writer().u8(HandshakeType[m.type]).vector(3, body).finish()
}

/** Decodes one whole handshake message (header and body, nothing more). */
export function decodeHandshake(bytes: Uint8Array, limits: MessageLimits = DEFAULT_MESSAGE_LIMITS): HandshakeMessage {
  const r = new Reader(bytes)
  const type = r.u8()
  const body = r.vector(3)
  r.end('handshake message')
  return decodeHandshakeBody(type, body, limits)
}

/** The extension of the given type, if present. */
export function findExtension(exts: readonly Extension[], type: number): Uint8Array | undefined {
  for (const e of exts) if (e.type === type) return e.data
  return undefined
}
