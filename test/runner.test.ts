// End to end: a sweep of 60 tiny configurations on 2 workers through the real CLI, with every
// table checked against an independent recomputation from runs.jsonl; and the run command's
// refusal paths (spec error, --fresh on a folder that is not a results folder).
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JournalRecord } from '../src/sweep/types.js';
import { readJournal } from '../src/sweep/journal.js';
import { loadSpec } from '../src/sweep/spec.js';
import { iterateGrid } from '../src/sweep/grid.js';
import { Coordinator } from '../src/sweep/coordinator.js';
import { configLabel } from '../src/sweep/progress.js';
import type { ProgressView } from '../src/sweep/progress.js';
import { removeTempDirs, tempDir } from './fixtures/temp.js';

test.after.always(removeTempDirs);

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'narrowsweep-runner-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

// ---- an independent CSV reader ----

function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (q) {
      if (c === '"' && text[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') q = false; else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(cur); cur = ''; } else if (c === '\n') { row.push(cur); rows.push(row); row = []; cur = ''; } else cur += c;
  }
  if (cur !== '' || row.length > 0) { row.push(cur); rows.push(row); }
  return rows;
}

/** Rows of a CSV file as objects keyed by header (comment lines starting with # skipped). */
function readTable(file: string): Array<Record<string, string>> {
  const rows = parseCsv(readFileSync(file, 'utf8')).filter((r) => !(r.length >= 1 && r[0]!.startsWith('#')));
  const [header, ...body] = rows;
  return body.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i] ?? ''])));
}

function close(t: { true(b: boolean, msg?: string): void }, actual: string, expected: number | null, what: string): void {
  if (expected === null) { t.true(actual === '', `${what}: expected empty, got ${actual}`); return; }
  const a = Number(actual);
  const ok = actual !== '' && Math.abs(a - expected) <= 1e-5 * Math.max(1, Math.abs(expected));
  t.true(ok, `${what}: table has ${actual}, recomputed ${expected}`);
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/** Wilson score interval at 95% (z = 1.959964), from its definition. */
function wilson(k: number, R: number): [number, number] {
  const z = 1.959964;
  const p = k / R;
  const den = 1 + (z * z) / R;
  const mid = (p + (z * z) / (2 * R)) / den;
  const half = (z * Math.sqrt((p * (1 - p)) / R + (z * z) / (4 * R * R))) / den;
  return [Math.max(0, mid - half), Math.min(1, mid + half)];
}

const SPEC = `name: e2e
data: { source: gaussian, labels: gaussian }
zip:
  - { n: 8, d: 2 }
  - { n: 12, d: 3 }
grid:
  rho: [1, 2, 3, 4, 6]
  method: [sgd, lm]
trials: 3
budget: { iterations: 1500, seconds: 600 }
success: { relLoss: 1.0e-3 }
methods:
  sgd: { batch: 4 }
  lm: { outputScale: 10, iterations: 40 }
`;

test('end to end: 60 configurations on 2 workers, every table recomputed from runs.jsonl', async (t) => {
  const specPath = join(work, 'e2e.yaml');
  writeFileSync(specPath, SPEC);
  const dir = join(work, 'e2e');
  const r = await cli(['run', specPath, '--out', dir, '--workers', '2']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /60 configurations: 0 reused from the journal, 60 new/);
  t.regex(r.stdout, /60\/60 done/); // the plain status line (stdout is a pipe here)
  t.regex(r.stdout, /^lm: successes k\/R/m); // no pgd in this spec: the table shown is lm's

  const { records, tornLine } = readJournal(join(dir, 'runs.jsonl'));
  t.is(tornLine, null);
  const grid = [...iterateGrid(loadSpec(specPath))];
  t.is(grid.length, 60);
  t.deepEqual(records.map((x) => x.id).sort(), grid.map((e) => e.id).sort(), 'the journal holds exactly the grid');
  // Trial-major: every record's trial matches its grid entry.
  const gridById = new Map(grid.map((e) => [e.id, e]));
  for (const rec of records) t.is(rec.trial, gridById.get(rec.id)!.trial);
  const nOk = records.filter((x) => x.result.success).length;
  t.true(nOk > 0 && nOk < 60, `a mix of successes and failures (${nOk}/60)`);

  // runs.csv: one row per record, fields as in the journal.
  const runs = readTable(join(dir, 'runs.csv'));
  t.is(runs.length, 60);
  const byId = new Map(records.map((x) => [x.id, x]));
  for (const row of runs) {
    const rec = byId.get(row.id!)!;
    t.truthy(rec, `runs.csv id ${row.id} is not in the journal`);
    const c = rec.config;
    t.deepEqual([row.method, row.n, row.d, row.m, row.seed, row.trial, row.status, row.success],
      [c.method, String(c.n), String(c.d), String(c.m), String(c.seed), String(rec.trial), rec.result.status, String(rec.result.success)]);
    close(t, row.rho!, rec.cell.rho as number, `${row.id} rho`);
    close(t, row.rhoActual!, (c.m * c.d) / c.n, `${row.id} rhoActual`);
    close(t, row.relLoss!, rec.result.relLoss, `${row.id} relLoss`);
    close(t, row.iterations!, rec.result.iterations, `${row.id} iterations`);
    close(t, row.epsilon!, 1e-3, `${row.id} epsilon`);
  }

  // Cells: method x n x d x rho.
  const cellKey = (method: string, n: number | string, d: number | string, rho: number | string) => `${method}|${n}|${d}|${Number(rho)}`;
  const cells = new Map<string, JournalRecord[]>();
  for (const rec of records) {
    const k = cellKey(rec.config.method, rec.config.n, rec.config.d, rec.cell.rho as number);
    cells.set(k, [...(cells.get(k) ?? []), rec]);
  }
  t.is(cells.size, 20);

  // summary.csv
  const summary = readTable(join(dir, 'summary.csv'));
  t.is(summary.length, 20);
  for (const row of summary) {
    const rs = cells.get(cellKey(row.method!, row.n!, row.d!, row.rho!));
    t.truthy(rs, `summary row ${JSON.stringify(row)} is not a cell of the grid`);
    if (!rs) continue;
    const k = rs.filter((x) => x.result.success).length;
    const R = rs.length;
    const [lo, hi] = wilson(k, R);
    const ok = rs.filter((x) => x.result.success);
    const what = `summary ${row.method} n=${row.n} d=${row.d} rho=${row.rho}`;
    t.is(row.trials, String(R), what);
    t.is(row.successes, String(k), what);
    close(t, row.rate!, k / R, `${what} rate`);
    close(t, row.wilsonLow!, lo, `${what} wilsonLow`);
    close(t, row.wilsonHigh!, hi, `${what} wilsonHigh`);
    for (const s of ['diverged', 'timeout', 'error', 'oom'] as const) t.is(row[s], String(rs.filter((x) => x.result.status === s).length), `${what} ${s}`);
    close(t, row.medianRelLoss!, median(rs.map((x) => x.result.relLoss!).filter(Number.isFinite)), `${what} medianRelLoss`);
    close(t, row.medianItersToSuccess!, median(ok.map((x) => x.result.iterations)), `${what} medianItersToSuccess`);
    close(t, row.sigmaMinJStart!, median(rs.map((x) => x.result.sigmaMinJStart).filter((x): x is number => x !== null)), `${what} sigmaMinJStart`);
    close(t, row.sigmaMinJEnd!, median(rs.map((x) => x.result.sigmaMinJEnd).filter((x): x is number => x !== null)), `${what} sigmaMinJEnd`);
  }

  // phase-<method>.csv: rows rho, columns n=..;d=.., cells k/R.
  for (const method of ['sgd', 'lm']) {
    const phase = readTable(join(dir, `phase-${method}.csv`));
    t.deepEqual(phase.map((row) => row.rho), ['1', '2', '3', '4', '6']);
    for (const row of phase) {
      t.is(row.mark, row.rho === '1' ? 'counting-bound' : row.rho === '2' ? 'theorem-1' : '');
      for (const [n, d] of [[8, 2], [12, 3]] as const) {
        const rs = cells.get(cellKey(method, n, d, row.rho!))!;
        t.is(row[`n=${n};d=${d}`], `${rs.filter((x) => x.result.success).length}/${rs.length}`, `phase-${method} rho=${row.rho} n=${n} d=${d}`);
      }
    }
  }

  // boundary.csv: the 50% crossing, linear in rho between the last rho below 50% and the next.
  const boundary = readTable(join(dir, 'boundary.csv'));
  t.is(boundary.length, 4);
  for (const row of boundary) {
    const rhos = [1, 2, 3, 4, 6];
    const rate = rhos.map((rho) => {
      const rs = cells.get(cellKey(row.method!, row.n!, row.d!, rho))!;
      return rs.filter((x) => x.result.success).length / rs.length;
    });
    let last = -1;
    rate.forEach((p, i) => { if (p < 0.5) last = i; });
    let expected: number | null = null;
    if (last >= 0 && last < rhos.length - 1) {
      const [r0, r1, p0, p1] = [rhos[last]!, rhos[last + 1]!, rate[last]!, rate[last + 1]!];
      expected = r0 + ((0.5 - p0) / (p1 - p0)) * (r1 - r0);
    }
    const what = `boundary ${row.method} n=${row.n} d=${row.d} (rates ${rate.join(' ')})`;
    close(t, row.rho50!, expected, `${what} rho50`);
    close(t, row.m50!, expected === null ? null : (expected * Number(row.n)) / Number(row.d), `${what} m50`);
  }
});

test('a spec error exits 2 and writes nothing', async (t) => {
  const specPath = join(work, 'bad.yaml');
  writeFileSync(specPath, SPEC.replace('name: e2e', 'name: bad').replace('rho: [1, 2, 3, 4, 6]', 'rho: [1, 2, "two"]'));
  const dir = join(work, 'bad-out');
  const r = await cli(['run', specPath, '--out', dir, '--quiet']);
  t.is(r.code, 2);
  t.regex(r.stderr, /grid\.rho\[2\]: expected a positive number, got "two"/);
  t.false(existsSync(dir));
  const flags = await cli(['run', specPath, '--workers', 'zero']);
  t.is(flags.code, 2);
  t.regex(flags.stderr, /--workers: expected an integer >= 1, got "zero"/);
});

test('--fresh refuses a folder that is not a results folder', async (t) => {
  const specPath = join(work, 'fresh.yaml');
  writeFileSync(specPath, SPEC.replace('name: e2e', 'name: fresh').replace('trials: 3', 'trials: 1'));
  const dir = join(work, 'not-results');
  mkdirSync(dir);
  writeFileSync(join(dir, 'precious.txt'), 'keep me');
  const r = await cli(['run', specPath, '--out', dir, '--fresh', '--quiet']);
  t.is(r.code, 2);
  t.regex(r.stderr, /does not look like a results folder/);
  t.is(readFileSync(join(dir, 'precious.txt'), 'utf8'), 'keep me');
  t.false(existsSync(join(dir, 'lock')));
});

/**
 * The tables of a results folder as text: every CSV with the wall-clock columns (seconds,
 * secondsTo<t>, wallSeconds, startedAt, finishedAt, medianSecondsToSuccess) removed, everything
 * else byte for byte; and tables.json without its `notInSpec` count (returned apart), which says how
 * many journal records were left out and so differs between a reused folder and a fresh one.
 */
const WALL_CLOCK = /^(seconds|secondsTo.*|wallSeconds|startedAt|finishedAt|medianSecondsToSuccess)$/;
function tablesOf(dir: string): { files: Map<string, string>; notInSpec: unknown } {
  const files = new Map<string, string>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.csv')).sort()) {
    const text = readFileSync(join(dir, f), 'utf8');
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l !== '' && !l.startsWith('#'));
    const rows = parseCsv(lines.slice(at).join('\n'));
    const keep = rows[0]!.map((h, i) => (WALL_CLOCK.test(h) ? -1 : i)).filter((i) => i >= 0);
    const kept = rows.map((r) => keep.map((i) => JSON.stringify(r[i] ?? null)).join(','));
    files.set(f, keep.length === rows[0]!.length ? text : [...lines.slice(0, at), ...kept].join('\n'));
  }
  const sidecar = JSON.parse(readFileSync(join(dir, 'tables.json'), 'utf8')) as Record<string, unknown>;
  const notInSpec = sidecar.notInSpec;
  const text = readFileSync(join(dir, 'tables.json'), 'utf8');
  const without = text.replace(/^ {2}"notInSpec": [^\n]*\n/m, '');
  if (without === text) throw new Error(`${dir}/tables.json has no notInSpec line`);
  files.set('tables.json', without);
  return { files, notInSpec };
}

test('a changed spec under the same name reuses the records whose ids remain and keeps the others; the tables are those of a fresh run of the new spec', async (t) => {
  const small = (rhos: string, trials: number) => SPEC.replace('name: e2e', 'name: changed')
    .replace('rho: [1, 2, 3, 4, 6]', `rho: [${rhos}]`).replace('trials: 3', `trials: ${trials}`).replace('method: [sgd, lm]', 'method: [lm]');
  const specPath = join(work, 'changed.yaml');
  const dir = join(work, 'changed');
  /** Runs `yaml` into `dir`, and into a fresh folder; the two folders' tables must be the same. */
  const sameAsFresh = async (yaml: string, tag: string, notInSpec: number) => {
    const freshSpec = join(work, `changed-fresh-${tag}.yaml`);
    writeFileSync(freshSpec, yaml);
    const fresh = join(work, `changed-fresh-${tag}`);
    const rf = await cli(['run', freshSpec, '--out', fresh, '--quiet']);
    t.is(rf.code, 0, rf.stderr);
    const a = tablesOf(fresh);
    const b = tablesOf(dir);
    t.is(a.notInSpec, 0, `${tag}: fresh folder`);
    t.is(b.notInSpec, notInSpec, `${tag}: reused folder`);
    t.deepEqual([...b.files.keys()], [...a.files.keys()], tag);
    for (const [f, text] of a.files) t.is(b.files.get(f), text, `${tag}: ${f} differs from a fresh run of the new spec`);
    return a;
  };
  writeFileSync(specPath, small('1, 2', 2)); // 2 (n, d) x 2 rho x 2 trials = 8 runs
  const r0 = await cli(['run', specPath, '--out', dir, '--quiet']);
  t.is(r0.code, 0, r0.stderr);
  writeFileSync(specPath, small('2, 3', 3)); // rho 2 kept (2 trials reused of 3), rho 1 dropped, rho 3 new
  const r1 = await cli(['run', specPath, '--out', dir, '--quiet']);
  t.is(r1.code, 0, r1.stderr);
  t.regex(r1.stdout, /12 configurations: 4 reused from the journal, 8 new; 4 journal records are not in this spec any more \(kept, left out of the tables\)/);
  t.regex(r1.stdout, /4 journal records of an earlier spec are not in this one: kept in runs\.jsonl, left out of the tables/);
  const { records } = readJournal(join(dir, 'runs.jsonl'));
  t.is(records.length, 16);
  t.is(new Set(records.map((x) => x.id)).size, 16);
  const tables1 = await sameAsFresh(small('2, 3', 3), 'rho', 4);
  t.is(readTable(join(dir, 'summary.csv')).length, 4); // 2 (n, d) x rho {2, 3}: rho 1 is gone
  // `narrowsweep aggregate` on the folder gives the same tables (it reads the spec saved by run).
  const ra = await cli(['aggregate', dir, '--quiet']);
  t.is(ra.code, 0, ra.stderr);
  for (const [f, text] of tablesOf(dir).files) t.is(text, tables1.files.get(f)!, `aggregate: ${f}`);
  const rv = await cli(['aggregate', dir]);
  t.regex(rv.stdout, /^12 runs \(4 journal records not in the current spec left out\)/);

  // A changed success rule: every id changes, the 16 earlier records stay in the journal but out of the tables.
  const stricter = small('2, 3', 3).replace('relLoss: 1.0e-3', 'relLoss: 1.0e-2');
  writeFileSync(specPath, stricter);
  const r2 = await cli(['run', specPath, '--out', dir, '--quiet']);
  t.is(r2.code, 0, r2.stderr);
  t.regex(r2.stdout, /12 configurations: 0 reused from the journal, 12 new; 16 journal records/);
  await sameAsFresh(stricter, 'success', 16);
  t.true(readTable(join(dir, 'runs.csv')).every((row) => row.epsilon === '0.01'));

  // An added axis at its default value: the ids stay (all 12 reused), the cells gain the axis.
  const withAxis = stricter.replace('method: [lm]', 'method: [lm]\n  activation: [tanh]');
  writeFileSync(specPath, withAxis);
  const r3 = await cli(['run', specPath, '--out', dir, '--quiet']);
  t.is(r3.code, 0, r3.stderr);
  t.regex(r3.stdout, /12 configurations: 12 reused from the journal, 0 new; 16 journal records/);
  await sameAsFresh(withAxis, 'axis', 16);
  t.regex(readFileSync(join(dir, 'summary.csv'), 'utf8'), /^method,n,d,rho,m,activation,/);
  t.is(readJournal(join(dir, 'runs.jsonl')).records.length, 28); // nothing was removed from the journal
});

test('the worker lines name every axis value of the run, so runs differing in any axis read differently', async (t) => {
  const specPath = join(work, 'labels.yaml');
  writeFileSync(specPath, `name: labels
grid: { n: [8], d: [2], m: [4], method: [sgd], activation: [tanh, relu], sgd.lr: [0.05, 0.1] }
budget: { iterations: 20, seconds: 600 }
`);
  const labels: string[] = [];
  const progress: ProgressView = {
    start() {}, slotProgress() {}, slotEnd() {}, runDone() {}, log() {}, stop() {},
    slotStart(_slot, config, cell) { labels.push(configLabel(config, cell)); },
  };
  const c = new Coordinator({
    spec: loadSpec(specPath), outDir: join(work, 'labels'), threads: 1, retryFailed: false, runTimeoutSeconds: null,
    refreshSeconds: 0, progress, log: () => {}, tables: false,
  });
  await c.run();
  t.deepEqual(labels, [
    'n=8 d=2 m=4 method=sgd activation=tanh sgd.lr=0.05 seed=0',
    'n=8 d=2 m=4 method=sgd activation=tanh sgd.lr=0.1 seed=0',
    'n=8 d=2 m=4 method=sgd activation=relu sgd.lr=0.05 seed=0',
    'n=8 d=2 m=4 method=sgd activation=relu sgd.lr=0.1 seed=0',
  ]);
  // rho and its derived m both show; a config without a cell keeps the short form
  t.is(configLabel({ method: 'pgd', n: 100, d: 10, m: 16, seed: 3 }, { method: 'pgd', n: 100, d: 10, rho: 1.5, m: 16, 'pgd.radius': '{"relative":0.5}' }),
    'method=pgd n=100 d=10 rho=1.5 m=16 pgd.radius={"relative":0.5} seed=3');
  t.is(configLabel({ method: 'pgd', n: 100, d: 10, m: 16, seed: 3 }), 'pgd n=100 d=10 m=16 seed=3');
});

test('the printed resume command can be pasted in any folder: absolute paths, npx form under npx, the script path otherwise, every non-default flag', async (t) => {
  const { resumeCommand } = await import('../src/commands/run.js');
  const flags = { specPath: 'sweeps/my spec.yaml', workers: 2, out: null, retryFailed: false, runTimeout: null, fresh: true, quiet: true, grace: 10, workerMemory: null, refresh: 30, shard: null };
  const cwd = process.cwd();
  const q = (s: string) => (/^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s}'`);
  const spec = q(join(cwd, 'sweeps', 'my spec.yaml'));
  const out = q(join(cwd, 'results', 'x'));
  t.is(resumeCommand(flags, 'results/x', '/root/.npm/_npx/5eec080b/node_modules/.bin/narrowsweep'), `npx narrowsweep run ${spec} --out ${out} --workers 2 --quiet`);
  t.is(resumeCommand(flags, 'results/x', join(cwd, 'node_modules', '.bin', 'narrowsweep')), `npx narrowsweep run ${spec} --out ${out} --workers 2 --quiet`);
  t.is(resumeCommand(flags, 'results/x', '/usr/local/bin/narrowsweep'), `narrowsweep run ${spec} --out ${out} --workers 2 --quiet`);
  t.is(resumeCommand({ ...flags, grace: 60, refresh: 5, retryFailed: true, quiet: false }, 'results/x', 'dist/src/cli.js'),
    `node ${q(join(cwd, 'dist', 'src', 'cli.js'))} run ${spec} --out ${out} --workers 2 --grace 60 --refresh 5 --retry-failed`);
  t.is(resumeCommand({ ...flags, specPath: '/abs/s.yaml', shard: { index: 1, count: 3 } }, '/abs/results/x.shard-2-of-3', '/usr/local/bin/narrowsweep'),
    'narrowsweep run /abs/s.yaml --out /abs/results/x.shard-2-of-3 --shard 2/3 --workers 2 --quiet');
});

test('run | head: a closed output pipe does not stop the sweep; every run is journaled and the lock released', async (t) => {
  const work = tempDir('ns-pipe-');
  const specPath = join(work, 'pipe.yaml');
  writeFileSync(specPath, 'name: pipe\ngrid: { n: [12], d: [3], m: [4], method: [gd] }\ntrials: 16\nbudget: { iterations: 300, seconds: 60 }\nsuccess: { relLoss: 0 }\n');
  const out = join(work, 'out');
  const child = spawn(process.execPath, [CLI, 'run', specPath, '--out', out, '--workers', '2', '--refresh', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  // like `head -1`: read the first chunk, then close the pipe
  await new Promise<void>((resolve) => child.stdout.once('data', () => { child.stdout.destroy(); resolve(); }));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.is(code, 0);
  const recs = readJournal(join(out, 'runs.jsonl')).records;
  t.is(recs.length, 16);
  t.false(existsSync(join(out, 'lock')));
  t.true(existsSync(join(out, 'summary.csv')));
});
