// "Did you mean ...?": unknown fields, flags, commands and names suggest the nearest valid one.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { editDistance, nearest } from '../src/core/suggest.js';
import { resolveConfig } from '../src/core/config.js';
import type { RunConfig } from '../src/core/types.js';
import { removeTempDirs, tempDir } from './fixtures/temp.js';

test.after.always(removeTempDirs);

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

test('edit distance counts insertions, deletions, substitutions and adjacent swaps, ignoring case', (t) => {
  t.is(editDistance('trails', 'trials'), 1);
  t.is(editDistance('runtimeout', 'runTimeout'), 0);
  t.is(editDistance('lr', 'lrr'), 1);
  t.is(editDistance('kitten', 'sitting'), 3);
  t.is(editDistance('', 'abc'), 3);
});

test('nearest: close names are suggested, far ones are not', (t) => {
  const top = ['name', 'description', 'data', 'grid', 'zip', 'trials', 'seeds', 'budget', 'success', 'defaults', 'methods', 'runTimeout'];
  t.is(nearest('trails', top), 'trials');
  t.is(nearest('runtimeout', top), 'runTimeout');
  t.is(nearest('seed', top), 'seeds');
  t.is(nearest('bogus', top), null);
  t.is(nearest('x', top), null);
  t.is(nearest('secs', ['iterations', 'seconds']), 'seconds');
  t.is(nearest('sgdd', ['gd', 'sgd', 'adam']), 'sgd');
  t.is(nearest('sgd', ['gd', 'sgd', 'adam']), null, 'a valid name is not its own suggestion');
});

test('resolveConfig: an unknown field or a misspelt method, activation or engine names the nearest one', (t) => {
  const base: RunConfig = { method: 'gd', n: 20, d: 4, m: 6, seed: 0 };
  const message = (c: unknown) => t.throws(() => resolveConfig(c as RunConfig))!.message;
  t.regex(message({ ...base, lrScal: 2 }), /^lrScal: unknown field \(allowed: .*\); did you mean lrScale\?$/);
  t.regex(message({ ...base, method: 'lmm' }), /^method: expected one of gd, .*, got "lmm"; did you mean lm\?$/);
  t.regex(message({ ...base, activation: 'sigmod' }), /; did you mean sigmoid\?$/);
  t.regex(message({ ...base, engine: 'natve' }), /; did you mean native\?$/);
  t.regex(message({ ...base, data: { source: 'gausian' } }), /^data\.source: expected one of .*; did you mean gaussian\?$/);
  t.regex(message({ ...base, method: 'zzz' }), /got "zzz"$/);
});

function cli(args: string[], cwd?: string) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd, env: { ...process.env, NARROWSWEEP_QUIET_ENGINE: '1' } });
}

test('misspelt flags and commands: the nearest one is suggested, exit 2, nothing written', (t) => {
  const dir = tempDir('ns-suggest-');
  writeFileSync(join(dir, 'ok.yaml'), 'name: t\ngrid: { n: [10], d: [2], m: [2], method: [gd] }\nbudget: { iterations: 1 }\n');
  const cases: Array<[string[], string]> = [
    [['train', '--method', 'gd', '--n', '10', '--d', '2', '--m', '4', '--lr-scal', '2'], "narrowsweep: Unknown option '--lr-scal'; did you mean --lr-scale?"],
    [['train', '--method', 'gd', '--n', '10', '--d', '2', '--m', '4', '--itrations', '2'], "narrowsweep: Unknown option '--itrations'; did you mean --iterations?"],
    [['train', '--method', 'sgdd', '--n', '10', '--d', '2', '--m', '4'], 'narrowsweep: method: expected one of gd, sgd, adam, pgd, mirror-gd, lecun-pgd, lm, got "sgdd"; did you mean sgd?'],
    [['trian'], 'narrowsweep: unknown command "trian"; did you mean train?'],
    [['run', 'ok.yaml', '--worker', '1'], "narrowsweep run: Unknown option '--worker'; did you mean --workers?"],
    [['plan', 'ok.yaml', '--sample', '1'], "narrowsweep plan: Unknown option '--sample'; did you mean --samples?"],
    [['aggregate', 'results/t', '--metod', 'gd'], "narrowsweep aggregate: Unknown option '--metod'; did you mean --method?"],
    [['merge', 'out', 'results/t', '--quite'], "narrowsweep merge: Unknown option '--quite'; did you mean --quiet?"],
    [['doctor', '--secs', '1'], 'narrowsweep doctor: unknown option --secs; did you mean --seconds?'],
  ];
  for (const [args, line] of cases) {
    const r = cli(args, dir);
    t.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    t.true(r.stderr.split('\n')[0]!.endsWith(line), `${args.join(' ')}: ${r.stderr.split('\n')[0]}`);
    t.is(r.stdout, '');
  }
  t.deepEqual(readdirSync(dir), ['ok.yaml']);
});
