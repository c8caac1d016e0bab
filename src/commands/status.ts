// narrowsweep status --queue redis://...: the jobs of a queue (waiting, active, completed,
// failed; in total and per sweep), the latest failures, and the workers connected to it.
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import type { JobType } from 'bullmq';
import {
  ConnectionWatch, DEFAULT_QUEUE_NAME, parseQueueTarget, parseWorkerName, printable, probe, QueueConnectError, QueueInputError, splitJobId,
} from '../sweep/queue.js';

const USAGE = `usage: narrowsweep status --queue redis://[:password@]host[:port][/db] [--queue-name NAME]

Shows the queue's jobs (waiting, active, completed, failed), in total and per sweep, the latest
failed jobs with their reasons, and the connected workers with their hosts. Completed jobs are
results that their sweep's coordinator has not collected yet (it removes each one once it is in
its journal).`;

/** Per-sweep counts are made from the job ids when the queue holds at most this many jobs. */
const MAX_BREAKDOWN = 200_000;
const STATES: Array<[label: string, types: JobType[]]> = [
  ['waiting', ['waiting', 'prioritized']], ['active', ['active']], ['completed', ['completed']], ['failed', ['failed']],
];

function age(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, strict: true, allowPositionals: false, options: { queue: { type: 'string' }, 'queue-name': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    console.error(`narrowsweep status: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) { console.log(USAGE); return 0; }
  if (parsed.values.queue === undefined) { console.error(`narrowsweep status: --queue: required\n\n${USAGE}`); return 2; }
  let target;
  try {
    target = parseQueueTarget(parsed.values.queue, parsed.values['queue-name'] ?? DEFAULT_QUEUE_NAME);
    const info = await probe(target);
    if (info.warning) console.error(`narrowsweep status: ${info.warning}`);
  } catch (e) {
    if (e instanceof QueueInputError || e instanceof QueueConnectError) { console.error(`narrowsweep status: ${e.message}`); return 2; }
    throw e;
  }
  const watch = new ConnectionWatch(target, (line) => console.error(`narrowsweep status: ${line}`));
  const queue = new Queue(target.name, { connection: watch.connect() });
  queue.on('error', (err) => watch.error(err));
  try {
    const c = await queue.getJobCounts('waiting', 'prioritized', 'active', 'completed', 'failed', 'delayed');
    const n = (k: string) => c[k] ?? 0;
    const counts = [n('waiting') + n('prioritized'), n('active'), n('completed'), n('failed')];
    const extra = ['delayed'].filter((k) => n(k) > 0).map((k) => `, ${n(k)} ${k}`).join('');
    console.log(`queue ${target.name} at ${target.shown}`);
    console.log(`jobs: ${STATES.map(([label], i) => `${counts[i]} ${label}`).join(', ')}${extra}`);

    const total = counts.reduce((a, b) => a + b, 0);
    if (total > 0 && total <= MAX_BREAKDOWN) {
      const bySweep = new Map<string, number[]>();
      for (const [i, [, types]] of STATES.entries()) {
        for (const id of await queue.getRanges(types, 0, -1)) {
          const key = printable(splitJobId(id)?.key ?? '(not narrowsweep jobs)');
          let row = bySweep.get(key);
          if (!row) { row = [0, 0, 0, 0]; bySweep.set(key, row); }
          row[i]!++;
        }
      }
      const w = Math.max(...[...bySweep.keys()].map((k) => k.length));
      console.log('by sweep:');
      for (const [key, row] of [...bySweep].sort(([a], [b]) => a.localeCompare(b))) {
        console.log(`  ${key.padEnd(w)}  ${STATES.map(([label], i) => `${row[i]} ${label}`).join(', ')}`);
      }
    }
    if (n('failed') > 0) {
      console.log('latest failed jobs:');
      for (const job of await queue.getFailed(0, 4)) {
        console.log(`  ${printable(String(job.id))}: ${printable((job.failedReason ?? '').replace(/\s+/g, ' ').slice(0, 300))}`);
      }
    }

    const workers = await queue.getWorkers();
    console.log(`workers: ${workers.length}`);
    for (const w of workers) {
      const raw = w.rawname ?? '';
      const name = raw.includes(':w:') ? raw.slice(raw.indexOf(':w:') + 3) : raw;
      const p = parseWorkerName(name);
      const since = Number(w.age);
      const who = p ? `${printable(p.host)}  pid ${p.pid}  ${p.threads} thread${p.threads === 1 ? '' : 's'}` : printable(name) || '(unnamed)';
      console.log(`  ${who}  from ${w.addr ?? '?'}${Number.isFinite(since) ? `  connected ${age(since)}` : ''}`);
    }
    return 0;
  } finally {
    await Promise.race([queue.close().catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
    watch.close();
  }
}
