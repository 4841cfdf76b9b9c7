// Prefill interpolator: TTFT and throughput/GPU as functions of ISL.
//
// Same curve as scipy interp1d(kind="cubic"): the C2 cubic spline through the points with
// "not-a-knot" ends (the first two and last two pieces are one cubic each), points sorted by ISL.
// Outside the measured range the query ISL is clamped to [min ISL, max ISL], so the endpoint
// values are returned: no extrapolation, as the original does.
import { InputError } from '../util/errors.js';
import type { PrefillInterpolator, PrefillProfile } from './types.js';

/** A not-a-knot cubic spline y(x) in Hermite form (value and slope at each knot). */
export class NotAKnotSpline {
  private readonly xs: number[];
  private readonly ys: number[];
  private readonly slopes: number[];

  /** `xs` strictly increasing, at least 4 points. */
  constructor(xs: number[], ys: number[]) {
    const n = xs.length;
    if (n < 4 || ys.length !== n) throw new Error(`NotAKnotSpline needs >= 4 (x, y) pairs, got ${n}/${ys.length}.`);
    for (let i = 1; i < n; i++) if (!(xs[i]! > xs[i - 1]!)) throw new Error('NotAKnotSpline needs strictly increasing x.');
    this.xs = xs.slice();
    this.ys = ys.slice();
    this.slopes = notAKnotSlopes(this.xs, this.ys);
  }

  /** Value at x; x must lie within [xs[0], xs[n-1]] (callers clamp). */
  at(x: number): number {
    const { xs, ys, slopes } = this;
    // Interval i with xs[i] <= x <= xs[i+1] (binary search).
    let lo = 0;
    let hi = xs.length - 2;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (xs[mid]! <= x) lo = mid;
      else hi = mid - 1;
    }
    const h = xs[lo + 1]! - xs[lo]!;
    const t = (x - xs[lo]!) / h;
    const t2 = t * t;
    const t3 = t2 * t;
    return (
      (2 * t3 - 3 * t2 + 1) * ys[lo]! +
      (t3 - 2 * t2 + t) * h * slopes[lo]! +
      (-2 * t3 + 3 * t2) * ys[lo + 1]! +
      (t3 - t2) * h * slopes[lo + 1]!
    );
  }
}

/**
 * Knot slopes of the C2 cubic spline with not-a-knot ends. Interior rows are the usual C2
 * continuity equations; the first/last rows say the third derivative is continuous at the
 * second and second-to-last knots.
 */
function notAKnotSlopes(xs: number[], ys: number[]): number[] {
  const n = xs.length;
  const h = (i: number) => xs[i + 1]! - xs[i]!;
  const d = (i: number) => (ys[i + 1]! - ys[i]!) / h(i);
  const a: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const b = new Array<number>(n).fill(0);
  const h0 = h(0);
  const h1 = h(1);
  a[0]![0] = h1;
  a[0]![1] = h0 + h1;
  b[0] = ((h0 + 2 * (h0 + h1)) * h1 * d(0) + h0 * h0 * d(1)) / (h0 + h1);
  for (let i = 1; i < n - 1; i++) {
    a[i]![i - 1] = h(i);
    a[i]![i] = 2 * (h(i - 1) + h(i));
    a[i]![i + 1] = h(i - 1);
    b[i] = 3 * (h(i) * d(i - 1) + h(i - 1) * d(i));
  }
  const hl = h(n - 2);
  const hp = h(n - 3);
  a[n - 1]![n - 2] = hl + hp;
  a[n - 1]![n - 1] = hp;
  b[n - 1] = (hl * hl * d(n - 3) + (2 * (hp + hl) + hl) * hp * d(n - 2)) / (hp + hl);
  return solveDense(a, b);
}

/** Gaussian elimination with partial pivoting (n is a few dozen at most). */
function solveDense(a: number[][], b: number[]): number[] {
  const n = b.length;
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[piv]![col]!)) piv = r;
    [a[col], a[piv]] = [a[piv]!, a[col]!];
    [b[col], b[piv]] = [b[piv]!, b[col]!];
    const p = a[col]![col]!;
    if (p === 0) throw new Error('singular spline system');
    for (let r = col + 1; r < n; r++) {
      const f = a[r]![col]! / p;
      if (f === 0) continue;
      for (let c = col; c < n; c++) a[r]![c]! -= f * a[col]![c]!;
      b[r]! -= f * b[col]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r]!;
    for (let c = r + 1; c < n; c++) s -= a[r]![c]! * x[c]!;
    x[r] = s / a[r]![r]!;
  }
  return x;
}

export function buildPrefillInterpolator(profile: PrefillProfile): PrefillInterpolator {
  if (profile.isl.length < 4) {
    throw new InputError(`prefill profile: ${profile.isl.length} points; the cubic prefill interpolator needs at least 4 distinct ISLs.`);
  }
  const order = profile.isl.map((_, i) => i).sort((i, j) => profile.isl[i]! - profile.isl[j]!);
  const isl = order.map((i) => profile.isl[i]!);
  for (let i = 1; i < isl.length; i++) {
    if (isl[i] === isl[i - 1]) throw new InputError(`prefill profile: ISL ${isl[i]} appears twice; each ISL must appear once for the cubic interpolator.`);
  }
  const ttft = new NotAKnotSpline(isl, order.map((i) => profile.ttftMs[i]!));
  const thpt = new NotAKnotSpline(isl, order.map((i) => profile.thptPerGpu[i]!));
  const minIsl = isl[0]!;
  const maxIsl = isl[isl.length - 1]!;
  const clamp = (q: number) => {
    if (Number.isNaN(q)) throw new Error('prefill interpolator: ISL is NaN');
    return Math.min(maxIsl, Math.max(minIsl, q));
  };
  return {
    minIsl,
    maxIsl,
    ttftMs: (q) => ttft.at(clamp(q)),
    thptPerGpu: (q) => thpt.at(clamp(q)),
  };
}
