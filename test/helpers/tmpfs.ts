// A small tmpfs for tests of a full disk. Mounting needs root (and the right to mount); callers
// fall back to a write made to fail when `mountTmpfs` returns false.
import { spawnSync } from 'node:child_process';

/** Mounts a tmpfs of `size` (e.g. "200k") on the existing empty folder `dir`; false when that is not possible. */
export function mountTmpfs(dir: string, size: string): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' }).status === 0;
}

export function unmount(dir: string): void {
  if (spawnSync('umount', [dir], { stdio: 'ignore' }).status !== 0) spawnSync('umount', ['-l', dir], { stdio: 'ignore' });
}
