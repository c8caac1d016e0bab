// What a stopped process leaves behind: its temporary files are removed by the next start (those of
// live processes stay), and tables.sha256, written last, tells one consistent set of tables from a
// mix that an interrupted aggregate left.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aggregate } from '../src/report/aggregate.js';
import { syntheticJournal } from './helpers/records.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'narrowsweep-leftovers-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const temporaries = (dir: string) => readdirSync(dir).filter((f) => /\.tmp|\.stale\./.test(f)).sort();

/** A pid that is surely not running: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

/** The files of tables.sha256 that do not match, or null when there is no manifest (checked here, not by narrowsweep). */
function manifestMismatches(dir: string): string[] | null {
  const f = join(dir, 'tables.sha256');
  if (!existsSync(f)) return null;
  const lines = readFileSync(f, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  return lines.map((l) => l.split('  ') as [string, string])
    .filter(([hash, name]) => !existsSync(join(dir, name)) || !statSync(join(dir, name)).isFile() || createHash('sha256').update(readFileSync(join(dir, name))).digest('hex') !== hash)
    .map(([, name]) => name);
}

test.serial('temporary files of dead processes are removed by the next aggregate, run and repair; those of live ones stay', (t) => {
  const dead = deadPid();
  const leftovers = [`runs.csv.tmp-${dead}-3`, `summary.csv.tmp-${dead}-0`, `lock.${dead}.tmp`, `lock.tmp-${dead}-1`, `lock.stale.${dead}`,
    `spec.json.${dead}.tmp`, `runs.jsonl.merge-${dead}.tmp`, `model.json.tmp-${dead}`];
  const alive = `runs.csv.tmp-${process.pid}-0`;
  const mine = 'notes.tmp.txt';
  for (const command of ['aggregate', 'run', 'repair']) {
    const dir = join(work, `stale-${command}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'runs.jsonl'), command === 'run' ? '' : syntheticJournal(4));
    for (const f of [...leftovers, alive, mine]) writeFileSync(join(dir, f), 'x'.repeat(100));
    const spec = join(work, 'stale.yaml');
    writeFileSync(spec, 'name: stale\ngrid: { method: [sgd], n: [16], d: [4], m: [2] }\nbudget: { iterations: 20, seconds: 60 }\n');
    const r = command === 'run' ? cli(['run', spec, '--out', dir, '--quiet']) : cli([command, dir]);
    t.is(r.status, 0, `${command}: ${r.stderr}`);
    t.deepEqual(temporaries(dir), [alive, mine].sort(), command);
    if (command !== 'aggregate') t.regex(r.stdout, /removed 8 temporary files/);
  }
});

test.serial('kill -9 in the middle of an aggregate: the next aggregate removes its temporary file and writes a whole set', async (t) => {
  const dir = join(work, 'killed');
  mkdirSync(dir);
  writeFileSync(join(dir, 'runs.jsonl'), syntheticJournal(40000)); // about 60 MB: runs.csv takes a while
  let caught = false;
  for (let attempt = 0; attempt < 5 && !caught; attempt++) {
    const child = spawn(process.execPath, [CLI, 'aggregate', dir, '--quiet'], { stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    let done = false;
    void exited.then(() => { done = true; });
    while (!done && !readdirSync(dir).some((f) => f.includes('.tmp-'))) await sleep(2);
    if (!done) { child.kill('SIGKILL'); caught = true; }
    await exited;
  }
  t.true(caught, 'the aggregate always finished before it could be killed');
  t.true(readdirSync(dir).some((f) => f.includes(`.tmp-`)), 'the kill left a temporary file');
  const r = cli(['aggregate', dir, '--quiet']);
  t.is(r.status, 0, r.stderr);
  t.deepEqual(temporaries(dir), []);
  t.deepEqual(manifestMismatches(dir), []);
});

test.serial('tables.sha256 is written last: it checks a whole set, and fails for the mix an interrupted aggregate leaves', async (t) => {
  const dir = join(work, 'manifest');
  mkdirSync(dir);
  writeFileSync(join(dir, 'runs.jsonl'), syntheticJournal(30));
  const out = await aggregate(dir);
  t.is(out.files[out.files.length - 1], join(dir, 'tables.sha256'));
  const manifest = readFileSync(join(dir, 'tables.sha256'), 'utf8');
  t.regex(manifest, /^# narrowsweep tables of runs\.jsonl at \d+ bytes \(30 records\); they are one set when `sha256sum -c tables\.sha256` passes in this folder\n/);
  const listed = manifest.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split('  ')[1]);
  t.deepEqual(listed, out.files.slice(0, -1).map((f) => f.slice(dir.length + 1)));
  t.deepEqual(manifestMismatches(dir), []);
  const sha = spawnSync('sha256sum', ['-c', '--quiet', 'tables.sha256'], { cwd: dir, encoding: 'utf8' });
  if (sha.error === undefined) t.is(sha.status, 0, sha.stdout + sha.stderr);

  // More records, and an aggregate that stops part way (boundary.csv cannot be replaced): runs.csv,
  // summary.csv and the phase table are new, the rest and the manifest old. The check fails.
  writeFileSync(join(dir, 'runs.jsonl'), syntheticJournal(60));
  rmSync(join(dir, 'boundary.csv'));
  mkdirSync(join(dir, 'boundary.csv', 'x'), { recursive: true });
  await t.throwsAsync(() => aggregate(dir), { message: /boundary\.csv/ });
  t.deepEqual(manifestMismatches(dir), ['runs.csv', 'summary.csv', 'phase-sgd.csv', 'boundary.csv']);
  const mixed = spawnSync('sha256sum', ['-c', '--quiet', 'tables.sha256'], { cwd: dir, encoding: 'utf8' });
  if (mixed.error === undefined) t.not(mixed.status, 0);
  rmSync(join(dir, 'boundary.csv'), { recursive: true });
  await aggregate(dir);
  t.deepEqual(manifestMismatches(dir), []);
  t.regex(readFileSync(join(dir, 'tables.sha256'), 'utf8'), /\(60 records\)/);
});
