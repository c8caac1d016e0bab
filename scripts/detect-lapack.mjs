// Prints 1 when LAPACK and BLAS from OpenBLAS can be compiled and linked into the native addon
// (Debian: libopenblas-dev and liblapacke-dev), else 0; binding.gyp reads it. A missing library is
// not an error: the addon is then built without them and uses its own kernels and the TypeScript
// linear algebra. NARROWSWEEP_NO_LAPACK=1 builds without them on purpose.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const off = process.env.NARROWSWEEP_NO_LAPACK;
if (off !== undefined && off !== '' && off !== '0') {
  process.stdout.write('0');
  process.exit(0);
}
const probe = `
#include <cblas.h>
#include <lapacke.h>
extern "C" void openblas_set_num_threads(int);
int main() {
  double a[4] = {2, 1, 1, 2}, w[2];
  openblas_set_num_threads(1);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 1, 1, 1, 1.0, a, 1, a, 1, 0.0, w, 1);
  return LAPACKE_dsyevd_2stage(LAPACK_COL_MAJOR, 'N', 'U', 2, a, 2, w) == 0 && LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', 2, a, 2) >= 0 ? 0 : 1;
}
`;
const dir = mkdtempSync(join(tmpdir(), 'narrowsweep-lapack-'));
let ok = false;
try {
  writeFileSync(join(dir, 'probe.cc'), probe);
  const cxx = process.env.CXX || 'g++';
  const build = spawnSync(cxx, ['probe.cc', '-o', 'probe', '-llapacke', '-lopenblas'], { cwd: dir, stdio: 'ignore' });
  ok = build.status === 0 && spawnSync(join(dir, 'probe'), [], { stdio: 'ignore' }).status === 0;
} catch {
  ok = false;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(ok ? '1' : '0');
