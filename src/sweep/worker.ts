// The Piscina worker entry (compiled to dist/src/sweep/worker.js): trains one configuration with
// the shared core and returns its RunResult as plain JSON. Live loss goes to the coordinator on
// the task's MessagePort. A run that throws comes back as a result with status 'error', so the
// only rejections the pool sees are its own (abort, out of memory, a dead thread).
import { executeRun } from '../run.js';
import type { RunResult } from '../core/types.js';
import { describeError, failureResult } from './pool.js';
import type { WorkerMessage, WorkerTask } from './pool.js';

export default async function runTask(task: WorkerTask): Promise<RunResult> {
  const { config, port } = task;
  const t0 = Date.now();
  const post = (msg: WorkerMessage) => port?.postMessage(msg);
  post({ type: 'start', time: t0 });
  const limitMs = task.softTimeoutSeconds === null ? Infinity : task.softTimeoutSeconds * 1000;
  try {
    const { result } = await executeRun(config, {
      onProgress: task.progressSeconds > 0 ? (iteration, relLoss) => post({ type: 'progress', iteration, relLoss }) : undefined,
      progressSeconds: task.progressSeconds > 0 ? task.progressSeconds : undefined,
      shouldStop: limitMs === Infinity ? undefined : () => Date.now() - t0 > limitMs,
    });
    return result;
  } catch (err) {
    return failureResult(config, 'error', describeError(err), (Date.now() - t0) / 1000);
  } finally {
    port?.close();
  }
}
