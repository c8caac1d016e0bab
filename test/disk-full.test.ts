// A full disk never publishes a cut-off file: a table whose write cannot complete is an error that
// names it, and the old table stays. Tested on a 200 KB tmpfs when the test runs as root (and may
// mount), and otherwise (and also) with writes made to fail in this process.
import test from 'ava';
import fs from 'node:fs';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aggregate } from '../src/report/aggregate.js';
import { Coordinator } from '../src/sweep/coordinator.js';
import { readJournal } from '../src/sweep/journal.js';
import { loadSpec } from '../src/sweep/spec.js';
import type { ProgressView } from '../src/sweep/progress.js';
import { syntheticJournal } from './helpers/records.js';
import { mountTmpfs, unmount } from './helpers/tmpfs.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'narrowsweep-diskfull-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

/**
 * Makes writes to files whose path matches `target` fail like a disk that fills up: the first
 * `after` writes to such a file go through, the next one writes half of what it was asked and
 * returns that count (a short write), every later one throws ENOSPC. Returns the function that
 * restores fs.
 */
function failWritesTo(target: RegExp, after = 0): () => void {
  const realOpen = fs.openSync;
  const realClose = fs.closeSync;
  const realWrite = fs.writeSync;
  const doomed = new Map<number, number>(); // fd -> writes so far
  (fs as { openSync: unknown }).openSync = (path: fs.PathLike, ...rest: unknown[]) => {
    const fd = (realOpen as (...a: unknown[]) => number)(path, ...rest);
    if (target.test(String(path))) doomed.set(fd, 0);
    return fd;
  };
  (fs as { closeSync: unknown }).closeSync = (fd: number) => { doomed.delete(fd); realClose(fd); };
  (fs as { writeSync: unknown }).writeSync = (fd: number, data: unknown, ...rest: unknown[]) => {
    const writes = doomed.get(fd);
    if (writes === undefined || writes < after) {
      if (writes !== undefined) doomed.set(fd, writes + 1);
      return (realWrite as (...a: unknown[]) => number)(fd, data, ...rest);
    }
    doomed.set(fd, writes + 1);
    if (writes > after) {
      const e = new Error('ENOSPC: no space left on device, write') as NodeJS.ErrnoException;
      e.code = 'ENOSPC'; e.errno = -28; e.syscall = 'write';
      throw e;
    }
    const buf = typeof data === 'string' ? Buffer.from(data) : Buffer.from((data as Uint8Array).subarray(
      typeof rest[0] === 'number' ? rest[0] : 0,
      typeof rest[0] === 'number' && typeof rest[1] === 'number' ? rest[0] + rest[1] : undefined));
    return realWrite(fd, buf, 0, Math.max(1, buf.length >> 1));
  };
  syncBuiltinESMExports();
  return () => {
    (fs as { openSync: unknown }).openSync = realOpen;
    (fs as { closeSync: unknown }).closeSync = realClose;
    (fs as { writeSync: unknown }).writeSync = realWrite;
    syncBuiltinESMExports();
  };
}

const temporaries = (dir: string) => readdirSync(dir).filter((f) => /\.tmp/.test(f));

test.serial('a short write of a table is an error naming it; the old table stays and no temporary file is left', async (t) => {
  const dir = join(work, 'short');
  mkdirSync(dir);
  writeFileSync(join(dir, 'runs.jsonl'), syntheticJournal(30));
  await aggregate(dir);
  const before = new Map(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))]));
  writeFileSync(join(dir, 'runs.jsonl'), syntheticJournal(60)); // new tables would differ
  for (const [file, re] of [['runs.csv', /runs\.csv\.tmp-/], ['summary.csv', /summary\.csv\.tmp-/]] as const) {
    const restore = failWritesTo(re);
    try {
      const e = await t.throwsAsync(() => aggregate(dir));
      t.regex(e?.message ?? '', new RegExp(`ENOSPC.*${file.replace('.', '\\.')}`));
      t.is((e as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      restore();
    }
    t.true(readFileSync(join(dir, file)).equals(before.get(file)!), `${file} was replaced by a partial write`);
    t.deepEqual(temporaries(dir), []);
  }
  rmSync(dir, { recursive: true });
});

test.serial('aggregate on a full 200 KB tmpfs: exit 2, one line naming the file, no cut-off table', async (t) => {
  const dir = join(work, 'tmpfs-agg');
  mkdirSync(dir);
  const mounted = mountTmpfs(dir, '200k');
  let restore: (() => void) | null = null;
  try {
    // a journal of about 180 KB: its runs.csv (about 46 KB) does not fit in what is left
    writeFileSync(join(dir, 'runs.jsonl'), syntheticJournal(mounted ? 125 : 40));
    if (mounted) {
      const r = spawnSync(process.execPath, [CLI, 'aggregate', dir], { encoding: 'utf8' });
      t.is(r.status, 2, r.stderr);
      t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
      t.regex(r.stderr, new RegExp(`^narrowsweep: cannot write ${dir}/[a-z.-]+(csv|json|svg): no space left`));
      t.notRegex(r.stderr, /internal error/);
    } else {
      t.log('not root or no mount: the full disk is simulated');
      restore = failWritesTo(/runs\.csv\.tmp-/);
      await t.throwsAsync(() => aggregate(dir), { code: 'ENOSPC', message: /runs\.csv/ });
    }
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.csv'))) {
      const text = readFileSync(join(dir, f), 'utf8');
      t.true(text.endsWith('\n'), `${f} is cut off`);
    }
    t.false(readdirSync(dir).includes('runs.csv'), 'runs.csv was published although it did not fit');
    t.deepEqual(temporaries(dir), []);
  } finally {
    restore?.();
    if (mounted) unmount(dir);
    rmSync(dir, { recursive: true, force: true });
  }
});

const QUIET: ProgressView = { start() {}, slotStart() {}, slotProgress() {}, slotEnd() {}, runDone() {}, log() {}, stop() {} };
const MANY = (name: string, trials: number) => `name: ${name}
grid: { method: [sgd], n: [16], d: [4], m: [2] }
trials: ${trials}
budget: { iterations: 20, seconds: 60 }
`;

test.serial('the journal meeting a full disk: the sweep stops with an error naming it, the journal holds whole records only, and it resumes', async (t) => {
  const specPath = join(work, 'journal-full.yaml');
  writeFileSync(specPath, MANY('journal-full', 12));
  const dir = join(work, 'journal-full');
  const sweep = () => new Coordinator({
    spec: loadSpec(specPath), outDir: dir, threads: 1, retryFailed: false, runTimeoutSeconds: null,
    refreshSeconds: 0, progress: QUIET, log: () => {}, tables: false,
  });
  // the first 5 records are written, the 6th only half (then the disk is full)
  const restore = failWritesTo(/runs\.jsonl$/, 5);
  try {
    await t.throwsAsync(() => sweep().run(), { code: 'ENOSPC', message: /runs\.jsonl/ });
  } finally {
    restore();
  }
  const { records, tornLine } = readJournal(join(dir, 'runs.jsonl'));
  t.is(tornLine, null, 'the half-written record was left in the journal');
  t.is(records.length, 5);
  t.deepEqual(temporaries(dir), []);
  const out = await sweep().run();
  t.is(out.plan.reused, 5);
  const all = readJournal(join(dir, 'runs.jsonl')).records;
  t.is(all.length, 12);
  t.is(new Set(all.map((r) => r.id)).size, 12);
  t.deepEqual(all.slice(0, 5).map((r) => r.id), records.map((r) => r.id));
});

// Only where a tmpfs can be mounted (root); elsewhere the test above covers the journal in-process.
const canMount = (() => {
  const probe = join(work, 'probe');
  mkdirSync(probe);
  const ok = mountTmpfs(probe, '64k');
  if (ok) unmount(probe);
  rmSync(probe, { recursive: true, force: true });
  return ok;
})();

(canMount ? test.serial : test.serial.skip)('run on a full 200 KB tmpfs: exit 2 naming the journal, an absolute resume command, a valid journal; resuming elsewhere completes', async (t) => {
  const dir = join(work, 'tmpfs-run');
  mkdirSync(dir);
  t.true(mountTmpfs(dir, '200k'));
  try {
    const specPath = join(work, 'full.yaml');
    writeFileSync(specPath, MANY('full', 150)); // about 270 KB of journal
    const r = spawnSync(process.execPath, [CLI, 'run', specPath, '--out', dir, '--workers', '1', '--quiet'], { encoding: 'utf8', cwd: work });
    t.is(r.status, 2, r.stderr);
    t.notRegex(r.stderr, /internal error|warning/);
    t.regex(r.stderr, new RegExp(`^narrowsweep: cannot write ${dir}/runs\\.jsonl: no space left on the device`));
    t.regex(r.stderr, new RegExp(`resume with:\n  node /\\S+/cli\\.js run ${specPath} --out ${dir} --workers 1 --quiet\n`));
    const { records, tornLine } = readJournal(join(dir, 'runs.jsonl'));
    t.is(tornLine, null);
    t.true(records.length > 50 && records.length < 150, `${records.length} records`);
    t.false(readdirSync(dir).includes('lock'));
    t.deepEqual(temporaries(dir), []);
    // again on the full disk: refused before any run (the lock or spec.json cannot be written), nothing left behind
    const again = spawnSync(process.execPath, [CLI, 'run', specPath, '--out', dir, '--workers', '1', '--quiet'], { encoding: 'utf8', cwd: work });
    t.is(again.status, 2, again.stderr);
    t.regex(again.stderr, /^narrowsweep: cannot write \S+: no space left on the device/);
    t.is(readJournal(join(dir, 'runs.jsonl')).records.length, records.length);
    t.deepEqual(temporaries(dir), []);
    t.false(readdirSync(dir).includes('lock'));
    // on a disk with room (a copy of the folder), the same sweep resumes and completes
    const copy = join(work, 'tmpfs-run-copy');
    fs.cpSync(dir, copy, { recursive: true });
    const r2 = spawnSync(process.execPath, [CLI, 'run', specPath, '--out', copy, '--workers', '1', '--quiet'], { encoding: 'utf8' });
    t.is(r2.status, 0, r2.stderr);
    const all = readJournal(join(copy, 'runs.jsonl')).records;
    t.is(all.length, 150);
    t.is(new Set(all.map((x) => x.id)).size, 150);
    t.deepEqual(all.slice(0, records.length), records);
  } finally {
    unmount(dir);
    rmSync(dir, { recursive: true, force: true });
  }
});
