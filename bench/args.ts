// Flags of the benchmark scripts: `--name value`, checked like the CLI's (a bad number is one
// clear line and exit 2, never a NaN run).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { numberFlag } from '../src/util/args.js';
import { InputError } from '../src/util/errors.js';

export function benchFlag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

export function benchNumber(script: string, name: string, fallback: number, opts: { integer?: boolean; min?: number } = {}): number {
  try {
    return numberFlag(script, name, benchFlag(name), opts) ?? fallback;
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    process.stderr.write(`${script}: ${err.message}\n`);
    process.exit(2);
  }
}

/**
 * The directory of larger data a benchmark reads (`--<flag> <dir>`, else `fallback`). When it is
 * missing or holds no file `wanted` matches, the script ends with one sentence and exit 2.
 */
export function benchDataDir(script: string, flag: string, fallback: string, wanted: RegExp, what: string): string {
  const dir = resolve(benchFlag(flag) ?? fallback);
  let found = false;
  try {
    found = existsSync(dir) && statSync(dir).isDirectory() && readdirSync(dir).some((f) => wanted.test(f));
  } catch {
    found = false;
  }
  if (!found) {
    process.stderr.write(`${script}: no ${what} in ${dir} (the directory is missing or holds none); pass --${flag} <dir> holding them.\n`);
    process.exit(2);
  }
  return dir;
}

/**
 * A fixed piece of work (a million square roots summed) timed in the running process, median of
 * `runs` after a warm-up: the baseline that benchmark timings are divided by, so that figures from
 * a loaded machine and a quiet one compare.
 */
export function referenceLoopMs(runs = 15): number {
  const once = () => {
    const t0 = performance.now();
    let sum = 0;
    for (let i = 0; i < 1_000_000; i++) sum += Math.sqrt(i);
    const ms = performance.now() - t0;
    return sum > 0 ? ms : NaN;
  };
  once();
  const times = Array.from({ length: runs }, once).sort((a, b) => a - b);
  return times[Math.floor(runs / 2)]!;
}
