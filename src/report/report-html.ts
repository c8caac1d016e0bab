// report.html: one self-contained page (inline CSS and SVG, no script that runs, no request to any
// network or file), so it opens offline and can be mailed. It holds the header (spec, success rule,
// versions, machines and engines, wall time, runs by status, progress) and every chart as inline
// SVG with a link to its standalone file, and the data of every chart as JSON in
// <script type="application/json" id="chart-data">.
import type { Spec } from '../sweep/spec.js';
import type { RunFacts } from './record-extras.js';
import { listText } from './shared.js';

export interface ReportFigure {
  /** File stem of the standalone SVG and the figure's id (`chart-<name>`). */
  name: string;
  kind: string;
  svg: string;
  caption: string;
}

export interface ReportSection {
  id: string;
  title: string;
  intro: string;
  figures: ReportFigure[];
  /** Shown instead of figures when there are none. */
  empty: string;
}

export interface ReportHeader {
  specName: string | null;
  spec: Spec | null;
  state: 'running' | 'final' | 'static';
  totalRuns: number | null;
  refreshSeconds: number | null;
  sessionStartedAt: string | null;
  facts: RunFacts;
  epsilon: number[];
  data: string[];
  iterations: number[];
  seconds: number[];
  notInSpec: number | null;
  tornLine: boolean;
  bestOver: string[] | null;
  writtenAt: string;
  machine: string;
  libraries: { vega: string; vegaLite: string };
  files: string[];
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function valueText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return 'unknown';
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(2)} h`;
}

function counted(xs: Array<{ name: string; runs: number }>): string {
  return xs.length ? xs.map((x) => `${esc(x.name)} (${x.runs})`).join('; ') : 'none';
}

function progressText(h: ReportHeader): string {
  const done = h.facts.runs;
  const total = h.totalRuns;
  const of = total === null ? `${done} configurations` : `${done} of ${total} configurations (${total > 0 ? ((100 * done) / total).toFixed(1) : '100.0'}%)`;
  if (h.state === 'running') {
    const since = h.sessionStartedAt ? `; this session started ${esc(h.sessionStartedAt)}` : '';
    return `Sweep in progress: ${of} finished${since}. The page is rewritten at every table refresh` +
      (h.refreshSeconds ? ` and reloads itself every ${h.refreshSeconds} s.` : '.');
  }
  if (total !== null && done < total) {
    return `${h.state === 'final' ? 'Sweep stopped before the end' : 'Partial results'}: ${of} finished; running the same spec again resumes it.`;
  }
  return `Complete: ${of} finished.`;
}

function specRows(spec: Spec): string[] {
  const rows: string[] = [];
  rows.push(`<tr><th>spec</th><td>${esc(spec.name)} (${esc(spec.file)})${spec.description ? `: ${esc(spec.description)}` : ''}</td></tr>`);
  const axes = [
    ...spec.factors.map((f) => f.names.length === 1
      ? `<li><code>${esc(f.names[0]!)}</code>: ${esc(f.tuples.map((t) => valueText(t[0])).join(', '))}</li>`
      : `<li>zipped <code>(${esc(f.names.join(', '))})</code>: ${esc(f.tuples.map((t) => `(${t.map(valueText).join(', ')})`).join(', '))}</li>`),
    ...spec.methodFactors.map((f) => `<li><code>${esc(f.names[0]!)}</code>: ${esc(f.tuples.map((t) => valueText(t[0])).join(', '))} (${esc(String(f.method))} runs only)</li>`),
    `<li>seeds: ${spec.seeds.length} (${esc(spec.seeds.length <= 10 ? spec.seeds.join(', ') : `${spec.seeds.slice(0, 5).join(', ')}, ..., ${spec.seeds.at(-1)}`)})</li>`,
  ];
  rows.push(`<tr><th>axes</th><td><ul>${axes.join('')}</ul></td></tr>`);
  const settings = [
    `<li>data: <code>${esc(JSON.stringify(spec.data))}</code></li>`,
    Object.keys(spec.defaults).length ? `<li>defaults: <code>${esc(JSON.stringify(spec.defaults))}</code></li>` : '',
    ...Object.entries(spec.methods).map(([m, s]) => `<li>${esc(m)}: <code>${esc(JSON.stringify(s))}</code></li>`),
    spec.runTimeout !== null ? `<li>runTimeout: ${spec.runTimeout} s</li>` : '',
  ].filter((x) => x !== '');
  rows.push(`<tr><th>settings</th><td><ul>${settings.join('')}</ul></td></tr>`);
  return rows;
}

const STYLE = `
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1400px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
p.status { padding: 0.5em 0.8em; border-radius: 4px; background: #eef5ee; }
p.status.running { background: #fff6e0; }
p.status.partial { background: #fdeaea; }
table.facts { border-collapse: collapse; font-size: 0.9em; }
table.facts th { text-align: left; vertical-align: top; padding: 0.25em 1em 0.25em 0; white-space: nowrap; }
table.facts td { padding: 0.25em 0; }
table.facts ul { margin: 0; padding-left: 1.2em; }
code { font-size: 0.95em; }
nav a { margin-right: 1em; }
figure.chart { margin: 1em 0 2em 0; overflow-x: auto; }
figure.chart svg { max-width: none; height: auto; }
figcaption { font-size: 0.85em; color: #444; margin-top: 0.3em; max-width: 1000px; }
p.empty { color: #666; font-style: italic; }
`;

/** The whole page. `chartData` is embedded as JSON (the data every chart draws). */
export function reportHtml(h: ReportHeader, sections: ReportSection[], chartData: Record<string, unknown>): string {
  const f = h.facts;
  const statuses = ['ok', 'diverged', 'timeout', 'error', 'oom'];
  const byStatus = [...statuses, ...Object.keys(f.byStatus).filter((s) => !statuses.includes(s)).sort()]
    .map((s) => `${s} ${f.byStatus[s] ?? 0}`).join(', ');
  const span = f.firstStart && f.lastFinish ? (Date.parse(f.lastFinish) - Date.parse(f.firstStart)) / 1000 : NaN;
  const partial = h.state !== 'running' && h.totalRuns !== null && f.runs < h.totalRuns;
  const rows = [
    ...(h.spec ? specRows(h.spec) : [`<tr><th>spec</th><td>${h.specName ? esc(h.specName) : 'unknown'} (no spec.json: every journal record counts)</td></tr>`]),
    `<tr><th>success rule</th><td>success = relLoss &lt;= ${esc(listText(h.epsilon))} (METHOD.md section 5); a heatmap cell is k/R = successes / finished runs, so a run that diverged or timed out counts as a failure</td></tr>`,
    `<tr><th>budget</th><td>${esc(listText(h.iterations))} iterations and ${esc(listText(h.seconds, ' s'))} per run</td></tr>`,
    `<tr><th>data</th><td>${esc(h.data.join(' | ') || 'none')}</td></tr>`,
    `<tr><th>runs by status</th><td>${f.runs} runs: ${esc(byStatus)}; ${f.successes} succeeded</td></tr>`,
    h.notInSpec ? `<tr><th>left out</th><td>${h.notInSpec} journal records of an earlier spec (kept in runs.jsonl, not in the tables)</td></tr>` : '',
    h.tornLine ? '<tr><th>journal</th><td>the last line is torn (a crash mid-write) and was ignored</td></tr>' : '',
    `<tr><th>wall time</th><td>${f.firstStart ? `first run started ${esc(f.firstStart)}, last finished ${esc(f.lastFinish ?? '')} (${duration(span)} apart, pauses between sessions included)` : 'no runs'}; the runs took ${duration(f.runSeconds)} in total (sum over runs of their wall seconds)</td></tr>`,
    `<tr><th>machines</th><td>${counted(f.hosts)}</td></tr>`,
    `<tr><th>engines</th><td>${counted(f.engines)}</td></tr>`,
    `<tr><th>versions</th><td>${counted(f.versions)}; charts by vega ${esc(h.libraries.vega)} and vega-lite ${esc(h.libraries.vegaLite)}</td></tr>`,
    h.bestOver ? `<tr><th>envelope</th><td>each method at its best setting over <code>${esc(h.bestOver.join(', '))}</code> in every cell (envelope.csv names the winner; ties: higher rate, then higher Wilson lower bound, then lower median relLoss, then the first setting in table order). The winner's k/R is optimistic: it is a maximum over settings.</td></tr>` : '',
    `<tr><th>written</th><td>${esc(h.writtenAt)} on ${esc(h.machine)}</td></tr>`,
  ].filter((x) => x !== '');
  const nav = sections.map((s) => `<a href="#${esc(s.id)}">${esc(s.title)}</a>`).join('');
  const body = sections.map((s) => [
    `<section id="${esc(s.id)}">`,
    `<h2>${esc(s.title)}</h2>`,
    s.intro ? `<p>${s.intro}</p>` : '',
    ...(s.figures.length === 0 ? [`<p class="empty">${esc(s.empty)}</p>`] : s.figures.map((fig) => [
      `<figure class="chart" id="chart-${esc(fig.name)}" data-chart="${esc(fig.name)}" data-kind="${esc(fig.kind)}">`,
      fig.svg.trim(),
      `<figcaption>${fig.caption} Standalone: <a href="${esc(fig.name)}.svg">${esc(fig.name)}.svg</a></figcaption>`,
      '</figure>',
    ].join('\n'))),
    '</section>',
  ].filter((x) => x !== '').join('\n')).join('\n');
  const files = h.files.map((n) => `<a href="${esc(n)}">${esc(n)}</a>`).join(', ');
  const json = JSON.stringify(chartData).replace(/</g, '\\u003c');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    h.state === 'running' && h.refreshSeconds ? `<meta http-equiv="refresh" content="${h.refreshSeconds}">` : '',
    `<title>narrowsweep report${h.specName ? `: ${esc(h.specName)}` : ''}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<header>',
    `<h1>narrowsweep report${h.specName ? `: ${esc(h.specName)}` : ''}</h1>`,
    `<p class="status ${h.state === 'running' ? 'running' : partial ? 'partial' : 'complete'}" id="progress">${progressText(h)}</p>`,
    `<table class="facts">${rows.join('\n')}</table>`,
    `<nav>${nav}</nav>`,
    '</header>',
    '<main>',
    body,
    '<section id="files">',
    '<h2>Tables</h2>',
    `<p>In this folder: ${files}.</p>`,
    '</section>',
    '</main>',
    `<script type="application/json" id="chart-data">${json}</script>`,
    '</body>',
    '</html>',
  ].filter((x) => x !== '').join('\n') + '\n';
}
