// Crash safety of the sweep runner: kill -9 and resume, torn journal lines, failure statuses,
// --retry-failed, the folder lock, Ctrl-C. Every test drives the real CLI as a child process.
import test from 'ava';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { JournalRecord } from '../src/sweep/types.js';
import { JournalWriter, entryStatus, entrySuccess, readJournal, readJournalIndex, recordLine } from '../src/sweep/journal.js';
import { loadSpec } from '../src/sweep/spec.js';
import { iterateGrid } from '../src/sweep/grid.js';
import { acquireLock, LockedError } from '../src/sweep/lock.js';
import { syntheticRecord } from './helpers/records.js';
import { deterministicTables } from './fixtures/tables.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'narrowsweep-resume-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function start(args: string[], opts: { nodeArgs?: string[]; env?: Record<string, string>; cwd?: string } = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env }, ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

function cli(args: string[], cwd?: string): Promise<CliResult> {
  return start(args, cwd !== undefined ? { cwd } : {}).done;
}

function writeSpec(name: string, yaml: string): string {
  const f = join(work, `${name}.yaml`);
  writeFileSync(f, yaml);
  return f;
}

function journalText(dir: string): string {
  const f = join(dir, 'runs.jsonl');
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
}

function completeLines(dir: string): string[] {
  const text = journalText(dir);
  return text.split('\n').slice(0, -1); // the part after the last newline is torn or empty
}

function recordsOf(dir: string): JournalRecord[] {
  const { records, tornLine } = readJournal(join(dir, 'runs.jsonl'));
  if (tornLine !== null) throw new Error(`${dir}: torn last line`);
  return records;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Preloaded into a child, makes it SIGKILL itself after CRASH_AFTER_LINES journal lines (CRASH_TORN=1: halfway through the last). */
const CRASH_AFTER_LINES = pathToFileURL(fileURLToPath(new URL('./fixtures/crash-after-lines.js', import.meta.url))).href;

/** Runs the CLI until it has written `lines` journal lines this session, then SIGKILLs it (with `torn`, in the middle of the last one). */
function crashAfter(args: string[], lines: number, torn: boolean): Promise<CliResult> {
  return start(args, { nodeArgs: ['--import', CRASH_AFTER_LINES], env: { CRASH_AFTER_LINES: String(lines), CRASH_TORN: torn ? '1' : '0' } }).done;
}

// deterministicTables (fixtures/tables.ts): every CSV with the wall-clock columns removed, compared
// byte for byte, and tables.json whole.

const CRASH_SPEC = `name: crash
grid: { n: [16], d: [4], rho: [1, 2, 3], method: [pgd, sgd, lm] }
trials: 4
budget: { iterations: 3000, seconds: 600 }
methods:
  pgd: { outputScale: 10 }
  lm: { outputScale: 10, iterations: 100 }
`;

test.serial('kill -9 at 3 journal line counts (one mid-line) and resume: same tables, no id twice, no finished run redone', async (t) => {
  const spec = writeSpec('crash', CRASH_SPEC);
  const total = [...iterateGrid(loadSpec(spec))].length;
  const ref = join(work, 'crash-ref');
  const r0 = await cli(['run', spec, '--out', ref, '--workers', '2', '--quiet']);
  t.is(r0.code, 0, r0.stderr);
  t.is(recordsOf(ref).length, total);

  const dir = join(work, 'crash');
  const args = ['run', spec, '--out', dir, '--workers', '2', '--quiet'];
  const survivors = new Map<string, string>(); // id -> its journal line, once it has survived a kill
  // Each session is killed right after its k-th journal line, or in the middle of it (torn): the
  // crash points are line counts, so they do not depend on how fast the runs go.
  const kills = [{ k: 5, torn: false }, { k: 7, torn: true }, { k: 9, torn: false }];
  let expected = 0;
  for (const { k, torn } of kills) {
    const result = await crashAfter(args, k, torn);
    t.is(result.signal, 'SIGKILL', `the session was to be killed at journal line ${k}: ${result.stderr}`);
    expected += torn ? k - 1 : k;
    const lines = completeLines(dir);
    t.is(lines.length, expected, `complete lines after the kill at line ${k}${torn ? ' (torn)' : ''}`);
    t.is(journalText(dir).endsWith('\n'), !torn, torn ? 'a torn last line is left' : 'the journal ends on a complete line');
    // No finished run is redone: every line that survived an earlier kill is still there, unchanged.
    const now = new Map(lines.map((l) => [(JSON.parse(l) as JournalRecord).id, l]));
    t.is(now.size, lines.length, 'an id appears twice in the journal');
    for (const [id, line] of survivors) t.is(now.get(id), line, `record ${id} changed or vanished after a resume`);
    for (const [id, line] of now) survivors.set(id, line);
  }
  t.true(expected < total, `${expected} of ${total} runs done before the last resume`);

  const r1 = await cli(args);
  t.is(r1.code, 0, r1.stderr);
  const lines = completeLines(dir);
  const ids = lines.map((l) => (JSON.parse(l) as JournalRecord).id);
  t.is(new Set(ids).size, ids.length, 'an id appears twice in the journal');
  t.is(ids.length, total);
  t.deepEqual([...ids].sort(), recordsOf(ref).map((r) => r.id).sort());
  const final = new Map(lines.map((l) => [(JSON.parse(l) as JournalRecord).id, l]));
  for (const [id, line] of survivors) t.is(final.get(id), line, `finished run ${id} was redone`);
  t.regex(r1.stdout, new RegExp(`${survivors.size} reused from the journal, ${total - survivors.size} new`));

  // Results: every run's deterministic fields equal the uninterrupted run's ...
  const strip = (r: JournalRecord) => {
    const { seconds: _s, milestones, curve: _c, ...res } = r.result;
    return { id: r.id, config: r.config, cell: r.cell, trial: r.trial, res, iters: milestones.map((m) => [m.threshold, m.iteration]) };
  };
  const byId = (rs: JournalRecord[]) => rs.map(strip).sort((x, y) => x.id.localeCompare(y.id));
  t.deepEqual(byId(recordsOf(dir)), byId(recordsOf(ref)));
  // ... and the tables are byte-identical once wall-clock columns are removed.
  const a = deterministicTables(ref);
  const b = deterministicTables(dir);
  t.true(a.size >= 3, `tables written: ${[...a.keys()].join(', ')}`);
  t.deepEqual([...b.keys()], [...a.keys()]);
  for (const [f, text] of a) t.is(b.get(f), text, `${f} differs from the uninterrupted run`);
});

test.serial('a torn last journal line is reported, cut away, and its run redone', async (t) => {
  const spec = writeSpec('torn', CRASH_SPEC.replace('name: crash', 'name: torn').replace('trials: 4', 'trials: 1'));
  const dir = join(work, 'torn');
  const r0 = await cli(['run', spec, '--out', dir, '--workers', '2', '--quiet']);
  t.is(r0.code, 0, r0.stderr);
  const lines = completeLines(dir);
  const last = lines[lines.length - 1]!;
  const lastRec = JSON.parse(last) as JournalRecord;
  // Rewrite the journal as if the crash hit halfway through the last append.
  writeFileSync(join(dir, 'runs.jsonl'), lines.slice(0, -1).join('\n') + '\n' + last.slice(0, Math.floor(last.length / 2)));
  t.not(readJournal(join(dir, 'runs.jsonl')).tornLine, null);
  const r1 = await cli(['run', spec, '--out', dir, '--workers', '2', '--quiet']);
  t.is(r1.code, 0, r1.stderr);
  t.regex(r1.stdout, /torn/);
  t.regex(r1.stdout, /1 new/);
  const after = completeLines(dir);
  t.true(journalText(dir).endsWith('\n'));
  t.is(after.length, lines.length);
  t.deepEqual(after.slice(0, -1), lines.slice(0, -1), 'records before the torn line are untouched');
  const redone = JSON.parse(after[after.length - 1]!) as JournalRecord;
  t.is(redone.id, lastRec.id);
  t.is(redone.result.relLoss, lastRec.result.relLoss); // runs are deterministic
});

test.serial('a run that throws, runs out of memory or times out is recorded with that status; --retry-failed reruns only those', async (t) => {
  const csv = join(work, 'data.csv');
  writeFileSync(csv, 'a,b,y\n' + Array.from({ length: 8 }, (_, i) => `${i},${i % 3},${i % 2}`).join('\n') + '\n');
  const spec = writeSpec('failures', `name: failures
grid: { method: [pgd], n: [4], d: [2], m: [2] }
zip:
  - { iterations: 50, logEvery: 0, data: { source: gaussian, labels: gaussian } }
  - { iterations: 60, logEvery: 0, data: { source: gaussian, labels: sign } }
  - { iterations: 1000000000, logEvery: 0, data: { source: gaussian, labels: gaussian } }
  - { iterations: 100000000, logEvery: 1, data: { source: gaussian, labels: gaussian } }
  - { iterations: 50, logEvery: 0, data: { source: csv, path: ${JSON.stringify(csv)}, labelCol: 7 } }
trials: 2
success: { relLoss: 0 }
budget: { seconds: 600 }
`);
  const dir = join(work, 'failures');
  const args = ['run', spec, '--out', dir, '--workers', '2', '--quiet', '--run-timeout', '6', '--worker-memory', '16'];
  const r0 = await cli(args);
  t.is(r0.code, 0, r0.stderr);
  const recs = recordsOf(dir);
  t.is(recs.length, 10);
  const statusOf = (r: JournalRecord) => {
    const c = r.config;
    if (c.data?.source === 'csv') return 'error';
    if (c.logEvery === 1) return 'oom';
    if (c.iterations === 1000000000) return 'timeout';
    return 'ok';
  };
  for (const r of recs) t.is(r.result.status, statusOf(r), `${JSON.stringify(r.config)}: ${r.result.message}`);
  const err = recs.find((r) => r.result.status === 'error')!;
  t.regex(err.result.message ?? '', /labelCol|column/);
  t.regex(recs.find((r) => r.result.status === 'oom')!.result.message ?? '', /out of memory/);

  // Without --retry-failed nothing runs again.
  const r1 = await cli(args);
  t.is(r1.code, 0, r1.stderr);
  t.regex(r1.stdout, /0 runs this session/);
  t.deepEqual(completeLines(dir), recs.map(recordLine).map((l) => l.slice(0, -1)));

  // With it, exactly the failed ones run again; the others keep their records.
  const r2 = await cli([...args, '--retry-failed']);
  t.is(r2.code, 0, r2.stderr);
  t.regex(r2.stdout, /6 failed to retry/);
  t.regex(r2.stdout, /6 runs this session/);
  const after = recordsOf(dir);
  t.is(after.length, 10);
  t.is(new Set(after.map((r) => r.id)).size, 10);
  const before = new Map(recs.map((r) => [r.id, r]));
  for (const r of after) {
    const old = before.get(r.id)!;
    if (statusOf(r) === 'ok') t.is(r.startedAt, old.startedAt, 'a successful run was redone');
    else t.not(r.startedAt, old.startedAt, 'a failed run was not retried');
    t.is(r.result.status, statusOf(r));
  }
  const archived = readFileSync(join(dir, 'runs.retried.jsonl'), 'utf8').trim().split('\n');
  t.is(archived.length, 6);
});

test.serial('a second coordinator is refused; Ctrl-C lets running runs finish and prints the resume command, which works from another folder', async (t) => {
  const spec = writeSpec('lock', `name: lock
grid: { method: [pgd], n: [16], d: [4], m: [8] }
trials: 12
budget: { iterations: 300000, seconds: 600 }
success: { relLoss: 0 }
`);
  const dir = join(work, 'lock');
  // started with paths relative to its folder; the resume command is pasted in another one
  const first = start(['run', 'lock.yaml', '--out', 'lock', '--workers', '2', '--quiet', '--grace', '60'], { cwd: work });
  while (completeLines(dir).length < 1) await sleep(10);
  const second = await cli(['run', spec, '--out', dir, '--workers', '1', '--quiet']);
  t.is(second.code, 2);
  t.regex(second.stderr, new RegExp(`already being run by pid ${first.child.pid}`));

  first.child.kill('SIGINT');
  const r = await first.done;
  t.is(r.code, 130, r.stderr);
  t.regex(r.stdout, /Resume with:\n {2}node \S+ run \S+ --out \S+ --workers 2 --grace 60 --quiet\n/);
  const recs = recordsOf(dir);
  t.true(recs.length < 12);
  t.false(existsSync(join(dir, 'lock')));
  // The printed command resumes: the rest runs, nothing twice.
  const resume = r.stdout.split('Resume with:\n  ')[1]!.trim().split(' ').slice(2); // drop "node <cli>"
  t.true(resume.every((a) => !a.includes('lock') || a.startsWith('/')), `relative paths in ${resume.join(' ')}`);
  const elsewhere = mkdtempSync(join(tmpdir(), 'narrowsweep-elsewhere-'));
  const r2 = await cli(resume, elsewhere);
  rmSync(elsewhere, { recursive: true });
  t.is(r2.code, 0, r2.stderr);
  const all = recordsOf(dir);
  t.is(all.length, 12);
  t.is(new Set(all.map((x) => x.id)).size, 12);
});

test.serial('Ctrl-C: runs still going after the grace period are dropped unrecorded; a second Ctrl-C stops at once', async (t) => {
  const spec = writeSpec('slow', `name: slow
grid: { method: [pgd], n: [16], d: [4], m: [8] }
trials: 4
budget: { iterations: 1000000000, seconds: 600 }
success: { relLoss: 0 }
`);
  const waitRunning = async (p: ReturnType<typeof start>) => {
    let out = '';
    p.child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
    while (!out.includes('configurations:')) await sleep(10);
    await sleep(500);
  };
  // Grace period over: the two running runs are dropped, nothing is journaled, resume is printed.
  const dirA = join(work, 'slow-grace');
  const a = start(['run', spec, '--out', dirA, '--workers', '2', '--quiet', '--grace', '1', '--run-timeout', '300']);
  await waitRunning(a);
  a.child.kill('SIGINT');
  const ra = await a.done;
  t.is(ra.code, 130, ra.stderr);
  t.regex(ra.stdout, /2 running at the end of the grace period were dropped and will rerun/);
  t.regex(ra.stdout, /Resume with:/);
  t.is(journalText(dirA), '');
  t.false(existsSync(join(dirA, 'lock')));
  // Second Ctrl-C: immediate exit, valid (empty) journal, lock released.
  const dirB = join(work, 'slow-twice');
  const b = start(['run', spec, '--out', dirB, '--workers', '2', '--quiet', '--grace', '300', '--run-timeout', '300']);
  await waitRunning(b);
  b.child.kill('SIGINT');
  await sleep(200);
  b.child.kill('SIGINT');
  const rb = await b.done;
  t.is(rb.code, 130, rb.stderr);
  t.regex(rb.stderr, /stopped at once; the journal is valid/);
  // One ending only, with the right count: the two running runs were dropped, none recorded.
  const both = rb.stdout + rb.stderr;
  t.is(both.match(/Resume with:/g)?.length, 1, both);
  t.notRegex(both, /Interrupted/);
  t.regex(rb.stdout, /0 runs this session \(0 succeeded\); 2 running when stopped at once were dropped and will rerun/);
  t.is(journalText(dirB), '');
  t.is(readJournal(join(dirB, 'runs.jsonl')).tornLine, null);
  t.false(existsSync(join(dirB, 'lock')));
});

test.serial('a stale lock (dead pid on this host) is taken over', async (t) => {
  const spec = writeSpec('stale', CRASH_SPEC.replace('name: crash', 'name: stale').replace('trials: 4', 'trials: 1'));
  const dir = join(work, 'stale');
  // A pid that surely is not running: a child that has exited.
  const dead = start(['--help']);
  await dead.done;
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: dead.child.pid, host: hostname(), startedAt: '2020-01-01T00:00:00.000Z' }));
  const r = await cli(['run', spec, '--out', dir, '--workers', '2', '--quiet']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, new RegExp(`stale lock of pid ${dead.child.pid}`));
  t.is(recordsOf(dir).length, 9);
  t.false(existsSync(join(dir, 'lock')));
});

test.serial('two coordinators taking over the same stale lock: the one that comes second yields to the first', async (t) => {
  const { mkdirSync } = await import('node:fs');
  const dir = join(work, 'stale-race');
  mkdirSync(dir, { recursive: true });
  const dead = start(['--help']);
  await dead.done;
  writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: dead.child.pid, host: hostname(), startedAt: '2020-01-01T00:00:00.000Z' }));
  // The other coordinator (the parent process stands in for it: a live pid) takes the stale lock
  // between our reading it and our moving it aside: we find its fresh lock in our hands.
  const other = JSON.stringify({ pid: process.ppid, host: hostname(), startedAt: '2026-12-01T00:00:00.000Z' });
  let notices = 0;
  const err = t.throws(() => acquireLock(dir, () => { notices++; writeFileSync(join(dir, 'lock'), other); }));
  t.true(err instanceof LockedError);
  t.regex(err!.message, new RegExp(`just taken over by pid ${process.ppid}`));
  t.is(notices, 1);
  t.is(readFileSync(join(dir, 'lock'), 'utf8'), other, 'the other coordinator keeps its lock');
  t.deepEqual(readdirSync(dir).sort(), ['lock']);
});

test.serial('a lock naming pid 0 or -1 (process groups, not a process) is stale and taken over', (t) => {
  for (const pid of [0, -1]) {
    const dir = join(work, `pid${pid}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid, host: hostname(), startedAt: '2020-01-01T00:00:00.000Z' }));
    const notices: string[] = [];
    const lock = acquireLock(dir, (m) => notices.push(m));
    t.is(lock.tookOver?.pid, pid);
    t.regex(notices.join('\n'), new RegExp(`stale lock of pid ${pid} .*not a valid pid`));
    lock.release();
    t.deepEqual(readdirSync(dir), []);
  }
});

test.serial('SIGHUP stops the coordinator like SIGTERM: running runs finish, the tables are written, the resume command printed', async (t) => {
  const spec = writeSpec('hangup', `name: hangup
grid: { method: [pgd], n: [16], d: [4], m: [8] }
trials: 12
budget: { iterations: 200000, seconds: 600 }
success: { relLoss: 0 }
`);
  const dir = join(work, 'hangup');
  const p = start(['run', spec, '--out', dir, '--workers', '2', '--quiet', '--grace', '60']);
  while (completeLines(dir).length < 1) await sleep(10);
  p.child.kill('SIGHUP');
  const r = await p.done;
  t.is(r.signal, null, 'killed by the signal');
  t.is(r.code, 130, r.stderr);
  t.regex(r.stdout, /SIGHUP: no new runs are started/);
  t.regex(r.stdout, /Resume with:\n {2}node \S+ run \S+ --out \S+ --workers 2 --grace 60 --quiet\n/);
  const recs = recordsOf(dir);
  t.true(recs.length >= 1 && recs.length < 12);
  t.regex(readFileSync(join(dir, 'summary.csv'), 'utf8'), /^method,/);
  t.regex(readFileSync(join(dir, 'tables.sha256'), 'utf8'), new RegExp(`\\(${recs.length} records\\)`));
  t.false(existsSync(join(dir, 'lock')));
});

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), read here independently of lock.ts. */
function startTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/)[19]);
}

test.serial('a lock of a live pid is refused only while that pid is the same process (start time); a reused pid is taken over', async (t) => {
  if (process.platform !== 'linux') { t.pass('start times are read from /proc (Linux only)'); return; }
  const { mkdirSync } = await import('node:fs');
  const dir = join(work, 'reused-pid');
  mkdirSync(dir, { recursive: true });
  const other = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const pid = other.pid!;
    while (!existsSync(`/proc/${pid}/stat`)) await sleep(5);
    const right = startTicks(pid);
    t.true(Number.isSafeInteger(right) && right > 0);
    const lockFile = join(dir, 'lock');
    const holder = { pid, host: hostname(), startedAt: '2020-01-01T00:00:00.000Z' };
    // The same process: refused.
    writeFileSync(lockFile, JSON.stringify({ ...holder, pidStart: right }));
    const e = t.throws(() => acquireLock(dir), { instanceOf: LockedError });
    t.regex(e?.message ?? '', new RegExp(`already being run by pid ${pid}`));
    t.is(JSON.parse(readFileSync(lockFile, 'utf8')).pid, pid, 'the lock is untouched');
    // The pid is alive but its start time differs: another process now has it, the lock is stale.
    writeFileSync(lockFile, JSON.stringify({ ...holder, pidStart: right - 1 }));
    const notices: string[] = [];
    const lock = acquireLock(dir, (m) => notices.push(m));
    t.is(lock.tookOver?.pid, pid);
    t.regex(notices.join('\n'), new RegExp(`stale lock of pid ${pid} .*now belongs to another process`));
    const mine = JSON.parse(readFileSync(lockFile, 'utf8'));
    t.is(mine.pid, process.pid);
    t.is(mine.pidStart, startTicks(process.pid));
    lock.release();
    t.false(existsSync(lockFile));
    // A lock without a start time (an older version) is decided by the pid alone: refused.
    writeFileSync(lockFile, JSON.stringify(holder));
    t.throws(() => acquireLock(dir), { instanceOf: LockedError });
  } finally {
    other.kill('SIGKILL');
  }
});

test('journal index reads id, status and success like JSON.parse, and the writer repairs a torn tail', (t) => {
  const f = join(work, 'unit.jsonl');
  const mk = (id: string, status: 'ok' | 'error', success: boolean, message: string | null): JournalRecord => {
    const r = syntheticRecord(0);
    return { ...r, id, result: { ...r.result, success, message, status } };
  };
  const { writer } = JournalWriter.open(f);
  writer.append(mk('a', 'ok', true, null));
  writer.append(mk('b', 'error', false, 'tricky "success":true inside a message'));
  writer.close();
  appendFileSync(f, JSON.stringify(mk('d', 'error', true, null)) + '\n'); // another key order: parsed in full
  appendFileSync(f, JSON.stringify(mk('c', 'ok', true, null)).slice(0, 30)); // torn
  const idx = readJournalIndex(f);
  t.is(idx.tornLine?.length, 30);
  t.deepEqual([...idx.entries].map(([id, e]) => [id, entryStatus(e), entrySuccess(e)]),
    [['a', 'ok', true], ['b', 'error', false], ['d', 'error', true]]);
  const opened = JournalWriter.open(f);
  t.is(opened.repairedTornLine?.length, 30);
  opened.writer.append(mk('c', 'ok', false, null));
  opened.writer.close();
  const read = readJournal(f);
  t.is(read.tornLine, null);
  t.deepEqual(read.records.map((r) => r.id), ['a', 'b', 'd', 'c']);
});
