// What travels through the queue: the payload of a job (coordinator -> worker) and its return
// value (worker -> coordinator, through BullMQ's completion). Both arrive as data from Redis,
// which anyone with access to it can write, so both are checked before use: a payload with the
// spec validator's per-configuration checks (checkRunConfig) and its id recomputed from its
// config; a return value by shape and, again, its config against its id.
import { hostname } from 'node:os';
import { ConfigError } from '../core/errors.js';
import { CORE_SEMANTICS_VERSION } from '../core/version.js';
import type { RunConfig, RunResult } from '../core/types.js';
import { configId } from './grid.js';
import { checkRunConfig } from './spec.js';
import type { JournalRecord } from './types.js';

export const PAYLOAD_VERSION = 1;
/** The longest run time limit a payload may ask for: a week. */
const MAX_TIMEOUT_SECONDS = 7 * 86400;

/** A job's data. */
export interface JobPayload {
  v: typeof PAYLOAD_VERSION;
  /** The run id (the grid's id of `config`). */
  id: string;
  config: RunConfig;
  /** Hard time limit of the run, seconds (the coordinator's --run-timeout or its default). */
  timeoutSeconds: number;
}

/** A job's return value: the journal record less what the coordinator takes from its grid (trial, cell). */
export type JobReturn = { v: typeof PAYLOAD_VERSION } & Omit<JournalRecord, 'trial' | 'cell'>;

/** A payload or return value that is not what narrowsweep writes: never run, never journaled. */
export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

const PAYLOAD_KEYS = ['v', 'id', 'config', 'timeoutSeconds'];
const RETURN_KEYS = ['v', 'id', 'config', 'result', 'startedAt', 'finishedAt', 'wallSeconds', 'host', 'versions'];
const STATUSES = new Set(['ok', 'diverged', 'timeout', 'error', 'oom']);

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function describe(x: unknown): string {
  const s = typeof x === 'string' ? JSON.stringify(x) : x === undefined ? 'nothing' : JSON.stringify(x) ?? String(x);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function checkKeys(what: string, o: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new PayloadError(`${what}.${k}: unknown field (allowed: ${keys.join(', ')})`);
  for (const k of keys) if (!(k in o)) throw new PayloadError(`${what}.${k}: missing`);
}

/** The config must be the one its id names: a payload cannot pass a run off as another. */
function checkId(what: string, config: RunConfig, id: unknown): string {
  if (typeof id !== 'string') throw new PayloadError(`${what}.id: expected a run id, got ${describe(id)}`);
  const actual = configId(config);
  if (actual !== id) {
    throw new PayloadError(`${what}.id: ${id} is not the id of its config (${actual} with core semantics ${CORE_SEMANTICS_VERSION} here; a machine with another narrowsweep version?)`);
  }
  return id;
}

/** The payload of a job about to run, for the run id its job id names (null: not checked). */
export function checkPayload(data: unknown, runId: string | null): JobPayload {
  try {
    if (!isObject(data)) throw new PayloadError(`payload: expected a mapping { v, id, config, timeoutSeconds }, got ${describe(data)}`);
    checkKeys('payload', data, PAYLOAD_KEYS);
    if (data.v !== PAYLOAD_VERSION) throw new PayloadError(`payload.v: this worker reads payload version ${PAYLOAD_VERSION}, got ${describe(data.v)}`);
    const t = data.timeoutSeconds;
    if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0 || t > MAX_TIMEOUT_SECONDS) {
      throw new PayloadError(`payload.timeoutSeconds: expected a number of seconds in (0, ${MAX_TIMEOUT_SECONDS}], got ${describe(t)}`);
    }
    checkRunConfig('payload.config', data.config);
    const config = data.config as unknown as RunConfig;
    const id = checkId('payload', config, data.id);
    if (runId !== null && id !== runId) throw new PayloadError(`payload.id: ${id}, but the job id names run ${runId}`);
    return { v: PAYLOAD_VERSION, id, config, timeoutSeconds: t };
  } catch (e) {
    if (e instanceof PayloadError) throw e;
    if (e instanceof ConfigError || (e as Error).name === 'DataError') throw new PayloadError((e as Error).message);
    throw e;
  }
}

/** A completed job's return value, for run `runId`. */
export function checkReturn(rv: unknown, runId: string): JobReturn {
  if (!isObject(rv)) throw new PayloadError(`return value: expected a mapping, got ${describe(rv)}`);
  checkKeys('return value', rv, RETURN_KEYS);
  if (rv.v !== PAYLOAD_VERSION) throw new PayloadError(`return value.v: expected ${PAYLOAD_VERSION}, got ${describe(rv.v)}`);
  if (rv.id !== runId) throw new PayloadError(`return value.id: ${describe(rv.id)}, but the job is run ${runId}`);
  if (!isObject(rv.config)) throw new PayloadError('return value.config: expected a configuration');
  try {
    checkId('return value', rv.config as unknown as RunConfig, rv.id);
  } catch (e) {
    if (e instanceof ConfigError) throw new PayloadError(`return value.config: ${e.message}`);
    throw e;
  }
  const r = rv.result;
  if (!isObject(r) || typeof r.status !== 'string' || !STATUSES.has(r.status) || typeof r.success !== 'boolean') {
    throw new PayloadError('return value.result: expected a run result with a status and success');
  }
  for (const k of ['startedAt', 'finishedAt', 'host'] as const) {
    if (typeof rv[k] !== 'string') throw new PayloadError(`return value.${k}: expected text, got ${describe(rv[k])}`);
  }
  if (typeof rv.wallSeconds !== 'number') throw new PayloadError(`return value.wallSeconds: expected a number, got ${describe(rv.wallSeconds)}`);
  const v = rv.versions;
  if (!isObject(v) || typeof v.narrowsweep !== 'string' || typeof v.node !== 'string' || typeof v.core !== 'number') {
    throw new PayloadError('return value.versions: expected { narrowsweep, node, core }');
  }
  return {
    v: PAYLOAD_VERSION, id: runId, config: rv.config as unknown as RunConfig, result: r as unknown as RunResult,
    startedAt: rv.startedAt as string, finishedAt: rv.finishedAt as string, wallSeconds: rv.wallSeconds,
    host: rv.host as string, versions: { narrowsweep: v.narrowsweep, node: v.node, core: v.core },
  };
}

/** This machine's host name and versions, as a record states them. */
export function provenance(narrowsweep: string): Pick<JournalRecord, 'host' | 'versions'> {
  return { host: hostname(), versions: { narrowsweep, node: process.version, core: CORE_SEMANTICS_VERSION } };
}
