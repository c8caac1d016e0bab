// One coordinator per results folder: a lock file holding PID, host and start time.
// A lock whose PID is no longer alive on this host is stale (a crashed coordinator) and is taken
// over with a notice; a live one refuses the second coordinator. PIDs are reused, so on Linux the
// lock also holds the process's start time (field 22 of /proc/<pid>/stat, clock ticks after boot):
// a live PID whose start time differs is another process, and the lock is stale too. (Elsewhere,
// or for a lock without it, the PID alone decides.)
import { hostname } from 'node:os';
import { join } from 'node:path';
import { closeSync, linkSync, openSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { pidAlive, removeQuietly, tmpName, withPath, writeFully } from '../files.js';

export const LOCK_FILE = 'lock';

export interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  /** Start time of the process `pid` in clock ticks after boot (Linux), or null where unknown. */
  pidStart: number | null;
}

/** Start time of a process in clock ticks after boot (/proc/<pid>/stat field 22), or null (not Linux, no such process). */
export function processStartTicks(pid: number): number | null {
  if (process.platform !== 'linux') return null;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[22 - 3]);
  return Number.isSafeInteger(ticks) ? ticks : null;
}

/** Another live coordinator holds the folder (the CLI maps it to exit code 2). */
export class LockedError extends Error {
  readonly holder: LockInfo | null;
  constructor(message: string, holder: LockInfo | null) {
    super(message);
    this.name = 'LockedError';
    this.holder = holder;
  }
}

export interface Lock {
  readonly file: string;
  readonly info: LockInfo;
  /** Set when a stale lock was taken over: what it held. */
  readonly tookOver: LockInfo | null;
  release(): void;
}

function readLock(file: string): LockInfo | null {
  try {
    const o = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockInfo>;
    if (typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.startedAt === 'string') {
      return { pid: o.pid, host: o.host, startedAt: o.startedAt, pidStart: typeof o.pidStart === 'number' ? o.pidStart : null };
    }
  } catch { /* unreadable: treated below */ }
  return null;
}

/**
 * Takes the lock of `dir`. The content is written to a private file first and then hard-linked
 * to the lock path, so the lock never exists without its content (link fails if it exists).
 */
export function acquireLock(dir: string, notice: (msg: string) => void = () => {}): Lock {
  const file = join(dir, LOCK_FILE);
  const info: LockInfo = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), pidStart: processStartTicks(process.pid) };
  // Private to this process; exclusivity comes from link(). A folder we cannot write to (read-only,
  // no permission, full) is named as such, not by this file's name.
  const tmp = tmpName(file);
  try {
    const fd = openSync(tmp, 'wx');
    try { writeFully(fd, JSON.stringify(info) + '\n', tmp); } finally { closeSync(fd); }
  } catch (e) {
    removeQuietly(tmp);
    throw withPath(e, dir);
  }
  let tookOver: LockInfo | null = null;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
      }
      const holder = readLock(file);
      if (holder === null) {
        throw new LockedError(
          `${file} exists but is not a readable lock; if no coordinator is running on ${dir}, delete it and retry`, null);
      }
      if (holder.host !== info.host) {
        throw new LockedError(
          `${dir} is locked by a coordinator on host ${holder.host} (pid ${holder.pid}, since ${holder.startedAt}); ` +
          `if it is dead, delete ${file} and retry`, holder);
      }
      const alive = holder.pid === process.pid || pidAlive(holder.pid);
      const nowStart = alive && holder.pidStart !== null ? processStartTicks(holder.pid) : null;
      const reused = nowStart !== null && nowStart !== holder.pidStart;
      if (alive && !reused) {
        throw new LockedError(
          `${dir} is already being run by pid ${holder.pid} (since ${holder.startedAt}); ` +
          'wait for it to finish or stop it (Ctrl-C) first', holder);
      }
      // Stale: move it aside (atomic) and retry the link.
      notice(`taking over a stale lock of pid ${holder.pid} (started ${holder.startedAt}, ` +
        `${reused ? 'that pid now belongs to another process' : holder.pid > 0 && Number.isSafeInteger(holder.pid) ? 'no longer running' : 'not a valid pid'})`);
      const aside = join(dir, `${LOCK_FILE}.stale.${process.pid}`);
      try {
        renameSync(file, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        continue; // someone else removed it: retry the link
      }
      // Two coordinators may both have judged the same lock stale: if what we moved aside is not
      // that stale lock but a fresh one another coordinator linked meanwhile, put it back and yield.
      const moved = readLock(aside);
      if (moved !== null && !(moved.pid === holder.pid && moved.startedAt === holder.startedAt)) {
        try { linkSync(aside, file); } catch { /* a third one linked already: it holds the lock */ }
        unlinkSync(aside);
        throw new LockedError(`${dir} was just taken over by pid ${moved.pid} (since ${moved.startedAt}); ` +
          'wait for it to finish or stop it (Ctrl-C) first', moved);
      }
      unlinkSync(aside);
      tookOver = holder;
    }
  } finally {
    removeQuietly(tmp);
  }
  let released = false;
  return {
    file, info, tookOver,
    release() {
      if (released) return;
      released = true;
      const now = readLock(file);
      // Only remove the lock if it is still ours.
      if (now && now.pid === info.pid && now.startedAt === info.startedAt) {
        try { unlinkSync(file); } catch { /* already gone */ }
      }
    },
  };
}
