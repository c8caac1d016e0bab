// narrowsweep run <spec>: validate the spec, take the results folder's lock, run (or resume) the
// sweep, write the tables and the report (at every refresh and at the end) and show one method's
// phase table.
import { parseArgs } from 'node:util';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, join, resolve, sep } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { MAX_SECONDS } from '../core/config.js';
import { describeEnvironmentError, isEnvironmentError, removeStaleTemporaries } from '../files.js';
import { loadSpec } from '../sweep/spec.js';
import type { Spec } from '../sweep/spec.js';
import { Coordinator, JOURNAL_FILE } from '../sweep/coordinator.js';
import type { SweepOutcome } from '../sweep/coordinator.js';
import { acquireLock, LOCK_FILE, LockedError } from '../sweep/lock.js';
import type { Lock } from '../sweep/lock.js';
import { poolDefaults } from '../sweep/pool.js';
import { createProgress, progressMode } from '../sweep/progress.js';
import { parseShard, shardText } from '../sweep/shard.js';
import type { Shard } from '../sweep/shard.js';
import { aggregate, BestOverError, parseBestOver, REPORT_FILE } from '../report/aggregate.js';
import type { AggregateOutput } from '../report/aggregate.js';
import { explainFlagError } from '../core/suggest.js';
import { gridSize } from '../sweep/grid.js';
import { DEFAULT_QUEUE_NAME, parseQueueTarget, probe, QueueConnectError, QueueInputError } from '../sweep/queue.js';
import type { QueueTarget } from '../sweep/queue.js';
import { QueueCoordinator } from '../sweep/queue-coordinator.js';
import type { GridView } from '../sweep/types.js';

const USAGE = `usage: narrowsweep run <spec.yaml|.json> [options]

Runs every configuration of the spec that is not yet in <out>/runs.jsonl (so running it again resumes).

  --workers N          worker threads (default: the available cores, ${poolDefaults().threads} here)
  --out DIR            results folder (default: results/<spec name>)
  --retry-failed       run again the configurations recorded as error, timeout or oom
  --run-timeout S      time limit of one run in seconds (default: the spec's runTimeout, else 2 x budget.seconds + 30)
  --fresh              delete the results of an earlier run in the folder first (start from scratch)
  --quiet              no progress display (messages and the final table still print)
  --grace S            on Ctrl-C / SIGTERM / SIGHUP, seconds that running configurations get to finish (default 10)
  --worker-memory MB   heap limit of each worker (default ${poolDefaults().memoryMb})
  --refresh S          rewrite the tables and report.html every S seconds during the run (default 30; 0 = only at the end)
  --best-over A,B      also write the envelope tables and charts: each method's best setting over these axes
                       in every cell (see narrowsweep aggregate --help)
  --shard K/N          run only shard K of N (1 <= K <= N), e.g. one per machine; the default folder is then
                       results/<spec name>.shard-K-of-N, and \`narrowsweep merge\` joins the shards' folders
  --queue URL          run on a work queue instead of local threads: redis://[:password@]host[:port][/db]
                       (rediss:// for TLS); \`narrowsweep worker --queue URL\` on any machines takes the jobs
  --queue-name NAME    the queue (default ${DEFAULT_QUEUE_NAME}; the workers must name the same one)
  --submit-only        with --queue: enqueue the missing configurations and exit; run again to collect

Ctrl-C (or SIGTERM, SIGHUP) once: stop scheduling, let running configurations finish, write the tables,
print the command that resumes. Ctrl-C twice: stop at once (the journal stays valid).`;

export interface RunFlags {
  specPath: string;
  workers: number | null;
  out: string | null;
  retryFailed: boolean;
  runTimeout: number | null;
  fresh: boolean;
  quiet: boolean;
  grace: number;
  workerMemory: number | null;
  refresh: number;
  shard: Shard | null;
  /** --best-over: the envelope's axes (absent or null: no envelope). */
  bestOver?: string[] | null;
  /** The work queue's Redis URL (absent or null: the local pool). */
  queue?: string | null;
  queueName?: string | null;
  submitOnly?: boolean;
}

class UsageError extends Error {}

const DEFAULT_GRACE = 10, DEFAULT_REFRESH = 30;
/** Progress lines for running jobs in queue mode (the first this many are shown). */
const QUEUE_SLOTS = 8;

/** After a second Ctrl-C, how long the sweep gets to close the journal before the process exits anyway. */
const FORCE_EXIT_MS = 8000;

function numberFlag(name: string, v: string | undefined, opts: { integer?: boolean; min: number; max?: number }): number | null {
  if (v === undefined) return null;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x < opts.min || (opts.integer && !Number.isInteger(x))) {
    throw new UsageError(`--${name}: expected ${opts.integer ? 'an integer' : 'a number'} >= ${opts.min}, got ${JSON.stringify(v)}`);
  }
  if (opts.max !== undefined && x > opts.max) {
    throw new UsageError(`--${name}: expected at most ${opts.max} seconds (24.8 days, the longest a timer holds), got ${JSON.stringify(v)}`);
  }
  return x;
}

function parseFlags(argv: string[]): RunFlags | 'help' {
  const options = {
    workers: { type: 'string' },
    out: { type: 'string' },
    'retry-failed': { type: 'boolean' },
    'run-timeout': { type: 'string' },
    fresh: { type: 'boolean' },
    quiet: { type: 'boolean' },
    grace: { type: 'string' },
    'worker-memory': { type: 'string' },
    refresh: { type: 'string' },
    shard: { type: 'string' },
    'best-over': { type: 'string' },
    queue: { type: 'string' },
    'queue-name': { type: 'string' },
    'submit-only': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  } as const;
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options });
  } catch (e) {
    throw new UsageError(explainFlagError((e as Error).message, Object.keys(options)));
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (parsed.positionals.length !== 1) {
    throw new UsageError(parsed.positionals.length === 0 ? 'missing the spec file' : `expected one spec file, got ${parsed.positionals.join(' ')}`);
  }
  if (v.queue === undefined) {
    for (const k of ['queue-name', 'submit-only'] as const) if (v[k] !== undefined) throw new UsageError(`--${k}: only with --queue`);
  } else {
    for (const k of ['shard', 'workers', 'worker-memory'] as const) {
      if (v[k] !== undefined) throw new UsageError(`--${k}: not with --queue (${k === 'shard' ? 'the queue balances the work itself' : `give it to each \`narrowsweep worker\``})`);
    }
  }
  return {
    specPath: parsed.positionals[0]!,
    workers: numberFlag('workers', v.workers, { integer: true, min: 1 }),
    out: v.out ?? null,
    retryFailed: v['retry-failed'] === true,
    runTimeout: numberFlag('run-timeout', v['run-timeout'], { min: 0.001 }),
    fresh: v.fresh === true,
    quiet: v.quiet === true,
    grace: numberFlag('grace', v.grace, { min: 0, max: MAX_SECONDS }) ?? DEFAULT_GRACE,
    workerMemory: numberFlag('worker-memory', v['worker-memory'], { min: 8 }),
    refresh: numberFlag('refresh', v.refresh, { min: 0, max: MAX_SECONDS }) ?? DEFAULT_REFRESH,
    shard: v.shard === undefined ? null : parseShard(v.shard),
    bestOver: bestOverFlag(v['best-over']),
    queue: v.queue ?? null,
    queueName: v['queue-name'] ?? null,
    submitOnly: v['submit-only'] === true,
  };
}

function bestOverFlag(v: string | undefined): string[] | null {
  if (v === undefined) return null;
  try { return parseBestOver(v); } catch (e) {
    if (e instanceof BestOverError) throw new UsageError(e.message.replace(/^--best-over: /, ''));
    throw e;
  }
}

/**
 * --best-over names must be axes of the spec (`x`, or `<method>.x` for a per-method axis), checked
 * before the sweep starts: otherwise every table refresh would fail.
 */
function checkBestOverAxes(names: string[], spec: Spec): void {
  const axes = [...spec.factors.flatMap((f) => f.names), ...spec.methodFactors.flatMap((f) => f.names)];
  for (const n of names) {
    if (!axes.includes(n) && (n.includes('.') || !axes.some((a) => a.endsWith(`.${n}`)))) {
      throw new UsageError(`--best-over: ${n} is not an axis of ${spec.file} (axes: ${axes.filter((a) => !['method', 'n', 'd', 'rho', 'm'].includes(a)).join(', ') || 'none'})`);
    }
  }
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command that resumes this sweep, as the user can paste it in any folder (absolute paths; no
 * --fresh, which would throw the results away). Exported for tests.
 */
export function resumeCommand(f: RunFlags, outDir: string, script = process.argv[1] ?? 'narrowsweep'): string {
  // Started from a node_modules/.bin (npx runs ~/.npm/_npx/<hash>/node_modules/.bin/narrowsweep):
  // npx again; a global install is on PATH; otherwise (node dist/src/cli.js, npm start) the same path.
  const local = script.includes(`node_modules${sep}.bin${sep}`);
  const prog = basename(script) === 'narrowsweep' && local ? 'npx narrowsweep'
    : basename(script) === 'narrowsweep' ? 'narrowsweep' : `node ${shellQuote(resolve(script))}`;
  const parts = [prog, 'run', shellQuote(resolve(f.specPath)), '--out', shellQuote(resolve(outDir))];
  if (f.shard !== null) parts.push('--shard', shardText(f.shard));
  if (f.queue) parts.push('--queue', shellQuote(f.queue));
  if (f.queue && f.queueName) parts.push('--queue-name', shellQuote(f.queueName));
  if (f.workers !== null) parts.push('--workers', String(f.workers));
  if (f.runTimeout !== null) parts.push('--run-timeout', String(f.runTimeout));
  if (f.workerMemory !== null) parts.push('--worker-memory', String(f.workerMemory));
  if (f.grace !== DEFAULT_GRACE) parts.push('--grace', String(f.grace));
  if (f.refresh !== DEFAULT_REFRESH) parts.push('--refresh', String(f.refresh));
  if (f.bestOver) parts.push('--best-over', shellQuote(f.bestOver.join(',')));
  if (f.retryFailed) parts.push('--retry-failed');
  if (f.quiet) parts.push('--quiet');
  return parts.join(' ');
}

/**
 * --fresh: empties the folder of an earlier run's results (everything but our lock). Refuses a
 * non-empty folder that holds no journal, so a mistyped --out never deletes unrelated files.
 */
function clearResults(dir: string): number {
  const names = readdirSync(dir).filter((n) => n !== LOCK_FILE);
  if (names.length === 0) return 0;
  if (!names.includes(JOURNAL_FILE)) {
    throw new UsageError(`--fresh: ${dir} holds files but no ${JOURNAL_FILE}, so it does not look like a results folder; not deleting it`);
  }
  for (const n of names) rmSync(join(dir, n), { recursive: true, force: true });
  return names.length;
}

export async function main(argv: string[]): Promise<number> {
  let flags: RunFlags;
  let spec: Spec;
  let queueTarget: QueueTarget | null = null;
  try {
    const f = parseFlags(argv);
    if (f === 'help') { console.log(USAGE); return 0; }
    flags = f;
    spec = loadSpec(flags.specPath); // the whole spec is validated before anything is written
    if (flags.bestOver) checkBestOverAxes(flags.bestOver, spec);
    if (flags.queue) queueTarget = parseQueueTarget(flags.queue, flags.queueName ?? DEFAULT_QUEUE_NAME);
  } catch (e) {
    if (e instanceof QueueInputError) { console.error(`narrowsweep run: ${e.message}`); return 2; }
    if (e instanceof UsageError) { console.error(`narrowsweep run: ${e.message}\n\n${USAGE}`); return 2; }
    if (e instanceof ConfigError || (e as Error).name === 'DataError') { console.error(`narrowsweep: ${(e as Error).message}`); return 2; }
    throw e;
  }
  const outDir = flags.out ?? join('results', flags.shard ? `${spec.name}.shard-${flags.shard.index + 1}-of-${flags.shard.count}` : spec.name);
  const threads = flags.workers ?? poolDefaults().threads;
  const say = (line: string) => console.log(line);
  if (queueTarget !== null) {
    try {
      const info = await probe(queueTarget); // an unreachable Redis stops here, before the folder is touched
      if (info.warning) console.error(`narrowsweep: ${info.warning}`);
    } catch (e) {
      if (e instanceof QueueConnectError) { console.error(`narrowsweep: ${e.message}`); return 2; }
      throw e;
    }
  }

  mkdirSync(outDir, { recursive: true });
  let lock: Lock;
  try {
    lock = acquireLock(outDir, (msg) => console.error(`narrowsweep: ${msg}`));
  } catch (e) {
    if (e instanceof LockedError) { console.error(`narrowsweep: ${e.message}`); return 2; }
    throw e;
  }
  try {
    if (flags.fresh) {
      try {
        const removed = clearResults(outDir);
        if (removed > 0) say(`--fresh: removed the earlier results in ${outDir}`);
      } catch (e) {
        if (e instanceof UsageError) { console.error(`narrowsweep: ${e.message}`); return 2; }
        throw e;
      }
    }
    const stale = removeStaleTemporaries(outDir);
    if (stale.length > 0) say(`removed ${stale.length} temporary file${stale.length === 1 ? '' : 's'} left in ${outDir} by a process that was stopped`);
    const progress = createProgress(progressMode(flags.quiet), queueTarget !== null ? QUEUE_SLOTS : threads);
    const sessionStartedAt = Date.now();
    const totalRuns = gridSize(spec);
    const common = {
      spec,
      outDir,
      retryFailed: flags.retryFailed,
      runTimeoutSeconds: flags.runTimeout ?? spec.runTimeout,
      refreshSeconds: flags.refresh,
      progress,
      log: (line: string) => progress.log(line),
      // the command wires the report layer in: the sweep layer does not import it
      tables: (grid: GridView | null, when: 'refresh' | 'final') => aggregate(outDir, {
        grid, bestOver: flags.bestOver ?? null,
        report: { spec, totalRuns, state: when === 'refresh' ? 'running' : 'final', refreshSeconds: flags.refresh || null, sessionStartedAt },
      }),
    };
    const coordinator = queueTarget !== null
      ? new QueueCoordinator({ ...common, target: queueTarget, slots: QUEUE_SLOTS, submitOnly: flags.submitOnly })
      : new Coordinator({
        ...common,
        threads,
        ...(flags.workerMemory !== null ? { memoryMb: flags.workerMemory } : {}),
        shard: flags.shard,
      });
    say(queueTarget !== null
      ? `sweep ${spec.name}: on queue ${queueTarget.name} at ${queueTarget.shown}, results in ${outDir}`
      : `sweep ${spec.name}: ${threads} worker${threads === 1 ? '' : 's'}, results in ${outDir}`);

    // Exactly one ending is printed: the report after run() returns, or (only if run() does not
    // return within FORCE_EXIT_MS of the second Ctrl-C, or on a third) the forced one below.
    let ended = false;
    const forceExit = () => {
      if (ended) process.exit(130); // the ending is printed, but something keeps the process alive
      ended = true;
      const n = coordinator.running;
      lock.release();
      console.error(`\nnarrowsweep: stopped at once${n > 0 ? ` (${n} running dropped; they will rerun)` : ''}; the journal is valid. Resume with:\n  ${resumeCommand(flags, outDir)}`);
      process.exit(130);
    };
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        progress.log(queueTarget !== null
          ? `${sig}: the coordinator stops; the workers go on, and their results wait in the queue until you run this again`
          : `${sig}: no new runs are started; running ones get ${flags.grace} s to finish (${sig === 'SIGINT' ? 'Ctrl-C' : sig} again stops at once)`);
        coordinator.stop(flags.grace);
        return;
      }
      if (signals > 2) { forceExit(); return; }
      progress.stop();
      void coordinator.abortNow();
      setTimeout(forceExit, FORCE_EXIT_MS).unref();
    };
    // SIGHUP (the terminal closed, a scheduler's hangup) is a stop like SIGTERM, not a kill
    const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    for (const sig of SIGNALS) process.on(sig, onSignal);
    let outcome: SweepOutcome<AggregateOutput>;
    try {
      outcome = await coordinator.run();
    } catch (e) {
      // a damaged journal, refused before anything ran (the message says what to do)
      if ((e as Error).name === 'DataError') { console.error(`narrowsweep: ${(e as Error).message}`); return 2; }
      if (isEnvironmentError(e)) {
        // a full disk, a read-only folder: the journal holds whole records only
        console.error(`narrowsweep: ${describeEnvironmentError(e)}\nThe journal is valid; once that is fixed, resume with:\n  ${resumeCommand(flags, outDir)}`);
        return 2;
      }
      console.error(`narrowsweep: the sweep stopped: ${(e as Error).message}`);
      return 1;
    } finally {
      for (const sig of SIGNALS) process.off(sig, onSignal);
    }
    if (ended) return 130; // the forced ending was printed (process.exit is on its way)
    ended = true;
    report(outcome, outDir, flags);
    if (outcome.tablesError !== null) {
      // never an exit 0 without tables: the runs are journaled, the tables are not
      const e = outcome.tablesError;
      const why = isEnvironmentError(e) ? describeEnvironmentError(e) : (e as Error).message;
      console.error(`narrowsweep: writing the tables failed: ${why}\nThe journal is valid; once that is fixed, resume with:\n  ${resumeCommand(flags, outDir)}`);
      return isEnvironmentError(e) || (e as Error).name === 'DataError' ? 2 : 1;
    }
    if (flags.submitOnly) {
      console.log(`\nSubmitted; the workers (narrowsweep worker --queue ...) take the jobs. Collect the results with:\n  ${resumeCommand(flags, outDir)}`);
      return 0;
    }
    if (outcome.aborted) {
      console.error(`\nnarrowsweep: stopped at once; the journal is valid. Resume with:\n  ${resumeCommand(flags, outDir)}`);
      return 130;
    }
    if (outcome.interrupted) {
      console.log(`\nInterrupted; the finished runs are in ${join(outDir, JOURNAL_FILE)}. Resume with:\n  ${resumeCommand(flags, outDir)}`);
      return 130;
    }
    return 0;
  } finally {
    lock.release();
  }
}

function report(o: SweepOutcome<AggregateOutput>, outDir: string, flags: RunFlags): void {
  const f = o.finished;
  const ran = f.ok + f.diverged + f.timeout + f.error + f.oom;
  const failures = (['diverged', 'timeout', 'oom', 'error'] as const).filter((s) => f[s] > 0).map((s) => `${f[s]} ${s}`);
  console.log(`\n${ran} runs this session (${o.succeeded} succeeded${failures.length ? `; ${failures.join(', ')}` : ''})` +
    (o.dropped > 0 ? `; ${o.dropped} running ${o.aborted ? 'when stopped at once' : 'at the end of the grace period'} were dropped and will rerun` : ''));
  if (f.timeout + f.error + f.oom > 0 && !flags.retryFailed) {
    console.log('Failed runs (error/timeout/oom) stay recorded; --retry-failed runs them again.');
  }
  if (o.tables === null) return;
  if (o.tables.notInSpec) {
    console.log(`${o.tables.notInSpec} journal records of an earlier spec are not in this one: kept in ${JOURNAL_FILE}, left out of the tables`);
  }
  console.log(`Tables in ${resolve(outDir)}: ${o.tables.files.map((p) => basename(p)).filter((n) => n.endsWith('.csv') || n.endsWith('.json')).join(', ')}`);
  if (o.tables.report) {
    console.log(`Report: ${join(resolve(outDir), REPORT_FILE)} (${o.tables.report.charts.length} charts, each also as a .svg file)`);
  }
  if (o.tables.phase) console.log(`\n${o.tables.phase}`);
}

