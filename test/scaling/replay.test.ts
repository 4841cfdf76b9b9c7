// Replaying observations on a virtual clock: the engine of `decide` and of the vector tests.
import { describe, expect, it } from 'vitest';
import { Planner } from '../../src/scaling/planner.js';
import { MAX_SCRAPES_PER_INTERVAL, replayObservations, snapshotAt } from '../../src/scaling/replay.js';
import { analyticProfile, stubConfig } from '../helpers/analyticProfile.js';

const busy = { num_req: 1800, isl: 3000, osl: 300, ttft: 150, itl: 20, request_duration: 6 };

describe('replayObservations', () => {
  it('starts at min_endpoint, applies each decision, and reports the plan and events of each interval', () => {
    const planner = new Planner({ config: stubConfig({ throughput_adjustment_interval: 180, min_endpoint: 2, max_gpu_budget: -1 }), interpolators: analyticProfile });
    const idle = { num_req: 0, isl: null, osl: null, ttft: null, itl: null, request_duration: null };
    const lines = [...replayObservations(planner, [{ ...busy, num_req: 18000 }, idle])];
    expect(lines[0]).toMatchObject({ prefill: 9, decode: 10, decided: true, planned: { prefill: 9, decode: 10 }, events: [{ t: 180.2, interval: 0, prefill: 9, decode: 10, source: 'throughput' }] });
    expect(lines[1]).toMatchObject({ prefill: 9, decode: 10, decided: false, predicted: null, planned: { prefill: null, decode: null }, events: [], reason: { code: 'hold_invalid_metrics' } });
  });

  it('counts the load ticks that held in each interval', () => {
    const cfg = stubConfig({ enable_load_scaling: true, load_router_metrics_url: 'http://r/metrics', throughput_adjustment_interval: 60, load_adjustment_interval: 10 });
    const lines = [...replayObservations(new Planner({ config: cfg, interpolators: analyticProfile }), [busy, busy])];
    // The load loop sleeps one interval, so ticks at 10..50 s, then 60..110 s: none has router scrapes.
    expect(lines.map((l) => l.reason.load_holds)).toEqual([{ worker_count_mismatch: 5 }, { worker_count_mismatch: 6 }]);
  });

  it('refuses a config that would replay more router scrapes per interval than the bound, naming the fields', () => {
    const cfg = stubConfig({ enable_load_scaling: true, load_router_metrics_url: 'http://r/metrics', throughput_adjustment_interval: 86_400, load_adjustment_interval: 1, load_metric_samples: 100 });
    const planner = new Planner({ config: cfg, interpolators: analyticProfile });
    expect(() => replayObservations(planner, [busy]).next()).toThrow(new RegExp(`load_metric_samples 100 is more than ${MAX_SCRAPES_PER_INTERVAL} router scrapes`));
  });

  it('spreads an interval\'s router samples over it', () => {
    const a = { decode: {} };
    const b = { prefill: {} };
    const obs = [{ router_samples: [a, b] }];
    expect([10, 40, 0, 70].map((s) => snapshotAt(obs, 60, s))).toEqual([a, b, undefined, undefined]);
  });
});
