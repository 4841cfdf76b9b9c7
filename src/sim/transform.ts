// Reshape a streamed trace without loading it: slice a time window, scale the arrival rate while
// keeping its shape over time, compress time.
import { InputError } from '../util/errors.js';
import { seededRandom } from './stats.js';
import type { TraceRequest } from './types.js';

export interface TraceShaping {
  /** Keep requests with t >= startS (s of trace time); they are re-based to start at 0. */
  startS?: number;
  /** Keep requests with t < startS + durationS. */
  durationS?: number;
  /**
   * Multiply the arrival rate: each request is kept floor(x) times, plus once more with
   * probability frac(x) from a seeded generator (x < 1 thins, x > 1 replicates).
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
  for await (const r of trace as AsyncIterable<TraceRequest>) {
    if (r.t < start) continue;
    if (r.t >= end) break;
    const copies = whole + (frac > 0 && random() < frac ? 1 : 0);
    if (copies === 0) continue;
    const shaped = { t: (r.t - start) / speedup, isl: r.isl, osl: r.osl };
    for (let i = 0; i < copies; i++) yield shaped;
  }
}
