/**
 * The one way tests load spec/vectors/*.json. The schema, the provenance values and their rules are
 * documented in spec/README.md ("Vectors"); this file enforces them.
 *
 * File schema: { "protocol": string, "description": string, "vectors": Vector[] } where each vector is
 * { id, provenance, source, hex?, decoded? | error? | steps?, note? }.
 *   provenance: 'spec' | 'external' | 'interop' | 'derived' | 'hand-written' | 'regression'
 *   source: where it came from (a spec URL + commit, a tool, "weft: <why>").
 *   checkedBy: only with provenance 'interop': the implementations that confirmed it through
 *     interop/vectors.mjs, e.g. ["go-libp2p v0.48.0"] (absent on vectors captured from a live peer).
 *   decoded: the expected decoding (shape defined by the protocol's test);
 *   error: the expected ProtocolError / UsageError code;
 *   steps: for stateful vectors, a list of inputs and expected outputs.
 *
 * Usage in a test file:
 *   const vectors = vectorFile('varint')
 *   for (const v of vectors.all()) test(v.id, () => { ... })
 *   // afterAll is registered automatically: the file fails if any vector was never used.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, expect } from 'vitest'

export type Provenance = 'spec' | 'external' | 'interop' | 'derived' | 'hand-written' | 'regression'

export interface Vector {
  id: string
  provenance: Provenance
  source: string
  hex?: string
  decoded?: any
  error?: string
  steps?: any[]
  note?: string
  checkedBy?: string[]
  [extra: string]: unknown
}

export interface VectorFile {
  protocol: string
  description: string
  vectors: Vector[]
}

const PROVENANCES = new Set<Provenance>(['spec', 'external', 'interop', 'derived', 'hand-written', 'regression'])

export const VECTOR_DIR = fileURLToPath(new URL('../../spec/vectors/', import.meta.url))

export function readVectorFile(name: string): VectorFile {
  return checkVectorFile(name, JSON.parse(readFileSync(`${VECTOR_DIR}${name}.json`, 'utf8')) as VectorFile)
}

/** Checks a parsed vector file against the schema (spec/README.md, "Vectors"); throws on the first fault. */
export function checkVectorFile(name: string, file: VectorFile): VectorFile {
  const ids = new Set<string>()
  for (const v of file.vectors) {
    if (typeof v.id !== 'string' || ids.has(v.id)) throw new Error(`${name}.json: missing or duplicate id ${v.id}`)
    ids.add(v.id)
    if (!PROVENANCES.has(v.provenance)) throw new Error(`${name}.json ${v.id}: bad provenance ${v.provenance}`)
    if (typeof v.source !== 'string' || v.source.length === 0) throw new Error(`${name}.json ${v.id}: missing source`)
    if ('checkedBy' in v) {
      if (v.provenance !== 'interop') throw new Error(`${name}.json ${v.id}: checkedBy is only for provenance interop`)
      if (!Array.isArray(v.checkedBy) || v.checkedBy.length === 0 || !v.checkedBy.every((c) => typeof c === 'string' && c.length > 0)) {
        throw new Error(`${name}.json ${v.id}: checkedBy must list the implementations that confirmed it`)
      }
    }
    const outcomes = ['decoded', 'error', 'steps'].filter((k) => k in v)
    if (outcomes.length !== 1) throw new Error(`${name}.json ${v.id}: needs exactly one of decoded | error | steps`)
  }
  return file
}

export interface Vectors {
  /** Every vector (marks them all used). */
  all(): Vector[]
  /** Vectors matching a predicate (marks those used). */
  where(pred: (v: Vector) => boolean): Vector[]
  /** One vector by id (marks it used). */
  get(id: string): Vector
}

export function vectorFile(name: string): Vectors {
  const file = readVectorFile(name)
  const used = new Set<string>()
  afterAll(() => {
    const unused = file.vectors.filter((v) => !used.has(v.id)).map((v) => v.id)
    expect(unused, `vectors in spec/vectors/${name}.json never used by a test`).toEqual([])
  })
  const mark = (vs: Vector[]): Vector[] => {
    for (const v of vs) used.add(v.id)
    return vs
  }
  return {
    all: () => mark(file.vectors),
    where: (pred) => mark(file.vectors.filter(pred)),
    get: (id) => {
      const v = file.vectors.find((x) => x.id === id)
      if (v === undefined) throw new Error(`no vector ${id} in ${name}.json`)
      return mark([v])[0]!
    },
  }
}
