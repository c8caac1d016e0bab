// The Redis side of the work queue (BullMQ on Redis): where the queue is (a redis:// URL), the
// connections (retried with backoff, a lost connection reported once and its return too), the
// queue's name and the job ids. The coordinator (queue-coordinator.ts), the worker
// (queue-worker.ts) and `narrowsweep status` all connect through here.
//
// One queue serves any number of sweeps: the default queue is `narrowsweep`, and a job's id is
// `<sweep key>.<run id>`, where the sweep key is the spec's name plus a digest of what defines its
// configurations. So a worker needs to know nothing about the sweeps it serves, two sweeps never
// share a job, and `status` can count the jobs per sweep. `--queue-name` picks another queue
// (one per team, say, or to keep a sweep's workers to itself).
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { CORE_SEMANTICS_VERSION } from '../core/version.js';
import { canonicalJson, ID_LENGTH } from './grid.js';
import type { Factor, Spec } from './spec.js';

export const DEFAULT_QUEUE_NAME = 'narrowsweep';
/** The BullMQ job name of every run job. */
export const JOB_NAME = 'run';
/** BullMQ's highest priority number (2^21 - 1): the lowest priority. */
export const PRIORITY_LIMIT = 2 ** 21 - 1;

/** Bad input for the queue flags (a malformed URL or queue name): one line on stderr, exit 2. */
export class QueueInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueInputError';
  }
}

/** Redis cannot be reached (or refuses us) at start: one line on stderr, exit 2. */
export class QueueConnectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueConnectError';
  }
}

/** A Redis server and a queue on it. */
export interface QueueTarget {
  /** The URL as given (with its password, if any): for the resume command only. */
  url: string;
  /** The URL for messages: the password replaced by ***. */
  shown: string;
  host: string;
  port: number;
  db: number;
  username: string | undefined;
  password: string | undefined;
  tls: boolean;
  /** The BullMQ queue name. */
  name: string;
}

const URL_FORM = 'redis://[:password@]host[:port][/db] (or rediss:// for TLS)';

/** The URL with any password replaced by ***, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)([^@/]*)@/i, (_all, scheme: string, auth: string) => {
    const colon = auth.indexOf(':');
    return `${scheme}${colon < 0 ? '***' : `${auth.slice(0, colon)}:***`}@`;
  });
}

/** Checks a queue name: BullMQ keys are `bull:<name>:...`, so no colon, and nothing a shell would mangle. */
export function checkQueueName(name: string, flag = '--queue-name'): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) {
    throw new QueueInputError(`${flag}: expected letters, digits, '.', '_' or '-' (at most 100, not starting with a sign), got ${JSON.stringify(name)}`);
  }
  return name;
}

/**
 * Parses `--queue`. The password may also come from NARROWSWEEP_REDIS_PASSWORD (then it stays out
 * of the command line, `ps` and the printed resume command) when the URL has none.
 */
export function parseQueueTarget(url: string, name: string = DEFAULT_QUEUE_NAME, env: NodeJS.ProcessEnv = process.env): QueueTarget {
  const shown = redactUrl(url);
  const bad = (why: string) => new QueueInputError(`--queue: ${why}; expected ${URL_FORM}, got ${JSON.stringify(shown)}`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad('not a URL');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw bad(`the scheme must be redis or rediss, not ${u.protocol.replace(/:$/, '')}`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw bad('no host');
  const port = u.port === '' ? 6379 : Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`port ${u.port} is not between 1 and 65535`);
  let db = 0;
  if (u.pathname !== '' && u.pathname !== '/') {
    const m = /^\/(\d{1,6})$/.exec(u.pathname);
    if (!m) throw bad(`the path must be a database number such as /0, not ${u.pathname}`);
    db = Number(m[1]);
  }
  if (u.search !== '' || u.hash !== '') throw bad('no query string or fragment is read');
  const decode = (s: string) => {
    try { return decodeURIComponent(s); } catch { throw bad('the user or password is not valid percent-encoding'); }
  };
  const username = u.username === '' ? undefined : decode(u.username);
  let password = u.password === '' ? undefined : decode(u.password);
  if (password === undefined && env.NARROWSWEEP_REDIS_PASSWORD) password = env.NARROWSWEEP_REDIS_PASSWORD;
  return { url, shown, host, port, db, username, password, tls: u.protocol === 'rediss:', name: checkQueueName(name) };
}

/** Delay before reconnection attempt `times` (1, 2, ...): 0.25 s doubling up to 3 s, forever. */
export function reconnectDelay(times: number): number {
  return Math.min(250 * 2 ** Math.min(Math.max(times - 1, 0), 4), 3000);
}

/**
 * Options of every long-lived connection. `maxRetriesPerRequest: null`: a command waits for the
 * connection to come back instead of failing (what BullMQ requires of its workers, and what keeps
 * a Redis restart from failing a job's completion); reconnection never gives up.
 */
export function redisOptions(t: QueueTarget): RedisOptions {
  return {
    host: t.host,
    port: t.port,
    db: t.db,
    ...(t.username !== undefined ? { username: t.username } : {}),
    ...(t.password !== undefined ? { password: t.password } : {}),
    ...(t.tls ? { tls: { servername: t.host } } : {}),
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: reconnectDelay,
  };
}

/** What `probe` learnt of the server. */
export interface ServerInfo {
  version: string;
  maxmemoryPolicy: string;
  /** A line to print when the server is set up in a way that can lose jobs, else null. */
  warning: string | null;
}

/**
 * One connection attempt with no retries (at start, before anything is written): a clear
 * QueueConnectError when Redis is not there, refuses the password or is too old for BullMQ.
 */
export async function probe(t: QueueTarget, timeoutMs = 5000): Promise<ServerInfo> {
  const client = new Redis({
    ...redisOptions(t), lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0,
    enableOfflineQueue: false, connectTimeout: timeoutMs,
  });
  let lastError: Error | null = null;
  client.on('error', (err: Error) => { lastError = err; });
  const where = `Redis at ${t.shown}`;
  try {
    try {
      await client.connect();
    } catch (err) {
      const e = (lastError ?? err) as NodeJS.ErrnoException;
      throw new QueueConnectError(`cannot reach ${where}: ${e.code && !e.message.includes(e.code) ? `${e.code} ` : ''}${e.message}`);
    }
    let info: string;
    try {
      info = await client.info();
    } catch (err) {
      const msg = (err as Error).message;
      const hint = /NOAUTH|WRONGPASS|invalid password|invalid username/i.test(msg)
        ? ' (give the password as redis://:PASSWORD@host:port or in NARROWSWEEP_REDIS_PASSWORD)' : '';
      throw new QueueConnectError(`${where} refused us: ${msg}${hint}`);
    }
    const field = (k: string) => new RegExp(`^${k}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
    const version = field('redis_version');
    const maxmemoryPolicy = field('maxmemory_policy');
    const major = Number(version.split('.')[0]);
    if (Number.isFinite(major) && major > 0 && major < 5) {
      throw new QueueConnectError(`${where} is version ${version}; BullMQ needs Redis 5 or newer`);
    }
    const warning = maxmemoryPolicy !== '' && maxmemoryPolicy !== 'noeviction'
      ? `warning: ${where} has maxmemory-policy ${maxmemoryPolicy}, so it may evict queued jobs when full; ` +
        'set it to noeviction (redis-cli config set maxmemory-policy noeviction, and in redis.conf)'
      : null;
    return { version, maxmemoryPolicy, warning };
  } finally {
    client.disconnect();
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);

/** Whether an error is about the connection (lost, refused, closed) rather than a command. */
export function isConnectionError(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | null;
  if (!e) return false;
  if (e.code && CONNECTION_CODES.has(e.code)) return true;
  return /Connection is closed|connect ETIMEDOUT|Stream isn't writeable|socket (hang up|closed)|LOADING|read ECONNRESET/i.test(e.message ?? '');
}

/**
 * Watches the connections of one process and reports what the user needs to know: one line when
 * the connection is lost (the clients retry with backoff), one when it is back (then `onBack`
 * callbacks run, e.g. the coordinator checks the queue against its journal), and each distinct
 * error that is not about the connection.
 */
export class ConnectionWatch {
  private readonly down = new Set<Redis>();
  private since = 0;
  private closing = false;
  private readonly clients: Redis[] = [];
  private readonly backListeners: Array<() => void> = [];
  private readonly recent = new Map<string, number>();

  constructor(private readonly target: QueueTarget, private readonly log: (line: string) => void) {}

  /** A new long-lived connection, watched. */
  connect(): Redis {
    const client = new Redis(redisOptions(this.target));
    this.clients.push(client);
    client.on('error', (err: Error) => {
      if (isConnectionError(err)) this.lost(client, err);
      else this.error(err);
    });
    client.on('close', () => this.lost(client, null));
    client.on('ready', () => this.back(client));
    return client;
  }

  /** Runs `fn` every time the connection comes back after a loss. */
  onBack(fn: () => void): void {
    this.backListeners.push(fn);
  }

  /** Whether some connection is down now. */
  get isDown(): boolean {
    return this.down.size > 0;
  }

  private lost(client: Redis, err: Error | null): void {
    if (this.closing || this.down.has(client)) return;
    const first = this.down.size === 0;
    this.down.add(client);
    if (!first) return;
    this.since = Date.now();
    const why = err ? ` (${(err as NodeJS.ErrnoException).code ?? err.message})` : '';
    this.log(`redis: lost the connection to ${this.target.shown}${why}; retrying with backoff`);
  }

  private back(client: Redis): void {
    if (!this.down.delete(client) || this.down.size > 0 || this.closing) return;
    this.log(`redis: connected again to ${this.target.shown} after ${((Date.now() - this.since) / 1000).toFixed(1)} s`);
    for (const fn of this.backListeners) fn();
  }

  /**
   * For the 'error' events of BullMQ's objects (Queue, Worker, QueueEvents; an EventEmitter's
   * 'error' without a listener would throw): connection errors are reported by the connections
   * themselves, anything else once per 10 s per message.
   */
  error(err: unknown): void {
    if (this.closing || isConnectionError(err) || this.down.size > 0) return;
    const msg = (err as Error)?.message ?? String(err);
    const now = Date.now();
    if ((this.recent.get(msg) ?? 0) > now - 10_000) return;
    this.recent.set(msg, now);
    this.log(`redis: ${msg}`);
  }

  /** Closes every connection at once (pending commands are dropped; nothing waits on a dead server). */
  close(): void {
    this.closing = true;
    for (const c of this.clients) c.disconnect();
  }
}

// ---- the sweep key and job ids ----

function factorsKey(fs: readonly Factor[]): unknown {
  return fs.map((f) => ({ names: f.names, tuples: f.tuples, method: f.method, field: f.field }));
}

/**
 * `<spec name>-<10 hex digits>`: the digest covers what defines the spec's configurations and
 * their ids (axes, seeds, settings, data, core semantics), not where it was written down (file,
 * description, field paths). So one spec submitted twice, from any machine, has one key, and an
 * edited spec gets another.
 */
export function sweepKey(spec: Spec): string {
  const text = canonicalJson({
    core: CORE_SEMANTICS_VERSION, data: spec.data, factors: factorsKey(spec.factors), methodFactors: factorsKey(spec.methodFactors),
    width: spec.width, seeds: spec.seeds, defaults: spec.defaults, methods: spec.methods,
  });
  return `${spec.name}-${createHash('sha256').update(text).digest('hex').slice(0, 10)}`;
}

/** The BullMQ job id of a run: `<sweep key>.<run id>` (no colon, never all digits: BullMQ's rules). */
export function jobIdOf(key: string, runId: string): string {
  return `${key}.${runId}`;
}

const RUN_ID = new RegExp(`^[0-9a-f]{${ID_LENGTH}}$`);

/** The sweep key and run id of a job id, or null for a job id narrowsweep did not make. */
export function splitJobId(jobId: string | undefined): { key: string; runId: string } | null {
  if (jobId === undefined) return null;
  const dot = jobId.lastIndexOf('.');
  if (dot <= 0) return null;
  const runId = jobId.slice(dot + 1);
  return RUN_ID.test(runId) ? { key: jobId.slice(0, dot), runId } : null;
}

/** A run's BullMQ priority: its trial-major grid position (1 first), so workers take the grid in the local order. */
export function jobPriority(index: number): number {
  return Math.min(index + 1, PRIORITY_LIMIT);
}

/** Text from Redis made safe to print (anyone who can write to Redis chooses job ids and names). */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** `<host>/<pid>/<threads>`: the BullMQ worker name (shown by `status`, stored on each job it takes). */
export function workerName(host: string, pid: number, threads: number): string {
  return `${host}/${pid}/${threads}`;
}

export function parseWorkerName(name: string): { host: string; pid: number; threads: number } | null {
  const m = /^(.+)\/(\d+)\/(\d+)$/.exec(name);
  return m ? { host: m[1]!, pid: Number(m[2]), threads: Number(m[3]) } : null;
}
