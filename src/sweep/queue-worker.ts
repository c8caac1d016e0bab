// A queue worker (`narrowsweep worker`): takes run jobs from the BullMQ queue and trains each in
// the same Piscina pool and worker entry as a local sweep (RunPool, worker.ts), so results are
// bit-identical to a local run's. The training runs in the pool's threads, never on this thread:
// BullMQ's event loop here stays free to renew the job locks (a CPU-bound processor on the main
// thread cannot, and its jobs would be declared stalled and run twice).
//
// Every payload is checked (queue-payload.ts) before it runs: a malformed or hostile one is failed
// at once (UnrecoverableError, no retries), with the reason on the job, and the worker goes on.
// A run interrupted by a shutdown goes back to the queue (moveToWait) for another worker.
import { hostname } from 'node:os';
import { UnrecoverableError, WaitingError, Worker } from 'bullmq';
import type { Job } from 'bullmq';
import { narrowsweepVersion } from './coordinator.js';
import { PoolError, RunPool } from './pool.js';
import { ConnectionWatch, JOB_NAME, printable, splitJobId, workerName } from './queue.js';
import type { QueueTarget } from './queue.js';
import { checkPayload, PAYLOAD_VERSION, PayloadError, provenance } from './queue-payload.js';
import type { JobReturn } from './queue-payload.js';

export interface QueueWorkerOptions {
  target: QueueTarget;
  /** Runs at a time (pool threads and BullMQ concurrency). */
  threads: number;
  /** Heap limit of each pool thread, MB (default: poolDefaults()). */
  memoryMb?: number;
  /**
   * Lock duration and stalled-check interval, seconds: a job whose worker stops renewing its lock
   * (killed, frozen, cut off) goes back to the queue after about 2 to 3 times this.
   */
  stallSeconds: number;
  log: (line: string) => void;
  /** One line per finished job (default true). */
  perJob?: boolean;
  workerFile?: string;
}

/** How a worker ended: asked to (stop), or its pool broke (then it takes no more jobs). */
export type WorkerEnd = 'stopped' | 'broken';

/** How often a run's live loss is posted to the job (BullMQ progress events), seconds. */
const PROGRESS_SECONDS = 2;
/** A job whose worker dies while running it is put back this many times, then failed. */
const MAX_STALLED = 2;

export class QueueWorker {
  private readonly opts: QueueWorkerOptions;
  private readonly pool: RunPool;
  private readonly watch: ConnectionWatch;
  private worker: Worker | null = null;
  private stopping: Promise<void> | null = null;
  private endWith: (end: WorkerEnd) => void = () => {};
  /** Resolves when the worker has stopped (asked to, or its pool broke). */
  readonly ended: Promise<WorkerEnd>;
  readonly name: string;
  done = 0;
  rejected = 0;

  constructor(opts: QueueWorkerOptions) {
    this.opts = opts;
    this.pool = new RunPool({
      threads: opts.threads,
      ...(opts.memoryMb !== undefined ? { memoryMb: opts.memoryMb } : {}),
      ...(opts.workerFile !== undefined ? { workerFile: opts.workerFile } : {}),
    });
    this.watch = new ConnectionWatch(opts.target, opts.log);
    this.name = workerName(hostname(), process.pid, opts.threads);
    this.ended = new Promise((resolve) => { this.endWith = resolve; });
  }

  /** Connects and starts taking jobs; resolves once the worker is listening. */
  async start(): Promise<void> {
    const { target, threads, stallSeconds } = this.opts;
    const worker = new Worker(target.name, (job, token) => this.process(job, token), {
      connection: this.watch.connect(),
      concurrency: threads,
      name: this.name,
      lockDuration: stallSeconds * 1000,
      stalledInterval: stallSeconds * 1000,
      maxStalledCount: MAX_STALLED,
      autorun: false,
    });
    this.worker = worker;
    worker.on('error', (err) => {
      // A job finished here whose completion Redis no longer takes: say what it means.
      const lost = /Missing (key|lock) for job (\S+?)\.? (moveToFinished|moveToFailed)/.exec(err.message);
      if (lost) {
        this.opts.log(`job ${lost[2]}: its result could not be stored (${lost[1] === 'key' ? 'the job is gone from Redis: restarted without persistence?' : 'its lock had expired and another worker took it'}); ` +
          'it runs again (the coordinator journals each run once)');
      } else {
        this.watch.error(err);
      }
    });
    worker.on('stalled', (jobId) => {
      this.opts.log(`job ${printable(jobId)} stalled (its worker stopped renewing the lock: killed or cut off?); it is back in the queue`);
    });
    void worker.run().catch((err: unknown) => this.watch.error(err));
    await worker.waitUntilReady();
  }

  private async process(job: Job, token: string | undefined): Promise<JobReturn> {
    const { log } = this.opts;
    const split = splitJobId(job.id);
    let payload;
    try {
      if (job.name !== JOB_NAME) throw new PayloadError(`job name ${JSON.stringify(job.name)} is not ${JSON.stringify(JOB_NAME)}`);
      if (split === null) throw new PayloadError(`job id ${JSON.stringify(job.id)} is not <sweep>.<run id>`);
      payload = checkPayload(job.data, split.runId);
    } catch (e) {
      if (!(e instanceof PayloadError)) throw e;
      this.rejected++;
      log(`rejected job ${printable(String(job.id))}: ${e.message}`);
      throw new UnrecoverableError(`rejected by ${this.name}: ${e.message}`);
    }
    let lastProgress = 0;
    let out;
    try {
      out = await this.pool.run(payload.config, {
        timeoutSeconds: payload.timeoutSeconds,
        progressSeconds: PROGRESS_SECONDS,
        onProgress: (iteration, relLoss) => {
          const now = Date.now();
          if (now - lastProgress < PROGRESS_SECONDS * 1000) return;
          lastProgress = now;
          job.updateProgress({ iteration, relLoss }).catch(() => {}); // live loss only: losing one is harmless
        },
      });
    } catch (err) {
      if (!(err instanceof PoolError)) throw err;
      log(`this worker's pool broke (${err.message}); the job goes back to the queue and the worker stops`);
      await this.requeue(job, token);
      void this.stop(0, 'broken');
      throw new WaitingError();
    }
    if (out.kind === 'interrupted') {
      await this.requeue(job, token);
      throw new WaitingError();
    }
    this.done++;
    if (this.opts.perJob !== false) {
      const r = out.result;
      log(`${r.status.padEnd(8)} ${job.id}  ${((out.finishedAt - out.startedAt) / 1000).toFixed(2)} s${r.relLoss !== null ? `  relLoss ${r.relLoss.toExponential(2)}` : ''}`);
    }
    return {
      v: PAYLOAD_VERSION,
      id: payload.id,
      config: payload.config,
      result: out.result,
      startedAt: new Date(out.startedAt).toISOString(),
      finishedAt: new Date(out.finishedAt).toISOString(),
      wallSeconds: (out.finishedAt - out.startedAt) / 1000,
      ...provenance(narrowsweepVersion()),
    };
  }

  /** Puts a job this worker holds back in the queue (waiting, with its priority) for another worker. */
  private async requeue(job: Job, token: string | undefined): Promise<void> {
    try {
      await job.moveToWait(token);
    } catch (err) {
      this.watch.error(err); // the lock is gone: stall detection puts it back instead
    }
  }

  /**
   * Takes no new jobs; running ones get `graceSeconds` to finish, then are stopped at their next
   * iteration and put back in the queue. Resolves when everything is closed.
   */
  stop(graceSeconds: number, end: WorkerEnd = 'stopped'): Promise<void> {
    this.stopping ??= (async () => {
      const timer = setTimeout(() => this.pool.stopAll(), graceSeconds * 1000);
      timer.unref();
      try {
        await this.worker?.close();
      } catch (err) {
        this.watch.error(err);
      }
      clearTimeout(timer);
      await this.pool.close();
      this.watch.close();
      this.endWith(end);
    })();
    return this.stopping;
  }

  /** Second Ctrl-C: running runs stop at their next iteration and go back to the queue. */
  stopNow(): void {
    this.pool.stopAll();
    void this.stop(0);
  }
}
