// End-to-end cost of a training step (not a test): `node dist/bench/train.js [--rounds 5] [--engine native]
//   [--sizes 1000x50x40,...] [--short 200] [--long 20000]`.
// For each size it times whole `narrowsweep train --method gd` processes (epsilon 0, so the whole
// budget runs) at a short and a long iteration budget; (long - short) / (long - short iterations)
// is the time per step with start-up, certificates and output taken out. In the same round it times
// the engine's bare step in this process, so the machine's drift hits both alike. The ratio
// (train per step) / (kernel per step) is the overhead of the training loop around the kernel
// (updates, loss bookkeeping, budget checks); the bar is 1.15. Median over rounds.
import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { referenceEngine } from '../src/core/reference.js';
import { Rng } from '../src/core/rng.js';
import type { Engine } from '../src/core/types.js';
import { loadNativeEngine, nativeInfo } from '../src/engines/native.js';

type Size = [number, number, number];
const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '../src/cli.js');

function parse(argv: string[]): { rounds: number; engine: string; sizes: Size[]; short: number; long: number } {
  const o = { rounds: 5, engine: 'native', sizes: [[1000, 50, 40], [4000, 100, 80], [200, 10, 40], [2000, 784, 20]] as Size[], short: 200, long: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!, v = argv[++i];
    if (v === undefined) throw new Error(`${a}: expected a value`);
    if (a === '--rounds') o.rounds = Number(v);
    else if (a === '--engine') o.engine = v;
    else if (a === '--short') o.short = Number(v);
    else if (a === '--long') o.long = Number(v);
    else if (a === '--sizes') o.sizes = v.split(',').map((s) => s.split('x').map(Number) as Size);
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

async function engineFor(name: string): Promise<Engine> {
  if (name === 'native') {
    const e = loadNativeEngine('float64');
    if (e === null) throw new Error(`native engine unavailable: ${nativeInfo().reason}`);
    return e;
  }
  if (name === 'wasm') return (await import('../src/engines/wasm.js')).loadWasmEngine('float64');
  if (name === 'ts') return referenceEngine;
  throw new Error(`--engine: expected native, wasm or ts, got "${name}"`);
}

/** Seconds per bare step of `engine` at this size, over about `seconds` of steps. */
function kernelStep(engine: Engine, [n, d, m]: Size, seconds: number): number {
  const rng = new Rng(`bench-train|${n}|${d}|${m}`);
  const p = engine.createProblem({ X: rng.fillNormal(new Float64Array(n * d)), y: rng.fillNormal(new Float64Array(n)), n, d, m, activation: 'tanh' });
  p.W.set(rng.fillNormal(new Float64Array(d * m), 1 / Math.sqrt(d)));
  p.v.set(rng.fillNormal(new Float64Array(m), 1 / Math.sqrt(m)));
  for (let k = 0; k < 20; k++) p.step();
  let steps = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) { p.step(); steps++; }
  const s = (performance.now() - t0) / 1000 / steps;
  p.dispose();
  return s;
}

/** Wall seconds of one `narrowsweep train --method gd` process, and the iterations it reports. */
function trainProcess(engine: string, [n, d, m]: Size, iterations: number): { wall: number; iterations: number } {
  const args = [cli, 'train', '--method', 'gd', '--n', String(n), '--d', String(d), '--m', String(m), '--seed', '1',
    '--iterations', String(iterations), '--seconds', '100000', '--epsilon', '0', '--engine', engine, '--certificate-max-n', '0', '--quiet'];
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`train failed (${r.status}): ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { iterations: number; status: string };
  if (out.status !== 'ok') throw new Error(`train status ${out.status} at ${n}x${d}x${m}`);
  return { wall, iterations: out.iterations };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const engine = await engineFor(o.engine);
  let cpu = 'unknown';
  try { cpu = execFileSync('lscpu', { encoding: 'utf8' }).split('\n').find((l) => l.startsWith('Model name'))?.replace(/\s+/g, ' ') ?? cpu; } catch { /* no lscpu */ }
  console.log(`bench/train: narrowsweep train --method gd per step vs the bare ${engine.name} step (${engine.detail}), f64, tanh`);
  console.log(`${cpu}; node ${process.version}; ${o.rounds} rounds, median`);
  console.log('');
  const header = ['n x d x m', 'kernel ms/step', 'train ms/step', 'train / kernel', 'range', 'iterations'];
  const rows: string[][] = [header];
  for (const size of o.sizes) {
    const k = kernelStep(engine, size, 0.3);
    // Long enough that the long run's loop takes about 2 s; at least 10x the short budget.
    const long = o.long > 0 ? o.long : Math.max(10 * o.short, Math.round(2 / k));
    const kernels: number[] = [], trains: number[] = [], ratios: number[] = [];
    for (let round = 0; round < o.rounds; round++) {
      const a = trainProcess(o.engine, size, o.short);
      const kr = kernelStep(engine, size, 0.5);
      const b = trainProcess(o.engine, size, long);
      const per = (b.wall - a.wall) / (b.iterations - a.iterations);
      kernels.push(kr); trains.push(per); ratios.push(per / kr);
    }
    rows.push([size.join('x'), (median(kernels) * 1000).toFixed(4), (median(trains) * 1000).toFixed(4), median(ratios).toFixed(3),
      `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`, `${o.short} vs ${long}`]);
  }
  const w = header.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)));
  rows.forEach((r, i) => {
    console.log(r.map((c, j) => (j === 0 ? c.padEnd(w[j]!) : c.padStart(w[j]!))).join('  '));
    if (i === 0) console.log(w.map((x) => '-'.repeat(x)).join('  '));
  });
}

main().catch((err: unknown) => {
  console.error(`bench/train: ${(err as Error).message}`);
  process.exit(1);
});
