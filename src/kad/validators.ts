/**
 * Record validation and selection (libp2p/specs kad-dht/README.md, "Entry validation").
 *
 * A record key is `/<namespace>/<rest>`; the namespace picks a `RecordValidator`:
 * - `validate(key, value, ctx)`: throw ProtocolError 'kad/invalid-record' when the record is
 *   invalid. Called on every value received in a GET_VALUE response and on every PUT_VALUE before
 *   storage; a record that fails is never stored or returned.
 * - `select(key, values)`: the index of the best record. Must be stable.
 * Keys in a namespace without a validator are rejected (as go-libp2p-kad-dht does by default).
 *
 * Built in:
 * - `/pk/<multihash>`: the value is a libp2p PublicKey protobuf whose peer id multihash is
 *   `<multihash>` ("the public key must hash to the key"). All valid values are equal: select 0.
 * - `/ipns/<multihash>`: see ipns.ts.
 * Custom namespaces are added with the behaviour's `validators` option.
 */
import type { CryptoProvider } from '../core/crypto/provider.js'
import { ProtocolError } from '../core/errors.js'
import { equals } from '../core/bytes.js'
import { publicKeyFromProtobuf } from '../peer-id/index.js'
import { invalidRecord, splitNamespace } from './namespace.js'
import { ipnsValidator } from './ipns.js'

export { invalidRecord, splitNamespace }

/** What a record validator may use: the crypto provider and the wall-clock time. */
export interface ValidationContext {
  crypto: CryptoProvider
  /** Wall-clock time, ms since the Unix epoch (IPNS validity). */
  wallTime: number
}

/**
 * A record namespace's rules (kad-dht "Entry validation"): `validate` throws for a record that must
 * not be stored (`invalidRecord`); `select` returns the index of the best of several valid values.
 */
export interface RecordValidator {
  /** Throw `ProtocolError('kad', 'kad/invalid-record')` unless `value` is a valid record for `key`. */
  validate(key: Uint8Array, value: Uint8Array, ctx: ValidationContext): void
  /** The index of the best of `values` (all valid records for `key`). */
  select(key: Uint8Array, values: readonly Uint8Array[], ctx: ValidationContext): number
}

/** The `/pk/` record validator: the value is a public key whose peer id is the key's multihash. */
export const pkValidator: RecordValidator = {
  validate(key, value) {
    const ns = splitNamespace(key)
    if (ns === undefined || ns.namespace !== 'pk') throw invalidRecord('not a /pk key')
    let mh: Uint8Array
    try {
      mh = publicKeyFromProtobuf(value).toPeerId().multihash
    } catch (e) {
      throw invalidRecord(`/pk value is not a public key: ${e instanceof Error ? e.message : String(e)}`)
    }
    if (!equals(mh, ns.rest)) throw invalidRecord('/pk value does not hash to the key')
  },
  select() {
    return 0
  },
}

/** The validators a DHT node uses unless told otherwise: `/pk/` and `/ipns/`. */
export const DEFAULT_VALIDATORS: Readonly<Record<string, RecordValidator>> = { pk: pkValidator, ipns: ipnsValidator }

/** The validator registry of one DHT node. */
export class Validators {
  readonly #byNamespace: Map<string, RecordValidator>

  constructor(custom: Readonly<Record<string, RecordValidator>> = {}) {
    this.#byNamespace = new Map(Object.entries({ ...DEFAULT_VALIDATORS, ...custom }))
  }

  #for(key: Uint8Array): RecordValidator {
    const ns = splitNamespace(key)
    if (ns === undefined) throw invalidRecord('record key has no /namespace/')
    const v = this.#byNamespace.get(ns.namespace)
    if (v === undefined) throw invalidRecord(`no validator for namespace /${ns.namespace}`)
    return v
  }

  /** Throws ProtocolError 'kad/invalid-record' (any other error from a custom validator is wrapped). */
  validate(key: Uint8Array, value: Uint8Array, ctx: ValidationContext): void {
    const v = this.#for(key)
    try {
      v.validate(key, value, ctx)
    } catch (e) {
      if (e instanceof ProtocolError) throw e
      throw invalidRecord(e instanceof Error ? e.message : String(e))
    }
  }

  /** True when `key`'s namespace has a validator. */
  knows(key: Uint8Array): boolean {
    const ns = splitNamespace(key)
    return ns !== undefined && this.#byNamespace.has(ns.namespace)
  }

  /** The index of the best of `values`, by the validator of `key`'s namespace. */
  select(key: Uint8Array, values: readonly Uint8Array[], ctx: ValidationContext): number {
    if (values.length <= 1) return 0
    const i = this.#for(key).select(key, values, ctx)
    return Number.isInteger(i) && i >= 0 && i < values.length ? i : 0
  }
}
