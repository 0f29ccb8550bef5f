/**
 * Protobuf helpers on top of the wire-format Reader/Writer in protobuf-wire.ts (no schema at run time).
 *
 * Each message in weft has a small hand-written `encode`/`decode` pair built from these helpers;
 * the `.proto` text lives in spec/proto/ for reference. Decoding remote bytes:
 * - enforces a size limit before reading anything (a remote cannot make us parse megabytes);
 * - rejects a field whose wire type differs from the schema (`protobuf/wrong-wire-type`);
 * - turns every decoding failure into a ProtocolError (`protobuf/malformed`), never another error;
 * - copies `bytes` fields, so a decoded message never aliases the input buffer.
 * Unknown fields are skipped, as the protobuf spec requires. Groups (wire types 3, 4) are rejected.
 */
import { PbReader, PbWriter } from './protobuf-wire.js'
import { ProtocolError } from './errors.js'
import { fromUtf8 } from './bytes.js'

export type ProtobufErrorCode = 'protobuf/too-large' | 'protobuf/malformed' | 'protobuf/wrong-wire-type' | 'protobuf/missing-field' | 'protobuf/value-out-of-range'

export const WIRE_VARINT = 0
export const WIRE_FIXED64 = 1
export const WIRE_LEN = 2
export const WIRE_FIXED32 = 5

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** Typed access to one message's fields, each read checked against the expected wire type. */
export class FieldReader {
  readonly #r: PbReader
  readonly #protocol: string
  #wireType = 0
  #field = 0

  constructor(r: PbReader, protocol: string) {
    this.#r = r
    this.#protocol = protocol
  }

  /** @internal set by decodeMessage before each callback */
  _at(field: number, wireType: number): void {
    this.#field = field
    this.#wireType = wireType
  }

  #expect(wt: number): void {
    if (this.#wireType !== wt) {
      throw new ProtocolError<ProtobufErrorCode>(this.#protocol, 'protobuf/wrong-wire-type', `field ${this.#field}: wire type ${this.#wireType}, expected ${wt}`)
    }
  }

  uint32(): number {
    this.#expect(WIRE_VARINT)
    return this.#r.uint32()
  }

  /** A uint64 that must fit in a JavaScript safe integer. */
  uint64(): number {
    this.#expect(WIRE_VARINT)
    const v = this.#r.uint64()
    if (v > MAX_SAFE) throw new ProtocolError<ProtobufErrorCode>(this.#protocol, 'protobuf/value-out-of-range', `field ${this.#field}`)
    return Number(v)
  }

  /** A uint64 as bigint (full 64-bit range). */
  uint64Big(): bigint {
    this.#expect(WIRE_VARINT)
    return this.#r.uint64()
  }

  /** A fixed64 (wire type 1) as bigint. */
  fixed64(): bigint {
    this.#expect(WIRE_FIXED64)
    return this.#r.fixed64()
  }

  int32(): number {
    this.#expect(WIRE_VARINT)
    return this.#r.int32()
  }

  bool(): boolean {
    this.#expect(WIRE_VARINT)
    return this.#r.bool()
  }

  /** An enum value (varint). */
  enum(): number {
    this.#expect(WIRE_VARINT)
    return this.#r.int32()
  }

  /** A bytes field, copied. */
  bytes(): Uint8Array {
    this.#expect(WIRE_LEN)
    const view = this.#r.bytes()
    const out = new Uint8Array(view.length)
    out.set(view)
    return out
  }

  /** A string field: strict UTF-8, malformed text is a ProtocolError. */
  string(): string {
    this.#expect(WIRE_LEN)
    const view = this.#r.bytes()
    try {
      return fromUtf8(view)
    } catch {
      throw new ProtocolError<ProtobufErrorCode>(this.#protocol, 'protobuf/malformed', `field ${this.#field}: invalid UTF-8`)
    }
  }

  /** Skip the current field (an unknown field). */
  skip(): void {
    this.#r.skipType(this.#wireType)
  }
}

/**
 * Decode one message: `onField` is called once per field in wire order and must consume it (read
 * it with the matching typed method, or call `skip()`).
 */
export function decodeMessage(
  buf: Uint8Array,
  protocol: string,
  maxSize: number,
  onField: (field: number, r: FieldReader) => void,
): void {
  if (buf.length > maxSize) throw new ProtocolError<ProtobufErrorCode>(protocol, 'protobuf/too-large', `${buf.length} > ${maxSize}`)
  const reader = new PbReader(buf)
  const fr = new FieldReader(reader, protocol)
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32()
      const field = tag >>> 3
      const wireType = tag & 7
      if (field === 0) throw new ProtocolError<ProtobufErrorCode>(protocol, 'protobuf/malformed', 'field number 0')
      if (wireType !== WIRE_VARINT && wireType !== WIRE_FIXED64 && wireType !== WIRE_LEN && wireType !== WIRE_FIXED32) {
        throw new ProtocolError<ProtobufErrorCode>(protocol, 'protobuf/malformed', `unsupported wire type ${wireType}`)
      }
      fr._at(field, wireType)
      onField(field, fr)
    }
  } catch (e) {
    if (e instanceof ProtocolError) throw e
    throw new ProtocolError<ProtobufErrorCode>(protocol, 'protobuf/malformed', e instanceof Error ? e.message : String(e), { cause: e })
  }
}

/** Throw `protobuf/missing-field` when a required field was absent. */
export function required<T>(value: T | undefined, protocol: string, name: string): T {
  if (value === undefined) throw new ProtocolError<ProtobufErrorCode>(protocol, 'protobuf/missing-field', name)
  return value
}

/** A fresh Writer producing plain Uint8Arrays (never Node Buffers). */
export function newWriter(): PbWriter {
  return new PbWriter()
}

/** Build one message with the writer and return its bytes. */
export function encodeMessage(build: (w: PbWriter) => void): Uint8Array {
  const w = new PbWriter()
  build(w)
  return w.finish()
}

/** Tag for a field: (field << 3) | wireType. */
export function tag(field: number, wireType: number): number {
  return ((field << 3) | wireType) >>> 0
}

export type Writer = PbWriter
export { PbReader, PbWriter }
