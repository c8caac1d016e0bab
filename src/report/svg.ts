// phase-<method>.svg: the phase table as a picture (METHOD.md section 6). One square per cell,
// shaded by the success rate k/R (white 0, dark blue 1) and labelled k/R; the rows rho = 1 (counting
// bound) and rho = 2 (Theorem 1) are marked with a dashed line and a label. Plain SVG text, no
// dependencies, deterministic (the same table gives the same bytes).
//
// The one seam between the tables and their pictures: phaseChart takes a phase table
// (src/report/phase-table.ts) and returns the file's text; nothing else in the report layer
// knows how a picture is drawn.
import type { PhaseTable } from './phase-table.js';
import { fixedText } from './phase-table.js';
import { fmt, listText } from './shared.js';

export interface PicturePhaseTable {
  method: string;
  /** What the rows are: `rho` or `m`. */
  width: 'rho' | 'm';
  groupKeys: string[];
  columns: Array<{ label: string }>;
  rows: Array<{ group: string[]; width: number; mark: string; cells: Array<{ successes: number; trials: number } | null> }>;
  /** Lines under the title, e.g. the success rule and the data. */
  subtitle: string[];
}

const CELL_H = 26, MARK_W = 180, TITLE_LINE = 18, HEADER_H = 24, GROUP_GAP = 8;
/** A rough width of a 12 px sans-serif character, to size columns to their text. */
const CHAR_W = 7.5;
const textW = (s: string): number => Math.ceil(s.length * CHAR_W) + 14;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Rate 0..1 -> a colour from white (#f7fbff) to dark blue (#08306b). */
export function rateColour(rate: number): string {
  const from = [247, 251, 255], to = [8, 48, 107];
  const c = from.map((f, i) => Math.round(f + (to[i]! - f) * Math.min(1, Math.max(0, rate))));
  return `#${c.map((x) => x.toString(16).padStart(2, '0')).join('')}`;
}

const MARK_TEXT: Record<string, string> = { 'counting-bound': 'rho = 1: counting bound', 'theorem-1': 'rho = 2: Theorem 1' };

export function phaseSvg(t: PicturePhaseTable): string {
  const labelCols = [...t.groupKeys, t.width];
  const titleLines = [`phase table of ${t.method}: successes k/R`, ...t.subtitle];
  const top = TITLE_LINE * titleLines.length + 8 + HEADER_H;
  // label columns as wide as their longest text; cells as wide as the widest column label
  const labelW = labelCols.map((k, i) => Math.max(textW(k), ...t.rows.map((r) => textW([...r.group, String(r.width)][i]!))));
  const labelX = labelW.map((_, i) => labelW.slice(0, i).reduce((a, b) => a + b, 0));
  const left = labelW.reduce((a, b) => a + b, 0);
  const CELL_W = Math.max(64, ...t.columns.map((c) => textW(c.label)));
  // a small gap where the row group changes
  const rowY: number[] = [];
  let y0 = top;
  t.rows.forEach((r, i) => {
    if (i > 0 && r.group.join('\u0000') !== t.rows[i - 1]!.group.join('\u0000')) y0 += GROUP_GAP;
    rowY.push(y0);
    y0 += CELL_H;
  });
  const W = Math.max(left + CELL_W * t.columns.length + MARK_W, ...titleLines.map((l) => textW(l)));
  const H = y0 + 8;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
  ];
  titleLines.forEach((line, i) => {
    out.push(`<text x="4" y="${TITLE_LINE * (i + 1)}"${i === 0 ? ' font-size="14" font-weight="bold"' : ' fill="#444444"'}>${esc(line)}</text>`);
  });
  const headerY = top - 8;
  labelCols.forEach((k, i) => out.push(`<text x="${labelX[i]! + 4}" y="${headerY}" font-weight="bold">${esc(k)}</text>`));
  t.columns.forEach((c, j) => {
    out.push(`<text x="${left + CELL_W * j + CELL_W / 2}" y="${headerY}" text-anchor="middle" font-weight="bold">${esc(c.label)}</text>`);
  });
  t.rows.forEach((r, i) => {
    const y = rowY[i]!;
    [...r.group, String(r.width)].forEach((v, k) => {
      out.push(`<text x="${labelX[k]! + 4}" y="${y + CELL_H / 2 + 4}">${esc(v)}</text>`);
    });
    r.cells.forEach((c, j) => {
      const x = left + CELL_W * j;
      if (c === null) {
        out.push(`<rect x="${x}" y="${y}" width="${CELL_W}" height="${CELL_H}" fill="#dddddd" stroke="#ffffff"/>`);
        return;
      }
      const rate = c.trials > 0 ? c.successes / c.trials : 0;
      out.push(`<rect x="${x}" y="${y}" width="${CELL_W}" height="${CELL_H}" fill="${rateColour(rate)}" stroke="#ffffff"><title>${esc(`${t.width} ${r.width}, ${t.columns[j]!.label}: ${c.successes}/${c.trials}`)}</title></rect>`);
      out.push(`<text x="${x + CELL_W / 2}" y="${y + CELL_H / 2 + 4}" text-anchor="middle" fill="${rate > 0.5 ? '#ffffff' : '#000000'}">${c.successes}/${c.trials}</text>`);
    });
    const mark = MARK_TEXT[r.mark];
    if (mark !== undefined) {
      const x2 = left + CELL_W * t.columns.length;
      out.push(`<line x1="0" y1="${y}" x2="${x2 + 6}" y2="${y}" stroke="#d62728" stroke-width="1.5" stroke-dasharray="5,3"/>`);
      out.push(`<text x="${x2 + 10}" y="${y + 4}" fill="#d62728">${esc(mark)}</text>`);
    }
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** phase-<method>.svg of a phase table: its cells, with the success rule, budget and data as subtitle. */
export function phaseChart(t: PhaseTable): string {
  const fixed = fixedText(t.fixed);
  return phaseSvg({
    method: t.method, width: t.width, groupKeys: t.groupKeys, columns: t.columns,
    rows: t.rows.map((r) => ({ group: r.group.map(fmt), width: r.width, mark: r.mark, cells: r.cells })),
    subtitle: [
      `success: relLoss <= ${listText(t.epsilon)}; budget ${listText(t.iterations)} iterations, ${listText(t.seconds, ' s')} per run`,
      `data: ${t.data.join(' | ')}${fixed ? `; fixed: ${fixed}` : ''}`,
    ],
  });
}
