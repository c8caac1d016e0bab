// narrowsweep merge <out> <dir>...: joins the results folders of one sweep's shards (run with
// `run --shard K/N`, one per machine) into <out>, then writes its tables as `aggregate` does.
import { parseArgs } from 'node:util';
import { mkdirSync } from 'node:fs';
import { ConfigError } from '../core/errors.js';
import { acquireLock, LockedError } from '../sweep/lock.js';
import { mergeResults } from '../sweep/merge.js';
import { main as aggregateMain } from './aggregate.js';

const USAGE = `usage: narrowsweep merge <out> <results/dir>... [--method M] [--quiet]

Joins the journals of several results folders of the same spec (the shards of one sweep, e.g. run
on several machines with \`narrowsweep run <spec> --shard K/N\`) into <out>: every run id once, the
folders' own files untouched. <out>'s own journal, if any, is kept and merged too, so merging again
after more shards finish is safe. Then writes <out>'s tables and prints one method's phase table.`;

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: { method: { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    console.error(`narrowsweep merge: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) { console.log(USAGE); return 0; }
  const [out, ...inputs] = parsed.positionals;
  if (out === undefined || inputs.length === 0) {
    console.error(`narrowsweep merge: expected an output folder and at least one results folder\n\n${USAGE}`);
    return 2;
  }
  mkdirSync(out, { recursive: true });
  let lock;
  try {
    lock = acquireLock(out, (msg) => console.error(`narrowsweep merge: ${msg}`));
  } catch (e) {
    if (e instanceof LockedError) { console.error(`narrowsweep merge: ${e.message}`); return 2; }
    throw e;
  }
  try {
    const m = await mergeResults(out, inputs);
    for (const dir of m.torn) console.error(`narrowsweep merge: the last line of ${dir}'s journal is torn (a crash mid-write); it was skipped`);
    if (!parsed.values.quiet) {
      console.log(`merged ${m.records} runs into ${out}: ${m.taken.map((x) => `${x.records} from ${x.dir}`).join(', ')}` +
        (m.duplicates ? `; ${m.duplicates} records of ids already taken skipped` : ''));
    }
  } catch (e) {
    if (e instanceof ConfigError) { console.error(`narrowsweep merge: ${e.message}`); return 2; }
    throw e;
  } finally {
    lock.release();
  }
  return aggregateMain([out, ...(parsed.values.method ? ['--method', parsed.values.method] : []), ...(parsed.values.quiet ? ['--quiet'] : [])]);
}
