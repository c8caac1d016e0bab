// narrowsweep aggregate <results dir>: (re)write the CSV tables, the charts and report.html from the
// folder's runs.jsonl and show one method's phase table. The tables are those of the folder's
// current spec (spec.json, written by `run`): journal records of an earlier spec are left out and
// counted.
import { parseArgs } from 'node:util';
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { aggregate, BestOverError, JOURNAL_FILE, parseBestOver } from '../report/aggregate.js';
import type { AggregateOutput } from '../report/aggregate.js';
import type { Spec } from '../sweep/spec.js';
import { GridIndex, readSpecSnapshot, SnapshotError, SPEC_FILE } from '../sweep/snapshot.js';
import { explainFlagError } from '../core/suggest.js';
import { removeStaleTemporaries } from '../files.js';

export const BEST_OVER_HELP = `  --best-over A,B   also the envelope: in every cell each method's best setting over these axes
                    (e.g. lr,outputScale; \`lr\` also stands for per-method axes such as sgd.lr), written
                    as envelope.csv, envelope-phase-<method>.csv, envelope-boundary.csv and their charts`;

const USAGE = `usage: narrowsweep aggregate <results/name> [--method M] [--best-over A,B] [--quiet]

Writes runs.csv, summary.csv, phase-<method>.csv, boundary.csv and tables.json from
<results/name>/runs.jsonl, the charts and report.html (as \`narrowsweep report\` does), and prints the
phase table of one method (default: pgd, else lm, else the first).
Only the configurations of the folder's current spec (<results/name>/${SPEC_FILE}, saved by run) count;
a folder without ${SPEC_FILE} (from an older version) counts every record.

${BEST_OVER_HELP}`;

export interface TableArgs { positionals: string[]; values: { method?: string; quiet?: boolean; 'best-over'?: string } }

/**
 * The flags of the commands that end by writing a folder's tables (aggregate, report, merge):
 * folders, --method, --best-over, --quiet, --help. Returns an exit code when the command is done
 * (help, or a usage error).
 */
export function parseTableArgs(argv: string[], command: string, usage: string): TableArgs | number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: { method: { type: 'string' }, 'best-over': { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    console.error(`narrowsweep ${command}: ${explainFlagError((e as Error).message, ['method', 'quiet', 'help'])}\n\n${usage}`);
    return 2;
  }
  if (parsed.values.help) { console.log(usage); return 0; }
  if (parsed.values['best-over'] !== undefined) {
    try { parseBestOver(parsed.values['best-over']); } catch (e) {
      if (!(e instanceof BestOverError)) throw e;
      console.error(`narrowsweep ${command}: ${e.message}`);
      return 2;
    }
  }
  return parsed;
}

/** A results folder's tables with its spec's grid (null without spec.json), or an exit code. */
export interface ResultsFolder { dir: string; grid: GridIndex | null; spec: Spec | null }

/** Checks that `dir` is a results folder with a journal and reads its spec (messages name `command`). */
export function openResults(dir: string, command: string): ResultsFolder | number {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    console.error(`narrowsweep ${command}: ${dir} is not a folder`);
    return 2;
  }
  if (!existsSync(join(dir, JOURNAL_FILE))) {
    console.error(`narrowsweep ${command}: ${dir} has no ${JOURNAL_FILE} (run a sweep into it first)`);
    return 2;
  }
  removeStaleTemporaries(dir); // left by a stopped aggregate or run (dead processes only)
  try {
    const snap = readSpecSnapshot(dir);
    if (snap.kind === 'spec') return { dir, grid: GridIndex.of(snap.spec), spec: snap.spec };
    if (snap.kind === 'other-core') {
      console.error(`narrowsweep ${command}: ${join(dir, SPEC_FILE)} was written by another core version (${String(snap.coreSemantics)}), ` +
        'whose run ids cannot be recomputed; every journal record counts');
    }
  } catch (e) {
    if (!(e instanceof SnapshotError) && (e as Error).name !== 'ConfigError') throw e;
    console.error(`narrowsweep ${command}: ${(e as Error).message}\n(delete ${join(dir, SPEC_FILE)} to tabulate every journal record)`);
    return 2;
  }
  return { dir, grid: null, spec: null };
}

/** Writes the folder's tables and report (a static report: no run in progress); null after a --best-over error (printed). */
export async function writeFolder(f: ResultsFolder, bestOver: string | undefined, command: string): Promise<AggregateOutput | null> {
  try {
    return await aggregate(f.dir, {
      grid: f.grid, bestOver: bestOver === undefined ? null : parseBestOver(bestOver),
      report: { spec: f.spec, totalRuns: f.grid?.size ?? null, state: 'static' },
    });
  } catch (e) {
    if (!(e instanceof BestOverError)) throw e;
    console.error(`narrowsweep ${command}: ${e.message}`);
    return null;
  }
}

/** Chart warnings (a chart that Vega-Lite or Vega had to correct) on stderr. */
export function printChartWarnings(out: AggregateOutput, command: string): void {
  for (const [chart, ws] of Object.entries(out.report?.warnings ?? {})) {
    for (const w of ws) console.error(`narrowsweep ${command}: chart ${chart}: ${w}`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseTableArgs(argv, 'aggregate', USAGE);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length !== 1) {
    console.error(`narrowsweep aggregate: expected one results folder\n\n${USAGE}`);
    return 2;
  }
  const dir = parsed.positionals[0]!;
  const folder = openResults(dir, 'aggregate');
  if (typeof folder === 'number') return folder;
  const out = await writeFolder(folder, parsed.values['best-over'], 'aggregate');
  if (out === null) return 2;
  printChartWarnings(out, 'aggregate');
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
