// Calibration of the efficiency factors against measured TTFT and ITL of one model, and the
// error report on another. The measurement files are test/fixtures/h100/<model>.json.
import { readFileSync } from 'node:fs';
import { InputError } from '../util/errors.js';
import { itlMs, ttftMs, activationPeakBytesPerGpu, weightBytesPerGpu, kvBytesPerTokenPerGpu, type Engine } from './perf.js';
import { SHIPPED_MODELS } from './specs/models.js';
import type { Efficiency, GpuSpec, ModelShape } from './types.js';

export interface Measurements {
  model: ModelShape;
  gpuName: string;
  /** Memory the engine saw, bytes. */
  totalMemoryBytes: number;
  maxKvTokens: number;
  prefill: { isl: number[]; ttftMs: number[] };
  decode: { context: number[]; batch: number[]; itlMs: number[] };
}

function need<T>(value: T | undefined, file: string, field: string): T {
  if (value === undefined || value === null) throw new InputError(`${file}: missing field '${field}'; expected the layout of our H100 measurement files (model, shape, prefill, decode).`);
  return value;
}

function numbers(value: unknown, file: string, field: string): number[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
    throw new InputError(`${file}: field '${field}' must be a list of numbers.`);
  }
  return value as number[];
}

/** Read one measurement file (our H100 fixture layout). */
export function loadMeasurements(file: string): Measurements {
  let raw: any;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`${file}: cannot read measurements (${(err as Error).message}).`);
  }
  const s = need(raw.shape, file, 'shape');
  const name = String(need(raw.model, file, 'model'));
  const shipped = SHIPPED_MODELS[name];
  const model: ModelShape = {
    name,
    hfId: shipped?.hfId ?? name,
    hiddenSize: need(s.hidden, file, 'shape.hidden'),
    numLayers: need(s.layers, file, 'shape.layers'),
    numHeads: need(s.heads, file, 'shape.heads'),
    numKvHeads: need(s.kv_heads, file, 'shape.kv_heads'),
    headDim: need(s.head_dim, file, 'shape.head_dim'),
    intermediateSize: need(s.inter, file, 'shape.inter'),
    vocabSize: need(s.vocab, file, 'shape.vocab'),
    tiedEmbeddings: shipped?.tiedEmbeddings ?? false,
    maxContextLength: shipped?.maxContextLength ?? 32768,
    bytesPerParam: 2,
  };
  const m: Measurements = {
    model,
    gpuName: String(raw.gpu ?? 'unknown'),
    totalMemoryBytes: need(raw.total_mem, file, 'total_mem'),
    maxKvTokens: need(raw.max_kv_tokens, file, 'max_kv_tokens'),
    prefill: {
      isl: numbers(raw.prefill?.isl, file, 'prefill.isl'),
      ttftMs: numbers(raw.prefill?.ttft_ms, file, 'prefill.ttft_ms'),
    },
    decode: {
      context: numbers(raw.decode?.context, file, 'decode.context'),
      batch: numbers(raw.decode?.batch, file, 'decode.batch'),
      itlMs: numbers(raw.decode?.itl_ms, file, 'decode.itl_ms'),
    },
  };
  if (m.prefill.isl.length !== m.prefill.ttftMs.length) throw new InputError(`${file}: prefill.isl and prefill.ttft_ms differ in length.`);
  const n = m.decode.context.length;
  if (m.decode.batch.length !== n || m.decode.itlMs.length !== n) throw new InputError(`${file}: decode.context, decode.batch and decode.itl_ms differ in length.`);
  return m;
}

/** Factors that single-GPU measurements cannot pin down; set from NCCL/vLLM figures. */
export const UNCALIBRATED = {
  weightStreaming: 0.8, // memory-bound bf16 GEMV on H100 reaches ~2.7 of 3.35 TB/s in public benchmarks
  network: 0.8, // ring all-reduce bus bandwidth / link bandwidth
  allReduceLatencyUs: 8, // vLLM custom all-reduce, small messages
  memoryUtilization: 0.9, // vLLM default --gpu-memory-utilization
  maxBatchedTokens: 8192, // vLLM default max_num_batched_tokens
} as const;

export interface FitResult {
  eff: Efficiency;
  /** Root mean square of log(predicted/measured) over the calibration points. */
  rmsLogError: number;
  iterations: number;
}

const FITTED = ['gemm', 'attention', 'memory', 'stepOverheadMs', 'perSequenceUs'] as const;

function toEfficiency(x: number[], reserveBytes: number, fixed: Partial<Record<keyof typeof UNCALIBRATED, number>>): Efficiency {
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  return {
    gemm: sig(x[0]),
    attention: sig(x[1]),
    memory: sig(x[2]),
    stepOverheadMs: Math.exp(x[3]),
    perSequenceUs: Math.exp(x[4]),
    reserveBytes,
    ...UNCALIBRATED,
    ...fixed,
  };
}

/** The reserve that makes the model reproduce the measured KV capacity exactly. */
export function reserveFromMeasurement(m: Measurements): number {
  const tokensBytes = m.maxKvTokens * kvBytesPerTokenPerGpu(m.model, 1);
  return (
    m.totalMemoryBytes * UNCALIBRATED.memoryUtilization -
    weightBytesPerGpu(m.model, 1) -
    activationPeakBytesPerGpu(m.model, 1, UNCALIBRATED.maxBatchedTokens) -
    tokensBytes
  );
}

function engineFor(m: Measurements, gpu: GpuSpec, eff: Efficiency): Engine {
  return { model: m.model, gpu: { ...gpu, memoryBytes: m.totalMemoryBytes }, tp: 1, eff };
}

/**
 * Least squares in log space (relative errors) over the prefill and decode points, each phase
 * weighted equally whatever its point count, by Nelder-Mead on unconstrained parameters.
 */
export function calibrate(m: Measurements, gpu: GpuSpec, fixed: Partial<Record<keyof typeof UNCALIBRATED, number>> = {}): FitResult {
  const reserve = reserveFromMeasurement(m);
  const objective = (x: number[]) => {
    const e = engineFor(m, gpu, toEfficiency(x, reserve, fixed));
    let p = 0;
    m.prefill.isl.forEach((isl, i) => (p += Math.log(ttftMs(e, isl) / m.prefill.ttftMs[i]) ** 2));
    let d = 0;
    m.decode.batch.forEach((b, i) => (d += Math.log(itlMs(e, b, m.decode.context[i]) / m.decode.itlMs[i]) ** 2));
    return p / m.prefill.isl.length + d / m.decode.batch.length;
  };
  // Start from typical achieved fractions (60% compute, 80% bandwidth, 2 ms, 3 us).
  const start = [0.4, 0.4, 1.4, Math.log(2), Math.log(3)];
  const { x, value, iterations } = nelderMead(objective, start, { step: 0.5, maxIterations: 4000, tolerance: 1e-12 });
  return { eff: toEfficiency(x, reserve, fixed), rmsLogError: Math.sqrt(value / 2), iterations };
}

export interface ErrorStats {
  median: number;
  worst: number;
  /** The point with the worst relative error, for the report. */
  worstAt: string;
  count: number;
}

export interface ErrorReport {
  model: string;
  ttft: ErrorStats;
  itl: ErrorStats;
  maxKvTokens: { predicted: number; measured: number; relError: number };
  /** Relative error of every point, signed (predicted/measured - 1). */
  points: { phase: 'prefill' | 'decode'; at: string; measuredMs: number; predictedMs: number; relError: number }[];
}

function stats(points: ErrorReport['points']): ErrorStats {
  const abs = points.map((p) => Math.abs(p.relError)).sort((a, b) => a - b);
  const mid = abs.length / 2;
  const median = abs.length % 2 ? abs[Math.floor(mid)] : (abs[mid - 1] + abs[mid]) / 2;
  const worst = points.reduce((w, p) => (Math.abs(p.relError) > Math.abs(w.relError) ? p : w), points[0]);
  return { median, worst: Math.abs(worst.relError), worstAt: worst.at, count: points.length };
}

/** Predict every measured point of `m` with `eff` and report relative errors. */
export function errorReport(m: Measurements, gpu: GpuSpec, eff: Efficiency): ErrorReport {
  const e = engineFor(m, gpu, eff);
  const prefill = m.prefill.isl.map((isl, i) => {
    const predictedMs = ttftMs(e, isl);
    return { phase: 'prefill' as const, at: `isl=${isl}`, measuredMs: m.prefill.ttftMs[i], predictedMs, relError: predictedMs / m.prefill.ttftMs[i] - 1 };
  });
  const decode = m.decode.batch.map((b, i) => {
    const ctx = m.decode.context[i];
    const predictedMs = itlMs(e, b, ctx);
    return { phase: 'decode' as const, at: `ctx=${ctx} batch=${b}`, measuredMs: m.decode.itlMs[i], predictedMs, relError: predictedMs / m.decode.itlMs[i] - 1 };
  });
  const kvPred = Math.max(0, Math.floor((m.totalMemoryBytes * eff.memoryUtilization - weightBytesPerGpu(m.model, 1) - eff.reserveBytes - activationPeakBytesPerGpu(m.model, 1, eff.maxBatchedTokens)) / kvBytesPerTokenPerGpu(m.model, 1)));
  return {
    model: m.model.name,
    ttft: stats(prefill),
    itl: stats(decode),
    maxKvTokens: { predicted: kvPred, measured: m.maxKvTokens, relError: kvPred / m.maxKvTokens - 1 },
    points: [...prefill, ...decode],
  };
}

/** Plain Nelder-Mead simplex minimiser (no bounds; callers transform their parameters). */
export function nelderMead(
  f: (x: number[]) => number,
  start: number[],
  opts: { step?: number; maxIterations?: number; tolerance?: number } = {},
): { x: number[]; value: number; iterations: number } {
  const n = start.length;
  const step = opts.step ?? 0.5;
  let simplex = [start, ...start.map((_, i) => start.map((v, j) => (i === j ? v + step : v)))].map((x) => ({ x, v: f(x) }));
  let it = 0;
  for (; it < (opts.maxIterations ?? 2000); it++) {
    simplex.sort((a, b) => a.v - b.v);
    if (Math.abs(simplex[n].v - simplex[0].v) <= (opts.tolerance ?? 1e-10)) break;
    const centroid = start.map((_, j) => simplex.slice(0, n).reduce((s, p) => s + p.x[j], 0) / n);
    const along = (t: number) => centroid.map((c, j) => c + t * (simplex[n].x[j] - c));
    const reflected = along(-1);
    const fr = f(reflected);
    if (fr < simplex[0].v) {
      const expanded = along(-2);
      const fe = f(expanded);
      simplex[n] = fe < fr ? { x: expanded, v: fe } : { x: reflected, v: fr };
    } else if (fr < simplex[n - 1].v) {
      simplex[n] = { x: reflected, v: fr };
    } else {
      const contracted = fr < simplex[n].v ? along(-0.5) : along(0.5);
      const fc = f(contracted);
      if (fc < Math.min(fr, simplex[n].v)) {
        simplex[n] = { x: contracted, v: fc };
      } else {
        const best = simplex[0].x;
        simplex = simplex.map((p, i) => (i === 0 ? p : { x: best.map((b, j) => b + 0.5 * (p.x[j] - b)), v: 0 }));
        for (let i = 1; i <= n; i++) simplex[i].v = f(simplex[i].x);
      }
    }
  }
  simplex.sort((a, b) => a.v - b.v);
  return { x: simplex[0].x, value: simplex[0].v, iterations: it };
}

export const FITTED_FACTORS = FITTED;
