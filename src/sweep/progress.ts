// Progress display: an overall bar (done/total, successes, runs/min, ETA) and one line per
// worker with its configuration and live loss, drawn with cli-progress on a terminal; a plain
// status line every few seconds when stdout is not a terminal; nothing with --quiet.
import cliProgress from 'cli-progress';
import type { RunConfig } from '../core/types.js';
import type { AxisValue } from './types.js';

export interface ProgressView {
  /** `done`/`ok` count runs already in the journal (reused), which do not enter the rate. */
  start(total: number, done: number, ok: number): void;
  /** `cell`: the run's axis values (the label shows every one); without it, method n d m. */
  slotStart(slot: number, config: RunConfig, cell?: Record<string, AxisValue>): void;
  slotProgress(slot: number, iteration: number, relLoss: number): void;
  slotEnd(slot: number): void;
  runDone(success: boolean): void;
  /** A message line (printed above the bars on a terminal). */
  log(line: string): void;
  stop(): void;
}

export type ProgressMode = 'tty' | 'plain' | 'quiet';

export function progressMode(quiet: boolean, stream: NodeJS.WriteStream = process.stdout): ProgressMode {
  if (quiet) return 'quiet';
  return stream.isTTY ? 'tty' : 'plain';
}

/**
 * A run's label on its worker line: every axis value of its cell, then the seed, so that two runs
 * differing in any axis (activation, pgd.radius, lr, ...) read differently. Without a cell, the
 * config's method n d m.
 */
export function configLabel(c: RunConfig, cell?: Record<string, AxisValue>): string {
  if (!cell) return `${c.method} n=${c.n} d=${c.d} m=${c.m} seed=${c.seed}`;
  const parts = Object.entries(cell).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${String(v)}`);
  return `${parts.join(' ')} seed=${c.seed}`;
}

function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '--';
  s = Math.round(s);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** Counts shared by both displays: totals and the rate over runs done in this session. */
class Tally {
  total = 0;
  done = 0;
  ok = 0;
  private newDone = 0;
  private t0 = Date.now();
  start(total: number, done: number, ok: number): void {
    this.total = total; this.done = done; this.ok = ok; this.newDone = 0; this.t0 = Date.now();
  }
  add(success: boolean): void {
    this.done++; this.newDone++;
    if (success) this.ok++;
  }
  perMinute(): number {
    const min = (Date.now() - this.t0) / 60_000;
    return min > 0 ? this.newDone / min : 0;
  }
  eta(): string {
    const rate = this.perMinute();
    return rate > 0 ? formatDuration(((this.total - this.done) / rate) * 60) : '--';
  }
}

export function createProgress(mode: ProgressMode, slots: number, stream: NodeJS.WriteStream = process.stdout,
  plainEverySeconds = 5): ProgressView {
  if (mode === 'quiet') return quietView(stream);
  if (mode === 'plain') return plainView(slots, stream, plainEverySeconds);
  return ttyView(slots, stream);
}

/** --quiet silences the progress display only; messages (torn line, counts) still print. */
function quietView(stream: NodeJS.WriteStream): ProgressView {
  return {
    start() {}, slotStart() {}, slotProgress() {}, slotEnd() {}, runDone() {}, stop() {},
    log(l) { stream.write(l.endsWith('\n') ? l : l + '\n'); },
  };
}

function plainView(slots: number, stream: NodeJS.WriteStream, everySeconds: number): ProgressView {
  const tally = new Tally();
  const current: Array<string | null> = new Array<string | null>(slots).fill(null);
  let timer: NodeJS.Timeout | null = null;
  const line = () => {
    const busy = current.filter((c) => c !== null).length;
    stream.write(`[${new Date().toISOString().slice(11, 19)}] ${tally.done}/${tally.total} done, ${tally.ok} succeeded, ` +
      `${tally.perMinute().toFixed(1)} runs/min, ETA ${tally.eta()}, ${busy} running\n`);
  };
  return {
    start(total, done, ok) {
      tally.start(total, done, ok);
      timer = setInterval(line, everySeconds * 1000);
      timer.unref();
    },
    slotStart(slot, config, cell) { current[slot] = configLabel(config, cell); },
    slotProgress() {},
    slotEnd(slot) { current[slot] = null; },
    runDone(success) { tally.add(success); },
    log(l) { stream.write(l.endsWith('\n') ? l : l + '\n'); },
    stop() {
      if (timer) { clearInterval(timer); timer = null; line(); }
    },
  };
}

/** How often the overall bar's runs/min and ETA are recomputed on a terminal, between finished runs. */
const TTY_REFRESH_MS = 1000;

function ttyView(slots: number, stream: NodeJS.WriteStream): ProgressView {
  const tally = new Tally();
  const multi = new cliProgress.MultiBar({
    stream,
    format: '{bar} {value}/{total} | {ok} ok | {rate} runs/min | ETA {etaText}',
    barsize: 30,
    hideCursor: true,
    clearOnComplete: false,
    gracefulExit: false, // the run command handles signals
    fps: 5,
    linewrap: false,
  }, cliProgress.Presets.shades_classic);
  let overall: cliProgress.SingleBar | null = null;
  let timer: NodeJS.Timeout | null = null;
  const lines: cliProgress.SingleBar[] = [];
  const payload = () => ({ ok: tally.ok, rate: tally.perMinute().toFixed(1), etaText: tally.eta() });
  return {
    start(total, done, ok) {
      tally.start(total, done, ok);
      overall = multi.create(total, done, payload());
      // The rate falls while a long run is going and the ETA moves with it: recompute on a timer too.
      timer = setInterval(() => overall?.update(tally.done, payload()), TTY_REFRESH_MS);
      timer.unref();
      for (let s = 0; s < slots; s++) {
        lines.push(multi.create(1, 0, { label: 'idle', loss: '' }, { format: `  w${s} {label} {loss}` }));
      }
    },
    slotStart(slot, config, cell) { lines[slot]?.update(0, { label: configLabel(config, cell), loss: '' }); },
    slotProgress(slot, iteration, relLoss) {
      lines[slot]?.update(0, { loss: `it ${iteration} relLoss ${relLoss.toExponential(2)}` });
    },
    slotEnd(slot) { lines[slot]?.update(0, { label: 'idle', loss: '' }); },
    runDone(success) {
      tally.add(success);
      overall?.update(tally.done, payload());
    },
    log(l) { multi.log(l.endsWith('\n') ? l : l + '\n'); },
    stop() {
      if (timer) { clearInterval(timer); timer = null; }
      overall?.update(tally.done, payload());
      multi.stop();
    },
  };
}
