/**
 * A small metrics registry: counters, gauges and fixed-bucket histograms, grouped in families with
 * label names fixed at registration. Pure (no clock, no IO): values go in through `inc` / `set` /
 * `observe`, or are read at scrape time by collect hooks (`onCollect`), and come out through
 * `exposition()` (src/metrics/exposition.ts) in the Prometheus text format 0.0.4.
 *
 * Cardinality is bounded twice (spec/metrics.md, "Cardinality"):
 * - a label may declare its closed set of values; any other value is recorded as `other`;
 * - a family holds at most `maxSeries` label combinations (default 256); an observation that would
 *   create one more is dropped and counted in `weft_metrics_dropped_total{family}`.
 * No collector in weft puts a peer id or an address in a label value.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram'

/** Label values by label name. A missing label is the empty string (as Prometheus treats it). */
export type Labels = Readonly<Record<string, string>>

/** A metric family's name, help text and label names (Prometheus data model). */
export interface FamilyOptions {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*` */
  name: string
  /** The `# HELP` text of the family. */
  help: string
  /** Label names, in exposition order: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`, never `le`. */
  labels?: readonly string[]
  /** Closed value sets: a value outside its label's set is recorded as `other`. */
  values?: Readonly<Record<string, readonly string[]>>
  /**
   * Label combinations kept, default DEFAULT_MAX_SERIES (256). Stops: a label value fed from remote
   * input (a protocol id) growing the registry, and every scrape, without bound.
   */
  maxSeries?: number
}

/** A histogram family's options: its bucket upper bounds. */
export interface HistogramOptions extends FamilyOptions {
  /** Upper bounds, strictly increasing and finite; `+Inf` is implicit. */
  buckets: readonly number[]
}

/** Label combinations per family unless the family says otherwise. */
export const DEFAULT_MAX_SERIES = 256

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** One label combination of a family. Histograms keep per-bucket (not cumulative) counts. */
export interface Series {
  readonly labels: readonly string[]
  value: number
  buckets?: number[]
  sum?: number
  count?: number
}

/** A metric family: one name, help and type, and its series (one per label set), at most `maxSeries` of them. */
export abstract class Family {
  readonly name: string
  readonly help: string
  readonly labelNames: readonly string[]
  abstract readonly type: MetricType
  readonly #values: ReadonlyMap<string, ReadonlySet<string>>
  readonly #maxSeries: number
  readonly #series = new Map<string, Series>()
  readonly #registry: Registry

  constructor(registry: Registry, o: FamilyOptions) {
    if (!NAME.test(o.name)) throw new RangeError(`metric name ${JSON.stringify(o.name)} is not valid`)
    const labels = o.labels ?? []
    for (const l of labels) {
      if (!LABEL.test(l) || l.startsWith('__') || l === 'le') throw new RangeError(`label name ${JSON.stringify(l)} of ${o.name} is not valid`)
    }
    if (new Set(labels).size !== labels.length) throw new RangeError(`${o.name}: duplicate label name`)
    const max = o.maxSeries ?? DEFAULT_MAX_SERIES
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`${o.name}: maxSeries must be a positive integer`)
    this.name = o.name
    this.help = o.help
    this.labelNames = labels
    this.#maxSeries = max
    this.#values = new Map(Object.entries(o.values ?? {}).map(([k, v]) => [k, new Set(v)]))
    for (const k of this.#values.keys()) if (!labels.includes(k)) throw new RangeError(`${o.name}: values for unknown label ${k}`)
    this.#registry = registry
  }

  /** The series for `labels`, created on first use; undefined when the family is full (counted). */
  protected series(labels: Labels): Series | undefined {
    const values = this.labelNames.map((n) => {
      const v = labels[n] ?? ''
      const allowed = this.#values.get(n)
      return allowed === undefined || allowed.has(v) ? v : 'other'
    })
    const key = values.join('\u0000')
    let s = this.#series.get(key)
    if (s === undefined) {
      if (this.#series.size >= this.#maxSeries) {
        this.#registry.dropped(this.name)
        return undefined
      }
      s = this.newSeries(values)
      this.#series.set(key, s)
    }
    return s
  }

  protected newSeries(labels: readonly string[]): Series {
    return { labels, value: 0 }
  }

  /** Create the series for `labels` at zero if it is missing (go's `Vec.With`: exported before its first observation). */
  touch(labels: Labels = {}): void {
    this.series(labels)
  }

  /** Forget every series (a collect hook rebuilding gauges from a snapshot). */
  clear(): void {
    this.#series.clear()
  }

  /** Series in creation order. */
  all(): IterableIterator<Series> {
    return this.#series.values()
  }

  /** Series in this family (at most its series cap). */
  get size(): number {
    return this.#series.size
  }
}

/** A Prometheus counter: a value per label set that only goes up. */
export class Counter extends Family {
  readonly type = 'counter' as const

  /** Add `by` (finite, >= 0; default 1). */
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) throw new RangeError(`${this.name}: a counter only goes up (got ${by})`)
    const s = this.series(labels)
    if (s !== undefined) s.value += by
  }

  /** The current value (0 when the series does not exist). */
  get(labels: Labels = {}): number {
    return findSeries(this, labels)?.value ?? 0
  }
}

/** A Prometheus gauge: a value per label set that goes up and down. */
export class Gauge extends Family {
  readonly type = 'gauge' as const

  /** Set the series of `labels` to `value`. */
  set(labels: Labels, value: number): void {
    const s = this.series(labels)
    if (s !== undefined) s.value = value
  }

  /** Add `by` (default 1; negative to decrease) to the series of `labels`. */
  inc(labels: Labels = {}, by = 1): void {
    const s = this.series(labels)
    if (s !== undefined) s.value += by
  }

  /** The current value of the series of `labels` (0 when absent). */
  get(labels: Labels = {}): number {
    return findSeries(this, labels)?.value ?? 0
  }
}

/** A Prometheus histogram: cumulative bucket counts, sum and count per label set. */
export class Histogram extends Family {
  readonly type = 'histogram' as const
  readonly buckets: readonly number[]

  constructor(registry: Registry, o: HistogramOptions) {
    super(registry, o)
    if (o.buckets.length === 0) throw new RangeError(`${o.name}: no buckets`)
    for (let i = 0; i < o.buckets.length; i++) {
      const b = o.buckets[i]!
      if (!Number.isFinite(b) || (i > 0 && b <= o.buckets[i - 1]!)) throw new RangeError(`${o.name}: buckets must be finite and strictly increasing`)
    }
    this.buckets = [...o.buckets]
  }

  protected override newSeries(labels: readonly string[]): Series {
    return { labels, value: 0, buckets: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 }
  }

  /** Record `value` (NaN is ignored) in the series of `labels`. */
  observe(labels: Labels, value: number): void {
    if (Number.isNaN(value)) return
    const s = this.series(labels)
    if (s === undefined) return
    // The first bucket whose upper bound is >= value ('le': less or equal); none = only +Inf.
    let i = 0
    while (i < this.buckets.length && value > this.buckets[i]!) i++
    if (i < this.buckets.length) s.buckets![i]!++
    s.sum! += value
    s.count!++
  }

  /** Observations recorded for `labels`. */
  count(labels: Labels = {}): number {
    return findSeries(this, labels)?.count ?? 0
  }
}

function findSeries(f: Family, labels: Labels): Series | undefined {
  const want = f.labelNames.map((n) => labels[n] ?? '')
  for (const s of f.all()) if (s.labels.every((v, i) => v === want[i])) return s
  return undefined
}

/**
 * A registry of metric families, rendered in the Prometheus text format by `exposition()`. Names must
 * match `[a-zA-Z_:][a-zA-Z0-9_:]*` and be unique (`RangeError` otherwise).
 */
export class Registry {
  readonly #families = new Map<string, Family>()
  readonly #hooks: Array<() => void> = []
  #dropped: Counter | undefined

  /** Register a counter family. */
  counter(o: FamilyOptions): Counter {
    return this.#add(new Counter(this, o))
  }

  /** Register a gauge family. */
  gauge(o: FamilyOptions): Gauge {
    return this.#add(new Gauge(this, o))
  }

  /** Register a histogram family. */
  histogram(o: HistogramOptions): Histogram {
    return this.#add(new Histogram(this, o))
  }

  /** Run `hook` before every exposition (scrape-time gauges read from a snapshot). */
  onCollect(hook: () => void): void {
    this.#hooks.push(hook)
  }

  /** Run the collect hooks; then `families()` is current. */
  collect(): void {
    for (const h of this.#hooks) h()
  }

  /** The families in registration order. */
  families(): IterableIterator<Family> {
    return this.#families.values()
  }

  /** The family named `name`, or undefined. */
  get(name: string): Family | undefined {
    return this.#families.get(name)
  }

  /** @internal a family refused a new series */
  dropped(family: string): void {
    this.#dropped ??= this.counter({ name: 'weft_metrics_dropped_total', help: 'Observations dropped because their family reached its label-combination cap', labels: ['family'] })
    this.#dropped.inc({ family })
  }

  #add<F extends Family>(f: F): F {
    // Names a family's series may take, so two families cannot write the same sample name.
    if (this.#families.has(f.name)) throw new RangeError(`metric ${f.name} is already registered`)
    this.#families.set(f.name, f)
    return f
  }
}

/** `count` bounds: start, start*factor, ... computed as Prometheus client_golang's ExponentialBuckets does. */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const out: number[] = []
  let b = start
  for (let i = 0; i < count; i++) {
    out.push(b)
    b *= factor
  }
  return out
}

/** `count` bounds: start, start+width, ... (client_golang's LinearBuckets). */
export function linearBuckets(start: number, width: number, count: number): number[] {
  const out: number[] = []
  let b = start
  for (let i = 0; i < count; i++) {
    out.push(b)
    b += width
  }
  return out
}
