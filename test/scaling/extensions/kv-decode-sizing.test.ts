// decode_sizing kv: the stage object, its learning from histograms and router gauges, and its place in the planner.
import { describe, expect, it } from 'vitest';
import { KvDecodeSizing, normalQuantile, SHAPE_WINDOW_INTERVALS } from '../../../src/scaling/extensions/kv-decode-sizing.js';
import { sizeDecodeForKv } from '../../../src/scaling/kv-decode.js';
import { withMean } from '../../../src/scaling/moments.js';
import { Planner } from '../../../src/scaling/planner.js';
import type { DecodeInterpolator } from '../../../src/profile-data/types.js';
import { fixedPredictors } from '../../helpers/analyticProfile.js';
import { h100Config, h100Profiles } from '../../helpers/h100.js';

/** ITL 20 ms whatever the load; 1000-token engines. */
const flat: DecodeInterpolator = {
  maxKvTokens: 1000,
  maxContextLength: 16000,
  itlMs: () => 20,
  thptPerGpu: (c) => c * 50,
  findBestThroughputPerGpu: () => ({ thptPerGpu: 1000, itlMs: 20, kvUsage: 1 }),
};

const sla = (extra: Record<string, unknown> = {}) => h100Config({ strategy: 'sla', load_router_metrics_url: 'http://127.0.0.1:9/metrics', itl: 30, ...extra });

function stage(extra: Record<string, unknown> = {}): KvDecodeSizing {
  return KvDecodeSizing.fromConfig(sla(extra), flat, 1)!;
}

describe('normalQuantile', () => {
  it('matches the normal table', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.99)).toBeCloseTo(2.326348, 5);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326348, 5);
    expect(normalQuantile(1)).toBe(Infinity);
  });
});

describe('KvDecodeSizing', () => {
  it('exists for decode_sizing kv with a decode pool of its own', () => {
    expect(KvDecodeSizing.fromConfig(h100Config({}), flat, 1)).toBeUndefined();
    expect(KvDecodeSizing.fromConfig(sla({ mode: 'agg' }), flat, 1)).toBeUndefined();
    expect(KvDecodeSizing.fromConfig(sla({ mode: 'prefill' }), flat, 1)).toBeUndefined();
    expect(stage()).toBeInstanceOf(KvDecodeSizing);
  });

  it('without histograms: exponential lengths at the forecast means, the sizing formula with z of decode_kv_quantile', () => {
    // 1800 requests in 180 s = 10/s, ISL 100, OSL 10: a = 100·10 + 200/2 = 1100, b = 2·10⁴·10 + 100·200 + 6000/3.
    const p = stage().propose({ numReq: 1800, isl: 100, osl: 10 });
    const expected = sizeDecodeForKv({
      arrivalRatePerS: 10, isl: withMean({ r2: 2, r3: 6 }, 100), osl: withMean({ r2: 2, r3: 6 }, 10), itlTargetMs: 30, kvFill: 0.85,
      z: normalQuantile(0.99), maxKvTokens: 1000, itlMs: () => 20, kvCorrection: 1, minReplicas: 1, maxReplicas: 100_000,
    });
    // (220 + 2.326·210.7) / 850 = 0.84 → 1 replica.
    expect(expected.replicas).toBe(1);
    expect(p.count.replicas).toBe(expected.replicas);
    expect(p.detail.resident_kv_tokens).toBeCloseTo(220, 9);
    expect(stage().propose({ numReq: 18_000, isl: 100, osl: 10 }).count).toEqual({ replicas: 5, binding: 'kv_cache' });
  });

  it('learns the shape from histograms pooled over the last intervals', () => {
    const s = stage();
    // Every OSL exactly in (9, 10]: shape ~1 (constant lengths), so less KV than exponential lengths.
    const h = { le: [9, 10], cumulative: [0, 100, 100], sum: 1000 };
    for (let i = 0; i < SHAPE_WINDOW_INTERVALS + 2; i++) s.learn({ num_req: 1800, isl: 100, osl: 10, itl: 20, osl_histogram: h });
    expect(s.shapes.osl.r2).toBeCloseTo(1, 2);
    expect(s.shapes.isl).toEqual({ r2: 2, r3: 6 });
    expect(s.propose({ numReq: 1800, isl: 100, osl: 10 }).detail.resident_kv_tokens).toBeCloseTo(10 * 0.02 * (1000 + 50), 0);
  });

  it('corrects the model by the KV the router reported, after a warm-up, within bounds', () => {
    const s = stage();
    // Model for 10/s, ISL 100, OSL 10 at a 20 ms step: 220 tokens; the router shows 110 (16-token blocks: 6.875 blocks).
    const scrape = { decode: { a: { active_decode_blocks: 110 / 16, last_itl: 0.02 } } };
    const obs = { num_req: 1800, isl: 100, osl: 10, itl: 20 };
    for (let i = 0; i < 3; i++) {
      s.observeLoad([scrape]);
      s.learn(obs);
    }
    expect(s.kvCorrection).toBe(1); // warm-up: three valid intervals first
    s.observeLoad([scrape, scrape]);
    s.learn(obs);
    expect(s.kvCorrection).toBeCloseTo(0.7 + 0.3 * 0.5, 12);
    // A reported capacity converts blocks into the profile's tokens: 1000 tokens over 100 blocks = 10 per block.
    const t = stage();
    for (let i = 0; i < 4; i++) {
      t.observeLoad([{ decode: { a: { active_decode_blocks: 44, last_itl: 0.02, kv_total_blocks: 100 } } }]);
      t.learn(obs);
    }
    expect(t.kvCorrection).toBeCloseTo(0.7 + 0.3 * 2, 12); // 440 / 220 = 2, the upper bound
  });

  it('keeps enough replicas for the busiest scrape over burst_memory_s under saturation_kv_usage', () => {
    const s = stage({ burst_memory_s: 360 }); // two 180-s intervals
    s.observeLoad([{ decode: { a: { active_decode_blocks: 2000 / 16, last_itl: 0.02 } } }]);
    s.learn({ num_req: 1800, isl: 100, osl: 10, itl: 20 });
    // 2000 tokens / (0.9 × 1000) → 3 replicas, though the model says 1.
    expect(s.propose({ numReq: 1800, isl: 100, osl: 10 }).count).toEqual({ replicas: 3, binding: 'kv_cache' });
    s.learn({ num_req: 1800, isl: 100, osl: 10, itl: 20 });
    expect(s.peakTokens).toBe(2000);
    s.learn({ num_req: 1800, isl: 100, osl: 10, itl: 20 });
    expect(s.peakTokens).toBe(0);
    expect(s.propose({ numReq: 1800, isl: 100, osl: 10 }).count.replicas).toBe(1);
  });
});

describe('in the planner (H100 Llama-3.1-8B)', () => {
  it('sizes decode below the KV cliff where upstream parks it, and says so in the binding', () => {
    const interp = h100Profiles[0];
    const obs = { num_req: 2000, isl: 1500, osl: 3000, ttft: 100, itl: 20, request_duration: 60 };
    const run = (config: ReturnType<typeof h100Config>) =>
      new Planner({ config, interpolators: interp, predictors: fixedPredictors(2000, 1500, 3000) }).decideThroughput(obs, { prefill: 1, decode: 1 });
    const upstream = run(h100Config({ itl: 30 }));
    const kv = run(sla({ decode_max_kv_usage: 0.85 }));
    expect(interp.decode.findBestThroughputPerGpu(30, 1500 + 1500).kvUsage).toBeGreaterThan(0.9);
    expect(kv.decode!).toBeGreaterThan(upstream.decode!);
    expect(kv.reason.code).toBe('scale');
    if (kv.reason.code === 'scale') {
      expect(kv.reason.bindings.decode).toBe('kv_cache');
      expect(kv.reason.sizing.decode_kv!.kv_usage).toBeLessThanOrEqual(0.85);
    }
  });
});
