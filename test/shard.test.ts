// One sweep over several machines: `run --shard K/N` runs a disjoint share of the grid, and
// `merge` joins the shards' folders. The merged tables must be those of one uninterrupted run.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cellCount, iterateGrid } from '../src/sweep/grid.js';
import { readJournal, recordLine } from '../src/sweep/journal.js';
import { inShard, parseShard } from '../src/sweep/shard.js';
import { loadSpec } from '../src/sweep/spec.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'narrowsweep-shard-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NARROWSWEEP_QUIET_ENGINE: '1' } });
  let stdout = '', stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const SPEC = `name: sharded
grid:
  n: [12, 16]
  d: [3]
  rho: [1, 2, 3]
  method: [gd, pgd]
trials: 3
budget: { iterations: 200, seconds: 60 }
success: { relLoss: 1.0e-3 }
methods:
  pgd: { outputScale: 10 }
`;

const ids = (dir: string) => readJournal(join(dir, 'runs.jsonl')).records.map((r) => r.id);

test('shards K/N are disjoint, cover the grid, and differ in size by at most one', (t) => {
  const specPath = join(work, 'partition.yaml');
  writeFileSync(specPath, SPEC);
  const spec = loadSpec(specPath);
  const entries = [...iterateGrid(spec)];
  const cells = cellCount(spec); // 12 cells x 3 trials
  t.is(cells, 12);
  for (const N of [1, 2, 3, 4, 5, 36, 50]) {
    const shards = Array.from({ length: N }, (_, k) => entries.filter((e) => inShard(e.index, cells, parseShard(`${k + 1}/${N}`))));
    const all = shards.flat().map((e) => e.id);
    t.is(all.length, entries.length, `N = ${N}`);
    t.is(new Set(all).size, entries.length, `N = ${N}`);
    const sizes = shards.map((s) => s.length);
    t.true(Math.max(...sizes) - Math.min(...sizes) <= 1, `N = ${N}: ${sizes.join(' ')}`);
    if (N <= 3) {
      // with at least N trials every shard has every cell (so both methods), not a fixed subset
      for (const [k, sh] of shards.entries()) {
        t.is(new Set(sh.map((e) => JSON.stringify(e.cell))).size, cells, `N = ${N}, shard ${k + 1}`);
        t.deepEqual([...new Set(sh.map((e) => e.config.method))].sort(), ['gd', 'pgd'], `N = ${N}, shard ${k + 1}`);
      }
    }
  }
  t.deepEqual(parseShard(' 2 / 4 '), { index: 1, count: 4 });
  for (const bad of ['0/2', '3/2', '1/0', 'a/b', '1', '1/2/3', '-1/2']) {
    t.throws(() => parseShard(bad), { message: new RegExp(`^--shard: expected K/N with 1 <= K <= N .*got "${bad.replace('/', '\\/')}"$`) }, bad);
  }
});

test('three shards run separately and merged give the tables of one uninterrupted run', async (t) => {
  const specPath = join(work, 'sharded.yaml');
  writeFileSync(specPath, SPEC);
  const full = join(work, 'full');
  t.is((await cli(['run', specPath, '--out', full, '--workers', '2', '--quiet'])).code, 0);
  const shardDirs: string[] = [];
  for (const k of [1, 2, 3]) {
    const dir = join(work, `part-${k}`);
    const r = await cli(['run', specPath, '--out', dir, '--workers', '1', '--quiet', '--shard', `${k}/3`]);
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, new RegExp(`12 configurations \\(shard ${k}/3 of 36\\): 0 reused from the journal, 12 new`));
    shardDirs.push(dir);
  }
  // running a shard again reuses everything
  const again = await cli(['run', specPath, '--out', shardDirs[1]!, '--quiet', '--shard', '2/3']);
  t.regex(again.stdout, /12 configurations \(shard 2\/3 of 36\): 12 reused from the journal, 0 new/);

  const merged = join(work, 'merged');
  const m = await cli(['merge', merged, ...shardDirs]);
  t.is(m.code, 0, m.stderr);
  t.regex(m.stdout, /^merged 36 runs into .*: 12 from .*part-1, 12 from .*part-2, 12 from .*part-3\n36 of the spec's 36 configurations are done\n/);
  t.deepEqual(ids(merged).sort(), ids(full).sort());
  t.is(new Set(ids(merged)).size, 36);
  // the tables that hold no wall-clock times are byte-identical to the uninterrupted run's
  const tables = readdirSync(full).filter((f) => /^phase-.*\.(csv|svg)$/.test(f) || f === 'boundary.csv' || f === 'tables.json');
  t.true(tables.length >= 5, tables.join(' '));
  for (const f of tables) t.is(readFileSync(join(merged, f), 'utf8'), readFileSync(join(full, f), 'utf8'), f);
  // and each run's result is the same as in the uninterrupted run
  const byId = new Map<string, number | null>(readJournal(join(full, 'runs.jsonl')).records.map((r) => [r.id, r.result.relLoss]));
  for (const r of readJournal(join(merged, 'runs.jsonl')).records) {
    t.true(byId.has(r.id));
    t.is(r.result.relLoss, byId.get(r.id) ?? NaN, r.id);
  }

  // merging again (say after a shard was resumed) keeps every id once
  const m2 = await cli(['merge', merged, shardDirs[0]!]);
  t.is(m2.code, 0, m2.stderr);
  t.regex(m2.stdout, /merged 36 runs into .*: 24 from .*merged, 12 from .*part-1; 12 records superseded\n36 of the spec's 36/);
  t.is(ids(merged).length, 36);
});

test('merge refuses folders of different specs, the output folder as an input, and non-results folders, writing nothing', async (t) => {
  const specA = join(work, 'a.yaml'), specB = join(work, 'b.yaml');
  writeFileSync(specA, SPEC.replace('name: sharded', 'name: a'));
  writeFileSync(specB, SPEC.replace('name: sharded', 'name: b').replace('trials: 3', 'trials: 2'));
  const a = join(work, 'ra'), b = join(work, 'rb');
  t.is((await cli(['run', specA, '--out', a, '--quiet', '--shard', '1/4'])).code, 0);
  t.is((await cli(['run', specB, '--out', b, '--quiet', '--shard', '1/4'])).code, 0);
  const out = join(work, 'mixed');
  const r = await cli(['merge', out, a, b]);
  t.is(r.code, 2);
  t.regex(r.stderr, /^narrowsweep merge: .*rb: its spec\.json differs from that of .*ra \(other configurations\): only runs of the same spec \(the shards of one sweep\) can be merged\n$/);
  t.false(existsSync(out), 'a refused merge leaves no folder behind');
  const self = await cli(['merge', a, a]);
  t.is(self.code, 2);
  t.regex(self.stderr, /is the output folder/);
  const empty = join(work, 'not-results');
  const r3 = await cli(['merge', out, empty]);
  t.is(r3.code, 2);
  t.regex(r3.stderr, /not-results: is not a folder/);
  t.false(existsSync(join(out, 'runs.jsonl')));
});

test('merge: a shard resumed with --retry-failed replaces its failures, a spec run from another path still merges, a corrupted line writes nothing', async (t) => {
  const dir = join(work, 'retry');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  const specPath = join(dir, 'spec.yaml');
  writeFileSync(specPath, SPEC.replace('name: sharded', 'name: retry'));
  const s1 = join(dir, 's1'), s2 = join(dir, 's2'), out = join(dir, 'merged');
  // shard 1, whose runs all failed (as if its machine had crashed each run): status error
  const r1 = await cli(['run', specPath, '--out', s1, '--quiet', '--shard', '1/2']);
  t.is(r1.code, 0, r1.stderr);
  const failed = readJournal(join(s1, 'runs.jsonl')).records
    .map((r) => recordLine({ ...r, result: { ...r.result, status: 'error', success: false } })).join('');
  writeFileSync(join(s1, 'runs.jsonl'), failed);
  t.true(readJournal(join(s1, 'runs.jsonl')).records.every((r) => r.result.status === 'error'));
  // shard 2 started with another spelling of the spec's path (its spec.json names another file)
  const child = spawn(process.execPath, [CLI, 'run', '../spec.yaml', '--out', '../s2', '--quiet', '--shard', '2/2'], { cwd: join(dir, 'sub'), stdio: 'ignore' });
  t.is(await new Promise((resolve) => child.on('close', resolve)), 0);
  const m1 = await cli(['merge', out, s1, s2]);
  t.is(m1.code, 0, m1.stderr);
  t.regex(m1.stdout, /36 of the spec's 36 configurations are done/);
  t.is(readJournal(join(out, 'runs.jsonl')).records.filter((r) => r.result.status === 'error').length, 18);
  // resume shard 1 with --retry-failed, merge again: its new records win over the failed ones
  t.is((await cli(['run', specPath, '--out', s1, '--quiet', '--shard', '1/2', '--retry-failed'])).code, 0);
  const m2 = await cli(['merge', out, s1]);
  t.is(m2.code, 0, m2.stderr);
  const recs = readJournal(join(out, 'runs.jsonl')).records;
  t.is(recs.length, 36);
  t.is(recs.filter((r) => r.result.status === 'error').length, 0);
  // and a merge of a folder with a corrupted middle line fails, naming it, and changes nothing
  const before = readFileSync(join(out, 'runs.jsonl'), 'utf8');
  const bad = join(dir, 'bad');
  mkdirSync(bad);
  writeFileSync(join(bad, 'spec.json'), readFileSync(join(s2, 'spec.json')));
  const lines = readFileSync(join(s2, 'runs.jsonl'), 'utf8').split('\n');
  writeFileSync(join(bad, 'runs.jsonl'), [lines[0], lines[1]!.slice(0, 100), ...lines.slice(2)].join('\n'));
  const m3 = await cli(['merge', out, bad]);
  t.is(m3.code, 2);
  t.regex(m3.stderr, /bad\/runs\.jsonl:2: damaged journal line: /);
  t.is(readFileSync(join(out, 'runs.jsonl'), 'utf8'), before);
  t.deepEqual(readdirSync(out).filter((f) => f.includes('tmp')), []);
});
