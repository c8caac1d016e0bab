// narrowsweep repair <results dir>: moves the damaged lines of a journal aside, so that run,
// aggregate and merge (which refuse a damaged journal, naming its lines) accept it again.
import { parseArgs } from 'node:util';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { removeStaleTemporaries } from '../files.js';
import { JOURNAL_FILE } from '../sweep/coordinator.js';
import { repairJournal } from '../sweep/journal.js';
import { acquireLock, LockedError } from '../sweep/lock.js';
import { DAMAGED_FILE } from '../sweep/record.js';

const USAGE = `usage: narrowsweep repair <results/name>

Moves every damaged line of <results/name>/${JOURNAL_FILE} (a line that is not a whole journal
record: cut off, changed after it was written, or not a record at all) to the end of
<results/name>/${DAMAGED_FILE}, and keeps the other lines in their order. The runs of the
moved lines are run again by the next \`narrowsweep run\`. A journal without damage is left as it is.
Also removes temporary files left in the folder by processes that were stopped. No sweep may run
in the folder meanwhile (repair takes its lock).`;

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    console.error(`narrowsweep repair: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) { console.log(USAGE); return 0; }
  if (parsed.positionals.length !== 1) {
    console.error(`narrowsweep repair: expected one results folder\n\n${USAGE}`);
    return 2;
  }
  const dir = parsed.positionals[0]!;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    console.error(`narrowsweep repair: ${dir} is not a folder`);
    return 2;
  }
  const journal = join(dir, JOURNAL_FILE);
  if (!existsSync(journal)) {
    console.error(`narrowsweep repair: ${dir} has no ${JOURNAL_FILE}, so there is nothing to repair`);
    return 2;
  }
  let lock;
  try {
    lock = acquireLock(dir, (msg) => console.error(`narrowsweep repair: ${msg}`));
  } catch (e) {
    if (e instanceof LockedError) { console.error(`narrowsweep repair: ${e.message}`); return 2; }
    throw e;
  }
  try {
    const stale = removeStaleTemporaries(dir);
    if (stale.length > 0) console.log(`removed ${stale.length} temporary file${stale.length === 1 ? '' : 's'} left by stopped processes`);
    const out = repairJournal(journal, join(dir, DAMAGED_FILE));
    if (out.moved.length === 0) {
      console.log(`${journal}: no damaged lines; nothing to repair`);
      return 0;
    }
    const n = out.moved.length;
    console.log(`moved ${n} damaged line${n === 1 ? '' : 's'} of ${journal} to ${join(dir, DAMAGED_FILE)}:`);
    for (const x of out.moved.slice(0, 20)) console.log(`  line ${x.lineNo}: ${x.problem}`);
    if (n > 20) console.log(`  ... and ${n - 20} more`);
    console.log(`Their runs are run again by the next \`narrowsweep run\`; \`narrowsweep aggregate ${dir}\` rewrites the tables now.`);
    return 0;
  } finally {
    lock.release();
  }
}
