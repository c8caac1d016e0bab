// narrowsweep worker --queue redis://...: takes run jobs of any sweep from the queue and trains
// them with a local pool, until Ctrl-C.
import { parseArgs } from 'node:util';
import { poolDefaults } from '../sweep/pool.js';
import { DEFAULT_QUEUE_NAME, parseQueueTarget, probe, QueueConnectError, QueueInputError } from '../sweep/queue.js';
import type { QueueTarget } from '../sweep/queue.js';
import { QueueWorker } from '../sweep/queue-worker.js';

const DEFAULT_GRACE = 60, DEFAULT_STALL = 30;

const USAGE = `usage: narrowsweep worker --queue redis://[:password@]host[:port][/db] [options]

Takes the run jobs of every sweep submitted to the queue (\`narrowsweep run <spec> --queue ...\`)
and trains them, each in a thread of a local pool, until Ctrl-C. Start one per machine; any
number of machines may serve one queue.

  --queue URL          the Redis server (rediss:// for TLS); a password may also come from
                       NARROWSWEEP_REDIS_PASSWORD
  --queue-name NAME    the queue (default ${DEFAULT_QUEUE_NAME}, the one \`run --queue\` uses by default)
  --workers N          runs at a time (default: the available cores, ${poolDefaults().threads} here)
  --worker-memory MB   heap limit of each thread (default ${poolDefaults().memoryMb})
  --grace S            on Ctrl-C / SIGTERM, seconds that running jobs get to finish (default ${DEFAULT_GRACE});
                       unfinished ones go back to the queue
  --stall-seconds S    job lock time: a job whose worker dies goes back to the queue after 2 to 3 x S
                       (default ${DEFAULT_STALL})
  --quiet              no line per finished job

Ctrl-C once: take no new jobs, let the running ones finish (within --grace), exit. Twice: put the
running jobs back in the queue at once and exit.`;

class UsageError extends Error {}

function numberFlag(name: string, v: string | undefined, opts: { integer?: boolean; min: number }): number | null {
  if (v === undefined) return null;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x < opts.min || (opts.integer && !Number.isInteger(x))) {
    throw new UsageError(`--${name}: expected ${opts.integer ? 'an integer' : 'a number'} >= ${opts.min}, got ${JSON.stringify(v)}`);
  }
  return x;
}

export async function main(argv: string[]): Promise<number> {
  let target: QueueTarget;
  let threads: number, memoryMb: number | null, grace: number, stall: number, quiet: boolean;
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv, strict: true, allowPositionals: false,
        options: {
          queue: { type: 'string' }, 'queue-name': { type: 'string' }, workers: { type: 'string' },
          'worker-memory': { type: 'string' }, grace: { type: 'string' }, 'stall-seconds': { type: 'string' },
          quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
        },
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const v = parsed.values;
    if (v.help) { console.log(USAGE); return 0; }
    if (v.queue === undefined) throw new UsageError('--queue: required (the Redis server, e.g. redis://127.0.0.1:6379)');
    target = parseQueueTarget(v.queue, v['queue-name'] ?? DEFAULT_QUEUE_NAME);
    threads = numberFlag('workers', v.workers, { integer: true, min: 1 }) ?? poolDefaults().threads;
    memoryMb = numberFlag('worker-memory', v['worker-memory'], { min: 8 });
    grace = numberFlag('grace', v.grace, { min: 0 }) ?? DEFAULT_GRACE;
    stall = numberFlag('stall-seconds', v['stall-seconds'], { min: 1 }) ?? DEFAULT_STALL;
    quiet = v.quiet === true;
  } catch (e) {
    if (e instanceof UsageError) { console.error(`narrowsweep worker: ${e.message}\n\n${USAGE}`); return 2; }
    if (e instanceof QueueInputError) { console.error(`narrowsweep worker: ${e.message}`); return 2; }
    throw e;
  }
  try {
    const info = await probe(target);
    if (info.warning) console.error(`narrowsweep worker: ${info.warning}`);
  } catch (e) {
    if (e instanceof QueueConnectError) { console.error(`narrowsweep worker: ${e.message}`); return 2; }
    throw e;
  }

  const stamp = () => new Date().toISOString().slice(11, 19);
  const log = (line: string) => console.log(`[${stamp()}] ${line}`);
  const worker = new QueueWorker({
    target, threads, stallSeconds: stall, log, perJob: !quiet, ...(memoryMb !== null ? { memoryMb } : {}),
  });
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      log(`${sig}: taking no new jobs; running ones get ${grace} s to finish (${sig === 'SIGINT' ? 'Ctrl-C' : sig} again: put them back in the queue now)`);
      void worker.stop(grace);
    } else if (signals === 2) {
      log(`${sig}: stopping the running jobs; they go back to the queue`);
      worker.stopNow();
      setTimeout(() => process.exit(130), 10_000).unref();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await worker.start();
    log(`worker ${worker.name}: ${threads} thread${threads === 1 ? '' : 's'} on queue ${target.name} at ${target.shown}`);
    const end = await worker.ended;
    log(`worker stopped: ${worker.done} jobs done, ${worker.rejected} rejected`);
    return end === 'broken' ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
