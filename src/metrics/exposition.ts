/**
 * The Prometheus text exposition format, version 0.0.4 (content type `text/plain; version=0.0.4`):
 *
 *   # HELP <name> <help, with \ and newline escaped>
 *   # TYPE <name> counter|gauge|histogram
 *   <name>{<label>="<value, with \ " and newline escaped>",...} <value>
 *
 * Histograms write `<name>_bucket{...,le="<bound>"}` (cumulative, ending with le="+Inf"), then
 * `<name>_sum` and `<name>_count`. Numbers are written as Go's strconv.FormatFloat(v, 'g', -1, 64)
 * writes them (client_golang does), so bucket bounds read exactly as go-libp2p's: `le="1.048576e+06"`.
 * A family with no series writes its HELP and TYPE lines only.
 */
import type { Family, Registry, Series } from './registry.js'

/** The HTTP `Content-Type` of the Prometheus text exposition format 0.0.4. */
export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** The whole registry (collect hooks run first), families in registration order. */
export function exposition(registry: Registry): string {
  registry.collect()
  const out: string[] = []
  for (const f of registry.families()) writeFamily(out, f)
  return out.join('')
}

function writeFamily(out: string[], f: Family): void {
  out.push(`# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`)
  for (const s of f.all()) {
    if (f.type !== 'histogram') {
      out.push(`${f.name}${labelText(f.labelNames, s.labels)} ${formatFloat(s.value)}\n`)
      continue
    }
    writeHistogram(out, f, s)
  }
}

function writeHistogram(out: string[], f: Family, s: Series): void {
  const bounds = (f as Family & { buckets: readonly number[] }).buckets
  let cumulative = 0
  for (let i = 0; i < bounds.length; i++) {
    cumulative += s.buckets![i]!
    out.push(`${f.name}_bucket${labelText(f.labelNames, s.labels, formatFloat(bounds[i]!))} ${formatFloat(cumulative)}\n`)
  }
  out.push(`${f.name}_bucket${labelText(f.labelNames, s.labels, '+Inf')} ${formatFloat(s.count!)}\n`)
  out.push(`${f.name}_sum${labelText(f.labelNames, s.labels)} ${formatFloat(s.sum!)}\n`)
  out.push(`${f.name}_count${labelText(f.labelNames, s.labels)} ${formatFloat(s.count!)}\n`)
}

function labelText(names: readonly string[], values: readonly string[], le?: string): string {
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i]!)}"`)
  if (le !== undefined) parts.push(`le="${le}"`)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

/** HELP text: backslash and line feed escaped. */
export function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

/** Label values: backslash, double quote and line feed escaped. */
export function escapeLabelValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/**
 * A sample value or bucket bound as Go's FormatFloat(v, 'g', -1, 64): the shortest digits that
 * read back exactly, in exponent form when the decimal exponent is < -4 or >= 6, with at least two
 * exponent digits (`1e-05`, `1.048576e+06`); else plain (`0.0625`, `524288`); `+Inf`, `-Inf`, `NaN`.
 */
export function formatFloat(v: number): string {
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  if (Number.isNaN(v)) return 'NaN'
  if (v === 0) return Object.is(v, -0) ? '-0' : '0'
  const [mantissa, expText] = v.toExponential().split('e') as [string, string]
  const exp = Number(expText)
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`
  return String(v)
}
