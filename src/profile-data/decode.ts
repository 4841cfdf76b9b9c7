// Decode interpolator: ITL and throughput/GPU over (KV usage, context length), the original's way.
//
// The scattered decode sweep is resampled once onto a 100x100 grid: KV usage linspace(0, 1, 100)
// by context length linspace(0, max measured context, 100). Inside the convex hull of the
// measured points the values come from the Clough-Tocher cubic on their Delaunay triangulation
// (in raw units, unscaled, as scipy's griddata does). Outside the hull (KV usage below the
// smallest measured at a context, above the largest, or context lengths below the shortest row)
// each cell takes the value of the Euclidean-nearest measured point in raw units; since context
// lengths are thousands of tokens and KV usage is at most 1, that is in practice the nearest
// point of the nearest measured context row. Queries never interpolate between cells: they read
// the nearest cell, and KV usage or context beyond the grid is clamped to its edge row/column.
//
// Where the sweep holds exact duplicate points or exactly cocircular quads (common: profilers
// reuse KV-usage values across context rows), the Delaunay triangulation is not unique, and the
// global gradient fit would carry a different choice across the grid (a few percent at some
// cells). Qhull (behind scipy) picks by its insertion order; delaunay.ts replays that order
// (qhull-order.ts) so our triangles are scipy's. Among duplicates outside the hull, the nearest
// fill keeps the highest index; scipy's k-d tree occasionally keeps another (0.13% at one cell
// of the llama H100 sweep).
import { fillNearestPoint } from './wasm-kernels.js';
import { CloughTocher2D } from './clough-tocher.js';
import type { Triangulation } from './delaunay.js';
import { InputError } from '../util/errors.js';
import type { DecodeBest, DecodeInterpolator, DecodeProfile } from './types.js';

export const DECODE_GRID_RESOLUTION = 100;

/** numpy.linspace(start, stop, num): start + i*step, with the last value exactly `stop`. */
export function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => start + i * step);
  out[num - 1] = stop;
  return out;
}

/** numpy.round: half to even. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface DecodeGrid {
  kvUsage: number[]; // xi, length R
  contextLength: number[]; // yi, length R
  itlMs: Float64Array; // [iy * R + ix]
  thptPerGpu: Float64Array;
}

export interface DecodeGridOptions {
  resolution?: number;
  /** Use this triangulation of the points instead of our Delaunay (e.g. Qhull's, for parity checks). */
  triangulation?: Triangulation;
}

export function buildDecodeGrid(profile: DecodeProfile, opts: DecodeGridOptions = {}): DecodeGrid {
  const resolution = opts.resolution ?? DECODE_GRID_RESOLUTION;
  const kvUsage = linspace(0, 1, resolution);
  const contextLength = linspace(0, Math.max(...profile.contextLength), resolution);
  let ct: CloughTocher2D;
  try {
    ct = new CloughTocher2D(profile.kvUsage, profile.contextLength, opts.triangulation);
  } catch (err) {
    throw new InputError(`decode profile: cannot triangulate the ${profile.kvUsage.length} (x_kv_usage, y_context_length) points (${(err as Error).message}); sweep at least two context lengths and two concurrencies.`);
  }
  const [itlMs, thptPerGpu] = ct.evaluateGrid(kvUsage, contextLength, [profile.itlMs, profile.thptPerGpu]) as [Float64Array, Float64Array];
  // Cells outside the hull (NaN) take the value of the nearest measured point. Ties only arise
  // between duplicate points; we take the highest index, scipy's kd-tree takes whichever its
  // tree layout visits first.
  fillNearestPoint(kvUsage, contextLength, profile.kvUsage, profile.contextLength, [
    { grid: itlMs, values: profile.itlMs },
    { grid: thptPerGpu, values: profile.thptPerGpu },
  ]);
  return { kvUsage, contextLength, itlMs, thptPerGpu };
}

export function buildDecodeInterpolator(profile: DecodeProfile, opts: DecodeGridOptions = {}): DecodeInterpolator & { grid: DecodeGrid } {
  const grid = buildDecodeGrid(profile, opts);
  const resolution = grid.kvUsage.length;
  const { kvUsage: xi, contextLength: yi } = grid;
  const cell = (v: number, axis: number[]) => {
    const i = roundHalfEven((v - axis[0]!) / (axis[1]! - axis[0]!));
    return Math.min(resolution - 1, Math.max(0, Number.isNaN(i) ? 0 : i));
  };
  const index = (concurrency: number, contextLength: number) => {
    const kv = (concurrency * contextLength) / profile.maxKvTokens;
    return cell(contextLength, yi) * resolution + cell(kv, xi);
  };
  return {
    grid,
    maxKvTokens: profile.maxKvTokens,
    maxContextLength: yi[resolution - 1]!,
    itlMs: (concurrency, contextLength) => grid.itlMs[index(concurrency, contextLength)]!,
    thptPerGpu: (concurrency, contextLength) => grid.thptPerGpu[index(concurrency, contextLength)]!,
    findBestThroughputPerGpu(itlTargetMs: number, contextLength: number): DecodeBest {
      // Scan the context row from full KV usage down; the interpolated ITL need not be monotone
      // in KV usage, so the first cell meeting the target wins. None meets it: the emptiest cell,
      // although it misses the target (the caller sees itlMs > target).
      const row = cell(contextLength, yi) * resolution;
      let ix = resolution - 1;
      while (ix > 0 && !(grid.itlMs[row + ix]! <= itlTargetMs)) ix--;
      return { thptPerGpu: grid.thptPerGpu[row + ix]!, itlMs: grid.itlMs[row + ix]!, kvUsage: xi[ix]! };
    },
  };
}
