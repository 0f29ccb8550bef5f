/**
 * Answering one inbound request (libp2p/specs kad-dht/README.md, the requirements per
 * MessageType), as a pure function of the local state. The behaviour decodes the request, calls
 * `answer`, and writes the response (if any) on the same stream, which stays open for further
 * requests until the remote closes it.
 *
 * - FIND_NODE: closerPeers = the k closest peers of our routing table to sha256(key).
 * - GET_VALUE: record = our record for key (if any, unexpired), plus closerPeers.
 * - PUT_VALUE: record.key must equal key; the record is validated, compared with the stored one by
 *   the namespace's selector (a worse record is not stored) and stored; the response echoes the
 *   request. An invalid record is a ProtocolError (the stream is reset).
 * - GET_PROVIDERS: providerPeers = live providers of key, plus closerPeers.
 * - ADD_PROVIDER: every providerPeer whose id is the sender's is recorded. No response (go and
 *   rust send none).
 * - PING: echoed (deprecated, answered for backwards compatibility).
 *
 * Keys are bounded before anything else (a ProtocolError 'kad/key-too-long'): provider keys
 * (ADD_PROVIDER, GET_PROVIDERS) by `maxProviderKeyLength`, record keys (GET_VALUE, PUT_VALUE) by
 * `maxRecordKeyLength`, FIND_NODE keys by the larger of the two. Stored entries are charged to the
 * sender's peer id and to `source`, the network of the connection that delivered them (source.ts).
 */
import type { Millis } from '../core/byte-machine.js'
import { ProtocolError } from '../core/errors.js'
import { equals } from '../core/bytes.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { KadErrorCode, KadMessage, KadPeer } from './message.js'
import { MessageType } from './message.js'
import type { Origin, RecordStore } from './store.js'
import type { ValidationContext, Validators } from './validators.js'

export interface ServerContext {
  store: RecordStore
  validators: Validators
  validation: ValidationContext
  /** Up to k peers closest to the raw `key` (hashed by the callee), excluding `requester`. */
  closerPeers(key: Uint8Array, requester: PeerId): KadPeer[]
  /** Keep only usable provider addresses. */
  filterAddrs(addrs: readonly Multiaddr[]): Multiaddr[]
  /** Bound on providers returned. */
  maxProvidersReturned: number
}

export type AnswerOutcome =
  | { response: KadMessage | undefined; stored?: 'record' | 'provider'; rejected?: string }

export function answer(ctx: ServerContext, from: PeerId, req: KadMessage, now: Millis, source: string): AnswerOutcome {
  const L = ctx.store.limits
  const need = (max = L.maxRecordKeyLength): Uint8Array => {
    if (req.key === undefined || req.key.length === 0) throw new ProtocolError<KadErrorCode>('kad', 'kad/missing-key', `${req.type}`)
    if (req.key.length > max) throw new ProtocolError<KadErrorCode>('kad', 'kad/key-too-long', `${req.key.length} > ${max} bytes`)
    return req.key
  }
  const origin: Origin = { peer: from.toString(), source }
  switch (req.type) {
    case MessageType.PING:
      return { response: { type: MessageType.PING, closerPeers: [], providerPeers: [] } }
    case MessageType.FIND_NODE: {
      const key = need(Math.max(L.maxRecordKeyLength, L.maxProviderKeyLength))
      return { response: { type: MessageType.FIND_NODE, key, closerPeers: ctx.closerPeers(key, from), providerPeers: [] } }
    }
    case MessageType.GET_VALUE: {
      const key = need()
      const r = ctx.store.getRecord(key, now)
      const response: KadMessage = { type: MessageType.GET_VALUE, key, closerPeers: ctx.closerPeers(key, from), providerPeers: [] }
      if (r !== undefined) response.record = { key: r.key, value: r.value }
      return { response }
    }
    case MessageType.PUT_VALUE: {
      const key = need()
      const rec = req.record
      if (rec === undefined) throw new ProtocolError<KadErrorCode>('kad', 'kad/missing-record', 'PUT_VALUE without a record')
      if (!equals(rec.key, key)) throw new ProtocolError<KadErrorCode>('kad', 'kad/key-mismatch', 'PUT_VALUE record.key differs from key')
      ctx.validators.validate(key, rec.value, ctx.validation)
      const old = ctx.store.getRecord(key, now)
      if (old !== undefined && !equals(old.value, rec.value)) {
        // Keep the better record: a worse one is not stored (but the request is still echoed).
        if (ctx.validators.select(key, [old.value, rec.value], ctx.validation) === 0) return { response: req, rejected: 'worse than the stored record' }
      }
      const why = ctx.store.putRecord(key, rec.value, now, origin)
      return why === undefined ? { response: req, stored: 'record' } : { response: req, rejected: why }
    }
    case MessageType.GET_PROVIDERS: {
      const key = need(L.maxProviderKeyLength)
      const providers = ctx.store.getProviders(key, now, ctx.maxProvidersReturned)
      const providerPeers: KadPeer[] = providers.map((p) => ({ id: p.peer, addrs: [...p.addrs], connection: 0 }))
      return { response: { type: MessageType.GET_PROVIDERS, key, closerPeers: ctx.closerPeers(key, from), providerPeers } }
    }
    case MessageType.ADD_PROVIDER: {
      const key = need(L.maxProviderKeyLength)
      let stored = false
      let rejected: string | undefined
      for (const p of req.providerPeers) {
        // "all providerPeers that match the RPC sender's PeerID are recorded as providers"
        if (!p.id.equals(from)) continue
        const why = ctx.store.addProvider(key, p.id, ctx.filterAddrs(p.addrs), now, origin)
        if (why === undefined) stored = true
        else rejected = why
      }
      const out: AnswerOutcome = { response: undefined }
      if (stored) out.stored = 'provider'
      if (rejected !== undefined) out.rejected = rejected
      return out
    }
    default:
      throw new ProtocolError<KadErrorCode>('kad', 'kad/unknown-message-type', String(req.type))
  }
}
