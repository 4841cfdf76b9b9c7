// Properties of the decision code over random inputs (fast-check), on the real H100 profiles.
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { buildInterpolators, loadProfileDir } from '../../src/profile-data/index.js';
import type { LoadPredictor } from '../../src/predict/types.js';
import { applyGlobalBudget, applyPoolBudget } from '../../src/scaling/budget.js';
import { stepDecision } from '../../src/scaling/load.js';
import { Planner } from '../../src/scaling/planner.js';
import { MonotoneDecodeSearch } from '../../src/scaling/extensions/monotone-decode-search.js';

import { H100 } from '../helpers/fixtures.js';
const profiles = ['llama-3.1-8b', 'qwen3-0.6b'].map((m) => buildInterpolators(loadProfileDir(join(H100, m, 'configmap'))));

function fixed(v: number): LoadPredictor {
  return { name: 'fixed', observe: () => {}, predict: () => v, resetIdleSkip: () => {} };
}

const busy = { num_req: 1000, isl: 2000, osl: 200, ttft: 100, itl: 15, request_duration: 5 };

interface Setup {
  mode: 'disagg' | 'prefill' | 'decode' | 'agg';
  minEndpoint: number;
  budget: number;
  pgpu: number;
  dgpu: number;
  profile: number;
  ttft: number;
  itl: number;
  monotone: boolean;
}

const setupArb: fc.Arbitrary<Setup> = fc.record({
  mode: fc.constantFrom('disagg', 'prefill', 'decode', 'agg'),
  minEndpoint: fc.integer({ min: 0, max: 3 }),
  budget: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 64 })),
  pgpu: fc.integer({ min: 1, max: 4 }),
  dgpu: fc.integer({ min: 1, max: 4 }),
  profile: fc.integer({ min: 0, max: profiles.length - 1 }),
  ttft: fc.integer({ min: 20, max: 2000 }),
  itl: fc.integer({ min: 2, max: 100 }),
  monotone: fc.boolean(),
});

const forecastArb = fc.record({
  numReq: fc.double({ min: -5000, max: 1e6, noNaN: true }), // Kalman forecasts can go negative
  isl: fc.double({ min: 1, max: 30000, noNaN: true }),
  osl: fc.double({ min: 1, max: 8000, noNaN: true }),
});

function decide(s: Setup, f: { numReq: number; isl: number; osl: number }) {
  const { config } = resolveConfig(
    {
      mode: s.mode,
      environment: 'virtual',
      min_endpoint: s.minEndpoint,
      max_gpu_budget: s.budget,
      prefill_engine_num_gpu: s.pgpu,
      decode_engine_num_gpu: s.dgpu,
      ttft: s.ttft,
      itl: s.itl,
      monotone_decode_search: s.monotone,
    },
    { env: {} },
  );
  const planner = new Planner({ config, interpolators: profiles[s.profile], predictors: { numReq: fixed(f.numReq), isl: fixed(f.isl), osl: fixed(f.osl) } });
  return planner.decideThroughput(busy, { prefill: 1, decode: 1 });
}

describe('throughput decisions (property)', () => {
  it('are integers within [min_endpoint, budget], never NaN', () => {
    fc.assert(
      fc.property(setupArb, forecastArb, (s, f) => {
        const d = decide(s, f);
        expect(d.decided).toBe(true);
        const counts = [d.prefill, d.decode].filter((c): c is number => c !== null);
        for (const c of counts) expect(Number.isInteger(c) && c >= 0).toBe(true);
        const gpus = (d.prefill ?? 0) * s.pgpu + (d.decode ?? 0) * s.dgpu;
        if (s.budget >= 0) expect(gpus).toBeLessThanOrEqual(s.budget);
        const starved = 'binding' in d.reason && d.reason.binding === 'gpu_budget_below_min_endpoint';
        if (starved) expect(counts.every((c) => c === 0)).toBe(true);
        else for (const c of counts) expect(c).toBeGreaterThanOrEqual(s.minEndpoint);
      }),
      { numRuns: 300 },
    );
  });

  it('are monotone non-decreasing in the request count for a fixed profile and shape', () => {
    fc.assert(
      fc.property(setupArb, forecastArb, fc.double({ min: 0, max: 1e5, noNaN: true }), (s, f, extra) => {
        const open = { ...s, budget: -1 };
        const low = decide(open, f);
        const high = decide(open, { ...f, numReq: f.numReq + extra });
        expect(high.prefill ?? 0).toBeGreaterThanOrEqual(low.prefill ?? 0);
        expect(high.decode ?? 0).toBeGreaterThanOrEqual(low.decode ?? 0);
      }),
      { numRuns: 300 },
    );
  });
});

describe('budget rules (property)', () => {
  const arb = fc.record({
    p: fc.integer({ min: 0, max: 200 }),
    d: fc.integer({ min: 0, max: 200 }),
    pg: fc.integer({ min: 1, max: 8 }),
    dg: fc.integer({ min: 1, max: 8 }),
    budget: fc.integer({ min: 0, max: 128 }),
    me: fc.integer({ min: 0, max: 4 }),
  });
  it('global: never over budget, prefill never raised, min_endpoint kept unless the budget cannot hold it', () => {
    fc.assert(
      fc.property(arb, ({ p, d, pg, dg, budget, me }) => {
        const P = Math.max(p, me);
        const D = Math.max(d, me);
        const r = applyGlobalBudget(P, D, { prefill: pg, decode: dg }, { maxGpuBudget: budget, minEndpoint: me });
        expect(r.prefill * pg + r.decode * dg).toBeLessThanOrEqual(budget);
        expect(r.prefill).toBeLessThanOrEqual(P);
        if (r.binding === 'gpu_budget_below_min_endpoint') expect([r.prefill, r.decode]).toEqual([0, 0]);
        else expect(Math.min(r.prefill, r.decode)).toBeGreaterThanOrEqual(me);
        if (r.binding === 'none') expect([r.prefill, r.decode]).toEqual([P, D]);
      }),
    );
  });
  it('single pool: never over budget and never above the request', () => {
    fc.assert(
      fc.property(arb, ({ p, pg, budget, me }) => {
        const R = Math.max(p, me);
        const r = applyPoolBudget(R, pg, { maxGpuBudget: budget, minEndpoint: me });
        expect(r.replicas * pg).toBeLessThanOrEqual(budget);
        expect(r.replicas).toBeLessThanOrEqual(R);
      }),
    );
  });
});

describe('load steps (property)', () => {
  it('move by exactly one, never below one worker, up only if all are past the target', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e5, noNaN: true }), { minLength: 1, maxLength: 8 }),
        fc.double({ min: 1, max: 1e5, noNaN: true }),
        fc.integer({ min: 0, max: 100 }),
        (loads, target, sens) => {
          const n = loads.length;
          const step = stepDecision(loads, n, target, sens);
          if (step.desired !== undefined) {
            expect(Math.abs(step.desired - n)).toBe(1);
            expect(step.desired).toBeGreaterThanOrEqual(1);
          }
          if (step.code === 'scale_up') expect(loads.every((l) => l > target)).toBe(true);
          if (step.code === 'scale_down') expect(loads.every((l) => l < target)).toBe(true);
        },
      ),
    );
  });
});

describe('monotone decode search (extension)', () => {
  it('never lowers capacity when the ITL target loosens, and never picks less than the original', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: profiles.length - 1 }),
        fc.double({ min: 1, max: 80, noNaN: true }),
        fc.double({ min: 0, max: 40, noNaN: true }),
        fc.double({ min: 50, max: 16000, noNaN: true }),
        (pi, target, looser, ctx) => {
          const decode = profiles[pi].decode;
          const search = new MonotoneDecodeSearch();
          const tight = search.best(decode, target, ctx);
          const loose = search.best(decode, target + looser, ctx);
          expect(loose.thptPerGpu).toBeGreaterThanOrEqual(tight.thptPerGpu);
          expect(tight.thptPerGpu).toBeGreaterThanOrEqual(decode.findBestThroughputPerGpu(target, ctx).thptPerGpu);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('sla-planner extensions over several ticks (property)', () => {
  /** Cycles through the given forecasts, one per tick: raw Kalman output can be 0 or negative. */
  function sequence(values: number[]): LoadPredictor {
    let i = 0;
    return { name: 'sequence', observe: () => { i++; }, predict: () => values[i % values.length], resetIdleSkip: () => {} };
  }
  const forecastValue = fc.oneof(fc.constant(0), fc.constant(-3), fc.double({ min: -1e4, max: 1e6, noNaN: true }), fc.double({ min: 0, max: 1e-3, noNaN: true }));
  const observation = fc.record({
    num_req: fc.option(fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e5, noNaN: true })), { nil: undefined }),
    isl: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 30000, noNaN: true })),
    osl: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 8000, noNaN: true })),
    ttft: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e5, noNaN: true })),
    itl: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1000, noNaN: true })),
    request_duration: fc.option(fc.double({ min: 0, max: 1000, noNaN: true }), { nil: undefined }),
  });
  const extensions = fc.record({
    queueing: fc.boolean(),
    forecastQuantile: fc.option(fc.double({ min: 0.01, max: 0.99, noNaN: true }), { nil: null }),
    scaleDownWindow: fc.integer({ min: 1, max: 5 }),
    kvCap: fc.double({ min: 0.01, max: 1, noNaN: true }),
    correctionUp: fc.boolean(),
    holdOnMissing: fc.boolean(),
    noCorrection: fc.boolean(),
    burstiness: fc.double({ min: 0.01, max: 50, noNaN: true }),
    maxUtil: fc.double({ min: 0.01, max: 0.99, noNaN: true }),
    ttftQuantile: fc.double({ min: 0.01, max: 0.99, noNaN: true }),
    intervalS: fc.integer({ min: 1, max: 600 }),
  });

  it('give integer counts >= 0 within the budget, finite learned state, and never decide on missing data', () => {
    fc.assert(
      fc.property(setupArb, extensions, fc.array(fc.record({ n: forecastValue, i: forecastValue, o: forecastValue }), { minLength: 1, maxLength: 6 }), fc.array(observation, { minLength: 1, maxLength: 8 }), (s, x, forecasts, observations) => {
        const { config } = resolveConfig(
          {
            mode: s.mode, environment: 'virtual', min_endpoint: s.minEndpoint, max_gpu_budget: s.budget,
            prefill_engine_num_gpu: s.pgpu, decode_engine_num_gpu: s.dgpu, ttft: s.ttft, itl: s.itl, monotone_decode_search: s.monotone,
            prefill_sizing: x.queueing ? 'queueing' : 'throughput', forecast_quantile: x.forecastQuantile, scale_down_window: x.scaleDownWindow,
            decode_max_kv_usage: x.kvCap, prefill_correction_can_scale_up: x.correctionUp, hold_on_missing_data: x.holdOnMissing,
            no_correction: x.noCorrection, prefill_burstiness: x.burstiness, prefill_max_utilization: x.maxUtil,
            prefill_ttft_quantile: x.ttftQuantile, throughput_adjustment_interval: x.intervalS,
          },
          { env: {} },
        );
        const planner = new Planner({
          config,
          interpolators: profiles[s.profile],
          predictors: { numReq: sequence(forecasts.map((f) => f.n)), isl: sequence(forecasts.map((f) => f.i)), osl: sequence(forecasts.map((f) => f.o)) },
        });
        let current = { prefill: Math.max(1, s.minEndpoint), decode: Math.max(1, s.minEndpoint) };
        for (const obs of observations) {
          const d = planner.decideThroughput(obs, current);
          for (const c of [d.prefill, d.decode]) if (c !== null) expect(Number.isInteger(c) && c >= 0, `count ${c}`).toBe(true);
          if (d.decided && s.budget >= 0) expect((d.prefill ?? 0) * s.pgpu + (d.decode ?? 0) * s.dgpu).toBeLessThanOrEqual(s.budget);
          if (x.holdOnMissing && (obs.num_req === undefined || obs.request_duration === undefined)) expect(d.decided).toBe(false);
          const state = planner.state();
          // Present exactly when their extension is on, and finite.
          expect(state.prefillBurstiness === undefined).toBe(!x.queueing || s.mode === 'decode' || s.mode === 'agg');
          expect(state.forecastMultiplier === undefined).toBe(x.forecastQuantile === null);
          expect(Number.isFinite(state.prefillBurstiness ?? 1) && Number.isFinite(state.forecastMultiplier ?? 1)).toBe(true);
          if (d.decided) current = { prefill: d.prefill ?? 0, decode: d.decode ?? 0 };
        }
      }),
      { numRuns: 300 },
    );
  });
});
