// Engine selection, outside the core: the core receives an Engine and never loads one itself.
//
// `auto` takes the native addon when it loads, else the wasm kernel, else (float64 only) the
// TypeScript reference, and says once per process on stderr which engine it fell back to.
// An explicit name gives exactly that engine or throws an Error that says why not.
import { isMainThread } from 'node:worker_threads';
import { referenceEngine } from '../core/reference.js';
import type { Dtype, Engine, EngineName } from '../core/types.js';
import { loadNativeEngine, nativeInfo } from './native.js';

export interface SelectOptions {
  /** Do not print the fallback notice (also NARROWSWEEP_QUIET_ENGINE=1). */
  quiet?: boolean;
  /** Treat the native addon as missing (also NARROWSWEEP_NO_NATIVE=1). */
  noNative?: boolean;
}

const ENGINES: ReadonlyArray<'auto' | EngineName> = ['auto', 'native', 'wasm', 'ts', 'tfjs'];
let noticeGiven = false;

function message(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err);
}

function notice(text: string, opts: SelectOptions): void {
  const env = process.env.NARROWSWEEP_QUIET_ENGINE;
  const quiet = opts.quiet === true || (env !== undefined && env !== '' && env !== '0');
  // Worker threads stay silent: the main thread speaks for the process.
  if (quiet || noticeGiven || !isMainThread) return;
  noticeGiven = true;
  process.stderr.write(`narrowsweep: ${text}\n`);
}

async function wasmEngine(dtype: Dtype): Promise<Engine> {
  let mod: { loadWasmEngine(dtype: Dtype): Promise<Engine> };
  try {
    // Lazy: the wasm module (and its .wasm file) is only read when it is needed.
    mod = (await import('./wasm.js')) as typeof mod;
  } catch (err) {
    throw new Error(`wasm engine unavailable: ${message(err)}`);
  }
  try {
    return await mod.loadWasmEngine(dtype);
  } catch (err) {
    throw new Error(`wasm engine unavailable: ${message(err)}`);
  }
}

async function tfjsEngine(dtype: Dtype): Promise<Engine> {
  if (dtype !== 'float32') throw new Error('engine tfjs computes in float32 only; use dtype float32');
  let mod: { loadTfjsEngine(): Promise<Engine> };
  try {
    mod = (await import('./tfjs.js')) as typeof mod;
  } catch (err) {
    throw new Error(`tfjs engine unavailable: ${message(err)}`);
  }
  return mod.loadTfjsEngine();
}

function tsEngine(dtype: Dtype): Engine {
  if (dtype !== 'float64') throw new Error('engine ts (the TypeScript reference) computes in float64 only');
  return referenceEngine;
}

/** The engine to run on. See the file comment for `auto`; other names are exact. */
export async function selectEngine(name: 'auto' | EngineName, dtype: Dtype, opts: SelectOptions = {}): Promise<Engine> {
  if (!ENGINES.includes(name)) throw new Error(`engine: expected one of ${ENGINES.join(', ')}, got "${String(name)}"`);
  if (dtype !== 'float64' && dtype !== 'float32') throw new Error(`dtype: expected float64 or float32, got "${String(dtype)}"`);
  switch (name) {
    case 'native': {
      const engine = loadNativeEngine(dtype, { disabled: opts.noNative === true });
      if (engine === null) throw new Error(`native engine unavailable: ${nativeInfo({ disabled: opts.noNative === true }).reason ?? 'unknown reason'}`);
      return engine;
    }
    case 'wasm': return wasmEngine(dtype);
    case 'tfjs': return tfjsEngine(dtype);
    case 'ts': return tsEngine(dtype);
    case 'auto': break;
  }
  const native = loadNativeEngine(dtype, { disabled: opts.noNative === true });
  if (native !== null) return native;
  const why = nativeInfo({ disabled: opts.noNative === true }).reason ?? 'unknown reason';
  try {
    const wasm = await wasmEngine(dtype);
    notice(`native engine unavailable (${why}); using wasm`, opts);
    return wasm;
  } catch (err) {
    if (dtype !== 'float64') {
      throw new Error(`no float32 engine available: native engine unavailable (${why}); ${message(err)}`);
    }
    notice(`native engine unavailable (${why}); ${message(err)}; using the slow TypeScript reference engine`, opts);
    return referenceEngine;
  }
}
