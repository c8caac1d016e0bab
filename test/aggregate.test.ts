// The aggregator against an independent recomputation from synthetic journal records.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResolvedConfig, RunResult } from '../src/core/types.js';
import type { AxisValue, JournalRecord } from '../src/sweep/types.js';
import { aggregate } from '../src/report/aggregate.js';
import { wilson } from '../src/report/wilson.js';
import { fixedText } from '../src/report/phase-table.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

// ---- an RFC 4180 reader, written for the test ----

function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      field += ch; i++; continue;
    }
    if (ch === '"' && field === '') { quoted = true; i++; continue; }
    if (ch === '"') throw new Error(`bare quote inside an unquoted field at ${i}`);
    if (ch === ',') { row.push(field); field = ''; i++; continue; }
    if (ch === '\r') throw new Error(`bare CR at ${i}`);
    if (ch === '\n') { row.push(field); rows.push(row); row = []; field = ''; i++; continue; }
    field += ch; i++;
  }
  if (field !== '' || row.length) throw new Error('the file does not end with a newline');
  return rows;
}

/** header + rows as objects; checks the pandas requirements: one header row, unique names, equal widths. */
function table(text: string): Array<Record<string, string>> {
  const rows = parseCsv(text);
  const header = rows[0]!;
  if (new Set(header).size !== header.length) throw new Error(`duplicate column names: ${header.join(',')}`);
  return rows.slice(1).map((r, k) => {
    if (r.length !== header.length) throw new Error(`row ${k + 1} has ${r.length} fields, the header ${header.length}`);
    return Object.fromEntries(header.map((h, j) => [h, r[j]!]));
  });
}

/** A temporary folder, removed when the test ends. */
function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'narrowsweep-agg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---- synthetic records ----

const RESOLVED_BASE = {
  activation: 'tanh', data: { source: 'gaussian', labels: 'gaussian' }, projection: 'global', radius: 'auto', kappa: 2,
  lr: 'auto', lrScale: 1, batch: null, momentum: 0, beta1: 0.9, beta2: 0.999, adamEps: 1e-8, lmDamping: 1e-3,
  lmFactor: 4, outputScale: 1, iterations: 5000, seconds: 60, epsilon: 1e-4, logEvery: 0, certificateMaxN: 1000,
  dtype: 'float64', engine: 'auto',
} as const;

interface Spec1 { method: string; n: number; d: number; width: number; k: number; R: number; extra?: Record<string, AxisValue> }

let serial = 0;
function records(c: Spec1, widthKey: 'rho' | 'm'): JournalRecord[] {
  const m = widthKey === 'rho' ? Math.ceil((c.width * c.n) / c.d) : c.width;
  const cell: Record<string, AxisValue> = widthKey === 'rho'
    ? { n: c.n, d: c.d, rho: c.width, m, method: c.method, ...c.extra }
    : { n: c.n, d: c.d, m, method: c.method, ...c.extra };
  const out: JournalRecord[] = [];
  for (let trial = 0; trial < c.R; trial++) {
    const success = trial < c.k;
    const id = `run${String(serial++).padStart(5, '0')}`;
    const resolved = {
      ...RESOLVED_BASE, method: c.method, n: c.n, d: c.d, m, seed: trial,
      init: c.method === 'sgd' ? 'lecun' : 'mirrored', optimizer: c.method === 'sgd' ? 'sgd' : 'gd',
      constraint: c.method === 'pgd' ? 'ball' : 'none', trainOutput: c.method === 'sgd',
      ...(c.extra?.outputScale !== undefined ? { outputScale: c.extra.outputScale } : {}),
    } as unknown as ResolvedConfig;
    const relLoss = success ? 1e-6 * (trial + 1) : 0.5 / (trial + 1);
    const result: RunResult = {
      status: 'ok', message: null, success, epsilon: 1e-4, relLoss, bestRelLoss: relLoss, loss: relLoss / 2,
      iterations: success ? 100 * (trial + 1) : 5000, iterationBudget: 5000, secondsBudget: 60, seconds: success ? 0.5 * (trial + 1) : 9,
      milestones: [
        { threshold: 1e-2, iteration: 10 * (trial + 1), seconds: 0.01 * (trial + 1) },
        { threshold: 1e-4, iteration: success ? 50 : null, seconds: success ? 0.2 : null },
      ],
      lrUsed: 0.1, lambdaMax: 3, radiusUsed: null, sigmaMinJStart: 1e-3 * (trial + 1), sigmaMinJEnd: trial === 0 ? null : 2e-3 * trial,
      distW0: 1, constraintActive: false, kktResidual: null, gradNorm: 1e-3, testLoss: null, testRelLoss: null, testAccuracy: null,
      engine: 'ts', engineDetail: 'typescript reference (float64)', dtype: 'float64', resolved, curve: [[0, 1], [10, 0.5]], trace: [[0, 1], [10, 0.5]],
    };
    out.push({
      id, trial, cell, config: { method: c.method as 'sgd', n: c.n, d: c.d, m, seed: trial }, result,
      startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z', wallSeconds: 1, host: 'test',
      versions: { narrowsweep: '0.1.0', node: 'v20', core: 1 },
    });
  }
  return out;
}

const RHOS = [0.5, 1, 2, 3];
/** successes per rho, out of 5 (10 in one cell). */
const K: Record<string, number[]> = {
  'pgd 100 10': [0, 1, 3, 5], // boundary 1 + (0.5 - 0.2) / (0.6 - 0.2) = 1.75
  'pgd 200 20': [3, 4, 5, 5], // always above
  'sgd 100 10': [0, 0, 1, 2], // never reaches 0.5
  'sgd 200 20': [3, 1, 2, 4], // non-monotone: last upward crossing between rho 2 (0.4) and 3 (0.8): 2.25
};

function journal(): JournalRecord[] {
  serial = 0;
  const recs: JournalRecord[] = [];
  for (const [key, ks] of Object.entries(K)) {
    const [method, n, d] = key.split(' ');
    ks.forEach((k, i) => recs.push(...records({ method: method!, n: Number(n), d: Number(d), width: RHOS[i]!, k, R: key === 'pgd 100 10' && i === 2 ? 10 : 5 }, 'rho')));
  }
  // pgd 100 10 at rho 2 has k = 3 of R = 10 (a known Wilson interval)
  // lm: a row-group axis (outputScale) besides the position
  for (const outputScale of [10, 1]) {
    RHOS.forEach((rho, i) => recs.push(...records({ method: 'lm', n: 100, d: 10, width: rho, k: outputScale === 10 ? [1, 5, 5, 5][i]! : [0, 0, 2, 4][i]!, R: 5, extra: { outputScale } }, 'rho')));
  }
  // adam: widths given as m
  [5, 10, 20].forEach((m, i) => recs.push(...records({ method: 'adam', n: 100, d: 10, width: m, k: [0, 2, 5][i]!, R: 5 }, 'm')));
  return recs;
}

function writeJournal(dir: string, recs: JournalRecord[], tail = ''): void {
  writeFileSync(join(dir, 'runs.jsonl'), recs.map((r) => `${JSON.stringify(r)}\n`).join('') + tail);
}

/** Records with a superseded duplicate, an awkward message, a diverged run and a torn last line. */
function fixture(t: ExecutionContext): { dir: string; recs: JournalRecord[]; final: JournalRecord[] } {
  const dir = tempDir(t);
  const recs = journal();
  // an earlier record of one id that failed, superseded by the successful one later in the file
  const target = recs.find((r) => r.cell.method === 'pgd' && r.cell.rho === 3 && r.trial === 0)!;
  const stale: JournalRecord = { ...target, result: { ...target.result, status: 'timeout', success: false, message: 'timed out' } };
  // a message with a comma, a quote and a newline; a diverged run with no relLoss
  const odd = recs.find((r) => r.cell.method === 'sgd' && r.cell.rho === 0.5 && r.trial === 4)!;
  odd.result = { ...odd.result, status: 'diverged', relLoss: null, bestRelLoss: null, message: 'loss is NaN, "Inf"\nat iteration 7' };
  const all = [stale, ...recs];
  writeJournal(dir, all, '{"id":"torn","trial":0,"cel');
  return { dir, recs: all, final: recs };
}

// ---- the independent recomputation ----

interface Expect { trials: number; successes: number; relLoss: number[]; itersOk: number[]; secondsOk: number[]; s0: number[]; s1: number[]; statuses: Record<string, number> }

function expected(final: JournalRecord[]): Map<string, Expect> {
  const byId = new Map<string, JournalRecord>();
  for (const r of final) byId.set(r.id, r);
  const cells = new Map<string, Expect>();
  for (const r of byId.values()) {
    const key = `${r.cell.method}|${r.cell.n}|${r.cell.d}|${r.cell.rho ?? ''}|${r.cell.m}|${r.cell.outputScale ?? ''}`;
    const e = cells.get(key) ?? { trials: 0, successes: 0, relLoss: [], itersOk: [], secondsOk: [], s0: [], s1: [], statuses: {} };
    e.trials++;
    if (r.result.success) { e.successes++; e.itersOk.push(r.result.iterations); e.secondsOk.push(r.result.seconds); }
    if (r.result.relLoss !== null) e.relLoss.push(r.result.relLoss);
    if (r.result.sigmaMinJStart !== null) e.s0.push(r.result.sigmaMinJStart);
    if (r.result.sigmaMinJEnd !== null) e.s1.push(r.result.sigmaMinJEnd);
    e.statuses[r.result.status] = (e.statuses[r.result.status] ?? 0) + 1;
    cells.set(key, e);
  }
  return cells;
}

function med(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
const six = (x: number | null) => (x === null ? '' : String(Number(x.toPrecision(6))));
const num = (s: string | undefined) => (s === undefined || s === '' ? null : Number(s));

// ---- tests ----

test('Wilson 95% interval: textbook values (statsmodels proportion_confint, method wilson)', (t) => {
  const close = (a: number, b: number) => t.true(Math.abs(a - b) < 5e-7, `${a} vs ${b}`);
  let w = wilson(0, 5);
  t.is(w.low, 0); close(w.high, 0.4344825);
  w = wilson(5, 5);
  close(w.low, 0.5655175); t.is(w.high, 1);
  w = wilson(3, 10);
  close(w.low, 0.1077913); close(w.high, 0.6032219);
  w = wilson(1, 5);
  close(w.low, 0.0362241); close(w.high, 0.6244654);
  t.deepEqual(wilson(0, 0), { low: 0, high: 1 });
  t.throws(() => wilson(6, 5), { instanceOf: RangeError });
});

test('runs.csv: one row per id (the last record wins), every column, RFC 4180, no curve', async (t) => {
  const { dir, final } = fixture(t);
  const out = await aggregate(dir);
  t.true(out.tornLine);
  t.is(out.duplicates, 1);
  const rows = table(readFileSync(join(dir, 'runs.csv'), 'utf8'));
  t.is(rows.length, final.length);
  t.is(out.runs, final.length);
  t.is(new Set(rows.map((r) => r.id)).size, rows.length);
  const header = Object.keys(rows[0]!);
  for (const col of ['id', 'trial', 'seed', 'method', 'n', 'd', 'm', 'rho', 'rhoActual', 'data.source', 'data.labels', 'activation',
    'init', 'radius', 'lr', 'batch', 'status', 'message', 'success', 'epsilon', 'relLoss', 'iterations', 'iterationBudget', 'seconds',
    'secondsBudget', 'sigmaMinJStart', 'sigmaMinJEnd', 'engine', 'engineRequested', 'itersTo1e-2', 'secondsTo1e-2', 'itersTo1e-4',
    'secondsTo1e-4', 'wallSeconds', 'host']) t.true(header.includes(col), col);
  t.false(header.some((h) => /curve/i.test(h)));
  // the superseded timeout record is gone; the awkward message survives quoting
  const target = final.find((r) => r.cell.method === 'pgd' && r.cell.rho === 3 && r.trial === 0)!;
  t.like(rows.find((r) => r.id === target.id), { status: 'ok', success: 'true', message: '' });
  const odd = rows.find((r) => r.status === 'diverged')!;
  t.is(odd.message, 'loss is NaN, "Inf"\nat iteration 7');
  t.is(odd.relLoss, '');
  // numbers read back exactly
  for (const r of rows) {
    const rec = final.find((x) => x.id === r.id)!;
    t.is(num(r.relLoss), rec.result.relLoss);
    t.is(Number(r.m), rec.config.m);
    t.is(Number(r.rhoActual), (rec.config.m * rec.config.d) / rec.config.n);
    t.is(num(r['itersTo1e-4']), rec.result.milestones[1]!.iteration);
  }
});

test('summary.csv: counts, rate, Wilson bounds and medians per cell match a recomputation', async (t) => {
  const { dir, final } = fixture(t);
  await aggregate(dir);
  const rows = table(readFileSync(join(dir, 'summary.csv'), 'utf8'));
  const exp = expected(final);
  t.is(rows.length, exp.size);
  for (const r of rows) {
    const key = `${r.method}|${r.n}|${r.d}|${r.rho}|${r.m}|${r.outputScale ?? ''}`;
    const e = exp.get(key);
    if (!e) { t.fail(`unexpected cell ${key}`); continue; }
    t.is(Number(r.trials), e.trials, key);
    t.is(Number(r.successes), e.successes, key);
    t.is(r.rate, six(e.successes / e.trials), key);
    // Wilson from the textbook formula, computed here
    const z = 1.959964; const n = e.trials; const p = e.successes / n;
    const den = 1 + (z * z) / n; const c = (p + (z * z) / (2 * n)) / den;
    const h = (z / den) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
    t.is(r.wilsonLow, six(e.successes === 0 ? 0 : c - h), key);
    t.is(r.wilsonHigh, six(e.successes === n ? 1 : c + h), key);
    t.is(r.medianRelLoss, six(med(e.relLoss)), key);
    t.is(r.medianItersToSuccess, six(med(e.itersOk)), key);
    t.is(r.medianSecondsToSuccess, six(med(e.secondsOk)), key);
    t.is(r.sigmaMinJStart, six(med(e.s0)), key);
    t.is(r.sigmaMinJEnd, six(med(e.s1)), key);
    t.is(Number(r.diverged), e.statuses.diverged ?? 0, key);
    t.is(r.epsilon, '0.0001');
  }
  // the three textbook cells
  const at = (method: string, n: string, rho: string) => rows.find((r) => r.method === method && r.n === n && r.rho === rho)!;
  t.like(at('sgd', '100', '0.5'), { trials: '5', successes: '0', wilsonLow: '0', wilsonHigh: '0.434482' });
  t.like(at('pgd', '100', '3'), { trials: '5', successes: '5', wilsonLow: '0.565518', wilsonHigh: '1' });
  t.like(at('pgd', '100', '2'), { trials: '10', successes: '3', wilsonLow: '0.107791', wilsonHigh: '0.603222' });
  // a cell without successes has no time to success
  t.like(at('sgd', '100', '0.5'), { medianItersToSuccess: '', medianSecondsToSuccess: '' });
});

test('phase-<method>.csv: k/R pivot, rule comment, marks, row groups, m tables', async (t) => {
  const { dir } = fixture(t);
  const out = await aggregate(dir);
  t.deepEqual(out.methods, ['adam', 'lm', 'pgd', 'sgd']);
  const text = readFileSync(join(dir, 'phase-pgd.csv'), 'utf8');
  const [comment, ...rest] = text.split('\n');
  t.regex(comment!, /^# phase table of method pgd: /);
  t.regex(comment!, /success: relLoss <= 0\.0001/);
  t.regex(comment!, /data: gaussian \(labels gaussian\)/);
  t.regex(comment!, /budget: 5000 iterations and 60 s per run/);
  t.deepEqual(parseCsv(rest.join('\n')), [
    ['rho', 'mark', 'n=100;d=10', 'n=200;d=20'],
    ['0.5', '', '0/5', '3/5'],
    ['1', 'counting-bound', '1/5', '4/5'],
    ['2', 'theorem-1', '3/10', '5/5'],
    ['3', '', '5/5', '5/5'],
  ]);
  const lm = parseCsv(readFileSync(join(dir, 'phase-lm.csv'), 'utf8').split('\n').slice(1).join('\n'));
  t.deepEqual(lm, [
    ['outputScale', 'rho', 'mark', 'n=100;d=10'],
    ['1', '0.5', '', '0/5'], ['1', '1', 'counting-bound', '0/5'], ['1', '2', 'theorem-1', '2/5'], ['1', '3', '', '4/5'],
    ['10', '0.5', '', '1/5'], ['10', '1', 'counting-bound', '5/5'], ['10', '2', 'theorem-1', '5/5'], ['10', '3', '', '5/5'],
  ]);
  const adamText = readFileSync(join(dir, 'phase-adam.csv'), 'utf8');
  t.regex(adamText.split('\n')[0]!, /rows: m \(the spec gave m\)/);
  t.deepEqual(parseCsv(adamText.split('\n').slice(1).join('\n')), [
    ['m', 'mark', 'n=100;d=10'], ['5', '', '0/5'], ['10', '', '2/5'], ['20', '', '5/5'],
  ]);
  const sidecar = JSON.parse(readFileSync(join(dir, 'tables.json'), 'utf8'));
  t.deepEqual(sidecar.epsilon, [0.0001]);
  t.deepEqual(sidecar.budget, { iterations: [5000], seconds: [60] });
  t.like(sidecar.phaseTables['phase-lm.csv'], { method: 'lm', rows: 'rho', rowGroupKeys: ['outputScale'], columns: ['n=100;d=10'] });
  t.like(sidecar.phaseTables['phase-adam.csv'], { rows: 'm', marks: {} });
  // the terminal text
  t.is(out.headlineMethod, 'pgd');
  t.regex(out.phase!, /^pgd: successes k\/R with relLoss <= 0\.0001/);
  t.regex(out.phase!, /\n2 +theorem-1 +3\/10 +5\/5\n/);
  t.regex(out.formatPhaseTable('lm'), /\n10 +1 +counting-bound +5\/5\n/);
});

test('boundary.csv: linear interpolation at the last upward crossing, notes when never or always crossed', async (t) => {
  const { dir } = fixture(t);
  await aggregate(dir);
  const rows = table(readFileSync(join(dir, 'boundary.csv'), 'utf8'));
  const at = (method: string, n: string, extra = '') => rows.find((r) => r.method === method && r.n === n && (r.outputScale ?? '') === extra)!;
  // pgd (100, 10): rate 0.2 at rho 1, 0.3 at rho 2 (3/10), 1 at rho 3 -> 2 + (0.5 - 0.3) / (1 - 0.3)
  const pgd = at('pgd', '100');
  t.is(Number(pgd.rho50), Number((2 + 0.2 / 0.7).toPrecision(6)));
  t.is(Number(pgd.m50), Number(((2 + 0.2 / 0.7) * 10).toPrecision(6)));
  t.like(pgd, { lastBelowRho: '2', lastBelowRate: '0.3', firstAboveRho: '3', firstAboveRate: '1', monotone: 'true', note: '' });
  t.like(at('pgd', '200'), { rho50: '', monotone: 'true' });
  t.regex(at('pgd', '200').note!, /rate >= 0\.5 at every rho measured/);
  t.like(at('sgd', '100'), { rho50: '' });
  t.regex(at('sgd', '100').note!, /rate < 0\.5 at every rho measured up to rho = 3/);
  // sgd (200, 20): 0.6, 0.2, 0.4, 0.8 -> between rho 2 (0.4) and 3 (0.8): 2.25, non-monotone (0.6 at 0.5)
  t.like(at('sgd', '200'), { rho50: '2.25', monotone: 'false' });
  t.regex(at('sgd', '200').note!, /non-monotone: rate >= 0\.5 also at rho = 0\.5/);
  // lm has a row group: one boundary per outputScale
  t.is(at('lm', '100', '10').rho50, String(0.5 + 0.5 * ((0.5 - 0.2) / (1 - 0.2))));
  t.is(at('lm', '100', '1').rho50, String(Number((2 + (0.5 - 0.4) / (0.8 - 0.4)).toPrecision(6))));
  // adam (widths m): interpolated in m d / n: 1 (0.4) -> 2 (1): 1 + 0.1 / 0.6
  t.is(at('adam', '100').rho50, String(Number((1 + 0.1 / 0.6).toPrecision(6))));
});

test('re-aggregating the same records gives byte-identical files (charts and report too), whatever their order', async (t) => {
  const { dir, recs } = fixture(t);
  // the report's header says when it was written: fixed here, so report.html must repeat too
  const opts = { report: { now: new Date(Date.UTC(2026, 1, 1)) } };
  await aggregate(dir, opts);
  const names = readdirSync(dir).filter((f) => f !== 'runs.jsonl').sort();
  t.true(names.includes('report.html') && names.includes('phase-pgd.svg') && names.includes('frontier.svg'), names.join(' '));
  const first = Object.fromEntries(names.map((f) => [f, readFileSync(join(dir, f))]));
  await aggregate(dir, opts);
  for (const f of names) t.true(readFileSync(join(dir, f)).equals(first[f]!), f);
  // the same records in another order (the superseded record still before its replacement; the
  // same torn last line, which the report mentions)
  const dir2 = tempDir(t);
  const [stale, ...rest] = recs;
  const shuffled = [...rest].reverse();
  writeJournal(dir2, [stale!, ...shuffled], '{"id":"torn","trial":0,"cel');
  await aggregate(dir2, opts);
  t.deepEqual(readdirSync(dir2).filter((f) => f !== 'runs.jsonl').sort(), names);
  // tables.sha256 also records the journal's size, and dir's journal ends in a torn line: its digests are the same
  const digests = (b: Buffer) => b.toString().split('\n').filter((l) => !l.startsWith('#')).join('\n');
  for (const f of names) {
    if (f === 'tables.sha256') t.is(digests(readFileSync(join(dir2, f))), digests(first[f]!));
    else t.true(readFileSync(join(dir2, f)).equals(first[f]!), f);
  }
  // no temporary files are left behind
  t.false(readdirSync(dir).some((f) => f.includes('.tmp')));
});

test('an empty journal gives header-only tables and no phase table', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'runs.jsonl'), '');
  const out = await aggregate(dir);
  t.is(out.runs, 0);
  t.is(out.phase, null);
  t.deepEqual(out.methods, []);
  t.is(table(readFileSync(join(dir, 'summary.csv'), 'utf8')).length, 0);
  t.deepEqual(readdirSync(dir).sort(), ['boundary.csv', 'manifest.json', 'report.html', 'runs.csv', 'runs.jsonl', 'summary.csv', 'tables.json', 'tables.sha256']);
});

test('narrowsweep aggregate prints the tables and the phase table; a folder without a journal exits 2', (t) => {
  const { dir } = fixture(t);
  const r = spawnSync(process.execPath, [CLI, 'aggregate', dir, '--method', 'sgd'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /tables in .*: runs\.csv, summary\.csv, phase-adam\.csv, phase-lm\.csv, phase-pgd\.csv, phase-sgd\.csv, boundary\.csv, tables\.json/);
  t.regex(r.stdout, /sgd: successes k\/R with relLoss <= 0\.0001/);
  t.regex(r.stderr, /torn/);
  const empty = tempDir(t);
  const r2 = spawnSync(process.execPath, [CLI, 'aggregate', empty], { encoding: 'utf8' });
  t.is(r2.status, 2);
  t.regex(r2.stderr, /has no runs\.jsonl/);
  t.deepEqual(readdirSync(empty), []);
});

test('a journal larger than one read chunk: lines across chunk ends, multibyte text, a corrupt middle line', async (t) => {
  const dir = tempDir(t);
  serial = 0;
  const recs: JournalRecord[] = [];
  for (let w = 1; w <= 800; w++) recs.push(...records({ method: 'sgd', n: 1000, d: 10, width: w, k: w % 6, R: 5 }, 'm'));
  recs.forEach((r, i) => { r.result = { ...r.result, message: `é→ "run" ${i}, ✓` }; });
  writeJournal(dir, recs);
  t.true(readFileSync(join(dir, 'runs.jsonl')).length > 5 * (1 << 22) / 4, 'more than one 4 MiB chunk');
  const out = await aggregate(dir);
  t.is(out.runs, recs.length);
  const rows = table(readFileSync(join(dir, 'runs.csv'), 'utf8'));
  t.is(rows.length, recs.length);
  const byId = new Map(recs.map((r) => [r.id, r]));
  for (const r of rows) t.is(r.message, String(byId.get(r.id!)!.result.message));
  const phase = parseCsv(readFileSync(join(dir, 'phase-sgd.csv'), 'utf8').split('\n').slice(1).join('\n'));
  t.is(phase.length, 801);
  t.deepEqual(phase[5], ['5', '', '5/5']);
  t.deepEqual(phase[6], ['6', '', '0/5']);
  // a bad line that is not the last one is corruption, reported with its line number
  const lines = readFileSync(join(dir, 'runs.jsonl'), 'utf8').split('\n');
  lines[2] = lines[2]!.slice(0, 50);
  writeFileSync(join(dir, 'runs.jsonl'), lines.join('\n'));
  await t.throwsAsync(() => aggregate(dir), { name: 'DataError', message: /runs\.jsonl:3: damaged journal line: it is not valid JSON/ });
});

test('an epsilon axis is a row-group key and appears once in summary.csv', async (t) => {
  const dir = tempDir(t);
  serial = 0;
  const recs: JournalRecord[] = [];
  for (const epsilon of [1e-2, 1e-4]) {
    for (const rho of [1, 2]) recs.push(...records({ method: 'pgd', n: 100, d: 10, width: rho, k: epsilon === 1e-2 ? 4 : 1, R: 5, extra: { epsilon } }, 'rho'));
  }
  writeJournal(dir, recs);
  await aggregate(dir);
  const summary = table(readFileSync(join(dir, 'summary.csv'), 'utf8')); // throws on duplicate column names
  t.is(summary.length, 4);
  t.deepEqual(summary.map((r) => `${r.rho}|${r.epsilon}`), ['1|0.0001', '1|0.01', '2|0.0001', '2|0.01']); // position keys first
  const phase = parseCsv(readFileSync(join(dir, 'phase-pgd.csv'), 'utf8').split('\n').slice(1).join('\n'));
  t.deepEqual(phase, [
    ['epsilon', 'rho', 'mark', 'n=100;d=10'],
    ['0.0001', '1', 'counting-bound', '1/5'], ['0.0001', '2', 'theorem-1', '1/5'],
    ['0.01', '1', 'counting-bound', '4/5'], ['0.01', '2', 'theorem-1', '4/5'],
  ]);
});

test('records of different shapes: runs.csv has the union of their columns, empty where a record has none', async (t) => {
  const dir = tempDir(t);
  serial = 0;
  const recs = records({ method: 'pgd', n: 100, d: 10, width: 2, k: 2, R: 4 }, 'rho');
  // one record from a newer core: an extra scalar result field and a third milestone
  const newer = recs[1]!;
  newer.result = { ...newer.result, milestones: [...newer.result.milestones, { threshold: 1e-6, iteration: 80, seconds: 0.3 }] };
  (newer.result as unknown as Record<string, unknown>).stepsRejected = 3;
  writeJournal(dir, recs);
  await aggregate(dir);
  const rows = table(readFileSync(join(dir, 'runs.csv'), 'utf8'));
  t.is(rows.length, 4);
  const header = Object.keys(rows[0]!);
  t.true(header.includes('itersTo1e-6') && header.includes('secondsTo1e-6') && header.includes('stepsRejected'));
  t.true(header.indexOf('itersTo1e-4') < header.indexOf('itersTo1e-6'));
  for (const r of rows) {
    const isNewer = r.id === newer.id;
    t.is(r['itersTo1e-6'], isNewer ? '80' : '');
    t.is(r.stepsRejected, isNewer ? '3' : '');
    t.is(r['itersTo1e-2'], String(recs.find((x) => x.id === r.id)!.result.milestones[0]!.iteration));
  }
});

test('with a grid, only its ids count, each with the cell and trial the grid gives it; the others are counted as not in the spec', async (t) => {
  const dir = tempDir(t);
  serial = 0;
  const kept = records({ method: 'pgd', n: 100, d: 10, width: 2, k: 2, R: 4 }, 'rho'); // run00000..3, trials 0..3, the first 2 succeed
  const other = records({ method: 'pgd', n: 100, d: 10, width: 3, k: 4, R: 4 }, 'rho'); // not in the grid
  writeJournal(dir, [...kept, ...other]);
  // The current spec: one cell with an axis the records did not store, seeds in another order.
  const cell = { method: 'pgd', n: 100, d: 10, rho: 2, m: 20, activation: 'tanh' };
  const position = new Map([['run00003', 0], ['run00001', 1], ['run00000', 2]]);
  const grid = { cells: [cell], indexOf: (id: string) => position.get(id) ?? -1 };
  const out = await aggregate(dir, { grid });
  t.is(out.runs, 3);
  t.is(out.notInSpec, 5);
  t.is(JSON.parse(readFileSync(join(dir, 'tables.json'), 'utf8')).notInSpec, 5);
  const runs = table(readFileSync(join(dir, 'runs.csv'), 'utf8'));
  t.deepEqual(runs.map((r) => [r.id, r.trial, r.rho]), [['run00003', '0', '2'], ['run00001', '1', '2'], ['run00000', '2', '2']]);
  const summary = table(readFileSync(join(dir, 'summary.csv'), 'utf8'));
  t.is(summary.length, 1);
  t.like(summary[0], { method: 'pgd', n: '100', d: '10', rho: '2', m: '20', activation: 'tanh', trials: '3', successes: '2' });
  t.regex(readFileSync(join(dir, 'phase-pgd.csv'), 'utf8'), /fixed: activation=tanh/);
  // Without a grid every record counts, labelled as stored.
  const all = await aggregate(dir);
  t.is(all.runs, 8);
  t.is(all.notInSpec, null);
  t.false('activation' in table(readFileSync(join(dir, 'summary.csv'), 'utf8'))[0]!);
});

test('the fixed axes of a table read as a spec writes them: null (a full batch) as null, not as nothing', (t) => {
  t.is(fixedText({ batch: null, activation: 'tanh', lr: 0.3 }), 'batch=null activation=tanh lr=0.3');
  t.is(fixedText({}), '');
});
