// Quick speed check of the wasm engine (float64, float32) against the TS reference (the peer, measured
// in the same run): full-batch step() with tanh, in GFLOP/s counting 4 n d m flops per step.
// Best of several repeats, both by wall clock and by this process's CPU time (the machine is shared,
// so wall clock also counts time spent descheduled).
// Usage: npm run build && node dist/bench/wasm-quick.js [repeats]
import { ReferenceProblem } from '../src/core/reference.js';
import { Rng } from '../src/core/rng.js';
import type { Problem, ProblemSpec } from '../src/core/types.js';
import { loadWasmEngine } from '../src/engines/wasm.js';

const SIZES: Array<[number, number, number]> = [[1000, 50, 40], [4000, 100, 80], [200, 10, 40], [2000, 784, 20]];
const repeats = Number(process.argv[2] ?? 7);

const cpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

/** [wall, cpu] GFLOP/s, best of `repeats` timings of ~0.2 s each. */
function gflops(p: Problem, flopsPerStep: number): [number, number] {
  let steps = 1;
  for (;;) {
    const t = performance.now();
    for (let s = 0; s < steps; s++) p.step();
    const ms = performance.now() - t;
    if (ms > 50) { steps = Math.max(1, Math.round(steps * 200 / ms)); break; }
    steps *= 4;
  }
  let wall = 0, cpu = 0;
  for (let r = 0; r < repeats; r++) {
    const t = performance.now(), c = cpuMs();
    for (let s = 0; s < steps; s++) p.step();
    const flops = flopsPerStep * steps;
    wall = Math.max(wall, flops / ((performance.now() - t) / 1000) / 1e9);
    cpu = Math.max(cpu, flops / ((cpuMs() - c) / 1000) / 1e9);
  }
  return [wall, cpu];
}

const w64 = await loadWasmEngine('float64');
const w32 = await loadWasmEngine('float32');
console.log(`GFLOP/s (wall / cpu), best of ${repeats}, tanh, full batch`);
console.log('n x d x m            ts f64          wasm f64        wasm f32');
for (const [n, d, m] of SIZES) {
  const rng = new Rng(`bench|${n}|${d}|${m}`);
  const spec: ProblemSpec = {
    X: rng.fillNormal(new Float64Array(n * d)), y: rng.fillNormal(new Float64Array(n)), n, d, m, activation: 'tanh',
  };
  const W = rng.fillNormal(new Float64Array(d * m), 1 / Math.sqrt(d));
  const v = rng.fillNormal(new Float64Array(m), 1 / Math.sqrt(m));
  const row = [new ReferenceProblem(spec), w64.createProblem(spec), w32.createProblem(spec)].map((p) => {
    p.W.set(W); p.v.set(v);
    const [wall, cpu] = gflops(p, 4 * n * d * m);
    p.dispose();
    return `${wall.toFixed(2).padStart(6)} / ${cpu.toFixed(2).padStart(6)}`;
  });
  console.log(`${n} x ${d} x ${m}`.padEnd(20), row.join('  '));
}
