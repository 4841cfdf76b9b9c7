// Profile data: readers for both layouts the Dynamo profiler writes, and the interpolators the
// throughput planner queries.
import { buildDecodeInterpolator } from './decode.js';
import { buildPrefillInterpolator } from './prefill.js';
import type { DecodeGrid } from './decode.js';
import type { DecodeInterpolator, PrefillInterpolator, ProfileData } from './types.js';
import { InputError } from '../util/errors.js';

export type * from './types.js';
export { loadProfileDir, loadProfileConfigMap, KV_USAGE_SLACK, MIN_PREFILL_POINTS, MAX_PREFILL_POINTS, MAX_DECODE_POINTS, PROFILE_LIMITS } from './load.js';
export { readNpz, parseNpz, writeNpz, encodeNpz, parseNpy, type NpyArray, type NpzWriteArray } from './npz.js';
export { buildPrefillInterpolator } from './prefill.js';
export { buildDecodeInterpolator, buildDecodeGrid, DECODE_GRID_RESOLUTION, linspace, type DecodeGrid, type DecodeGridOptions } from './decode.js';
export { delaunay, withNeighbors, type Triangulation } from './delaunay.js';
export { CloughTocher2D } from './clough-tocher.js';

/**
 * How far below the fastest measured latency an interpolated one may fall. Cubic interpolants
 * overshoot between points (by 5% on the upstream H200 sweep); noisy sweeps overshoot far more
 * and can even promise a negative ITL that "meets" any target. Half the fastest measurement is
 * outside what any engine does, so such profile data is refused instead of sized from.
 */
export const MIN_INTERPOLATED_LATENCY_FRACTION = 0.5;

/** Samples per prefill spline piece when checking the curve stays physical. */
const PREFILL_CHECK_STEPS = 32;

const min = (values: ArrayLike<number>) => {
  let m = Infinity;
  for (let i = 0; i < values.length; i++) m = Math.min(m, values[i]!);
  return m;
};

/**
 * Refuse interpolants that leave the physical range: prefill TTFT and throughput over the
 * whole measured ISL range, and every cell of the decode ITL grid (the only values decode
 * queries read). Decode throughput is left alone: the original's grid dips below zero on real
 * sweeps and its sizing already treats such a cell as unusable.
 */
function checkPhysical(data: ProfileData, prefill: PrefillInterpolator, decode: DecodeInterpolator & { grid: DecodeGrid }): void {
  const isl = [...data.prefill.isl].sort((a, b) => a - b);
  const ttftFloor = MIN_INTERPOLATED_LATENCY_FRACTION * min(data.prefill.ttftMs);
  const thptFloor = MIN_INTERPOLATED_LATENCY_FRACTION * min(data.prefill.thptPerGpu);
  for (let i = 0; i + 1 < isl.length; i++) {
    for (let k = 0; k <= PREFILL_CHECK_STEPS; k++) {
      const q = isl[i]! + ((isl[i + 1]! - isl[i]!) * k) / PREFILL_CHECK_STEPS;
      const ttft = prefill.ttftMs(q);
      const thpt = prefill.thptPerGpu(q);
      if (!(ttft >= ttftFloor) || !(thpt >= thptFloor)) {
        const [what, v, floor] = !(ttft >= ttftFloor) ? ['TTFT', ttft, `${ttftFloor.toPrecision(3)} ms`] : ['throughput', thpt, `${thptFloor.toPrecision(3)} tokens/s/GPU`];
        throw new InputError(`${data.source.prefill}: the prefill curve through these points gives a ${what} of ${Number(v).toPrecision(4)} at ISL ${Math.round(q)}, below ${floor} (half the lowest measured); the sweep is too noisy or inconsistent for the cubic interpolator: re-profile or remove outliers.`);
      }
    }
  }
  const itlFloor = MIN_INTERPOLATED_LATENCY_FRACTION * min(data.decode.itlMs);
  const { grid } = decode;
  const r = grid.kvUsage.length;
  for (let i = 0; i < grid.itlMs.length; i++) {
    const itl = grid.itlMs[i]!;
    if (!(itl >= itlFloor)) {
      const kv = grid.kvUsage[i % r]!;
      const ctx = grid.contextLength[Math.floor(i / r)]!;
      throw new InputError(`${data.source.decode}: the decode points interpolate to an ITL of ${itl.toPrecision(4)} ms at KV usage ${kv.toFixed(2)}, context ${Math.round(ctx)}, below ${itlFloor.toPrecision(3)} ms (half the fastest measured); the sweep is too noisy or inconsistent to size decode from: re-profile or remove outliers.`);
    }
  }
}

/** The planner's interpolators over profile data, refused (InputError) when they leave the physical range. */
export function buildInterpolators(data: ProfileData): { prefill: PrefillInterpolator; decode: DecodeInterpolator } {
  const prefill = buildPrefillInterpolator(data.prefill);
  const decode = buildDecodeInterpolator(data.decode);
  checkPhysical(data, prefill, decode);
  return { prefill, decode };
}

/**
 * SLA targets the profile cannot meet at any load: below the fastest measured TTFT or ITL. The
 * planner still runs (upstream sizes decode at the emptiest cell), so these are warnings.
 */
export function unreachableTargets(targets: { ttftMs: number; itlMs: number }, data: ProfileData): string[] {
  const out: string[] = [];
  const ttft = min(data.prefill.ttftMs);
  const itl = min(data.decode.itlMs);
  if (targets.ttftMs < ttft) out.push(`ttft ${targets.ttftMs} ms is below the fastest TTFT in ${data.source.prefill} (${ttft.toPrecision(4)} ms at concurrency 1): no replica count meets it, so prefill is sized by throughput alone.`);
  if (targets.itlMs < itl) out.push(`itl ${targets.itlMs} ms is below the fastest ITL in ${data.source.decode} (${itl.toPrecision(4)} ms): no KV load meets it, so decode is sized at the emptiest profiled load, far above what the target implies.`);
  return out;
}
