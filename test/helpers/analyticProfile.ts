// The analytic profile of test/fixtures/scaling-differential.py (hand-checkable numbers), and
// predictors that answer what a test tells them to.
import { resolveConfig } from '../../src/config/index.js';
import type { PlannerConfig } from '../../src/config/schema.js';
import type { DecodeInterpolator, PrefillInterpolator } from '../../src/profile-data/types.js';
import type { LoadPredictor } from '../../src/predict/types.js';

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);

/** TTFT 30 + 0.05·isl ms; 40000 − 2·isl tok/s/GPU (ISL clamped to 100..8000). */
export const prefillStub: PrefillInterpolator = {
  ttftMs: (isl) => 30 + 0.05 * clamp(isl, 100, 8000),
  thptPerGpu: (isl) => 40000 - 2 * clamp(isl, 100, 8000),
  minIsl: 100,
  maxIsl: 8000,
};

const decodeItl = (conc: number, ctx: number) => 6 + 0.2 * conc + 0.001 * Math.min(ctx, 16000);

/** ITL 6 + 0.2·concurrency + 0.001·context ms; throughput concurrency / ITL. */
export const decodeStub: DecodeInterpolator = {
  maxKvTokens: 1_000_000,
  maxContextLength: 16000,
  itlMs: decodeItl,
  thptPerGpu: (conc, ctx) => (conc * 1000) / decodeItl(conc, ctx),
  findBestThroughputPerGpu(target, ctx) {
    const conc = (target - 6 - 0.001 * Math.min(ctx, 16000)) / 0.2;
    return { thptPerGpu: (Math.max(0, conc) * 1000) / target, itlMs: target, kvUsage: 0 };
  },
};

export const analyticProfile = { prefill: prefillStub, decode: decodeStub };

/** A virtual-environment config with 1 GPU per replica, the constant predictor and a 25 ms ITL. */
export function stubConfig(overrides: Record<string, unknown>): PlannerConfig {
  return resolveConfig({ environment: 'virtual', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, load_predictor: 'constant', itl: 25, ...overrides }, { env: {} }).config;
}

/** Always forecasts `v`. */
export function fixedPredictor(v: number): LoadPredictor {
  return { name: 'fixed', observe: () => {}, predict: () => v, resetIdleSkip: () => {} };
}

export function fixedPredictors(numReq: number, isl: number, osl: number): { numReq: LoadPredictor; isl: LoadPredictor; osl: LoadPredictor } {
  return { numReq: fixedPredictor(numReq), isl: fixedPredictor(isl), osl: fixedPredictor(osl) };
}

/** Forecasts values[i - 1] after its i-th observation (the last value once they run out). */
export function sequencePredictor(values: number[]): LoadPredictor {
  let i = 0;
  return { name: 'seq', observe: () => { i++; }, predict: () => values[Math.min(i - 1, values.length - 1)], resetIdleSkip: () => {} };
}

/** Counts what it was fed and forecasts the last finite value. */
export function recordingPredictor(): LoadPredictor & { seen: number[] } {
  const seen: number[] = [];
  return {
    name: 'recording', seen,
    observe: (v) => { seen.push(v); },
    predict: () => [...seen].reverse().find(Number.isFinite) ?? 0,
    resetIdleSkip: () => {},
  };
}
