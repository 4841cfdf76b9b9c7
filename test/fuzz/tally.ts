// Counting for the fuzz suite: each surface reports the cases it tried and how many ended
// cleanly, on stdout and (with FUZZ_SUMMARY=<file>) as JSON lines for the README's table.
// FUZZ_RUNS scales every property's number of runs (default 1 = the CI budget).
import { appendFileSync } from 'node:fs';
import { afterAll } from 'vitest';
import { InputError } from '../../src/util/errors.js';

export const RUN_SCALE = Math.max(0.1, Number(process.env.FUZZ_RUNS ?? 1) || 1);
/** Fixed seed: failures reproduce; FUZZ_SEED explores other cases. */
export const SEED = Number(process.env.FUZZ_SEED ?? 20261129);

export function runs(base: number): number {
  return Math.max(1, Math.round(base * RUN_SCALE));
}

/** A test's time limit, scaled with FUZZ_RUNS (the CI budget fits the default 60 s). */
export function limitMs(baseMs = 60_000): number {
  return Math.round(baseMs * Math.max(1, RUN_SCALE));
}

export interface Tally {
  /** Count one case; `check` throws (an expect) when the case did not end cleanly. */
  case<T>(check: () => T): T;
  caseAsync<T>(check: () => Promise<T>): Promise<T>;
}

export function tally(surface: string): Tally {
  let tried = 0;
  let clean = 0;
  afterAll(() => {
    const line = { surface, tried, clean };
    process.stdout.write(`fuzz ${surface}: ${clean}/${tried} clean\n`);
    if (process.env.FUZZ_SUMMARY) appendFileSync(process.env.FUZZ_SUMMARY, JSON.stringify(line) + '\n');
  });
  return {
    case(check) {
      tried++;
      const out = check();
      clean++;
      return out;
    },
    async caseAsync(check) {
      tried++;
      const out = await check();
      clean++;
      return out;
    },
  };
}

/**
 * The outcome every bad input must have: an InputError whose message is one line that names
 * the input (`origin`) and is not a stack trace.
 */
export function expectOneSentence(err: unknown, origin: string | RegExp): void {
  if (!(err instanceof InputError)) throw new Error(`expected an InputError, got ${(err as Error)?.constructor?.name}: ${(err as Error)?.message ?? String(err)}`);
  const m = err.message;
  if (m.includes('\n')) throw new Error(`message spans lines: ${JSON.stringify(m.slice(0, 300))}`);
  if (/\n\s+at |\bat .+\.(ts|js):\d+/.test(m)) throw new Error(`message holds a stack trace: ${m.slice(0, 300)}`);
  if (typeof origin === 'string' ? !m.includes(origin) : !origin.test(m)) throw new Error(`message does not name ${origin}: ${m.slice(0, 300)}`);
  if (m.length > 4000) throw new Error(`message is ${m.length} characters long`);
}
