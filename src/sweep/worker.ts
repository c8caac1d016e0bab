// The Piscina worker entry (compiled to dist/src/sweep/worker.js): trains one configuration with
// the shared core and returns its RunResult as plain JSON. Live loss goes to the coordinator on
// the task's MessagePort. A run that throws comes back as a result with status 'error', so the
// only rejections the pool sees are its own (abort, out of memory, a dead thread). The run stops
// itself at its time limit (keeping its partial result) or when the shared stop flag is raised.
import { executeRun } from '../run.js';
import { describeError, failureResult } from './pool.js';
import type { WorkerMessage, WorkerReply, WorkerTask } from './pool.js';

export default async function runTask(task: WorkerTask): Promise<WorkerReply> {
  const { config, port, stop } = task;
  const t0 = Date.now();
  const post = (msg: WorkerMessage) => port?.postMessage(msg);
  post({ type: 'start', time: t0 });
  const limitMs = task.softTimeoutSeconds === null ? Infinity : task.softTimeoutSeconds * 1000;
  let interrupted = false;
  const shouldStop = () => {
    if (Atomics.load(stop, 0) === 1) { interrupted = true; return true; }
    return Date.now() - t0 > limitMs;
  };
  try {
    if (Atomics.load(stop, 0) === 1) {
      return { result: failureResult(config, 'timeout', 'not started: the sweep is stopping', 0), interrupted: true };
    }
    const { result } = await executeRun(config, {
      onProgress: task.progressSeconds > 0 ? (iteration, relLoss) => post({ type: 'progress', iteration, relLoss }) : undefined,
      progressSeconds: task.progressSeconds > 0 ? task.progressSeconds : undefined,
      shouldStop,
    });
    return { result, interrupted };
  } catch (err) {
    return { result: failureResult(config, 'error', describeError(err), (Date.now() - t0) / 1000), interrupted };
  } finally {
    port?.close();
  }
}
