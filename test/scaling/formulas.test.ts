// Hand-computed cases for each scaling formula, mode and budget rule, and a differential file of
// decisions worked out independently from the reference formulas (test/fixtures/scaling-differential.py).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import type { PlannerConfig } from '../../src/config/schema.js';
import type { DecodeInterpolator, PrefillInterpolator } from '../../src/profile-data/types.js';
import type { LoadPredictor } from '../../src/predict/types.js';
import { applyGlobalBudget, applyPoolBudget } from '../../src/scaling/budget.js';
import {
  bestDecodeThroughput,
  decodeCorrectionFactor,
  planAgg,
  planDecode,
  planPrefill,
  prefillCorrectionFactor,
} from '../../src/scaling/throughput.js';
import { fitLine, LatencyRegression, loadAtSla, prefillStep, decodeStep, stepDecision, summarizePool } from '../../src/scaling/load.js';
import { Planner } from '../../src/scaling/planner.js';
import { parseObservation, type RouterSnapshot } from '../../src/scaling/observation.js';
import { replayObservations } from '../../src/scaling/replay.js';

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);

/** The analytic profile of scaling-differential.py. */
const prefillStub: PrefillInterpolator = {
  ttftMs: (isl) => 30 + 0.05 * clamp(isl, 100, 8000),
  thptPerGpu: (isl) => 40000 - 2 * clamp(isl, 100, 8000),
  minIsl: 100,
  maxIsl: 8000,
};
const decodeItl = (conc: number, ctx: number) => 6 + 0.2 * conc + 0.001 * Math.min(ctx, 16000);
const decodeStub: DecodeInterpolator = {
  maxKvTokens: 1_000_000,
  maxContextLength: 16000,
  itlMs: decodeItl,
  thptPerGpu: (conc, ctx) => (conc * 1000) / decodeItl(conc, ctx),
  findBestThroughputPerGpu(target, ctx) {
    const conc = (target - 6 - 0.001 * Math.min(ctx, 16000)) / 0.2;
    return { thptPerGpu: (Math.max(0, conc) * 1000) / target, itlMs: target, kvUsage: 0 };
  },
};
const interpolators = { prefill: prefillStub, decode: decodeStub };

function config(overrides: Record<string, unknown>): PlannerConfig {
  return resolveConfig({ environment: 'virtual', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, load_predictor: 'constant', itl: 25, ...overrides }, { env: {} }).config;
}

describe('prefill replicas', () => {
  const base = { forecast: { numReq: 1800, isl: 3000, osl: 300 }, intervalS: 180, correctionFactor: 1, correctionCanScaleUp: false, gpusPerReplica: 1, minEndpoint: 1 };
  // thpt(3000) = 40000 - 6000 = 34000 tok/s/GPU; demand = 1800 × 3000 / 180 = 30000 tok/s.
  const flat: PrefillInterpolator = { ...prefillStub, thptPerGpu: () => 10000 };

  it('sizes the pool from demand over profiled throughput, rounding up', () => {
    expect(planPrefill({ ...base, prefill: prefillStub })).toMatchObject({ replicas: 1, demandTokensPerS: 30000, thptPerGpu: 34000, binding: 'min_endpoint' });
    expect(planPrefill({ ...base, prefill: flat })).toMatchObject({ replicas: 3, binding: 'demand' });
    expect(planPrefill({ ...base, prefill: flat, gpusPerReplica: 2 }).replicas).toBe(2); // ceil(1.5)
  });

  it('lets a correction factor below 1 lower demand but caps one above 1 (upstream)', () => {
    expect(planPrefill({ ...base, prefill: flat, correctionFactor: 0.5 }).replicas).toBe(2); // 15000/10000
    expect(planPrefill({ ...base, prefill: flat, correctionFactor: 2 }).replicas).toBe(3);
  });

  it('prefill_correction_can_scale_up lets queueing add replicas', () => {
    expect(planPrefill({ ...base, prefill: flat, correctionFactor: 2, correctionCanScaleUp: true }).replicas).toBe(6);
  });

  it('floors at min_endpoint, also for a negative (Kalman) forecast, and without capacity', () => {
    expect(planPrefill({ ...base, prefill: flat, minEndpoint: 4 })).toMatchObject({ replicas: 4, binding: 'min_endpoint' });
    expect(planPrefill({ ...base, forecast: { numReq: -500, isl: 3000, osl: 300 }, prefill: flat, minEndpoint: 2 }).replicas).toBe(2);
    expect(planPrefill({ ...base, prefill: { ...flat, thptPerGpu: () => 0 }, minEndpoint: 2 })).toMatchObject({ replicas: 2, binding: 'no_capacity' });
  });
});

describe('decode replicas', () => {
  const base = { forecast: { numReq: 1800, isl: 3000, osl: 300 }, intervalS: 180, itlTargetMs: 25, monotoneSearch: false, gpusPerReplica: 1, minEndpoint: 1 };

  it('searches under the ITL target divided by the correction factor', () => {
    const seen: number[] = [];
    const spy: DecodeInterpolator = { ...decodeStub, findBestThroughputPerGpu: (t, ctx) => (seen.push(t, ctx), { thptPerGpu: 1000, itlMs: t, kvUsage: 0.5 }) };
    // demand = 1800 × 300 / 180 = 3000 tok/s over 1000 tok/s/GPU = 3 replicas.
    expect(planDecode({ ...base, correctionFactor: 2, decode: spy }).replicas).toBe(3);
    expect(seen).toEqual([12.5, 3150]);
    planDecode({ ...base, correctionFactor: 0, decode: spy });
    expect(seen.slice(2)).toEqual([25, 3150]); // a non-positive factor is ignored
  });

  it('counts GPUs per replica and falls back to min_endpoint when nothing meets the target', () => {
    const fixed: DecodeInterpolator = { ...decodeStub, findBestThroughputPerGpu: () => ({ thptPerGpu: 700, itlMs: 20, kvUsage: 0.3 }) };
    expect(planDecode({ ...base, correctionFactor: 1, decode: fixed, gpusPerReplica: 2 }).replicas).toBe(3); // ceil(3000/700/2)=ceil(2.14)
    const none: DecodeInterpolator = { ...decodeStub, findBestThroughputPerGpu: () => ({ thptPerGpu: 0, itlMs: 90, kvUsage: 0 }) };
    expect(planDecode({ ...base, correctionFactor: 1, decode: none, minEndpoint: 2 })).toMatchObject({ replicas: 2, binding: 'no_capacity' });
  });

  it('monotone search picks the best cell under the target, the original the first from the top', () => {
    // A row whose ITL dips at high KV usage: the top cell passes a loose target with low throughput.
    const row = (ix: number) => ({ itl: ix >= 90 ? 10 : 5 + ix * 0.2, thpt: ix >= 90 ? 100 : 50 + ix * 10 });
    const cell = (conc: number, ctx: number) => Math.round(((conc * ctx) / 1000) * 99);
    const bumpy: DecodeInterpolator = {
      maxKvTokens: 1000,
      maxContextLength: 100,
      itlMs: (c, ctx) => row(cell(c, ctx)).itl,
      thptPerGpu: (c, ctx) => row(cell(c, ctx)).thpt,
      findBestThroughputPerGpu(target) {
        for (let ix = 99; ix >= 0; ix--) if (row(ix).itl <= target) return { thptPerGpu: row(ix).thpt, itlMs: row(ix).itl, kvUsage: ix / 99 };
        return { thptPerGpu: row(0).thpt, itlMs: row(0).itl, kvUsage: 0 };
      },
    };
    expect(bestDecodeThroughput(bumpy, 20, 50, false).thptPerGpu).toBe(100);
    // Cells 0..75 have ITL <= 20; cell 75 has throughput 800 > 100.
    expect(bestDecodeThroughput(bumpy, 20, 50, true)).toMatchObject({ thptPerGpu: 800, itlMs: 20 });
  });
});

describe('correction factors', () => {
  it('prefill: observed TTFT over profiled TTFT at the observed ISL', () => {
    expect(prefillCorrectionFactor(260, 3000, prefillStub)).toBeCloseTo(260 / 180, 12);
  });
  it("decode: observed ITL over profiled ITL at Little's-law concurrency", () => {
    // conc = 1800 / 2 × 6 / 180 = 30; ctx = 3150; itl = 6 + 6 + 3.15 = 15.15
    const cf = decodeCorrectionFactor({ numReq: 1800, isl: 3000, osl: 300, itlMs: 20, requestDurationS: 6 }, 2, 180, decodeStub);
    expect(cf).toBeCloseTo(20 / 15.15, 12);
    expect(decodeCorrectionFactor({ numReq: 1800, isl: 3000, osl: 300, itlMs: 20, requestDurationS: 6 }, 0, 180, decodeStub)).toBeUndefined();
  });
});

describe('agg mode (extension): one pool sized for both phases', () => {
  it('adds the GPU-seconds of prefill and decode', () => {
    const prefill = { forecast: { numReq: 1800, isl: 3000, osl: 300 }, intervalS: 180, correctionFactor: 1, correctionCanScaleUp: false, prefill: { ...prefillStub, thptPerGpu: () => 10000 } };
    const decode = { forecast: prefill.forecast, intervalS: 180, correctionFactor: 1, itlTargetMs: 25, monotoneSearch: false, decode: { ...decodeStub, findBestThroughputPerGpu: () => ({ thptPerGpu: 1000, itlMs: 20, kvUsage: 0.5 }) } };
    // prefill 30000/10000 = 3 GPUs, decode 3000/1000 = 3 GPUs: 6 GPUs, 3 replicas of 2 GPUs.
    const plan = planAgg({ prefill, decode, gpusPerReplica: 2, minEndpoint: 1 });
    expect(plan).toMatchObject({ replicas: 3, prefillGpus: 3, decodeGpus: 3, binding: 'demand' });
    // Never fewer than either phase alone would need.
    expect(plan.replicas).toBeGreaterThanOrEqual(planPrefill({ ...prefill, gpusPerReplica: 2, minEndpoint: 1 }).replicas);
  });
});

describe('GPU budget', () => {
  const limits = { maxGpuBudget: 8, minEndpoint: 1 };
  it('leaves targets that fit alone, and a negative budget disables it', () => {
    expect(applyGlobalBudget(3, 5, { prefill: 1, decode: 1 }, limits)).toEqual({ prefill: 3, decode: 5, binding: 'none' });
    expect(applyGlobalBudget(30, 50, { prefill: 1, decode: 1 }, { maxGpuBudget: -1, minEndpoint: 1 }).prefill).toBe(30);
  });
  it('shrinks both proportionally and gives the leftover to decode', () => {
    // scale = 8/20: prefill floor(4) = 4; decode gets 8 - 4 = 4.
    expect(applyGlobalBudget(10, 10, { prefill: 1, decode: 1 }, limits)).toEqual({ prefill: 4, decode: 4, binding: 'gpu_budget' });
    // planned (1, 13) under 6 GPUs -> (1, 5), as in the original's kalman-budget vector.
    expect(applyGlobalBudget(1, 13, { prefill: 1, decode: 1 }, { maxGpuBudget: 6, minEndpoint: 1 })).toMatchObject({ prefill: 1, decode: 5 });
    // 4-GPU prefill replicas: prefill capped at floor((8-1)/4) = 1, decode takes the other 4 GPUs.
    expect(applyGlobalBudget(2, 1, { prefill: 4, decode: 1 }, limits)).toMatchObject({ prefill: 1, decode: 4 });
  });
  it('returns 0 replicas when min_endpoint alone exceeds the budget: the budget wins', () => {
    expect(applyGlobalBudget(3, 3, { prefill: 2, decode: 2 }, { maxGpuBudget: 6, minEndpoint: 2 })).toEqual({ prefill: 0, decode: 0, binding: 'gpu_budget_below_min_endpoint' });
    expect(applyPoolBudget(3, 4, { maxGpuBudget: 3, minEndpoint: 1 })).toEqual({ replicas: 0, binding: 'gpu_budget_below_min_endpoint' });
  });
  it('single pool: as many replicas as fit', () => {
    expect(applyPoolBudget(5, 2, { maxGpuBudget: 7, minEndpoint: 1 })).toEqual({ replicas: 3, binding: 'gpu_budget' });
    expect(applyPoolBudget(13, 1, { maxGpuBudget: 6, minEndpoint: 1 }).replicas).toBe(6);
  });
});

describe('load regression and ±1 rule', () => {
  it('inverts the fitted line at the SLA', () => {
    const reg = new LatencyRegression(50, 5);
    for (let b = 100; b <= 400; b += 100) reg.add(b, 5 + 0.02 * b);
    expect(reg.loadAtSla(20)).toBeUndefined(); // 4 < min observations
    reg.add(500, 15);
    expect(reg.loadAtSla(20)).toBeCloseTo(750, 9);
  });
  it('keeps only the last window of observations', () => {
    const reg = new LatencyRegression(10, 5);
    for (let i = 0; i < 10; i++) reg.add(100 + i, 1000); // flat, far above the SLA
    for (let i = 1; i <= 10; i++) reg.add(i * 10, 2 * i * 10); // y = 2x
    expect(reg.size).toBe(10);
    expect(reg.loadAtSla(50)).toBeCloseTo(25, 9);
  });
  it('falls back to the smallest load under the SLA when latency does not rise with load', () => {
    expect(loadAtSla({ slope: -1, intercept: 100 }, [300, 200, 400], [10, 30, 5], 20)).toBe(300);
    expect(loadAtSla({ slope: 0, intercept: 100 }, [300, 200], [30, 40], 20)).toBe(200);
    expect(fitLine([5, 5, 5], [1, 2, 3])).toEqual({ slope: 0, intercept: 2 });
    expect(loadAtSla({ slope: 1, intercept: 50 }, [], [], 20)).toBe(0);
  });
  it('steps up only when every worker is past the target, down when all fit in N-1 with margin', () => {
    expect(stepDecision([900, 1000], 2, 800, 80)).toMatchObject({ desired: 3, code: 'scale_up' });
    expect(stepDecision([900, 700], 2, 800, 80)).toMatchObject({ desired: undefined, code: 'no_change' });
    // boundary = 800 × 1/2 × 0.8 = 320
    expect(stepDecision([100, 300], 2, 800, 80)).toMatchObject({ desired: 1, code: 'scale_down', downBoundary: 320 });
    expect(stepDecision([100, 330], 2, 800, 80).code).toBe('no_change');
    expect(stepDecision([0, 0], 2, 800, 0).code).toBe('no_change'); // sensitivity 0 never scales down
    expect(stepDecision([0], 1, 800, 100).code).toBe('no_change'); // never below one worker
  });
  it('prefill compares active tokens with the SLA load minus the mean ISL', () => {
    expect(prefillStep(18000, 3000, [16000], 1, 80)).toMatchObject({ desired: 2, target: 15000 });
    expect(prefillStep(2000, 3000, [16000], 1, 80).code).toBe('sla_unreachable');
    expect(prefillStep(undefined, 3000, [16000], 1, 80).code).toBe('insufficient_data');
    expect(decodeStep(0, [10], 1, 80).code).toBe('sla_unreachable');
  });
  it('summarises buffered scrapes per worker and across the cluster', () => {
    const snaps: RouterSnapshot[] = [
      { prefill: { a: { active_prefill_tokens: 100, last_ttft: 0.1, last_isl: 1000 }, b: { active_prefill_tokens: 300, last_ttft: 0.2, last_isl: 3000 } } },
      { prefill: { a: { active_prefill_tokens: 200, last_ttft: 0.3, last_isl: 2000 } } },
    ];
    const view = summarizePool(snaps, 'prefill');
    expect([...view.recent.keys()]).toEqual(['a']);
    expect(view.perWorkerAveraged.get('a')).toMatchObject({ active_prefill_tokens: 150, last_isl: 1500 });
    expect(view.clusterAvgIsl).toBe(2000);
  });

  it("takes 'recent' from the latest scrape even when it has no worker of that type (an empty scrape adds nothing)", () => {
    const a = { active_prefill_tokens: 100, last_ttft: 0.1, last_isl: 1000 };
    const d = { active_decode_blocks: 10, last_itl: 0.02 };
    // The prefill workers are gone by the latest scrape: the router sees 0 of them, as upstream's
    // latest_sample.get(worker_type, {}); the stale older scrape must not stand in for it.
    const gone = summarizePool([{ prefill: { a }, decode: { d } }, { decode: { d } }], 'prefill');
    expect(gone.recent.size).toBe(0);
    expect(gone.perWorkerAveraged.get('a')).toMatchObject({ active_prefill_tokens: 100 });
    // A scrape that returned no gauges at all is not buffered upstream, so the one before it is the latest.
    expect([...summarizePool([{ prefill: { a } }, {}], 'prefill').recent.keys()]).toEqual(['a']);
  });
});

function fixedPredictors(numReq: number, isl: number, osl: number): { numReq: LoadPredictor; isl: LoadPredictor; osl: LoadPredictor } {
  const p = (v: number): LoadPredictor => ({ name: 'fixed', observe: () => {}, predict: () => v, resetIdleSkip: () => {} });
  return { numReq: p(numReq), isl: p(isl), osl: p(osl) };
}

const busy = { num_req: 1800, isl: 3000, osl: 300, ttft: 150, itl: 20, request_duration: 6 };

describe('Planner throughput tick', () => {
  it('decides both pools in disagg and accounts GPU hours', () => {
    const planner = new Planner({ config: config({ throughput_adjustment_interval: 180, max_gpu_budget: -1 }), interpolators });
    const d = planner.throughputTick({ ...busy, num_req: 18000 }, { prefill: 2, decode: 3 });
    // prefill: 18000 × 3000 / 180 = 300000 tok/s / 34000 = 8.8 -> 9; decode: 30000 tok/s, best at 25 ms
    // and ctx 3150: conc = (25 - 6 - 3.15)/0.2 = 79.25 -> 3170 tok/s/GPU -> ceil(9.46) = 10.
    expect(d).toMatchObject({ prefill: 9, decode: 10, decided: true, reason: { code: 'scale', planned: { prefill: 9, decode: 10 } } });
    expect(planner.state().gpuHours).toBeCloseTo(0.25, 12); // 5 GPUs × 180 s
  });

  it('holds on an idle interval but still feeds the predictors', () => {
    const planner = new Planner({ config: config({ throughput_adjustment_interval: 180 }), interpolators });
    planner.throughputTick(busy, { prefill: 1, decode: 1 });
    const held = planner.throughputTick({ num_req: 0, isl: null, osl: null, ttft: null, itl: null, request_duration: null }, { prefill: 4, decode: 2 });
    expect(held).toMatchObject({ prefill: 4, decode: 2, decided: false, reason: { code: 'hold_invalid_metrics', missing: ['ttft', 'itl', 'isl', 'osl'] } });
    expect(planner.state().holds).toEqual({ hold_invalid_metrics: 1 });
    // The constant predictor saw the idle zeros: next forecast is the new interval's values.
    const next = planner.throughputTick({ ...busy, num_req: 180 }, { prefill: 4, decode: 2 });
    expect(next.reason.predicted).toEqual({ num_req: 180, isl: 3000, osl: 300 });
  });

  it('holds when the request count or duration is missing (hold_on_missing_data), else reads them as 0', () => {
    const obs = { ...busy, request_duration: null };
    const held = new Planner({ config: config({}), interpolators }).throughputTick(obs, { prefill: 5, decode: 5 });
    expect(held).toMatchObject({ decided: false, prefill: 5, decode: 5, reason: { code: 'hold_missing_data', missing: ['request_duration'] } });
    const upstream = new Planner({ config: config({ hold_on_missing_data: false }), interpolators }).throughputTick(obs, { prefill: 5, decode: 5 });
    expect(upstream.decided).toBe(true);
    const zeroDuration = new Planner({ config: config({}), interpolators }).throughputTick({ ...busy, request_duration: 0 }, { prefill: 5, decode: 5 });
    expect(zeroDuration.reason).toMatchObject({ code: 'hold_missing_data', missing: ['request_duration'] });
  });

  it('treats an infinite average (sum over a zero count) as not observed', () => {
    const d = new Planner({ config: config({}), interpolators }).throughputTick({ ...busy, ttft: Infinity }, { prefill: 3, decode: 3 });
    expect(d).toMatchObject({ decided: false, prefill: 3, decode: 3, reason: { code: 'hold_invalid_metrics', missing: ['ttft'] } });
  });

  it('manages one pool in prefill and decode modes', () => {
    const p = new Planner({ config: config({ mode: 'prefill' }), interpolators }).throughputTick(busy, { prefill: 1, decode: 0 });
    expect(p.decode).toBeNull();
    expect(p.prefill).toBeGreaterThanOrEqual(1);
    const d = new Planner({ config: config({ mode: 'decode', decode_engine_num_gpu: 2, prefill_engine_num_gpu: null }), interpolators }).throughputTick(busy, { prefill: 0, decode: 1 });
    expect(d.prefill).toBeNull();
    expect(d.decode).toBeGreaterThanOrEqual(1);
  });

  it('sizes the agg pool for both phases', () => {
    const planner = new Planner({
      config: config({ mode: 'agg', throughput_adjustment_interval: 180, max_gpu_budget: -1 }),
      interpolators,
      predictors: fixedPredictors(18000, 3000, 300),
    });
    const d = planner.throughputTick(busy, { prefill: 0, decode: 2 });
    // prefill 300000/34000 = 8.82 GPUs + decode 30000/3170 = 9.46 GPUs = 18.29 -> 19 replicas of 1 GPU.
    expect(d).toMatchObject({ prefill: null, decode: 19, decided: true });
  });

  it('never exceeds the budget, even when min_endpoint would: the budget wins and says so', () => {
    const planner = new Planner({ config: config({ min_endpoint: 2, max_gpu_budget: 3 }), interpolators });
    const d = planner.throughputTick(busy, { prefill: 2, decode: 2 });
    expect(d).toMatchObject({ prefill: 0, decode: 0, decided: true, reason: { binding: 'gpu_budget_below_min_endpoint' } });
    expect(String((d.reason.warnings as string[])[0])).toMatch(/max_gpu_budget \(3\).*min_endpoint \(2\)/);
  });

  it('holds when the plan overflows to an infinite count (a denormal profiled throughput), budget or not', () => {
    // 18000 × 3000 / 180 = 300000 tok/s over 5e-324 tok/s/GPU overflows to Infinity; the budget's
    // proportional shrink then computes Infinity × 0 = NaN. The original's ceil(inf) raises and
    // the tick is aborted, so: no decision, and the counts stay as they are.
    const denormal: PrefillInterpolator = { ...prefillStub, thptPerGpu: () => Number.MIN_VALUE };
    for (const mode of ['disagg', 'prefill', 'agg'] as const) {
      for (const budget of [8, -1]) {
        const planner = new Planner({
          config: config({ mode, max_gpu_budget: budget, decode_engine_num_gpu: 1 }),
          interpolators: { prefill: denormal, decode: decodeStub },
          predictors: fixedPredictors(18000, 3000, 300),
        });
        const d = planner.throughputTick(busy, { prefill: 2, decode: 3 });
        expect(d, `${mode}, budget ${budget}`).toMatchObject({ decided: false, reason: { code: 'hold_plan_failed' } });
        expect([d.prefill, d.decode]).toEqual([mode === 'agg' ? null : 2, mode === 'prefill' ? null : 3]);
      }
    }
  });

  it('refuses GPUs per replica that are not a whole number > 0 (a division by zero in the budget)', () => {
    expect(() => new Planner({ config: config({}), interpolators, gpusPerReplica: { prefill: 0, decode: 1 } })).toThrow(/GPUs per prefill replica must be a whole number > 0, got 0/);
    expect(() => new Planner({ config: config({}), interpolators, gpusPerReplica: { prefill: 1, decode: 1.5 } })).toThrow(/decode replica.*got 1\.5/);
  });

  it('applies correction only when enabled and never with load scaling', () => {
    const obs = { ...busy, ttft: 360 }; // profiled ttft(3000) = 180 -> p_cf = 2
    const on = new Planner({ config: config({ no_correction: false }), interpolators });
    on.throughputTick(obs, { prefill: 1, decode: 1 });
    expect(on.state().correctionFactor.prefill).toBeCloseTo(2, 12);
    const withLoad = new Planner({ config: config({ no_correction: false, enable_load_scaling: true, load_router_metrics_url: 'http://router:8000/metrics' }), interpolators });
    withLoad.throughputTick(obs, { prefill: 1, decode: 1 });
    expect(withLoad.state().correctionFactor).toEqual({ prefill: 1, decode: 1 });
  });

  it('with load scaling on, sets the floor instead of scaling', () => {
    const planner = new Planner({
      config: config({ enable_load_scaling: true, load_router_metrics_url: 'http://router:8000/metrics', max_gpu_budget: -1 }),
      interpolators,
      predictors: fixedPredictors(18000, 3000, 300),
    });
    const d = planner.throughputTick(busy, { prefill: 1, decode: 1 });
    expect(d).toMatchObject({ decided: false, prefill: 1, decode: 1, reason: { code: 'set_lower_bound' } });
    expect(planner.state().lowerBound).toEqual({ prefill: 9, decode: 10 });
  });
});

describe('Planner load tick', () => {
  const loadConfig = config({ enable_load_scaling: true, enable_throughput_scaling: false, load_router_metrics_url: 'http://router:8000/metrics', ttft: 200, itl: 20, max_gpu_budget: -1 });
  const snap = (blocks: number[], tokens: number[]): RouterSnapshot => ({
    prefill: Object.fromEntries(tokens.map((t, i) => [String(i), { active_prefill_tokens: t, last_ttft: (20 + 0.01 * (t + 3000)) / 1000, last_isl: 3000 }])),
    decode: Object.fromEntries(blocks.map((b, i) => [String(i), { active_decode_blocks: b, last_itl: (5 + 0.02 * b) / 1000 }])),
  });

  it('learns, then scales decode up when every worker is past the SLA load', () => {
    const planner = new Planner({ config: loadConfig });
    const holds: string[] = [];
    for (const b of [100, 200, 300, 400]) holds.push(planner.loadTick([snap([b], [1000])], { prefill: 1, decode: 1 }).reason.code);
    expect(holds).toEqual(['insufficient_data', 'insufficient_data', 'insufficient_data', 'insufficient_data']);
    // 5th point: x_sla = (20 - 5)/0.02 = 750 blocks; 800 > 750.
    const d = planner.loadTick([snap([800], [1000])], { prefill: 1, decode: 1 });
    expect(d).toMatchObject({ decided: true, prefill: 1, decode: 2, reason: { code: 'load_scale' } });
  });

  it('a worker without its load gauge blocks a scale-down (hold_on_missing_data), as 0 it allows one upstream', () => {
    const noGauge = (blocks: number): RouterSnapshot => {
      const s = snap([blocks, blocks], [1000, 1000]);
      delete (s.decode!['1'] as { active_decode_blocks?: number }).active_decode_blocks;
      return s;
    };
    for (const hold of [true, false]) {
      const planner = new Planner({ config: { ...loadConfig, hold_on_missing_data: hold } });
      for (const b of [100, 200, 300, 400, 500]) planner.loadTick([snap([b, b], [1000, 1000])], { prefill: 2, decode: 2 });
      // x_sla = 750 blocks; down boundary 750 * 1/2 * 0.8 = 300: worker 0 at 10 blocks wants down.
      const d = planner.loadTick([noGauge(10)], { prefill: 2, decode: 2 });
      if (hold) expect(d.decode).toBe(2);
      else expect(d.decode).toBe(1);
    }
    expect(stepDecision([10, Number.NaN], 2, 750, 80)).toMatchObject({ desired: undefined, code: 'hold_missing_load_gauge' });
    expect(stepDecision([500, Number.NaN], 2, 750, 80).code).toBe('no_change');
  });

  it('skips the tick when the router sees a different number of workers', () => {
    const planner = new Planner({ config: loadConfig });
    const d = planner.loadTick([snap([800], [1000])], { prefill: 1, decode: 2 });
    expect(d).toMatchObject({ decided: false, reason: { code: 'worker_count_mismatch', mismatch: { pool: 'decode', router: 1, workers: 2 } } });
  });

  it('keeps a load scale-down at the throughput floor', () => {
    const cfg = config({ enable_load_scaling: true, load_router_metrics_url: 'http://router:8000/metrics', ttft: 200, itl: 20, max_gpu_budget: -1 });
    const planner = new Planner({ config: cfg, interpolators, predictors: fixedPredictors(1800, 3000, 300) });
    for (const b of [100, 200, 300, 400, 500]) planner.loadTick([snap([b, b], [1000, 1000])], { prefill: 2, decode: 2 });
    // floor: prefill ceil(30000/34000) = 1; decode at 20 ms: conc (20-6-3.15)/0.2 = 54.25,
    // 2712.5 tok/s/GPU, ceil(3000/2712.5) = 2.
    planner.throughputTick(busy, { prefill: 2, decode: 2 });
    const down = planner.loadTick([snap([10, 10], [10, 10])], { prefill: 2, decode: 2 });
    expect(down).toMatchObject({ decided: true, prefill: 1, decode: 2, reason: { bindings: { prefill: 'load', decode: 'throughput_floor' } } });
    const highFloor = new Planner({ config: cfg, interpolators, predictors: fixedPredictors(18000, 3000, 300) });
    for (const b of [100, 200, 300, 400, 500]) highFloor.loadTick([snap([b, b], [1000, 1000])], { prefill: 2, decode: 2 });
    highFloor.throughputTick(busy, { prefill: 2, decode: 2 }); // floor (9, ceil(30000/2712.5) = 12)
    const capped = highFloor.loadTick([snap([10, 10], [10, 10])], { prefill: 2, decode: 2 });
    expect(capped).toMatchObject({ prefill: 9, decode: 12, reason: { binding: 'throughput_floor' } });
  });

  it('agg: grows if either phase is past its SLA load, shrinks only if both have room', () => {
    const cfg = config({ mode: 'agg', enable_load_scaling: true, enable_throughput_scaling: false, load_router_metrics_url: 'http://r/metrics', ttft: 200, itl: 20, max_gpu_budget: -1 });
    const agg = (blocks: number, tokens: number): RouterSnapshot => ({
      decode: {
        a: { active_decode_blocks: blocks, last_itl: (5 + 0.02 * blocks) / 1000, active_prefill_tokens: tokens, last_ttft: (20 + 0.01 * (tokens + 3000)) / 1000, last_isl: 3000 },
        b: { active_decode_blocks: blocks, last_itl: (5 + 0.02 * blocks) / 1000, active_prefill_tokens: tokens, last_ttft: (20 + 0.01 * (tokens + 3000)) / 1000, last_isl: 3000 },
      },
    });
    const planner = new Planner({ config: cfg });
    for (const b of [100, 200, 300, 400, 500]) planner.loadTick([agg(b, b * 10)], { prefill: 0, decode: 2 });
    // decode fine (200 < 750) but prefill past 15000 tokens: up.
    expect(planner.loadTick([agg(200, 16000)], { prefill: 0, decode: 2 })).toMatchObject({ decided: true, decode: 3, prefill: null });
    // decode has room (10 < 300) but prefill does not (7000 > 6000): hold.
    expect(planner.loadTick([agg(10, 7000)], { prefill: 0, decode: 2 }).decided).toBe(false);
    expect(planner.loadTick([agg(10, 100)], { prefill: 0, decode: 2 })).toMatchObject({ decided: true, decode: 1 });
  });
});

describe('differential: 24 intervals worked out from the reference formulas', () => {
  const fixture = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'scaling-differential.json'), 'utf8')) as {
    config: Record<string, unknown>;
    observations: unknown[];
    expected: Array<{ prefill: number; decode: number; decided: boolean; planned: unknown; correction_factor: { prefill: number; decode: number } }>;
  };
  it('has at least 20 intervals', () => expect(fixture.expected.length).toBeGreaterThanOrEqual(20));
  it('matches interval by interval', () => {
    const planner = new Planner({ config: config(fixture.config), interpolators });
    const obs = fixture.observations.map((o, i) => parseObservation(o, `differential ${i}`));
    const lines = [...replayObservations(planner, obs)];
    lines.forEach((line, i) => {
      const exp = fixture.expected[i];
      expect({ i, prefill: line.prefill, decode: line.decode, decided: line.decided, planned: line.planned }).toEqual({ i, prefill: exp.prefill, decode: exp.decode, decided: exp.decided, planned: exp.planned });
      expect(line.correction_factor.prefill).toBeCloseTo(exp.correction_factor.prefill, 10);
      expect(line.correction_factor.decode).toBeCloseTo(exp.correction_factor.decode, 10);
    });
  });
});

describe('differential: load ticks worked out from the reference formulas', () => {
  const fixture = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'scaling-load-differential.json'), 'utf8')) as {
    config: Record<string, unknown>;
    ticks: Array<{ samples: RouterSnapshot[]; current: { prefill: number; decode: number }; expected: { decided: boolean; prefill: number; decode: number } }>;
  };
  it('covers at least 20 ticks with scale-ups, scale-downs, a budget cap and a worker mismatch', () => {
    expect(fixture.ticks.length).toBeGreaterThanOrEqual(20);
  });
  it('matches tick by tick', () => {
    const planner = new Planner({ config: config(fixture.config) });
    const got = fixture.ticks.map((t) => {
      const d = planner.loadTick(t.samples, t.current);
      return { decided: d.decided, prefill: d.prefill, decode: d.decode };
    });
    expect(got).toEqual(fixture.ticks.map((t) => t.expected));
    expect(planner.state().holds.worker_count_mismatch).toBe(1);
  });
});
