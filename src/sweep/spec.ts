// Sweep spec files: parse (YAML or JSON, as data only) and validate the WHOLE spec before any work.
//
// ## Spec syntax (`sweeps/*.yaml`, `.yml` or `.json`)
//
//     name: demo                     # required; the results folder name ([A-Za-z0-9._-], no leading dot)
//     description: ...               # optional free text
//     data: { source: gaussian, labels: gaussian }   # optional; the DataSpec of every run (default gaussian/gaussian)
//     grid:                          # the cartesian product of these axes; each axis is a non-empty list
//       n: [100, 200]
//       d: [10, 20]
//       rho: [0.5, 1, 1.5, 2, 3]     # derived width: m = ceil(rho n / d), then rounded up to even when the
//                                    #   run's init is mirrored (pgd, mirror-gd, lm, or init: mirrored)
//       method: [sgd, adam, pgd, lm]
//       activation: [tanh]
//       pgd.outputScale: [1, 10]     # per-method axis: expands pgd runs only (other methods are not multiplied)
//     zip:                           # optional: axes that vary together instead of as a product
//       - { n: 100, d: 10 }          #   tuple form: a list of objects with the same keys
//       - { n: 200, d: 20 }
//     # zip: { n: [100, 200], d: [10, 20] }             # list-of-axes form: equal-length lists, paired by position
//     # zip: [ [{n: 100, d: 10}, {n: 200, d: 20}], { method: [sgd, adam], lr: [0.05, 0.01] } ]
//     #                                                 # several independent zipped groups: a list of groups
//     trials: 5                      # seeds 0..4 for every cell (default 1) ...
//     # seeds: [0, 7, 42]            # ... or explicit seeds (not both)
//     budget: { iterations: 5000, seconds: 60 }        # RunConfig iterations / seconds
//     success: { relLoss: 1.0e-4 }   # a run succeeds when relLoss <= this (RunConfig epsilon)
//     defaults:                      # settings for every method (any RunConfig setting)
//       dtype: float64
//       logEvery: 100
//     methods:                       # settings for one method; override `defaults`
//       sgd: { lr: 0.05, batch: 32 }
//       pgd: { lr: auto, radius: auto, outputScale: 10 }
//     runTimeout: 120                # optional: hard limit of one run in seconds (`run --run-timeout` overrides it;
//                                    #   without either the coordinator uses 2 x the run's seconds budget + 30)
//
// Rules:
// - Axes (in `grid` or `zip`): any RunConfig field except `seed` (use `trials` / `seeds`), plus `rho`,
//   plus `<method>.<setting>` in `grid` for one method's settings. `method`, `n`, `d` and exactly one of
//   `m` / `rho` must be axes (a single value is a one-element list). An axis appears once (grid or zip).
//   Object values are allowed where the field takes one (radius: { relative: 0.5 }, data: {...}); the
//   run's `cell` then shows them as canonical JSON text.
// - Order of the runs: trial-major (every cell at the first seed, then the next seed, ...); within a
//   trial the first grid axis varies slowest, zipped groups come after the grid axes, per-method axes
//   vary fastest.
// - Precedence, lowest first: `defaults` (with `budget`, `success`), `methods.<method>`, then the axes.
//   A setting may not be both an axis and set in `methods.<method>` for a method on that axis (ambiguous),
//   nor both in `defaults` and `budget`/`success`.
// - rho: m = ceil(rho n / d), except that a product within 1e-9 (relative) of an integer counts as that
//   integer (floating point: rho = 0.3, n = 100, d = 10 gives 3, and 1.5, 200, 10 gives exactly 30); then
//   +1 if odd and the run's init is mirrored. Two rho values that give the same m are an error (below).
// - `defaults` and `methods.<method>` take settings only: method, n, d, m, rho and seed are axes, and the
//   data is the top-level `data` (or a `data` axis). Settings for a method not in the sweep are ignored.
// - Validation is total and pure (nothing is written): unknown keys (the allowed ones are listed),
//   duplicate axis values or zip tuples, m < 1, an odd m given directly for a mirrored init, n + nTest
//   beyond what the data source holds, d different from the features of an mnist/csv source, two cells that resolve to the same configuration (e.g. two rho
//   values rounding to the same m), sizes whose arrays cannot be allocated (src/sweep/memory.ts: one beyond
//   2^32 entries, or all beyond the machine's RAM), a grid beyond SPEC_LIMITS (a spec file over 1 MB, more than
//   10^6 cells or 10^7 configurations), and every RunConfig error of every expanded cell, each reported as
//   `<path>: <what was expected>` with the grid position. Numbers are compared as values (1e-4 == 0.0001).
import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError } from '../core/errors.js';
import { didYouMean } from '../core/suggest.js';
import { PRESETS } from '../core/types.js';
import type { DataSpec, Preset, ResolvedConfig, RunConfig } from '../core/types.js';
import type { AxisValue } from './types.js';
import { RUN_CONFIG_KEYS, resolveConfig, resolveData } from '../core/config.js';
import { dataCapacity, dataDimension } from '../data/load.js';
import { canonicalJson, cellCount, cellDigest, describeCell, iterateCells, rememberCellDigests } from './grid.js';
import { memoryProblem } from './memory.js';

/** A JSON value as the spec file holds it. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * One factor of the grid's product: one axis (`grid.x`) or a zipped group of axes taking their values
 * together. `tuples[k][i]` is the value of `names[i]` at position k.
 */
export interface Factor {
  names: string[];
  tuples: Json[][];
  /** `paths[k][i]`: where tuples[k][i] was written, for error messages (e.g. `grid.rho[2]`, `zip[1].n`). */
  paths: string[][];
  /** Set for a per-method axis (`grid.pgd.radius`): it expands runs of that method only. */
  method: Preset | null;
  /** For a per-method axis, the RunConfig field it sets (`radius` for `pgd.radius`). */
  field: string | null;
}

/** A validated sweep spec. Only grid.ts expands it. */
export interface Spec {
  name: string;
  description: string | null;
  /** The spec file it came from (as given). */
  file: string;
  /** Data of every run unless `data` is an axis. */
  data: DataSpec;
  /** Global factors, first one outermost in the expansion order. */
  factors: Factor[];
  /** Per-method factors (`grid.<method>.<setting>`), innermost, applied only to runs of their method. */
  methodFactors: Factor[];
  /** Whether the width is given by `m` or derived from `rho`. */
  width: 'm' | 'rho';
  /** Seeds of every cell (trials 0..R-1 unless `seeds` was given). */
  seeds: number[];
  /** Settings for all methods: `defaults` merged with budget.iterations/seconds and success.relLoss (epsilon). */
  defaults: Partial<RunConfig>;
  /** Per-method settings (`methods.<method>`). */
  methods: Partial<Record<Preset, Partial<RunConfig>>>;
  budget: { iterations: number | null; seconds: number | null };
  /** success.relLoss, the epsilon of the success rule, when given (the RunConfig default otherwise). */
  epsilon: number | null;
  /** Seconds after which the coordinator aborts a single run; null when the spec gives none. */
  runTimeout: number | null;
  /** Where each setting came from, for error messages: `defaults.lr`, `methods.sgd.lr`, `budget.iterations`. */
  settingPaths: { defaults: Record<string, string>; methods: Partial<Record<Preset, Record<string, string>>> };
}

const TOP_KEYS = ['name', 'description', 'data', 'grid', 'zip', 'trials', 'seeds', 'budget', 'success', 'defaults', 'methods', 'runTimeout'] as const;
/** Fields that define a cell's identity and can only be axes. */
const STRUCTURAL = new Set(['method', 'n', 'd', 'm', 'seed', 'rho']);
/** RunConfig fields that may be set in `defaults` and `methods.<method>`. */
export const SETTING_KEYS: readonly string[] = RUN_CONFIG_KEYS.filter((k) => !STRUCTURAL.has(k) && k !== 'data');
/** Names allowed as global axes. */
const AXIS_KEYS: readonly string[] = [...RUN_CONFIG_KEYS.filter((k) => k !== 'seed'), 'rho'];
/** Every per-method axis name (`pgd.radius`, ...), for suggestions. */
const METHOD_AXIS_KEYS: readonly string[] = PRESETS.flatMap((p) => SETTING_KEYS.map((k) => `${p}.${k}`));

function describe(x: unknown): string {
  if (x === undefined) return 'nothing';
  if (typeof x === 'string') return JSON.stringify(x);
  if (typeof x === 'number' && !Number.isFinite(x)) return String(x);
  return JSON.stringify(x) ?? String(x);
}

function isObject(x: unknown): x is Record<string, Json> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function checkKeys(path: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      throw new ConfigError(path ? `${path}.${k}` : k, `unknown field (allowed: ${allowed.join(', ')})${didYouMean(k, allowed)}`);
    }
  }
}

function posInt(path: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 1) throw new ConfigError(path, `expected a positive integer, got ${describe(x)}`);
  return x;
}
function nonNegInt(path: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw new ConfigError(path, `expected a non-negative integer, got ${describe(x)}`);
  return x;
}
function posNum(path: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) throw new ConfigError(path, `expected a positive number, got ${describe(x)}`);
  return x;
}

/** Checks the values of an axis that the expansion itself needs (method, n, d, m, rho) before resolving anything. */
function checkStructuralValue(path: string, name: string, x: Json): void {
  if (name === 'method') {
    if (typeof x !== 'string' || !(PRESETS as readonly string[]).includes(x)) {
      throw new ConfigError(path, `expected one of ${PRESETS.join(', ')}, got ${describe(x)}${typeof x === 'string' ? didYouMean(x, PRESETS) : ''}`);
    }
  } else if (name === 'n' || name === 'd' || name === 'm') posInt(path, x);
  else if (name === 'rho') posNum(path, x);
}

function splitMethodAxis(name: string): { method: Preset; field: string } | null {
  const dot = name.indexOf('.');
  if (dot < 0) return null;
  const method = name.slice(0, dot);
  const field = name.slice(dot + 1);
  if (!(PRESETS as readonly string[]).includes(method)) return null;
  return { method: method as Preset, field };
}

/** The spec must be plain JSON data: no binary, dates, sets or non-finite numbers (.inf, .nan). */
function checkPlainData(path: string, x: unknown): void {
  if (x === null || typeof x === 'string' || typeof x === 'boolean') return;
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) throw new ConfigError(path, `expected a finite number, got ${x}`);
    return;
  }
  if (Array.isArray(x)) {
    x.forEach((v, k) => checkPlainData(`${path}[${k}]`, v));
    return;
  }
  if (typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
    for (const [k, v] of Object.entries(x)) checkPlainData(path ? `${path}.${k}` : k, v);
    return;
  }
  throw new ConfigError(path, `expected plain data (text, numbers, true/false, null, lists, mappings), got a ${Object.prototype.toString.call(x).slice(8, -1)}`);
}

function checkDuplicates(paths: string[], what: string, values: Json[]): void {
  const seen = new Map<string, number>();
  values.forEach((v, k) => {
    const key = canonicalJson(v);
    const first = seen.get(key);
    if (first !== undefined) {
      throw new ConfigError(paths[k]!, `duplicate ${what} ${describe(v)} (same as ${paths[first]})`);
    }
    seen.set(key, k);
  });
}

function parseGrid(x: unknown, factors: Factor[], methodFactors: Factor[]): void {
  if (x === undefined) throw new ConfigError('grid', 'required: a mapping of axes to lists, e.g. { n: [100], d: [10], rho: [1, 2], method: [sgd] }');
  if (!isObject(x)) throw new ConfigError('grid', `expected a mapping of axis names to lists, got ${describe(x)}`);
  for (const [name, values] of Object.entries(x)) {
    const path = `grid.${name}`;
    const pm = splitMethodAxis(name);
    if (pm) {
      if (!SETTING_KEYS.includes(pm.field)) {
        throw new ConfigError(path, `unknown per-method axis (allowed after "${pm.method}.": ${SETTING_KEYS.join(', ')})${didYouMean(name, METHOD_AXIS_KEYS)}`);
      }
    } else if (!AXIS_KEYS.includes(name)) {
      const hint = name === 'seed' ? ' (use trials or seeds)' : '';
      throw new ConfigError(path, `unknown axis${hint} (allowed: ${AXIS_KEYS.join(', ')}, or <method>.<setting> such as pgd.radius)` +
        (hint ? '' : didYouMean(name, name.includes('.') ? METHOD_AXIS_KEYS : AXIS_KEYS)));
    }
    if (!Array.isArray(values) || values.length === 0) {
      throw new ConfigError(path, `expected a non-empty list of values, got ${describe(values)}`);
    }
    const paths = values.map((_, k) => `${path}[${k}]`);
    values.forEach((v, k) => checkStructuralValue(paths[k]!, name, v));
    checkDuplicates(paths, 'value', values);
    const factor: Factor = {
      names: [name], tuples: values.map((v) => [v]), paths: paths.map((p) => [p]),
      method: pm ? pm.method : null, field: pm ? pm.field : null,
    };
    (pm ? methodFactors : factors).push(factor);
  }
}

/** One zipped group in either form; `path` is `zip` or `zip[g]`. */
function parseZipGroup(path: string, x: Json): Factor {
  let names: string[];
  const tuples: Json[][] = [];
  const paths: string[][] = [];
  const tuplePaths: string[] = [];
  if (Array.isArray(x)) {
    // tuple form: [{n: 100, d: 10}, {n: 200, d: 20}]
    if (x.length === 0) throw new ConfigError(path, 'expected a non-empty list of tuples such as { n: 100, d: 10 }');
    const first = x[0];
    if (!isObject(first) || Object.keys(first).length === 0) {
      throw new ConfigError(`${path}[0]`, `expected a mapping of axis values such as { n: 100, d: 10 }, got ${describe(first)}`);
    }
    names = Object.keys(first);
    x.forEach((t, k) => {
      if (!isObject(t)) throw new ConfigError(`${path}[${k}]`, `expected a mapping of axis values such as { n: 100, d: 10 }, got ${describe(t)}`);
      const keys = Object.keys(t);
      const missing = names.filter((n) => !keys.includes(n));
      const extra = keys.filter((n) => !names.includes(n));
      if (missing.length > 0 || extra.length > 0) {
        throw new ConfigError(`${path}[${k}]`, `every tuple must have the same keys as ${path}[0] (${names.join(', ')}); ` +
          (missing.length ? `missing ${missing.join(', ')}` : `extra ${extra.join(', ')}`));
      }
      tuples.push(names.map((n) => t[n]!));
      paths.push(names.map((n) => `${path}[${k}].${n}`));
      tuplePaths.push(`${path}[${k}]`);
    });
  } else if (isObject(x)) {
    // list-of-axes form: {n: [100, 200], d: [10, 20]}
    names = Object.keys(x);
    if (names.length === 0) throw new ConfigError(path, 'expected at least one axis');
    let len = -1;
    let lenName = '';
    for (const n of names) {
      const vs = x[n];
      if (!Array.isArray(vs) || vs.length === 0) throw new ConfigError(`${path}.${n}`, `expected a non-empty list of values, got ${describe(vs)}`);
      if (len >= 0 && vs.length !== len) {
        throw new ConfigError(`${path}.${n}`, `zipped lists must have the same length: ${vs.length} values here, ${len} in ${path}.${lenName}`);
      }
      len = vs.length; lenName = n;
    }
    for (let k = 0; k < len; k++) {
      tuples.push(names.map((n) => (x[n] as Json[])[k]!));
      paths.push(names.map((n) => `${path}.${n}[${k}]`));
      tuplePaths.push(`${path}.${names[0]}[${k}]`);
    }
  } else {
    throw new ConfigError(path, `expected a list of tuples such as [{ n: 100, d: 10 }, { n: 200, d: 20 }] or equal-length lists such as { n: [100, 200], d: [10, 20] }, got ${describe(x)}`);
  }
  names.forEach((name, i) => {
    const where = paths[0]![i]!;
    if (splitMethodAxis(name)) throw new ConfigError(where, 'per-method axes (<method>.<setting>) can only be grid axes, not zipped');
    if (!AXIS_KEYS.includes(name)) {
      const hint = name === 'seed' ? ' (use trials or seeds)' : '';
      throw new ConfigError(where, `unknown axis${hint} (allowed: ${AXIS_KEYS.join(', ')})${hint ? '' : didYouMean(name, AXIS_KEYS)}`);
    }
    tuples.forEach((t, k) => checkStructuralValue(paths[k]![i]!, name, t[i]!));
  });
  checkDuplicates(tuplePaths, 'tuple', tuples.map((t) => Object.fromEntries(names.map((n, i) => [n, t[i]!]))));
  return { names, tuples, paths, method: null, field: null };
}

function parseZip(x: unknown): Factor[] {
  if (x === undefined) return [];
  if (Array.isArray(x)) {
    if (x.length > 0 && x.every((g) => Array.isArray(g) || (isObject(g) && Object.values(g).every(Array.isArray)))) {
      return x.map((g, k) => parseZipGroup(`zip[${k}]`, g as Json));
    }
    return [parseZipGroup('zip', x as Json[])];
  }
  return [parseZipGroup('zip', x as Json)];
}

function parseSettings(path: string, x: unknown, paths: Record<string, string>): Partial<RunConfig> {
  if (!isObject(x)) throw new ConfigError(path, `expected a mapping of settings such as { lr: 0.05 }, got ${describe(x)}`);
  for (const k of Object.keys(x)) {
    if (STRUCTURAL.has(k)) throw new ConfigError(`${path}.${k}`, `${k} can only be a grid axis (e.g. grid.${k}: [...])`);
    if (k === 'data') throw new ConfigError(`${path}.${k}`, 'give the data at the top level (data: {...}) or as the grid axis grid.data');
  }
  checkKeys(path, x, SETTING_KEYS);
  for (const k of Object.keys(x)) paths[k] = `${path}.${k}`;
  return { ...x } as Partial<RunConfig>;
}

/** Parses and validates spec text. `file` names the source (its extension picks YAML or JSON). */
export function parseSpec(text: string, file: string): Spec {
  const ext = extname(file).toLowerCase();
  let doc: unknown;
  if (ext === '.json') {
    try { doc = JSON.parse(text); } catch (e) { throw new ConfigError('', `${file}: not valid JSON: ${(e as Error).message}`); }
    // JSON.parse keeps the last of two equal keys silently; JSON is YAML, so let the YAML parser check.
    const dup = parseDocument(text, { schema: 'json', uniqueKeys: true, prettyErrors: true }).errors.find((e) => e.code === 'DUPLICATE_KEY');
    if (dup) throw new ConfigError('', `${file}: not valid JSON: ${dup.message}`);
  } else if (ext === '.yaml' || ext === '.yml') {
    // Data only: the core schema has no code-bearing tags, an unknown tag is an error (not a
    // warning), duplicate keys are rejected and aliases are bounded.
    const parsed = parseDocument(text, { schema: 'core', uniqueKeys: true, prettyErrors: true });
    const problem = parsed.errors[0] ?? parsed.warnings[0];
    if (problem) throw new ConfigError('', `${file}: not valid YAML: ${problem.message}`);
    try { doc = parsed.toJS({ maxAliasCount: 1000 }); } catch (e) {
      throw new ConfigError('', `${file}: not valid YAML: ${(e as Error).message}`);
    }
  } else {
    throw new ConfigError('', `${file}: expected a .yaml, .yml or .json spec file`);
  }
  if (!isObject(doc)) throw new ConfigError('', `${file}: expected a mapping at the top level (name, data, grid, ...), got ${describe(doc)}`);
  checkPlainData('', doc);
  checkKeys('', doc, TOP_KEYS);

  const name = doc.name;
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(name)) {
    throw new ConfigError('name', `expected a folder-safe name (letters, digits, ., _, -; no leading dot), got ${describe(name)}`);
  }
  let description: string | null = null;
  if (doc.description !== undefined) {
    if (typeof doc.description !== 'string') throw new ConfigError('description', `expected text, got ${describe(doc.description)}`);
    description = doc.description;
  }
  const data = resolveData('data', doc.data);

  const factors: Factor[] = [];
  const methodFactors: Factor[] = [];
  parseGrid(doc.grid, factors, methodFactors);
  const zipFactors = parseZip(doc.zip);
  const axisPath = new Map<string, string>();
  for (const f of [...factors, ...zipFactors]) {
    for (const [i, n] of f.names.entries()) {
      const where = f.paths[0]![i]!;
      const prev = axisPath.get(n);
      if (prev !== undefined) throw new ConfigError(where, `axis ${n} is given twice (also at ${prev})`);
      axisPath.set(n, where.replace(/\[\d+\]$/, ''));
    }
  }
  factors.push(...zipFactors);
  for (const req of ['method', 'n', 'd'] as const) {
    if (!axisPath.has(req)) throw new ConfigError(`grid.${req}`, `required: give ${req} as a grid axis (a list, e.g. ${req}: [${req === 'method' ? 'sgd' : '100'}]) or in zip`);
  }
  if (axisPath.has('m') && axisPath.has('rho')) {
    throw new ConfigError(axisPath.get('rho')!, `give exactly one of m and rho (m is also given at ${axisPath.get('m')})`);
  }
  if (!axisPath.has('m') && !axisPath.has('rho')) {
    throw new ConfigError('grid.rho', 'required: give the width as exactly one of grid.rho (m = ceil(rho n / d)) or grid.m');
  }
  const width = axisPath.has('rho') ? 'rho' : 'm';

  // Methods that can occur, for the per-method axes and settings.
  const methodAxis = factors.find((f) => f.names.includes('method'))!;
  const mi = methodAxis.names.indexOf('method');
  const methodsPresent = new Set(methodAxis.tuples.map((t) => t[mi] as Preset));
  for (const f of methodFactors) {
    if (!methodsPresent.has(f.method!)) {
      throw new ConfigError(`grid.${f.names[0]}`, `method ${f.method} is not among the methods of this sweep (${[...methodsPresent].join(', ')})`);
    }
    if (axisPath.has(f.field!)) {
      throw new ConfigError(`grid.${f.names[0]}`, `${f.field} is already an axis for every method (${axisPath.get(f.field!)}); use one or the other`);
    }
  }

  // Seeds.
  let seeds: number[];
  if (doc.trials !== undefined && doc.seeds !== undefined) throw new ConfigError('seeds', 'give either trials or seeds, not both');
  if (doc.seeds !== undefined) {
    const s = doc.seeds;
    if (!Array.isArray(s) || s.length === 0) throw new ConfigError('seeds', `expected a non-empty list of non-negative integers, got ${describe(s)}`);
    seeds = s.map((v, k) => nonNegInt(`seeds[${k}]`, v));
    checkDuplicates(seeds.map((_, k) => `seeds[${k}]`), 'seed', seeds);
  } else {
    const trials = doc.trials === undefined ? 1 : posInt('trials', doc.trials);
    seeds = Array.from({ length: trials }, (_, k) => k);
  }

  // Settings: defaults (with budget, success) < methods.<method> < axes.
  const defaultPaths: Record<string, string> = {};
  const defaults = doc.defaults === undefined ? {} : parseSettings('defaults', doc.defaults, defaultPaths);
  const budget = { iterations: null as number | null, seconds: null as number | null };
  if (doc.budget !== undefined) {
    if (!isObject(doc.budget)) throw new ConfigError('budget', `expected { iterations, seconds }, got ${describe(doc.budget)}`);
    checkKeys('budget', doc.budget, ['iterations', 'seconds']);
    for (const k of ['iterations', 'seconds'] as const) {
      const v = doc.budget[k];
      if (v === undefined) continue;
      if (defaults[k] !== undefined) throw new ConfigError(`budget.${k}`, `also given as defaults.${k}; give it once`);
      const value = k === 'iterations' ? nonNegInt('budget.iterations', v) : posNum('budget.seconds', v);
      budget[k] = value;
      defaults[k] = value;
      defaultPaths[k] = `budget.${k}`;
    }
  }
  let epsilon: number | null = null;
  if (doc.success !== undefined) {
    if (!isObject(doc.success)) throw new ConfigError('success', `expected { relLoss: <epsilon> }, got ${describe(doc.success)}`);
    checkKeys('success', doc.success, ['relLoss']);
    const v = doc.success.relLoss;
    if (v !== undefined) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConfigError('success.relLoss', `expected a non-negative number, got ${describe(v)}`);
      if (defaults.epsilon !== undefined) throw new ConfigError('success.relLoss', 'also given as defaults.epsilon; give it once');
      epsilon = v;
      defaults.epsilon = v;
      defaultPaths.epsilon = 'success.relLoss';
    }
  }
  const methods: Spec['methods'] = {};
  const methodPaths: Spec['settingPaths']['methods'] = {};
  if (doc.methods !== undefined) {
    if (!isObject(doc.methods)) throw new ConfigError('methods', `expected a mapping of method names to settings, got ${describe(doc.methods)}`);
    checkKeys('methods', doc.methods, PRESETS);
    for (const [m, s] of Object.entries(doc.methods)) {
      const paths: Record<string, string> = {};
      const settings = parseSettings(`methods.${m}`, s, paths);
      if (methodsPresent.has(m as Preset)) {
        for (const k of Object.keys(settings)) {
          if (axisPath.has(k)) {
            throw new ConfigError(`methods.${m}.${k}`, `${k} is also an axis (${axisPath.get(k)}), which would override it; ` +
              `remove one (to sweep it for one method use grid.${m}.${k})`);
          }
          if (methodFactors.some((f) => f.method === m && f.field === k)) {
            throw new ConfigError(`methods.${m}.${k}`, `${k} is also the axis grid.${m}.${k}, which would override it; remove one`);
          }
        }
      }
      methods[m as Preset] = settings;
      methodPaths[m as Preset] = paths;
    }
  }
  let runTimeout: number | null = null;
  if (doc.runTimeout !== undefined) runTimeout = posNum('runTimeout', doc.runTimeout);

  const spec: Spec = {
    name, description, file, data, factors, methodFactors, width, seeds, defaults, methods,
    budget, epsilon, runTimeout, settingPaths: { defaults: defaultPaths, methods: methodPaths },
  };
  checkSize(spec);
  validateCells(spec);
  return spec;
}

/**
 * Limits on what one spec may hold, checked before anything is expanded: a spec file is a few KB
 * (a long list of seeds is `trials: N`), and the runner's indexes (the journal's and the grid's,
 * tens of bytes per configuration) and the validation (one resolved config per cell) must fit in
 * memory and time. Beyond them, split the sweep into several specs.
 */
export const SPEC_LIMITS = { fileBytes: 1 << 20, cells: 1_000_000, configurations: 10_000_000 } as const;

/** Reads and validates a spec file. Throws ConfigError (the CLI prints it and exits 2). */
export function loadSpec(path: string): Spec {
  let text: string;
  try {
    const bytes = statSync(path).size;
    if (bytes > SPEC_LIMITS.fileBytes) {
      throw new ConfigError('', `${path}: the spec file is ${(bytes / 2 ** 20).toFixed(1)} MB, more than the ${SPEC_LIMITS.fileBytes / 2 ** 20} MB a spec may be ` +
        '(a long seeds list? use trials: N for seeds 0..N-1, or split the sweep into several specs)');
    }
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError('', `${path}: cannot read the spec file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseSpec(text, path);
}

/** Refuses a grid beyond SPEC_LIMITS before it is expanded (its size is a product of list lengths). */
function checkSize(spec: Spec): void {
  const cells = cellCount(spec);
  const total = cells * spec.seeds.length;
  const seedsPath = spec.seeds.every((x, k) => x === k) ? 'trials' : 'seeds'; // trials: N gives seeds 0..N-1
  if (cells > SPEC_LIMITS.cells) {
    throw new ConfigError('grid', `the grid has ${cells} cells (configurations per seed), more than the ${SPEC_LIMITS.cells} one spec may have; ` +
      'split the sweep into several specs (with different names), or use fewer axis values');
  }
  if (total > SPEC_LIMITS.configurations) {
    throw new ConfigError(seedsPath, `the sweep has ${total} configurations (${cells} cells x ${spec.seeds.length} seeds), more than the ` +
      `${SPEC_LIMITS.configurations} one spec may have; split it into several specs (with different names and seeds), or use fewer seeds`);
  }
}

/**
 * Resolves every cell (at the first seed: the seed never interacts with the other fields) so that
 * every RunConfig error surfaces now, checks the data capacity, and rejects two cells that resolve
 * to the same configuration (their runs would share ids).
 */
function validateCells(spec: Spec): void {
  // Capacity and dimension read csv files: once per distinct data spec.
  // (The data object of a config is shared by all its cells: spec.data or one value of a data axis.)
  const sources = new Map<unknown, { capacity: number; dimension: number | null }>();
  const sourceOf = (config: RunConfig, resolved: DataSpec) => {
    let s = sources.get(config.data);
    if (s === undefined) { s = { capacity: dataCapacity(resolved), dimension: dataDimension(resolved) }; sources.set(config.data, s); }
    return s;
  };
  const seen = new Set<string>();
  const digests: string[] = [];
  const seed = spec.seeds[0]!;
  for (const { cell, config, where } of iterateCells(spec)) {
    const cfg = config;
    cfg.seed = seed;
    if (spec.width === 'rho' && cfg.m < 1) {
      throw new ConfigError(where('m'), `gives m = ceil(rho n / d) = ${cfg.m}, below 1 (in the configuration ${describeCell(cell)})`);
    }
    let resolved: ResolvedConfig;
    try {
      resolved = resolveConfig(cfg);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      const field = e.path.split('.')[0]!;
      const rest = e.path.slice(field.length);
      const bare = e.path ? e.message.slice(e.path.length + 2) : e.message;
      throw new ConfigError(`${where(field)}${rest}`, `${bare} (in the configuration ${describeCell(cell)})`);
    }
    const data = resolved.data;
    const nTest = data.nTest ?? 0;
    const source = sourceOf(cfg, data);
    if (cfg.n + nTest > source.capacity) {
      throw new ConfigError(where('n'), `n = ${cfg.n}${nTest ? ` plus nTest = ${nTest}` : ''} is more than the data source ${data.source} holds (${source.capacity} samples) (in the configuration ${describeCell(cell)})`);
    }
    if (source.dimension !== null && cfg.d !== source.dimension) {
      throw new ConfigError(where('d'), `d = ${cfg.d}, but the data source ${data.source} has ${source.dimension} features (in the configuration ${describeCell(cell)})`);
    }
    // sizes whose arrays cannot be allocated (src/sweep/memory.ts), before they fail every run
    const memory = memoryProblem(resolved);
    if (memory !== null) throw new ConfigError(where(memory.field), `${memory.message} (in the configuration ${describeCell(cell)})`);
    const h = cellDigest(resolved);
    if (seen.has(h)) {
      const prevCell = cellAt(spec, digests.indexOf(h));
      const differs = Object.keys(cell).find((k) => k !== 'm' && cell[k] !== prevCell[k]) ?? spec.width;
      const prev = describeCell(prevCell);
      throw new ConfigError(where(differs.includes('.') ? differs.slice(differs.indexOf('.') + 1) : differs), `the cells {${prev}} and {${describeCell(cell)}} are the same configuration, ` +
        'so their runs would be one run; remove one of the values' +
        (spec.width === 'rho' ? ' (different rho values round to the same m here; give m directly or space rho further apart)' : ''));
    }
    seen.add(h);
    digests.push(h);
  }
  if (digests.length !== cellCount(spec)) throw new Error(`internal: the expansion gave ${digests.length} cells, cellCount says ${cellCount(spec)}`);
  rememberCellDigests(spec, digests);
}

function cellAt(spec: Spec, index: number): Record<string, AxisValue> {
  let k = 0;
  for (const { cell } of iterateCells(spec)) if (k++ === index) return cell;
  return {};
}

/**
 * The checks a spec makes of each of its configurations, applied to one configuration on its own
 * (a queued job's, which arrives as data from Redis): plain data only, every RunConfig field as for
 * a spec's cells, and the data source able to supply n + nTest samples of dimension d. Returns the
 * resolved configuration; throws ConfigError (or DataError for an unreadable data file) naming
 * `path`.
 */
export function checkRunConfig(path: string, config: unknown): ResolvedConfig {
  checkPlainData(path, config);
  if (!isObject(config)) throw new ConfigError(path, `expected a configuration (a mapping such as { method: pgd, n: 100, d: 10, m: 20, seed: 0 }), got ${describe(config)}`);
  const resolved = resolveConfig(config as unknown as RunConfig, path);
  const data = resolved.data;
  const nTest = data.nTest ?? 0;
  const capacity = dataCapacity(data);
  if (resolved.n + nTest > capacity) {
    throw new ConfigError(`${path}.n`, `n = ${resolved.n}${nTest ? ` plus nTest = ${nTest}` : ''} is more than the data source ${data.source} holds (${capacity} samples)`);
  }
  const dimension = dataDimension(data);
  if (dimension !== null && resolved.d !== dimension) {
    throw new ConfigError(`${path}.d`, `d = ${resolved.d}, but the data source ${data.source} has ${dimension} features`);
  }
  return resolved;
}
