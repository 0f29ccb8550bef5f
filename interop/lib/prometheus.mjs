// A small reader of the Prometheus text exposition format 0.0.4 for the interop cases (the strict
// parser weft's unit tests use is test/helpers/prometheus.ts, TypeScript). It reads what
// client_golang's promhttp and weft write: `# HELP` / `# TYPE` comments, samples with quoted label
// values (\\, \", \n escapes), an optional timestamp. It throws on a line it cannot read.

/**
 * @typedef {{ name: string, labels: Record<string, string>, value: number }} Sample
 * @typedef {{ name: string, type: string, samples: Sample[] }} Family
 */

/** @param {string} s */
function number(s) {
  if (s === '+Inf' || s === 'Inf') return Infinity
  if (s === '-Inf') return -Infinity
  if (s === 'NaN') return NaN
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new Error(`not a number: ${JSON.stringify(s)}`)
  return Number(s)
}

/** @param {string} line @param {number} i the index of '{' @returns {[Record<string, string>, number]} */
function labels(line, i) {
  /** @type {Record<string, string>} */ const out = {}
  i++
  while (line[i] !== '}') {
    const eq = line.indexOf('=', i)
    if (eq < 0 || line[eq + 1] !== '"') throw new Error(`bad labels: ${line}`)
    const key = line.slice(i, eq)
    let j = eq + 2
    let v = ''
    for (;;) {
      const c = line[j]
      if (c === undefined) throw new Error(`unterminated label value: ${line}`)
      if (c === '"') break
      if (c === '\\') { const n = line[j + 1]; v += n === 'n' ? '\n' : n; j += 2; continue }
      v += c
      j++
    }
    out[key] = v
    i = j + 1
    if (line[i] === ',') i++
  }
  return [out, i + 1]
}

/** The families of an exposition, by name. @param {string} text @returns {Map<string, Family>} */
export function parseExposition(text) {
  /** @type {Map<string, Family>} */ const fams = new Map()
  /** @type {Family | undefined} */ let cur
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('#')) {
      const m = /^# TYPE (\S+) (\S+)$/.exec(line)
      if (m !== null) { cur = { name: m[1], type: m[2], samples: [] }; fams.set(cur.name, cur) }
      continue
    }
    const end = line.search(/[{ ]/)
    if (end <= 0) throw new Error(`bad sample: ${line}`)
    const name = line.slice(0, end)
    const [ls, after] = line[end] === '{' ? labels(line, end) : [{}, end]
    const value = number(line.slice(after + 1).split(' ')[0])
    const family = cur !== undefined && (name === cur.name || (/_(bucket|sum|count)$/.test(name) && name.replace(/_(bucket|sum|count)$/, '') === cur.name)) ? cur : undefined
    if (family === undefined) throw new Error(`sample outside its family: ${line}`)
    family.samples.push({ name, labels: ls, value })
  }
  return fams
}

/** The label names a family's series use (histograms: without `le`), sorted. @param {Family} f */
export function labelKeys(f) {
  const keys = new Set()
  for (const s of f.samples) for (const k of Object.keys(s.labels)) if (k !== 'le') keys.add(k)
  return [...keys].sort()
}

/** A histogram's bucket bounds as written (`le` values of its first series). @param {Family} f */
export function bucketBounds(f) {
  const first = f.samples.find((s) => s.name.endsWith('_bucket'))
  if (first === undefined) return []
  const { le: _, ...rest } = first.labels
  const same = (/** @type {Record<string, string>} */ l) => Object.keys(rest).every((k) => l[k] === rest[k]) && Object.keys(l).length === Object.keys(rest).length + 1
  return f.samples.filter((s) => s.name.endsWith('_bucket') && same(s.labels)).map((s) => s.labels.le)
}

/**
 * The sum of the values of `sample` (a family name, or a histogram's `<name>_count` / `_sum`)
 * over the series whose labels include `match`. @param {Map<string, Family>} fams
 * @param {string} sample @param {Record<string, string>} [match]
 */
export function valueOf(fams, sample, match = {}) {
  const fam = fams.get(sample) ?? fams.get(sample.replace(/_(bucket|sum|count)$/, ''))
  if (fam === undefined) return undefined
  let sum = 0
  for (const s of fam.samples) {
    if (s.name !== sample) continue
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value
  }
  return sum
}
