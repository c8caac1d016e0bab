// What a stopped process leaves behind: tables.sha256, written last, tells one consistent set of
// tables from a mix that an interrupted aggregate left.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aggregate } from '../src/report/aggregate.js';
import { syntheticJournal } from './helpers/records.js';

const work = mkdtempSync(join(tmpdir(), 'narrowsweep-leftovers-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));


/** The files of tables.sha256 that do not match, or null when there is no manifest (checked here, not by narrowsweep). */
function manifestMismatches(dir: string): string[] | null {
  const f = join(dir, 'tables.sha256');
  if (!existsSync(f)) return null;
  const lines = readFileSync(f, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  return lines.map((l) => l.split('  ') as [string, string])
    .filter(([hash, name]) => !existsSync(join(dir, name)) || !statSync(join(dir, name)).isFile() || createHash('sha256').update(readFileSync(join(dir, name))).digest('hex') !== hash)
    .map(([, name]) => name);
}

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
