// Helpers every table of the report layer shares: the one order of axis values and keys (rows and
// columns are sorted with it, so the same records always give the same bytes), value keys and
// cell text, and the small statistics.
import type { AxisValue } from '../sweep/types.js';
import type { Cell } from './csv.js';

/** JSON text with object keys sorted (undefined fields left out): equal values give equal text. */
export function stableJson(x: unknown): string {
  if (x === null || x === undefined) return 'null';
  if (Array.isArray(x)) return `[${x.map(stableJson).join(',')}]`;
  if (typeof x === 'object') {
    const o = x as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(x);
}

/** A config/cell value as one CSV cell: scalars as they are, objects as stable JSON text. */
export function scalar(x: unknown): Cell {
  if (x === undefined || x === null) return null;
  if (typeof x === 'number' || typeof x === 'string' || typeof x === 'boolean') return x;
  return stableJson(x);
}

function rank(v: AxisValue | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'boolean') return 1;
  if (typeof v === 'number') return 2;
  return 3;
}
/** Total order on axis values: missing/null < booleans < numbers (by value) < text (by code points). */
export function compareValues(a: AxisValue | undefined, b: AxisValue | undefined): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 0) return 0;
  if (ra === 1 || ra === 2) return Number(a) - Number(b);
  return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
}

export function uniqSorted(values: AxisValue[]): AxisValue[] {
  const seen = new Map<string, AxisValue>();
  for (const v of values) seen.set(stableJson(v), v);
  return [...seen.values()].sort(compareValues);
}

/** An axis value as text (empty for missing). */
export function fmt(v: AxisValue | undefined): string {
  return v === null || v === undefined ? '' : String(v);
}

/** One value as itself, several as `{a, b}` (the unit after either). */
export function listText(xs: Array<number | string>, unit = ''): string {
  return xs.length === 1 ? `${xs[0]}${unit}` : `{${xs.join(', ')}}${unit}`;
}

const FIRST_KEYS = ['method', 'n', 'd', 'rho', 'm'];

/** Axis names in table order: method, n, d, rho, m first, then the others sorted. */
export function orderKeys(keys: Iterable<string>): string[] {
  const set = new Set(keys);
  return [...FIRST_KEYS.filter((k) => set.has(k)), ...[...set].filter((k) => !FIRST_KEYS.includes(k)).sort()];
}

/** Cells compared axis by axis, in the order of `keys`. */
export function compareCells(keys: string[], a: Record<string, AxisValue>, b: Record<string, AxisValue>): number {
  for (const k of keys) {
    const c = compareValues(a[k], b[k]);
    if (c !== 0) return c;
  }
  return 0;
}

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

export function finite(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** A record field as a number (NaN when it is not one). */
export function num(x: unknown): number {
  return typeof x === 'number' ? x : NaN;
}

/** The index of `key` in `list`, adding make() to it the first time (`map` remembers the keys). */
export function intern<T>(map: Map<string, number>, list: T[], key: string, make: () => T): number {
  let i = map.get(key);
  if (i === undefined) { i = list.length; list.push(make()); map.set(key, i); }
  return i;
}

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
