/**
 * The swarm's behaviours as one set: inputs go to one behaviour or to all, actions are drained in
 * record order until none makes progress, and the earliest deadline is theirs to report.
 *
 * Containment: a behaviour that throws (from `handle`, `pollAction` or `handleTimeout`) does not
 * unwind the swarm. The exception goes to `onFault` with the behaviour's name and, when the input
 * concerned one connection (a stream's bytes, a connection event), that connection's id; the swarm
 * closes that connection with `internal-error` and reports the error. Everything else goes on.
 */
import type { Millis } from '../core/byte-machine.js'
import type { Behaviour, BehaviourAction, BehaviourInput } from './behaviour.js'

export type FaultHandler = (behaviour: string, error: unknown, connection: number | undefined) => void

export class BehaviourSet<B extends Record<string, Behaviour<unknown>>> {
  readonly record: B
  readonly names: readonly string[]
  readonly #onFault: FaultHandler

  constructor(record: B, onFault: FaultHandler) {
    this.record = record
    this.names = Object.keys(record)
    this.#onFault = onFault
  }

  /** Hand `input` to one behaviour. */
  feed(now: Millis, name: string, input: BehaviourInput): void {
    try {
      this.record[name]!.handle(now, input)
    } catch (e) {
      this.#onFault(name, e, connectionOf(input))
    }
  }

  /** Hand `input` to every behaviour, in record order. */
  broadcast(now: Millis, input: BehaviourInput): void {
    for (const name of this.names) this.feed(now, name, input)
  }

  /**
   * Drain every behaviour's actions into `act` until none has more. A behaviour whose `pollAction`
   * throws is skipped for the rest of this pass (it is asked again on the next input).
   */
  drain(act: (name: string, action: BehaviourAction<unknown>) => void): void {
    let progress = true
    const failed = new Set<string>()
    while (progress) {
      progress = false
      for (const name of this.names) {
        if (failed.has(name)) continue
        const b = this.record[name]!
        for (;;) {
          let a: BehaviourAction<unknown> | undefined
          try {
            a = b.pollAction()
          } catch (e) {
            failed.add(name)
            this.#onFault(name, e, undefined)
            break
          }
          if (a === undefined) break
          progress = true
          act(name, a)
        }
      }
    }
  }

  pollTimeout(): Millis | undefined {
    let t: Millis | undefined
    for (const name of this.names) {
      let bt: Millis | undefined
      try {
        bt = this.record[name]!.pollTimeout()
      } catch (e) {
        this.#onFault(name, e, undefined)
      }
      if (bt !== undefined && (t === undefined || bt < t)) t = bt
    }
    return t
  }

  /** Fire every behaviour deadline that has passed. */
  handleTimeout(now: Millis): void {
    for (const name of this.names) {
      const b = this.record[name]!
      try {
        const t = b.pollTimeout()
        if (t !== undefined && now >= t) b.handleTimeout(now)
      } catch (e) {
        this.#onFault(name, e, undefined)
      }
    }
  }
}

/** The connection an input concerns, if it concerns one that is still open. */
function connectionOf(input: BehaviourInput): number | undefined {
  switch (input.type) {
    case 'connection-established':
    case 'dial-succeeded':
    case 'stream-opened':
      return input.type === 'stream-opened' ? input.stream.connection : input.connection.id
    case 'stream-data':
    case 'stream-eof':
    case 'stream-writable':
    case 'stream-reset':
    case 'stream-closed':
      return input.stream.connection
    default:
      return undefined
  }
}
