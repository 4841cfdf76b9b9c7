// prefill_burst_sizing: hand-worked backlog replays, the arrivals counter, the groups' memory, and the load loop's raise.
import { describe, expect, it } from 'vitest';
import { arrivalTokens, lateTokens, PrefillBurstSizing, prefillRates, replicasForArrivals } from '../../../src/scaling/extensions/prefill-burst-sizing.js';
import type { RouterSnapshot } from '../../../src/scaling/observation.js';
import { Planner } from '../../../src/scaling/planner.js';
import { decodeStub, fixedPredictors, prefillStub } from '../../helpers/analyticProfile.js';
import { h100Config } from '../../helpers/h100.js';

/** One scrape: the arrivals counter, two idle prefill workers and one idle decode worker. */
const scrape = (started?: number): RouterSnapshot => ({
  ...(started === undefined ? {} : { requests_started_total: started }),
  prefill: { p0: { active_prefill_tokens: 0, last_ttft: 0.1, last_isl: 1000 }, p1: { active_prefill_tokens: 0, last_ttft: 0.1, last_isl: 1000 } },
  decode: { d0: { active_decode_blocks: 0, last_itl: 0.02 } },
});

/** A load tick of ten scrapes: the counter flat at `before`, then `after` at the last one. */
const tick = (before: number, after = before): RouterSnapshot[] => [...Array.from({ length: 9 }, () => scrape(before)), scrape(after)];

// 10000 tok/s per replica, 200 ms of slack: 2000 tokens within the slack, 5000 per 0.5-s scrape interval.
const rates = { tokensPerS: 10_000, slackS: 0.2 };

describe('lateTokens', () => {
  it('replays the backlog, half of each interval arriving at once', () => {
    // p = 1: 4000 at once, 2000 past the slack; backlog 8000 - 5000 = 3000. Nothing arrives, it drains.
    // 6000: 3000 at once, 1000 late. Total 3000.
    expect(lateTokens([8000, 0, 6000], 1, rates, 0.5)).toBe(3000);
    // p = 2: 4000 tokens within the slack, 10000 an interval: nothing late.
    expect(lateTokens([8000, 0, 6000], 2, rates, 0.5)).toBe(0);
  });

  it('counts what arrives behind a backlog', () => {
    // 12000: 6000 at once, 4000 late, backlog 7000; then 2000 at once behind it: 7000 + 2000 - 2000 = 7000
    // past the slack, of which 5000 were already: 2000 more late. Total 6000.
    expect(lateTokens([12_000, 4000], 1, rates, 0.5)).toBe(6000);
  });
});

describe('replicasForArrivals', () => {
  const arrivals = [8000, 0, 6000]; // 14000 tokens: 3000 late on 1 replica, none on 2
  it('picks the fewest replicas within the miss share, and names what bound it', () => {
    expect(replicasForArrivals(arrivals, rates, 0.5, 0.1, 10)).toEqual({ replicas: 2, binding: 'burst_size' }); // 1400 allowed
    expect(replicasForArrivals(arrivals, rates, 0.5, 0.25, 10)).toEqual({ replicas: 1, binding: 'no_burst' }); // 3500 allowed
    expect(replicasForArrivals(arrivals, rates, 0.5, 0.1, 1)).toEqual({ replicas: 1, binding: 'burst_budget' });
  });
});

describe('arrivalTokens', () => {
  it('turns counter increases into prompt tokens, skipping a restart and scrapes without the counter', () => {
    const samples = [scrape(100), scrape(103), scrape(), scrape(110), scrape(5), scrape(8)];
    // From 98: +2, +3, (none), +7, restart (5 < 110: skipped), +3; times ISL 200.
    expect(arrivalTokens(samples, 98, 200)).toEqual({ tokens: [400, 600, 1400, 600], last: 8 });
    expect(arrivalTokens([scrape(4)], undefined, 200)).toEqual({ tokens: [], last: 4 });
  });
});

describe('prefillRates', () => {
  it('reads the profile at the mean ISL, clamped to it', () => {
    // Stub: TTFT 30 + 0.05·isl ms, 40000 - 2·isl tok/s. ISL 1000: 80 ms idle, 220 ms of a 300-ms target left.
    expect(prefillRates(prefillStub, 1, 1000, 300)).toEqual({ tokensPerS: 38_000, slackS: 0.22 });
    expect(prefillRates(prefillStub, 2, 50, 300)).toEqual({ tokensPerS: 2 * 39_800, slackS: 0.265 });
    // No slack left: the target itself.
    expect(prefillRates(prefillStub, 1, 8000, 300).slackS).toBe(0.3);
  });
});

describe('PrefillBurstSizing', () => {
  const on = { prefill_burst_sizing: true, enable_load_scaling: true, load_router_metrics_url: 'http://127.0.0.1:9/metrics' };
  it('exists with prefill_burst_sizing and load scaling on and a prefill pool', () => {
    expect(PrefillBurstSizing.fromConfig(h100Config({}), prefillStub, 1)).toBeUndefined();
    expect(PrefillBurstSizing.fromConfig(h100Config({ prefill_burst_sizing: true }), prefillStub, 1)).toBeUndefined();
    expect(PrefillBurstSizing.fromConfig(h100Config({ ...on, mode: 'agg' }), prefillStub, 1)).toBeUndefined();
    expect(PrefillBurstSizing.fromConfig(h100Config(on), prefillStub, 1)).toBeInstanceOf(PrefillBurstSizing);
  });

  it('holds what a burst needed for burst_memory_s, then releases it', () => {
    const s = new PrefillBurstSizing({ prefill: prefillStub, gpusPerReplica: 1, ttftTargetMs: 300, scrapeIntervalS: 0.5, groupS: 60, memoryS: 120, missShare: 0.01, maxReplicas: 10 });
    s.learn({ isl: 1000 });
    // 100 prompts of 1000 tokens in one scrape interval: 50000 at once; 8360 per replica within the
    // slack (38000 × 0.22): 5 replicas leave 8200 late (> 1% of 100000), 6 leave none.
    s.observeLoad(tick(0, 100), 5);
    expect(s.size()).toMatchObject({ replicas: 6, binding: 'burst_size', groups: 1, age_s: 0 });
    for (let t = 2; t <= 12; t++) s.observeLoad(tick(100), 5);
    expect(s.size()).toMatchObject({ replicas: 6, groups: 2, age_s: 0 });
    const plan = (p: number) => ({ prefill: { replicas: p, binding: 'demand' as const }, decode: { replicas: 1, binding: 'demand' as const } });
    expect(s.raise(plan(2)).plan.prefill).toEqual({ replicas: 6, binding: 'prefill_burst' });
    expect(s.raise(plan(7)).plan.prefill).toEqual({ replicas: 7, binding: 'demand' });
    // Quiet: the burst's group (closed at 60 s) stays while within 120 s of the newest close.
    for (let t = 13; t <= 24; t++) s.observeLoad(tick(100), 5);
    expect(s.size()).toMatchObject({ replicas: 6, age_s: 60 });
    for (let t = 25; t <= 36; t++) s.observeLoad(tick(100), 5);
    expect(s.size()).toMatchObject({ replicas: 1, binding: 'no_burst' });
  });

  it('sizes nothing before an interval told it the mean ISL', () => {
    const s = new PrefillBurstSizing({ prefill: prefillStub, gpusPerReplica: 1, ttftTargetMs: 300, scrapeIntervalS: 0.5, groupS: 60, memoryS: 120, missShare: 0.01, maxReplicas: 10 });
    s.observeLoad(tick(0, 100), 5);
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

  it('a load tick asks for the burst count at once, and the next throughput tick keeps it', () => {
    const planner = new Planner({ config, interpolators: { prefill: prefillStub, decode: decodeStub }, predictors: fixedPredictors(10, 1000, 10) });
    const obs = { num_req: 10, isl: 1000, osl: 10, ttft: 100, itl: 20, request_duration: 1 };
    planner.decideThroughput(obs, { prefill: 2, decode: 1 });
    // The 100-prompt burst of the test above: 6 replicas, while the queues (empty) saturate nothing.
    const d = planner.decideLoad(tick(0, 100), { prefill: 2, decode: 1 });
    expect(d).toMatchObject({ decided: true, prefill: 6, decode: 1 });
    if (d.reason.code === 'load_scale') expect(d.reason.bindings.prefill).toBe('prefill_burst');
    else expect.fail(`expected load_scale, got ${d.reason.code}`);
    const tp = planner.decideThroughput(obs, { prefill: 6, decode: 1 });
    expect(tp.prefill).toBe(6);
    if (tp.reason.code === 'scale') {
      expect(tp.reason.bindings.prefill).toBe('prefill_burst');
      expect(tp.reason.sizing.prefill_burst).toMatchObject({ replicas: 6, binding: 'burst_size' });
    } else expect.fail(`expected scale, got ${tp.reason.code}`);
  });
});
