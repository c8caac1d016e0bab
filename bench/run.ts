// Whole runs and a whole sweep, narrowsweep against a numpy/scipy peer doing the same work (not a test):
//   node dist/bench/run.js [--rounds 5] [--only gd,lm,sweep] [--sweep-rounds min(R,3)] [--workers 2]
//                          [--cpu N|none] [--python /usr/bin/python3] [--no-install] [--keep]
// Without numpy and scipy, and as root with apt-get, it installs Debian's python3-numpy and
// python3-scipy (with OpenBLAS) first; --no-install skips the numpy side with a message instead.
//
// 1. Whole `narrowsweep train` processes (float64, tanh), process wall time, each side paying its own
//    start-up (node + modules + data generation; python + numpy/scipy import + np.load). Before the
//    timed rounds narrowsweep runs once untimed with --save-model/--save-data; bench/run_numpy.py
//    converts that data, initial point, resolved config and iteration count once into a .npz, so
//    the peer (`run_numpy.py train`) does exactly the same work on exactly the same problem. Rounds
//    alternate the two processes (ns, np; then np, ns; ...); reported per size: the median seconds of
//    each and the median over rounds of the per-round ratio numpy / narrowsweep (> 1: narrowsweep
//    faster). Both processes are pinned to one core with taskset when it exists (--cpu none: not).
//    Cross-check: lrUsed, lambdaMax, sigma_min(J) at start and end, final relLoss, iterations (and for
//    lm the peer's accepted iterations and Cholesky factorisations) beside narrowsweep's values.
// 2. A whole sweep (bench/sweep-n1000.yaml) with `narrowsweep run --workers 2`, unpinned, against
//    `run_numpy.py sweep`: multiprocessing.Pool(2) re-running every configuration of the journal
//    narrowsweep just wrote, with the same resolved config and the same number of iterations, on its
//    own Gaussian data. Timed python start to end. --sweep-rounds rounds (default min(R, 3)), alternating
//    after the first; the ratio is the median of the per-round ratios.
// Every child gets OPENBLAS_NUM_THREADS=1 (narrowsweep sets one BLAS thread itself too) and none of
// OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (they pin an older kernel family on some machines).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const firstExisting = (...paths: string[]): string | undefined => paths.find((p) => existsSync(p));
const cli = join(here, '../src/cli.js');
const peerScript = firstExisting(join(here, 'run_numpy.py'), join(here, '../../bench/run_numpy.py'));
const sweepSpec = firstExisting(join(here, 'sweep-n1000.yaml'), join(here, '../../bench/sweep-n1000.yaml'));
const PARTS = ['gd', 'lm', 'sweep'] as const;
type Part = (typeof PARTS)[number];

interface Options {
  rounds: number; sweepRounds: number; only: Part[]; cpu: string; python: string | null;
  install: boolean; workers: number; keep: boolean;
}

const USAGE = 'usage: node dist/bench/run.js [--rounds 5] [--only gd,lm,sweep] [--sweep-rounds min(R,3)] [--workers 2] [--cpu N|none] [--python PATH] [--no-install] [--keep]';

function parseArgs(argv: string[]): Options {
  const o: Options = { rounds: 5, sweepRounds: 0, only: [...PARTS], cpu: 'auto', python: null, install: true, workers: 2, keep: false };
  let sweepRounds: number | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!, v = argv[i + 1];
    const need = (): string => { if (v === undefined) throw new Error(`${a}: expected a value`); i++; return v; };
    const count = (): number => {
      const x = Number(need());
      if (!Number.isInteger(x) || x < 1) throw new Error(`${a}: expected a positive integer, got "${v}"`);
      return x;
    };
    if (a === '--rounds') o.rounds = count();
    else if (a === '--sweep-rounds') sweepRounds = count();
    else if (a === '--workers') o.workers = count();
    else if (a === '--cpu') o.cpu = need();
    else if (a === '--python') o.python = need();
    else if (a === '--no-install') o.install = false;
    else if (a === '--keep') o.keep = true;
    else if (a === '--only') {
      const parts = need().split(',');
      for (const p of parts) if (!(PARTS as readonly string[]).includes(p)) throw new Error(`--only: expected gd, lm or sweep (comma-separated), got "${p}"`);
      o.only = parts as Part[];
    } else if (a === '--help' || a === '-h') { console.log(USAGE); process.exit(0); }
    else throw new Error(`unknown option ${a}\n${USAGE}`);
  }
  o.sweepRounds = sweepRounds ?? Math.min(o.rounds, 3);
  return o;
}

// ---- processes -------------------------------------------------------------------------------------

function childEnv(): NodeJS.ProcessEnv {
  const { OPENBLAS_CORETYPE: _c, OPENBLAS_L2_SIZE: _l, ...rest } = process.env;
  return { ...rest, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
}

interface Timed { seconds: number; stdout: string }

/** Runs `cmd args` (under `taskset -c cpu` when pinned), returns its wall seconds and stdout; throws on failure. */
function timed(cmd: string, args: string[], cpu: string | null, what: string): Timed {
  const [file, argv] = cpu === null ? [cmd, args] : ['taskset', ['-c', cpu, cmd, ...args]];
  const t0 = performance.now();
  const r = spawnSync(file, argv, { encoding: 'utf8', env: childEnv(), maxBuffer: 1 << 28 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status ?? r.signal}):\n${r.stderr}${r.stdout.slice(-2000)}`);
  return { seconds, stdout: r.stdout };
}

const hasPeerLibs = (py: string): boolean => spawnSync(py, ['-c', 'import numpy, scipy.linalg'], { stdio: 'ignore' }).status === 0;

/** Installs Debian's numpy and scipy (OpenBLAS) when apt-get is there and we are root; false otherwise. */
function installPeerLibs(): boolean {
  if (process.getuid?.() !== 0 || spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) return false;
  console.log('bench/run: no python with numpy and scipy; installing python3-numpy, python3-scipy and libopenblas0-pthread with apt-get ...');
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
  return spawnSync('apt-get', ['install', '-y', '-qq', 'python3-numpy', 'python3-scipy', 'libopenblas0-pthread'], { stdio: 'ignore' }).status === 0;
}

function findPython(o: Options): { python: string } | { python: null; why: string } {
  if (peerScript === undefined) return { python: null, why: 'bench/run_numpy.py not found' };
  // Debian's python3 first: the python3 on PATH may be a pyenv one without numpy.
  const candidates = o.python !== null ? [o.python] : ['/usr/bin/python3', 'python3'];
  for (let attempt = 0; attempt < 2; attempt++) {
    for (const py of candidates) if (hasPeerLibs(py)) return { python: py };
    if (attempt === 0 && (!o.install || !installPeerLibs())) break;
  }
  return { python: null, why: `no python with numpy and scipy among ${candidates.join(', ')} (Debian: apt-get install python3-numpy python3-scipy)` };
}

// ---- statistics and formatting ---------------------------------------------------------------------

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};
const secs = (x: number): string => (Number.isFinite(x) ? x.toFixed(x < 10 ? 3 : 2) : '-');
const ratio = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');
const val = (x: unknown): string => (typeof x === 'number' ? (Number.isInteger(x) ? String(x) : x.toPrecision(12)) : x === null || x === undefined ? '-' : String(x));

function relDiff(a: unknown, b: unknown): number | null {
  if (typeof a !== 'number' || typeof b !== 'number') return null;
  if (a === b) return 0;
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
}

/** A plain-text table: a header row, a rule, then the rows; columns from `rightFrom` on right-aligned. */
function formatTable(rows: string[][], rightFrom: number, indent = ''): string[] {
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => (r[j] ?? '').length)));
  const lines: string[] = [];
  rows.forEach((r, i) => {
    lines.push(indent + r.map((c, j) => (j >= rightFrom ? c.padStart(widths[j]!) : c.padEnd(widths[j]!))).join('  ').trimEnd());
    if (i === 0) lines.push(indent + widths.map((w) => '-'.repeat(w)).join('  '));
  });
  return lines;
}

function cpuModel(): string {
  try {
    const line = execFileSync('lscpu', { encoding: 'utf8' }).split('\n').find((l) => l.startsWith('Model name'));
    if (line) return line.split(':')[1]!.trim();
  } catch { /* no lscpu */ }
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) return line.split(':')[1]!.trim();
  } catch { /* not linux */ }
  return 'unknown';
}

// ---- the single-run rows ---------------------------------------------------------------------------

interface TrainCase { part: 'gd' | 'lm'; what: string; args: string[] }

function trainCases(): TrainCase[] {
  const gd = ([n, d, m, k]: number[]): TrainCase => ({
    part: 'gd', what: `gd ${n}x${d}x${m}, ${k} steps, certificates`,
    args: ['--method', 'gd', '--n', String(n), '--d', String(d), '--m', String(m), '--iterations', String(k), '--epsilon', '0'],
  });
  // lm at d = 50, rho = m d / n = 4; mirrored init, v fixed.
  const lm = (n: number, certificates: boolean): TrainCase => ({
    part: 'lm', what: `lm ${n}x50x${(4 * n) / 50}, 10 iterations, ${certificates ? 'certificates' : 'no certificates'}`,
    args: ['--method', 'lm', '--n', String(n), '--d', '50', '--m', String((4 * n) / 50), '--iterations', '10', '--epsilon', '0',
      ...(certificates ? [] : ['--certificate-max-n', '0'])],
  });
  return [gd([1000, 50, 40, 2000]), gd([2000, 784, 20, 300]), gd([4000, 100, 80, 300]), lm(1000, false), lm(2000, false), lm(2000, true)];
}

interface Row { what: string; ns: number; np: number; ratio: number; range: string; note: string }

interface CrossCheck { what: string; rows: string[][]; warnings: string[]; notes: string[] }

type Json = Record<string, unknown>;

function trainRow(c: TrainCase, o: Options, python: string | null, cpu: string | null, work: string): { row: Row; check: CrossCheck | null } {
  const base = [cli, 'train', ...c.args, '--seed', '1', '--seconds', '1000000', '--quiet'];
  const tag = c.what.replace(/[^A-Za-z0-9]+/g, '-');
  const model = join(work, `${tag}.model.json`), data = join(work, `${tag}.data.csv`), resultFile = join(work, `${tag}.result.json`);
  const npz = join(work, `${tag}.npz`);
  // Untimed: narrowsweep's exact data and initial point, converted once for the peer.
  const saved = timed(process.execPath, [...base, '--save-model', model, '--save-data', data], cpu, `narrowsweep ${c.what} (untimed)`);
  const ref = JSON.parse(saved.stdout) as Json;
  if (ref.status !== 'ok') throw new Error(`narrowsweep ${c.what}: status ${String(ref.status)} (${String(ref.message)})`);
  writeFileSync(resultFile, saved.stdout); // the result JSON the converter reads
  if (python !== null) timed(python, [peerScript!, 'convert', model, data, resultFile, npz], null, `run_numpy.py convert (${c.what})`);

  const nsTimes: number[] = [], npTimes: number[] = [], ratios: number[] = [];
  let nsOut: Json | null = null, npOut: Json | null = null;
  for (let round = 0; round < o.rounds; round++) {
    const runNs = (): number => {
      const t = timed(process.execPath, base, cpu, `narrowsweep ${c.what}`);
      const r = JSON.parse(t.stdout) as Json;
      if (r.status !== 'ok' || r.iterations !== ref.iterations) throw new Error(`narrowsweep ${c.what}: status ${String(r.status)}, ${String(r.iterations)} iterations (untimed run: ${String(ref.iterations)})`);
      nsOut ??= r;
      return t.seconds;
    };
    const runNp = (): number => {
      const t = timed(python!, [peerScript!, 'train', npz], cpu, `run_numpy.py train (${c.what})`);
      npOut ??= JSON.parse(t.stdout) as Json;
      return t.seconds;
    };
    // Alternate which side goes first, so a drift of the machine within a round hits both alike.
    let a: number, b = NaN;
    if (python === null) a = runNs();
    else if (round % 2 === 0) { a = runNs(); b = runNp(); } else { b = runNp(); a = runNs(); }
    nsTimes.push(a);
    if (python !== null) { npTimes.push(b); ratios.push(b / a); }
  }
  const row: Row = {
    what: c.what, ns: median(nsTimes), np: median(npTimes), ratio: median(ratios),
    range: ratios.length > 0 ? `${ratio(Math.min(...ratios))}-${ratio(Math.max(...ratios))}` : '', note: '',
  };
  if (python === null || npOut === null) return { row, check: null };
  const ns = nsOut!, np: Json = npOut;
  const rows: string[][] = [['quantity', 'narrowsweep', 'numpy', 'rel. difference']];
  const warnings: string[] = [];
  const keys = ['lrUsed', 'lambdaMax', 'sigmaMinJStart', 'sigmaMinJEnd', 'relLoss', 'iterations'];
  for (const k of keys) {
    if (ns[k] === null && (np[k] === null || np[k] === undefined)) continue;
    const rd = relDiff(ns[k], np[k]);
    rows.push([k, val(ns[k]), val(np[k]), rd === null ? '-' : rd.toExponential(1)]);
    if ((k === 'lambdaMax' || k === 'sigmaMinJStart') && (rd === null || rd > 1e-8)) {
      warnings.push(`${k} disagrees: narrowsweep ${val(ns[k])}, numpy ${val(np[k])}, relative difference ${rd === null ? 'n/a' : rd.toExponential(2)} (> 1e-8)`);
    }
  }
  if (c.part === 'lm') {
    rows.push(['accepted lm iterations', val(ns.iterations), val(np.accepted), '']);
    rows.push(['Cholesky factorisations', 'not reported', val(np.choleskys), '']);
  }
  const notes: string[] = [];
  const relLossDiff = relDiff(ns.relLoss, np.relLoss);
  if (c.part === 'gd' && (relLossDiff === null || relLossDiff > 1e-6)) {
    notes.push('gd at lr = 1/L runs at the edge of stability, where rounding differences grow: final relLoss and sigmaMinJEnd may differ (not a failure)');
  }
  return { row, check: { what: c.what, rows, warnings, notes } };
}

// ---- the sweep row ---------------------------------------------------------------------------------

interface JournalSummary { runs: number; iterations: number; perMethod: Map<string, { runs: number; iterations: number; seconds: number }> }

function readJournal(path: string): JournalSummary {
  const s: JournalSummary = { runs: 0, iterations: 0, perMethod: new Map() };
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const rec = JSON.parse(line) as { result: { status: string; iterations: number; seconds: number; resolved?: { method: string } } };
    if (rec.result.status === 'error' || rec.result.resolved === undefined) continue;
    s.runs++;
    s.iterations += rec.result.iterations;
    const m = s.perMethod.get(rec.result.resolved.method) ?? { runs: 0, iterations: 0, seconds: 0 };
    m.runs++;
    m.seconds += rec.result.seconds;
    m.iterations += rec.result.iterations;
    s.perMethod.set(rec.result.resolved.method, m);
  }
  return s;
}

function sweepRow(o: Options, python: string | null, work: string): { row: Row; lines: string[] } {
  if (sweepSpec === undefined) throw new Error('bench/sweep-n1000.yaml not found');
  const out = join(work, 'sweep');
  const journal = join(out, 'runs.jsonl'), kept = join(work, 'sweep-runs.jsonl');
  const nsTimes: number[] = [], npTimes: number[] = [], ratios: number[] = [];
  const lines: string[] = [];
  let first: { ns: JournalSummary; np: Json } | null = null;
  const runNs = (): number => {
    const t = timed(process.execPath, [cli, 'run', sweepSpec, '--fresh', '--out', out, '--workers', String(o.workers), '--quiet'], null, 'narrowsweep run (sweep)');
    copyFileSync(journal, kept); // --fresh deletes it at the next round; the peer reads the copy
    return t.seconds;
  };
  const runNp = (): { seconds: number; out: Json } => {
    const t = timed(python!, [peerScript!, 'sweep', kept, '--workers', String(o.workers)], null, 'run_numpy.py sweep');
    return { seconds: t.seconds, out: JSON.parse(t.stdout) as Json };
  };
  for (let round = 0; round < o.sweepRounds; round++) {
    // The peer re-runs the journal narrowsweep wrote, so the first round starts with narrowsweep;
    // later rounds alternate (the peer then re-runs the previous round's journal: the same
    // configurations and, narrowsweep being deterministic, the same iteration counts).
    let a: number, b: { seconds: number; out: Json } | null = null;
    if (python === null) a = runNs();
    else if (round % 2 === 0) { a = runNs(); b = runNp(); } else { b = runNp(); a = runNs(); }
    nsTimes.push(a);
    if (b !== null) {
      npTimes.push(b.seconds);
      ratios.push(b.seconds / a);
      first ??= { ns: readJournal(kept), np: b.out };
    }
    lines.push(`round ${round + 1}: narrowsweep ${secs(a)} s${b !== null ? `, numpy ${secs(b.seconds)} s, ratio ${ratio(b.seconds / a)}` : ''}`);
  }
  const nsJ = readJournal(kept);
  lines.unshift(`sweep: ${nsJ.runs} configurations of ${sweepSpec}, ${nsJ.iterations} iterations in narrowsweep's journal`);
  if (first !== null) {
    const np = first.np as {
      runs: number; iterations: number; iterationsAsked: number; statuses: Record<string, number>;
      perMethod: Record<string, { runs: number; iterations: number; choleskys: number; seconds: number }>;
    };
    lines.push(`numpy peer: ${np.runs} runs, ${np.iterations} of the ${np.iterationsAsked} iterations asked (statuses ${JSON.stringify(np.statuses)})`);
    // Run seconds: summed over the runs of a method (both workers), measured inside each run.
    const rows: string[][] = [['method', 'runs', 'narrowsweep iterations', 'numpy iterations', 'numpy Cholesky', 'narrowsweep run s', 'numpy run s']];
    for (const [method, s] of first.ns.perMethod) {
      const p = np.perMethod[method];
      rows.push([method, String(s.runs), String(s.iterations), p === undefined ? '-' : String(p.iterations),
        p === undefined || p.choleskys === 0 ? '' : String(p.choleskys), secs(s.seconds), p === undefined ? '-' : secs(p.seconds)]);
    }
    lines.push(...formatTable(rows, 1, '  '));
    if (np.iterations !== np.iterationsAsked || np.runs !== first.ns.runs) {
      lines.push(`!!! the numpy peer did not do all the work: ${np.iterations} of ${np.iterationsAsked} iterations, ${np.runs} of ${first.ns.runs} runs`
        + ' (its own data diverged or lm stalled in some runs; see statuses)');
    }
  }
  const row: Row = {
    what: `sweep ${nsJ.runs} configs (bench/sweep-n1000.yaml), ${o.workers} workers vs Pool(${o.workers})`,
    ns: median(nsTimes), np: median(npTimes), ratio: median(ratios),
    range: ratios.length > 1 ? `${ratio(Math.min(...ratios))}-${ratio(Math.max(...ratios))}` : '', note: '',
  };
  return { row, lines };
}

// ---- main ------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (!existsSync(cli)) throw new Error(`${cli} not found (npm run build:ts first)`);
  const peer = findPython(o);
  const python = peer.python;
  let cpu: string | null = null;
  if (o.cpu !== 'none' && spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0) {
    cpu = o.cpu === 'auto' ? String(Math.max(0, (Number(execFileSync('nproc').toString().trim()) || 1) - 1)) : o.cpu;
  }
  const la = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
  let info: Json = {};
  if (python !== null) info = JSON.parse(timed(python, [peerScript!, 'info'], null, 'run_numpy.py info').stdout) as Json;
  const nsEngine = JSON.parse(timed(process.execPath, [cli, 'train', '--method', 'gd', '--n', '8', '--d', '2', '--m', '2', '--iterations', '1', '--quiet'], null, 'narrowsweep probe').stdout) as Json;
  const machine = [
    `CPU: ${cpuModel()} (${execFileSync('nproc').toString().trim()} cores)`,
    `narrowsweep: node ${process.version}, engine ${String(nsEngine.engineDetail)}`,
    python !== null
      ? `numpy ${String(info.numpy)}, scipy ${String(info.scipy)}, ${String(info.openblas).split(' ').slice(0, 2).join(' ')} (core ${String(info.core)}), python ${String(info.python)} (${python})`
      : `numpy: skipped, ${(peer as { why: string }).why}`,
  ];
  console.log(`bench/run: whole runs and a whole sweep, narrowsweep against numpy/scipy doing the same work (float64, tanh)`);
  for (const l of machine) console.log(l);
  console.log(`single runs: ${o.rounds} rounds, alternating, process wall time, pinned to CPU ${cpu ?? 'none'}; sweep: ${o.sweepRounds} round(s), ${o.workers} workers, unpinned`);
  console.log(`OPENBLAS_NUM_THREADS=1 for every child; load average at start ${la()}`);
  console.log('');

  const work = mkdtempSync(join(tmpdir(), 'narrowsweep-bench-run-'));
  const rows: Row[] = [];
  const warnings: string[] = [];
  try {
    for (const c of trainCases()) {
      if (!o.only.includes(c.part)) continue;
      const { row, check } = trainRow(c, o, python, cpu, work);
      rows.push(row);
      console.log(`${row.what}: narrowsweep ${secs(row.ns)} s, numpy ${secs(row.np)} s, numpy / narrowsweep ${ratio(row.ratio)} (rounds ${row.range || '-'})`);
      if (check !== null) {
        for (const l of formatTable(check.rows, 1, '  ')) console.log(l);
        for (const n of check.notes) console.log(`  note: ${n}`);
        for (const w of check.warnings) {
          console.log(`  !!! WARNING: ${w}`);
          warnings.push(`${check.what}: ${w}`);
        }
      }
      console.log('');
    }
    if (o.only.includes('sweep')) {
      const { row, lines } = sweepRow(o, python, work);
      rows.push(row);
      console.log(`${row.what}: narrowsweep ${secs(row.ns)} s, numpy ${secs(row.np)} s, numpy / narrowsweep ${ratio(row.ratio)}`);
      for (const l of lines) console.log(`  ${l}`);
      console.log('');
    }
  } finally {
    if (o.keep) console.log(`files kept in ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }

  console.log(`load average at end ${la()}`);
  console.log('');
  console.log('| what | narrowsweep s | numpy s | numpy / narrowsweep |');
  console.log('|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.what} | ${secs(r.ns)} | ${secs(r.np)} | ${ratio(r.ratio)} |`);
  console.log('');
  console.log(`Machine: ${machine.join('; ')}. Single runs: median of ${o.rounds} alternating rounds, ${cpu === null ? 'unpinned' : 'one core (taskset)'}, ratio = median of per-round numpy / narrowsweep (> 1: narrowsweep faster); sweep: ${o.sweepRounds} round(s), ${o.workers} workers against multiprocessing.Pool(${o.workers}).`);
  if (warnings.length > 0) {
    console.log('');
    console.log(`!!! ${warnings.length} cross-check warning(s):`);
    for (const w of warnings) console.log(`!!!   ${w}`);
  }
}

main().catch((err: unknown) => {
  console.error(`bench/run: ${(err as Error).message}`);
  process.exit(1);
});
