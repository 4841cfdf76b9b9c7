// Reshape a streamed trace without loading it: slice a time window, scale the arrival rate while
// keeping its shape over time, compress time. Works on batches (the simulator's input); the
// per-request form wraps it.
import { InputError } from '../util/errors.js';
import { seededRandom } from '../util/random.js';
import { MAX_TRACE_TIME_S, newTraceBatch, type TraceBatch, type TraceRequest } from './read.js';

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

/** What shaping did to the trace, so an empty result can say why. */
export interface ShapingStats {
  /** Requests read from the source. */
  read: number;
  /** Before --start. */
  beforeStart: number;
  /** Time of the last request read (trace time), -1 when none. */
  lastReadT: number;
  /** Dropped by thinning (no copy kept). */
  thinned: number;
  /** Requests handed on (copies included). */
  kept: number;
}

export const newShapingStats = (): ShapingStats => ({ read: 0, beforeStart: 0, lastReadT: -1, thinned: 0, kept: 0 });

/** Largest --load-scale: every request is copied this many times at most. */
export const MAX_LOAD_SCALE = 1000;

export function checkShaping(s: TraceShaping): void {
  const positive = (name: string, v: number | undefined) => {
    if (v !== undefined && !(v > 0 && Number.isFinite(v))) throw new InputError(`--${name} must be a number > 0, got ${v}.`);
  };
  positive('load-scale', s.loadScale);
  positive('speedup', s.speedup);
  positive('duration', s.durationS);
  if (s.startS !== undefined && !(s.startS >= 0 && Number.isFinite(s.startS))) throw new InputError(`--start must be a number >= 0, got ${s.startS}.`);
  if (s.loadScale !== undefined && s.loadScale > MAX_LOAD_SCALE) {
    throw new InputError(`--load-scale ${s.loadScale} is more than ${MAX_LOAD_SCALE}; scale the load by at most ${MAX_LOAD_SCALE} (or shorten the trace with --duration and use --speedup).`);
  }
  if (s.durationS !== undefined && s.durationS / (s.speedup ?? 1) > MAX_TRACE_TIME_S) {
    throw new InputError(`--duration ${s.durationS} (over --speedup ${s.speedup ?? 1}) is more than a year of simulated time; simulate at most ${MAX_TRACE_TIME_S} s.`);
  }
}

/** The simulated window's length after shaping, when the slice fixes it. */
export function shapedDuration(s: TraceShaping): number | undefined {
  return s.durationS !== undefined ? s.durationS / (s.speedup ?? 1) : undefined;
}

/** The shaping of one stream; synchronous per batch so its loop stays fast. */
class Shaper {
  readonly ready: TraceBatch[] = [];
  /** Set once a request at or past the window's end was seen. */
  stopped = false;
  private readonly start: number;
  private readonly end: number;
  private readonly speedup: number;
  private readonly whole: number;
  private readonly frac: number;
  private readonly random: () => number;
  // Copies of one request are spread evenly over the gap to the next kept request, so a
  // replicated trace keeps its rate curve without turning every arrival into a synchronized burst.
  private held = false;
  private heldT = 0;
  private heldIsl = 0;
  private heldOsl = 0;
  private heldCopies = 0;
  private out = newTraceBatch();

  constructor(
    s: TraceShaping,
    private readonly stats: ShapingStats,
  ) {
    this.start = s.startS ?? 0;
    this.end = s.durationS !== undefined ? this.start + s.durationS : Infinity;
    this.speedup = s.speedup ?? 1;
    const scale = s.loadScale ?? 1;
    this.whole = Math.floor(scale);
    this.frac = scale - this.whole;
    this.random = seededRandom(s.seed ?? 1);
  }

  private emit(t: number, isl: number, osl: number): void {
    if (t > MAX_TRACE_TIME_S) {
      throw new InputError(`--speedup ${this.speedup} stretches the trace to ${t} s, more than a year; use a factor that keeps it within ${MAX_TRACE_TIME_S} s.`);
    }
    this.stats.kept++;
    const o = this.out;
    const n = o.length++;
    o.t[n] = t;
    o.isl[n] = isl;
    o.osl[n] = osl;
    if (o.length === o.t.length) {
      this.ready.push(o);
      this.out = newTraceBatch();
    }
  }

  private release(nextT: number): void {
    if (!this.held) return;
    const gap = Number.isFinite(nextT) ? nextT - this.heldT : 0;
    for (let i = 0; i < this.heldCopies; i++) this.emit(this.heldT + (gap * i) / this.heldCopies, this.heldIsl, this.heldOsl);
    this.held = false;
  }

  shape(b: TraceBatch): void {
    const stats = this.stats;
    for (let i = 0; i < b.length; i++) {
      const rt = b.t[i];
      stats.read++;
      if (rt < this.start) {
        stats.beforeStart++;
        continue;
      }
      if (rt >= this.end) {
        this.stopped = true;
        return;
      }
      const copies = this.whole + (this.frac > 0 && this.random() < this.frac ? 1 : 0);
      if (copies === 0) {
        stats.thinned++;
        continue;
      }
      const t = (rt - this.start) / this.speedup;
      this.release(t);
      if (copies === 1) this.emit(t, b.isl[i], b.osl[i]);
      else {
        this.held = true;
        this.heldT = t;
        this.heldIsl = b.isl[i];
        this.heldOsl = b.osl[i];
        this.heldCopies = copies;
      }
    }
  }

  /** Everything left once the input is over. */
  flush(): void {
    this.release(Infinity);
    if (this.out.length > 0) {
      this.ready.push(this.out);
      this.out = newTraceBatch();
    }
  }
}

/** Shape a stream of batches; `stats` (optional) is filled as it goes. */
export async function* shapeBatches(
  batches: AsyncIterable<TraceBatch> | Iterable<TraceBatch>,
  s: TraceShaping,
  stats: ShapingStats = newShapingStats(),
): AsyncGenerator<TraceBatch> {
  checkShaping(s);
  const identity = (s.startS ?? 0) === 0 && s.durationS === undefined && (s.loadScale ?? 1) === 1 && (s.speedup ?? 1) === 1;
  const shaper = new Shaper(s, stats);
  for await (const b of batches as AsyncIterable<TraceBatch>) {
    if (b.length > 0) stats.lastReadT = b.t[b.length - 1];
    if (identity) {
      stats.read += b.length;
      stats.kept += b.length;
      yield b;
      continue;
    }
    shaper.shape(b);
    while (shaper.ready.length > 0) yield shaper.ready.shift()!;
    if (shaper.stopped) break;
  }
  shaper.flush();
  while (shaper.ready.length > 0) yield shaper.ready.shift()!;
}

/** Requests to batches (for callers that hold requests as objects). */
export async function* toBatches(trace: AsyncIterable<TraceRequest> | Iterable<TraceRequest>): AsyncGenerator<TraceBatch> {
  let b = newTraceBatch();
  for await (const r of trace as AsyncIterable<TraceRequest>) {
    const n = b.length++;
    b.t[n] = r.t;
    b.isl[n] = r.isl;
    b.osl[n] = r.osl;
    if (b.length === b.t.length) {
      yield b;
      b = newTraceBatch();
    }
  }
  if (b.length > 0) yield b;
}

/** Per-request form of shapeBatches. */
export async function* shapeTrace(trace: AsyncIterable<TraceRequest> | Iterable<TraceRequest>, s: TraceShaping, stats?: ShapingStats): AsyncGenerator<TraceRequest> {
  for await (const b of shapeBatches(toBatches(trace), s, stats)) {
    for (let i = 0; i < b.length; i++) yield { t: b.t[i], isl: b.isl[i], osl: b.osl[i] };
  }
}
