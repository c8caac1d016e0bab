// The coordinator: reads the journal, skips every configuration already there, and runs the rest
// in grid order (trial-major, so a partial sweep is an "anytime" table) through the worker pool.
// Each finished run is appended to the journal at once; the tables are refreshed periodically
// by the table writer the command passes in (the sweep layer does not know how tables are built).
// The spec is written into the results folder first (spec.json): the tables are those of this
// spec, whatever else the journal holds (src/sweep/snapshot.ts).
//
// Memory stays small for 10^6 configurations: the grid is a lazy generator, at most
// 2 x threads runs are submitted at a time, the journal is indexed (id -> status) without
// parsing whole records, and the tables' id -> grid position index (GridIndex) holds typed
// arrays of tens of bytes per configuration plus one object per cell.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { DEFAULTS } from '../core/config.js';
import { CORE_SEMANTICS_VERSION } from '../core/version.js';
import type { RunStatus } from '../core/types.js';
import type { GridEntry, GridView, JournalRecord } from './types.js';
import type { Spec } from './spec.js';
import { cellCount, iterateGrid } from './grid.js';
import { JournalWriter, entryStatus, entrySuccess, readJournalIndex, removeRecords } from './journal.js';
import type { JournalIndex } from './journal.js';
import { PoolError, RunPool } from './pool.js';
import type { ProgressView } from './progress.js';
import { GridIndex, writeSpecSnapshot } from './snapshot.js';
import { inShard, shardText } from './shard.js';
import type { Shard } from './shard.js';

export const JOURNAL_FILE = 'runs.jsonl';
/** Records removed from the journal by --retry-failed (kept for the record). */
export const RETRIED_FILE = 'runs.retried.jsonl';
/** Statuses that --retry-failed runs again. `diverged` is a deterministic outcome, not a failure. */
export const RETRYABLE: ReadonlySet<RunStatus> = new Set<RunStatus>(['error', 'timeout', 'oom']);

/**
 * Writes the results folder's tables from its journal, counting the records of `grid` only (null:
 * every record); what it returns at the end of the run is SweepOutcome.tables. `when` says whether
 * this is a periodic refresh while runs go on or the write at the end (a report can show progress).
 * `run` passes one that calls the report layer's aggregate.
 */
export type TableWriter<T> = (grid: GridView | null, when: 'refresh' | 'final') => Promise<T>;

export interface SweepOptions<T = unknown> {
  spec: Spec;
  outDir: string;
  threads: number;
  /** Heap limit per worker, MB (default: poolDefaults()). */
  memoryMb?: number;
  retryFailed: boolean;
  /** Hard time limit per run in seconds; null = (config.seconds) * 2 + 30. */
  runTimeoutSeconds: number | null;
  /** Table refresh period during the run, seconds (0 = only at the end). */
  refreshSeconds: number;
  progress: ProgressView;
  /** Messages for the user (torn line repaired, counts, warnings). */
  log: (line: string) => void;
  workerFile?: string;
  /** Progress message cadence asked of the core, seconds. */
  progressSeconds?: number;
  /** Writes the tables (periodically and at the end); absent or false: no tables (the benchmark, tests). */
  tables?: TableWriter<T> | false;
  /** Run only this shard of the grid (src/sweep/shard.ts); the tables still cover the whole spec. */
  shard?: Shard | null;
}

/** What the journal and the grid have in common, before anything runs. */
export interface ResumePlan {
  /** Configurations to account for: the whole grid, or this shard's share of it. */
  total: number;
  /** Configurations of the whole grid (= total without a shard). */
  gridTotal: number;
  /** Grid configurations with a record that is kept (skipped). */
  reused: number;
  /** ... of which succeeded. */
  reusedOk: number;
  /** Failed records (error/timeout/oom) in the grid: rerun with retryFailed, else kept. */
  failed: string[];
  /** Grid configurations without a record. */
  fresh: number;
  /** Journal records whose id is not in the grid any more (kept, not deleted). */
  orphaned: number;
  tornLine: string | null;
  index: JournalIndex;
}

export interface SweepOutcome<T = unknown> {
  plan: ResumePlan;
  /** Runs finished (and journaled) in this session, by status. */
  finished: Record<RunStatus, number>;
  succeeded: number;
  /** Stopped by stop() or abortNow() before the grid was done. */
  interrupted: boolean;
  /** Stopped at once by abortNow() (second Ctrl-C): no tables were written. */
  aborted: boolean;
  /** In-flight runs dropped unrecorded, at the end of the grace period or by abortNow() (they will rerun on resume). */
  dropped: number;
  /** What the table writer returned at the end (null without one, or if it failed). */
  tables: T | null;
  /** Why writing the tables at the end failed (null when they were written, or not asked for). */
  tablesError: unknown;
}

/**
 * Reads the journal (or takes its index, read already) and matches it against the grid (one lazy
 * pass over the grid). `grid`, when given, is filled with the grid's ids on the way (for the tables).
 */
export function planResume(spec: Spec, journalFile: string, grid?: GridIndex, shard?: Shard | null, journalIndex?: JournalIndex): ResumePlan {
  const index = journalIndex ?? readJournalIndex(journalFile);
  const plan: ResumePlan = {
    total: 0, gridTotal: 0, reused: 0, reusedOk: 0, failed: [], fresh: 0, orphaned: 0, tornLine: index.tornLine, index,
  };
  let matched = 0;
  const cells = shard ? cellCount(spec) : 1;
  for (const entry of iterateGrid(spec)) {
    plan.gridTotal++;
    grid?.add(entry);
    if (!inShard(entry.index, cells, shard)) {
      // another shard's configuration: in the spec (not an orphan) but not run here
      if (index.entries.get(entry.id) !== undefined) matched++;
      continue;
    }
    plan.total++;
    const code = index.entries.get(entry.id);
    if (code === undefined) { plan.fresh++; continue; }
    matched++;
    if (RETRYABLE.has(entryStatus(code))) plan.failed.push(entry.id);
    plan.reused++;
    if (entrySuccess(code)) plan.reusedOk++;
  }
  plan.orphaned = index.entries.size - matched;
  return plan;
}

/** What a sweep starts from: the plan, the journal open for appending, the grid index. */
export interface OpenedSweep {
  plan: ResumePlan;
  /** Failed records taken out of the journal for --retry-failed (they run again). */
  rerun: number;
  /** The grid's ids and cells (filled by planResume), when asked for. */
  index: GridIndex | undefined;
  /** What the tables count: the index when the spec was saved as spec.json, else undefined (every record). */
  tablesGrid: GridIndex | undefined;
  writer: JournalWriter;
}

/**
 * The start of every sweep (local pool or queue): saves the spec, matches the journal against the
 * grid, takes out the failed records to retry, says what will run, and opens the journal.
 * `index`: build the grid index always, only for the tables (when the spec was saved), or never.
 */
export function openSweep(o: {
  spec: Spec; outDir: string; retryFailed: boolean; shard: Shard | null; log: (line: string) => void;
  index: 'always' | 'for-tables' | 'never';
}): OpenedSweep {
  const { spec, outDir, log, shard } = o;
  const journalFile = join(outDir, JOURNAL_FILE);
  mkdirSync(outDir, { recursive: true });
  // A damaged journal is refused (naming its lines) before anything is written.
  const journalIndex = readJournalIndex(journalFile);
  // Before any run: a crash later leaves a folder whose tables are already this spec's.
  // Without a saved spec a later `narrowsweep aggregate` counts every record, so the tables of
  // this run do too: the two always agree.
  const saved = writeSpecSnapshot(outDir, spec);
  if (!saved) log('warning: the spec could not be saved as spec.json; the tables count every journal record');
  const index = o.index === 'always' || (o.index === 'for-tables' && saved) ? new GridIndex() : undefined;
  const plan = planResume(spec, journalFile, index, shard, journalIndex);
  if (plan.tornLine !== null) {
    log(`journal: the last line was torn by a crash (${plan.tornLine.length} bytes); it is dropped and that run will be redone`);
  }
  const skip = plan.index.entries;
  let rerun = 0;
  if (o.retryFailed && plan.failed.length > 0) {
    const ids = new Set(plan.failed);
    rerun = removeRecords(journalFile, ids, join(outDir, RETRIED_FILE));
    for (const id of ids) skip.delete(id);
  }
  const failedKept = o.retryFailed ? 0 : plan.failed.length;
  const share = shard ? ` (shard ${shardText(shard)} of ${plan.gridTotal})` : '';
  log(`${plan.total} configurations${share}: ${plan.reused - rerun} reused from the journal, ${plan.fresh} new` +
    (rerun > 0 ? `, ${rerun} failed to retry` : '') +
    (failedKept > 0 ? ` (${failedKept} failed records kept; --retry-failed reruns them)` : '') +
    (plan.orphaned > 0 ? `; ${plan.orphaned} journal records are not in this spec any more (kept, left out of the tables)` : ''));

  const opened = JournalWriter.open(journalFile);
  if (opened.repairedTornLine !== null && plan.tornLine === null) {
    log('journal: a torn last line was cut away');
  }
  return { plan, rerun, index, tablesGrid: saved ? index : undefined, writer: opened.writer };
}

let packageVersion: string | null = null;
/** This package's version (package.json), for the journal records. */
export function narrowsweepVersion(): string {
  if (packageVersion !== null) return packageVersion;
  packageVersion = 'unknown';
  let dir = fileURLToPath(new URL('.', import.meta.url));
  for (let i = 0; i < 5; i++) {
    const f = join(dir, 'package.json');
    if (existsSync(f)) {
      const pkg = JSON.parse(readFileSync(f, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'narrowsweep' && pkg.version) { packageVersion = pkg.version; break; }
    }
    dir = join(dir, '..');
  }
  return packageVersion;
}

export function emptyCounts(): Record<RunStatus, number> {
  return { ok: 0, diverged: 0, timeout: 0, error: 0, oom: 0 };
}

export class Coordinator<T = unknown> {
  private readonly opts: SweepOptions<T>;
  private stopping = false;
  private aborting: Promise<void> | null = null;
  private inflightRuns = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly shutdown = new AbortController();
  private graceTimer: NodeJS.Timeout | null = null;
  private writer: JournalWriter | null = null;
  private pool: RunPool | null = null;

  constructor(opts: SweepOptions<T>) {
    this.opts = opts;
  }

  get journalFile(): string {
    return join(this.opts.outDir, JOURNAL_FILE);
  }

  /**
   * Stop scheduling; in-flight runs get `graceSeconds` to finish, then are asked to stop at their
   * next iteration and dropped unrecorded (they rerun on resume). A run that does not return
   * within 5 s more (stuck in one long native call) has its thread terminated.
   */
  stop(graceSeconds: number): void {
    if (this.stopping) return;
    this.stopping = true;
    this.graceTimer = setTimeout(() => {
      this.pool?.stopAll();
      this.graceTimer = setTimeout(() => this.shutdown.abort(new Error('runs did not stop')), 5000);
      this.graceTimer.unref();
    }, graceSeconds * 1000);
    this.graceTimer.unref();
  }

  /** Runs in flight now. */
  get running(): number {
    return this.inflightRuns;
  }

  /** Resolves once no run is in flight. */
  private whenIdle(): Promise<void> {
    if (this.inflightRuns === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Immediate abort (second Ctrl-C): no grace period and no tables. Running runs are asked to stop
   * at their next iteration and dropped; after 2 s their threads are terminated. run() then
   * returns (aborted, with the dropped count) once the journal is flushed and closed. Every record
   * is whole on disk (one write per line), so the journal stays valid at any point.
   */
  abortNow(): Promise<void> {
    this.aborting ??= this.doAbort();
    return this.aborting;
  }

  private async doAbort(): Promise<void> {
    this.stopping = true;
    if (this.graceTimer) { clearTimeout(this.graceTimer); this.graceTimer = null; }
    // Let the runs return at their next iteration rather than killing threads: a thread killed
    // in the middle of a native call can take the whole process down (abort, not exit code).
    const pool = this.pool;
    if (!pool) return;
    pool.stopAll();
    // Not pool.close() here: Piscina's close can settle while a task still runs and then
    // terminates its thread. run() closes the pool once every run has returned.
    const idle = await Promise.race([this.whenIdle().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref())]);
    if (!idle) {
      this.shutdown.abort(new Error('aborted'));
      await Promise.race([pool.destroy(), new Promise((r) => setTimeout(r, 1000).unref())]);
    }
  }

  async run(): Promise<SweepOutcome<T>> {
    const { spec, outDir, log, progress } = this.opts;
    const writeTables = this.opts.tables || null;
    const shard = this.opts.shard ?? null;
    const opened = openSweep({ spec, outDir, retryFailed: this.opts.retryFailed, shard, log, index: writeTables !== null ? 'for-tables' : 'never' });
    const { plan, rerun } = opened;
    const grid = opened.tablesGrid;
    const skip = plan.index.entries;
    this.writer = opened.writer;

    const pool = new RunPool({
      threads: this.opts.threads,
      ...(this.opts.memoryMb !== undefined ? { memoryMb: this.opts.memoryMb } : {}),
      ...(this.opts.workerFile !== undefined ? { workerFile: this.opts.workerFile } : {}),
    });
    this.pool = pool;
    const outcome: SweepOutcome<T> = {
      plan, finished: emptyCounts(), succeeded: 0, interrupted: false, aborted: false, dropped: 0, tables: null, tablesError: null,
    };
    const toRun = plan.total - (plan.reused - rerun);
    progress.start(plan.total, plan.total - toRun, plan.reusedOk);

    // Periodic table refresh; never two at once.
    let refreshing: Promise<void> | null = null;
    const refresh = (write: TableWriter<T>) => {
      if (refreshing) return;
      refreshing = write(grid ?? null, 'refresh').then(() => {}, (err: unknown) => {
        log(`warning: refreshing the tables failed: ${(err as Error).message}`);
      }).finally(() => { refreshing = null; });
    };
    const refreshTimer = writeTables !== null && this.opts.refreshSeconds > 0
      ? setInterval(() => refresh(writeTables), this.opts.refreshSeconds * 1000) : null;
    refreshTimer?.unref();

    const host = hostname();
    const versions = { narrowsweep: narrowsweepVersion(), node: process.version, core: CORE_SEMANTICS_VERSION };
    const freeSlots = Array.from({ length: pool.threads }, (_, i) => pool.threads - 1 - i);
    let fatal: unknown = null;

    let notRun = false; // some configuration was left out by a stop
    const runOne = async (entry: GridEntry): Promise<void> => {
      if (this.stopping) { notRun = true; return; }
      const slot = freeSlots.pop() ?? 0;
      progress.slotStart(slot, entry.config, entry.cell);
      this.inflightRuns++;
      try {
        const timeoutSeconds = this.opts.runTimeoutSeconds ?? (entry.config.seconds ?? DEFAULTS.seconds) * 2 + 30;
        const out = await pool.run(entry.config, {
          timeoutSeconds,
          signal: this.shutdown.signal,
          progressSeconds: this.opts.progressSeconds ?? 1,
          onProgress: (it, rel) => progress.slotProgress(slot, it, rel),
        });
        if (out.kind === 'interrupted') { outcome.dropped++; notRun = true; return; }
        const rec: JournalRecord = {
          id: entry.id,
          trial: entry.trial,
          cell: entry.cell,
          config: entry.config,
          result: out.result,
          startedAt: new Date(out.startedAt).toISOString(),
          finishedAt: new Date(out.finishedAt).toISOString(),
          wallSeconds: (out.finishedAt - out.startedAt) / 1000,
          host,
          versions,
        };
        if (this.writer === null) { outcome.dropped++; notRun = true; return; } // the journal is closed
        try {
          this.writer.append(rec); // also after abortNow(): a run that finished is kept
        } catch (err) {
          // The journal cannot take it (a full disk): stop the sweep; the journal keeps whole records only.
          if (fatal === null) fatal = err;
          this.stopping = true;
          this.pool?.stopAll();
          outcome.dropped++;
          notRun = true;
          return;
        }
        outcome.finished[out.result.status]++;
        if (out.result.success) outcome.succeeded++;
        progress.runDone(out.result.success);
      } catch (err) {
        if (err instanceof PoolError) {
          if (fatal === null) fatal = err;
          this.stopping = true;
          return;
        }
        throw err;
      } finally {
        if (--this.inflightRuns === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
        progress.slotEnd(slot);
        freeSlots.push(slot);
      }
    };

    const limit = pLimit(pool.threads);
    const inflight = new Set<Promise<void>>();
    const window = 2 * pool.threads;
    try {
      if (toRun > 0) {
        const cells = shard ? cellCount(spec) : 1;
        for (const entry of iterateGrid(spec)) {
          if (!inShard(entry.index, cells, shard)) continue;
          if (skip.has(entry.id)) continue;
          if (this.stopping) { notRun = true; break; }
          const p: Promise<void> = limit(runOne, entry).finally(() => inflight.delete(p));
          inflight.add(p);
          if (inflight.size >= window) await Promise.race(inflight);
        }
      }
      await Promise.all(inflight);
    } finally {
      if (this.graceTimer) clearTimeout(this.graceTimer);
      if (refreshTimer) clearInterval(refreshTimer);
      try {
        this.writer?.close();
      } catch (err) {
        if (fatal === null) fatal = err;
      }
      this.writer = null;
      progress.stop();
      await (this.shutdown.signal.aborted ? pool.destroy() : pool.close());
      this.pool = null;
    }
    if (fatal !== null) throw fatal;
    outcome.interrupted = notRun;
    outcome.aborted = this.aborting !== null;
    if (refreshing) await refreshing;
    if (writeTables !== null && !outcome.aborted) {
      try {
        outcome.tables = await writeTables(grid ?? null, 'final');
      } catch (err) {
        outcome.tablesError = err; // the command reports it: never an exit 0 without tables
      }
    }
    return outcome;
  }
}

