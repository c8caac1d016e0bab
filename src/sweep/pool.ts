// The worker pool: Piscina threads that each train one configuration at a time.
// Failures come back as values with a kind, never as lost stack traces:
//   the run's own time limit (AbortSignal)      -> status 'timeout'
//   the worker's heap limit (resourceLimits)    -> status 'oom'
//   the run threw (caught inside the worker)    -> status 'error' with the message
//   NaN/Inf in training (decided by the core)   -> status 'diverged'
// Piscina replaces a worker that died, so the sweep goes on.
import { availableParallelism, totalmem } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { resolveConfig } from '../core/config.js';
import type { ResolvedConfig, RunConfig, RunResult, RunStatus } from '../core/types.js';

/** What the coordinator hands a worker (structured-cloned; `port` is transferred). */
export interface WorkerTask {
  config: RunConfig;
  /** Where the worker reports start and live loss; null when nobody listens. */
  port: MessagePort | null;
  /** How often the core reports progress, in seconds. */
  progressSeconds: number;
  /** The worker asks the core to stop (status timeout) after this many seconds; null = never. */
  softTimeoutSeconds: number | null;
  /** Shared stop flag (Int32Array over a SharedArrayBuffer): when [0] is 1 the run stops at its
   * next iteration and comes back marked interrupted. Stopping this way never terminates a thread
   * (a thread terminated in the middle of a native call can abort the whole process). */
  stop: Int32Array;
}

/** What a worker returns. */
export interface WorkerReply {
  result: RunResult;
  /** The run was stopped by the shared stop flag (shutdown), not by its own limits. */
  interrupted: boolean;
}

/** Messages a worker posts on the task's port. */
export type WorkerMessage =
  | { type: 'start'; time: number }
  | { type: 'progress'; iteration: number; relLoss: number };

export interface PoolOptions {
  /** Worker threads (default: the available cores). */
  threads?: number;
  /** Heap limit of each worker in MB (V8 old generation). */
  memoryMb?: number;
  /** Compiled worker entry (default: worker.js next to this file). */
  workerFile?: string | URL;
}

/** The defaults in one place. */
export function poolDefaults(): { threads: number; memoryMb: number } {
  const threads = availableParallelism();
  // Half the machine's memory shared among the workers, between 256 MB and 4 GB each.
  const memoryMb = Math.max(256, Math.min(4096, Math.floor(totalmem() / 2 / threads / (1 << 20))));
  return { threads, memoryMb };
}

export interface RunCallbacks {
  /** Hard time limit of this run in seconds (the worker is terminated after it). */
  timeoutSeconds: number;
  /** Terminates the run's thread without a record (last-resort shutdown); the outcome is then
   * `interrupted`. Prefer `stopAll()`, which lets the run return. */
  signal?: AbortSignal;
  onStart?: (time: number) => void;
  onProgress?: (iteration: number, relLoss: number) => void;
  /** Progress cadence asked of the core (seconds); 0 disables progress messages. */
  progressSeconds?: number;
}

export type RunOutcome =
  | { kind: 'finished'; result: RunResult; startedAt: number; finishedAt: number }
  | { kind: 'interrupted' };

/** The pool itself broke (the worker file failed to load, say): the sweep must stop, not record. */
export class PoolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PoolError';
  }
}

export class RunPool {
  private readonly piscina: Piscina<WorkerTask, WorkerReply>;
  private readonly stopFlag = new Int32Array(new SharedArrayBuffer(4));
  readonly threads: number;
  readonly memoryMb: number;

  constructor(options: PoolOptions = {}) {
    const def = poolDefaults();
    const threads = options.threads ?? def.threads;
    const memoryMb = options.memoryMb ?? def.memoryMb;
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads: expected a positive integer, got ${threads}`);
    if (!Number.isFinite(memoryMb) || memoryMb < 8) throw new RangeError(`memoryMb: expected a number >= 8, got ${memoryMb}`);
    this.threads = threads;
    this.memoryMb = memoryMb;
    const file = options.workerFile ?? new URL('./worker.js', import.meta.url);
    this.piscina = new Piscina<WorkerTask, WorkerReply>({
      filename: file instanceof URL ? file.href : file,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
      resourceLimits: { maxOldGenerationSizeMb: memoryMb },
    });
    // A worker that dies while idle is replaced by Piscina; nothing to record.
    this.piscina.on('error', () => {});
  }

  /** Runs one configuration; resolves with its result (every failure kind included). */
  async run(config: RunConfig, cb: RunCallbacks): Promise<RunOutcome> {
    const { port1, port2 } = new MessageChannel();
    let startedAt: number | null = null;
    port1.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'start') {
        startedAt = msg.time;
        cb.onStart?.(msg.time);
      } else if (msg.type === 'progress') cb.onProgress?.(msg.iteration, msg.relLoss);
    });
    port1.unref();
    const limit = cb.timeoutSeconds;
    // The core stops itself at the limit (keeping its partial result); the hard abort is for a
    // run stuck inside one long iteration.
    const hardMs = Math.ceil((limit + Math.min(10, Math.max(1, limit / 10))) * 1000);
    const timer = timeoutSignal(hardMs);
    const timeout = timer.signal;
    const signal = cb.signal ? AbortSignal.any([timeout, cb.signal]) : timeout;
    const submitted = Date.now();
    const task: WorkerTask = {
      config,
      port: port2,
      progressSeconds: cb.progressSeconds ?? 1,
      softTimeoutSeconds: limit,
      stop: this.stopFlag,
    };
    try {
      const reply = await this.piscina.run(task, { transferList: [port2], signal });
      if (reply.interrupted) return { kind: 'interrupted' };
      return { kind: 'finished', result: reply.result, startedAt: startedAt ?? submitted, finishedAt: Date.now() };
    } catch (err) {
      const finishedAt = Date.now();
      const e = err as { name?: string; code?: string; message?: string };
      // Once the sweep is shutting down (stopAll, or the shutdown signal), a run that fails -- its
      // thread terminated, say -- was cut short by the shutdown: dropped, not a failure of its own.
      if (cb.signal?.aborted || Atomics.load(this.stopFlag, 0) === 1) return { kind: 'interrupted' };
      if (e?.name === 'AbortError') {
        if (cb.signal?.aborted) return { kind: 'interrupted' };
        return {
          kind: 'finished',
          result: failureResult(config, 'timeout', `exceeded the run time limit of ${limit} s`, (finishedAt - (startedAt ?? submitted)) / 1000),
          startedAt: startedAt ?? submitted, finishedAt,
        };
      }
      if (e?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        return {
          kind: 'finished',
          result: failureResult(config, 'oom', `worker ran out of memory (heap limit ${this.memoryMb} MB)`, (finishedAt - (startedAt ?? submitted)) / 1000),
          startedAt: startedAt ?? submitted, finishedAt,
        };
      }
      // Messages on our port and Piscina's reply travel on different channels: give the start
      // message a moment to arrive before deciding whether the run ever began.
      if (startedAt === null) await new Promise((r) => setTimeout(r, 20));
      if (startedAt === null) {
        throw new PoolError(`a worker failed before starting a run: ${e?.message ?? String(err)}`);
      }
      return {
        kind: 'finished',
        result: failureResult(config, 'error', `worker died: ${e?.message ?? String(err)}`, (finishedAt - startedAt) / 1000),
        startedAt, finishedAt,
      };
    } finally {
      timer.cancel();
      port1.close();
    }
  }

  /** Asks every running (and later) run to stop at its next iteration; they come back interrupted. */
  stopAll(): void {
    Atomics.store(this.stopFlag, 0, 1);
  }

  /** Waits for running tasks, then stops the threads. */
  async close(): Promise<void> {
    await this.piscina.close();
  }

  /** Terminates every thread at once (running tasks are lost). */
  async destroy(): Promise<void> {
    await this.piscina.destroy();
  }
}

/** The longest delay one Node.js timer holds (2^31 - 1 ms); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * AbortSignal.timeout for any delay, with a cancel for when the run is over: a limit longer than
 * one timer holds (24.8 days, reached by a long runTimeout or by the default 2 x budget.seconds + 30)
 * is made of several timers in a row.
 */
export function timeoutSignal(ms: number): { signal: AbortSignal; cancel: () => void } {
  const ctl = new AbortController();
  const due = Date.now() + ms;
  let timer: NodeJS.Timeout | null = null;
  const arm = () => {
    const left = due - Date.now();
    if (left <= 0) { ctl.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')); return; }
    timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    timer.unref();
  };
  arm();
  return { signal: ctl.signal, cancel: () => { if (timer !== null) clearTimeout(timer); } };
}

/**
 * The RunResult of a run that did not return one itself. Every field the core would fill from
 * the config (budget, epsilon, resolved settings) is filled the same way, the rest is null.
 */
export function failureResult(config: RunConfig, status: RunStatus, message: string, seconds: number): RunResult {
  let resolved: ResolvedConfig;
  try {
    resolved = resolveConfig(config);
  } catch {
    resolved = config as unknown as ResolvedConfig; // the error message says why
  }
  const engine = resolved.engine === 'auto' || resolved.engine === undefined ? 'ts' : resolved.engine;
  return {
    status,
    message,
    success: false,
    epsilon: resolved.epsilon,
    relLoss: null,
    bestRelLoss: null,
    loss: null,
    iterations: 0,
    iterationBudget: resolved.iterations,
    secondsBudget: resolved.seconds,
    seconds,
    milestones: [],
    lrUsed: null,
    lambdaMax: null,
    radiusUsed: null,
    sigmaMinJStart: null,
    sigmaMinJEnd: null,
    distW0: null,
    constraintActive: null,
    kktResidual: null,
    gradNorm: null,
    testLoss: null,
    testRelLoss: null,
    testAccuracy: null,
    engine,
    engineDetail: 'none (the run did not return a result)',
    dtype: resolved.dtype,
    resolved,
    curve: [],
    trace: [],
  };
}

/** "Name: message (at the top stack frame)", for an error thrown by a run. */
export function describeError(err: unknown): string {
  const e = err as { name?: string; message?: string; stack?: string };
  const name = e?.name ?? 'Error';
  const msg = e?.message ?? String(err);
  const frame = e?.stack?.split('\n').find((l) => l.trim().startsWith('at '))?.trim();
  return frame ? `${name}: ${msg} (${frame})` : `${name}: ${msg}`;
}
