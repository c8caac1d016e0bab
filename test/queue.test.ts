// The work queue (run --queue, worker, status) against a real redis-server started here on
// 127.0.0.1 (a free port, a temporary directory; stopped and deleted afterwards). Every process is
// the real CLI; waits are on journal lines, worker output and queue counts, never on the clock.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { iterateGrid } from '../src/sweep/grid.js';
import { readJournal } from '../src/sweep/journal.js';
import {
  checkQueueName, jobIdOf, jobPriority, parseQueueTarget, PRIORITY_LIMIT, QueueInputError, redactUrl, splitJobId, sweepKey,
} from '../src/sweep/queue.js';
import { checkPayload, checkReturn, PayloadError } from '../src/sweep/queue-payload.js';
import { loadSpec } from '../src/sweep/spec.js';
import type { JournalRecord } from '../src/sweep/types.js';
import { freePort, startRedis } from './fixtures/redis-server.js';
import type { RedisServer } from './fixtures/redis-server.js';
import { deterministicTables } from './fixtures/tables.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'narrowsweep-queue-'));
const children = new Set<ChildProcess>();
const clients = new Set<Redis>();
let redis: RedisServer | null = null;

test.before(async () => { redis = await startRedis(); });
test.after.always(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const c of clients) c.disconnect();
  await redis?.destroy();
  rmSync(work, { recursive: true, force: true });
});

interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NARROWSWEEP_QUIET_ENGINE: '1' } });
  children.add(child);
  let stdout = '', stderr = '';
  child.stdout!.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
  const done = new Promise<Awaited<Proc['done']>>((resolve) => {
    child.on('close', (code, signal) => { children.delete(child); resolve({ code, signal, stdout, stderr }); });
  });
  return { child, out: () => stdout, err: () => stderr, done };
}

const cli = (args: string[]) => start(args).done;

/** Polls `cond` every 50 ms; fails with `what` if it does not hold within `ms`. */
async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 90_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const url = () => redis!.url;

/** A worker process of one thread on queue `name`, once it is taking jobs. */
async function worker(name: string, extra: string[] = [], server: RedisServer = redis!): Promise<Proc> {
  const p = start(['worker', '--queue', server.url, '--queue-name', name, '--workers', '1', ...extra]);
  await waitFor(`worker on ${name} to start`, () => /: 1 thread on queue/.test(p.out()) || p.child.exitCode !== null);
  if (p.child.exitCode !== null) throw new Error(`worker exited: ${p.err()}`);
  return p;
}

async function stopWorker(t: ExecutionContext, p: Proc): Promise<void> {
  if (p.child.exitCode !== null) return;
  p.child.kill('SIGINT');
  const r = await p.done;
  t.is(r.code, 0, `worker exit: ${r.stderr}`);
}

function queueOf(name: string, server: RedisServer = redis!): Queue {
  const c = new Redis({ host: '127.0.0.1', port: server.port, maxRetriesPerRequest: null });
  clients.add(c);
  return new Queue(name, { connection: c });
}

function writeSpec(name: string, yaml: string): string {
  const f = join(work, `${name}.yaml`);
  writeFileSync(f, yaml);
  return f;
}

function lineCount(dir: string): number {
  const f = join(dir, 'runs.jsonl');
  return existsSync(f) ? (readFileSync(f, 'utf8').match(/\n/g) ?? []).length : 0;
}

function records(dir: string): JournalRecord[] {
  const { records: recs, tornLine } = readJournal(join(dir, 'runs.jsonl'));
  if (tornLine !== null) throw new Error(`${dir}: torn last line`);
  return recs;
}

const gridIds = (specPath: string) => [...iterateGrid(loadSpec(specPath))].map((e) => e.id).sort();

/** Every configuration of the spec exactly once in the journal. */
function exactlyOnce(t: ExecutionContext, dir: string, specPath: string): JournalRecord[] {
  const recs = records(dir);
  const ids = recs.map((r) => r.id);
  t.is(new Set(ids).size, ids.length, 'an id appears twice in the journal');
  t.deepEqual([...ids].sort(), gridIds(specPath));
  return recs;
}

/** Tiny runs (milliseconds each). */
const FAST = (name: string, trials: number) => `name: ${name}
grid: { n: [12, 16], d: [3], rho: [1, 2, 3, 4, 5], method: [gd, pgd] }
trials: ${trials}
budget: { iterations: 300, seconds: 60 }
success: { relLoss: 1.0e-3 }
methods:
  pgd: { outputScale: 10 }
`;

/** Runs of a few tenths of a second, so that a kill lands in the middle of some. */
const SLOW = (name: string) => `name: ${name}
grid: { n: [100], d: [10], rho: [1, 2, 3], method: [pgd, gd] }
trials: 4
budget: { iterations: 30000, seconds: 600 }
success: { relLoss: 0 }
methods:
  pgd: { outputScale: 10 }
`;

test('queue URLs, queue names, sweep keys and job ids', (t) => {
  const a = parseQueueTarget('redis://:s3cr%2Ft@example.org:6380/2', 'q1', {});
  t.like(a, { host: 'example.org', port: 6380, db: 2, password: 's3cr/t', username: undefined, tls: false, name: 'q1' });
  t.is(a.shown, 'redis://:***@example.org:6380/2');
  t.like(parseQueueTarget('rediss://user:pw@[::1]', undefined, {}), { host: '::1', port: 6379, db: 0, username: 'user', password: 'pw', tls: true, name: 'narrowsweep' });
  t.is(parseQueueTarget('redis://h', undefined, { NARROWSWEEP_REDIS_PASSWORD: 'envpw' }).password, 'envpw');
  t.is(redactUrl('redis://user:secret@h:1/0'), 'redis://user:***@h:1/0');
  for (const bad of ['http://h:6379', 'localhost:6379', 'redis://', 'redis://h:99999', 'redis://:secret@h/x', 'redis://h/0?db=1', 'not a url']) {
    const e = t.throws(() => parseQueueTarget(bad, undefined, {}), { instanceOf: QueueInputError }, bad);
    t.regex(e!.message, /^--queue: .*; expected redis:\/\/\[:password@\]host\[:port\]\[\/db\] \(or rediss:\/\/ for TLS\), got /, bad);
    t.false(e!.message.includes('secret'), 'a password is never printed');
  }
  for (const bad of ['a:b', '', '-x', 'a b']) t.throws(() => checkQueueName(bad), { instanceOf: QueueInputError }, bad);

  // One sweep key per spec content, wherever the file is; another for an edited spec.
  const s1 = writeSpec('keyed', FAST('keyed', 2));
  const copy = join(work, 'elsewhere.yaml');
  copyFileSync(s1, copy);
  const key = sweepKey(loadSpec(s1));
  t.regex(key, /^keyed-[0-9a-f]{10}$/);
  t.is(sweepKey(loadSpec(copy)), key);
  t.not(sweepKey(loadSpec(writeSpec('keyed2', FAST('keyed', 3)))), key);
  for (const e of iterateGrid(loadSpec(s1))) {
    const jobId = jobIdOf(key, e.id);
    t.false(jobId.includes(':'));
    t.false(/^\d+$/.test(jobId));
    t.deepEqual(splitJobId(jobId), { key, runId: e.id });
  }
  t.is(splitJobId('12345'), null);
  t.is(splitJobId('x.notarunid'), null);
  t.is(jobPriority(0), 1);
  t.is(jobPriority(41), 42);
  t.is(jobPriority(1e9), PRIORITY_LIMIT);
});

test('payload and return-value checks: the spec schema, the id recomputed from the config', (t) => {
  const entry = [...iterateGrid(loadSpec(writeSpec('payload', FAST('payload', 1))))][0]!;
  const good = { v: 1, id: entry.id, config: entry.config, timeoutSeconds: 90 };
  t.deepEqual(checkPayload(JSON.parse(JSON.stringify(good)), entry.id).config, JSON.parse(JSON.stringify(entry.config)));
  const bad: Array<[unknown, RegExp]> = [
    ['rm -rf /', /^payload: expected a mapping/],
    [{ ...good, extra: 1 }, /^payload\.extra: unknown field/],
    [{ ...good, v: 2 }, /^payload\.v: /],
    [{ ...good, timeoutSeconds: 0 }, /^payload\.timeoutSeconds: /],
    [{ ...good, config: { ...entry.config, n: -3 } }, /^payload\.config\.n: expected a positive integer/],
    [{ ...good, config: { ...entry.config, lr: 'fast' } }, /^payload\.config\.lr: /],
    [{ ...good, config: { ...entry.config, shell: 'rm -rf /' } }, /^payload\.config\.shell: unknown field/],
    [{ ...good, config: { ...entry.config, data: { source: 'csv', path: '/nonexistent.csv' } } }, /nonexistent/],
    [{ ...good, config: { ...entry.config, seed: 99 } }, /^payload\.id: .* is not the id of its config/],
  ];
  for (const [data, re] of bad) {
    t.throws(() => checkPayload(data, entry.id), { instanceOf: PayloadError, message: re }, JSON.stringify(data));
  }
  t.throws(() => checkPayload(good, 'f'.repeat(20)), { instanceOf: PayloadError, message: /the job id names run f+/ });
  t.throws(() => checkReturn({ v: 1, id: entry.id }, entry.id), { instanceOf: PayloadError, message: /missing/ });
  t.throws(() => checkReturn('ok', entry.id), { instanceOf: PayloadError });
});

test('bad --queue input and an unreachable Redis: one line on stderr, exit 2, no results folder', async (t) => {
  const spec = writeSpec('unreachable', FAST('unreachable', 1));
  const out = join(work, 'unreachable-out');
  const closed = `redis://127.0.0.1:${await freePort()}`;
  const cases: Array<[string[], RegExp]> = [
    [['run', spec, '--out', out, '--queue', 'redis://:pw@h/x'], /^narrowsweep run: --queue: the path must be a database number .*got "redis:\/\/:\*\*\*@h\/x"\n$/],
    [['run', spec, '--out', out, '--queue', closed], /^narrowsweep: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.*\n$/],
    [['worker', '--queue', closed], /^narrowsweep worker: cannot reach Redis at .*ECONNREFUSED.*\n$/],
    [['status', '--queue', closed], /^narrowsweep status: cannot reach Redis at .*ECONNREFUSED.*\n$/],
    [['worker', '--queue', 'ftp://h'], /^narrowsweep worker: --queue: the scheme must be redis or rediss, not ftp; .*\n$/],
    [['run', spec, '--out', out, '--queue', url(), '--queue-name', 'a:b'], /^narrowsweep run: --queue-name: expected letters, digits/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(args);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, re, args.join(' '));
    t.false(r.stderr.includes('    at '), 'no stack trace');
  }
  const shard = await cli(['run', spec, '--out', out, '--queue', url(), '--shard', '1/2']);
  t.is(shard.code, 2);
  t.regex(shard.stderr, /^narrowsweep run: --shard: not with --queue/);
  t.false(existsSync(out), 'nothing was written');
});

test.serial('one coordinator, two worker processes: the tables are byte-identical to a local run; a second sweep on the same queue gets only its own runs', async (t) => {
  const specA = writeSpec('qa', FAST('qa', 2)); // 40 configurations
  const specB = writeSpec('qb', FAST('qb', 1).replace('rho: [1, 2, 3, 4, 5]', 'rho: [1, 2]')); // 8
  const ref = join(work, 'qa-local');
  const l = await cli(['run', specA, '--out', ref, '--workers', '2', '--quiet']);
  t.is(l.code, 0, l.stderr);

  const workers = [await worker('main'), await worker('main')];
  const dirA = join(work, 'qa-queue'), dirB = join(work, 'qb-queue');
  const [a, b] = await Promise.all([
    cli(['run', specA, '--out', dirA, '--queue', url(), '--queue-name', 'main', '--quiet']),
    cli(['run', specB, '--out', dirB, '--queue', url(), '--queue-name', 'main', '--quiet']),
  ]);
  t.is(a.code, 0, a.stderr);
  t.is(b.code, 0, b.stderr);
  t.regex(a.stdout, /40 configurations: 0 reused from the journal, 40 new\nqueue main at redis:\/\/127\.0\.0\.1:\d+: 40 jobs enqueued, 0 already queued, 0 finished results collected from the queue \(sweep qa-[0-9a-f]{10}\)\n/);

  const recsA = exactlyOnce(t, dirA, specA);
  exactlyOnce(t, dirB, specB);
  const local = new Map(records(ref).map((r) => [r.id, r]));
  for (const r of recsA) {
    const m = local.get(r.id)!;
    t.deepEqual([r.trial, r.cell, r.config], [m.trial, m.cell, m.config], r.id);
    t.is(r.result.relLoss, m.result.relLoss, `${r.id}: results bit-identical`);
    t.is(r.result.iterations, m.result.iterations);
    t.deepEqual(Object.keys(r), Object.keys(m), 'the same record format');
    t.deepEqual(Object.keys(r.result), Object.keys(m.result));
  }
  t.true(new Set(recsA.map((r) => r.host)).has(hostname()));
  const expected = deterministicTables(ref);
  const got = deterministicTables(dirA);
  t.true(expected.size >= 5, [...expected.keys()].join(' '));
  t.deepEqual([...got.keys()], [...expected.keys()]);
  for (const [f, text] of expected) t.is(got.get(f), text, `${f} differs from the local run`);
  for (const f of ['phase-gd.svg', 'phase-pgd.svg']) t.is(readFileSync(join(dirA, f), 'utf8'), readFileSync(join(ref, f), 'utf8'), f);

  // Every journaled job was removed from the queue; status shows the two workers and their host.
  const s = await cli(['status', '--queue', url(), '--queue-name', 'main']);
  t.is(s.code, 0, s.stderr);
  t.regex(s.stdout, /^queue main at redis:\/\/127\.0\.0\.1:\d+\njobs: 0 waiting, 0 active, 0 completed, 0 failed\nworkers: 2\n/);
  t.is(s.stdout.split('\n').filter((line) => line.startsWith(`  ${hostname()}  pid `) && line.includes('1 thread')).length, 2, s.stdout);
  for (const w of workers) await stopWorker(t, w);
});

test.serial('kill -9 of a worker mid-run: its job goes back after stall detection, and every configuration is journaled exactly once', async (t) => {
  const spec = writeSpec('qkill', SLOW('qkill'));
  const dir = join(work, 'qkill');
  const [w1, w2] = [await worker('kill', ['--stall-seconds', '2']), await worker('kill', ['--stall-seconds', '2'])];
  const c = start(['run', spec, '--out', dir, '--queue', url(), '--queue-name', 'kill', '--quiet']);
  // With jobs waiting, a worker holds its next job the moment it finishes one (BullMQ fetches it
  // in the same call), so after its second finished job it is always in the middle of a third.
  await waitFor('worker 1 to finish 2 jobs', () => (w1.out().match(/\] ok /g) ?? []).length >= 2);
  w1.child.kill('SIGKILL');
  const r = await c.done;
  t.is(r.code, 0, r.stderr);
  const recs = exactlyOnce(t, dir, spec);
  t.deepEqual([...new Set(recs.map((x) => x.result.status))], ['ok'], 'no run failed or was recorded twice');
  t.regex(r.stdout + w2.out(), /stalled \(its worker stopped renewing the lock/, 'the killed worker held a job');
  await stopWorker(t, w2);
});

test.serial('submitting the same sweep again adds nothing; results finished while no coordinator ran wait in the queue and are collected', async (t) => {
  const spec = writeSpec('qresub', FAST('qresub', 1).replace('rho: [1, 2, 3, 4, 5]', 'rho: [1, 2, 3]')); // 12
  const dir = join(work, 'qresub');
  const args = ['run', spec, '--out', dir, '--queue', url(), '--queue-name', 'resub', '--quiet'];
  const q = queueOf('resub');
  const waiting = async () => { const c = await q.getJobCounts('waiting', 'prioritized'); return (c.waiting ?? 0) + (c.prioritized ?? 0); };

  const s1 = await cli([...args, '--submit-only']);
  t.is(s1.code, 0, s1.stderr);
  t.regex(s1.stdout, /: 12 jobs enqueued, 0 already queued, 0 finished results collected/);
  const s2 = await cli([...args, '--submit-only']);
  t.is(s2.code, 0, s2.stderr);
  t.regex(s2.stdout, /: 0 jobs enqueued, 12 already queued, 0 finished results collected/);
  t.is(await waiting(), 12);
  t.is(lineCount(dir), 0);
  // The workers will take them in the local trial-major order.
  const order = (await q.getPrioritized(0, -1)).map((j) => splitJobId(j.id)!.runId);
  t.deepEqual(order, [...iterateGrid(loadSpec(spec))].map((e) => e.id));

  // A worker runs them all while no coordinator listens: the results stay in the queue ...
  const w = await worker('resub');
  await waitFor('12 completed jobs', async () => (await q.getCompletedCount()) === 12);
  await stopWorker(t, w);
  // ... where submitting again finds them (an add would be ignored) and journals them.
  const s3 = await cli([...args, '--submit-only']);
  t.is(s3.code, 0, s3.stderr);
  t.regex(s3.stdout, /: 0 jobs enqueued, 0 already queued, 12 finished results collected/);
  exactlyOnce(t, dir, spec);
  t.is(await q.getCompletedCount(), 0, 'journaled jobs are removed from the queue');
  const s4 = await cli(args);
  t.is(s4.code, 0, s4.stderr);
  t.regex(s4.stdout, /12 configurations: 12 reused from the journal, 0 new\n.*: 0 jobs enqueued, 0 already queued, 0 finished/);
  t.is(records(dir).length, 12);
  await q.close();
});

test.serial('a payload that violates the schema is rejected and recorded as failed, never run, and the worker goes on', async (t) => {
  const spec = writeSpec('qevil', FAST('qevil', 1).replace('rho: [1, 2, 3, 4, 5]', 'rho: [1]')); // 4
  const entries = [...iterateGrid(loadSpec(spec))];
  const key = sweepKey(loadSpec(spec));
  const q = queueOf('evil');
  const w = await worker('evil');
  const hex = (c: string) => c.repeat(20);
  const e0 = entries[0]!;
  await q.add('run', { v: 1, id: hex('a'), config: { method: 'pgd', n: -3, d: 2, m: 2, seed: 0 }, timeoutSeconds: 10 }, { jobId: `evil.${hex('a')}` });
  await q.add('run', 'require("child_process").exec("rm -rf /")', { jobId: `evil.${hex('b')}` });
  await q.add('run', { v: 1, id: hex('c'), config: e0.config, timeoutSeconds: 10 }, { jobId: `evil.${hex('c')}` }); // id not its config's
  await q.add('run', { v: 1, id: e0.id, config: e0.config, timeoutSeconds: 10 }, { jobId: 'no-run-id-here' });
  // and one squatting on a job id of the sweep below, before its coordinator adds it
  await q.add('run', { v: 1, id: e0.id, config: { ...e0.config, iterations: 'lots' }, timeoutSeconds: 10 }, { jobId: jobIdOf(key, e0.id) });
  await waitFor('5 failed jobs', async () => (await q.getFailedCount()) === 5);
  t.is(w.child.exitCode, null, 'the worker is still running');
  t.is((w.out().match(/rejected job /g) ?? []).length, 5);
  for (const job of await q.getFailed()) {
    t.regex(job.failedReason, /^rejected by [^/]+\/\d+\/1: (payload|job id)/, `${job.id}: ${job.failedReason}`);
    t.falsy(job.returnvalue, 'never executed');
  }

  // The worker goes on: the sweep runs, and its squatted job is replaced by the real one.
  const dir = join(work, 'qevil');
  const r = await cli(['run', spec, '--out', dir, '--queue', url(), '--queue-name', 'evil', '--quiet']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`job ${jobIdOf(key, e0.id)} holds a payload that is not this sweep's \\(payload\\.config\\.iterations: .*\\); it is removed and queued again`));
  const recs = exactlyOnce(t, dir, spec);
  t.deepEqual(recs.map((x) => x.result.status), ['ok', 'ok', 'ok', 'ok']);
  const s = await cli(['status', '--queue', url(), '--queue-name', 'evil']);
  t.regex(s.stdout, /jobs: 0 waiting, 0 active, 0 completed, 4 failed\n/);
  t.regex(s.stdout, /\(not narrowsweep jobs\) +0 waiting, 0 active, 0 completed, 1 failed\n/);
  t.regex(s.stdout, /latest failed jobs:\n( {2}.*: rejected by .*\n){4}/);
  await stopWorker(t, w);
  await q.close();
});

test.serial('Ctrl-C on a worker: a running job finishes within --grace, or goes back to the queue without one; no new job is taken', async (t) => {
  const spec = writeSpec('qgrace', `name: qgrace
grid: { n: [100], d: [10], m: [20], method: [pgd] }
trials: 3
budget: { iterations: 400000, seconds: 600 }
success: { relLoss: 0 }
`); // runs of a second or more
  const dir = join(work, 'qgrace');
  t.is((await cli(['run', spec, '--out', dir, '--queue', url(), '--queue-name', 'grace', '--quiet', '--submit-only'])).code, 0);
  const q = queueOf('grace');
  for (const [grace, after] of [['0', 'prioritized'], ['60', 'completed']] as const) {
    const w = await worker('grace', ['--grace', grace]);
    await waitFor('a running job', async () => (await q.getActiveCount()) === 1);
    const [job] = await q.getActive();
    w.child.kill('SIGINT');
    const r = await w.done;
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, new RegExp(`SIGINT: taking no new jobs; running ones get ${grace} s to finish`));
    t.is(await q.getJobState(job!.id!), after, `--grace ${grace}`);
    t.is((r.stdout.match(/\] ok /g) ?? []).length, after === 'completed' ? 1 : 0);
    t.deepEqual(await q.getJobCounts('active', 'failed'), { active: 0, failed: 0 });
  }
  t.is(await q.getPrioritizedCount(), 2, 'the other jobs wait');
  await q.obliterate({ force: true });
  await q.close();
});

test.serial('a coordinator killed with kill -9 mid-sweep and restarted resumes: no duplicates, nothing lost, nothing redone', async (t) => {
  const spec = writeSpec('qcoord', SLOW('qcoord'));
  const dir = join(work, 'qcoord');
  const args = ['run', spec, '--out', dir, '--queue', url(), '--queue-name', 'coord', '--quiet'];
  const workers = [await worker('coord'), await worker('coord')];
  const q = queueOf('coord');
  const c1 = start(args);
  await waitFor('4 journal lines', () => lineCount(dir) >= 4);
  c1.child.kill('SIGKILL');
  await c1.done;
  const before = readFileSync(join(dir, 'runs.jsonl'), 'utf8');
  const kept = before.slice(0, before.lastIndexOf('\n') + 1);
  // the workers go on; their results wait in the queue
  await waitFor('2 results waiting in the queue', async () => (await q.getCompletedCount()) >= 2);
  const r = await cli(args);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout + r.stderr, /lock/i, 'the dead coordinator\'s lock was taken over');
  const collected = Number(/(\d+) finished results collected from the queue/.exec(r.stdout)?.[1]);
  t.true(collected >= 2, r.stdout);
  exactlyOnce(t, dir, spec);
  t.true(readFileSync(join(dir, 'runs.jsonl'), 'utf8').startsWith(kept), 'the records from before the kill are untouched');
  for (const w of workers) await stopWorker(t, w);
  await q.close();
});

test.serial('Redis stopped for a few seconds mid-sweep (losing its data) and started again: the sweep completes', async (t) => {
  const server = await startRedis();
  try {
    const spec = writeSpec('qredis', SLOW('qredis'));
    const dir = join(work, 'qredis');
    const workers = [await worker('restart', [], server), await worker('restart', [], server)];
    const c = start(['run', spec, '--out', dir, '--queue', server.url, '--queue-name', 'restart', '--quiet']);
    await waitFor('4 journal lines', () => lineCount(dir) >= 4);
    await server.stop();
    await waitFor('the coordinator to notice', () => /lost the connection/.test(c.out()));
    await new Promise((r) => setTimeout(r, 3000)); // Redis stays down a few seconds
    await server.start();
    const r = await c.done;
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, /redis: lost the connection to redis:\/\/127\.0\.0\.1:\d+( \(.*\))?; retrying with backoff\n(.*\n)*redis: connected again/);
    exactlyOnce(t, dir, spec);
    for (const w of workers) {
      t.is(w.child.exitCode, null, 'the workers survived');
      t.regex(w.out(), /connected again/);
      await stopWorker(t, w);
    }
  } finally {
    await server.destroy();
  }
});
