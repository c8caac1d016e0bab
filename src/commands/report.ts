// narrowsweep report <results dir>: writes report.html (one self-contained page: the header and
// every chart inline) and each chart as a standalone SVG, from the folder's journal. The tables are
// rewritten on the way, since the charts are drawn from them (src/report/report.ts).
import { join, resolve } from 'node:path';
import { REPORT_FILE } from '../report/aggregate.js';
import { BEST_OVER_HELP, openResults, parseTableArgs, printChartWarnings, writeFolder } from './aggregate.js';

const USAGE = `usage: narrowsweep report <results/name> [--best-over A,B] [--quiet]

Writes <results/name>/${REPORT_FILE}, one self-contained page that opens offline (the spec, success
rule, versions, machines, wall time and runs by status, then every chart as inline SVG), and each chart
as a standalone .svg beside it: phase-<method>.svg (heatmaps), frontier.svg, curves.svg,
nice-region.svg, test-accuracy.svg. The CSV tables are rewritten too (the charts are drawn from them),
as \`narrowsweep aggregate\` does. \`run\` writes the same report at every table refresh and at its end.

${BEST_OVER_HELP}`;

export async function main(argv: string[]): Promise<number> {
  const parsed = parseTableArgs(argv, 'report', USAGE);
  if (typeof parsed === 'number') return parsed;
  if (parsed.values.method !== undefined) {
    console.error(`narrowsweep report: --method is a flag of aggregate (the report shows every method)\n\n${USAGE}`);
    return 2;
  }
  if (parsed.positionals.length !== 1) {
    console.error(`narrowsweep report: expected one results folder\n\n${USAGE}`);
    return 2;
  }
  const folder = openResults(parsed.positionals[0]!, 'report');
  if (typeof folder === 'number') return folder;
  const out = await writeFolder(folder, parsed.values['best-over'], 'report');
  if (out === null) return 2;
  printChartWarnings(out, 'report');
  if (out.tornLine) console.error('narrowsweep report: the last line of the journal is torn (a crash mid-write); it was ignored');
  if (!parsed.values.quiet) {
    const charts = out.report?.charts ?? [];
    console.log(`${out.runs} runs; ${charts.length} charts: ${charts.map((c) => `${c}.svg`).join(', ') || 'none'}`);
    console.log(`report: ${join(resolve(folder.dir), REPORT_FILE)}`);
  }
  return 0;
}
