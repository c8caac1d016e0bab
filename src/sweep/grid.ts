// Expands a validated spec into configurations with stable ids, and does nothing else.
//
// Order: trial-major (every cell at the first seed, then every cell at the second, ...), so a
// partial sweep already fills the whole phase table ("anytime" table). Within a trial, cells follow
// the spec: the first global axis outermost, zipped groups after the grid axes, per-method axes
// innermost.
import crypto from 'node:crypto';
import { PRESET_FACTORS, resolveConfig } from '../core/config.js';
import { PRESETS } from '../core/types.js';
import { CORE_SEMANTICS_VERSION } from '../core/version.js';
import type { Preset, ResolvedConfig, RunConfig } from '../core/types.js';
import type { AxisValue, GridEntry } from './types.js';
import type { Factor, Json, Spec } from './spec.js';

// Sorted key order of the last wide object seen: resolved configs all share one key order, so
// the sort runs once instead of once per configuration. `frag*` remember, per key, the last
// primitive value and its `"key":value` text: consecutive configs differ in a few fields only.
interface WideKeys { keys: string[]; sorted: string[]; fragValue: unknown[]; fragText: string[] }
let lastWide: WideKeys = { keys: [], sorted: [], fragValue: [], fragText: [] };
function wideKeys(keys: string[]): WideKeys {
  const last = lastWide;
  if (keys.length === last.keys.length) {
    let same = true;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== last.keys[i]) { same = false; break; }
    if (same) return last;
  }
  const sorted = [...keys].sort();
  lastWide = { keys, sorted, fragValue: sorted.map(() => undefined), fragText: sorted.map(() => '') };
  return lastWide;
}

// JSON.stringify of short strings is surprisingly slow next to a Map lookup; configs repeat a
// handful of enum strings millions of times.
const stringCache = new Map<string, string>();
function stringJson(x: string): string {
  let j = stringCache.get(x);
  if (j === undefined) {
    j = JSON.stringify(x);
    if (stringCache.size < 10000 && x.length < 200) stringCache.set(x, j);
  }
  return j;
}

const keyCache = new Map<string, string>();
function keyJson(k: string): string {
  let j = keyCache.get(k);
  if (j === undefined) {
    j = JSON.stringify(k) + ':';
    if (keyCache.size < 10000) keyCache.set(k, j);
  }
  return j;
}

/**
 * Canonical JSON: object keys sorted recursively, undefined members dropped, numbers in JavaScript's
 * shortest round-trip form (so 1e-4, 0.0001 and 1.0e-4 all read 0.0001, and -0 reads 0).
 */
export function canonicalJson(x: unknown, omitTopKey?: string): string {
  if (x === null) return 'null';
  switch (typeof x) {
    case 'number':
      if (!Number.isFinite(x)) throw new Error(`canonicalJson: non-finite number ${x}`);
      return x === 0 ? '0' : String(x);
    case 'string': return stringJson(x);
    case 'boolean': return x ? 'true' : 'false';
    case 'object': {
      if (Array.isArray(x)) {
        let s = '[';
        for (let i = 0; i < x.length; i++) s += (i ? ',' : '') + canonicalJson(x[i] === undefined ? null : x[i]);
        return s + ']';
      }
      const o = x as Record<string, unknown>;
      const own = Object.keys(o);
      let s = '{';
      let first = true;
      if (own.length < 8) {
        own.sort();
        for (let i = 0; i < own.length; i++) {
          const k = own[i]!;
          const v = o[k];
          if (v === undefined || k === omitTopKey) continue;
          s += (first ? '' : ',') + keyJson(k) + canonicalJson(v);
          first = false;
        }
        return s + '}';
      }
      const w = wideKeys(own);
      const { sorted, fragValue, fragText } = w;
      for (let i = 0; i < sorted.length; i++) {
        const k = sorted[i]!;
        const v = o[k];
        if (v === undefined || k === omitTopKey) continue;
        let frag: string;
        if (v !== null && typeof v === 'object') frag = keyJson(k) + canonicalJson(v);
        else if (fragValue[i] === v && fragText[i] !== '') frag = fragText[i]!;
        else { frag = keyJson(k) + canonicalJson(v); fragValue[i] = v; fragText[i] = frag; }
        s += (first ? '' : ',') + frag;
        first = false;
      }
      return s + '}';
    }
    default:
      throw new Error(`canonicalJson: cannot encode a ${typeof x}`);
  }
}

const ID_PREFIX = `narrowsweep-run core=${CORE_SEMANTICS_VERSION}\n`;
/** Hex characters kept in a run id (80 bits: collisions are negligible at 10^6-10^9 runs). */
export const ID_LENGTH = 20;

// crypto.hash (Node >= 20.12) is the one-shot form, faster for short inputs.
const sha256Hex: (text: string) => string = typeof crypto.hash === 'function'
  ? (text) => crypto.hash('sha256', text, 'hex')
  : (text) => crypto.createHash('sha256').update(text).digest('hex');

/**
 * Digest of a cell: sha256 (128 bits kept) of the canonical resolved config WITHOUT its seed. Two
 * cells with the same digest are the same configuration.
 */
export function cellDigest(resolved: ResolvedConfig): string {
  return sha256Hex(canonicalJson(resolved, 'seed')).slice(0, 32);
}

/** Run id from a cell digest and a seed (see configId). */
export function runId(digest: string, seed: number): string {
  return sha256Hex(`${ID_PREFIX}${digest}\nseed=${seed}`).slice(0, ID_LENGTH);
}

/**
 * Stable run id of a configuration, 20 hex characters:
 *   sha256("narrowsweep-run core=<CORE_SEMANTICS_VERSION>\n" + cellDigest + "\nseed=" + seed)
 * where cellDigest is the first 32 hex characters of sha256(canonicalJson(resolved config minus the
 * seed)): the canonical form of the RESOLVED config (every default
 * filled in, the preset expanded: writing a default explicitly gives the same id). The two levels
 * let a sweep hash each cell once for all its seeds. Throws ConfigError if the config is invalid.
 */
export function configId(config: RunConfig): string {
  const resolved = resolveConfig(config);
  return runId(cellDigest(resolved), resolved.seed);
}

// Cell digests computed while validating a spec, reused by iterateGrid (grids up to a few million cells).
const digestCache = new WeakMap<Spec, string[]>();
const DIGEST_CACHE_MAX = 4_000_000;
/** Lets the validation hand over the digests it computed, in cell order (spec.ts only). */
export function rememberCellDigests(spec: Spec, digests: string[]): void {
  if (digests.length <= DIGEST_CACHE_MAX) digestCache.set(spec, digests);
}

/**
 * Width from the derived axis rho = m d / n (METHOD.md section 1): m = ceil(rho n / d), where a
 * product within 1e-9 (relative) of an integer counts as that integer (0.3 * 100 / 10 evaluates to
 * 3.0000000000000004 in floating point, and gives m = 3, not 4),
 * then rounded up to even when the init is mirrored (W0 = [W', W'], METHOD.md section 2).
 */
export function widthFromRho(rho: number, n: number, d: number, mirrored: boolean): number {
  const x = (rho * n) / d;
  const r = Math.round(x);
  let m = Math.abs(x - r) <= 1e-9 * Math.max(1, Math.abs(x)) ? r : Math.ceil(x);
  if (mirrored && m % 2 !== 0) m += 1;
  return m;
}

/** Whether a (partially merged) config starts from the mirrored init: explicit `init`, else the preset's. */
function isMirrored(config: Partial<RunConfig> & { method: Preset }): boolean {
  const init = config.init ?? PRESET_FACTORS[config.method]?.init;
  return init === 'mirrored';
}

/** `method=pgd, n=100, d=10, rho=1.5, m=16` */
export function describeCell(cell: Record<string, AxisValue>): string {
  return Object.entries(cell).map(([k, v]) => `${k}=${typeof v === 'string' ? v : String(v)}`).join(', ');
}

/** One cell of the grid: its axis values, its config without the seed, and where each field came from. */
export interface CellInfo {
  cell: Record<string, AxisValue>;
  /** The run configuration with `seed` set to -1 (iterateGrid sets the real seeds); a fresh object. */
  config: RunConfig;
  /**
   * Spec path a config field came from (`grid.rho[2]`, `methods.sgd.lr`, `trials`, ...), for messages.
   * Valid until the next cell is taken from the generator.
   */
  where(field: string): string;
}

function methodFactorMap(spec: Spec): Map<Preset, Factor[]> {
  const map = new Map<Preset, Factor[]>();
  for (const f of spec.methodFactors) {
    const list = map.get(f.method!) ?? [];
    list.push(f);
    map.set(f.method!, list);
  }
  return map;
}

/**
 * Every cell in the spec's order, from a mixed-radix counter over the factors, so a million cells
 * never sit in memory at once. `withOrigin` adds the `where` function (validation messages).
 */
function* expandCells(spec: Spec, withOrigin: boolean): Generator<CellInfo> {
  const F = spec.factors;
  const perMethod = methodFactorMap(spec);
  // Settings every run of a method starts from: data < defaults < methods.<method>.
  const baseSettings = new Map<Preset, Partial<RunConfig>>();
  for (const p of PRESETS) baseSettings.set(p, { data: spec.data, ...spec.defaults, ...spec.methods[p] });
  const methodFactor = F.findIndex((f) => f.names.includes('method'));
  const methodPos = F[methodFactor]!.names.indexOf('method');
  const derived = spec.width === 'rho';
  const noWhere = (): string => '';
  const idx = new Array<number>(F.length).fill(0);
  for (;;) {
    const method = F[methodFactor]!.tuples[idx[methodFactor]!]![methodPos] as Preset;
    const mf = perMethod.get(method) ?? [];
    const sub = new Array<number>(mf.length).fill(0);
    for (;;) {
      const cell: Record<string, AxisValue> = {};
      const config = { method, n: 0, d: 0, m: 0, seed: -1, ...baseSettings.get(method) } as RunConfig;
      const settable = config as unknown as Record<string, Json>;
      let rho = 0;
      for (let f = 0; f < F.length; f++) {
        const factor = F[f]!;
        const tuple = factor.tuples[idx[f]!]!;
        for (let i = 0; i < tuple.length; i++) {
          const name = factor.names[i]!;
          const v = tuple[i]!;
          if (name === 'rho') {
            rho = v as number;
            cell.rho = rho;
            cell.m = null; // placeholder keeps m next to rho
          } else {
            cell[name] = v !== null && typeof v === 'object' ? canonicalJson(v) : v;
            settable[name] = v;
          }
        }
      }
      for (let j = 0; j < mf.length; j++) {
        const factor = mf[j]!;
        const v = factor.tuples[sub[j]!]![0]!;
        cell[factor.names[0]!] = v !== null && typeof v === 'object' ? canonicalJson(v) : v;
        settable[factor.field!] = v;
      }
      if (derived) {
        config.m = widthFromRho(rho, config.n, config.d, isMirrored(config));
        cell.m = config.m;
      }
      yield { cell, config, where: withOrigin ? origin(spec, method, idx, mf, sub) : noWhere };
      let j = mf.length - 1;
      while (j >= 0) {
        sub[j]!++;
        if (sub[j]! < mf[j]!.tuples.length) break;
        sub[j] = 0;
        j--;
      }
      if (j < 0) break;
    }
    let f = F.length - 1;
    while (f >= 0) {
      idx[f]!++;
      if (idx[f]! < F[f]!.tuples.length) break;
      idx[f] = 0;
      f--;
    }
    if (f < 0) return;
  }
}

/** The `where` of a cell at counter position (idx, sub). */
function origin(spec: Spec, method: Preset, idx: number[], mf: Factor[], sub: number[]): (field: string) => string {
  return (field: string): string => {
    if (field === 'seed') return spec.seeds.length === 1 && spec.seeds[0] === 0 ? 'trials' : 'seeds';
    if (field === 'm' && spec.width === 'rho') field = 'rho';
    for (let f = 0; f < spec.factors.length; f++) {
      const i = spec.factors[f]!.names.indexOf(field);
      if (i >= 0) return spec.factors[f]!.paths[idx[f]!]![i]!;
    }
    for (let j = 0; j < mf.length; j++) if (mf[j]!.field === field) return mf[j]!.paths[sub[j]!]![0]!;
    return spec.settingPaths.methods[method]?.[field] ?? spec.settingPaths.defaults[field] ?? field;
  };
}

/** Every cell (configuration without its seed) in the spec's order, with `where` for messages. */
export function iterateCells(spec: Spec): Generator<CellInfo> {
  return expandCells(spec, true);
}

/** Number of cells (configurations per seed), computed without expanding. */
export function cellCount(spec: Spec): number {
  const perMethod = methodFactorMap(spec);
  let product = 1;
  for (const f of spec.factors) product *= f.tuples.length;
  const mf = spec.factors.find((f) => f.names.includes('method'))!;
  const mi = mf.names.indexOf('method');
  const others = product / mf.tuples.length;
  let cells = 0;
  for (const t of mf.tuples) {
    let k = others;
    for (const f of perMethod.get(t[mi] as Preset) ?? []) k *= f.tuples.length;
    cells += k;
  }
  return cells;
}

/** Number of configurations (runs) of the spec: cells x seeds. */
export function gridSize(spec: Spec): number {
  return cellCount(spec) * spec.seeds.length;
}

/** Grids up to this many cells keep their cells from the first trial for the next ones (about 20 MB). */
const CELL_CACHE_MAX = 50_000;

/**
 * Every configuration, trial-major: `index` runs 0..gridSize-1, `trial` is the position of the seed
 * in spec.seeds, `cell` holds the axis values (rho and the derived m both, when rho is an axis), and
 * `config` is the RunConfig handed to the worker (settings as written, defaults not filled in; the
 * id is computed from its resolved form). Each entry has its own `config`; the `cell` object may be
 * shared by the entries of one cell (do not mutate it).
 */
export function* iterateGrid(spec: Spec): Generator<GridEntry> {
  let digests = digestCache.get(spec) ?? null;
  const cells = cellCount(spec);
  const collect = digests === null && spec.seeds.length > 1 && cells <= DIGEST_CACHE_MAX ? [] as string[] : null;
  const cache = spec.seeds.length > 1 && cells <= CELL_CACHE_MAX ? [] as Array<{ cell: GridEntry['cell']; config: RunConfig }> : null;
  let index = 0;
  for (let trial = 0; trial < spec.seeds.length; trial++) {
    const seed = spec.seeds[trial]!;
    const source: Iterable<{ cell: GridEntry['cell']; config: RunConfig }> = trial > 0 && cache !== null ? cache : expandCells(spec, false);
    let c = 0;
    for (const item of source) {
      if (trial === 0) cache?.push({ cell: item.cell, config: { ...item.config } }); // a template of its own
      const config: RunConfig = trial > 0 && cache !== null ? { ...item.config, seed } : item.config;
      config.seed = seed;
      let digest = digests?.[c];
      if (digest === undefined) {
        digest = cellDigest(resolveConfig(config));
        collect?.push(digest);
      }
      yield { id: runId(digest, seed), index, trial, cell: item.cell, config };
      index++;
      c++;
    }
    if (collect !== null && digests === null) digests = collect;
  }
}
