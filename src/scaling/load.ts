// Load scaling of the original planner: per-worker router gauges, a sliding-window linear
// regression of latency against load, and ±1 steps when every worker is past the load at which it
// would hit the SLA (up) or every worker would stay well under it with one worker fewer (down).
import { SimpleLinearRegression } from 'ml-regression-simple-linear';
import type { DecodeWorkerSample, PrefillWorkerSample, RouterSnapshot } from './observation.js';

/**
 * Latency (ms) against load over the last `windowSize` observations (a ring buffer, so memory is
 * fixed). The fit is refreshed lazily, only after new observations arrived.
 */
export class LatencyRegression {
  private readonly xs: number[] = [];
  private readonly ys: number[] = [];
  private next = 0;
  private fit: { slope: number; intercept: number } | undefined;

  constructor(
    readonly windowSize: number,
    readonly minObservations: number,
  ) {}

  get size(): number {
    return this.xs.length;
  }

  add(x: number, y: number): void {
    if (this.xs.length < this.windowSize) {
      this.xs.push(x);
      this.ys.push(y);
    } else {
      this.xs[this.next] = x;
      this.ys[this.next] = y;
      this.next = (this.next + 1) % this.windowSize;
    }
    this.fit = undefined;
  }

  addAll(points: Iterable<[number, number]>): void {
    for (const [x, y] of points) this.add(x, y);
  }

  hasSufficientData(): boolean {
    return this.xs.length >= this.minObservations;
  }

  /** Slope and intercept, or undefined before `minObservations`. */
  coefficients(): { slope: number; intercept: number } | undefined {
    if (!this.hasSufficientData()) return undefined;
    if (this.fit === undefined) this.fit = fitLine(this.xs, this.ys);
    return this.fit;
  }

  /** The load at which latency reaches `slaMs` (see `loadAtSla`), or undefined before enough data. */
  loadAtSla(slaMs: number): number | undefined {
    const fit = this.coefficients();
    if (fit === undefined) return undefined;
    return loadAtSla(fit, this.xs, this.ys, slaMs);
  }
}

/** Ordinary least squares with intercept; a zero-variance x gives slope 0 (as sklearn does). */
export function fitLine(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number } {
  let same = true;
  for (let i = 1; i < xs.length; i++) if (xs[i] !== xs[0]) { same = false; break; }
  if (same) {
    let mean = 0;
    for (const y of ys) mean += y;
    return { slope: 0, intercept: mean / ys.length };
  }
  const reg = new SimpleLinearRegression(xs as number[], ys as number[]);
  return { slope: reg.slope, intercept: reg.intercept };
}

/**
 * Inverse of the fit: x = (SLA − b)/m, floored at 0. A non-increasing fit says nothing about where
 * the SLA breaks, so, like the original, fall back to the smallest load seen under the SLA (or the
 * smallest load overall when none was under it).
 */
export function loadAtSla(
  fit: { slope: number; intercept: number },
  xs: readonly number[],
  ys: readonly number[],
  slaMs: number,
): number {
  if (fit.slope > 0) return Math.max(0, (slaMs - fit.intercept) / fit.slope);
  let underSla = Infinity;
  let overall = Infinity;
  for (let i = 0; i < xs.length; i++) {
    overall = Math.min(overall, xs[i]);
    if (ys[i] < slaMs) underSla = Math.min(underSla, xs[i]);
  }
  return Math.max(0, Number.isFinite(underSla) ? underSla : overall);
}

export type StepCode = 'scale_up' | 'scale_down' | 'no_change' | 'insufficient_data' | 'sla_unreachable' | 'no_workers' | 'no_metrics' | 'hold_missing_load_gauge';

export interface LoadStep {
  /** Desired replicas, or undefined when this side has nothing to say. */
  desired: number | undefined;
  code: StepCode;
  /** The per-worker load threshold compared against (tokens or KV blocks). */
  target?: number;
  /** The scale-down boundary: target × (N−1)/N × sensitivity. */
  down_boundary?: number;
}

/**
 * The ±1 rule shared by both pools: up when every worker's load exceeds `target`, down (N > 1)
 * when every worker's load is under target·(N−1)/N·sensitivity, i.e. when N−1 workers could absorb
 * the load with a margin. Sensitivity 0 never scales down.
 */
export function stepDecision(loads: readonly number[], workers: number, target: number, sensitivityPct: number): LoadStep {
  if (workers === 0) return { desired: undefined, code: 'no_workers', target };
  if (loads.length === 0) return { desired: undefined, code: 'no_metrics', target };
  if (loads.every((l) => l > target)) return { desired: workers + 1, code: 'scale_up', target };
  if (workers > 1) {
    const downBoundary = ((target * (workers - 1)) / workers) * (sensitivityPct / 100);
    if (loads.every((l) => l < downBoundary)) return { desired: workers - 1, code: 'scale_down', target, down_boundary: downBoundary };
    // A worker whose load is unknown (NaN: its gauge is missing, see `workerLoad`) cannot vote for
    // removing a worker; say so when it is the only thing standing in the way.
    if (loads.some(Number.isNaN) && loads.every((l) => Number.isNaN(l) || l < downBoundary)) {
      return { desired: undefined, code: 'hold_missing_load_gauge', target, down_boundary: downBoundary };
    }
    return { desired: undefined, code: 'no_change', target, down_boundary: downBoundary };
  }
  return { desired: undefined, code: 'no_change', target };
}

/**
 * A worker's load gauge, or `missing` when the router did not report it: 0 upstream (the worker
 * counts as idle), NaN under hold_on_missing_data (unknown, which blocks a scale-down).
 */
export function workerLoad(value: number | undefined, missing: number): number {
  return value ?? missing;
}

/** Prefill: the SLA load is in (active prefill tokens + ISL); the per-worker target excludes the ISL. */
export function prefillStep(xSla: number | undefined, avgIsl: number, activeTokens: readonly number[], workers: number, sensitivityPct: number): LoadStep {
  if (xSla === undefined) return { desired: undefined, code: 'insufficient_data' };
  const target = xSla - avgIsl;
  if (target <= 0) return { desired: undefined, code: 'sla_unreachable', target };
  return stepDecision(activeTokens, workers, target, sensitivityPct);
}

/** Decode: the SLA load is in active KV blocks per worker. */
export function decodeStep(xSla: number | undefined, activeBlocks: readonly number[], workers: number, sensitivityPct: number): LoadStep {
  if (xSla === undefined) return { desired: undefined, code: 'insufficient_data' };
  if (xSla <= 0) return { desired: undefined, code: 'sla_unreachable', target: xSla };
  return stepDecision(activeBlocks, workers, xSla, sensitivityPct);
}

/** One worker's gauges as the router exports them; agg engines report prefill and decode gauges together. */
export type WorkerGauges = Partial<PrefillWorkerSample> & Partial<DecodeWorkerSample>;

export interface PoolView {
  /** Latest scrape, per worker. */
  recent: Map<string, WorkerGauges>;
  /** Mean over the buffered scrapes, per worker. */
  perWorkerAveraged: Map<string, WorkerGauges>;
  /** Mean ISL over every worker and scrape in the buffer (0 when none). */
  clusterAvgIsl: number;
}

const GAUGE_KEYS = ['active_prefill_tokens', 'last_ttft', 'last_isl', 'active_decode_blocks', 'last_itl'] as const;

/** Summarise the buffered scrapes (oldest first) of one worker type. */
export function summarizePool(samples: readonly RouterSnapshot[], pool: 'prefill' | 'decode'): PoolView {
  const recent = new Map<string, WorkerGauges>();
  const sums = new Map<string, { n: number; sum: Record<string, number>; count: Record<string, number> }>();
  let islSum = 0;
  let islCount = 0;
  // 'recent' is the latest scrape's workers of this type, none if it has none (the pool was
  // scaled away). A scrape with no gauges at all is one upstream never buffers, so it is skipped.
  let latest: Record<string, WorkerGauges> | undefined;
  for (const snap of samples) {
    if (snap.prefill === undefined && snap.decode === undefined) continue;
    const workers = snap[pool] as Record<string, WorkerGauges> | undefined;
    latest = workers;
    if (workers === undefined) continue;
    for (const [id, g] of Object.entries(workers)) {
      let acc = sums.get(id);
      if (acc === undefined) sums.set(id, (acc = { n: 0, sum: {}, count: {} }));
      acc.n++;
      for (const k of GAUGE_KEYS) {
        const v = g[k];
        if (typeof v === 'number' && Number.isFinite(v)) {
          acc.sum[k] = (acc.sum[k] ?? 0) + v;
          acc.count[k] = (acc.count[k] ?? 0) + 1;
        }
      }
      if (typeof g.last_isl === 'number' && Number.isFinite(g.last_isl)) {
        islSum += g.last_isl;
        islCount++;
      }
    }
  }
  if (latest !== undefined) for (const [id, g] of Object.entries(latest)) recent.set(id, g);
  const perWorkerAveraged = new Map<string, WorkerGauges>();
  for (const [id, acc] of sums) {
    const avg: Record<string, number> = {};
    for (const k of Object.keys(acc.sum)) avg[k] = acc.sum[k] / acc.count[k];
    perWorkerAveraged.set(id, avg as WorkerGauges);
  }
  return { recent, perWorkerAveraged, clusterAvgIsl: islCount > 0 ? islSum / islCount : 0 };
}

/** Regression points from one set of worker gauges; only workers that reported a latency count. */
export function prefillPoints(workers: Iterable<WorkerGauges>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const g of workers) {
    const ttft = g.last_ttft ?? 0;
    const isl = g.last_isl ?? 0;
    if (ttft > 0 && isl > 0) out.push([(g.active_prefill_tokens ?? 0) + isl, ttft * 1000]);
  }
  return out;
}

export function decodePoints(workers: Iterable<WorkerGauges>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const g of workers) {
    const itl = g.last_itl ?? 0;
    const blocks = g.active_decode_blocks ?? 0;
    if (itl > 0 && blocks > 0) out.push([blocks, itl * 1000]);
  }
  return out;
}
