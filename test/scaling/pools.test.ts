// Pool sizers: built once from the mode, each proposing its pool's count and stepping it under load.
import { describe, expect, it } from 'vitest';
import { NO_CORRECTION } from '../../src/scaling/correction.js';
import { UPSTREAM_PREFILL_CORRECTION } from '../../src/scaling/extensions/prefill-correction-can-scale-up.js';
import type { RouterSnapshot } from '../../src/scaling/observation.js';
import { PhaseSizer, poolSizers, type ProfileCapacity } from '../../src/scaling/pools.js';
import { decodeCapacity } from '../../src/scaling/throughput.js';
import { decodeStub, prefillStub, stubConfig } from '../helpers/analyticProfile.js';

const capacity: ProfileCapacity = { prefill: prefillStub, decode: decodeCapacity(decodeStub), prefillCorrection: UPSTREAM_PREFILL_CORRECTION };
const input = { forecast: { numReq: 18000, isl: 3000, osl: 300 }, intervalS: 180, correction: NO_CORRECTION, capacity };
const gpus = { prefill: 1, decode: 1 };

describe('poolSizers', () => {
  it('builds one sizer per pool of the mode; agg is one pool scaled as decode', () => {
    const shape = (mode: string) => poolSizers(stubConfig({ mode, prefill_engine_num_gpu: 1 }), gpus, 0).map((s) => [s.constructor.name, s.pool, s.phases.join('+')]);
    expect(shape('disagg')).toEqual([['PhaseSizer', 'prefill', 'prefill'], ['PhaseSizer', 'decode', 'decode']]);
    expect(shape('prefill')).toEqual([['PhaseSizer', 'prefill', 'prefill']]);
    expect(shape('decode')).toEqual([['PhaseSizer', 'decode', 'decode']]);
    expect(shape('agg')).toEqual([['AggSizer', 'decode', 'prefill+decode']]);
  });
});

describe('propose', () => {
  const sizer = (mode: 'prefill' | 'decode' | 'agg') => poolSizers(stubConfig({ mode }), gpus, 0)[0];

  it('prefill: 300000 tok/s over 34000 tok/s/GPU is 9 replicas, reported with its figures', () => {
    expect(sizer('prefill').propose(input)).toEqual({ count: { replicas: 9, binding: 'demand' }, sizing: { prefill_demand_tok_s: 300000, prefill_thpt_per_gpu: 34000 } });
  });

  it('prefill: the correction rule it is given decides whether a factor above 1 counts', () => {
    const slow = { ...input, correction: { prefill: 2, decode: 1 } };
    expect(sizer('prefill').propose(slow).count.replicas).toBe(9);
    expect(sizer('prefill').propose({ ...slow, capacity: { ...capacity, prefillCorrection: { applied: (f) => f } } }).count.replicas).toBe(18);
  });

  it('decode: at 25 ms and context 3150, 3170 tok/s/GPU for 30000 tok/s is 10 replicas', () => {
    const p = sizer('decode').propose(input);
    expect(p.count).toEqual({ replicas: 10, binding: 'demand' });
    expect(p.sizing.decode_thpt_per_gpu).toBeCloseTo(3170, 9);
  });

  it('agg: both phases on one pool, 8.82 + 9.46 GPUs is 19 replicas', () => {
    const p = sizer('agg').propose(input);
    expect(p.count).toEqual({ replicas: 19, binding: 'demand' });
    expect(p.sizing.agg_gpus?.prefill).toBeCloseTo(300000 / 34000, 9);
  });
});

describe('load steps', () => {
  const snap = (blocks: number[], tokens: number[]): RouterSnapshot => ({
    prefill: Object.fromEntries(tokens.map((t, i) => [String(i), { active_prefill_tokens: t, last_ttft: (20 + 0.01 * (t + 3000)) / 1000, last_isl: 3000 }])),
    decode: Object.fromEntries(blocks.map((b, i) => [String(i), { active_decode_blocks: b, last_itl: (5 + 0.02 * b) / 1000 }])),
  });
  const config = stubConfig({ ttft: 200, itl: 20 });

  it('each pool learns its own regression from the latest scrape and steps on its own signal', () => {
    const [prefill, decode] = poolSizers(config, gpus, 0);
    for (const b of [100, 200, 300, 400, 500]) for (const s of [prefill, decode]) s.learnLoad([snap([b], [b * 10])]);
    // decode: x_sla = (20 - 5) / 0.02 = 750 blocks; prefill: (200 - 20) / 0.01 - 3000 = 15000 tokens.
    const view = decode.learnLoad([snap([800], [1000])]);
    expect(decode.stepLoad(view, 1)).toEqual({ desired: 2, steps: { decode: { desired: 2, code: 'scale_up', target: expect.closeTo(750, 6) } } });
    const pview = prefill.learnLoad([snap([800], [1000])]);
    expect(prefill.stepLoad(pview, 1)).toMatchObject({ desired: undefined, steps: { prefill: { code: 'no_change' } } });
  });

  it('a missing gauge reads as the value the sizer was built with', () => {
    const noGauge: RouterSnapshot = { decode: { a: { active_decode_blocks: 10, last_itl: 0.0052 }, b: { last_itl: 0.0052 } as never } };
    for (const [missing, desired] of [[0, 1], [Number.NaN, undefined]] as const) {
      const decode = new PhaseSizer('decode', { gpusPerReplica: 1, minEndpoint: 1, ttftTargetMs: 200, itlTargetMs: 20, sensitivityPct: 80, missingLoadGauge: missing, learningWindow: 50, minObservations: 5 });
      for (const b of [100, 200, 300, 400, 500]) decode.learnLoad([snap([b, b], [])]);
      expect(decode.stepLoad(decode.learnLoad([noGauge]), 2).desired).toBe(desired);
    }
  });

  it('agg: nothing to step on without workers', () => {
    const agg = poolSizers(stubConfig({ mode: 'agg' }), gpus, 0)[0];
    expect(agg.stepLoad(agg.learnLoad([]), 0)).toEqual({ desired: undefined, steps: { decode: { desired: undefined, code: 'no_metrics' } } });
  });
});
