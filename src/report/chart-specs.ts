// The Vega-Lite specs of the report's charts, one function per chart, each drawing the rows of
// src/report/chart-data.ts as they are (no transform changes a value; the few `calculate`s only
// place a mark, such as a cell's far edge). Every layer has a `name`, which Vega writes into the
// SVG as the class `<name>_marks` of the layer's group: the browser test counts marks by it.
import type { CurvesData, FrontierData, HeatmapData, HeatmapPanel, NiceRegionData, TestAccuracyData } from './chart-data.js';

type Spec = Record<string, unknown>;

const BOUNDARY_LABEL = '50% boundary (boundary.csv rho50)';
const MARK_COLOURS = { 'rho = 1 (counting bound)': '#2ca02c', 'rho = 2 (Theorem 1)': '#d62728', [BOUNDARY_LABEL]: '#ff7f0e' };

/** An axis over row or column indices: one tick per index at its centre, labelled with `labels`. */
function indexAxis(labels: string[], title: string, extra: Spec = {}): Spec {
  return {
    title, values: labels.map((_, i) => i + 0.5), labelExpr: `${JSON.stringify(labels)}[floor(datum.value)]`,
    grid: false, ticks: false, domain: false, labelOverlap: false, labelPadding: 4, ...extra,
  };
}

function charWidth(s: string, px: number): number {
  return Math.ceil(s.length * px * 0.6);
}

/**
 * One panel of a heatmap. Layer names carry the panel's index (`cells_0`, `labels_0`, ...): Vega-Lite
 * needs names unique within a chart, and the SVG class `cells_0_marks` then tells the panels apart.
 */
function heatmapPanel(h: HeatmapData, p: HeatmapPanel, index: number, cellW: number, cellH: number): Spec {
  const nc = h.columns.length, nr = p.rows.length;
  const x = (field: string) => ({ field, type: 'quantitative', scale: { domain: [0, nc], nice: false, zero: false }, axis: indexAxis(h.columns, '(n, d)') });
  const y = (field: string) => ({ field, type: 'quantitative', scale: { domain: [0, nr], nice: false, zero: false }, axis: indexAxis(p.rows, h.width) });
  const edges = [{ calculate: 'datum.col + 1', as: 'col1' }, { calculate: 'datum.row + 1', as: 'row1' }];
  const centre = [{ calculate: 'datum.col + 0.5', as: 'cx' }, { calculate: 'datum.row + 0.5', as: 'cy' }];
  const lineColour = {
    field: 'label', type: 'nominal', title: null,
    scale: { domain: Object.keys(MARK_COLOURS), range: Object.values(MARK_COLOURS) },
    legend: { orient: 'bottom', direction: 'vertical', labelLimit: 0, symbolType: 'stroke', symbolStrokeWidth: 2.5 },
  };
  const layer: Spec[] = [{
    name: `cells_${index}`, data: { values: p.cells }, transform: edges,
    mark: { type: 'rect', stroke: '#ffffff', strokeWidth: 1 },
    encoding: {
      x: x('col'), x2: { field: 'col1' }, y: y('row'), y2: { field: 'row1' },
      fill: { field: 'rate', type: 'quantitative', title: 'success rate', scale: { domain: [0, 1], scheme: 'blues' } },
    },
  }];
  if (p.empty.length) {
    layer.push({
      name: `empty_${index}`, data: { values: p.empty }, transform: edges, mark: { type: 'rect', fill: '#e6e6e6', stroke: '#ffffff', strokeWidth: 1 },
      encoding: { x: x('col'), x2: { field: 'col1' }, y: y('row'), y2: { field: 'row1' } },
    });
  }
  if (p.marks.length) {
    layer.push({
      name: `marks_${index}`, data: { values: p.marks }, transform: [{ calculate: 'datum.col + 1', as: 'col1' }],
      mark: { type: 'rule', strokeDash: [6, 3], strokeWidth: 2 },
      encoding: { x: x('col'), x2: { field: 'col1' }, y: y('y'), color: lineColour },
    });
  }
  if (p.boundary.length) {
    const data = { values: p.boundary.map((b) => ({ ...b, label: BOUNDARY_LABEL })) };
    const cx = [{ calculate: 'datum.col + 0.5', as: 'cx' }];
    layer.push({
      name: `boundary_${index}`, data, transform: cx, mark: { type: 'line', strokeWidth: 2.5 },
      encoding: { x: x('cx'), y: y('y'), detail: { field: 'segment', type: 'nominal' }, color: lineColour },
    });
    layer.push({
      name: `boundaryPoints_${index}`, data, transform: cx, mark: { type: 'point', filled: true, size: 36, opacity: 1 },
      encoding: { x: x('cx'), y: y('y'), color: lineColour },
    });
  }
  // the text last, so the lines run under it
  layer.push({
    name: `labels_${index}`, data: { values: p.cells }, transform: centre,
    mark: { type: 'text', fontSize: 11, baseline: 'middle', ...(h.envelope ? { dy: -6 } : {}) },
    encoding: {
      x: x('cx'), y: y('cy'), text: { field: 'label' },
      color: { condition: { test: 'datum.rate > 0.5', value: '#ffffff' }, value: '#000000' },
    },
  });
  if (h.envelope) {
    layer.push({
      name: `settings_${index}`, data: { values: p.cells }, transform: centre,
      mark: { type: 'text', fontSize: 8, baseline: 'middle', dy: 7 },
      encoding: {
        x: x('cx'), y: y('cy'), text: { field: 'setting' },
        color: { condition: { test: 'datum.rate > 0.5', value: '#ffffff' }, value: '#000000' },
      },
    });
  }
  return { ...(p.title ? { title: p.title } : {}), width: nc * cellW, height: nr * cellH, layer };
}

/** The heatmap(s) of one phase table: one panel per row group, stacked. */
export function heatmapSpec(h: HeatmapData): Spec {
  const longest = Math.max(...h.columns.map((c) => charWidth(c, 11)),
    ...h.panels.flatMap((p) => p.cells.map((c) => charWidth(c.setting ?? '', 8))));
  const cellW = Math.max(56, longest + 12);
  const cellH = h.envelope ? 32 : 22;
  return {
    title: { text: h.title, subtitle: h.subtitle },
    vconcat: h.panels.map((p, i) => heatmapPanel(h, p, i, cellW, cellH)),
    resolve: { scale: { fill: 'shared', color: 'shared' } },
  };
}

/** The (n, d) column labels `n=..;d=..` of `rows` by n, then d (a facet sorts text otherwise). */
function columnOrder(rows: Array<{ column: string }>): string[] {
  const key = (c: string) => c.match(/\d+/g)!.map(Number);
  return [...new Set(rows.map((r) => r.column))].sort((a, b) => key(a)[0]! - key(b)[0]! || key(a)[1]! - key(b)[1]!);
}

/** Legend symbols at full opacity (a band layer would make them pale), labels never cut. */
const LEGEND = { symbolOpacity: 1, labelLimit: 0 };

function seriesColour(series: string[]): Spec {
  return { scheme: series.length > 10 ? 'tableau20' : 'category10' };
}

/** rho50 against n (or d) for every method: lm the expressivity frontier, the others trainability frontiers. */
export function frontierSpec(f: FrontierData, title: string): Spec {
  const series = [...new Set(f.points.map((p) => p.series))];
  const xs = f.points.map((p) => p.x);
  const logX = xs.length > 0 && Math.max(...xs) / Math.min(...xs) >= 4;
  const xValues = [...new Set(xs)].sort((a, b) => a - b);
  const x = { field: 'x', type: 'quantitative', title: f.xField, scale: logX ? { type: 'log' } : { zero: false }, axis: { values: xValues, grid: false } };
  const y = (field: string) => ({ field, type: 'quantitative', title: 'rho50 = m d / n at 50% success', scale: { zero: false } });
  const colour = { field: 'series', type: 'nominal', title: 'method', scale: { ...seriesColour(series), domain: series }, legend: LEGEND };
  const crossing = f.points.filter((p) => p.kind === 'crossing');
  const censored = f.points.filter((p) => p.kind !== 'crossing');
  const layer: Spec[] = [
    {
      name: 'refLines', data: { values: [{ rho: 1, label: 'rho = 1 (counting bound)' }, { rho: 2, label: 'rho = 2 (Theorem 1)' }] },
      mark: { type: 'rule', strokeDash: [6, 3], color: '#888888' }, encoding: { y: y('rho') },
    },
    {
      name: 'refLabels', data: { values: [{ rho: 1, label: 'rho = 1 (counting bound)' }, { rho: 2, label: 'rho = 2 (Theorem 1)' }] },
      mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 2, dy: -2, color: '#666666', fontSize: 10 },
      encoding: { y: y('rho'), x: { value: 0 }, text: { field: 'label' } },
    },
  ];
  if (f.points.length) {
    layer.push(
      {
        name: 'bands', data: { values: f.points }, mark: { type: 'area', opacity: 0.1 },
        encoding: { x, y: y('bandLow'), y2: { field: 'bandHigh' }, color: colour, detail: { field: 'line' } },
      },
      {
        name: 'intervals', data: { values: f.points }, mark: { type: 'rule', strokeWidth: 2, opacity: 0.45 },
        encoding: { x, y: y('bandLow'), y2: { field: 'bandHigh' }, color: colour },
      },
    );
  }
  if (crossing.length) {
    layer.push(
      { name: 'frontiers', data: { values: crossing }, mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y: y('y'), color: colour, detail: { field: 'line' } } },
      { name: 'points', data: { values: crossing }, mark: { type: 'point', filled: true, size: 50, opacity: 1 }, encoding: { x, y: y('y'), color: colour } },
    );
  }
  if (censored.length) {
    layer.push({
      name: 'censored', data: { values: censored }, mark: { type: 'point', filled: false, size: 70, strokeWidth: 1.5 },
      encoding: {
        x, y: y('y'), color: colour,
        shape: {
          field: 'kind', type: 'nominal', title: 'no crossing',
          scale: { domain: ['at-or-below', 'above'], range: ['triangle-down', 'triangle-up'] },
          legend: { labelLimit: 0, labelExpr: "datum.label == 'above' ? 'rate < 50% everywhere (above the range)' : 'rate >= 50% everywhere (at or below the range)'" },
        },
      },
    });
  }
  return {
    title: {
      text: title,
      subtitle: [
        'lm: the expressivity frontier (an exact-fit probe); every first-order method: a trainability frontier.',
        'Bands: the rho range where the 50% boundary can lie given the trials (Wilson 95%, boundary.csv rho50Low..rho50High).',
      ],
    },
    width: 460, height: 300, layer,
  };
}

/** relLoss against iteration on log axes, one panel per method, at rho just below and just above 2. */
export function curvesSpec(c: CurvesData): Spec {
  const panels = c.panels.map((p) => p.panel);
  return {
    title: {
      text: 'Training curves: relLoss against iteration',
      subtitle: ['One line per trial (its bounded, log-spaced loss trace), at the rho just below and just above 2; dashed: the success threshold epsilon.'],
    },
    // one row per trace point (the JSON in report.html keeps the traces per run)
    data: { values: c.runs.flatMap((r) => r.trace.map(([iteration, relLoss]) => ({ panel: r.panel, run: r.run, side: r.side, epsilon: r.epsilon, x: iteration + 1, relLoss }))) },
    facet: { field: 'panel', type: 'nominal', title: null, sort: panels, header: { labelFontSize: 11, labelLimit: 0 } },
    columns: Math.min(3, Math.max(1, panels.length)),
    spec: {
      width: 260, height: 180,
      layer: [
        {
          name: 'curves', mark: { type: 'line', strokeWidth: 1, opacity: 0.8, clip: true },
          encoding: {
            x: { field: 'x', type: 'quantitative', title: 'iteration + 1', scale: { type: 'log' } },
            y: { field: 'relLoss', type: 'quantitative', title: 'relLoss', scale: { type: 'log' } },
            color: { field: 'side', type: 'nominal', title: null, scale: { domain: ['below 2', 'above 2'], range: ['#ff7f0e', '#1f77b4'] } },
            detail: { field: 'run' },
          },
        },
        {
          name: 'epsilon', transform: [{ filter: 'datum.epsilon > 0' }, { aggregate: [{ op: 'min', field: 'epsilon', as: 'epsilon' }], groupby: [] }],
          mark: { type: 'rule', strokeDash: [4, 3], color: '#444444' },
          encoding: { y: { field: 'epsilon', type: 'quantitative' } },
        },
      ],
    },
  };
}

/** sigma_min(J) at the start and the end, and ||W - W0|| against the radius, pgd beside mirror-gd. */
export function niceRegionSpec(d: NiceRegionData): Spec {
  const series = [...new Set([...d.sigma, ...d.distance].map((r) => r.series))];
  const colour = { field: 'series', type: 'nominal', title: 'method', scale: { ...seriesColour(series), domain: series }, legend: LEGEND };
  const x = { field: 'rho', type: 'quantitative', title: 'rho', scale: { zero: false } };
  const facet = { field: 'column', type: 'nominal', title: null, sort: columnOrder([...d.sigma, ...d.distance]) };
  const parts: Spec[] = [];
  if (d.sigma.length) {
    parts.push({
      data: { values: d.sigma }, facet,
      spec: {
        width: 260, height: 180, title: 'median sigma_min(J): start (dashed), end (solid)',
        layer: [
          {
            name: 'sigma', mark: { type: 'line', point: false },
            encoding: {
              x, y: { field: 'sigmaMinJ', type: 'quantitative', title: 'sigma_min(J)', scale: { type: 'log' } }, color: colour,
              strokeDash: { field: 'which', type: 'nominal', title: 'iterate', scale: { domain: ['start', 'end'], range: [[5, 3], [1, 0]] } },
            },
          },
          {
            name: 'sigmaPoints', mark: { type: 'point', filled: true, size: 20 },
            encoding: { x, y: { field: 'sigmaMinJ', type: 'quantitative', scale: { type: 'log' } }, color: colour },
          },
        ],
      },
    });
  }
  if (d.distance.length) {
    parts.push({
      data: { values: d.distance }, facet,
      spec: {
        width: 260, height: 180, title: 'median ||W - W0||_F (solid) and the ball radius (dashed)',
        layer: [
          {
            name: 'distance', mark: { type: 'line' },
            encoding: {
              x, y: { field: 'value', type: 'quantitative', title: 'Frobenius norm', scale: { type: 'log' } }, color: colour,
              strokeDash: { field: 'what', type: 'nominal', title: 'quantity', scale: { domain: ['distW0', 'radius'], range: [[1, 0], [5, 3]] } },
            },
          },
          {
            name: 'distancePoints', mark: { type: 'point', filled: true, size: 20 },
            encoding: { x, y: { field: 'value', type: 'quantitative', scale: { type: 'log' } }, color: colour },
          },
        ],
      },
    });
  }
  return {
    title: {
      text: 'The nice region: pgd against mirror-gd (no projection)',
      subtitle: [
        'Both start from the same mirrored point for the same seed, so the radius pgd uses is the ball mirror-gd is measured against:',
        'where mirror-gd\'s distance passes that radius, the unconstrained iterates leave the ball. Medians per cell (summary.csv).',
      ],
    },
    vconcat: parts,
    resolve: { scale: { color: 'shared', strokeDash: 'independent' }, legend: { strokeDash: 'independent' } },
  };
}

/** Median test accuracy against rho, per method. */
export function testAccuracySpec(d: TestAccuracyData): Spec {
  const series = [...new Set(d.points.map((r) => r.series))];
  return {
    title: { text: 'Test accuracy against rho', subtitle: ['Median over the trials of each cell (summary.csv medianTestAccuracy).'] },
    data: { values: d.points },
    facet: { field: 'column', type: 'nominal', title: null, sort: columnOrder(d.points) },
    spec: {
      width: 260, height: 180,
      layer: [
        {
          name: 'accuracy', mark: { type: 'line', point: false },
          encoding: {
            x: { field: 'rho', type: 'quantitative', title: 'rho', scale: { zero: false } },
            y: { field: 'testAccuracy', type: 'quantitative', title: 'test accuracy', scale: { zero: false } },
            color: { field: 'series', type: 'nominal', title: 'method', scale: { ...seriesColour(series), domain: series }, legend: LEGEND },
          },
        },
        {
          name: 'accuracyPoints', mark: { type: 'point', filled: true, size: 24 },
          encoding: {
            x: { field: 'rho', type: 'quantitative' }, y: { field: 'testAccuracy', type: 'quantitative' },
            color: { field: 'series', type: 'nominal', scale: { ...seriesColour(series), domain: series } },
          },
        },
      ],
    },
  };
}
