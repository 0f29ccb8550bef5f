/**
 * A strict parser of the Prometheus text exposition format 0.0.4, written from the format's
 * specification (prometheus/docs "Exposition formats"), for tests: it throws on anything a
 * scraper could misread, and on what weft promises beyond the format (every family has HELP and
 * TYPE before its samples, one TYPE per family, no duplicate series, histograms complete).
 */

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface ParsedFamily {
  name: string
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'
  help: string
  samples: Sample[]
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

export function parseFloatStrict(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity
  if (text === '-Inf') return -Infinity
  if (text === 'NaN') return NaN
  // Go's ParseFloat syntax (no hex here): optional sign, digits with an optional point, optional exponent.
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`not a float: ${JSON.stringify(text)}`)
  return Number(text)
}

function unescapeHelp(s: string): string {
  return s.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'))
}

/** `{a="x",b="y"}` starting at `i` (the brace); returns the labels and the index after the closing brace. */
function parseLabels(line: string, i: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {}
  if (line[i] !== '{') return [labels, i]
  i++
  while (line[i] !== '}') {
    const eq = line.indexOf('=', i)
    if (eq < 0) throw new Error(`label without '=': ${line}`)
    const name = line.slice(i, eq)
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name ${JSON.stringify(name)}: ${line}`)
    if (name in labels) throw new Error(`duplicate label ${name}: ${line}`)
    if (line[eq + 1] !== '"') throw new Error(`label value not quoted: ${line}`)
    let j = eq + 2
    let value = ''
    for (;;) {
      const c = line[j]
      if (c === undefined) throw new Error(`unterminated label value: ${line}`)
      if (c === '"') break
      if (c === '\\') {
        const n = line[j + 1]
        if (n === '\\') value += '\\'
        else if (n === '"') value += '"'
        else if (n === 'n') value += '\n'
        else throw new Error(`bad escape \\${n} in label value: ${line}`)
        j += 2
        continue
      }
      if (c === '\n') throw new Error('raw newline in a label value')
      value += c
      j++
    }
    labels[name] = value
    i = j + 1
    if (line[i] === ',') i++
    else if (line[i] !== '}') throw new Error(`expected ',' or '}' at ${i}: ${line}`)
  }
  return [labels, i + 1]
}

function seriesKey(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`
}

/** Parse `text`; throws with the offending line on any violation. */
export function parsePrometheus(text: string): Map<string, ParsedFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition must end with a line feed')
  const families = new Map<string, ParsedFamily>()
  const seen = new Set<string>()
  let current: ParsedFamily | undefined
  let pendingHelp: { name: string; help: string } | undefined
  for (const line of text.split('\n').slice(0, -1)) {
    if (line === '') throw new Error('empty line')
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([^ ]+) (.*)$/.exec(line)
      if (m === null) throw new Error(`comment lines are HELP or TYPE only here: ${line}`)
      const [, kind, name, rest] = m as unknown as [string, string, string, string]
      if (!NAME.test(name)) throw new Error(`bad metric name: ${line}`)
      if (families.has(name)) throw new Error(`${kind} for a family already complete: ${line}`)
      if (kind === 'HELP') {
        if (pendingHelp !== undefined) throw new Error(`two HELP lines in a row: ${line}`)
        pendingHelp = { name, help: unescapeHelp(rest) }
      } else {
        if (pendingHelp?.name !== name) throw new Error(`TYPE without its HELP line just before: ${line}`)
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type: ${line}`)
        current = { name, type: rest as ParsedFamily['type'], help: pendingHelp.help, samples: [] }
        families.set(name, current)
        pendingHelp = undefined
      }
      continue
    }
    if (current === undefined || pendingHelp !== undefined) throw new Error(`sample outside a family: ${line}`)
    const nameEnd = line.search(/[{ ]/)
    if (nameEnd <= 0) throw new Error(`bad sample line: ${line}`)
    const name = line.slice(0, nameEnd)
    const [labels, after] = parseLabels(line, nameEnd)
    if (line[after] !== ' ') throw new Error(`expected one space before the value: ${line}`)
    const fields = line.slice(after + 1).split(' ')
    if (fields.length > 2 || fields[0] === '') throw new Error(`bad value part: ${line}`)
    const value = parseFloatStrict(fields[0]!)
    if (fields.length === 2 && !/^-?\d+$/.test(fields[1]!)) throw new Error(`bad timestamp: ${line}`)
    const allowed = current.type === 'histogram' ? [`${current.name}_bucket`, `${current.name}_sum`, `${current.name}_count`] : [current.name]
    if (!allowed.includes(name)) throw new Error(`sample ${name} does not belong to family ${current.name} (${current.type})`)
    if (name.endsWith('_bucket') && current.type === 'histogram' && labels['le'] === undefined) throw new Error(`bucket without le: ${line}`)
    const key = seriesKey(name, labels)
    if (seen.has(key)) throw new Error(`duplicate series: ${line}`)
    seen.add(key)
    current.samples.push({ name, labels, value })
  }
  if (pendingHelp !== undefined) throw new Error(`HELP without TYPE: ${pendingHelp.name}`)
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f)
  return families
}

/** Buckets cumulative and ordered by le, ending at +Inf == _count, with a _sum, per label set. */
function checkHistogram(f: ParsedFamily): void {
  const groups = new Map<string, Sample[]>()
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels
    const k = seriesKey('', rest)
    groups.set(k, [...(groups.get(k) ?? []), s])
  }
  for (const [k, samples] of groups) {
    const buckets = samples.filter((s) => s.name.endsWith('_bucket'))
    const count = samples.find((s) => s.name === `${f.name}_count`)
    const sum = samples.find((s) => s.name === `${f.name}_sum`)
    if (count === undefined || sum === undefined || buckets.length === 0) throw new Error(`${f.name}${k}: incomplete histogram`)
    let lastLe = -Infinity
    let lastCount = 0
    for (const b of buckets) {
      const le = parseFloatStrict(b.labels['le']!)
      if (!(le > lastLe)) throw new Error(`${f.name}${k}: le not increasing at ${b.labels['le']}`)
      if (b.value < lastCount) throw new Error(`${f.name}${k}: buckets not cumulative at le=${b.labels['le']}`)
      lastLe = le
      lastCount = b.value
    }
    if (lastLe !== Infinity) throw new Error(`${f.name}${k}: no +Inf bucket`)
    if (lastCount !== count.value) throw new Error(`${f.name}${k}: +Inf bucket ${lastCount} != _count ${count.value}`)
  }
}

/** The sum of a family's samples named `name` whose labels include `match`. */
export function sumOf(families: Map<string, ParsedFamily>, family: string, match: Record<string, string> = {}, name = family): number {
  const f = families.get(family)
  if (f === undefined) throw new Error(`no family ${family}`)
  return f.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0)
}
