// narrowsweep plan <spec>: validate a spec (nothing is written), then show its size, the values of
// every axis, a few sample configurations and an estimate of the CPU time.
import { parseArgs } from 'node:util';
import { ConfigError } from '../core/errors.js';
import { resolveConfig } from '../core/config.js';
import { referenceEngine } from '../core/reference.js';
import type { Dtype, Engine, EngineName } from '../core/types.js';
import { selectEngine } from '../engines/select.js';
import { loadSpec } from '../sweep/spec.js';
import type { Spec } from '../sweep/spec.js';
import { canonicalJson, cellCount, describeCell, gridSize, iterateCells, iterateGrid } from '../sweep/grid.js';
import type { GridEntry } from '../sweep/types.js';
import { explainFlagError } from '../core/suggest.js';

const USAGE = `usage: narrowsweep plan <spec.yaml|.json> [--samples K]

Validates the whole spec (nothing is written; errors exit with code 2) and prints the number of
configurations, the values of every axis, K sample configurations (default 3, distinct cells of the
first trial) and an estimate of the CPU time from a quick calibration of the step speed on the
engine the runs will use (engine auto: the native addon if it loads, else wasm, else TypeScript).`;

/** Calibration: an engine's step speed in flop/s at one shape, timed for about `seconds`. */
export function calibrateStep(n: number, d: number, m: number, seconds = 0.3, engine: Engine = referenceEngine): { flopsPerSecond: number; steps: number } {
  let s = 0x9e3779b9;
  const rand = (): number => { // xorshift32, in [-1, 1): the values do not matter, only the time
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 2 ** 31 - 1;
  };
  const X = Float64Array.from({ length: n * d }, rand);
  const y = Float64Array.from({ length: n }, rand);
  const p = engine.createProblem({ X, y, n, d, m, activation: 'tanh' });
  try {
    for (let q = 0; q < d * m; q++) p.W[q] = rand() / Math.sqrt(d);
    for (let j = 0; j < m; j++) p.v[j] = rand() / Math.sqrt(m);
    p.step(); // warm-up (JIT)
    let steps = 0;
    const t0 = process.hrtime.bigint();
    let elapsed = 0;
    while (steps < 2 || elapsed < seconds) {
      p.step();
      steps++;
      elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    }
    return { flopsPerSecond: (4 * n * d * m * steps) / elapsed, steps };
  } finally {
    p.dispose();
  }
}

/**
 * Floating-point operations of one run at most (METHOD.md 4, 5): every iteration is a fused step
 * over b rows (4 b d m: forward and both gradients), plus for lm the Gram matrix J J^T
 * (n^2 (d + m) multiply-adds) and its Cholesky factorisation (n^3 / 3); `lr: auto` costs about 40
 * Lanczos iterations of J J^T u (4 n d m each); the certificate sigma_min(J) at start and end a Gram
 * matrix, a Cholesky factorisation and about 60 solves (2 n^2 each) when n <= certificateMaxN.
 */
export function runFlops(cfg: ReturnType<typeof resolveConfig>): number {
  const { n, d, m } = cfg;
  const b = cfg.batch ?? n;
  const gram = 2 * n * n * (d + m), cholesky = (n * n * n) / 3;
  let perIter = 4 * b * d * m;
  if (cfg.optimizer === 'lm') perIter += gram + cholesky;
  const lrAuto = cfg.lr === 'auto' && cfg.optimizer !== 'lm' && cfg.optimizer !== 'adam' ? 40 * 4 * n * d * m : 0;
  const certificate = n <= cfg.certificateMaxN ? 2 * (gram + cholesky + 60 * 2 * n * n) : 0;
  return cfg.iterations * perIter + lrAuto + certificate;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'unbounded';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  if (seconds < 86400 * 2) return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

function valueText(v: unknown): string {
  return typeof v === 'string' ? v : canonicalJson(v);
}

function axesLines(spec: Spec): string[] {
  const lines: string[] = [];
  for (const f of spec.factors) {
    if (f.names.length === 1) {
      lines.push(`  ${f.names[0]}: ${f.tuples.length} value${f.tuples.length === 1 ? '' : 's'} (${f.tuples.map((t) => valueText(t[0])).join(', ')})`);
    } else {
      const where = f.paths[0]![0]!.replace(/[.[].*$/, '');
      lines.push(`  ${where} (${f.names.join(', ')}): ${f.tuples.length} tuples (${f.tuples.map((t) => `(${t.map(valueText).join(', ')})`).join(', ')})`);
    }
  }
  for (const f of spec.methodFactors) {
    lines.push(`  ${f.names[0]}: ${f.tuples.length} value${f.tuples.length === 1 ? '' : 's'} (${f.tuples.map((t) => valueText(t[0])).join(', ')}), ${f.method} runs only`);
  }
  lines.push(`  seeds: ${spec.seeds.length} (${spec.seeds.length <= 10 ? spec.seeds.join(', ') : `${spec.seeds.slice(0, 5).join(', ')}, ..., ${spec.seeds.at(-1)}`})`);
  return lines;
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { samples: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    console.error(`narrowsweep plan: ${explainFlagError((e as Error).message, ['samples', 'help'])}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) { console.log(USAGE); return 0; }
  if (parsed.positionals.length !== 1) {
    console.error(`narrowsweep plan: expected one spec file\n\n${USAGE}`);
    return 2;
  }
  const samples = parsed.values.samples === undefined ? 3 : Number(parsed.values.samples);
  if (!Number.isInteger(samples) || samples < 0) {
    console.error(`narrowsweep plan: --samples: expected a non-negative integer, got ${JSON.stringify(parsed.values.samples)}`);
    return 2;
  }
  const file = parsed.positionals[0]!;
  const t0 = performance.now();
  let spec: Spec;
  try {
    spec = loadSpec(file);
  } catch (e) {
    if (e instanceof ConfigError || (e as Error).name === 'DataError') {
      console.error(`narrowsweep: ${(e as Error).message}`);
      return 2;
    }
    throw e;
  }
  const tValid = performance.now();

  const total = gridSize(spec);
  const cells = cellCount(spec);
  // Per cell: its methods' share and its CPU bound (seeds do not change the cost).
  const perMethod = new Map<string, number>();
  const widths = new Set<number>();
  let flops = 0;
  let cappedSeconds = 0; // runs whose bound is their seconds budget
  let logN = 0; let logD = 0; let logM = 0;
  const costFlops = new Float64Array(cells);
  const costSeconds = new Float64Array(cells);
  // The engine each cell's runs ask for (engine and dtype may be axes): usually one.
  const engineKeys = new Map<string, number>();
  const wanted: Array<{ name: 'auto' | EngineName; dtype: Dtype; runs: number }> = [];
  const costEngine = new Uint16Array(cells);
  let c = 0;
  for (const { config } of iterateCells(spec)) {
    const r = resolveConfig({ ...config, seed: spec.seeds[0]! });
    const key = `${r.engine} ${r.dtype}`;
    let e = engineKeys.get(key);
    if (e === undefined) { e = wanted.length; engineKeys.set(key, e); wanted.push({ name: r.engine, dtype: r.dtype, runs: 0 }); }
    wanted[e]!.runs += spec.seeds.length;
    costEngine[c] = e;
    perMethod.set(r.method, (perMethod.get(r.method) ?? 0) + spec.seeds.length);
    widths.add(r.m);
    const f = runFlops(r);
    flops += f;
    costFlops[c] = f;
    costSeconds[c] = r.seconds;
    c++;
    logN += Math.log(r.n); logD += Math.log(r.d); logM += Math.log(r.m);
  }
  // Ids of every configuration (this is what `run` does before scheduling). The samples are spread
  // over distinct cells of the first trial (the cells are what differ; seeds only repeat them),
  // and only when there are more samples than cells do they go on into the next trials.
  const sampleAt = new Set<number>();
  const spread = Math.min(samples, cells);
  for (let k = 0; k < spread; k++) sampleAt.add(Math.floor((k * cells) / spread));
  for (let k = cells; k < Math.min(samples, total); k++) sampleAt.add(k);
  const picked: GridEntry[] = [];
  let hashed = 0;
  for (const e of iterateGrid(spec)) {
    if (sampleAt.has(e.index)) picked.push(e);
    hashed++;
  }
  const tIds = performance.now();

  // Calibrate at the geometric-mean shape (kept small enough to time a few steps).
  let n = Math.max(1, Math.round(Math.exp(logN / cells)));
  const d = Math.max(1, Math.round(Math.exp(logD / cells)));
  let m = Math.max(1, Math.round(Math.exp(logM / cells)));
  while (n * d * m > 2e6 && n > 1) n = Math.ceil(n / 2);
  while (n * d * m > 2e6 && m > 1) m = Math.ceil(m / 2);
  // Time the engine the runs will use: `auto` resolves here as it will in the workers.
  const timed: Array<(typeof wanted)[number] & { engine: Engine | null; cal: ReturnType<typeof calibrateStep> | null; note: string }> = [];
  for (const w of wanted) {
    let engine: Engine | null = null;
    let note = '';
    try {
      engine = await selectEngine(w.name, w.dtype, { quiet: true });
    } catch (err) {
      const why = (err as Error).message.split('\n')[0];
      if (w.dtype === 'float64') {
        engine = referenceEngine;
        note = `${why}; such runs will fail (timed on the TypeScript reference instead)`;
      } else note = `${why}; such runs will fail at once (not timed: their estimate is their seconds budget)`;
    }
    const cal = engine === null ? null : calibrateStep(n, d, m, 0.3, engine);
    timed.push({ ...w, engine, cal, note });
  }
  let cpuSeconds = 0;
  for (let k = 0; k < cells; k++) {
    const cal = timed[costEngine[k]!]!.cal;
    const s = cal === null ? Infinity : costFlops[k]! / cal.flopsPerSecond;
    if (s > costSeconds[k]!) cappedSeconds++;
    cpuSeconds += Math.min(s, costSeconds[k]!) * spec.seeds.length;
  }
  const engineText = (x: (typeof timed)[number]) => {
    const asked = x.name === 'auto' ? `engine auto -> ${x.engine?.name ?? 'none'}` : `engine ${x.name}`;
    const detail = x.engine?.detail ?? 'unavailable';
    const what = `${asked} (${detail.includes(x.dtype) ? detail : `${detail}, ${x.dtype}`})`;
    const speed = x.cal ? `${(x.cal.flopsPerSecond / 1e9).toFixed(2)} Gflop/s (${x.cal.steps} steps)` : 'not timed';
    return `${what}: ${speed}${timed.length > 1 ? `, ${x.runs} runs` : ''}${x.note ? `; ${x.note}` : ''}`;
  };

  const out: string[] = [];
  out.push(`spec ${file}: sweep "${spec.name}"${spec.description ? ` - ${spec.description}` : ''}`);
  out.push(`configurations: ${total} (${cells} cells x ${spec.seeds.length} seed${spec.seeds.length === 1 ? '' : 's'}), run in trial-major order`);
  out.push('axes:');
  out.push(...axesLines(spec));
  const mSorted = [...widths].sort((a, b) => a - b);
  if (spec.width === 'rho') out.push(`  m (from rho): ${mSorted.length} distinct widths, ${mSorted[0]} to ${mSorted.at(-1)}`);
  out.push(`per method: ${[...perMethod.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  out.push(`settings: ${canonicalJson(spec.defaults)}`);
  for (const [k, v] of Object.entries(spec.methods)) out.push(`  ${k}: ${canonicalJson(v)}`);
  if (spec.runTimeout !== null) out.push(`run timeout: ${spec.runTimeout} s`);
  if (picked.length) {
    out.push('sample configurations:');
    for (const e of picked) out.push(`  #${e.index} id ${e.id} trial ${e.trial}: ${describeCell(e.cell)}\n    ${JSON.stringify(e.config)}`);
  }
  const names = [...new Set(timed.map((x) => x.engine?.name ?? x.name))];
  out.push(`estimated CPU time: about ${formatDuration(cpuSeconds)} on one core with the ${names.join(' / ')} engine${names.length > 1 ? 's' : ''}` +
    ' the runs use (divide by the workers)');
  out.push(`  a model, not a measurement: runs that stop early (relLoss <= epsilon) take less, per-run costs the model` +
    ' leaves out (start-up, lm\'s Jacobians) can take more. Model: iterations x 4 b d m flop per run (+ lm\'s' +
    ` n x n solves and the sigma_min certificates), capped by each run's seconds budget${cappedSeconds ? ` (${cappedSeconds} of ${cells} cells hit that cap)` : ''};` +
    ` step timed at n=${n}, d=${d}, m=${m} on ${timed.map(engineText).join('; ')}`);
  out.push(`validated in ${((tValid - t0) / 1000).toFixed(2)} s; ${hashed} ids computed in ${((tIds - tValid) / 1000).toFixed(2)} s; nothing written`);
  console.log(out.join('\n'));
  return 0;
}
