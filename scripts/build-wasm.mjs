// Compiles the AssemblyScript kernel (assembly/kernel.ts) to dist/wasm/kernel.wasm, offline, with the
// assemblyscript devDependency: -O3, SIMD, imported memory (one memory per problem, sized once by
// src/engines/wasm.ts), the stub runtime (the kernel never allocates).
// Not under build/: node-gyp (scripts/build-native.mjs) owns that folder and wipes it on rebuild.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'wasm', 'kernel.wasm');

let asc;
try {
  asc = (await import('assemblyscript/asc')).default;
} catch (err) {
  // `npm ci --omit=dev` has no compiler; the wasm engine then reports itself unavailable.
  console.warn(`narrowsweep: assemblyscript not installed, wasm kernel not built (${err.message})`);
  process.exit(0);
}

mkdirSync(dirname(out), { recursive: true });
const args = [
  join(root, 'assembly', 'kernel.ts'),
  '--outFile', out,
  '-O3', '--noAssert',
  '--enable', 'simd',
  '--runtime', 'stub',
  '--importMemory', '--noExportMemory',
  '--use', 'abort=',
];
const { error, stderr } = await asc.main(args);
if (error) {
  console.error(stderr.toString());
  console.error(`narrowsweep: wasm kernel build failed: ${error.message}`);
  process.exit(1);
}
console.log(`narrowsweep: built ${out}`);
