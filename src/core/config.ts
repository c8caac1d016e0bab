// Presets and defaults of METHOD.md section 4, in one place. `resolveConfig` turns a RunConfig into
// a ResolvedConfig (every factor and setting explicit) or throws a ConfigError naming the field.
import { ACTIVATIONS, PRESETS } from './types.js';
import type {
  Constraint, DataSpec, Init, Optimizer, Preset, ResolvedConfig, RunConfig,
} from './types.js';
import { ConfigError } from './errors.js';
import { didYouMean } from './suggest.js';
import { canonicalData } from './data.js';

interface PresetFactors { init: Init; optimizer: Optimizer | 'gd-or-sgd'; constraint: Constraint; trainOutput: boolean }

/** METHOD.md section 4, the preset table. */
export const PRESET_FACTORS: Record<Preset, PresetFactors> = {
  gd: { init: 'lecun', optimizer: 'gd', constraint: 'none', trainOutput: true },
  sgd: { init: 'lecun', optimizer: 'sgd', constraint: 'none', trainOutput: true },
  adam: { init: 'lecun', optimizer: 'adam', constraint: 'none', trainOutput: true },
  pgd: { init: 'mirrored', optimizer: 'gd-or-sgd', constraint: 'ball', trainOutput: false },
  'mirror-gd': { init: 'mirrored', optimizer: 'gd-or-sgd', constraint: 'none', trainOutput: false },
  'lecun-pgd': { init: 'lecun', optimizer: 'gd-or-sgd', constraint: 'ball', trainOutput: false },
  lm: { init: 'mirrored', optimizer: 'lm', constraint: 'none', trainOutput: false },
};

export const DEFAULTS = {
  activation: 'tanh',
  data: { source: 'gaussian', labels: 'gaussian' } as DataSpec,
  projection: 'global',
  radius: 'auto',
  kappa: 2,
  lr: 'auto',
  lrScale: 1,
  sgdBatch: 32,
  momentum: 0,
  beta1: 0.9,
  beta2: 0.999,
  adamEps: 1e-8,
  /** Adam normalises steps per coordinate, so `lr: auto` for Adam is this constant times lrScale. */
  adamAutoLr: 1e-2,
  lmDamping: 1e-3,
  lmFactor: 4,
  outputScale: 1,
  iterations: 5000,
  seconds: 60,
  epsilon: 1e-4,
  logEvery: 0,
  certificateMaxN: 4000,
  dtype: 'float64',
  engine: 'auto',
} as const;

/**
 * The longest seconds budget: 2^31 - 1 ms (24.8 days), the longest delay a Node.js timer holds.
 * Beyond it a timer fires at once (TimeoutOverflowWarning), which would end every run at once.
 */
export const MAX_SECONDS = 2147483;

/** Every key a RunConfig may have (used to reject typos). */
export const RUN_CONFIG_KEYS: ReadonlyArray<keyof RunConfig> = [
  'method', 'n', 'd', 'm', 'seed', 'activation', 'data', 'init', 'optimizer', 'constraint',
  'trainOutput', 'projection', 'radius', 'kappa', 'lr', 'lrScale', 'batch', 'momentum', 'beta1',
  'beta2', 'adamEps', 'lmDamping', 'lmFactor', 'outputScale', 'iterations', 'seconds', 'epsilon',
  'logEvery', 'certificateMaxN', 'dtype', 'engine',
];

function describe(x: unknown): string {
  return typeof x === 'string' ? JSON.stringify(x) : x === undefined ? 'nothing' : JSON.stringify(x) ?? String(x);
}

function posInt(path: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 1) {
    throw new ConfigError(path, `expected a positive integer, got ${describe(x)}`);
  }
  return x;
}
function nonNegInt(path: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) {
    throw new ConfigError(path, `expected a non-negative integer, got ${describe(x)}`);
  }
  return x;
}
function posNum(path: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) {
    throw new ConfigError(path, `expected a positive number, got ${describe(x)}`);
  }
  return x;
}
function atMost(path: string, x: number, max: number, why: string): number {
  if (x > max) throw new ConfigError(path, `expected at most ${max}${why}, got ${x}`);
  return x;
}
function nonNegNum(path: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) {
    throw new ConfigError(path, `expected a non-negative number, got ${describe(x)}`);
  }
  return x;
}
function unitInterval(path: string, x: unknown): number {
  if (typeof x !== 'number' || !(x >= 0 && x < 1)) {
    throw new ConfigError(path, `expected a number in [0, 1), got ${describe(x)}`);
  }
  return x;
}
function oneOf<T extends string>(path: string, x: unknown, options: readonly T[]): T {
  if (typeof x !== 'string' || !(options as readonly string[]).includes(x)) {
    throw new ConfigError(path, `expected one of ${options.join(', ')}, got ${describe(x)}${typeof x === 'string' ? didYouMean(x, options) : ''}`);
  }
  return x as T;
}
function bool(path: string, x: unknown): boolean {
  if (typeof x !== 'boolean') throw new ConfigError(path, `expected true or false, got ${describe(x)}`);
  return x;
}

function checkKeys(path: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      const where = path ? `${path}.${k}` : k;
      throw new ConfigError(where, `unknown field (allowed: ${allowed.join(', ')})${didYouMean(k, allowed)}`);
    }
  }
}

/** Validates a data spec; `path` prefixes error paths. */
export function resolveData(path: string, x: unknown): DataSpec {
  if (x === undefined) return { ...DEFAULTS.data };
  if (typeof x !== 'object' || x === null || Array.isArray(x)) {
    throw new ConfigError(path, `expected an object such as { source: gaussian, labels: gaussian }, got ${describe(x)}`);
  }
  const o = x as Record<string, unknown>;
  const source = oneOf(`${path}.source`, o.source, ['gaussian', 'sphere', 'mnist', 'csv'] as const);
  const nTest = o.nTest === undefined ? undefined : nonNegInt(`${path}.nTest`, o.nTest);
  if (source === 'gaussian' || source === 'sphere') {
    checkKeys(path, o, ['source', 'labels', 'teacherWidth', 'nTest']);
    const labels = o.labels === undefined ? 'gaussian' : oneOf(`${path}.labels`, o.labels, ['gaussian', 'sign', 'teacher'] as const);
    const spec: DataSpec = { source, labels };
    if (o.teacherWidth !== undefined) {
      if (labels !== 'teacher') throw new ConfigError(`${path}.teacherWidth`, 'only meaningful with labels: teacher');
      spec.teacherWidth = posInt(`${path}.teacherWidth`, o.teacherWidth);
    }
    if (nTest !== undefined) spec.nTest = nTest;
    return spec;
  }
  if (source === 'mnist') {
    checkKeys(path, o, ['source', 'labels', 'classes', 'nTest', 'standardize']);
    const labels = o.labels === undefined ? 'parity' : oneOf(`${path}.labels`, o.labels, ['digits', 'parity', 'random'] as const);
    const spec: DataSpec = { source, labels };
    if (o.classes !== undefined) {
      const c = o.classes;
      if (!Array.isArray(c) || c.length !== 2 || !c.every((k) => Number.isInteger(k) && k >= 0 && k <= 9) || c[0] === c[1]) {
        throw new ConfigError(`${path}.classes`, `expected two different digits such as [3, 8], got ${describe(c)}`);
      }
      spec.classes = [c[0] as number, c[1] as number];
    } else if (labels === 'digits') {
      spec.classes = [0, 1];
    }
    if (nTest !== undefined) spec.nTest = nTest;
    if (o.standardize !== undefined) spec.standardize = bool(`${path}.standardize`, o.standardize);
    return spec;
  }
  checkKeys(path, o, ['source', 'path', 'labelCol', 'header', 'nTest', 'standardize']);
  if (typeof o.path !== 'string' || o.path === '') throw new ConfigError(`${path}.path`, `expected a file path, got ${describe(o.path)}`);
  const spec: DataSpec = { source: 'csv', path: o.path, labelCol: o.labelCol === undefined ? -1 : nonNegInt(`${path}.labelCol`, o.labelCol) };
  if (o.labelCol === undefined) delete (spec as { labelCol?: number }).labelCol;
  if (o.header !== undefined) {
    if (o.header !== 'auto' && typeof o.header !== 'boolean') throw new ConfigError(`${path}.header`, `expected auto, true or false, got ${describe(o.header)}`);
    spec.header = o.header;
  }
  if (nTest !== undefined) spec.nTest = nTest;
  if (o.standardize !== undefined) spec.standardize = bool(`${path}.standardize`, o.standardize);
  return spec;
}

/**
 * Fills defaults and resolves the preset (METHOD.md section 4). Explicit factors override the
 * preset. Throws ConfigError with the field's path (prefixed by `path`) on any bad value.
 */
export function resolveConfig(cfg: RunConfig, path = ''): ResolvedConfig {
  const p = (k: string) => (path ? `${path}.${k}` : k);
  if (typeof cfg !== 'object' || cfg === null) throw new ConfigError(path, 'expected a configuration object');
  checkKeys(path, cfg as unknown as Record<string, unknown>, RUN_CONFIG_KEYS as readonly string[]);
  const method = oneOf(p('method'), cfg.method, PRESETS);
  const n = posInt(p('n'), cfg.n);
  const d = posInt(p('d'), cfg.d);
  const m = posInt(p('m'), cfg.m);
  const seed = nonNegInt(p('seed'), cfg.seed);
  const activation = cfg.activation === undefined ? DEFAULTS.activation : oneOf(p('activation'), cfg.activation, ACTIVATIONS);
  const data = resolveData(p('data'), cfg.data);
  const pf = PRESET_FACTORS[method];

  const init = cfg.init === undefined ? pf.init : oneOf(p('init'), cfg.init, ['lecun', 'mirrored'] as const);
  const constraint = cfg.constraint === undefined ? pf.constraint : oneOf(p('constraint'), cfg.constraint, ['none', 'ball'] as const);
  const trainOutput = cfg.trainOutput === undefined ? pf.trainOutput : bool(p('trainOutput'), cfg.trainOutput);
  let batch: number | null = cfg.batch === undefined || cfg.batch === null ? null : posInt(p('batch'), cfg.batch);
  let optimizer: Optimizer;
  if (cfg.optimizer !== undefined) optimizer = oneOf(p('optimizer'), cfg.optimizer, ['gd', 'sgd', 'adam', 'lm'] as const);
  else if (pf.optimizer === 'gd-or-sgd') optimizer = batch === null ? 'gd' : 'sgd';
  else optimizer = pf.optimizer;
  if (optimizer === 'sgd' && batch === null) batch = Math.min(DEFAULTS.sgdBatch, n);
  if (optimizer === 'gd' && batch !== null && batch !== n) {
    throw new ConfigError(p('batch'), `optimizer gd is full batch, but batch = ${batch} (use optimizer: sgd for minibatches)`);
  }
  if (optimizer === 'gd') batch = null;
  if (batch !== null && batch > n) throw new ConfigError(p('batch'), `batch = ${batch} is larger than n = ${n}`);
  if (optimizer === 'lm' && batch !== null) throw new ConfigError(p('batch'), 'lm is a full-batch method; remove batch');
  if (optimizer === 'lm' && trainOutput) {
    throw new ConfigError(p('trainOutput'), 'lm trains W only (METHOD.md section 4); set trainOutput: false');
  }
  if (init === 'mirrored' && m % 2 !== 0) {
    throw new ConfigError(p('m'), `m = ${m} is odd, but init mirrored needs an even width (W0 = [W', W']); choose an even m`);
  }

  const projection = cfg.projection === undefined ? DEFAULTS.projection : oneOf(p('projection'), cfg.projection, ['global', 'per-neuron'] as const);
  let radius: ResolvedConfig['radius'] = DEFAULTS.radius;
  if (cfg.radius !== undefined) {
    const r = cfg.radius as unknown;
    if (r === 'auto') radius = 'auto';
    else if (typeof r === 'number') radius = posNum(p('radius'), r);
    else if (typeof r === 'object' && r !== null && !Array.isArray(r)) {
      checkKeys(p('radius'), r as Record<string, unknown>, ['relative']);
      radius = { relative: posNum(`${p('radius')}.relative`, (r as { relative?: unknown }).relative) };
    } else throw new ConfigError(p('radius'), `expected a positive number, auto, or { relative: c }, got ${describe(r)}`);
  }
  const kappa = cfg.kappa === undefined ? DEFAULTS.kappa : posNum(p('kappa'), cfg.kappa);
  let lr: number | 'auto' = DEFAULTS.lr;
  if (cfg.lr !== undefined) lr = cfg.lr === 'auto' ? 'auto' : posNum(p('lr'), cfg.lr);
  const lrScale = cfg.lrScale === undefined ? DEFAULTS.lrScale : posNum(p('lrScale'), cfg.lrScale);

  const resolved: ResolvedConfig = {
    method, n, d, m, seed, activation, data, init, optimizer, constraint, trainOutput,
    projection, radius, kappa, lr, lrScale, batch,
    momentum: cfg.momentum === undefined ? DEFAULTS.momentum : unitInterval(p('momentum'), cfg.momentum),
    beta1: cfg.beta1 === undefined ? DEFAULTS.beta1 : unitInterval(p('beta1'), cfg.beta1),
    beta2: cfg.beta2 === undefined ? DEFAULTS.beta2 : unitInterval(p('beta2'), cfg.beta2),
    adamEps: cfg.adamEps === undefined ? DEFAULTS.adamEps : posNum(p('adamEps'), cfg.adamEps),
    lmDamping: cfg.lmDamping === undefined ? DEFAULTS.lmDamping : posNum(p('lmDamping'), cfg.lmDamping),
    lmFactor: cfg.lmFactor === undefined ? DEFAULTS.lmFactor : posNum(p('lmFactor'), cfg.lmFactor),
    outputScale: cfg.outputScale === undefined ? DEFAULTS.outputScale : posNum(p('outputScale'), cfg.outputScale),
    iterations: cfg.iterations === undefined ? DEFAULTS.iterations : nonNegInt(p('iterations'), cfg.iterations),
    seconds: cfg.seconds === undefined ? DEFAULTS.seconds : atMost(p('seconds'), posNum(p('seconds'), cfg.seconds), MAX_SECONDS, ' (24.8 days, the longest a timer holds)'),
    epsilon: cfg.epsilon === undefined ? DEFAULTS.epsilon : nonNegNum(p('epsilon'), cfg.epsilon),
    logEvery: cfg.logEvery === undefined ? DEFAULTS.logEvery : nonNegInt(p('logEvery'), cfg.logEvery),
    certificateMaxN: cfg.certificateMaxN === undefined ? DEFAULTS.certificateMaxN : nonNegInt(p('certificateMaxN'), cfg.certificateMaxN),
    dtype: DEFAULTS.dtype,
    engine: cfg.engine === undefined ? DEFAULTS.engine : oneOf(p('engine'), cfg.engine, ['auto', 'ts', 'wasm', 'native', 'tfjs'] as const),
  };
  // tfjs computes in float32 only (and is float32 unless told otherwise); ts in float64 only.
  if (cfg.dtype !== undefined) resolved.dtype = oneOf(p('dtype'), cfg.dtype, ['float64', 'float32'] as const);
  else if (resolved.engine === 'tfjs') resolved.dtype = 'float32';
  if (resolved.engine === 'tfjs' && resolved.dtype !== 'float32') throw new ConfigError(p('dtype'), 'engine tfjs computes in float32 only; use dtype float32');
  if (resolved.engine === 'ts' && resolved.dtype !== 'float64') throw new ConfigError(p('dtype'), 'engine ts (the TypeScript reference) computes in float64 only');
  if (resolved.lmFactor <= 1) throw new ConfigError(p('lmFactor'), `expected a number > 1, got ${resolved.lmFactor}`);
  if (resolved.data.source !== 'csv' && resolved.data.source !== 'mnist' && resolved.data.labels === 'teacher' && resolved.data.teacherWidth === undefined) {
    // The teacher must not depend on m: every row of a phase table fits the same labels.
    resolved.data = canonicalData({ ...resolved.data, teacherWidth: d });
  }
  return resolved;
}
