// Flags of the benchmark scripts: `--name value`, checked like the CLI's (a bad number is one
// clear line and exit 2, never a NaN run).
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
