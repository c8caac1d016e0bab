// The coordinator of a sweep on a work queue (`narrowsweep run <spec> --queue redis://...`):
// the same start as a local sweep (openSweep: spec snapshot, resume plan, journal), then every
// configuration not in the journal becomes a BullMQ job, which `narrowsweep worker`s on any
// number of machines take. Results come back through BullMQ's completion events (the job's return
// value) and go into the same journal, in the same format, as a local run's; the tables are
// refreshed by the same table writer.
//
// Delivery is at least once, journaling exactly once:
// - A job's id is `<sweep key>.<run id>`: submitting the sweep again adds nothing twice.
// - BullMQ ignores an add whose id exists, also a finished job it kept. So a job is kept after it
//   finishes (its result waits in Redis), and the coordinator removes it only once its record is
//   in the journal; before adding, it asks each job's state and collects finished ones instead.
//   A coordinator killed mid-sweep and restarted thus finds the results it missed, and a job
//   lost from Redis (a restart without persistence) is simply added again.
// - A result is journaled only while its id has no record; a second delivery (an event and a
//   check of the queue both seeing it, or a job run twice after a stall) is counted and dropped.
// - A job that fails in the queue (its payload rejected by a worker, or its workers died on it
//   too often) is journaled as an `error` record, as a run whose worker died is locally;
//   --retry-failed runs it again. A job under one of our ids whose payload is not ours is removed
//   and ours is added again.
// The queue is checked against the journal like that at start, whenever the connection comes back,
// and after a while without results (so no lost event or job can stall the sweep).
import { Queue, QueueEvents } from 'bullmq';
import { DEFAULTS } from '../core/config.js';
import type { RunConfig } from '../core/types.js';
import { emptyCounts, narrowsweepVersion, openSweep } from './coordinator.js';
import type { SweepOutcome, TableWriter } from './coordinator.js';
import { iterateGrid } from './grid.js';
import type { IdTable } from './journal.js';
import { failureResult } from './pool.js';
import type { ProgressView } from './progress.js';
import { ConnectionWatch, JOB_NAME, jobIdOf, jobPriority, splitJobId, sweepKey } from './queue.js';
import type { QueueTarget } from './queue.js';
import { checkPayload, checkReturn, PAYLOAD_VERSION, PayloadError, provenance } from './queue-payload.js';
import type { JobPayload, JobReturn } from './queue-payload.js';
import type { GridIndex } from './snapshot.js';
import type { Spec } from './spec.js';
import type { GridEntry, JournalRecord } from './types.js';

export interface QueueSweepOptions<T = unknown> {
  spec: Spec;
  outDir: string;
  target: QueueTarget;
  retryFailed: boolean;
  /** Hard time limit per run in seconds; null = (config.seconds) * 2 + 30. Travels in the payload. */
  runTimeoutSeconds: number | null;
  /** Table refresh period during the run, seconds (0 = only at the end). */
  refreshSeconds: number;
  progress: ProgressView;
  /** Progress lines for running jobs (the first this many are shown). */
  slots: number;
  log: (line: string) => void;
  tables?: TableWriter<T> | false;
  /** Add the missing jobs (and collect finished ones), then return without waiting for the rest. */
  submitOnly?: boolean;
  /** Check the queue against the journal after this many seconds without a result (default 30). */
  idleSeconds?: number;
}

/** What the check of the queue against the journal found. */
export interface QueueCheck {
  /** Jobs added (they were not in the queue). */
  added: number;
  /** Jobs already waiting or running. */
  queued: number;
  /** Finished jobs whose results were collected (journaled) by the check. */
  collected: number;
}

/** Ids per getJobState round (the calls of one round travel pipelined). */
const BATCH = 500;

export class QueueCoordinator<T = unknown> {
  private readonly opts: QueueSweepOptions<T>;
  private readonly key: string;
  private stopping = false;
  private aborting = false;
  private wake: () => void = () => {};
  private watch: ConnectionWatch | null = null;
  private queue: Queue | null = null;
  private writer: ReturnType<typeof openSweep>['writer'] | null = null;
  private grid: GridIndex | null = null;
  private skip: IdTable | null = null;
  private pending = 0;
  private lastResult = Date.now();
  private checking: Promise<QueueCheck> | null = null;
  private checkAgain = false;
  private readonly slotOf = new Map<string, number>();
  private freeSlots: number[] = [];
  private outcome: SweepOutcome<T> | null = null;
  /** Queue operations started from event handlers (removals, failure handling): awaited before closing. */
  private readonly inflight = new Set<Promise<unknown>>();
  /** Results delivered for runs that already had a record (dropped). */
  duplicates = 0;

  constructor(opts: QueueSweepOptions<T>) {
    this.opts = opts;
    this.key = sweepKey(opts.spec);
  }

  /** The part of this sweep's job ids before the run id. */
  get sweepKey(): string {
    return this.key;
  }

  /** Nothing runs here: the runs are the workers'; stopping the coordinator drops none. */
  get running(): number {
    return 0;
  }

  /**
   * Stop collecting (Ctrl-C): the workers go on with the queued jobs, and their results wait in
   * Redis until the coordinator runs again. Nothing is in flight here, so there is no grace period.
   */
  stop(_graceSeconds: number): void {
    this.stopping = true;
    this.wake();
  }

  /** As stop(), without the tables. */
  abortNow(): Promise<void> {
    this.aborting = true;
    this.stop(0);
    return Promise.resolve();
  }

  private isPending(runId: string): boolean {
    return this.grid!.indexOf(runId) >= 0 && !this.skip!.has(runId);
  }

  private payloadOf(entry: GridEntry): JobPayload {
    const seconds = entry.config.seconds ?? DEFAULTS.seconds;
    return { v: PAYLOAD_VERSION, id: entry.id, config: entry.config, timeoutSeconds: this.opts.runTimeoutSeconds ?? seconds * 2 + 30 };
  }

  /** Journals a run of this sweep unless it has a record already; returns whether it did. */
  private accept(runId: string, r: Omit<JobReturn, 'v' | 'id'>): boolean {
    const grid = this.grid!;
    const index = grid.indexOf(runId);
    if (this.writer === null || index < 0) return false;
    if (this.skip!.has(runId)) { this.duplicates++; return false; }
    const C = grid.cells.length;
    const rec: JournalRecord = {
      id: runId, trial: Math.floor(index / C), cell: grid.cells[index % C]!, config: r.config, result: r.result,
      startedAt: r.startedAt, finishedAt: r.finishedAt, wallSeconds: r.wallSeconds, host: r.host, versions: r.versions,
    };
    this.writer.append(rec);
    this.skip!.set(runId, 0);
    const o = this.outcome!;
    o.finished[r.result.status]++;
    if (r.result.success) o.succeeded++;
    this.releaseSlot(runId);
    this.opts.progress.runDone(r.result.success);
    this.lastResult = Date.now();
    if (--this.pending === 0) this.wake();
    return true;
  }

  /** Runs `p` in the background: its error is reported, and closing waits for it (a little). */
  private track(p: Promise<unknown> | undefined): void {
    if (!p) return;
    const q = p.catch((err: unknown) => this.watch?.error(err)).finally(() => this.inflight.delete(q));
    this.inflight.add(q);
  }

  private removeJob(jobId: string): void {
    this.track(this.queue?.remove(jobId));
  }

  /** A finished job's return value (from its completion event or from the queue). */
  private completed(jobId: string, returnvalue: unknown): void {
    const s = splitJobId(jobId);
    if (s === null || s.key !== this.key || this.grid!.indexOf(s.runId) < 0) return; // another sweep's
    if (!this.isPending(s.runId)) {
      this.duplicates++;
      this.removeJob(jobId); // its record is in the journal: the job is no longer needed
      return;
    }
    let ret: JobReturn;
    try {
      ret = checkReturn(returnvalue, s.runId);
    } catch (e) {
      if (!(e instanceof PayloadError)) throw e;
      this.track(this.failed(jobId, `the worker returned a malformed result (${e.message})`));
      return;
    }
    if (this.accept(s.runId, ret)) this.removeJob(jobId);
  }

  /** A job that failed in the queue: an `error` record if the payload is ours, else it is replaced. */
  private async failed(jobId: string, reason: string): Promise<void> {
    const s = splitJobId(jobId);
    if (s === null || s.key !== this.key || this.grid!.indexOf(s.runId) < 0) return;
    if (!this.isPending(s.runId)) { this.removeJob(jobId); return; }
    const job = await this.queue!.getJob(jobId);
    if (!job || !this.isPending(s.runId)) return; // gone: the next check adds it again
    let config: RunConfig;
    try {
      config = checkPayload(job.data, s.runId).config;
    } catch (e) {
      if (!(e instanceof PayloadError)) throw e;
      this.opts.log(`queue: job ${jobId} holds a payload that is not this sweep's (${e.message}); it is removed and queued again`);
      this.removeJob(jobId);
      this.checkSoon();
      return;
    }
    const at = (t: number | undefined) => new Date(t ?? Date.now()).toISOString();
    const result = failureResult(config, 'error', `failed in the queue: ${reason}`, 0);
    const rec = {
      config, result, startedAt: at(job.processedOn), finishedAt: at(job.finishedOn), wallSeconds: 0,
      ...provenance(narrowsweepVersion()),
    };
    this.opts.log(`queue: job ${jobId} failed: ${reason}; recorded as an error (--retry-failed runs it again)`);
    if (this.accept(s.runId, rec)) this.removeJob(jobId);
  }

  private takeSlot(jobId: string): void {
    const s = splitJobId(jobId);
    if (s === null || s.key !== this.key || !this.isPending(s.runId) || this.slotOf.has(s.runId)) return;
    const slot = this.freeSlots.pop();
    if (slot === undefined) return;
    this.slotOf.set(s.runId, slot);
    const grid = this.grid!;
    const index = grid.indexOf(s.runId);
    const C = grid.cells.length;
    const cell = grid.cells[index % C]!;
    const seed = this.opts.spec.seeds[Math.floor(index / C)] ?? 0;
    // the label shows the cell's axis values and the seed (configLabel reads only the seed of the config)
    this.opts.progress.slotStart(slot, { method: cell.method, n: cell.n, d: cell.d, m: cell.m, seed } as RunConfig, cell);
  }

  private releaseSlot(runId: string): void {
    const slot = this.slotOf.get(runId);
    if (slot === undefined) return;
    this.slotOf.delete(runId);
    this.opts.progress.slotEnd(slot);
    this.freeSlots.push(slot);
  }

  private slotJob(jobId: string): string | null {
    const s = splitJobId(jobId);
    return s !== null && s.key === this.key ? s.runId : null;
  }

  /** Checks the queue against the journal soon (coalesced with a check in progress). */
  private checkSoon(): void {
    if (this.checking) { this.checkAgain = true; return; }
    void this.check().catch((err: unknown) => this.watch?.error(err));
  }

  /**
   * For every configuration without a record: a job finished in the queue is collected, a missing
   * one is added, a waiting or running one left alone. Then finished jobs whose record is in the
   * journal already are removed.
   */
  check(): Promise<QueueCheck> {
    if (this.checking) return this.checking;
    this.checking = this.doCheck().finally(() => {
      this.checking = null;
      if (this.checkAgain && !this.stopping) { this.checkAgain = false; this.checkSoon(); }
    });
    return this.checking;
  }

  private async doCheck(): Promise<QueueCheck> {
    const queue = this.queue!;
    const found: QueueCheck = { added: 0, queued: 0, collected: 0 };
    const batch: GridEntry[] = [];
    const flush = async () => {
      const ids = batch.map((e) => jobIdOf(this.key, e.id));
      const states = await Promise.all(ids.map((id) => queue.getJobState(id)));
      const add: Array<{ name: string; data: JobPayload; opts: { jobId: string; priority: number; removeOnComplete: false; removeOnFail: false } }> = [];
      for (let i = 0; i < batch.length; i++) {
        const e = batch[i]!, jobId = ids[i]!, state = states[i]!;
        if (!this.isPending(e.id)) continue; // collected meanwhile
        if (state === 'unknown') {
          add.push({ name: JOB_NAME, data: this.payloadOf(e), opts: { jobId, priority: jobPriority(e.index), removeOnComplete: false, removeOnFail: false } });
        } else if (state === 'completed' || state === 'failed') {
          const job = await queue.getJob(jobId);
          if (!job) continue;
          if (state === 'completed') this.completed(jobId, job.returnvalue);
          else await this.failed(jobId, job.failedReason);
          if (!this.isPending(e.id)) found.collected++;
        } else {
          found.queued++;
        }
      }
      if (add.length > 0) await queue.addBulk(add);
      found.added += add.length;
      batch.length = 0;
    };
    for (const e of iterateGrid(this.opts.spec)) {
      if (this.stopping) break;
      if (!this.isPending(e.id)) continue;
      batch.push(e);
      if (batch.length >= BATCH) await flush();
    }
    if (batch.length > 0 && !this.stopping) await flush();
    // Finished jobs left over (a coordinator stopped between journaling and removing them).
    if (!this.stopping) {
      for (const jobId of await queue.getRanges(['completed', 'failed'], 0, -1)) {
        const s = splitJobId(jobId);
        if (s !== null && s.key === this.key && this.skip!.has(s.runId)) this.removeJob(jobId);
      }
    }
    this.lastResult = Date.now();
    return found;
  }

  async run(): Promise<SweepOutcome<T>> {
    const { spec, outDir, log, progress, target } = this.opts;
    const writeTables = this.opts.tables || null;
    const opened = openSweep({ spec, outDir, retryFailed: this.opts.retryFailed, shard: null, log, index: 'always' });
    const { plan, rerun } = opened;
    this.grid = opened.index!;
    this.skip = plan.index.entries;
    this.writer = opened.writer;
    this.pending = plan.total - (plan.reused - rerun);
    const outcome: SweepOutcome<T> = {
      plan, finished: emptyCounts(), succeeded: 0, interrupted: false, aborted: false, dropped: 0, tables: null, tablesError: null,
    };
    this.outcome = outcome;
    this.freeSlots = Array.from({ length: this.opts.slots }, (_, i) => this.opts.slots - 1 - i);
    progress.start(plan.total, plan.total - this.pending, plan.reusedOk);

    let refreshing: Promise<void> | null = null;
    const refresh = (write: TableWriter<T>) => {
      if (refreshing) return;
      refreshing = write(opened.tablesGrid ?? null, 'refresh').then(() => {}, (err: unknown) => {
        log(`warning: refreshing the tables failed: ${(err as Error).message}`);
      }).finally(() => { refreshing = null; });
    };
    const timers: NodeJS.Timeout[] = [];
    if (writeTables !== null && this.opts.refreshSeconds > 0) timers.push(setInterval(() => refresh(writeTables), this.opts.refreshSeconds * 1000));

    const watch = new ConnectionWatch(target, log);
    this.watch = watch;
    let events: QueueEvents | null = null;
    try {
      const client = watch.connect();
      const queue = new Queue(target.name, { connection: client });
      this.queue = queue;
      queue.on('error', (err) => watch.error(err));
      // Events from just before the first check on: whatever finishes during it is seen twice at
      // worst (and journaled once). The stream ids are the server's clock.
      const [sec, usec] = (await client.time()).map(Number) as [number, number];
      events = new QueueEvents(target.name, { connection: watch.connect(), lastEventId: `${sec * 1000 + Math.floor(usec / 1000) - 1}-0` });
      events.on('error', (err) => watch.error(err));
      // An exception in an event handler would end the process: each one reports instead.
      const guard = (fn: () => void | Promise<void>) => {
        try {
          this.track(fn() ?? undefined);
        } catch (err) {
          watch.error(err);
        }
      };
      events.on('completed', ({ jobId, returnvalue }) => guard(() => this.completed(jobId, returnvalue)));
      events.on('failed', ({ jobId, failedReason }) => guard(() => this.failed(jobId, failedReason)));
      events.on('active', ({ jobId }) => guard(() => this.takeSlot(jobId)));
      events.on('progress', ({ jobId, data }) => {
        const runId = this.slotJob(jobId);
        const slot = runId === null ? undefined : this.slotOf.get(runId);
        const p = data as { iteration?: unknown; relLoss?: unknown };
        if (slot !== undefined && typeof p?.iteration === 'number') progress.slotProgress(slot, p.iteration, typeof p.relLoss === 'number' ? p.relLoss : NaN);
      });
      events.on('waiting', ({ jobId }) => { const r = this.slotJob(jobId); if (r !== null) this.releaseSlot(r); });
      events.on('stalled', ({ jobId }) => {
        const r = this.slotJob(jobId);
        if (r === null || !this.isPending(r)) return;
        this.releaseSlot(r);
        log(`queue: job ${jobId} stalled (its worker stopped renewing the lock: killed or cut off?); it is back in the queue`);
      });
      await events.waitUntilReady();
      watch.onBack(() => this.checkSoon());

      const first = await this.check();
      log(`queue ${target.name} at ${target.shown}: ${first.added} jobs enqueued, ${first.queued} already queued, ` +
        `${first.collected} finished results collected from the queue (sweep ${this.key})`);
      if (this.opts.submitOnly) {
        this.stopping = true;
      } else {
        const idleMs = (this.opts.idleSeconds ?? 30) * 1000;
        timers.push(setInterval(() => {
          if (!this.checking && Date.now() - this.lastResult > idleMs) this.checkSoon();
        }, Math.min(idleMs, 5000)));
        while (this.pending > 0 && !this.stopping) await new Promise<void>((resolve) => { this.wake = resolve; });
      }
    } finally {
      this.stopping = true;
      for (const t of timers) clearInterval(t);
      // Let the last removals reach Redis (leftovers are removed at the next start anyway), then
      // close; nothing else here is worth waiting for, and never for long on a dead server.
      const settle = (ms: number, ps: Array<Promise<unknown> | undefined>) =>
        Promise.race([Promise.allSettled(ps), new Promise((r) => setTimeout(r, ms).unref())]);
      if (this.checking) await settle(2000, [this.checking]);
      await settle(2000, [...this.inflight]);
      const closing = Promise.allSettled([events?.close(), this.queue?.close()]);
      await Promise.race([closing, new Promise((r) => setTimeout(r, 2000).unref())]);
      watch.close();
      this.queue = null;
      this.writer?.close();
      this.writer = null;
      progress.stop();
    }
    if (this.duplicates > 0) log(`queue: ${this.duplicates} results delivered again for runs already in the journal were dropped`);
    outcome.interrupted = this.pending > 0 && !this.opts.submitOnly;
    outcome.aborted = this.aborting;
    if (refreshing) await refreshing;
    if (writeTables !== null && !outcome.aborted) {
      try {
        outcome.tables = await writeTables(opened.tablesGrid ?? null, 'final');
      } catch (err) {
        outcome.tablesError = err; // the command reports it: never an exit 0 without tables
      }
    }
    return outcome;
  }
}
