// The Planner's two pipelines end to end on the analytic profile: hand-computed ticks, the holds
// each stage can end in, and differential files of decisions worked out independently from the
// reference formulas (test/fixtures/scaling-differential.py, scaling-load-differential.py).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PrefillInterpolator } from '../../src/profile-data/types.js';
import { predictedOf } from '../../src/scaling/decision.js';
import { Planner } from '../../src/scaling/planner.js';
import { parseObservation, type RouterSnapshot } from '../../src/scaling/observation.js';
import { replayObservations } from '../../src/scaling/replay.js';
import { analyticProfile as interpolators, decodeStub, fixedPredictors, prefillStub, recordingPredictor, stubConfig } from '../helpers/analyticProfile.js';
import { FIXTURES } from '../helpers/fixtures.js';

const busy = { num_req: 1800, isl: 3000, osl: 300, ttft: 150, itl: 20, request_duration: 6 };

describe('Planner throughput tick', () => {
  it('decides both pools in disagg and accounts GPU hours', () => {
    const planner = new Planner({ config: stubConfig({ throughput_adjustment_interval: 180, max_gpu_budget: -1 }), interpolators });
    const d = planner.decideThroughput({ ...busy, num_req: 18000 }, { prefill: 2, decode: 3 });
    // prefill: 18000 × 3000 / 180 = 300000 tok/s / 34000 = 8.8 -> 9; decode: 30000 tok/s, best at 25 ms
    // and ctx 3150: conc = (25 - 6 - 3.15)/0.2 = 79.25 -> 3170 tok/s/GPU -> ceil(9.46) = 10.
    expect(d).toMatchObject({ prefill: 9, decode: 10, decided: true, reason: { code: 'scale', planned: { prefill: 9, decode: 10 } } });
    expect(planner.state().gpuHours).toBeCloseTo(0.25, 12); // 5 GPUs × 180 s
  });

  it('holds on an idle interval but still feeds the predictors', () => {
    const planner = new Planner({ config: stubConfig({ throughput_adjustment_interval: 180 }), interpolators });
    planner.decideThroughput(busy, { prefill: 1, decode: 1 });
    const held = planner.decideThroughput({ num_req: 0, isl: null, osl: null, ttft: null, itl: null, request_duration: null }, { prefill: 4, decode: 2 });
    expect(held).toMatchObject({ prefill: 4, decode: 2, decided: false, reason: { code: 'hold_invalid_metrics', missing: ['ttft', 'itl', 'isl', 'osl'] } });
    expect(planner.state().holds).toEqual({ hold_invalid_metrics: 1 });
    // The constant predictor saw the idle zeros: next forecast is the new interval's values.
    const next = planner.decideThroughput({ ...busy, num_req: 180 }, { prefill: 4, decode: 2 });
    expect(predictedOf(next.reason)).toEqual({ num_req: 180, isl: 3000, osl: 300 });
  });

  it('holds when the request count or duration is missing (hold_on_missing_data), else reads them as 0', () => {
    const obs = { ...busy, request_duration: null };
    const held = new Planner({ config: stubConfig({}), interpolators }).decideThroughput(obs, { prefill: 5, decode: 5 });
    expect(held).toMatchObject({ decided: false, prefill: 5, decode: 5, reason: { code: 'hold_missing_data', missing: ['request_duration'] } });
    const upstream = new Planner({ config: stubConfig({ hold_on_missing_data: false }), interpolators }).decideThroughput(obs, { prefill: 5, decode: 5 });
    expect(upstream.decided).toBe(true);
    const zeroDuration = new Planner({ config: stubConfig({}), interpolators }).decideThroughput({ ...busy, request_duration: 0 }, { prefill: 5, decode: 5 });
    expect(zeroDuration.reason).toMatchObject({ code: 'hold_missing_data', missing: ['request_duration'] });
  });

  it('treats an infinite average (sum over a zero count) as not observed', () => {
    const d = new Planner({ config: stubConfig({}), interpolators }).decideThroughput({ ...busy, ttft: Infinity }, { prefill: 3, decode: 3 });
    expect(d).toMatchObject({ decided: false, prefill: 3, decode: 3, reason: { code: 'hold_invalid_metrics', missing: ['ttft'] } });
  });

  it('manages one pool in prefill and decode modes', () => {
    const p = new Planner({ config: stubConfig({ mode: 'prefill' }), interpolators }).decideThroughput(busy, { prefill: 1, decode: 0 });
    expect(p.decode).toBeNull();
    expect(p.prefill).toBeGreaterThanOrEqual(1);
    const d = new Planner({ config: stubConfig({ mode: 'decode', decode_engine_num_gpu: 2, prefill_engine_num_gpu: null }), interpolators }).decideThroughput(busy, { prefill: 0, decode: 1 });
    expect(d.prefill).toBeNull();
    expect(d.decode).toBeGreaterThanOrEqual(1);
  });

  it('sizes the agg pool for both phases', () => {
    const planner = new Planner({
      config: stubConfig({ mode: 'agg', throughput_adjustment_interval: 180, max_gpu_budget: -1 }),
      interpolators,
      predictors: fixedPredictors(18000, 3000, 300),
    });
    const d = planner.decideThroughput(busy, { prefill: 0, decode: 2 });
    // prefill 300000/34000 = 8.82 GPUs + decode 30000/3170 = 9.46 GPUs = 18.29 -> 19 replicas of 1 GPU.
    expect(d).toMatchObject({ prefill: null, decode: 19, decided: true });
  });

  it('never exceeds the budget, even when min_endpoint would: the budget wins and says so', () => {
    const planner = new Planner({ config: stubConfig({ min_endpoint: 2, max_gpu_budget: 3 }), interpolators });
    const d = planner.decideThroughput(busy, { prefill: 2, decode: 2 });
    expect(d).toMatchObject({ prefill: 0, decode: 0, decided: true, reason: { binding: 'gpu_budget_below_min_endpoint' } });
    expect(d.reason).toMatchObject({ warnings: [expect.stringMatching(/max_gpu_budget \(3\).*min_endpoint \(2\)/)] });
  });

  it('holds when the plan overflows to an infinite count (a denormal profiled throughput), budget or not', () => {
    // 18000 × 3000 / 180 = 300000 tok/s over 5e-324 tok/s/GPU overflows to Infinity; the budget's
    // proportional shrink then computes Infinity × 0 = NaN. The original's ceil(inf) raises and
    // the tick is aborted, so: no decision, and the counts stay as they are.
    const denormal: PrefillInterpolator = { ...prefillStub, thptPerGpu: () => Number.MIN_VALUE };
    for (const mode of ['disagg', 'prefill', 'agg'] as const) {
      for (const budget of [8, -1]) {
        const planner = new Planner({
          config: stubConfig({ mode, max_gpu_budget: budget, decode_engine_num_gpu: 1 }),
          interpolators: { prefill: denormal, decode: decodeStub },
          predictors: fixedPredictors(18000, 3000, 300),
        });
        const d = planner.decideThroughput(busy, { prefill: 2, decode: 3 });
        expect(d, `${mode}, budget ${budget}`).toMatchObject({ decided: false, reason: { code: 'hold_plan_failed' } });
        expect([d.prefill, d.decode]).toEqual([mode === 'agg' ? null : 2, mode === 'prefill' ? null : 3]);
      }
    }
  });

  it('refuses GPUs per replica that are not a whole number > 0 (a division by zero in the budget)', () => {
    expect(() => new Planner({ config: stubConfig({}), interpolators, gpusPerReplica: { prefill: 0, decode: 1 } })).toThrow(/GPUs per prefill replica must be a whole number > 0, got 0/);
    expect(() => new Planner({ config: stubConfig({}), interpolators, gpusPerReplica: { prefill: 1, decode: 1.5 } })).toThrow(/decode replica.*got 1\.5/);
  });

  it('applies correction only when enabled and never with load scaling', () => {
    const obs = { ...busy, ttft: 360 }; // profiled ttft(3000) = 180 -> p_cf = 2
    const on = new Planner({ config: stubConfig({ no_correction: false }), interpolators });
    on.decideThroughput(obs, { prefill: 1, decode: 1 });
    expect(on.state().correctionFactor.prefill).toBeCloseTo(2, 12);
    const withLoad = new Planner({ config: stubConfig({ no_correction: false, enable_load_scaling: true, load_router_metrics_url: 'http://router:8000/metrics' }), interpolators });
    withLoad.decideThroughput(obs, { prefill: 1, decode: 1 });
    expect(withLoad.state().correctionFactor).toEqual({ prefill: 1, decode: 1 });
  });

  it('with load scaling on, sets the floor instead of scaling', () => {
    const planner = new Planner({
      config: stubConfig({ enable_load_scaling: true, load_router_metrics_url: 'http://router:8000/metrics', max_gpu_budget: -1 }),
      interpolators,
      predictors: fixedPredictors(18000, 3000, 300),
    });
    const d = planner.decideThroughput(busy, { prefill: 1, decode: 1 });
    expect(d).toMatchObject({ decided: false, prefill: 1, decode: 1, reason: { code: 'set_lower_bound' } });
    expect(planner.state().lowerBound).toEqual({ prefill: 9, decode: 10 });
  });
});

describe('Planner load tick', () => {
  const loadConfig = stubConfig({ enable_load_scaling: true, enable_throughput_scaling: false, load_router_metrics_url: 'http://router:8000/metrics', ttft: 200, itl: 20, max_gpu_budget: -1 });
  const snap = (blocks: number[], tokens: number[]): RouterSnapshot => ({
    prefill: Object.fromEntries(tokens.map((t, i) => [String(i), { active_prefill_tokens: t, last_ttft: (20 + 0.01 * (t + 3000)) / 1000, last_isl: 3000 }])),
    decode: Object.fromEntries(blocks.map((b, i) => [String(i), { active_decode_blocks: b, last_itl: (5 + 0.02 * b) / 1000 }])),
  });

  it('learns, then scales decode up when every worker is past the SLA load', () => {
    const planner = new Planner({ config: loadConfig });
    const holds: string[] = [];
    for (const b of [100, 200, 300, 400]) holds.push(planner.decideLoad([snap([b], [1000])], { prefill: 1, decode: 1 }).reason.code);
    expect(holds).toEqual(['insufficient_data', 'insufficient_data', 'insufficient_data', 'insufficient_data']);
    // 5th point: x_sla = (20 - 5)/0.02 = 750 blocks; 800 > 750.
    const d = planner.decideLoad([snap([800], [1000])], { prefill: 1, decode: 1 });
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
      for (const b of [100, 200, 300, 400, 500]) planner.decideLoad([snap([b, b], [1000, 1000])], { prefill: 2, decode: 2 });
      // x_sla = 750 blocks; down boundary 750 * 1/2 * 0.8 = 300: worker 0 at 10 blocks wants down.
      const d = planner.decideLoad([noGauge(10)], { prefill: 2, decode: 2 });
      if (hold) expect(d.decode).toBe(2);
      else expect(d.decode).toBe(1);
    }
  });

  it('holds on an impossible router gauge before it can vote for a scale-down or reach a regression', () => {
    const planner = new Planner({ config: loadConfig });
    for (const b of [100, 200, 300, 400, 500]) planner.decideLoad([snap([b, b], [1000, 1000])], { prefill: 2, decode: 2 });
    // Every worker at -1000 blocks would be "idle" and step the pool down.
    const d = planner.decideLoad([snap([-1000, -1000], [1000, 1000])], { prefill: 2, decode: 2 });
    expect(d).toMatchObject({ decided: false, prefill: 2, decode: 2, reason: { code: 'hold_implausible_observation', field: 'router.decode["0"].active_decode_blocks', value: -1000 } });
    expect(planner.state().holds.hold_implausible_observation).toBe(1);
  });

  it('skips the tick when the router sees a different number of workers', () => {
    const planner = new Planner({ config: loadConfig });
    const d = planner.decideLoad([snap([800], [1000])], { prefill: 1, decode: 2 });
    expect(d).toMatchObject({ decided: false, reason: { code: 'worker_count_mismatch', mismatch: { pool: 'decode', router: 1, workers: 2 } } });
  });

  it('keeps a load scale-down at the throughput floor', () => {
    const cfg = stubConfig({ enable_load_scaling: true, load_router_metrics_url: 'http://router:8000/metrics', ttft: 200, itl: 20, max_gpu_budget: -1 });
    const planner = new Planner({ config: cfg, interpolators, predictors: fixedPredictors(1800, 3000, 300) });
    for (const b of [100, 200, 300, 400, 500]) planner.decideLoad([snap([b, b], [1000, 1000])], { prefill: 2, decode: 2 });
    // floor: prefill ceil(30000/34000) = 1; decode at 20 ms: conc (20-6-3.15)/0.2 = 54.25,
    // 2712.5 tok/s/GPU, ceil(3000/2712.5) = 2.
    planner.decideThroughput(busy, { prefill: 2, decode: 2 });
    const down = planner.decideLoad([snap([10, 10], [10, 10])], { prefill: 2, decode: 2 });
    expect(down).toMatchObject({ decided: true, prefill: 1, decode: 2, reason: { bindings: { prefill: 'load', decode: 'throughput_floor' } } });
    // Every key of the reason, the load steps' included, is snake_case.
    const keys = JSON.stringify(down.reason).match(/"[A-Za-z_]+":/g) ?? [];
    expect(keys).toContain('"down_boundary":');
    expect(keys.filter((k) => /[A-Z]/.test(k))).toEqual([]);
    const highFloor = new Planner({ config: cfg, interpolators, predictors: fixedPredictors(18000, 3000, 300) });
    for (const b of [100, 200, 300, 400, 500]) highFloor.decideLoad([snap([b, b], [1000, 1000])], { prefill: 2, decode: 2 });
    highFloor.decideThroughput(busy, { prefill: 2, decode: 2 }); // floor (9, ceil(30000/2712.5) = 12)
    const capped = highFloor.decideLoad([snap([10, 10], [10, 10])], { prefill: 2, decode: 2 });
    expect(capped).toMatchObject({ prefill: 9, decode: 12, reason: { binding: 'throughput_floor' } });
  });

  it('agg: grows if either phase is past its SLA load, shrinks only if both have room', () => {
    const cfg = stubConfig({ mode: 'agg', enable_load_scaling: true, enable_throughput_scaling: false, load_router_metrics_url: 'http://r/metrics', ttft: 200, itl: 20, max_gpu_budget: -1 });
    const agg = (blocks: number, tokens: number): RouterSnapshot => ({
      decode: {
        a: { active_decode_blocks: blocks, last_itl: (5 + 0.02 * blocks) / 1000, active_prefill_tokens: tokens, last_ttft: (20 + 0.01 * (tokens + 3000)) / 1000, last_isl: 3000 },
        b: { active_decode_blocks: blocks, last_itl: (5 + 0.02 * blocks) / 1000, active_prefill_tokens: tokens, last_ttft: (20 + 0.01 * (tokens + 3000)) / 1000, last_isl: 3000 },
      },
    });
    const planner = new Planner({ config: cfg });
    for (const b of [100, 200, 300, 400, 500]) planner.decideLoad([agg(b, b * 10)], { prefill: 0, decode: 2 });
    // decode fine (200 < 750) but prefill past 15000 tokens: up.
    expect(planner.decideLoad([agg(200, 16000)], { prefill: 0, decode: 2 })).toMatchObject({ decided: true, decode: 3, prefill: null });
    // decode has room (10 < 300) but prefill does not (7000 > 6000): hold.
    expect(planner.decideLoad([agg(10, 7000)], { prefill: 0, decode: 2 }).decided).toBe(false);
    expect(planner.decideLoad([agg(10, 100)], { prefill: 0, decode: 2 })).toMatchObject({ decided: true, decode: 1 });
  });
});

describe('differential: 24 intervals worked out from the reference formulas', () => {
  const fixture = JSON.parse(readFileSync(join(FIXTURES, 'scaling-differential.json'), 'utf8')) as {
    config: Record<string, unknown>;
    observations: unknown[];
    expected: Array<{ prefill: number; decode: number; decided: boolean; planned: unknown; correction_factor: { prefill: number; decode: number } }>;
  };
  it('has at least 20 intervals', () => expect(fixture.expected.length).toBeGreaterThanOrEqual(20));
  it('matches interval by interval', () => {
    const planner = new Planner({ config: stubConfig(fixture.config), interpolators });
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
  const fixture = JSON.parse(readFileSync(join(FIXTURES, 'scaling-load-differential.json'), 'utf8')) as {
    config: Record<string, unknown>;
    ticks: Array<{ samples: RouterSnapshot[]; current: { prefill: number; decode: number }; expected: { decided: boolean; prefill: number; decode: number } }>;
  };
  it('covers at least 20 ticks with scale-ups, scale-downs, a budget cap and a worker mismatch', () => {
    expect(fixture.ticks.length).toBeGreaterThanOrEqual(20);
  });
  it('matches tick by tick', () => {
    const planner = new Planner({ config: stubConfig(fixture.config) });
    const got = fixture.ticks.map((t) => {
      const d = planner.decideLoad(t.samples, t.current);
      return { decided: d.decided, prefill: d.prefill, decode: d.decode };
    });
    expect(got).toEqual(fixture.ticks.map((t) => t.expected));
    expect(planner.state().holds.worker_count_mismatch).toBe(1);
  });
});

describe('the throughput pipeline, stage by stage', () => {
  const predictors = () => ({ numReq: recordingPredictor(), isl: recordingPredictor(), osl: recordingPredictor() });

  it('screens first: an impossible value is a named, counted hold that the predictors never see', () => {
    const p = predictors();
    const planner = new Planner({ config: stubConfig({ throughput_adjustment_interval: 180, no_correction: false }), interpolators, predictors: p });
    const d = planner.decideThroughput({ ...busy, num_req: -1000, ttft: -1000 }, { prefill: 6, decode: 4 });
    expect(d).toEqual({
      prefill: 6, decode: 4, decided: false,
      reason: { code: 'hold_implausible_observation', field: 'num_req', value: -1000, rule: 'must be >= 0' },
    });
    expect(p.numReq.seen).toEqual([]);
    expect(planner.state()).toMatchObject({ holds: { hold_implausible_observation: 1 }, correctionFactor: { prefill: 1, decode: 1 } });
    // GPU hours are still accounted: the pools ran through the interval.
    expect(planner.state().gpuHours).toBeCloseTo((10 * 180) / 3600, 12);
    const next = planner.decideThroughput(busy, { prefill: 6, decode: 4 });
    expect(next.decided).toBe(true);
    expect(p.numReq.seen).toEqual([1800]);
  });

  it('holds on a current count no deployment has, before any loop runs over it', () => {
    const planner = new Planner({ config: stubConfig({ prefill_sizing: 'queueing', max_gpu_budget: -1 }), interpolators });
    const d = planner.decideThroughput(busy, { prefill: 1e20, decode: 1 });
    expect(d.reason).toMatchObject({ code: 'hold_implausible_observation', field: 'current_prefill', value: 1e20 });
    // An unmanaged pool's count is not looked at.
    const decodeOnly = new Planner({ config: stubConfig({ mode: 'decode' }), interpolators });
    expect(decodeOnly.decideThroughput(busy, { prefill: 1e20, decode: 1 }).decided).toBe(true);
  });

  it('holds with hold_predict_failed when a predictor gives no finite forecast, after feeding it', () => {
    const planner = new Planner({ config: stubConfig({}), interpolators, predictors: { ...fixedPredictors(100, 3000, 300), isl: { ...recordingPredictor(), predict: () => Number.NaN } } });
    const d = planner.decideThroughput(busy, { prefill: 2, decode: 2 });
    expect(d).toMatchObject({ decided: false, prefill: 2, decode: 2, reason: { code: 'hold_predict_failed' } });
    expect(planner.state().holds).toEqual({ hold_predict_failed: 1 });
  });

  it('holds with hold_correction_failed when a factor is not finite, and keeps the last good factors', () => {
    const zeroTtft: PrefillInterpolator = { ...prefillStub, ttftMs: () => 0 };
    const planner = new Planner({ config: stubConfig({ no_correction: false }), interpolators: { prefill: zeroTtft, decode: decodeStub } });
    const d = planner.decideThroughput(busy, { prefill: 2, decode: 2 });
    expect(d.reason).toMatchObject({ code: 'hold_correction_failed', correction_factor: { prefill: Infinity } });
    expect(planner.state().correctionFactor).toEqual({ prefill: 1, decode: 1 });
  });

  it('reports the sizing figures of each pool in snake_case', () => {
    const d = new Planner({ config: stubConfig({ throughput_adjustment_interval: 180, max_gpu_budget: -1 }), interpolators }).decideThroughput(busy, { prefill: 1, decode: 1 });
    expect(d.reason).toMatchObject({ code: 'scale', sizing: { prefill_demand_tok_s: 30000, prefill_thpt_per_gpu: 34000, decode_demand_tok_s: 3000 } });
    const keys = JSON.stringify(d.reason).match(/"[A-Za-z_]+":/g) ?? [];
    expect(keys.filter((k) => /[A-Z]/.test(k))).toEqual([]);
  });
});
