// narrowsweep merge <out> <dir>...: joins the results folders of one sweep's shards (run with
// `run --shard K/N`, one per machine) into <out>, then writes its tables as `aggregate` does.
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { ConfigError } from '../core/errors.js';
import { removeStaleTemporaries } from '../files.js';
import { acquireLock, LockedError } from '../sweep/lock.js';
import { mergeResults } from '../sweep/merge.js';
import { main as aggregateMain, parseTableArgs } from './aggregate.js';

const USAGE = `usage: narrowsweep merge <out> <results/dir>... [--method M] [--best-over A,B] [--quiet]

Joins the journals of several results folders of the same spec (the shards of one sweep, e.g. run
on several machines with \`narrowsweep run <spec> --shard K/N\`) into <out>: every run id once, a
later record of an id replacing an earlier one except that a failed record never replaces a finished
one, the folders themselves untouched. <out>'s own journal, if any, is read first and merged too, so
merging again after more shards finish (or after --retry-failed) is safe. Then writes <out>'s tables,
charts and report.html (--best-over as in aggregate) and prints one method's phase table.`;

export async function main(argv: string[]): Promise<number> {
  const parsed = parseTableArgs(argv, 'merge', USAGE);
  if (typeof parsed === 'number') return parsed;
  const [out, ...inputs] = parsed.positionals;
  if (out === undefined || inputs.length === 0) {
    console.error(`narrowsweep merge: expected an output folder and at least one results folder\n\n${USAGE}`);
    return 2;
  }
  if (existsSync(out) && !statSync(out).isDirectory()) {
    console.error(`narrowsweep merge: ${out} exists and is not a folder`);
    return 2;
  }
  const created = !existsSync(out);
  mkdirSync(out, { recursive: true });
  let lock;
  try {
    lock = acquireLock(out, (msg) => console.error(`narrowsweep merge: ${msg}`));
  } catch (e) {
    if (e instanceof LockedError) { console.error(`narrowsweep merge: ${e.message}`); return 2; }
    throw e;
  }
  try {
    removeStaleTemporaries(out);
    let m;
    try {
      m = await mergeResults(out, inputs);
    } catch (e) {
      if (e instanceof ConfigError || (e as Error).name === 'DataError') { console.error(`narrowsweep merge: ${(e as Error).message}`); return 2; }
      throw e;
    }
    for (const dir of m.locked) console.error(`narrowsweep merge: ${dir} has a lock file: a coordinator may still be running there, so its last runs may be missing`);
    for (const dir of m.torn) console.error(`narrowsweep merge: the last line of ${dir}'s journal is torn (a crash mid-write); it was skipped`);
    if (!parsed.values.quiet) {
      console.log(`merged ${m.records} runs into ${out}: ${m.taken.map((x) => `${x.records} from ${x.dir}`).join(', ')}` +
        (m.superseded ? `; ${m.superseded} records superseded` : '') +
        `\n${m.covered} of the spec's ${m.gridTotal} configurations are done` +
        (m.covered < m.gridTotal ? ` (${m.gridTotal - m.covered} missing: a shard not merged yet, or not finished)` : ''));
    }
    return await aggregateMain([
      out, ...(parsed.values.method ? ['--method', parsed.values.method] : []),
      ...(parsed.values['best-over'] ? ['--best-over', parsed.values['best-over']] : []), ...(parsed.values.quiet ? ['--quiet'] : []),
    ]);
  } finally {
    lock.release();
    // a merge that wrote nothing leaves no empty folder behind
    if (created && existsSync(out) && readdirSync(out).length === 0) rmdirSync(out);
  }
}
