/**
 * The offline decryptor's QUIC part (spec/trace.md "Decrypting a capture"): a UDP flow of a capture
 * whose first datagram is a QUIC v1 long header packet is one QUIC connection; the QUIC trace decoder
 * (quic.ts) decrypts it with the Initial keys from the client's first Destination Connection ID and
 * the keylog's NSS lines, found by the ClientHello's random (parseTlsKeylog). `dir` is from the
 * client's side by default (`out` = client -> server, as the dialer's live trace prints it),
 * `local: 'responder'` takes the server's.
 */
import type { TraceBody, TraceEvent } from '../core/trace.js'
import type { OfflineOptions } from './offline.js'
import type { UdpFlow } from './pcap.js'
import { QuicTraceDecoder } from './quic.js'

/** True when the flow starts with a QUIC v1 long header packet from its client (RFC 9000 §17.2: form and fixed bits, version 1). */
export function isQuicFlow(f: UdpFlow): boolean {
  const d = f.datagrams[0]
  if (d === undefined || !d.fromClient || d.data.length < 7) return false
  const b = d.data
  return (b[0]! & 0xc0) === 0xc0 && b[1] === 0 && b[2] === 0 && b[3] === 0 && b[4] === 1
}

/** Decode one QUIC flow into trace events. */
export function decodeQuicFlow(flow: UdpFlow, connId: string, o: OfflineOptions): TraceEvent[] {
  const events: TraceEvent[] = []
  let now = flow.datagrams[0]?.t ?? 0
  const emit = (body: TraceBody): void => { events.push({ ...body, t: now, conn: connId } as TraceEvent) }
  const local = o.local === 'responder' ? 'server' : 'client'
  emit({ kind: 'state', layer: 'connection', to: 'handshaking', reason: local === 'client' ? 'dialer' : 'listener', protocol: '/quic-v1' })
  if (o.tlsCrypto === undefined) {
    emit({ kind: 'state', layer: 'quic', to: 'undecodable', reason: 'no TLS crypto given (OfflineOptions.tlsCrypto)' })
    return events
  }
  const keys = o.tlsKeys
  const decoder = new QuicTraceDecoder({
    crypto: o.tlsCrypto, emit, local, decoders: o.decoders, now: () => now,
    keys: (random) => keys?.get(random),
    ...(o.maxStreams !== undefined ? { maxStreams: o.maxStreams } : {}),
    ...(o.maxPendingBytes !== undefined ? { maxPendingBytes: o.maxPendingBytes } : {}),
  })
  let cut = 0
  for (const d of flow.datagrams) {
    now = d.t
    if (d.cut) {
      cut++
      continue
    }
    decoder.datagram(d.fromClient === (local === 'client') ? 'out' : 'in', d.data)
  }
  if (cut > 0) emit({ kind: 'state', layer: 'connection', to: 'capture-incomplete', reason: `${cut} datagram(s) cut by the snaplen` })
  emit({ kind: 'state', layer: 'connection', to: 'closed', reason: 'end of capture' })
  return events
}
