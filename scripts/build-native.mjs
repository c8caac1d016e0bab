// Builds the native engine (binding.gyp -> build/Release/narrowsweep.node) with node-gyp.
// It is the package's `install` script, so it never fails: when the addon cannot be built (no
// compiler, no headers, ...) it prints one plain line and exits 0, and narrowsweep falls back to the
// wasm engine. The full compiler output goes to build/native-build.log.
//   --verbose   also stream node-gyp's output
//   --strict    exit 1 when the build fails (for CI)
// NARROWSWEEP_SKIP_NATIVE=1 skips the build.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const verbose = args.has('--verbose');
const strict = args.has('--strict');
const logPath = join(root, 'build', 'native-build.log');

function finish(ok, text) {
  console.log(`narrowsweep: ${text}`);
  process.exit(ok || !strict ? 0 : 1);
}

function lastErrorLine(log) {
  const lines = log.split('\n').map((l) => l.trim()).filter(Boolean);
  const pick = lines.find((l) => /\berror:/i.test(l) && !l.startsWith('gyp'))
    ?? lines.find((l) => l.startsWith('gyp ERR! stack Error:'))?.slice('gyp ERR! stack '.length)
    ?? lines.find((l) => l.startsWith('gyp ERR!'))?.slice('gyp ERR! '.length)
    ?? lines[lines.length - 1]
    ?? 'unknown error';
  return pick.length > 160 ? `${pick.slice(0, 157)}...` : pick;
}

/** Node's headers shipped with this node binary (Debian: /usr/include/node), so node-gyp needs no download. */
function localNodedir() {
  if (process.env.npm_config_nodedir) return null; // npm passes its own setting
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

async function main() {
  const skip = process.env.NARROWSWEEP_SKIP_NATIVE;
  if (skip !== undefined && skip !== '' && skip !== '0') {
    finish(true, 'native addon build skipped (NARROWSWEEP_SKIP_NATIVE); the wasm engine will be used');
    return;
  }
  let nodeGyp;
  try {
    nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    finish(false, 'native addon not built (node-gyp is not installed); the wasm engine will be used');
    return;
  }
  const nodedir = localNodedir();
  // configure + build, not rebuild: rebuild deletes build/, which also holds build/kernel.wasm.
  const chunks = [];
  let code = 0;
  for (const step of ['configure', 'build']) {
    const gypArgs = [nodeGyp, step, '--release', ...(step === 'build' ? ['--jobs=max'] : []), ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
    const child = spawn(process.execPath, gypArgs, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk) => {
        chunks.push(chunk);
        if (verbose) process.stderr.write(chunk);
      });
    }
    code = await new Promise((resolve) => {
      child.on('error', (err) => { chunks.push(Buffer.from(`spawn error: ${err.message}\n`)); resolve(-1); });
      child.on('close', (c) => resolve(c ?? -1));
    });
    if (code !== 0) break;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    mkdirSync(join(root, 'build'), { recursive: true });
    writeFileSync(logPath, text);
  } catch { /* the log is a convenience */ }
  if (code !== 0) {
    finish(false, `native addon not built (${lastErrorLine(text)}; see build/native-build.log); the wasm engine will be used`);
    return;
  }
  // Load it once here, so that a binary that builds but cannot load is reported now.
  try {
    const addon = createRequire(import.meta.url)(join(root, 'build', 'Release', 'narrowsweep.node'));
    const info = addon.info();
    finish(true, `native addon built (kernels: ${info.compiled.join(', ')}; this CPU uses ${info.build})`);
  } catch (err) {
    finish(false, `native addon built but does not load (${String(err?.message ?? err).split('\n')[0]}); the wasm engine will be used`);
  }
}

main().catch((err) => finish(false, `native addon not built (${String(err?.message ?? err).split('\n')[0]}); the wasm engine will be used`));
