// The report: report.html and the charts built from a fixture journal. The chart data embedded in
// report.html must equal the tables written beside it (phase-<method>.csv, boundary.csv,
// summary.csv, envelope.csv), the training curves must be the records' traces, and the CLI must
// write the report (also from `run`, at its end).
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aggregate } from '../src/report/aggregate.js';
import { Coordinator } from '../src/sweep/coordinator.js';
import type { ProgressView } from '../src/sweep/progress.js';
import { loadSpec } from '../src/sweep/spec.js';
import type { CurvesData, FrontierData, HeatmapData, NiceRegionData, TestAccuracyData } from '../src/report/chart-data.js';
import { renameIds } from '../src/report/vega-render.js';
import { csvObjects, parseCsv } from './fixtures/csv-read.js';
import { COLUMNS, fixtureCells, fixtureRecords, RHOS, TRIALS, writeFixtureJournal } from './fixtures/report-journal.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'narrowsweep-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function chartData(dir: string): Record<string, unknown> {
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  const m = /<script type="application\/json" id="chart-data">(.*?)<\/script>/s.exec(html);
  if (!m) throw new Error('report.html has no chart data');
  return JSON.parse(m[1]!) as Record<string, unknown>;
}

const six = (x: number | null) => (x === null ? '' : String(Number(x.toPrecision(6))));
const METHODS = ['lm', 'mirror-gd', 'pgd', 'sgd'];

test('report.html: the data of every heatmap, frontier, nice-region and test-accuracy chart equals the tables beside it', async (t) => {
  const dir = tempDir(t);
  writeFixtureJournal(dir);
  const out = await aggregate(dir, { bestOver: ['lr'] });
  t.deepEqual(out.report!.warnings, {}, 'Vega-Lite and Vega accept every chart as it is');
  const data = chartData(dir);
  for (const name of [...METHODS.map((m) => `phase-${m}`), ...METHODS.map((m) => `envelope-phase-${m}`), 'frontier', 'envelope-frontier', 'curves', 'nice-region', 'test-accuracy']) {
    t.true(name in data, name);
    t.true(existsSync(join(dir, `${name}.svg`)), `${name}.svg`);
    t.regex(readFileSync(join(dir, `${name}.svg`), 'utf8'), /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  }

  // heatmaps: every cell of phase-<method>.csv, in its row group, at its row and column
  const boundary = csvObjects(readFileSync(join(dir, 'boundary.csv'), 'utf8'));
  for (const method of METHODS) {
    const h = data[`phase-${method}`] as HeatmapData;
    const rows = parseCsv(readFileSync(join(dir, `phase-${method}.csv`), 'utf8').split('\n').slice(1).join('\n'));
    const header = rows[0]!;
    const first = header.indexOf('mark') + 1;
    const groupKeys = header.slice(0, header.indexOf(h.width));
    t.deepEqual(h.columns, header.slice(first), method);
    const fromCsv: string[] = [], fromChart: string[] = [], emptyCsv: string[] = [], emptyChart: string[] = [];
    for (const r of rows.slice(1)) {
      const group = groupKeys.map((k, i) => `${k}=${r[i]}`).join(' ');
      r.slice(first).forEach((c, j) => (c === '' ? emptyCsv : fromCsv).push(`${group}|${r[groupKeys.length]}|${header[first + j]}${c ? `|${c}` : ''}`));
    }
    for (const p of h.panels) {
      const group = groupKeys.map((k) => `${k}=${p.group[k]}`).join(' ');
      t.deepEqual(p.rows, [...p.rows].sort((a, b) => Number(a) - Number(b)), 'rows ascend upwards');
      for (const c of p.cells) {
        t.is(p.rows[c.row], String(c.width));
        t.is(h.columns[c.col], c.column);
        t.is(c.label, `${c.successes}/${c.trials}`);
        t.is(c.rate, c.successes / c.trials);
        fromChart.push(`${group}|${c.width}|${c.column}|${c.label}`);
      }
      for (const c of p.empty) emptyChart.push(`${group}|${c.width}|${c.column}`);
      // the lines rho = 1 and 2 pass through the centres of those rows, in every column
      t.deepEqual(p.marks.map((m) => [m.col, m.rho, m.y]), h.columns.flatMap((_, j) => [[j, 1, p.rows.indexOf('1') + 0.5], [j, 2, p.rows.indexOf('2') + 0.5]]));
      // the boundary: boundary.csv rho50 of this method, row group and column, placed between its rows
      const expected = boundary.filter((b) => b.method === method && groupKeys.every((k) => b[k] === String(p.group[k])) && b.rho50 !== '');
      t.deepEqual(p.boundary.map((b) => `${h.columns[b.col]}|${six(b.rho50)}`), expected.map((b) => `n=${b.n};d=${b.d}|${b.rho50}`), `${method} ${group}`);
      for (const b of p.boundary) {
        const i = p.rows.findIndex((r) => Number(r) >= b.rho50);
        const lo = Number(p.rows[i - 1] ?? p.rows[i]), hi = Number(p.rows[i]);
        t.true(b.y >= i - 0.5 && b.y <= i + 0.5 && (hi === lo || Math.abs(b.y - (i - 0.5 + (b.rho50 - lo) / (hi - lo))) < 1e-12), `${b.y} for rho50 ${b.rho50}`);
      }
    }
    t.deepEqual(fromChart.sort(), fromCsv.sort(), method);
    t.deepEqual(emptyChart.sort(), emptyCsv.sort(), method);
  }
  t.deepEqual((data['phase-pgd'] as HeatmapData).panels[0]!.empty.map((e) => [e.width, e.column]), [[0.5, 'n=200;d=20']]);
  t.deepEqual((data['phase-lm'] as HeatmapData).panels.map((p) => p.title), ['outputScale = 1', 'outputScale = 10']);

  // frontiers: one point per boundary.csv row, with its rho50 and Wilson band
  const f = data.frontier as FrontierData;
  t.is(f.xField, 'n');
  t.deepEqual(f.points.map((p) => [p.method, String(p.n), six(p.rho50), six(p.rho50Low), six(p.rho50High)]),
    boundary.map((b) => [b.method, b.n, b.rho50, b.rho50Low, b.rho50High]));
  for (const p of f.points) {
    t.true(p.bandLow <= p.y && p.y <= p.bandHigh, `${p.series} ${p.n}`);
    t.is(p.kind === 'crossing', p.rho50 !== null);
  }
  const ef = data['envelope-frontier'] as FrontierData;
  const envBoundary = csvObjects(readFileSync(join(dir, 'envelope-boundary.csv'), 'utf8'));
  t.deepEqual(ef.points.map((p) => [p.method, String(p.n), six(p.rho50)]), envBoundary.map((b) => [b.method, b.n, b.rho50]));

  // the nice region and the test accuracy: summary.csv's medians
  const summary = csvObjects(readFileSync(join(dir, 'summary.csv'), 'utf8'));
  const nice = data['nice-region'] as NiceRegionData;
  t.deepEqual(nice.methods, ['pgd', 'mirror-gd']);
  const expSigma: string[] = [], expDist: string[] = [];
  for (const r of summary.filter((s) => s.method === 'pgd' || s.method === 'mirror-gd')) {
    const at = `${r.method}|n=${r.n};d=${r.d}|${r.rho}`;
    for (const [which, v] of [['start', r.sigmaMinJStart], ['end', r.sigmaMinJEnd]] as const) if (v !== '' && Number(v) > 0) expSigma.push(`${at}|${which}|${v}`);
    if (r.medianDistW0 !== '') expDist.push(`${at}|distW0|${r.medianDistW0}`);
    if (r.medianRadiusUsed !== '') expDist.push(`${at}|radius|${r.medianRadiusUsed}`);
  }
  t.deepEqual(nice.sigma.map((s) => `${s.method}|${s.column}|${s.rho}|${s.which}|${six(s.sigmaMinJ)}`).sort(), expSigma.sort());
  t.deepEqual(nice.distance.map((s) => `${s.method}|${s.column}|${s.rho}|${s.what}|${six(s.value)}`).sort(), expDist.sort());
  t.true(expSigma.length > 0 && expDist.some((x) => x.includes('|radius|')) && !expDist.some((x) => x.startsWith('mirror-gd') && x.includes('|radius|')));
  const acc = data['test-accuracy'] as TestAccuracyData;
  t.deepEqual(acc.points.map((p) => `${p.series}|${p.column}|${p.rho}|${six(p.testAccuracy)}`).sort(),
    summary.map((r) => `${r.method}${r['sgd.lr'] ? ` lr=${r['sgd.lr']}` : ''}${r.outputScale ? ` outputScale=${r.outputScale}` : ''}|n=${r.n};d=${r.d}|${r.rho}|${r.medianTestAccuracy}`).sort());

  // the envelope heatmap of sgd: envelope.csv's winners, the setting in each cell
  const env = csvObjects(readFileSync(join(dir, 'envelope.csv'), 'utf8')).filter((r) => r.method === 'sgd');
  const eh = data['envelope-phase-sgd'] as HeatmapData;
  t.is(eh.panels.length, 1);
  t.deepEqual(eh.panels[0]!.cells.map((c) => `${c.width}|${c.column}|${c.label}|${c.setting}`).sort(),
    env.map((r) => `${r.rho}|n=${r.n};d=${r.d}|${r.successes}/${r.trials}|${r.bestSetting}`).sort());
});

test('envelope.csv: per cell the best lr for sgd, ties to the first setting; methods without the axis keep their cells', async (t) => {
  const dir = tempDir(t);
  writeFixtureJournal(dir);
  await aggregate(dir, { bestOver: ['lr'], report: false });
  const env = csvObjects(readFileSync(join(dir, 'envelope.csv'), 'utf8'));
  t.is(env.length, fixtureCells().filter((c) => c.method !== 'sgd').length + RHOS.length * COLUMNS.length);
  for (const col of COLUMNS) {
    RHOS.forEach((rho) => {
      const k = (lr: number) => fixtureCells().find((c) => c.method === 'sgd' && c.n === col.n && c.rho === rho && c.extra['sgd.lr'] === lr)!.k;
      const [a, b] = [k(0.05), k(0.3)];
      const r = env.find((x) => x.method === 'sgd' && x.n === String(col.n) && x.rho === String(rho))!;
      // equal counts give equal rates, Wilson bounds and (in this fixture) relLoss medians: the first setting wins
      t.like(r, { 'best.lr': b > a ? '0.3' : '0.05', bestSetting: b > a ? 'lr=0.3' : 'lr=0.05', settingsTried: '2', tiedSettings: a === b ? '1' : '0', successes: String(Math.max(a, b)), trials: String(TRIALS) }, `sgd ${col.n} ${rho}`);
    });
  }
  const pgd = env.find((x) => x.method === 'pgd' && x.n === '100' && x.rho === '2')!;
  t.like(pgd, { 'best.lr': '', bestSetting: '', settingsTried: '1', tiedSettings: '0' });
  // lm keeps outputScale as a row group (not optimised over)
  t.true(env.some((x) => x.method === 'lm' && x.outputScale === '1') && env.some((x) => x.method === 'lm' && x.outputScale === '10'));
  const phase = readFileSync(join(dir, 'envelope-phase-sgd.csv'), 'utf8');
  t.regex(phase.split('\n')[0]!, /^# envelope phase table of method sgd over lr/);
  t.deepEqual(parseCsv(phase.split('\n').slice(1).join('\n'))[0], ['rho', 'mark', 'n=100;d=10', 'n=200;d=20']);
  const sidecar = JSON.parse(readFileSync(join(dir, 'tables.json'), 'utf8'));
  t.deepEqual(sidecar.envelope.bestOver, ['lr']);
  t.truthy(sidecar.envelope.phaseTables['envelope-phase-sgd.csv']);
  // a name that is no axis is an error before any table is written
  const dir2 = tempDir(t);
  writeFixtureJournal(dir2);
  await t.throwsAsync(() => aggregate(dir2, { bestOver: ['momentum'] }), { name: 'BestOverError', message: /no axis momentum .*outputScale, sgd\.lr/ });
  t.deepEqual(readdirSync(dir2), ['runs.jsonl']);
});

test('training curves: the traces of the representative cells (largest n, rho just below and above 2, the best row group)', async (t) => {
  const dir = tempDir(t);
  const recs = writeFixtureJournal(dir);
  await aggregate(dir);
  const c = chartData(dir).curves as CurvesData;
  t.deepEqual(c.panels.map((p) => p.panel), [
    'lm (n=200, d=20, outputScale=10): rho 1.5 and 2.5', 'mirror-gd (n=200, d=20): rho 1.5 and 2.5',
    'pgd (n=200, d=20): rho 1.5 and 2.5', 'sgd (n=200, d=20, lr=0.3): rho 1.5 and 2.5',
  ]);
  const expected: string[] = [];
  for (const r of recs) {
    if (r.cell.n !== 200 || (r.cell.rho !== 1.5 && r.cell.rho !== 2.5)) continue;
    if (r.cell.outputScale === 1 || r.cell['sgd.lr'] === 0.05) continue;
    for (const [it, rel] of (r.result as unknown as { trace: Array<[number, number]> }).trace) expected.push(`${r.id}|${r.cell.rho}|${it}|${rel}`);
  }
  t.deepEqual(c.runs.flatMap((r) => r.trace.map(([it, rel]) => `${r.run}|${r.rho}|${it}|${rel}`)).sort(), expected.sort());
  t.true(c.runs.every((r) => r.epsilon === 1e-4 && r.side === (r.rho < 2 ? 'below 2' : 'above 2')));
  t.is(c.runs.length, 4 * 2 * TRIALS);
  // records without a trace (written before traces were kept): no curves, and the page says why
  const dir2 = tempDir(t);
  const bare = fixtureRecords().map((r) => { delete (r.result as unknown as { trace?: unknown }).trace; return r; });
  writeFileSync(join(dir2, 'runs.jsonl'), bare.map((r) => `${JSON.stringify(r)}\n`).join(''));
  const out = await aggregate(dir2);
  t.false(out.report!.charts.includes('curves'));
  t.false(existsSync(join(dir2, 'curves.svg')));
  t.regex(readFileSync(join(dir2, 'report.html'), 'utf8'), /These runs have no loss traces/);
  t.false(csvObjects(readFileSync(join(dir, 'runs.csv'), 'utf8')).some((r) => 'trace' in r), 'no trace column in runs.csv');
});

test('report.html: the header (success rule, runs by status, versions, machines, wall time), progress while running, unique ids, no request', async (t) => {
  const dir = tempDir(t);
  writeFixtureJournal(dir);
  const total = fixtureCells().length * TRIALS;
  await aggregate(dir, { report: { state: 'running', totalRuns: 2 * total, refreshSeconds: 30, now: new Date(Date.UTC(2026, 1, 1)) } });
  let html = readFileSync(join(dir, 'report.html'), 'utf8');
  t.regex(html, new RegExp(`Sweep in progress: ${total} of ${2 * total} configurations \\(50\\.0%\\) finished`));
  t.regex(html, /<meta http-equiv="refresh" content="30">/);
  t.regex(html, /success = relLoss &lt;= 0\.0001/);
  t.regex(html, new RegExp(`${total} runs: ok ${total}, diverged 0, timeout 0, error 0, oom 0; ${fixtureRecords().filter((r) => r.result.success).length} succeeded`));
  t.regex(html, /fixture-host \(\d+\)/);
  t.regex(html, /narrowsweep 0\.1\.0, core semantics 1, node v20\.0\.0/);
  t.regex(html, /typescript reference \(float64\), float64/);
  t.regex(html, /first run started 2026-01-01T00:00:01\.000Z/);
  t.regex(html, /written<\/th><td>2026-02-01T00:00:00\.000Z/);
  // the same facts as data in manifest.json, for a results folder committed without its journal
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  t.like(manifest, {
    state: 'running', runs: total, totalRuns: 2 * total, byStatus: { ok: total },
    successes: fixtureRecords().filter((r) => r.result.success).length,
    firstStart: '2026-01-01T00:00:01.000Z', writtenAt: '2026-02-01T00:00:00.000Z',
  });
  t.deepEqual(manifest.versions, [{ name: 'narrowsweep 0.1.0, core semantics 1, node v20.0.0', runs: total }]);
  // self-contained: no script that runs, nothing fetched (links only to the files beside it)
  t.notRegex(html, /<script(?! type="application\/json")/);
  t.notRegex(html, /(src|href)="(https?:)?\/\//);
  t.notRegex(html, /<(img|link|iframe)\b/);
  const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]);
  t.is(new Set(ids).size, ids.length, 'no two elements (across the inline charts) share an id');
  // the end of a run that stopped early, and a complete static report
  await aggregate(dir, { report: { state: 'final', totalRuns: 2 * total } });
  html = readFileSync(join(dir, 'report.html'), 'utf8');
  t.regex(html, /Sweep stopped before the end/);
  t.notRegex(html, /http-equiv="refresh"/);
  await aggregate(dir, { report: { state: 'static', totalRuns: total } });
  t.regex(readFileSync(join(dir, 'report.html'), 'utf8'), new RegExp(`Complete: ${total} of ${total} configurations \\(100\\.0%\\) finished`));
});

test('renameIds: ids and their references get the chart prefix in order of appearance', (t) => {
  const svg = '<svg><defs><linearGradient id="gradient_7"/><clipPath id="clip3"/></defs><rect fill="url(#gradient_7)" clip-path="url(#clip3)"/><use href="#clip3"/></svg>';
  t.is(renameIds(svg, 'phase-pgd'), '<svg><defs><linearGradient id="phase-pgd-0"/><clipPath id="phase-pgd-1"/></defs><rect fill="url(#phase-pgd-0)" clip-path="url(#phase-pgd-1)"/><use href="#phase-pgd-1"/></svg>');
  t.is(renameIds('<svg/>', 'x'), '<svg/>');
});

test('narrowsweep report writes report.html and the charts; --best-over adds the envelope; a bad axis exits 2', (t) => {
  const dir = tempDir(t);
  writeFixtureJournal(dir);
  const r = spawnSync(process.execPath, [CLI, 'report', dir, '--best-over', 'lr'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /284 runs; 13 charts: frontier\.svg, envelope-frontier\.svg, phase-lm\.svg, /);
  t.regex(r.stdout, new RegExp(`report: .*${dir.split('/').pop()}/report\\.html`));
  t.is(r.stderr, '', 'no chart warning');
  for (const f of ['report.html', 'envelope.csv', 'envelope-phase-sgd.svg', 'phase-sgd.csv', 'summary.csv']) t.true(existsSync(join(dir, f)), f);
  const bad = spawnSync(process.execPath, [CLI, 'report', dir, '--best-over', 'momentum'], { encoding: 'utf8' });
  t.is(bad.status, 2);
  t.regex(bad.stderr, /narrowsweep report: --best-over: no axis momentum/);
  const pos = spawnSync(process.execPath, [CLI, 'aggregate', dir, '--best-over', 'rho'], { encoding: 'utf8' });
  t.is(pos.status, 2);
  t.regex(pos.stderr, /--best-over: rho places a cell in the phase table/);
  const empty = tempDir(t);
  const none = spawnSync(process.execPath, [CLI, 'report', empty], { encoding: 'utf8' });
  t.is(none.status, 2);
  t.regex(none.stderr, /has no runs\.jsonl/);
  t.deepEqual(readdirSync(empty), []);
});

test('narrowsweep run writes the report at its end, with the spec in the header', (t) => {
  const dir = tempDir(t);
  const spec = join(dir, 'tiny.yaml');
  writeFileSync(spec, [
    'name: tiny', 'grid: { n: [24], d: [4], rho: [1, 3], method: [lm, gd] }', 'trials: 2',
    'budget: { iterations: 200, seconds: 20 }', 'methods: { lm: { outputScale: 10 } }', '',
  ].join('\n'));
  const out = join(dir, 'out');
  const r = spawnSync(process.execPath, [CLI, 'run', spec, '--out', out, '--workers', '1', '--quiet', '--refresh', '0'], { encoding: 'utf8', env: { ...process.env, NARROWSWEEP_QUIET_ENGINE: '1' } });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /Report: .*out\/report\.html \(\d+ charts, each also as a \.svg file\)/);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  t.regex(html, /Complete: 8 of 8 configurations \(100\.0%\) finished/);
  t.regex(html, /<code>rho<\/code>: 1, 3/);
  t.regex(html, /lm: <code>\{&quot;outputScale&quot;:10\}<\/code>/);
  for (const f of ['phase-gd.svg', 'phase-lm.svg', 'frontier.svg']) t.true(existsSync(join(out, f)), f);
});

test('the coordinator tells its table writer a refresh from the final write, so the report can say the sweep is in progress', async (t) => {
  const dir = tempDir(t);
  const spec = join(dir, 'slow.yaml');
  // long enough runs that a 20 ms refresh fires during the sweep (the pool alone takes longer to start)
  writeFileSync(spec, 'name: slow\ngrid: { n: [40], d: [4], m: [8, 12], method: [gd] }\ntrials: 3\nbudget: { iterations: 4000, seconds: 600 }\nsuccess: { relLoss: 0 }\n');
  const calls: string[] = [];
  const progress: ProgressView = { start() {}, slotStart() {}, slotProgress() {}, slotEnd() {}, runDone() {}, log() {}, stop() {} };
  const c = new Coordinator({
    spec: loadSpec(spec), outDir: join(dir, 'out'), threads: 1, retryFailed: false, runTimeoutSeconds: null,
    refreshSeconds: 0.02, progress, log: () => {},
    tables: async (grid, when) => {
      calls.push(when);
      return aggregate(join(dir, 'out'), { grid, report: { state: when === 'refresh' ? 'running' : 'final', totalRuns: 6 } });
    },
  });
  const outcome = await c.run();
  t.is(calls.at(-1), 'final');
  t.true(calls.slice(0, -1).length > 0 && calls.slice(0, -1).every((w) => w === 'refresh'), calls.join(' '));
  t.is(outcome.tables!.runs, 6);
  t.regex(readFileSync(join(dir, 'out', 'report.html'), 'utf8'), /Complete: 6 of 6 configurations/);
});
