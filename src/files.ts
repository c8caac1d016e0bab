// File-system helpers every layer shares: complete writes, atomic replacement, temporary names and
// their cleanup, and one-line messages for problems of the user's environment (disk full, no
// permission, a file where a folder should be).
//
// Why: writeSync may write fewer bytes than asked (a full disk does exactly that), and a file
// renamed into place after a short write is a cut-off table published as if it were whole. Every
// write here is checked to be complete, and an incomplete one is an error naming the file.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Error codes that mean the user's environment, not a bug: the CLI reports them in one line, exit 2. */
const ENVIRONMENT_CODES: Record<string, string> = {
  ENOSPC: 'no space left on the device; free some space (or use another folder) and run the command again',
  EDQUOT: 'disk quota exceeded; free some space (or use another folder) and run the command again',
  EACCES: 'permission denied; make the folder writable (or use another folder)',
  EPERM: 'operation not permitted; make the folder writable (or use another folder)',
  EROFS: 'the file system is read-only; use another folder',
  ENOTDIR: 'a part of this path is a file, not a folder; use another path',
  EISDIR: 'this is a folder, not a file; use another path',
  EEXIST: 'this exists and is not a folder; use another path',
  EMFILE: 'too many open files; raise the limit (ulimit -n) or use fewer workers',
  ENFILE: 'too many open files on this machine; try again later',
};

export type FsError = NodeJS.ErrnoException & { path?: string };

/** Whether `e` is a file-system error of the user's environment (see ENVIRONMENT_CODES). */
export function isEnvironmentError(e: unknown): e is FsError {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code in ENVIRONMENT_CODES;
}

/**
 * The same error with `path` in its message (errors of writes to a descriptor name no file) and in
 * its `path` field; code and syscall are kept, so callers can still tell ENOSPC from EACCES.
 */
export function withPath(err: unknown, path: string): unknown {
  const e = err as FsError;
  if (typeof e?.code !== 'string' || e.path === path) return err;
  // Node's form is "CODE: what, syscall 'path'"; keep "what", name our path instead
  const what = /^[A-Z0-9]+: (.*?), [a-z]+(?: '.*')?$/.exec(e.message)?.[1] ?? e.message;
  const out = new Error(`${e.code}: ${what}, ${e.syscall ?? 'write'} '${path}'`) as FsError;
  out.code = e.code;
  if (e.syscall !== undefined) out.syscall = e.syscall;
  if (e.errno !== undefined) out.errno = e.errno;
  out.path = path;
  return out;
}

/** One line for the user: the path, what went wrong, what to do. */
export function describeEnvironmentError(e: FsError, path = e.path): string {
  const what = ENVIRONMENT_CODES[e.code!] ?? e.message;
  const verb = e.syscall === 'mkdir' ? 'cannot create' : e.syscall === 'open' || e.syscall === 'write' || e.syscall === 'rename' ? 'cannot write'
    : e.syscall === 'unlink' || e.syscall === 'rmdir' || e.syscall === 'rm' ? 'cannot remove' : 'cannot use';
  return path ? `${verb} ${path}: ${what}` : `${e.message} (${what})`;
}

/** An ENOSPC error for `path` (a write that made no progress). */
function noSpace(path: string): FsError {
  const e = new Error(`ENOSPC: no space left on device, write '${path}'`) as FsError;
  e.code = 'ENOSPC';
  e.syscall = 'write';
  e.path = path;
  return e;
}

/**
 * Writes all of `data` to `fd` (at its current position), looping over short writes; a write that
 * fails or makes no progress throws an error naming `path`.
 */
export function writeFully(fd: number, data: string | Uint8Array, path: string): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let off = 0;
  while (off < bytes.length) {
    let k: number;
    try {
      k = writeSync(fd, bytes, off, bytes.length - off);
    } catch (e) {
      throw withPath(e, path);
    }
    if (k <= 0) throw noSpace(path);
    off += k;
  }
}

let tmpCounter = 0;
/**
 * A temporary name next to `file`, unique within this process: `<file>.tmp-<pid>-<k>`. Every
 * temporary file narrowsweep makes has this form, so a later start can remove those of a dead
 * process (removeStaleTemporaries).
 */
export function tmpName(file: string): string {
  return `${file}.tmp-${process.pid}-${tmpCounter++}`;
}

/** Removes `file`, ignoring a missing one. */
export function removeQuietly(file: string): void {
  try { unlinkSync(file); } catch { /* already gone */ }
}

/**
 * Replaces `file` by `data` atomically: a temporary file in the same folder, written in full and
 * fsynced, then renamed over it. On any failure the temporary file is removed, the old `file`
 * stays as it was, and the error names `file`.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = tmpName(file);
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (e) {
    throw withPath(e, file);
  }
  try {
    writeFully(fd, data, file);
    fsyncSync(fd);
  } catch (e) {
    try { closeSync(fd); } catch { /* closed */ }
    removeQuietly(tmp);
    throw withPath(e, file);
  }
  try {
    closeSync(fd);
    renameSync(tmp, file);
  } catch (e) {
    removeQuietly(tmp);
    throw withPath(e, file);
  }
}

/** Whether a process with this pid runs on this machine (pids <= 0 name groups, never one process). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Temporary files of the current form and of earlier versions, with the pid that made them:
 * `<file>.tmp-<pid>-<k>` (and `<file>.tmp-<pid>`), `lock.<pid>.tmp`, `lock.stale.<pid>`,
 * `spec.json.<pid>.tmp`, `runs.jsonl.merge-<pid>.tmp`.
 */
const TEMPORARY = [/\.tmp-(\d+)(?:-\d+)?$/, /^lock\.(\d+)\.tmp$/, /^lock\.stale\.(\d+)$/, /^spec\.json\.(\d+)\.tmp$/, /\.merge-(\d+)\.tmp$/];

/** The pid in a temporary file's name, or null when the name is not one of a temporary file. */
export function temporaryPid(name: string): number | null {
  for (const re of TEMPORARY) {
    const m = re.exec(name);
    if (m) return Number(m[1]);
  }
  return null;
}

/**
 * Removes the temporary files in `dir` left by processes that are no longer running (a kill -9,
 * a Ctrl-C, a full disk). Those of live processes stay: they may be writing them now. Returns the
 * names removed.
 */
export function removeStaleTemporaries(dir: string): string[] {
  let names: string[];
  try { names = readdirSync(dir); } catch { return []; }
  const removed: string[] = [];
  for (const name of names) {
    const pid = temporaryPid(name);
    if (pid === null || pid === process.pid || pidAlive(pid)) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch { /* gone meanwhile, or not ours to remove: left as it is */ }
  }
  return removed;
}
