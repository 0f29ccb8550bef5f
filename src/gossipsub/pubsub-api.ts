/**
 * The user-facing pubsub API of a weft node (`node.pubsub`), on top of the gossipsub behaviour.
 *
 * No protocol decisions here: commands run through the node's runtime (`run(now => ...)`, which then
 * lets the swarm act), behaviour events become `message` events, and async validators are run here
 * and answered with `reportValidation` (the behaviour applies its own timeout: a late answer counts as
 * 'ignore').
 *
 *   node.pubsub.subscribe('news')
 *   node.pubsub.on('message', (m) => console.log(m.topic, m.data))
 *   node.pubsub.addValidator('news', async (m) => (m.data.length < 1000 ? 'accept' : 'reject'))
 *   const { messageId, recipients } = await node.pubsub.publish('news', 'hello')
 */
import { utf8 } from '../core/bytes.js'
import type { Ed25519BatchVerifier } from '../core/crypto/batch-verify.js'
import type { PeerId } from '../peer-id/index.js'
import { Slab } from '../core/slab.js'
import type { GossipsubBehaviour, GossipsubEvent, GossipsubMessage, PublishResult, ValidationResult } from './gossipsub.js'

/**
 * A topic validator (`pubsub.addValidator`): `accept` delivers and forwards, `ignore` drops silently,
 * `reject` drops and penalises the sender's score (gossipsub v1.1 "Extended Validators").
 */
export type Validator = (message: GossipsubMessage) => ValidationResult | Promise<ValidationResult>

/** The events of `Pubsub` (`node.pubsub.on(name, listener)`), with their `detail`. */
export interface PubsubEvents {
  message: GossipsubMessage
  'subscription-change': { peer: PeerId; topic: string; subscribed: boolean }
  'invalid-message': { peer: PeerId; topic: string; reason: string }
}

/** Runs `f` with the current time inside the node's runtime, then lets the swarm act; returns f's result. */
export type RunInRuntime = <T>(f: (now: number) => T) => T

/**
 * The gossipsub API of a node (`node.pubsub`): subscribe, publish, validators and events.
 * @example
 * ```ts
 * node.pubsub.subscribe('news')
 * node.pubsub.on('message', (m) => console.log(m.topic, new TextDecoder().decode(m.data)))
 * const { recipients } = await node.pubsub.publish('news', 'hello')
 * ```
 */
export class Pubsub extends EventTarget {
  readonly #b: GossipsubBehaviour
  readonly #run: RunInRuntime
  readonly #validators = new Map<string, Validator>()
  /** copies of published data until the behaviour encodes them (see core/slab.ts) */
  readonly #slab = new Slab()

  readonly #verifier: Ed25519BatchVerifier | undefined
  #stopped = false

  constructor(behaviour: GossipsubBehaviour, run: RunInRuntime, verifier?: Ed25519BatchVerifier) {
    super()
    this.#b = behaviour
    this.#run = run
    this.#verifier = verifier
  }

  /** @internal the node stopped: the verifier is closed, answers still out are dropped. */
  _stop(): void {
    this.#stopped = true
    this.#verifier?.close()
  }

  /**
   * Subscribe to `topic`; messages arrive as `message` events. Throws `UsageError` for a topic over the configured length limit.
   */
  subscribe(topic: string): void {
    this.#run((now) => this.#b.subscribe(now, topic))
  }

  /** Unsubscribe from `topic` (its mesh peers are PRUNEd). */
  unsubscribe(topic: string): void {
    this.#run((now) => this.#b.unsubscribe(now, topic))
  }

  /**
   * Publish on `topic`; resolves with the message id and the number of peers it was sent to. Rejects
   * with UsageError 'gossipsub/no-peers' when no peer would get it (flood publishing off and no mesh or
   * fanout peer, or no subscribed peer at all), 'gossipsub/message-too-large', 'gossipsub/duplicate-message'.
   */
  publish(topic: string, data: Uint8Array | string): Promise<PublishResult> {
    const bytes = typeof data === 'string' ? utf8(data) : this.#slab.copy(data)
    // publishes made in the same tick run together: one runtime turn, so the behaviour coalesces their
    // RPCs into one write per peer (one muxer frame instead of one per message)
    return new Promise<PublishResult>((resolve, reject) => {
      this.#publishQueue.push({ topic, bytes, resolve, reject })
      if (this.#publishQueue.length === 1) queueMicrotask(() => this.#flushPublishes())
    })
  }

  readonly #publishQueue: Array<{ topic: string; bytes: Uint8Array; resolve: (r: PublishResult) => void; reject: (e: unknown) => void }> = []

  #flushPublishes(): void {
    const batch = this.#publishQueue.splice(0)
    try {
      this.#run((now) => {
        for (const p of batch) {
          try {
            p.resolve(this.#b.publish(now, p.topic, p.bytes))
          } catch (e) {
            p.reject(e)
          }
        }
      })
    } catch (e) {
      for (const p of batch) p.reject(e)
    }
  }

  /** Validate every message of `topic` with `fn` before it is delivered or forwarded (one validator per topic). */
  addValidator(topic: string, fn: Validator): void {
    if (typeof fn !== 'function') throw new TypeError('validator must be a function')
    this.#validators.set(topic, fn)
    this.#run(() => this.#b.setTopicValidator(topic, true))
  }

  /** Remove the validator of `topic`. */
  removeValidator(topic: string): void {
    this.#validators.delete(topic)
    this.#run(() => this.#b.setTopicValidator(topic, false))
  }

  /** The topics we are subscribed to. */
  getTopics(): string[] {
    return this.#b.getTopics()
  }

  /** The peers of `topic`'s mesh (full-message peers). */
  getMeshPeers(topic: string): PeerId[] {
    return this.#b.getMeshPeers(topic)
  }

  /** The connected peers that announced a subscription to `topic`. */
  getSubscribers(topic: string): PeerId[] {
    return this.#b.getSubscribers(topic)
  }

  /** Every connected peer speaking a pubsub protocol. */
  getPeers(): PeerId[] {
    return this.#b.getPeers()
  }

  /** A peer's current score (gossipsub v1.1 "Peer Scoring"); 0 when scoring is off. */
  getScore(peer: PeerId | string): number {
    return this.#run((now) => this.#b.getScore(peer, now))
  }

  /** Typed addEventListener; returns a function that removes the listener. */
  on<K extends keyof PubsubEvents>(type: K, listener: (detail: PubsubEvents[K]) => void): () => void {
    const l = (e: Event): void => listener((e as CustomEvent<PubsubEvents[K]>).detail)
    this.addEventListener(type, l)
    return () => this.removeEventListener(type, l)
  }

  /** @internal the node routes the behaviour's events here. */
  _onEvent(ev: GossipsubEvent): void {
    switch (ev.type) {
      case 'message':
        this.dispatchEvent(new CustomEvent('message', { detail: ev.message }))
        return
      case 'subscription-change':
        this.dispatchEvent(new CustomEvent('subscription-change', { detail: { peer: ev.peer, topic: ev.topic, subscribed: ev.subscribed } }))
        return
      case 'invalid-message':
        this.dispatchEvent(new CustomEvent('invalid-message', { detail: { peer: ev.peer, topic: ev.topic, reason: ev.reason } }))
        return
      case 'verify-signatures': {
        const { batch, jobs } = ev
        const v = this.#verifier
        if (v === undefined || this.#stopped) return // stopping: the messages go with the node
        v.verify(jobs).then(
          (results) => { if (!this.#stopped) this.#run((now) => this.#b.signaturesVerified(now, batch, results)) },
          () => {}, // rejected only once closed (stopped): nothing to deliver to
        )
        return
      }
      case 'validate': {
        const fn = this.#validators.get(ev.message.topic)
        const answer = (r: ValidationResult): void => {
          this.#run((now) => this.#b.reportValidation(now, ev.requestId, r))
        }
        if (fn === undefined) {
          answer('accept')
          return
        }
        Promise.resolve()
          .then(() => fn(ev.message))
          .then((r) => answer(r === 'accept' || r === 'reject' || r === 'ignore' ? r : 'ignore'), () => answer('reject'))
        return
      }
      default:
        return
    }
  }
}
