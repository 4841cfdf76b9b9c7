// The sla-planner extensions of the throughput planner: queueing-model prefill sizing
// (prefill_sizing: queueing), decode headroom, forecast quantile, scale-down window. Hand-worked
// queueing cases, fast-check properties on the real H100 profiles, and the simulator showing the
// gain over the upstream setting on a real trace.
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { buildInterpolators, loadProfileDir } from '../../src/profile-data/index.js';
import type { LoadPredictor } from '../../src/predict/types.js';
import { Planner } from '../../src/scaling/planner.js';
import { erlangC, meanWaitS, observedBurstiness, sizeQueueForSla, waitTailProbability } from '../../src/scaling/queueing.js';
import { loadInterpolators, runSimulation } from '../../src/sim/index.js';

import { H100 } from '../helpers/fixtures.js';
const profiles = ['llama-3.1-8b', 'qwen3-0.6b'].map((m) => buildInterpolators(loadProfileDir(join(H100, m, 'configmap'))));

function fixed(v: number): LoadPredictor {
  return { name: 'fixed', observe: () => {}, predict: () => v, resetIdleSkip: () => {} };
}

/** A fed sequence: predict() returns the next value after each observe(). */
function sequence(values: number[]): LoadPredictor {
  let i = 0;
  return { name: 'seq', observe: () => { i++; }, predict: () => values[Math.min(i - 1, values.length - 1)], resetIdleSkip: () => {} };
}

const base = { environment: 'virtual', mode: 'disagg', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, min_endpoint: 1, max_gpu_budget: -1 };
const configOf = (extra: Record<string, unknown>) => resolveConfig({ ...base, ...extra }, { env: {} }).config;

describe('queueing formulas, hand-worked', () => {
  it('Erlang C: M/M/1 waits with probability rho; M/M/2 at a = 1 waits with probability 1/3', () => {
    expect(erlangC(1, 0.5)).toBeCloseTo(0.5, 12);
    // B(2,1) = (1/2)/(2 + 1/2) = 0.2; C = 0.2 / (1 - 0.5 * 0.8) = 1/3
    expect(erlangC(2, 1)).toBeCloseTo(1 / 3, 12);
    expect(erlangC(3, 3)).toBe(1);
    expect(erlangC(3, 0)).toBe(0);
  });

  it('Allen-Cunneen mean wait: M/M/1 rho/(mu - lambda), scaled by the burstiness; M/M/2 C/(2mu - lambda)', () => {
    expect(meanWaitS(1, 5, 0.1, 1)).toBeCloseTo(0.1, 12); // 0.5 / (10 - 5)
    expect(meanWaitS(1, 5, 0.1, 2)).toBeCloseTo(0.2, 12);
    expect(meanWaitS(2, 10, 0.1, 1)).toBeCloseTo(1 / 30, 12); // (1/3) / (20 - 10)
    expect(meanWaitS(1, 10, 0.1, 1)).toBe(Infinity);
  });

  it('exponential wait tail: M/M/1 P(W > t) = rho e^{-(mu - lambda) t}', () => {
    expect(waitTailProbability(1, 5, 0.1, 1, 0.2)).toBeCloseTo(0.5 * Math.exp(-1), 12);
  });

  const hand = { arrivalRatePerS: 5, serviceS: 0.1, idleTtftMs: 100, ttftTargetMs: 300, quantile: 0.95, burstiness: 1, maxUtilization: 0.9, maxReplicas: 100 };

  it('sizes for the TTFT quantile: 2 replicas where the throughput formula says 1', () => {
    // c = 1: miss = 0.5 e^{-5*0.2} = 0.184 > 0.05. c = 2: C = 0.1, miss = 0.1 e^{-15*0.2} = 0.005.
    const q = sizeQueueForSla(hand);
    expect(q.replicas).toBe(2);
    expect(q.binding).toBe('sla');
    expect(q.offeredErlangs).toBeCloseTo(0.5, 12);
    expect(q.predictedMissFraction).toBeCloseTo(0.1 * Math.exp(-3), 9);
    expect(q.predictedTtftMs).toBeCloseTo(100 + (0.1 / 15) * 1000, 9);
  });

  it('burstier traffic needs more: B = 10 takes 3 replicas', () => {
    // c = 2: 0.1 e^{-0.3} = 0.074 > 0.05; c = 3: C = 6/396, miss = 0.01515 e^{-0.5} = 0.0092.
    const q = sizeQueueForSla({ ...hand, burstiness: 10 });
    expect(q.replicas).toBe(3);
    expect(q.predictedMissFraction).toBeCloseTo((6 / 396) * Math.exp(-0.5), 9);
  });

  it('the utilisation cap binds when the slack is huge', () => {
    const loose = { ...hand, arrivalRatePerS: 8.5, ttftTargetMs: 10_000 };
    expect(sizeQueueForSla(loose)).toMatchObject({ replicas: 1, binding: 'utilization_cap' });
    expect(sizeQueueForSla({ ...loose, maxUtilization: 0.8 })).toMatchObject({ replicas: 2, binding: 'utilization_cap' });
  });

  it('an unreachable target (idle TTFT over it) falls back to the utilisation cap; no load needs none; the bound holds', () => {
    expect(sizeQueueForSla({ ...hand, idleTtftMs: 400 })).toMatchObject({ replicas: 1, binding: 'sla_unreachable' });
    expect(sizeQueueForSla({ ...hand, arrivalRatePerS: 0 })).toMatchObject({ replicas: 0, binding: 'idle' });
    expect(sizeQueueForSla({ ...hand, burstiness: 10, maxReplicas: 2 })).toMatchObject({ replicas: 2, binding: 'max_replicas' });
  });

  it('observed burstiness: observed wait over the M/M/c wait at the observed load', () => {
    // M/M/1 at lambda 5, S 0.1: 100 ms of wait; 300 ms observed = B 3.
    expect(observedBurstiness({ arrivalRatePerS: 5, serviceS: 0.1, replicas: 1, observedTtftMs: 400, idleTtftMs: 100 })).toBeCloseTo(3, 9);
    // Saturated (rho >= 0.98) or idle intervals say nothing.
    expect(observedBurstiness({ arrivalRatePerS: 10, serviceS: 0.1, replicas: 1, observedTtftMs: 5000, idleTtftMs: 100 })).toBeUndefined();
    expect(observedBurstiness({ arrivalRatePerS: 0, serviceS: 0.1, replicas: 1, observedTtftMs: 100, idleTtftMs: 100 })).toBeUndefined();
  });
});

// ---------------------------------------------------------------- planner level

const busy = { num_req: 1000, isl: 2000, osl: 200, ttft: 100, itl: 15, request_duration: 5 };

interface Setup {
  minEndpoint: number;
  budget: number;
  pgpu: number;
  profile: number;
  ttft: number;
  quantile: number;
  cap: number;
  burst: number;
}

const setupArb: fc.Arbitrary<Setup> = fc.record({
  minEndpoint: fc.integer({ min: 0, max: 3 }),
  budget: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 64 })),
  pgpu: fc.integer({ min: 1, max: 4 }),
  profile: fc.integer({ min: 0, max: profiles.length - 1 }),
  ttft: fc.integer({ min: 20, max: 3000 }),
  quantile: fc.double({ min: 0.5, max: 0.999, noNaN: true }),
  cap: fc.double({ min: 0.3, max: 0.99, noNaN: true }),
  burst: fc.double({ min: 0.5, max: 50, noNaN: true }),
});

const forecastArb = fc.record({
  numReq: fc.double({ min: -5000, max: 1e6, noNaN: true }),
  isl: fc.double({ min: 1, max: 30000, noNaN: true }),
  osl: fc.double({ min: 1, max: 8000, noNaN: true }),
});

function decide(s: Setup, f: { numReq: number; isl: number; osl: number }, sizing: 'throughput' | 'queueing' = 'queueing') {
  const config = configOf({
    min_endpoint: s.minEndpoint,
    max_gpu_budget: s.budget,
    prefill_engine_num_gpu: s.pgpu,
    ttft: s.ttft,
    prefill_sizing: sizing,
    prefill_ttft_quantile: s.quantile,
    prefill_max_utilization: s.cap,
    prefill_burstiness: s.burst,
  });
  const planner = new Planner({ config, interpolators: profiles[s.profile], predictors: { numReq: fixed(f.numReq), isl: fixed(f.isl), osl: fixed(f.osl) } });
  return planner.throughputTick(busy, { prefill: 1, decode: 1 });
}

describe('queueing prefill sizing in the planner (property)', () => {
  it('gives integers within [min_endpoint, budget], never NaN', () => {
    fc.assert(
      fc.property(setupArb, forecastArb, (s, f) => {
        const d = decide(s, f);
        expect(d.decided).toBe(true);
        for (const c of [d.prefill, d.decode]) expect(Number.isInteger(c) && (c as number) >= 0).toBe(true);
        if (s.budget >= 0) expect((d.prefill as number) * s.pgpu + (d.decode as number)).toBeLessThanOrEqual(s.budget);
        if (d.reason.binding !== 'gpu_budget_below_min_endpoint') expect(Math.min(d.prefill as number, d.decode as number)).toBeGreaterThanOrEqual(s.minEndpoint);
      }),
      { numRuns: 300 },
    );
  });

  it('is never below the upstream (throughput) count', () => {
    fc.assert(
      fc.property(setupArb, forecastArb, (s, f) => {
        expect(decide(s, f, 'queueing').prefill as number).toBeGreaterThanOrEqual(decide(s, f, 'throughput').prefill as number);
      }),
      { numRuns: 300 },
    );
  });

  it('is monotone non-decreasing in the request count', () => {
    fc.assert(
      fc.property(setupArb, forecastArb, fc.double({ min: 0, max: 1e5, noNaN: true }), (s, f, extra) => {
        const open = { ...s, budget: -1 };
        const low = decide(open, f);
        const high = decide(open, { ...f, numReq: f.numReq + extra });
        expect(high.prefill as number).toBeGreaterThanOrEqual(low.prefill as number);
        expect(high.decode as number).toBeGreaterThanOrEqual(low.decode as number);
      }),
      { numRuns: 300 },
    );
  });

  it('on the llama H100 profile, 12 req/s of 2000-token prompts under a 300 ms TTFT: upstream 1 prefill, queueing 2', () => {
    // 12 x 2000 / 35,600 tok/s = 0.67 Erlang: one replica at 67% utilisation, which misses 300 ms
    // for about 23% of requests (M/M/1: 0.67 e^{-(1.78 - 1.2) 0.244 / 0.056}); two miss 0.9%.
    const s: Setup = { minEndpoint: 1, budget: -1, pgpu: 1, profile: 0, ttft: 300, quantile: 0.95, cap: 0.9, burst: 1 };
    const f = { numReq: 12 * 180, isl: 2000, osl: 100 };
    expect(decide(s, f, 'throughput').prefill).toBe(1);
    const d = decide(s, f, 'queueing');
    expect(d.prefill).toBe(2);
    expect(d.reason.bindings).toMatchObject({ prefill: 'sla_queueing' });
    // With one pool, the decision's one-word binding is that pool's.
    const single = new Planner({
      config: configOf({ mode: 'prefill', ttft: 300, prefill_sizing: 'queueing', max_gpu_budget: -1 }),
      interpolators: profiles[0],
      predictors: { numReq: fixed(f.numReq), isl: fixed(f.isl), osl: fixed(f.osl) },
    }).throughputTick(busy, { prefill: 1, decode: 0 });
    expect(single).toMatchObject({ prefill: 2, reason: { binding: 'sla_queueing', bindings: { prefill: 'sla_queueing' } } });
  });

  it('learns burstiness from an interval whose TTFT is above the M/M/c prediction, and then adds replicas', () => {
    const config = configOf({ ttft: 300, prefill_sizing: 'queueing', throughput_adjustment_interval: 180 });
    const interp = profiles[0];
    const planner = new Planner({ config, interpolators: interp, predictors: { numReq: fixed(6 * 180), isl: fixed(2000), osl: fixed(100) } });
    // 6 req/s of 2000 tokens on one replica: rho 0.34, M/M/1 wait = 0.34 * 56 / 0.66 = 29 ms; 200 ms observed.
    const quiet = { num_req: 6 * 180, isl: 2000, osl: 100, ttft: interp.prefill.ttftMs(2000) + 29, itl: 10, request_duration: 2 };
    const first = planner.throughputTick(quiet, { prefill: 1, decode: 1 });
    expect(planner.state().prefillBurstiness).toBeCloseTo(1, 0);
    const bursty = { ...quiet, ttft: interp.prefill.ttftMs(2000) + 200 };
    planner.throughputTick(bursty, { prefill: 1, decode: 1 });
    const b = planner.state().prefillBurstiness as number;
    expect(b).toBeGreaterThan(3);
    const after = planner.throughputTick(bursty, { prefill: 1, decode: 1 });
    expect(after.prefill as number).toBeGreaterThan(first.prefill as number);
  });
});

describe('other extensions', () => {
  const interp = profiles[0];
  const obs = { num_req: 1000, isl: 2000, osl: 200, ttft: 60, itl: 10, request_duration: 5 };

  it('decode_max_kv_usage plans at the cap when the ITL target would fill the KV cache past it', () => {
    const run = (itl: number, cap: number) => {
      const planner = new Planner({ config: configOf({ itl, decode_max_kv_usage: cap }), interpolators: interp, predictors: { numReq: fixed(20_000), isl: fixed(2000), osl: fixed(200) } });
      return planner.throughputTick(obs, { prefill: 1, decode: 1 }).decode as number;
    };
    const demand = (20_000 * 200) / 180; // output tokens/s
    // A loose ITL target: the original picks a cell near a full cache.
    const loose = interp.decode.findBestThroughputPerGpu(30, 2100);
    expect(loose.kvUsage).toBeGreaterThan(0.9);
    expect(run(30, 1)).toBe(Math.ceil(demand / loose.thptPerGpu));
    expect(run(30, 0.5)).toBe(Math.ceil(demand / ((loose.thptPerGpu * 0.5) / loose.kvUsage)));
    expect(run(30, 0.5)).toBeGreaterThan(run(30, 1));
    // A tight target picks a cell under the cap: nothing changes.
    const tight = interp.decode.findBestThroughputPerGpu(12, 2100);
    expect(tight.kvUsage).toBeLessThan(0.8);
    expect(run(12, 0.8)).toBe(run(12, 1));
  });

  it('scale_down_window holds the highest count of the last N intervals; scale-up is immediate', () => {
    const loads = [40_000, 1_000, 1_000, 1_000, 60_000];
    const run = (window: number) => {
      const planner = new Planner({ config: configOf({ scale_down_window: window }), interpolators: interp, predictors: { numReq: sequence(loads), isl: fixed(2000), osl: fixed(200) } });
      return loads.map(() => planner.throughputTick(obs, { prefill: 1, decode: 1 }).prefill as number);
    };
    const upstream = run(1);
    const held = run(3);
    expect(upstream[0]).toBeGreaterThan(upstream[1]);
    // Intervals 2 and 3 still see interval 1's count within a window of 3; interval 4 does not.
    expect(held.slice(0, 3)).toEqual([upstream[0], upstream[0], upstream[0]]);
    expect(held[3]).toBe(upstream[3]);
    expect(held[4]).toBe(upstream[4]);
  });

  it('forecast_quantile sizes for the observed under-forecast ratio (never below the mean forecast)', () => {
    // A forecaster that always predicts half of what then arrives: the ratio observed/forecast is 2.
    const planner = new Planner({ config: configOf({ forecast_quantile: 0.9 }), interpolators: interp, predictors: { numReq: fixed(10_000), isl: fixed(2000), osl: fixed(200) } });
    const plain = new Planner({ config: configOf({}), interpolators: interp, predictors: { numReq: fixed(10_000), isl: fixed(2000), osl: fixed(200) } });
    const seen = { ...obs, num_req: 20_000 };
    let d = planner.throughputTick(seen, { prefill: 1, decode: 1 });
    const p = plain.throughputTick(seen, { prefill: 1, decode: 1 });
    expect(d.prefill).toBe(p.prefill); // no history yet
    d = planner.throughputTick(seen, { prefill: 1, decode: 1 });
    expect(planner.state().forecastMultiplier).toBeCloseTo(2, 12);
    // 20,000 x 2000 / 180 s / 35,600 tok/s = 6.2 -> 7 prefill replicas, vs 4 for the mean.
    expect(p.prefill).toBe(4);
    expect(d.prefill).toBe(7);
    // Over-forecasts never shrink below the mean.
    const over = new Planner({ config: configOf({ forecast_quantile: 0.9 }), interpolators: interp, predictors: { numReq: fixed(10_000), isl: fixed(2000), osl: fixed(200) } });
    for (let i = 0; i < 3; i++) over.throughputTick({ ...obs, num_req: 100 }, { prefill: 1, decode: 1 });
    expect(over.state().forecastMultiplier).toBe(1);
  });

  it('forecast_quantile compares an interval only with the forecast made for it (none after a held tick)', () => {
    const planner = new Planner({ config: configOf({ forecast_quantile: 0.5 }), interpolators: interp, predictors: { numReq: fixed(100), isl: fixed(2000), osl: fixed(200) } });
    const idle = { num_req: 0, isl: null, osl: null, ttft: null, itl: null, request_duration: null };
    planner.throughputTick({ ...obs, num_req: 100 }, { prefill: 1, decode: 1 }); // forecasts 100 for the next interval
    expect(planner.throughputTick(idle, { prefill: 1, decode: 1 }).decided).toBe(false); // ratio 0 / 100; held, no forecast
    // This interval had no forecast: 400 against the forecast made two ticks ago would be a ratio of 4.
    planner.throughputTick({ ...obs, num_req: 400 }, { prefill: 1, decode: 1 });
    expect(planner.state().forecastMultiplier).toBe(1);
    planner.throughputTick({ ...obs, num_req: 400 }, { prefill: 1, decode: 1 }); // ratios [0, 4]: median 2
    expect(planner.state().forecastMultiplier).toBe(2);
  });

  it('all extensions default to upstream behaviour', () => {
    const config = configOf({});
    expect(config).toMatchObject({
      prefill_sizing: 'throughput',
      decode_max_kv_usage: 1,
      num_req_source: 'finished',
      forecast_quantile: null,
      scale_down_window: 1,
    });
  });
});

// ---------------------------------------------------------------- simulator

describe('simulator: recommended extensions vs the upstream setting (azure code, 1 h, 8.8k requests)', () => {
  const interpolators = loadInterpolators('config/profile');
  const trace = 'config/traces/azure2023_code_1h.jsonl';
  const cfg = (extra: Record<string, unknown>) =>
    configOf({ throughput_adjustment_interval: 180, max_gpu_budget: 16, ttft: 300, itl: 20, load_predictor: 'constant', ...extra });
  const run = async (extra: Record<string, unknown>) => {
    const config = cfg(extra);
    return (await runSimulation({ config, interpolators, trace, policy: 'planner', numReqSource: config.num_req_source, warn: () => {}, log: () => {} })).summary;
  };

  it('raises SLA attainment from under 60% to over 85%, still under the 5 GPU-hours of the best static allocation', async () => {
    const upstream = await run({});
    const ours = await run({ prefill_sizing: 'queueing', num_req_source: 'started', scale_down_window: 3 });
    expect(upstream.sla_attainment).toBeLessThan(0.6);
    expect(ours.sla_attainment).toBeGreaterThan(0.85);
    expect(ours.gpu_hours).toBeLessThan(5);
    // Fewer replica changes than the queueing sizing without the window.
    const noWindow = await run({ prefill_sizing: 'queueing', num_req_source: 'started' });
    expect(ours.scale_up + ours.scale_down).toBeLessThan(noWindow.scale_up + noWindow.scale_down);
  });
});
