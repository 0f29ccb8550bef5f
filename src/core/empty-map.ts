/**
 * One empty Map shared by the per-connection tables an idle connection leaves empty (its streams:
 * identify came and went). An own empty Map costs ~200 B of hash table, one that held a few entries
 * ~570 B, so 10,000 idle connections held ~17 MB of empty tables (bench/README.md "Scale").
 *
 * Reading the shared map is reading any empty Map. Writing to it throws: an owner takes its own Map
 * with `ownMap` before each write, and may put the shared one back once its own is empty again.
 */
class SharedEmptyMap extends Map<never, never> {
  override set(): never {
    throw new TypeError('the shared empty map is read-only: take an own one with ownMap()')
  }
}

const EMPTY: Map<never, never> = Object.freeze(new SharedEmptyMap())

/** The shared empty map, typed for its owner. */
export function emptyMap<K, V>(): Map<K, V> {
  return EMPTY as Map<unknown, unknown> as Map<K, V>
}

/** `map` itself, or a fresh Map in place of the shared empty one: what to write to. */
export function ownMap<K, V>(map: Map<K, V>): Map<K, V> {
  return map === (EMPTY as Map<unknown, unknown>) ? new Map() : map
}

/** The shared empty map once `map` is empty (its hash table goes), else `map`. */
export function shrinkMap<K, V>(map: Map<K, V>): Map<K, V> {
  return map.size === 0 ? emptyMap() : map
}

/** The Set counterpart: one shared empty Set, read-only; `ownSet` before a write, `shrinkSet` after a delete. */
class SharedEmptySet extends Set<never> {
  override add(): never {
    throw new TypeError('the shared empty set is read-only: take an own one with ownSet()')
  }
}

const EMPTY_SET: Set<never> = Object.freeze(new SharedEmptySet())

export function emptySet<T>(): Set<T> {
  return EMPTY_SET as Set<unknown> as Set<T>
}

export function ownSet<T>(set: Set<T>): Set<T> {
  return set === (EMPTY_SET as Set<unknown>) ? new Set() : set
}

export function shrinkSet<T>(set: Set<T>): Set<T> {
  return set.size === 0 ? emptySet() : set
}
