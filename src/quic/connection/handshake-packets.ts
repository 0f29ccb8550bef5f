/**
 * The client's handling of the two packets a server sends before any connection state (RFC 9000
 * §6.2 Version Negotiation, §17.2.5.2 Retry), and stateless reset detection (§10.3.1): the pieces of
 * the receive path that are not protected packets.
 */
import type { RetryPacket, VersionNegotiationPacket } from '../packet.js'
import { initialKeys } from '../protection.js'
import { detectStatelessReset } from '../reset.js'
import { verifyRetry } from '../retry.js'
import { handleVersionNegotiation } from '../version.js'
import { equal } from './params.js'
import type { ConnState } from './state.js'

/** A Version Negotiation: the reason to abandon the connection (no common version), or undefined to ignore it. */
export function versionNegotiationVerdict(s: ConnState, p: VersionNegotiationPacket): string | undefined {
  if (s.role !== 'client') return undefined
  const r = handleVersionNegotiation(p, { scid: s.localCid, dcid: s.originalDcid, receivedOther: s.receivedFromPeer || s.retryScid !== undefined })
  return r === 'abandon' ? `the server supports ${p.versions.map((v) => `0x${v.toString(16)}`).join(', ')}` : undefined
}

/** A Retry (client): follow it once, before any other packet from the server, with a valid tag and a new id. */
export function retryReceived(s: ConnState, p: RetryPacket, now: number): void {
  if (s.role !== 'client' || s.receivedFromPeer || s.retryScid !== undefined || p.token.length === 0) return
  if (equal(p.scid, s.originalDcid) || !verifyRetry(s.crypto, p, s.originalDcid)) { s.stats.packetsDropped++; return }
  s.retryScid = p.scid.slice()
  s.stats.retries++
  s.token = p.token.slice()
  s.peerCids.setInitial(s.retryScid)
  const ik = initialKeys(s.crypto, s.retryScid)
  s.spaces.initial.send = ik.client
  s.spaces.initial.recv = ik.server
  s.recovery.onRetry(now)
  s.spaces.initial.cryptoSend.resendAll()
}

/** Whether a datagram none of whose packets authenticated is a stateless reset of the peer (a short header ending with one of its tokens). */
export function isStatelessReset(s: ConnState, datagram: Uint8Array): boolean {
  if ((datagram[0]! & 0x80) !== 0) return false
  const tokens: Uint8Array[] = []
  for (const t of s.peerCids.tokens()) tokens.push(t)
  return detectStatelessReset(datagram, tokens) !== undefined
}
