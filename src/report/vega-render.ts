// Charts as SVG text: a Vega-Lite spec compiled to Vega (vega-lite `compile`) and rendered on the
// server side by a headless Vega View (`renderer: 'none'`, `toSVG()`). Nothing is drawn by hand.
//
// Vega numbers the ids of gradients and clip paths with counters global to the process, so two
// renderings of one chart would differ, and two charts inlined in one page could share an id. The
// ids are therefore renamed in order of appearance with the chart's own prefix: the same chart
// gives the same bytes in any process, and no two charts of report.html share an id.
//
// The libraries are loaded on first use (about 0.1 s), so the commands that write no chart do not
// pay for them. Warnings of either library are collected and returned: a spec that draws what it
// should gives none (the tests check that).
import type { TopLevelSpec } from 'vega-lite';

type VegaModule = typeof import('vega');
type VegaLiteModule = typeof import('vega-lite');
let libs: Promise<{ vega: VegaModule; vl: VegaLiteModule }> | null = null;

function load(): Promise<{ vega: VegaModule; vl: VegaLiteModule }> {
  libs ??= Promise.all([import('vega'), import('vega-lite')]).then(([vega, vl]) => ({ vega, vl }));
  return libs;
}

/** The versions of the chart libraries, for the report's header. */
export async function chartLibraryVersions(): Promise<{ vega: string; vegaLite: string }> {
  const { vega, vl } = await load();
  return { vega: vega.version, vegaLite: vl.version };
}

/**
 * Settings every chart shares (fonts, background, a light frame). `aria: false`: no ARIA label per
 * mark (each would repeat the mark's data as text and make a large sweep's SVG several times larger).
 */
const CONFIG = {
  aria: false,
  font: 'sans-serif',
  background: '#ffffff',
  view: { stroke: '#dddddd' },
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 11 },
  title: { fontSize: 14, subtitleFontSize: 11, subtitleColor: '#444444', anchor: 'start' },
};

export interface RenderedChart {
  svg: string;
  /** Warnings of vega-lite's compiler and of the Vega view (empty for a correct spec). */
  warnings: string[];
}

function collector(warnings: string[]) {
  let level = 2;
  const logger = {
    level(l?: number) { if (l === undefined) return level; level = l; return logger; },
    error(...args: unknown[]) { warnings.push(`error: ${args.map(String).join(' ')}`); return logger; },
    warn(...args: unknown[]) { warnings.push(args.map(String).join(' ')); return logger; },
    info() { return logger; },
    debug() { return logger; },
  };
  return logger;
}

/** Renders `spec` (Vega-Lite) to SVG text with ids prefixed by `idPrefix`. */
export async function renderChart(spec: Record<string, unknown>, idPrefix: string): Promise<RenderedChart> {
  const { vega, vl } = await load();
  const warnings: string[] = [];
  const logger = collector(warnings);
  const full = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', ...spec, config: { ...CONFIG, ...(spec.config as object | undefined) } };
  const compiled = vl.compile(full as unknown as TopLevelSpec, { logger: logger as never }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logger: logger as never, logLevel: vega.Warn });
  try {
    const svg = await view.toSVG();
    return { svg: `${renameIds(svg, idPrefix)}\n`, warnings };
  } finally {
    view.finalize();
  }
}

/** Renames every id="X" and its references (url(#X), href="#X") to `<prefix>-<k>`, k in order of first appearance. */
export function renameIds(svg: string, prefix: string): string {
  const names = new Map<string, string>();
  for (const m of svg.matchAll(/\bid="([^"]+)"/g)) if (!names.has(m[1]!)) names.set(m[1]!, `${prefix}-${names.size}`);
  if (names.size === 0) return svg;
  return svg
    .replace(/\bid="([^"]+)"/g, (all, id: string) => (names.has(id) ? `id="${names.get(id)}"` : all))
    .replace(/url\(#([^)]+)\)/g, (all, id: string) => (names.has(id) ? `url(#${names.get(id)})` : all))
    .replace(/href="#([^"]+)"/g, (all, id: string) => (names.has(id) ? `href="#${names.get(id)}"` : all));
}
