// narrowsweep doctor: which engine a run would use and why, the CPU features the native addon
// found, its kernel build, and a short step benchmark of every engine that loads.
import { readFileSync } from 'node:fs';
import { referenceEngine } from '../core/reference.js';
import { Rng } from '../core/rng.js';
import type { Dtype, Engine, Problem } from '../core/types.js';
import { loadNativeEngine, nativeInfo, nativeLinalgInfo } from '../engines/native.js';
import { selectEngine } from '../engines/select.js';
import { didYouMean } from '../core/suggest.js';

const USAGE = `usage: narrowsweep doctor [--seconds 2]

Prints the engine that \`--engine auto\` selects (and why), the CPU features found, the native
kernel build, and a step benchmark (n x d x m = 1000x50x40, tanh; GFLOP/s at 4 n d m flops per
step) of each engine that loads, in interleaved slices over about --seconds seconds.`;

const [N, D, M] = [1000, 50, 40];

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** CPU features from /proc/cpuinfo, for when the addon (which reports its own) is missing. */
function procFeatures(): string[] {
  try {
    const flags = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'))?.split(':')[1]?.trim().split(/\s+/) ?? [];
    const wanted: Array<[string, string]> = [['sse2', 'sse2'], ['sse4_2', 'sse4.2'], ['avx', 'avx'], ['avx2', 'avx2'], ['fma', 'fma'],
      ['avx512f', 'avx512f'], ['avx512dq', 'avx512dq'], ['avx512vl', 'avx512vl'], ['avx512bw', 'avx512bw'], ['asimd', 'neon']];
    return wanted.filter(([flag]) => flags.includes(flag)).map(([, name]) => name);
  } catch {
    return [];
  }
}

async function engines(): Promise<{ list: Engine[]; notes: string[] }> {
  const list: Engine[] = [], notes: string[] = [];
  const nat = loadNativeEngine('float64');
  if (nat !== null) list.push(nat); else notes.push(`native: ${nativeInfo().reason ?? 'unavailable'}`);
  for (const [name, dtype] of [['wasm', 'float64'], ['tfjs', 'float32']] as Array<['wasm' | 'tfjs', Dtype]>) {
    try {
      list.push(await selectEngine(name, dtype, { quiet: true }));
    } catch (err) {
      notes.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  list.push(referenceEngine);
  return { list, notes };
}

function problem(engine: Engine): Problem {
  const rng = new Rng(`doctor|${N}|${D}|${M}`);
  const X = rng.fillNormal(new Float64Array(N * D)), y = rng.fillNormal(new Float64Array(N));
  const p = engine.createProblem({ X, y, n: N, d: D, m: M, activation: 'tanh' });
  p.W.set(rng.fillNormal(new Float64Array(D * M), 1 / Math.sqrt(D)));
  p.v.set(rng.fillNormal(new Float64Array(M), 1 / Math.sqrt(M)));
  return p;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] ?? NaN;
}

export async function main(argv: string[]): Promise<number> {
  let seconds = 2;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') { console.log(USAGE); return 0; }
    if (a === '--seconds') {
      seconds = Number(argv[++i]);
      if (!(seconds > 0)) { console.error('narrowsweep doctor: --seconds: expected a positive number'); return 2; }
    } else {
      console.error(`narrowsweep doctor: unknown option ${a}${a !== undefined && a.startsWith('-') ? didYouMean(a.replace(/^-+/, '--'), ['--seconds', '--help']) : ''}\n\n${USAGE}`);
      return 2;
    }
  }
  const info = nativeInfo();
  let chosen: string;
  try {
    const e = await selectEngine('auto', 'float64', { quiet: true });
    chosen = e.name === 'native' ? e.detail : `${e.detail}, because the native engine is unavailable: ${info.reason}`;
  } catch (err) {
    chosen = `none: ${(err as Error).message}`;
  }
  const features = info.cpuFeatures.length > 0 ? info.cpuFeatures : procFeatures();
  console.log(`engine (auto, float64): ${chosen}`);
  console.log(`native addon: ${info.available ? `available, kernel build ${info.variant} (usable here: ${info.variants.join(', ')})` : `unavailable (${info.reason})`}`);
  console.log(`CPU: ${cpuModel()}; features: ${features.join(' ') || 'unknown'}`);
  const la = nativeLinalgInfo();
  console.log(la.lapack !== null
    ? `linear algebra: ${la.lapack} (LAPACK and BLAS, ${la.threads} thread per worker): Gram matrix, Cholesky, eigenvalues`
    : `linear algebra: TypeScript (src/core/linalg.ts), because LAPACK is unavailable: ${la.reason}`);

  const { list, notes } = await engines();
  for (const note of notes) console.log(`  not benchmarked: ${note}`);
  console.log(`step benchmark, n x d x m = ${N}x${D}x${M}, tanh, about ${seconds} s in interleaved slices:`);
  const probs = list.map(problem);
  const rates: number[][] = list.map(() => []);
  const sliceSeconds = Math.min(0.1, seconds / (4 * list.length));
  const deadline = performance.now() + seconds * 1000;
  for (const p of probs) p.step(); // warm-up
  do {
    probs.forEach((p, k) => {
      let steps = 0;
      const t0 = performance.now();
      let ms = 0;
      do { p.step(); steps++; ms = performance.now() - t0; } while (ms < sliceSeconds * 1000);
      rates[k]!.push(steps / (ms / 1000));
    });
  } while (performance.now() < deadline);
  const flops = 4 * N * D * M;
  const rows = list.map((e, k) => {
    const r = median(rates[k]!);
    return [e.name, e.dtype, e.detail, (1000 / r).toFixed(3), (flops * r / 1e9).toFixed(2)];
  });
  const table = [['engine', 'dtype', 'detail', 'ms/step', 'GFLOP/s'], ...rows];
  const widths = table[0]!.map((_, j) => Math.max(...table.map((r) => r[j]!.length)));
  for (const r of table) console.log(`  ${r.map((c, j) => (j >= 3 ? c.padStart(widths[j]!) : c.padEnd(widths[j]!))).join('  ')}`);
  probs.forEach((p) => p.dispose());
  return 0;
}
