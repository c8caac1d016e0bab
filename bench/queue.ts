// Benchmark of the work queue (not a test): `node dist/bench/queue.js [--quick] [--only=overhead,throughput] [--jobs=2000] [--runs=16] [--iterations=40000] [--rounds=3]`.
// Starts a throwaway redis-server (as the tests do) and measures, against the peer in the same run:
//  1. overhead per job over N one-iteration configurations: the queue (coordinator here, 1 worker
//     process of 1 thread) against the local pool of 1 thread;
//  2. throughput on CPU-bound configurations: 1 and 2 worker processes (1 thread each) against the
//     local pool with 1 and 2 threads, in runs per minute.
// Each measurement is a whole sweep: from the coordinator's start (journal, enqueueing) to its last
// journaled result; the worker processes are started and connected before the clock starts.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker as Thread } from 'node:worker_threads';
import { Queue } from 'bullmq';
import { Coordinator } from '../src/sweep/coordinator.js';
import { createProgress } from '../src/sweep/progress.js';
import { ConnectionWatch, parseQueueTarget } from '../src/sweep/queue.js';
import { QueueCoordinator } from '../src/sweep/queue-coordinator.js';
import { loadSpec } from '../src/sweep/spec.js';
import { startRedis } from '../test/fixtures/redis-server.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const quick = process.argv.includes('--quick');
const arg = (name: string, def: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def);
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7) ?? 'overhead,throughput';
const rows: Array<[string, string, string]> = [];
const now = () => performance.now() / 1000;

const redis = await startRedis();
const work = mkdtempSync(join(tmpdir(), 'narrowsweep-bench-queue-'));
let queues = 0;

function specFile(name: string, yaml: string): string {
  const f = join(work, `${name}.yaml`);
  writeFileSync(f, yaml);
  return f;
}

async function local(specPath: string, threads: number): Promise<number> {
  const spec = loadSpec(specPath);
  const c = new Coordinator({
    spec, outDir: join(work, `local-${threads}-${queues++}`), threads, retryFailed: false, runTimeoutSeconds: 600, refreshSeconds: 0,
    progress: createProgress('quiet', threads), log: () => {}, tables: false,
  });
  const t0 = now();
  await c.run();
  return now() - t0;
}

/** Starts `k` worker processes of one thread each on a fresh queue; resolves once all are connected. */
async function workers(k: number, name: string): Promise<{ stop(): Promise<void> }> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < k; i++) {
    children.push(spawn(process.execPath, [CLI, 'worker', '--queue', redis.url, '--queue-name', name, '--workers', '1', '--quiet'], { stdio: 'ignore' }));
  }
  const target = parseQueueTarget(redis.url, name);
  const watch = new ConnectionWatch(target, () => {});
  const q = new Queue(name, { connection: watch.connect() });
  while ((await q.getWorkersCount()) < k) await new Promise((r) => setTimeout(r, 50));
  await q.close();
  watch.close();
  return {
    async stop() {
      await Promise.all(children.map((c) => new Promise((r) => { c.once('exit', r); c.kill('SIGINT'); })));
    },
  };
}

async function queued(specPath: string, k: number): Promise<number> {
  const name = `bench-${queues++}`;
  const w = await workers(k, name);
  try {
    const spec = loadSpec(specPath);
    const c = new QueueCoordinator({
      spec, outDir: join(work, name), target: parseQueueTarget(redis.url, name), retryFailed: false, runTimeoutSeconds: 600,
      refreshSeconds: 0, progress: createProgress('quiet', 1), slots: 1, log: () => {}, tables: false,
    });
    const t0 = now();
    const o = await c.run();
    const dt = now() - t0;
    if (o.interrupted || o.finished.ok + o.finished.diverged !== o.plan.total) throw new Error(`queue sweep incomplete: ${JSON.stringify(o.finished)}`);
    return dt;
  } finally {
    await w.stop();
  }
}

try {
  if (only.includes('overhead')) {
    const N = arg('jobs', quick ? 500 : 2000);
    const tiny = specFile('tiny', `name: tiny\ngrid: { n: [4], d: [2], m: [2], method: [pgd] }\ntrials: ${N}\nbudget: { iterations: 1, seconds: 60 }\n`);
    const l1 = await local(tiny, 1);
    const q1 = await queued(tiny, 1);
    const q2 = await queued(tiny, 2);
    const ms = (s: number) => `${((s / N) * 1000).toFixed(3)} ms`;
    rows.push([`${N} one-iteration configs, local pool, 1 thread (peer)`, ms(l1), 'per config']);
    rows.push([`${N} one-iteration configs, queue, 1 worker process`, ms(q1), `overhead ${ms(q1 - l1)} per job (target < 5 ms)`]);
    rows.push([`${N} one-iteration configs, queue, 2 worker processes`, ms(q2), 'per job (wall / N)']);
  }
  if (only.includes('throughput')) {
    const R = arg('runs', quick ? 8 : 16);
    const iters = arg('iterations', 40000);
    const rounds = arg('rounds', quick ? 1 : 3);
    const cpu = specFile('cpu', `name: cpu\ngrid: { n: [200], d: [20], m: [20], method: [pgd] }\ntrials: ${R}\n` +
      `budget: { iterations: ${iters}, seconds: 600 }\nsuccess: { relLoss: 0 }\n`);
    // What the two shared cores give right now: raw threads running a pure JS loop, 1 vs 2.
    const busy = async (k: number) => {
      const t = now();
      const code = 'let x = 0; for (let i = 0; i < 3e8; i++) x += Math.sqrt(i); require("node:worker_threads").parentPort.postMessage(x);';
      await Promise.all(Array.from({ length: k }, () => new Promise((r) => new Thread(code, { eval: true }).once('message', r))));
      return now() - t;
    };
    // The machine's load drifts: every round measures all four back to back, and the table gives
    // the median of each time and of each round's ratios.
    const m: Record<'l1' | 'l2' | 'q1' | 'q2' | 'c', number[]> = { l1: [], l2: [], q1: [], q2: [], c: [] };
    for (let k = 0; k < rounds; k++) {
      m.l1.push(await local(cpu, 1));
      m.l2.push(await local(cpu, 2));
      m.q1.push(await queued(cpu, 1));
      m.q2.push(await queued(cpu, 2));
      const b1 = await busy(1);
      m.c.push((2 * b1) / (await busy(2)));
    }
    const median = (xs: number[]) => { const v = [...xs].sort((a, b) => a - b); return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2; };
    const ratio = (a: number[], b: number[]) => median(a.map((x, i) => x / b[i]!));
    const range = (a: number[], b: number[]) => { const r = a.map((x, i) => x / b[i]!); return rounds > 1 ? ` (rounds ${Math.min(...r).toFixed(2)}-${Math.max(...r).toFixed(2)})` : ''; };
    const rate = (s: number) => `${((R / s) * 60).toFixed(1)} runs/min`;
    const t = (xs: number[]) => `${median(xs).toFixed(2)} s`;
    rows.push([`${R} CPU-bound configs (pgd n=200 d=20 m=20, ${iters} it), local pool, 1 thread`, t(m.l1), rate(median(m.l1))]);
    rows.push([`${R} CPU-bound configs, local pool, 2 threads`, t(m.l2), `${rate(median(m.l2))}, speedup ${ratio(m.l1, m.l2).toFixed(2)}x`]);
    rows.push([`${R} CPU-bound configs, queue, 1 worker process`, t(m.q1), `${rate(median(m.q1))}, ${ratio(m.l1, m.q1).toFixed(2)}x the local pool's 1 thread`]);
    rows.push([`${R} CPU-bound configs, queue, 2 worker processes`, t(m.q2), `${rate(median(m.q2))}, speedup ${ratio(m.q1, m.q2).toFixed(2)}x over 1 worker${range(m.q1, m.q2)} (target >= 1.8x)`]);
    rows.push(['control: raw threads, pure JS loop, 1 vs 2 (2x the work)', '', `speedup ${median(m.c).toFixed(2)}x: the most 2 workers can give right now${rounds > 1 ? ` (rounds ${Math.min(...m.c).toFixed(2)}-${Math.max(...m.c).toFixed(2)})` : ''}`]);
  }
} finally {
  await redis.destroy();
  rmSync(work, { recursive: true, force: true });
}

const w0 = Math.max(...rows.map((r) => r[0].length));
const w1 = Math.max(...rows.map((r) => r[1].length));
console.log(`narrowsweep queue benchmark (${availableParallelism()} cores, node ${process.version}, redis on 127.0.0.1${quick ? ', --quick' : ''})\n`);
for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
