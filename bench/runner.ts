// Benchmark of the sweep runner (not a test): `node dist/bench/runner.js [--quick] [--only=overhead,throughput,resume] [--iterations=40000] [--runs=32]`.
//  1. overhead per configuration over 10,000 one-iteration configurations (n=4, d=2, m=2), against
//     the peer: the same executeRun calls in a plain loop on the main thread, no runner;
//  2. throughput of 1 worker against 2 workers on CPU-bound configurations;
//  3. time to plan (expand and hash the grid) and to resume (index the journal, match it against
//     the grid, start and stop the pool) for 1,000,000 configurations with a synthetic journal.
import { mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { executeRun } from '../src/run.js';
import { CORE_SEMANTICS_VERSION } from '../src/core/version.js';
import { loadSpec } from '../src/sweep/spec.js';
import { gridSize, iterateGrid } from '../src/sweep/grid.js';
import { Coordinator, JOURNAL_FILE, planResume } from '../src/sweep/coordinator.js';
import { readJournalIndex, recordLine } from '../src/sweep/journal.js';
import { createProgress } from '../src/sweep/progress.js';
import type { JournalRecord } from '../src/sweep/types.js';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7) ?? 'overhead,throughput,resume';
const rows: Array<[string, string, string]> = [];
const now = () => performance.now() / 1000;

function specFile(dir: string, name: string, yaml: string): string {
  const f = join(dir, `${name}.yaml`);
  writeFileSync(f, yaml);
  return f;
}

async function sweep(specPath: string, outDir: string, threads: number): Promise<number> {
  const spec = loadSpec(specPath);
  const c = new Coordinator({
    spec, outDir, threads, retryFailed: false, runTimeoutSeconds: 600, refreshSeconds: 0,
    progress: createProgress('quiet', threads), log: () => {}, tables: false,
  });
  const t0 = now();
  await c.run();
  return now() - t0;
}

const work = mkdtempSync(join(tmpdir(), 'narrowsweep-bench-'));
try {
  // ---- 1. overhead per configuration ----
  if (only.includes('overhead')) {
    const N = quick ? 2000 : 10_000;
    const tiny = specFile(work, 'tiny', `name: tiny\ngrid: { n: [4], d: [2], m: [2], method: [pgd] }\ntrials: ${N}\nbudget: { iterations: 1, seconds: 60 }\n`);
    const tinySpec = loadSpec(tiny);
    const t0 = now();
    for (const e of iterateGrid(tinySpec)) await executeRun(e.config);
    const direct = now() - t0;
    const one = await sweep(tiny, join(work, 'tiny-1'), 1);
    const two = await sweep(tiny, join(work, 'tiny-2'), 2);
    const ms = (s: number) => `${((s / N) * 1000).toFixed(3)} ms`;
    rows.push([`${N} configs, plain executeRun loop (peer, no runner)`, ms(direct), 'per config']);
    rows.push([`${N} configs, runner, 1 worker`, ms(one), `overhead ${ms(one - direct)} per config (target < 1 ms)`]);
    rows.push([`${N} configs, runner, 2 workers`, ms(two), 'per config (wall / N)']);
  }

  // ---- 2. throughput, 1 worker against 2 ----
  if (only.includes('throughput')) {
    const R = Number(process.argv.find((a) => a.startsWith('--runs='))?.slice(7) ?? (quick ? 8 : 32));
    const iters = Number(process.argv.find((a) => a.startsWith('--iterations='))?.slice(13) ?? 40000);
    const cpu = specFile(work, 'cpu', `name: cpu\ngrid: { n: [200], d: [20], m: [20], method: [pgd] }\ntrials: ${R}\n` +
      `budget: { iterations: ${iters}, seconds: 600 }\nsuccess: { relLoss: 0 }\n`);
    const c1 = await sweep(cpu, join(work, 'cpu-1'), 1);
    const c2 = await sweep(cpu, join(work, 'cpu-2'), 2);
    rows.push([`${R} CPU-bound configs (pgd n=200 d=20 m=20, ${iters} it), 1 worker`, `${c1.toFixed(2)} s`, `${((R / c1) * 60).toFixed(1)} runs/min`]);
    rows.push([`${R} CPU-bound configs, 2 workers`, `${c2.toFixed(2)} s`, `speedup ${(c1 / c2).toFixed(2)}x (target >= 1.9x)`]);
    // The ceiling at this moment: the same 1-vs-2 comparison for raw threads running a pure JS loop
    // (the cores are shared with other jobs; a busy core caps both numbers alike).
    const busy = async (k: number) => {
      const t = now();
      const code = 'let x = 0; for (let i = 0; i < 3e8; i++) x += Math.sqrt(i); require("node:worker_threads").parentPort.postMessage(x);';
      await Promise.all(Array.from({ length: k }, () => new Promise((r) => new Worker(code, { eval: true }).once('message', r))));
      return now() - t;
    };
    const b1 = await busy(1);
    const b2 = await busy(2);
    rows.push(['control: raw threads, pure JS loop, 1 vs 2 (2x the work)', `${b1.toFixed(2)} s`, `speedup ${((2 * b1) / b2).toFixed(2)}x: the most 2 workers can give right now`]);
  }

  // ---- 3. plan and resume at 10^6 ----
  if (only.includes('resume')) {
    let t0 = now();
    const M = quick ? 100_000 : 1_000_000;
    const trials = M / 1000;
    const big = specFile(work, 'big', `name: big\ngrid:\n  n: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]\n` +
      '  d: [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]\n  m: [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]\n  method: [pgd]\n' +
      `trials: ${trials}\nbudget: { iterations: 1, seconds: 60 }\n`);
    const bigSpec = loadSpec(big);
    const size = gridSize(bigSpec);
    let count = 0;
    for (const _ of iterateGrid(bigSpec)) count++;
    const plan = now() - t0;
    if (count !== size || size !== M) throw new Error(`grid size ${size}, iterated ${count}, expected ${M}`);
    rows.push([`plan ${M} configs (validate, size, expand + hash every id)`, `${plan.toFixed(2)} s`, 'target < 5 s']);

    // A synthetic journal with one realistic record per configuration (a real result as template).
    const outDir = join(work, 'big-out');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(outDir);
    const template = (await executeRun({ method: 'pgd', n: 10, d: 2, m: 2, seed: 0, iterations: 1 })).result;
    const fd = openSync(join(outDir, JOURNAL_FILE), 'w');
    let buf: string[] = [];
    let bytes = 0;
    const started = new Date().toISOString();
    for (const e of iterateGrid(bigSpec)) {
      const rec: JournalRecord = {
        id: e.id, trial: e.trial, cell: e.cell, config: e.config, result: template, startedAt: started, finishedAt: started,
        wallSeconds: 0.001, host: hostname(), versions: { narrowsweep: '0.1.0', node: process.version, core: CORE_SEMANTICS_VERSION },
      };
      const line = recordLine(rec);
      buf.push(line);
      bytes += line.length;
      if (bytes > 8 << 20) { writeSync(fd, buf.join('')); buf = []; bytes = 0; }
  }
  writeSync(fd, buf.join(''));
  closeSync(fd);
  const mb = statSync(join(outDir, JOURNAL_FILE)).size / (1 << 20);
  t0 = now();
  const index = readJournalIndex(join(outDir, JOURNAL_FILE));
  const tIndex = now() - t0;
  if (index.entries.size !== M) throw new Error(`index has ${index.entries.size} ids`);
  t0 = now();
  const p = planResume(bigSpec, join(outDir, JOURNAL_FILE));
  const tPlan = now() - t0;
  if (p.reused !== M || p.fresh !== 0) throw new Error(`resume plan: ${p.reused} reused, ${p.fresh} new`);
  const tRun = await sweep(big, outDir, 2);
  rows.push([`index a journal of ${M} records (${mb.toFixed(0)} MB)`, `${tIndex.toFixed(2)} s`, 'id -> status, no full JSON parse']);
  rows.push([`resume plan: index + match against the grid`, `${tPlan.toFixed(2)} s`, 'target < 5 s']);
  rows.push([`resume: coordinator run with nothing left to do`, `${tRun.toFixed(2)} s`, 'incl. spec load, pool start/stop; tables off']);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const w0 = Math.max(...rows.map((r) => r[0].length));
const w1 = Math.max(...rows.map((r) => r[1].length));
console.log(`narrowsweep runner benchmark (${availableParallelism()} cores, node ${process.version}${quick ? ', --quick' : ''})\n`);
for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
