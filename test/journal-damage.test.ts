// A damaged journal is refused the same way by run, aggregate and merge (one line naming the file
// and line, exit 2, nothing written), `narrowsweep repair` moves the damaged lines aside, and a last
// line that is not a record is really dropped. Every test drives the real CLI.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aggregate } from '../src/report/aggregate.js';
import { syntheticJournal } from './helpers/records.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'narrowsweep-damage-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SPEC = `name: damage
grid: { method: [sgd], n: [16], d: [4], m: [2, 4] }
trials: 2
budget: { iterations: 50, seconds: 60 }
`;
const spec = join(work, 'damage.yaml');
writeFileSync(spec, SPEC);

/** A finished sweep of 4 runs, copied fresh for each test (run once). */
const done = join(work, 'done');
let ran = false;
function finishedFolder(name: string): string {
  if (!ran) {
    const r = cli(['run', spec, '--out', done, '--workers', '1', '--quiet']);
    if (r.code !== 0) throw new Error(r.stderr);
    ran = true;
  }
  const dir = join(work, name);
  cpSync(done, dir, { recursive: true });
  return dir;
}

const journalOf = (dir: string) => join(dir, 'runs.jsonl');
const linesOf = (dir: string) => readFileSync(journalOf(dir), 'utf8').split('\n').slice(0, -1);
const snapshot = (dir: string) => new Map(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));

/** One line on stderr, exit 2, naming the journal's line and the repair command; nothing changed. */
function refused(t: import('ava').ExecutionContext, r: { code: number | null; stderr: string }, dir: string, line: number, problem: RegExp): void {
  t.is(r.code, 2, r.stderr);
  t.notRegex(r.stderr, /internal error|TypeError|at .*\.js:\d+/);
  t.regex(r.stderr, new RegExp(`${journalOf(dir).replace(/[.]/g, '\\.')}:${line}: damaged journal line: `));
  t.regex(r.stderr, problem);
  t.regex(r.stderr, new RegExp(`narrowsweep repair ${dir.replace(/[.]/g, '\\.')}`));
}

test.serial('a corrupt middle line with an intact prefix: run, aggregate and merge refuse it alike; repair moves it aside', (t) => {
  const dir = finishedFolder('middle');
  const lines = linesOf(dir);
  t.is(lines.length, 4);
  // the id, status and success stay readable at the start; the middle of the line is garbage
  const bad = `${lines[1]!.slice(0, 120)}\u0000\u0000garbage${lines[1]!.slice(140)}`;
  writeFileSync(journalOf(dir), [lines[0], bad, lines[2], lines[3]].join('\n') + '\n');
  const before = snapshot(dir);

  refused(t, cli(['run', spec, '--out', dir, '--workers', '1', '--quiet']), dir, 2, /checksum does not match|not valid JSON/);
  t.deepEqual(snapshot(dir), before, 'run wrote something although it refused');
  refused(t, cli(['aggregate', dir]), dir, 2, /checksum does not match|not valid JSON/);
  t.deepEqual(snapshot(dir), before, 'aggregate wrote something although it refused');
  const out = join(work, 'middle-merged');
  refused(t, cli(['merge', out, dir]), dir, 2, /checksum does not match|not valid JSON/);
  t.false(existsSync(out));

  const r = cli(['repair', dir]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /moved 1 damaged line of .*runs\.jsonl to .*runs\.damaged\.jsonl/);
  t.regex(r.stdout, /line 2: /);
  t.is(readFileSync(join(dir, 'runs.damaged.jsonl'), 'utf8'), `${bad}\n`);
  t.deepEqual(linesOf(dir), [lines[0], lines[2], lines[3]]);
  const again = cli(['repair', dir]);
  t.is(again.code, 0);
  t.regex(again.stdout, /no damaged lines/);

  const resumed = cli(['run', spec, '--out', dir, '--workers', '1', '--quiet']);
  t.is(resumed.code, 0, resumed.stderr);
  t.regex(resumed.stdout, /3 reused from the journal, 1 new/);
  t.is(linesOf(dir).length, 4);
  t.is(cli(['aggregate', dir, '--quiet']).code, 0);
});

test.serial('damage that is still valid JSON ("itera#ions") is refused: by the checksum, and by the shape of a line without one', async (t) => {
  const dir = finishedFolder('renamed');
  const lines = linesOf(dir);
  const renamed = lines[0]!.replace('"iterations":', '"itera#ions":');
  t.not(renamed, lines[0]);
  JSON.parse(renamed); // still valid JSON
  writeFileSync(journalOf(dir), [renamed, ...lines.slice(1)].join('\n') + '\n');
  refused(t, cli(['run', spec, '--out', dir, '--workers', '1', '--quiet']), dir, 1, /checksum does not match/);
  refused(t, cli(['aggregate', dir]), dir, 1, /checksum does not match/);

  // A journal of an earlier version has no checksums: the record's shape decides.
  const legacy = join(work, 'legacy');
  cpSync(dir, legacy, { recursive: true });
  const stripped = lines.map((l) => l.replace(/,"crc32":"[0-9a-f]{8}"\}$/, '}'));
  writeFileSync(journalOf(legacy), stripped.join('\n') + '\n');
  t.is(cli(['aggregate', legacy, '--quiet']).code, 0, 'a journal without checksums is read');
  writeFileSync(journalOf(legacy), [stripped[0]!.replace('"iterations":', '"itera#ions":'), ...stripped.slice(1)].join('\n') + '\n');
  refused(t, cli(['aggregate', legacy]), legacy, 1, /"result\.iterations" is missing/);
  await t.throwsAsync(() => aggregate(legacy), { name: 'DataError', message: /runs\.jsonl:1: damaged journal line/ });
});

test.serial('valid-JSON garbage lines: a one-line refusal naming the file and line, never a TypeError', (t) => {
  const dir = join(work, 'garbage');
  const good = syntheticJournal(3).split('\n').slice(0, -1);
  for (const [k, garbage] of ['null', '[]', '"text"', '17', '{}', '{"id":"a"}', '{"id":"x","result":null}', '{"id":"x","trial":0,"result":{"status":"ok"}}'].entries()) {
    rmSync(dir, { recursive: true, force: true });
    cpSync(done, dir, { recursive: true, filter: (src) => !src.endsWith('spec.json') });
    writeFileSync(journalOf(dir), [good[0], good[1], garbage, good[2]].join('\n') + '\n');
    const r = cli(['aggregate', dir]);
    refused(t, r, dir, 3, /not a record|no "id"|"(result|trial|cell|config)[a-z.]*" is/);
    t.is(r.stderr.trim().split('\n').length, 1, `garbage ${k}: ${r.stderr}`);
  }
});

test.serial('a last line that is valid JSON but not a record is dropped as torn, for good: the next run starts', (t) => {
  const dir = finishedFolder('tail');
  const lines = linesOf(dir);
  writeFileSync(journalOf(dir), lines.slice(0, 3).join('\n') + '\n{"foo":1}');
  const r1 = cli(['run', spec, '--out', dir, '--workers', '1', '--quiet']);
  t.is(r1.code, 0, r1.stderr);
  t.regex(r1.stdout, /torn/);
  t.regex(r1.stdout, /3 reused from the journal, 1 new/);
  t.false(readFileSync(journalOf(dir), 'utf8').includes('{"foo":1}'), 'the torn line was kept');
  const r2 = cli(['run', spec, '--out', dir, '--workers', '1', '--quiet']);
  t.is(r2.code, 0, r2.stderr);
  t.regex(r2.stdout, /4 reused from the journal, 0 new/);
  t.is(cli(['aggregate', dir, '--quiet']).code, 0);
});
