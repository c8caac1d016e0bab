// `narrowsweep train`: one configuration, result JSON on stdout.
import { parseArgs } from 'node:util';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { resolveConfig } from '../core/config.js';
import { writeFileAtomic } from '../files.js';
import { memoryProblem } from '../sweep/memory.js';
import type { DataSpec, RunConfig } from '../core/types.js';
import { executeRun } from '../run.js';
import { resolveData } from '../core/config.js';
import { dataCapacity, dataDimension, writeDatasetCsv } from '../data/load.js';
import { explainFlagError } from '../core/suggest.js';
import { attachNegativeNumbers } from './args.js';

const HELP = `usage: narrowsweep train --method <preset> --n N --d D --m M [options]

Trains one configuration and prints the result JSON (METHOD.md section 5) on stdout.

  --method gd|sgd|adam|pgd|mirror-gd|lecun-pgd|lm      preset (METHOD.md section 4)
  --n, --d, --m, --seed                                 sizes and seed (seed defaults to 0); with csv data n defaults
                                                        to the data rows minus --n-test and d to the columns minus
                                                        the label (a smaller --n takes the first rows); mnist: d 784
  --init lecun|mirrored  --optimizer gd|sgd|adam|lm  --constraint none|ball  --train-output true|false
  --activation tanh|sigmoid|softplus|swish|gelu|sin|relu
  --lr <number|auto>  --lr-scale c  --batch B  --momentum mu  --beta1  --beta2  --adam-eps
  --radius <number|auto|rel:c>  --kappa k  --projection global|per-neuron  --output-scale alpha
  --lm-damping mu0  --lm-factor f
  --iterations N  --seconds S  --epsilon eps  --log-every K  --certificate-max-n N
  --data gaussian|sphere|mnist|csv:<path>   --labels gaussian|sign|teacher|digits|parity|random
  --teacher-width K (default d)  --classes 3,8  --label-col C (0-based; default the last column)  --header auto|true|false  --n-test T  --standardize true|false
  --dtype float64|float32  --engine auto|native|wasm|ts|tfjs
  --config run.json        a RunConfig JSON file; flags override its fields
  --save-model model.json  final and initial parameters, the input transform (mean, scale) and the label map
  --save-data data.csv     the exact training data (label last); data.test.csv for a test split
  --quiet                  no progress lines on stderr`;

const OPTIONS = {
  method: { type: 'string' }, n: { type: 'string' }, d: { type: 'string' }, m: { type: 'string' }, seed: { type: 'string' },
  init: { type: 'string' }, optimizer: { type: 'string' }, constraint: { type: 'string' }, 'train-output': { type: 'string' },
  activation: { type: 'string' }, lr: { type: 'string' }, 'lr-scale': { type: 'string' }, batch: { type: 'string' },
  momentum: { type: 'string' }, beta1: { type: 'string' }, beta2: { type: 'string' }, 'adam-eps': { type: 'string' },
  radius: { type: 'string' }, kappa: { type: 'string' }, projection: { type: 'string' }, 'output-scale': { type: 'string' },
  'lm-damping': { type: 'string' }, 'lm-factor': { type: 'string' },
  iterations: { type: 'string' }, seconds: { type: 'string' }, epsilon: { type: 'string' }, 'log-every': { type: 'string' },
  'certificate-max-n': { type: 'string' },
  data: { type: 'string' }, labels: { type: 'string' }, 'teacher-width': { type: 'string' }, classes: { type: 'string' },
  'label-col': { type: 'string' }, header: { type: 'string' }, 'n-test': { type: 'string' }, standardize: { type: 'string' },
  dtype: { type: 'string' }, engine: { type: 'string' },
  config: { type: 'string' }, 'save-model': { type: 'string' }, 'save-data': { type: 'string' },
  quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

/** A number flag; the field name in errors is the flag. */
function num(flag: string, s: string): number {
  const x = Number(s);
  if (s.trim() === '' || !Number.isFinite(x)) throw new ConfigError(`--${flag}`, `expected a number, got "${s}"`);
  return x;
}
function boolFlag(flag: string, s: string): boolean {
  if (s === 'true') return true;
  if (s === 'false') return false;
  throw new ConfigError(`--${flag}`, `expected true or false, got "${s}"`);
}

/** Builds the RunConfig from --config and the flags. Exported for tests. */
export function configFromArgs(argv: string[]): { cfg: RunConfig; saveModel?: string; saveData?: string; quiet: boolean; help: boolean; notes: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args: attachNegativeNumbers(argv, OPTIONS), options: OPTIONS, strict: true, allowPositionals: false });
  } catch (e) {
    throw new ConfigError('', `${explainFlagError((e as Error).message, Object.keys(OPTIONS))}\n\n${HELP}`);
  }
  const v = parsed.values;
  const base: Record<string, unknown> = {};
  if (v.config) {
    try {
      Object.assign(base, JSON.parse(readFileSync(v.config, 'utf8')) as object);
    } catch (e) {
      throw new ConfigError('--config', `cannot read ${v.config}: ${(e as Error).message}`);
    }
  }
  const set = (key: keyof RunConfig, value: unknown) => { if (value !== undefined) base[key] = value; };
  const n = (flag: keyof typeof v) => (v[flag] === undefined ? undefined : num(flag, v[flag] as string));
  set('method', v.method);
  set('n', n('n')); set('d', n('d')); set('m', n('m')); set('seed', n('seed'));
  set('init', v.init); set('optimizer', v.optimizer); set('constraint', v.constraint);
  if (v['train-output'] !== undefined) set('trainOutput', boolFlag('train-output', v['train-output']));
  set('activation', v.activation);
  if (v.lr !== undefined) set('lr', v.lr === 'auto' ? 'auto' : num('lr', v.lr));
  set('lrScale', n('lr-scale')); set('batch', n('batch')); set('momentum', n('momentum'));
  set('beta1', n('beta1')); set('beta2', n('beta2')); set('adamEps', n('adam-eps'));
  if (v.radius !== undefined) {
    const r = v.radius;
    set('radius', r === 'auto' ? 'auto' : r.startsWith('rel:') ? { relative: num('radius', r.slice(4)) } : num('radius', r));
  }
  set('kappa', n('kappa')); set('projection', v.projection); set('outputScale', n('output-scale'));
  set('lmDamping', n('lm-damping')); set('lmFactor', n('lm-factor'));
  set('iterations', n('iterations')); set('seconds', n('seconds')); set('epsilon', n('epsilon'));
  set('logEvery', n('log-every')); set('certificateMaxN', n('certificate-max-n'));
  set('dtype', v.dtype); set('engine', v.engine);

  const dataFlags = ['data', 'labels', 'teacher-width', 'classes', 'label-col', 'header', 'n-test', 'standardize'] as const;
  if (dataFlags.some((f) => v[f] !== undefined)) {
    const data: Record<string, unknown> = { ...((base.data as object | undefined) ?? {}) };
    if (v.data !== undefined) {
      if (v.data.startsWith('csv:')) { data.source = 'csv'; data.path = v.data.slice(4); } else data.source = v.data;
    }
    if (data.source === undefined) data.source = 'gaussian';
    if (v.labels !== undefined) data.labels = v.labels;
    if (v['teacher-width'] !== undefined) data.teacherWidth = num('teacher-width', v['teacher-width']);
    if (v.classes !== undefined) data.classes = v.classes.split(',').map((c) => num('classes', c));
    if (v['label-col'] !== undefined) data.labelCol = num('label-col', v['label-col']);
    if (v.header !== undefined) data.header = v.header === 'auto' ? 'auto' : boolFlag('header', v.header);
    if (v['n-test'] !== undefined) data.nTest = num('n-test', v['n-test']);
    if (v.standardize !== undefined) data.standardize = boolFlag('standardize', v.standardize);
    base.data = data as unknown as DataSpec;
  }
  if (base.seed === undefined) base.seed = 0;
  const notes = v.help ? [] : sizesFromData(base);
  if (!v.help) {
    for (const k of ['method', 'n', 'd', 'm'] as const) {
      if (base[k] === undefined) throw new ConfigError(`--${k}`, `is required (narrowsweep train --help)`);
    }
  }
  return { cfg: base as unknown as RunConfig, saveModel: v['save-model'], saveData: v['save-data'], quiet: v.quiet ?? false, help: v.help ?? false, notes };
}

/**
 * Fills what the data file fixes: for csv data n (the data rows minus nTest) and d (the columns
 * minus the label), for mnist d (784). A given n smaller than the file takes its first rows; a
 * given d must match the file. Returns notes on what was taken from the file.
 */
function sizesFromData(base: Record<string, unknown>): string[] {
  if (base.data === undefined || (base.n !== undefined && base.d !== undefined)) return [];
  const spec = resolveData('data', base.data);
  const features = dataDimension(spec);
  if (features === null) return [];
  const what = spec.source === 'csv' ? spec.path : 'mnist';
  const notes: string[] = [];
  if (base.d === undefined) {
    base.d = features;
    notes.push(`d = ${features}${spec.source === 'csv' ? ' (the columns but the label)' : ' (28 x 28 pixels)'}`);
  } else if (base.d !== features) {
    throw new ConfigError('--d', `${String(base.d)}, but ${what} has ${features} features${spec.source === 'csv' ? ` (${features + 1} columns, one of them the label)` : ''}; give --d ${features} or leave it out`);
  }
  if (spec.source === 'csv' && base.n === undefined) {
    const rows = dataCapacity(spec), nTest = spec.nTest ?? 0;
    if (rows - nTest < 1) throw new ConfigError('--n-test', `${nTest} test rows leave no training rows: ${spec.path} has ${rows} data rows`);
    base.n = rows - nTest;
    notes.push(`n = ${rows - nTest} (${rows} data rows${nTest > 0 ? ` - ${nTest} test rows` : ''})`);
  }
  return [`${notes.join(', ')} from ${what}`];
}

/** Writes via a temporary file and a rename, so a crash (or a full disk) never leaves half a file. */
function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, text);
}

function rows(W: Float64Array, d: number, m: number): number[][] {
  return Array.from({ length: d }, (_, k) => Array.from(W.subarray(k * m, k * m + m)));
}

export async function main(argv: string[]): Promise<number> {
  const args = configFromArgs(argv);
  if (args.help) { console.log(HELP); return 0; }
  const showProgress = !args.quiet && process.stderr.isTTY === true;
  if (args.cfg.activation === 'relu' && !args.quiet) {
    process.stderr.write('narrowsweep: relu is not smooth, so it is outside the theory of METHOD.md (offered as a contrast only)\n');
  }
  // sizes whose arrays cannot be allocated are bad input, refused before any work (src/sweep/memory.ts)
  const memory = memoryProblem(resolveConfig(args.cfg));
  if (memory !== null) throw new ConfigError(`--${memory.field}`, memory.message);
  let out;
  try {
    out = await executeRun(args.cfg, {
      progressSeconds: 2,
      onProgress: showProgress ? (it, rel) => process.stderr.write(`\r  iteration ${it}  relLoss ${rel.toExponential(3)}   `) : undefined,
    });
  } catch (err) {
    const e = err as Error;
    if (e.name === 'ConfigError' || e.name === 'DataError') throw err;
    // Anything else is a failed run, reported as such (status error) rather than a stack trace.
    process.stdout.write(JSON.stringify({ status: 'error', message: e.message, success: false }, null, 2) + '\n');
    process.stderr.write(`narrowsweep: the run failed: ${e.message}\n`);
    return 1;
  }
  if (showProgress) process.stderr.write('\n');
  // after the run: bad input stays one line
  if (!args.quiet) for (const note of args.notes) process.stderr.write(`narrowsweep: ${note}\n`);
  const { result, model, dataset, resolved } = out;
  if (args.saveData) writeDatasetCsv(args.saveData, dataset);
  if (args.saveModel) {
    const { d, m } = resolved;
    writeAtomic(args.saveModel, JSON.stringify({
      activation: resolved.activation, d, m,
      W: rows(model.W, d, m), v: Array.from(model.v),
      W0: rows(model.W0, d, m), v0: Array.from(model.v0),
      // x = (raw[input.featureColumns] - input.mean) / input.scale, then F = s(x W) v
      input: dataset.input, labels: dataset.labels,
      relLoss: result.relLoss, trainRelLoss: result.relLoss, testRelLoss: result.testRelLoss,
      config: resolved,
    }) + '\n');
  }
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  return 0;
}
