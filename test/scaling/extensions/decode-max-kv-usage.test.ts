// decode_max_kv_usage: plan decode at a KV-cache fill below full.
import { describe, expect, it } from 'vitest';
import { DecodeKvUsageCap, kvHeadroom } from '../../../src/scaling/extensions/decode-max-kv-usage.js';
import { Planner } from '../../../src/scaling/planner.js';
import { fixedPredictors } from '../../helpers/analyticProfile.js';
import { h100Config, h100Profiles } from '../../helpers/h100.js';

describe('DecodeKvUsageCap', () => {
  it('exists only below a full cache', () => {
    expect(DecodeKvUsageCap.fromConfig(h100Config({}))).toBeUndefined();
    expect(DecodeKvUsageCap.fromConfig(h100Config({ decode_max_kv_usage: 0.8 }))?.maxKvUsage).toBe(0.8);
  });

  it('scales a cell past the cap by cap / fill, and leaves a cell under it alone', () => {
    const cap = new DecodeKvUsageCap(0.5);
    expect(cap.thptPerGpu({ thptPerGpu: 1000, itlMs: 20, kvUsage: 0.8 })).toBeCloseTo(625, 12);
    expect(cap.thptPerGpu({ thptPerGpu: 1000, itlMs: 20, kvUsage: 0.4 })).toBe(1000);
    expect(kvHeadroom({ thptPerGpu: 1000, itlMs: 20, kvUsage: 0.9 }, 1)).toBe(1);
  });

  it('in the planner: plans at the cap when the ITL target would fill the KV cache past it', () => {
    const interp = h100Profiles[0];
    const obs = { num_req: 1000, isl: 2000, osl: 200, ttft: 60, itl: 10, request_duration: 5 };
    const run = (itl: number, cap: number) => {
      const planner = new Planner({ config: h100Config({ itl, decode_max_kv_usage: cap }), interpolators: interp, predictors: fixedPredictors(20_000, 2000, 200) });
      return planner.decideThroughput(obs, { prefill: 1, decode: 1 }).decode as number;
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
});
