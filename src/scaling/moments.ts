// Request-length moments from the frontend's ISL and OSL histograms. The KV a decode pool holds
// depends on E[isl·osl], E[osl²] and, for its spread, E[osl³]: the means alone under-count it
// whenever lengths vary. A Prometheus histogram window (increase() of its _bucket series) gives
// the counts per bucket; inside a bucket the values are taken as uniform, the +Inf bucket's mass
// sits where the window's exact sum puts it, and the moments are rescaled so the first one equals
// the exact mean (sum / count), which keeps the shape the buckets show.

/** One histogram over a window, as increase() of its series gives it. */
export interface HistogramWindow {
  /** Finite upper bounds, increasing. */
  le: number[];
  /** Observations <= each bound, then the total (the +Inf bucket): le.length + 1 entries, non-decreasing. */
  cumulative: number[];
  /** Sum of the observed values. */
  sum: number;
}

/** E[X], E[X²], E[X³] of a length distribution (tokens, tokens², tokens³). */
export interface Moments {
  m1: number;
  m2: number;
  m3: number;
}

/** Shape of a length distribution: E[X²]/E[X]² and E[X³]/E[X]³ (scale-free, so a forecast mean can carry it). */
export interface LengthShape {
  r2: number;
  r3: number;
}

/** What the planner assumes without histograms: exponential lengths (E[X²] = 2E[X]², E[X³] = 6E[X]³). */
export const EXPONENTIAL_SHAPE: LengthShape = { r2: 2, r3: 6 };

/** Most buckets a histogram may have (the frontend's have 10-18). */
export const MAX_HISTOGRAM_BUCKETS = 1000;

/** Why a histogram window cannot be used, or undefined when it can. */
export function histogramProblem(h: HistogramWindow): string | undefined {
  const n = h.le.length;
  if (n === 0 || n > MAX_HISTOGRAM_BUCKETS) return `must have 1 to ${MAX_HISTOGRAM_BUCKETS} finite bounds`;
  if (h.cumulative.length !== n + 1) return `'cumulative' must have one entry per bound plus the total (${n + 1}), got ${h.cumulative.length}`;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(h.le[i]) || (i > 0 && !(h.le[i] > h.le[i - 1]))) return `'le' must be finite and increasing`;
  }
  for (let i = 0; i <= n; i++) {
    const c = h.cumulative[i];
    if (!Number.isFinite(c) || c < 0 || (i > 0 && c < h.cumulative[i - 1])) return `'cumulative' must be finite, >= 0 and non-decreasing`;
  }
  if (!Number.isFinite(h.sum) || h.sum < 0) return `'sum' must be a finite number >= 0`;
  return undefined;
}

/** E[X^k] of a uniform distribution on [a, b]. */
function uniformMoment(a: number, b: number, k: number): number {
  if (b <= a) return a ** k;
  return (b ** (k + 1) - a ** (k + 1)) / ((k + 1) * (b - a));
}

/**
 * Moments of the values a histogram window saw, or undefined when it saw none (or is malformed).
 * Values are non-negative (token counts), so the first bucket spans [0, le[0]].
 */
export function histogramMoments(h: HistogramWindow): Moments | undefined {
  if (histogramProblem(h) !== undefined) return undefined;
  const n = h.le.length;
  const total = h.cumulative[n];
  if (!(total > 0)) return undefined;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let finiteCount = 0;
  for (let i = 0; i < n; i++) {
    const count = h.cumulative[i] - (i > 0 ? h.cumulative[i - 1] : 0);
    if (count <= 0) continue;
    const lo = i > 0 ? Math.max(0, h.le[i - 1]) : 0;
    const hi = Math.max(lo, h.le[i]);
    s1 += count * uniformMoment(lo, hi, 1);
    s2 += count * uniformMoment(lo, hi, 2);
    s3 += count * uniformMoment(lo, hi, 3);
    finiteCount += count;
  }
  const overflow = total - finiteCount;
  if (overflow > 0) {
    // The +Inf bucket: its mean is what the exact sum leaves, never below the last bound.
    const last = Math.max(0, h.le[n - 1]);
    const v = Math.max(last, (h.sum - s1) / overflow);
    s1 += overflow * v;
    s2 += overflow * v * v;
    s3 += overflow * v * v * v;
  }
  const est = s1 / total;
  const exact = h.sum / total;
  if (!(est > 0) || !(exact > 0)) return { m1: exact, m2: exact * exact, m3: exact ** 3 };
  const k = exact / est;
  return { m1: exact, m2: (s2 / total) * k * k, m3: (s3 / total) * k * k * k };
}

/** The scale-free shape of moments; a degenerate input (mean 0) reads as a constant length. */
export function shapeOf(m: Moments): LengthShape {
  if (!(m.m1 > 0)) return { r2: 1, r3: 1 };
  // Jensen: E[X²] >= E[X]² and E[X³] >= E[X]·E[X²] for non-negative X; rounding must not break it.
  const r2 = Math.max(1, m.m2 / (m.m1 * m.m1));
  const r3 = Math.max(r2, m.m3 / m.m1 ** 3);
  return { r2, r3 };
}

/** Moments of a distribution with this shape and mean `mean`. */
export function withMean(shape: LengthShape, mean: number): Moments {
  return { m1: mean, m2: shape.r2 * mean * mean, m3: shape.r3 * mean ** 3 };
}

/** The bucket-wise sum of histogram windows with the same bounds (the others are left out). */
export function poolHistograms(windows: readonly HistogramWindow[]): HistogramWindow | undefined {
  const first = windows[0];
  if (first === undefined) return undefined;
  const le = first.le;
  const cumulative = new Array<number>(le.length + 1).fill(0);
  let sum = 0;
  for (const w of windows) {
    if (w.le.length !== le.length || w.le.some((b, i) => b !== le[i])) continue;
    for (let i = 0; i < cumulative.length; i++) cumulative[i] += w.cumulative[i];
    sum += w.sum;
  }
  return { le: [...le], cumulative, sum };
}

/** Observations in a histogram window (its +Inf bucket). */
export function histogramCount(h: HistogramWindow): number {
  return h.cumulative[h.cumulative.length - 1] ?? 0;
}

/**
 * Fraction of a window's observations above x, reading the bucket that holds x as uniform (as
 * PromQL's histogram_quantile does); the +Inf bucket counts as above. NaN for an empty window.
 */
export function fractionAbove(h: HistogramWindow, x: number): number {
  const total = histogramCount(h);
  if (!(total > 0)) return Number.NaN;
  let below = 0;
  for (let i = 0; i < h.le.length; i++) {
    const lo = i > 0 ? h.le[i - 1] : Math.min(0, h.le[0]);
    const hi = h.le[i];
    const before = i > 0 ? h.cumulative[i - 1] : 0;
    if (x >= hi) {
      below = h.cumulative[i];
      continue;
    }
    if (x > lo && hi > lo) below = before + (h.cumulative[i] - before) * ((x - lo) / (hi - lo));
    else below = before;
    break;
  }
  return Math.min(1, Math.max(0, 1 - below / total));
}
