/**
 * Gossipsub options and their defaults (gossipsub-v1.0.md "Parameters", gossipsub-v1.1.md "Overview
 * of New Parameters", gossipsub-v1.2.md "Parameters"), plus weft's resource limits, each naming the
 * attack it stops.
 */
import type { RandomBytes } from '../core/byte-machine.js'
import type { CryptoProvider } from '../core/crypto/provider.js'
import type { PeerId, PrivateKey } from '../peer-id/index.js'
import { DEFAULT_RPC_DECODE_LIMITS, type RpcDecodeLimits } from './rpc.js'
import { msgIdContentSha256, msgIdFromSeqno, type MsgIdFn, type SignaturePolicy } from './message.js'
import { DEFAULT_PEER_SCORE_PARAMS, DEFAULT_SCORE_THRESHOLDS, validateScoreParams, type PeerScoreParams, type PeerScoreThresholds } from './score.js'

/** Protocol id of gossipsub v1.2 (adds IDONTWANT; pubsub/gossipsub/gossipsub-v1.2.md). */
export const GOSSIPSUB_V12 = '/meshsub/1.2.0'
/** Protocol id of gossipsub v1.1 (peer scoring, PX, backoff; gossipsub-v1.1.md). */
export const GOSSIPSUB_V11 = '/meshsub/1.1.0'
/** Protocol id of gossipsub v1.0 (gossipsub-v1.0.md). */
export const GOSSIPSUB_V10 = '/meshsub/1.0.0'
/** Protocol id of floodsub (pubsub/README.md), spoken to peers that know nothing newer. */
export const FLOODSUB = '/floodsub/1.0.0'
/** The pubsub protocols weft offers, most preferred first. */
export const PUBSUB_PROTOCOLS: readonly string[] = [GOSSIPSUB_V12, GOSSIPSUB_V11, GOSSIPSUB_V10, FLOODSUB]
/** Default `maxRpcSize` (go: 1 MiB). Stops: a peer making us buffer and parse huge frames. */
export const DEFAULT_MAX_RPC_SIZE = 1024 * 1024

/**
 * Options of the gossipsub behaviour (pubsub/gossipsub specs v1.0-v1.2). Mesh degrees, heartbeat and
 * gossip parameters default to the spec's recommended values (D=6, D_lo=5, D_hi=12, heartbeat 1 s);
 * limits (spec/gossipsub.md "Limits") bound what a peer can make us store or send.
 */
export interface GossipsubOptions {
  /** Randomness (peer selection, message-id sampling). */
  random: RandomBytes
  /** The crypto provider (message signatures, content ids). */
  crypto: CryptoProvider
  /** Our key: required for StrictSign. */
  privateKey?: PrivateKey
  /** Default 'StrictSign'. */
  signaturePolicy?: SignaturePolicy
  /** 'from-seqno' (default; go's DefaultMsgIdFn), 'content-sha256', or a function. */
  msgId?: 'from-seqno' | 'content-sha256' | MsgIdFn
  /** First seqno we publish with (go starts at the clock in ns). Default 1. */
  seqnoBase?: bigint
  /** Protocols offered, in preference order. Default all four. */
  protocols?: readonly string[]

  // gossipsub v1.0 overlay parameters
  /** D, the desired mesh degree per topic (gossipsub v1.0 "Parameters"). Default 6. */
  D?: number
  /** D_lo: below this many mesh peers a heartbeat grafts more. Default 5. */
  Dlo?: number
  /** D_hi: above this many mesh peers a heartbeat prunes down to D. Default 12. */
  Dhi?: number
  /** D_lazy: the fewest peers (outside the mesh) that get IHAVE gossip each heartbeat. Default 6. */
  Dlazy?: number
  /** Time between heartbeats (mesh maintenance, gossip, cache shifts), in ms. Default 1000. */
  heartbeatInterval?: number
  /** Delay before the first heartbeat. Default 100 ms. */
  heartbeatInitialDelay?: number
  /**
   * How long a topic's fanout peers are kept after our last publish to it without subscribing, in ms. Default 60 000.
   */
  fanoutTTL?: number
  /** Heartbeats of history in the message cache (served to IWANT). Default 5. */
  mcacheLength?: number
  /** Heartbeats of history advertised in IHAVE gossip; at most `mcacheLength`. Default 3. */
  mcacheGossip?: number
  /** How long a message id is remembered as seen (duplicates dropped), in ms. Default 120 000. */
  seenTTL?: number

  // gossipsub v1.1
  /** D_score (v1.1): mesh peers kept by score when pruning an oversubscribed mesh. Default min(4, D); at most D. */
  Dscore?: number
  /**
   * D_out (v1.1): the fewest outbound connections kept in each mesh (an eclipse defence). Default min(2, D/2); below D_lo.
   */
  Dout?: number
  /**
   * Fraction of eligible peers that get IHAVE gossip each heartbeat, if more than D_lazy (v1.1). Default 0.25, in [0, 1].
   */
  gossipFactor?: number
  /** Backoff announced in our PRUNEs and respected after a PRUNE, in ms (v1.1 "Prune Backoff"). Default 60 000. */
  pruneBackoff?: number
  /** Backoff after we unsubscribe from a topic, in ms (v1.1). Default 10 000. */
  unsubscribeBackoff?: number
  /** A GRAFT this soon after our PRUNE earns an extra P₇ penalty (go: 10 s). */
  graftFloodThreshold?: number
  /** PX peers sent in a PRUNE (go: 16). */
  prunePeers?: number
  /** Send PX when pruning for oversubscription. Default true. */
  doPX?: boolean
  /**
   * Publish our own messages to every subscribed peer above the publish threshold, not only the mesh (v1.1 "Flood Publishing"). Default true.
   */
  floodPublish?: boolean
  /** Heartbeats between opportunistic grafting rounds (v1.1 "Opportunistic Grafting"). Default 60. */
  opportunisticGraftTicks?: number
  /** Peers grafted per opportunistic grafting round. Default 2. */
  opportunisticGraftPeers?: number
  /** Explicit peers: always forwarded to, never in the mesh, reconnected every `directConnectTicks`. */
  directPeers?: readonly PeerId[]
  /** Heartbeats between reconnection attempts to direct peers (v1.1 "Explicit Peering Agreements"). Default 300. */
  directConnectTicks?: number
  /** Time a peer has to deliver a message after our IWANT before it is penalised (P₇), in ms. Default 3000. */
  iwantFollowupTime?: number
  /** Times we answer IWANTs for the same message from the same peer. Default 3. */
  gossipRetransmission?: number
  /** Peer scoring (v1.1 "Peer Scoring"). Default true. */
  scoring?: boolean
  /** Score parameters over `DEFAULT_PEER_SCORE_PARAMS`; checked against the spec's constraints (`RangeError`). */
  scoreParams?: Partial<PeerScoreParams>
  /** Score thresholds over `DEFAULT_SCORE_THRESHOLDS`. */
  scoreThresholds?: Partial<PeerScoreThresholds>

  // gossipsub v1.2
  /** Messages of at least this many bytes trigger IDONTWANT to mesh peers (go: 1 KiB). */
  idontwantMessageSizeThreshold?: number
  /** IDONTWANT message ids accepted per peer per heartbeat (`max_idontwant_messages`). */
  maxIDontWantMessages?: number

  // limits
  /** Largest RPC frame read or written (go: 1 MiB). Stops: a peer making us buffer and parse huge frames. */
  maxRpcSize?: number
  /** Largest Message (encoded) accepted or published. Default = maxRpcSize. */
  maxMessageSize?: number
  /** IHAVE message ids accepted per peer per heartbeat (go MaxIHaveLength 5000). Stops: IHAVE floods eliciting IWANT work. */
  maxIHaveLength?: number
  /** IHAVE messages accepted per peer per heartbeat (go MaxIHaveMessages 10). */
  maxIHaveMessages?: number
  /** Messages served from IWANT per peer per heartbeat. Stops: IWANT spam draining our bandwidth. */
  maxIWantServedPerHeartbeat?: number
  /** Bytes queued towards one peer (written, not yet taken by the muxer). A slow peer over this is dropped from the mesh. */
  maxOutboundBytes?: number
  /** Topics one peer may be subscribed to in our view. Stops: a peer subscribing to millions of topics. */
  maxTopicsPerPeer?: number
  /**
   * Longest topic name, in UTF-8 bytes. Default 1024 (go and rust set none below the RPC size; real
   * topics are tens of bytes). Stops: topic names of up to an RPC each (a remote's longer topic is never stored; we refuse
   * to subscribe or publish to one).
   */
  maxTopicLength?: number
  /** UTF-8 bytes of the topic names one peer may be subscribed to in our view (default 64 KiB). Stops: maxTopicsPerPeer long names per peer. */
  maxTopicBytesPerPeer?: number
  /**
   * Longest message id accepted from a remote (IHAVE / IWANT / IDONTWANT ids, the id of a received
   * message). Default 128; the built-in ids are at most 50 bytes. Stops: long ids held in the seen cache, IWANT
   * promises and IDONTWANT sets (their count bounds times this are their bytes).
   */
  maxMessageIdLength?: number
  /** Bytes of encoded messages in the message cache (default 64 MiB); over it the oldest go first. Stops: fast, large messages pinning mcacheLength heartbeats of traffic. */
  mcacheMaxBytes?: number
  /** Messages in the message cache (default 250,000); over it the oldest go first. Stops: floods of tiny messages (per-entry overhead). */
  mcacheMaxMessages?: number
  /** PRUNE backoff entries (topic, peer), default 100,000. Stops: backoffs for many peers and topics growing the map. */
  maxBackoffEntries?: number
  /** Authors whose public key and peer id are kept parsed (default 4096). Stops: author churn growing the caches. */
  maxCachedAuthors?: number
  /** Per-RPC decoding bounds (DEFAULT_RPC_DECODE_LIMITS; each names its attack). */
  rpcDecodeLimits?: Partial<RpcDecodeLimits>
  /** Messages awaiting an async validator. Over it, new messages are ignored. Stops: unbounded validation backlog. */
  maxPendingValidations?: number
  /** Bytes of messages awaiting an async validator (default 64 MiB). Over it, new messages are ignored. Stops: maxPendingValidations messages of maxMessageSize each. */
  maxPendingValidationBytes?: number
  /** Async validation timeout; a late answer counts as 'ignore'. Default 5 s. */
  validationTimeout?: number
  /**
   * Check StrictSign Ed25519 signatures asynchronously: the router hands them out in batches
   * (`verify-signatures` events, answered by `signaturesVerified`) and holds the messages, in arrival
   * order, until answered. The gossipsub service turns it on when given a `signatureVerifier`
   * (weft/node: libuv's threadpool). Default false: checked inline (browsers).
   */
  asyncSignatures?: boolean
  /** Messages waiting for their signature check (default 8192); over it, new ones are dropped (reason 'gossipsub/signature-queue-full'). Stops: a peer outrunning the verifiers growing the queue without bound. */
  maxPendingSignatures?: number
  /** Bytes of the received frames holding messages that wait for their signature check, each frame once (default 32 MiB); over it, new ones are dropped. Stops: maxPendingSignatures messages of maxMessageSize each, or small messages pinning large frames. */
  maxPendingSignatureBytes?: number
  /** Signatures per batch handed to the verifier (default 64): fewer hand-offs, and a batch a worker can finish in a few ms. */
  signatureBatchSize?: number
  /** A signature check unanswered after this many ms is done inline (default 5000). Stops: a stuck verifier holding every later message. */
  signatureTimeout?: number
  /** Seen-cache entries. Stops: distinct-id floods growing it between expiries. */
  maxSeenEntries?: number
  /** Disconnected peers whose scores are retained. */
  maxRetainedPeers?: number
  /** Publishing with no recipient resolves instead of throwing. Default false. */
  allowPublishToZeroPeers?: boolean
}

/** The resolved gossipsub configuration: every `GossipsubOptions` field with its default applied. */
export interface GossipsubConfig {
  random: RandomBytes
  crypto: CryptoProvider
  privateKey: PrivateKey | undefined
  signaturePolicy: SignaturePolicy
  msgIdFn: MsgIdFn
  seqnoBase: bigint
  protocols: readonly string[]
  D: number
  Dlo: number
  Dhi: number
  Dlazy: number
  Dscore: number
  Dout: number
  heartbeatInterval: number
  heartbeatInitialDelay: number
  fanoutTTL: number
  mcacheLength: number
  mcacheGossip: number
  seenTTL: number
  gossipFactor: number
  pruneBackoff: number
  unsubscribeBackoff: number
  graftFloodThreshold: number
  prunePeers: number
  doPX: boolean
  floodPublish: boolean
  opportunisticGraftTicks: number
  opportunisticGraftPeers: number
  directPeers: readonly PeerId[]
  directConnectTicks: number
  iwantFollowupTime: number
  gossipRetransmission: number
  scoring: boolean
  scoreParams: PeerScoreParams
  scoreThresholds: PeerScoreThresholds
  idontwantMessageSizeThreshold: number
  maxIDontWantMessages: number
  maxRpcSize: number
  maxMessageSize: number
  maxIHaveLength: number
  maxIHaveMessages: number
  maxIWantServedPerHeartbeat: number
  maxOutboundBytes: number
  maxTopicsPerPeer: number
  maxTopicLength: number
  maxTopicBytesPerPeer: number
  maxMessageIdLength: number
  mcacheMaxBytes: number
  mcacheMaxMessages: number
  maxBackoffEntries: number
  maxCachedAuthors: number
  rpcDecodeLimits: Readonly<RpcDecodeLimits>
  maxPendingValidations: number
  maxPendingValidationBytes: number
  validationTimeout: number
  asyncSignatures: boolean
  maxPendingSignatures: number
  maxPendingSignatureBytes: number
  signatureBatchSize: number
  signatureTimeout: number
  maxSeenEntries: number
  maxRetainedPeers: number
  allowPublishToZeroPeers: boolean
}

const int = (v: number, name: string, min = 0): number => {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}`)
  return v
}

/** Fill defaults and check the spec's constraints. TypeError/RangeError on an invalid combination. */
export function resolveConfig(o: GossipsubOptions): GossipsubConfig {
  if (typeof o.random !== 'function') throw new TypeError('random must be a function')
  if (o.crypto === undefined) throw new TypeError('crypto is required')
  const signaturePolicy = o.signaturePolicy ?? 'StrictSign'
  if (signaturePolicy !== 'StrictSign' && signaturePolicy !== 'StrictNoSign') throw new TypeError(`unknown signature policy ${String(signaturePolicy)}`)
  if (signaturePolicy === 'StrictSign' && o.privateKey === undefined) throw new TypeError('StrictSign needs privateKey')
  const msgId = o.msgId ?? 'from-seqno'
  if (signaturePolicy === 'StrictNoSign' && msgId === 'from-seqno') {
    throw new TypeError('StrictNoSign with the from+seqno message id is invalid: unsigned messages carry neither field (use content-sha256)')
  }
  const msgIdFn = msgId === 'from-seqno' ? msgIdFromSeqno : msgId === 'content-sha256' ? msgIdContentSha256(o.crypto) : msgId
  if (typeof msgIdFn !== 'function') throw new TypeError('msgId must be a function or a known name')
  const D = int(o.D ?? 6, 'D', 1)
  const Dlo = int(o.Dlo ?? 5, 'Dlo', 1)
  const Dhi = int(o.Dhi ?? 12, 'Dhi', 1)
  if (!(Dlo <= D && D <= Dhi)) throw new RangeError('need Dlo <= D <= Dhi')
  const Dout = int(o.Dout ?? Math.min(2, Math.floor(D / 2)), 'Dout')
  if (!(Dout < Dlo && Dout <= D / 2)) throw new RangeError('Dout must be < Dlo and <= D/2')
  const Dscore = int(o.Dscore ?? Math.min(4, D), 'Dscore')
  if (Dscore > D) throw new RangeError('Dscore must be <= D')
  const mcacheLength = int(o.mcacheLength ?? 5, 'mcacheLength', 1)
  const mcacheGossip = int(o.mcacheGossip ?? 3, 'mcacheGossip', 1)
  if (mcacheGossip > mcacheLength) throw new RangeError('mcacheGossip must be <= mcacheLength')
  const gossipFactor = o.gossipFactor ?? 0.25
  if (!(gossipFactor >= 0 && gossipFactor <= 1)) throw new RangeError('gossipFactor must be in [0, 1]')
  const protocols = o.protocols ?? PUBSUB_PROTOCOLS
  for (const p of protocols) if (!PUBSUB_PROTOCOLS.includes(p)) throw new RangeError(`unknown pubsub protocol ${p}`)
  if (protocols.length === 0) throw new RangeError('protocols must not be empty')
  const scoreParams: PeerScoreParams = { ...DEFAULT_PEER_SCORE_PARAMS, ...o.scoreParams }
  const scoreThresholds: PeerScoreThresholds = { ...DEFAULT_SCORE_THRESHOLDS, ...o.scoreThresholds }
  validateScoreParams(scoreParams, scoreThresholds)
  const maxRpcSize = int(o.maxRpcSize ?? DEFAULT_MAX_RPC_SIZE, 'maxRpcSize', 64)
  const maxOutboundBytes = int(o.maxOutboundBytes ?? 2 * 1024 * 1024, 'maxOutboundBytes', 1)
  if (maxOutboundBytes < maxRpcSize + 16) throw new RangeError('maxOutboundBytes must hold at least one RPC')
  const rpcDecodeLimits: RpcDecodeLimits = { ...DEFAULT_RPC_DECODE_LIMITS }
  for (const k of Object.keys(DEFAULT_RPC_DECODE_LIMITS) as Array<keyof RpcDecodeLimits>) {
    const v = o.rpcDecodeLimits?.[k]
    if (v !== undefined) rpcDecodeLimits[k] = int(v, `rpcDecodeLimits.${k}`, 1)
  }
  return {
    random: o.random,
    crypto: o.crypto,
    privateKey: o.privateKey,
    signaturePolicy,
    msgIdFn,
    seqnoBase: o.seqnoBase ?? 1n,
    protocols,
    D, Dlo, Dhi, Dout, Dscore,
    Dlazy: int(o.Dlazy ?? 6, 'Dlazy'),
    heartbeatInterval: int(o.heartbeatInterval ?? 1000, 'heartbeatInterval', 1),
    heartbeatInitialDelay: int(o.heartbeatInitialDelay ?? 100, 'heartbeatInitialDelay'),
    fanoutTTL: int(o.fanoutTTL ?? 60_000, 'fanoutTTL'),
    mcacheLength,
    mcacheGossip,
    seenTTL: int(o.seenTTL ?? 120_000, 'seenTTL', 1),
    gossipFactor,
    pruneBackoff: int(o.pruneBackoff ?? 60_000, 'pruneBackoff'),
    unsubscribeBackoff: int(o.unsubscribeBackoff ?? 10_000, 'unsubscribeBackoff'),
    graftFloodThreshold: int(o.graftFloodThreshold ?? 10_000, 'graftFloodThreshold'),
    prunePeers: int(o.prunePeers ?? 16, 'prunePeers'),
    doPX: o.doPX ?? true,
    floodPublish: o.floodPublish ?? true,
    opportunisticGraftTicks: int(o.opportunisticGraftTicks ?? 60, 'opportunisticGraftTicks', 1),
    opportunisticGraftPeers: int(o.opportunisticGraftPeers ?? 2, 'opportunisticGraftPeers'),
    directPeers: o.directPeers ?? [],
    directConnectTicks: int(o.directConnectTicks ?? 300, 'directConnectTicks', 1),
    iwantFollowupTime: int(o.iwantFollowupTime ?? 3000, 'iwantFollowupTime'),
    gossipRetransmission: int(o.gossipRetransmission ?? 3, 'gossipRetransmission'),
    scoring: o.scoring ?? true,
    scoreParams,
    scoreThresholds,
    idontwantMessageSizeThreshold: int(o.idontwantMessageSizeThreshold ?? 1024, 'idontwantMessageSizeThreshold'),
    maxIDontWantMessages: int(o.maxIDontWantMessages ?? 1000, 'maxIDontWantMessages'),
    maxRpcSize,
    maxMessageSize: int(o.maxMessageSize ?? maxRpcSize, 'maxMessageSize', 1),
    maxIHaveLength: int(o.maxIHaveLength ?? 5000, 'maxIHaveLength'),
    maxIHaveMessages: int(o.maxIHaveMessages ?? 10, 'maxIHaveMessages'),
    maxIWantServedPerHeartbeat: int(o.maxIWantServedPerHeartbeat ?? 5000, 'maxIWantServedPerHeartbeat'),
    maxOutboundBytes,
    maxTopicsPerPeer: int(o.maxTopicsPerPeer ?? 1024, 'maxTopicsPerPeer', 1),
    maxTopicLength: int(o.maxTopicLength ?? 1024, 'maxTopicLength', 1),
    maxTopicBytesPerPeer: int(o.maxTopicBytesPerPeer ?? 64 * 1024, 'maxTopicBytesPerPeer', 1),
    maxMessageIdLength: int(o.maxMessageIdLength ?? 128, 'maxMessageIdLength', 1),
    mcacheMaxBytes: int(o.mcacheMaxBytes ?? 64 * 1024 * 1024, 'mcacheMaxBytes', 1),
    mcacheMaxMessages: int(o.mcacheMaxMessages ?? 250_000, 'mcacheMaxMessages', 1),
    maxBackoffEntries: int(o.maxBackoffEntries ?? 100_000, 'maxBackoffEntries', 1),
    maxCachedAuthors: int(o.maxCachedAuthors ?? 4096, 'maxCachedAuthors', 1),
    rpcDecodeLimits,
    maxPendingValidations: int(o.maxPendingValidations ?? 4096, 'maxPendingValidations', 1),
    maxPendingValidationBytes: int(o.maxPendingValidationBytes ?? 64 * 1024 * 1024, 'maxPendingValidationBytes', 1),
    validationTimeout: int(o.validationTimeout ?? 5000, 'validationTimeout', 1),
    asyncSignatures: o.asyncSignatures ?? false,
    maxPendingSignatures: int(o.maxPendingSignatures ?? 8192, 'maxPendingSignatures', 1),
    maxPendingSignatureBytes: int(o.maxPendingSignatureBytes ?? 32 * 1024 * 1024, 'maxPendingSignatureBytes', 1),
    signatureBatchSize: int(o.signatureBatchSize ?? 64, 'signatureBatchSize', 1),
    signatureTimeout: int(o.signatureTimeout ?? 5000, 'signatureTimeout', 1),
    maxSeenEntries: int(o.maxSeenEntries ?? 1_000_000, 'maxSeenEntries', 1),
    maxRetainedPeers: int(o.maxRetainedPeers ?? 10_000, 'maxRetainedPeers'),
    allowPublishToZeroPeers: o.allowPublishToZeroPeers ?? false,
  }
}
