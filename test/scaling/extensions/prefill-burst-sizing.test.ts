// prefill_burst_sizing: hand-worked bursts, the loss rule, the groups' memory, and the load loop's raise.
import { describe, expect, it } from 'vitest';
import { missedTokens, PrefillBurstSizing, replicasForBursts, tickBurst } from '../../../src/scaling/extensions/prefill-burst-sizing.js';
import type { RouterSnapshot } from '../../../src/scaling/observation.js';
import { Planner } from '../../../src/scaling/planner.js';
import { decodeStub, fixedPredictors, prefillStub } from '../../helpers/analyticProfile.js';
import { h100Config } from '../../helpers/h100.js';

/** Prefill workers' queued prompt tokens (and one idle decode worker, so the counts match). */
const queued = (tokens: number[]): RouterSnapshot => ({
  prefill: Object.fromEntries(tokens.map((t, i) => [`p${i}`, { active_prefill_tokens: t, last_ttft: 0.1, last_isl: 1000 }])),
  decode: { d0: { active_decode_blocks: 0, last_itl: 0.02 } },
});

// At ISL 1000 the stub prefills 38000 tok/s with an idle TTFT of 80 ms: against a 300-ms target,
// one replica prefills 38000 × 0.22 = 8360 tokens within the slack.
const SLACK_TOKENS = 8360;
const rates = { prefill: prefillStub, gpusPerReplica: 1, ttftTargetMs: 300 };

function sizing(memoryS = 120): PrefillBurstSizing {
  return new PrefillBurstSizing({ ...rates, loadIntervalS: 5, groupS: 60, memoryS, missShare: 0.01, maxReplicas: 10 });
}

const plan = (p: number) => ({ prefill: { replicas: p, binding: 'demand' as const }, decode: { replicas: 1, binding: 'demand' as const } });

describe('tickBurst', () => {
  it('takes the scrape with the most tokens queued on every worker at once', () => {
    // Scrape 1: least 5000 on 2 workers = 10000; scrape 2: least 9000 × 2 = 18000.
    const b = tickBurst([queued([20_000, 5000]), queued([9000, 12_000])], 1000, rates);
    expect(b?.burstTokens).toBe(18_000);
    expect(b?.slackTokensPerReplica).toBeCloseTo(SLACK_TOKENS, 6);
  });

  it('does not count one long prompt on one worker as a burst', () => {
    expect(tickBurst([queued([50_000, 0])], 1000, rates)?.burstTokens).toBe(0);
  });

  it('says nothing without prefill gauges', () => {
    expect(tickBurst([{ decode: { d0: { active_decode_blocks: 1, last_itl: 0.02 } } }], 1000, rates)).toBeUndefined();
  });
});

describe('replicasForBursts', () => {
  const bursts = [{ burstTokens: 18_000, slackTokensPerReplica: SLACK_TOKENS }];
  it('misses the tokens beyond replicas × slack tokens', () => {
    expect(missedTokens(bursts, 1)).toBe(18_000 - 8360);
    expect(missedTokens(bursts, 2)).toBe(18_000 - 16_720);
    expect(missedTokens(bursts, 3)).toBe(0);
  });

  it('picks the fewest replicas within the allowance, and names what bound it', () => {
    expect(replicasForBursts(bursts, 1000, 10)).toEqual({ replicas: 3, binding: 'burst_size' });
    expect(replicasForBursts(bursts, 1500, 10)).toEqual({ replicas: 2, binding: 'burst_size' });
    expect(replicasForBursts(bursts, 10_000, 10)).toEqual({ replicas: 1, binding: 'no_burst' });
    expect(replicasForBursts(bursts, 1000, 2)).toEqual({ replicas: 2, binding: 'burst_budget' });
  });
});

describe('PrefillBurstSizing', () => {
  it('exists with prefill_burst_sizing and load scaling on and a prefill pool', () => {
    const on = { prefill_burst_sizing: true, enable_load_scaling: true, load_router_metrics_url: 'http://127.0.0.1:9/metrics' };
    expect(PrefillBurstSizing.fromConfig(h100Config({}), prefillStub, 1)).toBeUndefined();
    expect(PrefillBurstSizing.fromConfig(h100Config({ prefill_burst_sizing: true }), prefillStub, 1)).toBeUndefined();
    expect(PrefillBurstSizing.fromConfig(h100Config({ ...on, mode: 'agg' }), prefillStub, 1)).toBeUndefined();
    expect(PrefillBurstSizing.fromConfig(h100Config(on), prefillStub, 1)).toBeInstanceOf(PrefillBurstSizing);
  });

  it('holds what a burst needed for burst_memory_s, then releases it', () => {
    const s = sizing(120);
    // 540 requests of 1000 tokens over 180 s: 3000 tok/s, 180000 tokens a 60-s group, 1% = 1800 allowed.
    s.learn({ num_req: 540, isl: 1000 }, 180);
    s.observeLoad([queued([9000, 9000])]);
    // The open group already asks: 18000 tokens miss 1280 on 2 replicas (<= 1800), 9640 on 1.
    expect(s.size()).toMatchObject({ replicas: 2, binding: 'burst_size' });
    for (let tick = 2; tick <= 12; tick++) s.observeLoad([queued([0, 0])]);
    expect(s.size()).toMatchObject({ replicas: 2, groups: 2, last_peak_burst_tokens: 18_000 });
    expect(s.raise(plan(1)).plan.prefill).toEqual({ replicas: 2, binding: 'prefill_burst' });
    expect(s.raise(plan(4)).plan.prefill).toEqual({ replicas: 4, binding: 'demand' });
    // Quiet groups: the burst's group closed at 60 s stays while it is within 120 s of the newest.
    for (let tick = 13; tick <= 24; tick++) s.observeLoad([queued([0, 0])]);
    expect(s.size().replicas).toBe(2);
    for (let tick = 25; tick <= 36; tick++) s.observeLoad([queued([0, 0])]);
    expect(s.size()).toMatchObject({ replicas: 1, binding: 'no_burst' });
  });
});

describe('in the planner', () => {
  const config = h100Config({
    strategy: 'sla',
    ttft: 300,
    prefill_burst_sizing: true,
    // Off, so its floor (the count served at the first interval) does not take the binding.
    ttft_feedback: false,
    load_router_metrics_url: 'http://127.0.0.1:9/metrics',
  });

  it('a load tick asks for the burst count at once, and throughput ticks keep it', () => {
    const planner = new Planner({ config, interpolators: { prefill: prefillStub, decode: decodeStub }, predictors: fixedPredictors(10, 1000, 10) });
    // 40000 tokens on every worker: 5 × 8360 = 41800 hold them, 4 do not (the saturation rule alone asks for 3).
    const d = planner.decideLoad([queued([20_000, 20_000])], { prefill: 2, decode: 1 });
    expect(d).toMatchObject({ decided: true, prefill: 5, decode: 1 });
    if (d.reason.code === 'load_scale') expect(d.reason.bindings.prefill).toBe('prefill_burst');
    else expect.fail(`expected load_scale, got ${d.reason.code}`);
    const tp = planner.decideThroughput({ num_req: 10, isl: 1000, osl: 10, ttft: 100, itl: 20, request_duration: 1 }, { prefill: 5, decode: 1 });
    expect(tp.prefill).toBe(5);
    if (tp.reason.code === 'scale') {
      expect(tp.reason.bindings.prefill).toBe('prefill_burst');
      expect(tp.reason.sizing.prefill_burst).toMatchObject({ replicas: 5, binding: 'burst_size' });
    } else expect.fail(`expected scale, got ${tp.reason.code}`);
  });
});
