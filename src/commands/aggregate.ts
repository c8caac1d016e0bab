// narrowsweep aggregate <results dir>: (re)write the CSV tables from the folder's runs.jsonl and show
// one method's phase table. The tables are those of the folder's current spec (spec.json, written by
// `run`): journal records of an earlier spec are left out and counted.
import { parseArgs } from 'node:util';
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { aggregate, JOURNAL_FILE } from '../report/aggregate.js';
import { GridIndex, readSpecSnapshot, SnapshotError, SPEC_FILE } from '../sweep/snapshot.js';
import { explainFlagError } from '../core/suggest.js';
import { removeStaleTemporaries } from '../files.js';

const USAGE = `usage: narrowsweep aggregate <results/name> [--method M] [--quiet]

Writes runs.csv, summary.csv, phase-<method>.csv, boundary.csv and tables.json from
<results/name>/runs.jsonl and prints the phase table of one method (default: pgd, else lm, else the first).
Only the configurations of the folder's current spec (<results/name>/${SPEC_FILE}, saved by run) count;
a folder without ${SPEC_FILE} (from an older version) counts every record.`;

export interface TableArgs { positionals: string[]; values: { method?: string; quiet?: boolean } }

/**
 * The flags of the commands that end by writing a folder's tables (aggregate, merge): folders,
 * --method, --quiet, --help. Returns an exit code when the command is done (help, or a usage error).
 */
export function parseTableArgs(argv: string[], command: string, usage: string): TableArgs | number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: { method: { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    console.error(`narrowsweep ${command}: ${explainFlagError((e as Error).message, ['method', 'quiet', 'help'])}\n\n${usage}`);
    return 2;
  }
  if (parsed.values.help) { console.log(usage); return 0; }
  return parsed;
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseTableArgs(argv, 'aggregate', USAGE);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length !== 1) {
    console.error(`narrowsweep aggregate: expected one results folder\n\n${USAGE}`);
    return 2;
  }
  const dir = parsed.positionals[0]!;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    console.error(`narrowsweep aggregate: ${dir} is not a folder`);
    return 2;
  }
  if (!existsSync(join(dir, JOURNAL_FILE))) {
    console.error(`narrowsweep aggregate: ${dir} has no ${JOURNAL_FILE} (run a sweep into it first)`);
    return 2;
  }
  removeStaleTemporaries(dir); // left by a stopped aggregate or run (dead processes only)
  let grid: GridIndex | null = null;
  try {
    const snap = readSpecSnapshot(dir);
    if (snap.kind === 'spec') grid = GridIndex.of(snap.spec);
    else if (snap.kind === 'other-core') {
      console.error(`narrowsweep aggregate: ${join(dir, SPEC_FILE)} was written by another core version (${String(snap.coreSemantics)}), ` +
        'whose run ids cannot be recomputed; every journal record counts');
    }
  } catch (e) {
    if (!(e instanceof SnapshotError) && (e as Error).name !== 'ConfigError') throw e;
    console.error(`narrowsweep aggregate: ${(e as Error).message}\n(delete ${join(dir, SPEC_FILE)} to tabulate every journal record)`);
    return 2;
  }
  const out = await aggregate(dir, { grid });
  const method = parsed.values.method ?? out.headlineMethod;
  if (method !== null && !out.methods.includes(method)) {
    console.error(`narrowsweep aggregate: no runs of method ${method} in ${dir} (methods: ${out.methods.join(', ') || 'none'})`);
    return 2;
  }
  if (out.tornLine) console.error(`narrowsweep aggregate: the last line of ${JOURNAL_FILE} is torn (a crash mid-write); it was ignored`);
  if (!parsed.values.quiet) {
    const left = [
      out.duplicates ? `${out.duplicates} superseded records ignored` : '',
      out.notInSpec ? `${out.notInSpec} journal records not in the current spec left out` : '',
    ].filter((x) => x !== '');
    console.log(`${out.runs} runs${left.length ? ` (${left.join('; ')})` : ''}; tables in ${out.dir}: ${out.files.map((f) => basename(f)).join(', ')}`);
    if (method !== null) console.log(`\n${out.formatPhaseTable(method)}`);
  }
  return 0;
}
