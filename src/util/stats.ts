// Sample statistics shared by the decision code, the predictors' scoring and the benchmarks.

/** Linear-interpolated quantile (numpy's default method) of unsorted values, q in [0, 1]; NaN for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
