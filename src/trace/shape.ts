// Reshape a streamed trace without loading it: slice a time window, scale the arrival rate while
// keeping its shape over time, compress time.
import { InputError } from '../util/errors.js';
import { seededRandom } from '../util/random.js';
import type { TraceRequest } from './read.js';

export interface TraceShaping {
  /** Keep requests with t >= startS (s of trace time); they are re-based to start at 0. */
  startS?: number;
  /** Keep requests with t < startS + durationS. */
  durationS?: number;
  /**
   * Multiply the arrival rate: each request is kept floor(x) times, plus once more with
   * probability frac(x) from a seeded generator (x < 1 thins, x > 1 replicates; copies are spread
   * over the gap to the next request).
   */
  loadScale?: number;
  /** Divide every time by this factor (2 = twice as fast). */
  speedup?: number;
  seed?: number;
}

export function checkShaping(s: TraceShaping): void {
  const positive = (name: string, v: number | undefined) => {
    if (v !== undefined && !(v > 0 && Number.isFinite(v))) throw new InputError(`--${name} must be a number > 0, got ${v}.`);
  };
  positive('load-scale', s.loadScale);
  positive('speedup', s.speedup);
  positive('duration', s.durationS);
  if (s.startS !== undefined && !(s.startS >= 0 && Number.isFinite(s.startS))) throw new InputError(`--start must be a number >= 0, got ${s.startS}.`);
}

/** The simulated window's length after shaping, when the slice fixes it. */
export function shapedDuration(s: TraceShaping): number | undefined {
  return s.durationS !== undefined ? s.durationS / (s.speedup ?? 1) : undefined;
}

export async function* shapeTrace(trace: AsyncIterable<TraceRequest> | Iterable<TraceRequest>, s: TraceShaping): AsyncGenerator<TraceRequest> {
  checkShaping(s);
  const start = s.startS ?? 0;
  const end = s.durationS !== undefined ? start + s.durationS : Infinity;
  const scale = s.loadScale ?? 1;
  const speedup = s.speedup ?? 1;
  const whole = Math.floor(scale);
  const frac = scale - whole;
  const random = seededRandom(s.seed ?? 1);
  // Copies of one request are spread evenly over the gap to the next original request, so a
  // replicated trace keeps its rate curve without turning every arrival into a synchronized burst.
  let held: { t: number; isl: number; osl: number; copies: number } | null = null;
  const release = function* (nextT: number): Generator<TraceRequest> {
    if (!held) return;
    const gap = Number.isFinite(nextT) ? nextT - held.t : 0;
    for (let i = 0; i < held.copies; i++) yield { t: held.t + (gap * i) / held.copies, isl: held.isl, osl: held.osl };
    held = null;
  };
  for await (const r of trace as AsyncIterable<TraceRequest>) {
    if (r.t < start) continue;
    if (r.t >= end) break;
    const copies = whole + (frac > 0 && random() < frac ? 1 : 0);
    if (copies === 0) continue;
    const t = (r.t - start) / speedup;
    yield* release(t);
    if (copies === 1) yield { t, isl: r.isl, osl: r.osl };
    else held = { t, isl: r.isl, osl: r.osl, copies };
  }
  yield* release(Infinity);
}
