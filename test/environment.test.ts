// Problems of the user's environment (a folder they cannot write to, --out naming a file) are one
// line naming the user's path and what to do, exit 2: never an "internal error". Run as root, the
// CLI is started as the user nobody, for whom permissions hold.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { syntheticJournal } from './helpers/records.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const asRoot = process.getuid?.() === 0;

/** Whether every folder from the root down to `dir` lets others (the user nobody) pass through it. */
function othersCanEnter(dir: string): boolean {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (dirname(d) === d) return true;
  }
}

// As root the CLI runs as nobody, who must reach the work folder: a temp folder of mode 0700 (mktemp -d)
// would stop nobody at its door, so such a TMPDIR is passed over for /tmp.
const base = !asRoot || othersCanEnter(tmpdir()) ? tmpdir() : '/tmp';
const work = mkdtempSync(join(base, 'narrowsweep-env-'));
chmodSync(work, 0o755); // the user nobody can enter it
test.after.always(() => {
  for (const d of readdirSync(work)) { try { chmodSync(join(work, d), 0o755); } catch { /* a file */ } }
  rmSync(work, { recursive: true, force: true });
});

const asUser = asRoot ? { uid: 65534, gid: 65534 } : {};

function cli(args: string[], cwd = work): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd, ...asUser, env: { ...process.env, NARROWSWEEP_QUIET_ENGINE: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const specPath = join(work, 'env.yaml');
writeFileSync(specPath, 'name: env\ngrid: { method: [sgd], n: [16], d: [4], m: [2] }\nbudget: { iterations: 20, seconds: 60 }\n');

/** A folder the CLI's user cannot write to, holding `files`. */
function readOnlyFolder(name: string, files: Record<string, string> = {}): string {
  const dir = join(work, name);
  mkdirSync(dir);
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  chmodSync(dir, 0o555);
  return dir;
}

function oneLine(t: import('ava').ExecutionContext, r: { code: number | null; stderr: string }, re: RegExp): void {
  t.is(r.code, 2, r.stderr);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.notRegex(r.stderr, /internal error|lock\.\d+\.tmp|\.tmp-\d+/);
  t.regex(r.stderr, re);
}

test('a results folder the user cannot write to: run and aggregate name the folder and say what to do', (t) => {
  const ro = readOnlyFolder('ro');
  oneLine(t, cli(['run', specPath, '--out', ro, '--quiet']), new RegExp(`^narrowsweep: cannot write ${ro}: permission denied; make the folder writable \\(or use another folder\\)$`, 'm'));
  t.deepEqual(readdirSync(ro), []);
  const withJournal = readOnlyFolder('ro-journal', { 'runs.jsonl': syntheticJournal(3) });
  oneLine(t, cli(['aggregate', withJournal]), new RegExp(`^narrowsweep: cannot write ${withJournal}/runs\\.csv: permission denied; make the folder writable`));
  t.deepEqual(readdirSync(withJournal), ['runs.jsonl']);
  const merged = readOnlyFolder('ro-merge');
  const r = cli(['merge', join(merged, 'out'), withJournal]);
  oneLine(t, r, new RegExp(`^narrowsweep: cannot create ${merged}/out: permission denied`));
});

test('--out naming a file, or a path through a file: one line naming it', (t) => {
  const file = join(work, 'a-file.txt');
  writeFileSync(file, 'not a folder\n');
  oneLine(t, cli(['run', specPath, '--out', file, '--quiet']), new RegExp(`^narrowsweep: cannot create ${file}: this exists and is not a folder; use another path$`, 'm'));
  oneLine(t, cli(['run', specPath, '--out', join(file, 'sub'), '--quiet']), new RegExp(`^narrowsweep: cannot create ${file}/sub: a part of this path is a file, not a folder; use another path$`, 'm'));
});

test('a working folder the user cannot write to (the default results/<name>): one line naming it', (t) => {
  const cwd = readOnlyFolder('ro-cwd');
  oneLine(t, cli(['run', specPath, '--quiet'], cwd), /^narrowsweep: cannot create results\/env: permission denied; make the folder writable \(or use another folder\)$/m);
  t.false(existsSync(join(cwd, 'results')));
});
