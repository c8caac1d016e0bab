// Times the f64 training step (forward and both gradients, METHOD.md section 1, tanh) of every
// engine against numpy, in one run:
//   node dist/bench/step.js [--rounds 15] [--slice 0.2] [--sizes 1000x50x40,...] [--cpu N|none]
//                           [--python /usr/bin/python3] [--engines native,wasm,ts,tfjs] [--no-install]
// Without numpy, and as root with apt-get, it installs Debian's python3-numpy (with OpenBLAS) first;
// --no-install skips numpy with a message instead.
// numpy runs in one long-lived warm process (bench/step_numpy.py, OPENBLAS_NUM_THREADS=1). Each
// round gives numpy and then every engine a time slice of the same length; the figure reported
// is the median over rounds of (engine steps/s) / (numpy steps/s) in that round, so that the
// machine's drift (it changes speed by tens of percent within seconds) cancels. Both processes
// are pinned to one core with taskset when it exists. flops per step: 4 n d m.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { referenceEngine } from '../src/core/reference.js';
import { Rng } from '../src/core/rng.js';
import type { Dtype, Engine, Problem } from '../src/core/types.js';
import { loadNativeEngine, nativeInfo } from '../src/engines/native.js';

type Size = [number, number, number];
const DEFAULT_SIZES: Size[] = [[1000, 50, 40], [4000, 100, 80], [200, 10, 40], [2000, 784, 20]];
const here = dirname(fileURLToPath(import.meta.url));
const numpyScript = [join(here, 'step_numpy.py'), join(here, '../../bench/step_numpy.py')].find((p) => existsSync(p));

interface Options { rounds: number; slice: number; sizes: Size[]; cpu: string; python: string | null; engines: string[]; install: boolean }

function parseArgs(argv: string[]): Options {
  const o: Options = { rounds: 15, slice: 0.2, sizes: DEFAULT_SIZES, cpu: 'auto', python: null, engines: ['native', 'wasm', 'ts', 'tfjs'], install: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!, v = argv[i + 1];
    const need = (): string => { if (v === undefined) throw new Error(`${a}: expected a value`); i++; return v; };
    if (a === '--rounds') o.rounds = Number(need());
    else if (a === '--slice') o.slice = Number(need());
    else if (a === '--cpu') o.cpu = need();
    else if (a === '--python') o.python = need();
    else if (a === '--engines') o.engines = need().split(',');
    else if (a === '--no-install') o.install = false;
    else if (a === '--sizes') {
      o.sizes = need().split(',').map((s) => {
        const p = s.split('x').map(Number);
        if (p.length !== 3 || p.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`--sizes: expected NxDxM, got "${s}"`);
        return p as Size;
      });
    } else if (a === '--help') {
      console.log('usage: node dist/bench/step.js [--rounds 15] [--slice 0.2] [--sizes 1000x50x40,...] [--cpu N|none] [--python PATH] [--engines native,wasm,ts,tfjs] [--no-install]');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (!(o.rounds >= 1) || !(o.slice > 0)) throw new Error('--rounds and --slice must be positive');
  return o;
}

/** Re-runs this script under `taskset -c cpu` (once), so that node and python share one core. */
function pinned(o: Options): boolean {
  if (o.cpu === 'none' || process.env.NARROWSWEEP_BENCH_PINNED === '1') return false;
  if (spawnSync('taskset', ['--version']).status !== 0) return false;
  const cpu = o.cpu === 'auto' ? String(Math.max(0, (Number(execFileSync('nproc').toString().trim()) || 1) - 1)) : o.cpu;
  const r = spawnSync('taskset', ['-c', cpu, process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, NARROWSWEEP_BENCH_PINNED: '1', NARROWSWEEP_BENCH_CPU: cpu },
  });
  process.exit(r.status ?? 1);
}

// ---- numpy peer --------------------------------------------------------------------------------

function withoutOpenblasOverrides(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { OPENBLAS_CORETYPE: _c, OPENBLAS_L2_SIZE: _l, ...rest } = env;
  return rest;
}

const hasNumpy = (py: string): boolean => spawnSync(py, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

/** Installs Debian's numpy with OpenBLAS when apt-get is there and we are root; false otherwise. */
function installNumpy(): boolean {
  if (process.getuid?.() !== 0 || spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) return false;
  console.log('bench/step: no numpy found; installing python3-numpy and libopenblas0-pthread with apt-get ...');
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
  return spawnSync('apt-get', ['install', '-y', '-qq', 'python3-numpy', 'libopenblas0-pthread'], { stdio: 'ignore' }).status === 0;
}

class Numpy {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly waiting: Array<(v: Record<string, unknown>) => void> = [];
  private constructor(python: string, script: string) {
    this.proc = spawn(python, [script], {
      // OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE may be set on these machines to pin an older kernel
      // family; they slow a current OpenBLAS, so the peer runs without them (the core it picked is printed).
      env: { ...withoutOpenblasOverrides(process.env), OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: this.proc.stdout }).on('line', (line) => this.waiting.shift()?.(JSON.parse(line) as Record<string, unknown>));
    this.proc.stderr.on('data', (c: Buffer) => process.stderr.write(c));
  }

  static start(o: Options): { numpy: Numpy; python: string } | { numpy: null; why: string } {
    if (numpyScript === undefined) return { numpy: null, why: 'bench/step_numpy.py not found' };
    // Debian's python3 first: the default python3 may be a pyenv one without numpy.
    const candidates = o.python !== null ? [o.python] : ['/usr/bin/python3', 'python3'];
    for (let attempt = 0; attempt < 2; attempt++) {
      for (const py of candidates) if (hasNumpy(py)) return { numpy: new Numpy(py, numpyScript), python: py };
      if (attempt === 0 && (!o.install || !installNumpy())) break;
    }
    return { numpy: null, why: `no python with numpy among ${candidates.join(', ')} (Debian: apt-get install python3-numpy libopenblas0-pthread)` };
  }

  ask(msg: Record<string, unknown>): Promise<Record<string, unknown>> {
    return new Promise((resolve) => { this.waiting.push(resolve); this.proc.stdin.write(`${JSON.stringify(msg)}\n`); });
  }

  async slice(seconds: number): Promise<number> {
    const r = await this.ask({ cmd: 'run', seconds });
    return (r.steps as number) / (r.elapsed as number);
  }

  stop(): void { this.proc.stdin.end(JSON.stringify({ cmd: 'quit' }) + '\n'); }
}

// ---- engines -----------------------------------------------------------------------------------

interface Contender { label: string; detail: string; dtype: Dtype; engine: Engine }

async function contenders(o: Options): Promise<{ list: Contender[]; notes: string[] }> {
  const list: Contender[] = [], notes: string[] = [];
  for (const name of o.engines) {
    try {
      if (name === 'native') {
        const e = loadNativeEngine('float64');
        if (e === null) { notes.push(`native: unavailable (${nativeInfo().reason})`); continue; }
        list.push({ label: 'native', detail: e.detail, dtype: 'float64', engine: e });
      } else if (name === 'wasm') {
        const mod = (await import('../src/engines/wasm.js')) as { loadWasmEngine(d: Dtype): Promise<Engine> };
        const e = await mod.loadWasmEngine('float64');
        list.push({ label: 'wasm', detail: e.detail, dtype: 'float64', engine: e });
      } else if (name === 'ts') {
        list.push({ label: 'ts', detail: referenceEngine.detail, dtype: 'float64', engine: referenceEngine });
      } else if (name === 'tfjs') {
        const mod = (await import('../src/engines/tfjs.js')) as { loadTfjsEngine(): Promise<Engine> };
        const e = await mod.loadTfjsEngine();
        list.push({ label: 'tfjs', detail: e.detail, dtype: e.dtype, engine: e });
      } else {
        notes.push(`${name}: unknown engine name, skipped`);
      }
    } catch (err) {
      notes.push(`${name}: unavailable (${(err as Error).message.split('\n')[0]})`);
    }
  }
  return { list, notes };
}

function problem(c: Contender, n: number, d: number, m: number): Problem {
  const rng = new Rng(`bench-step|${n}|${d}|${m}`);
  const X = rng.fillNormal(new Float64Array(n * d)), y = rng.fillNormal(new Float64Array(n));
  const p = c.engine.createProblem({ X, y, n, d, m, activation: 'tanh' });
  p.W.set(rng.fillNormal(new Float64Array(d * m), 1 / Math.sqrt(d)));
  p.v.set(rng.fillNormal(new Float64Array(m), 1 / Math.sqrt(m)));
  return p;
}

/** Steps per second over one slice (at least one step). */
function slice(p: Problem, seconds: number): number {
  let steps = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  do {
    p.step();
    steps++;
    elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (elapsed < seconds);
  return steps / elapsed;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};

function cpuModel(): string {
  try {
    const line = execFileSync('lscpu', { encoding: 'utf8' }).split('\n').find((l) => l.startsWith('Model name'));
    if (line) return line.replace(/\s+/g, ' ').trim();
  } catch { /* no lscpu */ }
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) return `Model name: ${line.split(':')[1]?.trim()}`;
  } catch { /* not linux */ }
  return 'Model name: unknown';
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  pinned(o);
  const { list, notes } = await contenders(o);
  const np = Numpy.start(o);
  const info = nativeInfo();
  const la = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`bench/step: f64 step (tanh), ${o.rounds} rounds of ${o.slice} s slices per engine, median of per-round ratios`);
  console.log(`${cpuModel()}; CPU features ${info.cpuFeatures.join(' ') || 'unknown'}; native kernel ${info.variant}`);
  console.log(`node ${process.version}; pinned to CPU ${process.env.NARROWSWEEP_BENCH_CPU ?? 'none'}; load average at start ${la()}`);
  if (np.numpy !== null) {
    const v = await np.numpy.ask({ cmd: 'info' });
    const core = typeof v.core === 'string' && v.core !== '' ? `, OpenBLAS core ${v.core}` : '';
    console.log(`numpy ${String(v.numpy)} (${String(v.blas)}${core}) via ${np.python}, OPENBLAS_NUM_THREADS=1, warm server`);
  } else {
    console.log(`numpy: skipped, ${np.why}`);
  }
  for (const note of notes) console.log(`note: ${note}`);
  console.log('');
  const header = ['n x d x m', 'engine', 'dtype', 'ms/step', 'GFLOP/s', 'x numpy', 'ratio range'];
  const rows: string[][] = [header];
  for (const [n, d, m] of o.sizes) {
    const flops = 4 * n * d * m;
    const probs = list.map((c) => problem(c, n, d, m));
    if (np.numpy !== null) await np.numpy.ask({ cmd: 'setup', n, d, m, seed: 1 });
    const rates: number[][] = list.map(() => []), ratios: number[][] = list.map(() => []), npRates: number[] = [];
    for (let round = 0; round <= o.rounds; round++) {
      const npRate = np.numpy !== null ? await np.numpy.slice(o.slice) : NaN;
      const these = probs.map((p) => slice(p, o.slice));
      if (round === 0) continue; // warm-up round
      npRates.push(npRate);
      these.forEach((r, k) => { rates[k]!.push(r); ratios[k]!.push(r / npRate); });
    }
    const size = `${n}x${d}x${m}`;
    if (np.numpy !== null) {
      const r = median(npRates);
      rows.push([size, 'numpy', 'float64', (1000 / r).toFixed(3), (flops * r / 1e9).toFixed(1), '1.00', '']);
    }
    list.forEach((c, k) => {
      const r = median(rates[k]!);
      const ratio = np.numpy !== null ? median(ratios[k]!).toFixed(2) : '-';
      const range = np.numpy !== null ? `${Math.min(...ratios[k]!).toFixed(2)}-${Math.max(...ratios[k]!).toFixed(2)}` : '';
      const label = c.label === 'native' ? `native ${info.variant}` : c.label;
      rows.push([np.numpy !== null || k > 0 ? '' : size, label, c.dtype, (1000 / r).toFixed(3), (flops * r / 1e9).toFixed(1), ratio, range]);
    });
    probs.forEach((p) => p.dispose());
  }
  const widths = header.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((cell, j) => (j >= 3 ? cell.padStart(widths[j]!) : cell.padEnd(widths[j]!))).join('  ').trimEnd());
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  console.log('');
  console.log(`load average at end ${la()}`);
  np.numpy?.stop();
}

main().catch((err: unknown) => {
  console.error(`bench/step: ${(err as Error).message}`);
  process.exit(1);
});
