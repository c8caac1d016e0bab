// report.html in a real browser: Debian's chromium, headless, driven by playwright-core (which
// downloads no browser). Every chart must be on the page with the number of cells and marks the
// fixture implies (counted here from the fixture's own success counts, not from the report's
// data), the page must log no error and fetch nothing but itself, and a screenshot is saved.
// NARROWSWEEP_SKIP_BROWSER=1 skips it on a machine without chromium (CI installs it: .ci/run);
// NARROWSWEEP_SCREENSHOT=<file.png> keeps a copy of the screenshot.
import test from 'ava';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { aggregate } from '../src/report/aggregate.js';
import { COLUMNS, fixtureCells, RHOS, TRIALS, writeFixtureJournal } from './fixtures/report-journal.js';
import type { FixtureCell } from './fixtures/report-journal.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const browserTest = process.env.NARROWSWEEP_SKIP_BROWSER === '1' ? test.skip : test;

/** The fixture's cells of one method and row group (`group` as `key=value`, '' for none). */
function cellsOf(method: string, group: string): FixtureCell[] {
  return fixtureCells().filter((c) => c.method === method && Object.entries(c.extra).map(([k, v]) => `${k}=${v}`).join(' ') === group);
}

/** Whether the rate k/R crosses 0.5 upwards inside the measured rho (the last rate below 0.5 is not the last point). */
function crosses(cells: FixtureCell[]): boolean {
  const ks = [...cells].sort((a, b) => a.rho - b.rho).map((c) => c.k / TRIALS);
  let last = -1;
  ks.forEach((r, i) => { if (r < 0.5) last = i; });
  return last >= 0 && last < ks.length - 1;
}

const GROUPS: Record<string, string[]> = { lm: ['outputScale=1', 'outputScale=10'], 'mirror-gd': [''], pgd: [''], sgd: ['sgd.lr=0.05', 'sgd.lr=0.3'] };

browserTest('report.html in headless chromium: every chart with its cells and marks, no console error, no request, a screenshot', async (t) => {
  t.true(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (or NARROWSWEEP_SKIP_BROWSER=1)`);
  const dir = mkdtempSync(join(tmpdir(), 'narrowsweep-browser-'));
  const profile = mkdtempSync(join(tmpdir(), 'narrowsweep-chromium-'));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  });
  writeFixtureJournal(dir);
  await aggregate(dir, { bestOver: ['lr'] });

  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1400, height: 900 } });
  try {
    const page = await context.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    await context.route(/^(https?|wss?):/, (route) => { problems.push(`network request: ${route.request().url()}`); return route.abort(); });
    const url = pathToFileURL(join(dir, 'report.html')).href;
    await page.goto(url, { waitUntil: 'load' });

    const count = (selector: string) => page.locator(selector).count();
    // every chart, once, as inline SVG with a size
    const charts = [
      'frontier', 'envelope-frontier', 'curves', 'nice-region', 'test-accuracy',
      ...Object.keys(GROUPS).flatMap((m) => [`phase-${m}`, `envelope-phase-${m}`]),
    ];
    t.is(await count('figure.chart'), charts.length);
    for (const c of charts) {
      t.is(await count(`#chart-${c} > svg`), 1, c);
      const box = await page.locator(`#chart-${c} > svg`).boundingBox();
      t.true(box !== null && box.width > 100 && box.height > 100, `${c}: ${JSON.stringify(box)}`);
    }

    // heatmaps: one rect and one k/R label per cell with runs, a grey rect per empty position,
    // rho = 1 and 2 in every column, one boundary point per column where the rate crosses 50%
    let crossings = 0, boundaryRows = 0;
    for (const [method, groups] of Object.entries(GROUPS)) {
      for (const [i, group] of groups.entries()) {
        const cells = cellsOf(method, group);
        const at = `#chart-phase-${method}`;
        t.is(await count(`${at} g.cells_${i}_marks > path`), cells.length, `${method} ${group} cells`);
        t.is(await count(`${at} g.empty_${i}_marks > path`), RHOS.length * COLUMNS.length - cells.length, `${method} ${group} empty`);
        const labels = await page.locator(`${at} g.labels_${i}_marks > text`).allTextContents();
        t.deepEqual(labels.sort(), cells.map((c) => `${c.k}/${TRIALS}`).sort(), `${method} ${group} labels`);
        t.is(await count(`${at} g.marks_${i}_marks > line`), 2 * COLUMNS.length, `${method} ${group} rho = 1, 2`);
        const crossed = COLUMNS.filter((col) => crosses(cells.filter((c) => c.n === col.n))).length;
        t.is(await count(`${at} g.boundaryPoints_${i}_marks > path`), crossed, `${method} ${group} boundary`);
        crossings += crossed;
        boundaryRows += COLUMNS.length;
      }
    }
    // the envelope of sgd over lr: one panel, every cell with its winning setting written in it
    t.is(await count('#chart-envelope-phase-sgd g.cells_0_marks > path'), RHOS.length * COLUMNS.length);
    t.is(await count('#chart-envelope-phase-sgd g.cells_1_marks'), 0);
    const settings = await page.locator('#chart-envelope-phase-sgd g.settings_0_marks > text').allTextContents();
    t.is(settings.length, RHOS.length * COLUMNS.length);
    t.true(settings.every((s) => s === 'lr=0.05' || s === 'lr=0.3'), settings.join(' '));

    // frontiers: a point per crossing, a triangle per (method, group, column) without one, a band each
    t.is(await count('#chart-frontier g.points_marks > path'), crossings);
    t.is(await count('#chart-frontier g.censored_marks > path'), boundaryRows - crossings);
    t.is(await count('#chart-frontier g.intervals_marks > line'), boundaryRows);
    t.is(await count('#chart-frontier g.refLines_marks > line'), 2);

    // training curves: a line per trial, at two widths, for each of the four methods
    t.is(await count('#chart-curves g.curves_marks > path'), 4 * 2 * TRIALS);
    t.is(await count('#chart-curves g.epsilon_marks > line'), 4);

    // the nice region (pgd, mirror-gd): sigma_min at the end in every cell and at the start where
    // it is positive (rho >= 2 in the fixture); ||W - W0|| in every cell, the radius in pgd's
    const nice = fixtureCells().filter((c) => c.method === 'pgd' || c.method === 'mirror-gd');
    t.is(await count('#chart-nice-region g.sigmaPoints_marks > path'), nice.length + nice.filter((c) => c.rho >= 2).length);
    t.is(await count('#chart-nice-region g.distancePoints_marks > path'), nice.length + nice.filter((c) => c.method === 'pgd').length);
    // test accuracy: every cell has a test split
    t.is(await count('#chart-test-accuracy g.accuracyPoints_marks > path'), fixtureCells().length);

    // the header
    await t.notThrowsAsync(page.locator('#progress').waitFor());
    t.regex(await page.locator('#progress').innerText(), /Complete: \d+ configurations finished/);

    const shot = join(dir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = readFileSync(shot);
    t.true(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) && png.length > 20_000, `screenshot ${png.length} bytes`);
    if (process.env.NARROWSWEEP_SCREENSHOT) copyFileSync(shot, process.env.NARROWSWEEP_SCREENSHOT);

    t.deepEqual(problems, []);
    t.deepEqual(requests, [url], 'the page loads nothing but itself');
  } finally {
    await context.close();
  }
});
