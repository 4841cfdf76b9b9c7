// Profile data: readers for both layouts the Dynamo profiler writes, and the interpolators the
// throughput planner queries.
import { buildDecodeInterpolator } from './decode.js';
import { buildPrefillInterpolator } from './prefill.js';
import type { DecodeInterpolator, PrefillInterpolator, ProfileData } from './types.js';

export type * from './types.js';
export { loadProfileDir, loadProfileConfigMap, KV_USAGE_SLACK, MIN_PREFILL_POINTS } from './load.js';
export { readNpz, parseNpz, writeNpz, encodeNpz, parseNpy, type NpyArray, type NpzWriteArray } from './npz.js';
export { buildPrefillInterpolator } from './prefill.js';
export { buildDecodeInterpolator, buildDecodeGrid, DECODE_GRID_RESOLUTION, linspace, type DecodeGrid, type DecodeGridOptions } from './decode.js';
export { delaunay, withNeighbors, type Triangulation } from './delaunay.js';
export { CloughTocher2D } from './clough-tocher.js';

export function buildInterpolators(data: ProfileData): { prefill: PrefillInterpolator; decode: DecodeInterpolator } {
  return { prefill: buildPrefillInterpolator(data.prefill), decode: buildDecodeInterpolator(data.decode) };
}
