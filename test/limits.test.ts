// What the timers, the runner's memory and a run's arrays can hold: budgets, grid sizes and run
// sizes beyond them are refused at validation (one line, exit 2, nothing written), and budgets
// within them work, also where the derived time limit is longer than one Node.js timer.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveConfig } from '../src/core/config.js';
import { memoryProblem, MAX_ARRAY_ENTRIES } from '../src/sweep/memory.js';
import { readJournal } from '../src/sweep/journal.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'narrowsweep-limits-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: work, env: { ...process.env, NARROWSWEEP_QUIET_ENGINE: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function spec(name: string, text: string): string {
  const f = join(work, `${name}.yaml`);
  writeFileSync(f, `name: ${name}\n${text}`);
  return f;
}

/** One line on stderr matching `re`, exit 2, and no results folder. */
function refused(t: import('ava').ExecutionContext, r: { code: number | null; stderr: string }, re: RegExp, name?: string): void {
  t.is(r.code, 2, r.stderr);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.regex(r.stderr, re);
  t.notRegex(r.stderr, /internal error|RangeError|out of range/);
  if (name !== undefined) t.false(existsSync(join(work, 'results', name)), 'a results folder was written');
}

const TINY = 'grid: { method: [sgd], n: [16], d: [4], m: [2] }\ntrials: 2\n';

test('a seconds budget longer than a timer holds is refused; one between 12.4 and 24.8 days (a derived time limit beyond one timer) works', (t) => {
  // 1.5e6 s: the run's default time limit (2 x 1.5e6 + 30 s) is beyond 2^31 - 1 ms, which once made
  // Node fire the timer at once and every run a timeout
  const ok = cli(['run', spec('long', `${TINY}budget: { iterations: 200, seconds: 1500000 }\n`), '--workers', '1', '--quiet']);
  t.is(ok.code, 0, ok.stderr);
  t.notRegex(ok.stderr, /TimeoutOverflowWarning/);
  const recs = readJournal(join(work, 'results', 'long', 'runs.jsonl')).records;
  t.is(recs.length, 2);
  for (const r of recs) t.is(r.result.status, 'ok', r.result.message ?? '');

  for (const seconds of ['3000000', '1.0e+12']) {
    const name = `huge${seconds.length}`;
    refused(t, cli(['run', spec(name, `${TINY}budget: { iterations: 1.0e+18, seconds: ${seconds} }\n`), '--quiet']),
      /^narrowsweep: budget\.seconds: expected at most 2147483 \(24\.8 days, the longest a timer holds\), got /, name);
    refused(t, cli(['plan', join(work, `${name}.yaml`)]), /budget\.seconds: expected at most 2147483/);
  }
  refused(t, cli(['train', '--method', 'gd', '--n', '8', '--d', '2', '--m', '2', '--seconds', '1e12']), /^narrowsweep: seconds: expected at most 2147483/);
  const grace = cli(['run', join(work, 'long.yaml'), '--grace', '1e7']);
  t.is(grace.code, 2);
  t.regex(grace.stderr, /--grace: expected at most 2147483 seconds/);
});

test('a spec beyond the stated size is refused at once, naming what to change', (t) => {
  // a long seeds list (the probe's was 50 MB and ran V8 out of memory)
  const seeds = Array.from({ length: 200_000 }, (_, k) => k * 7).join(', ');
  const big = spec('seeds', `grid: { method: [sgd], n: [16], d: [4], m: [2] }\nseeds: [${seeds}]\n`);
  refused(t, cli(['plan', big]), /seeds\.yaml: the spec file is 1\.\d MB, more than the 1 MB a spec may be \(a long seeds list\? use trials: N/);
  refused(t, cli(['run', big, '--quiet']), /the spec file is 1\.\d MB/, 'seeds');
  refused(t, cli(['plan', spec('trials', 'grid: { method: [sgd], n: [16], d: [4], m: [2, 4] }\ntrials: 6000000\n')]),
    /^narrowsweep: trials: the sweep has 12000000 configurations \(2 cells x 6000000 seeds\), more than the 10000000 one spec may have/);
  const lrs = Array.from({ length: 1001 }, (_, k) => 0.001 * (k + 1)).join(', ');
  const ms = Array.from({ length: 1000 }, (_, k) => k + 1).join(', ');
  refused(t, cli(['plan', spec('cells', `grid: { method: [sgd], n: [16], d: [4], m: [${ms}], lr: [${lrs}] }\n`)]),
    /^narrowsweep: grid: the grid has 1001000 cells \(configurations per seed\), more than the 1000000 one spec may have/);
});

test('sizes whose arrays cannot be allocated are refused at validation, with the memory they would need', (t) => {
  refused(t, cli(['plan', spec('hugen', 'grid: { method: [gd], n: [1.0e+12], d: [4], m: [4] }\n')]),
    /^narrowsweep: grid\.n\[0\]: at n = 1000000000000, d = 4, m = 4, the data X \(n x d\) would have 4\.000e\+12 entries \(32000 GB\), more than one array can hold \(4294967296\)/);
  refused(t, cli(['run', spec('hugem', 'grid: { method: [gd], n: [100], d: [4], m: [100000000] }\n'), '--quiet']),
    /grid\.m\[0\]: at n = 100, d = 4, m = 100000000, the Jacobian factors A and D \(n x m each\) would have 1\.000e\+10 entries \(80 GB\)/, 'hugem');
  // the Gram matrix of lm at n = 1e5: 1e10 entries
  refused(t, cli(['plan', spec('gram', 'grid: { method: [lm], n: [100000], d: [4], m: [2] }\n')]),
    /grid\.n\[0\]: at n = 100000, d = 4, m = 2, the n x n Gram matrix J J\^T would have 1\.000e\+10 entries \(80 GB\)/);
  refused(t, cli(['train', '--method', 'gd', '--n', '1e12', '--d', '4', '--m', '4']), /^narrowsweep: --n: at n = 1000000000000.*32000 GB/);

  // Within the typed-array limit, all arrays together against the machine's RAM (given here).
  const cfg = resolveConfig({ method: 'gd', n: 30000, d: 10, m: 10, seed: 0, certificateMaxN: 40000 });
  const p = memoryProblem(cfg, 8e9);
  t.regex(p?.message ?? '', /^a run at n = 30000, d = 10, m = 10 needs about 14\.4 GB of memory \(the n x n Gram matrix J J\^T: 14\.4 GB; .*\), more than this machine's 8 GB of RAM .*certificateMaxN below 30000/);
  t.is(p?.field, 'n');
  t.is(memoryProblem(cfg, 32e9), null);
  t.is(memoryProblem({ ...cfg, certificateMaxN: 1000 }, 8e9), null, 'without the certificate no Gram matrix is needed');
  t.true(MAX_ARRAY_ENTRIES >= 2 ** 32 - 1);
});
