// load_scaling_rule saturation: hand-worked scrapes, starting replicas, the capacity fallback and the hold.
import { describe, expect, it } from 'vitest';
import { SaturationFeedback, type SaturationSettings } from '../../../src/scaling/extensions/saturation-feedback.js';
import { Planner } from '../../../src/scaling/planner.js';
import type { RouterSnapshot } from '../../../src/scaling/observation.js';
import type { DecodeInterpolator } from '../../../src/profile-data/types.js';
import { fixedPredictors, prefillStub } from '../../helpers/analyticProfile.js';
import { h100Config } from '../../helpers/h100.js';

/** Engines of 1600 tokens: 100 blocks of 16 as the fallback capacity. */
const decode: DecodeInterpolator = {
  maxKvTokens: 1600,
  maxContextLength: 16000,
  itlMs: () => 20,
  thptPerGpu: () => 1000,
  findBestThroughputPerGpu: () => ({ thptPerGpu: 1000, itlMs: 20, kvUsage: 0.5 }),
};

function rule(over: Partial<SaturationSettings> = {}): SaturationFeedback {
  return new SaturationFeedback({
    prefill: prefillStub, decode, pools: ['prefill', 'decode'], gpusPerReplica: { prefill: 1, decode: 1 }, loadIntervalS: 5, ttftTargetMs: 500,
    kvHighMark: 0.9, kvFill: 0.8, startingGraceS: 180, maxReplicas: { prefill: 100, decode: 100 }, ...over,
  });
}

const dec = (blocks: number[], extra: Record<string, number> = {}): RouterSnapshot => ({
  decode: Object.fromEntries(blocks.map((b, i) => [`d${i}`, { active_decode_blocks: b, last_itl: 0.02, ...extra }])),
});

describe('decode saturation', () => {
  it('scales out to ceil(blocks / (fill × capacity)) at once when usage passes the mark', () => {
    const r = rule();
    // Two engines of 100 blocks hold 190 and 200: usage 0.975 > 0.9; need ceil(390 / 80) = 5.
    const d = r.decide([dec([190, 200])], { prefill: 1, decode: 2 });
    expect(d.desired).toEqual({ decode: 5 });
    expect(d.report.decode).toMatchObject({ saturated: true, needed: 5, ready: 2, starting: 0, kv_usage: 390 / 200, kv_capacity_from: 'profile' });
  });

  it('under the mark says nothing (and never scales down)', () => {
    const d = rule().decide([dec([10, 20])], { prefill: 1, decode: 6 });
    expect(d.desired).toEqual({});
    expect(d.report.decode).toMatchObject({ saturated: false, needed: 1 });
  });

  it('reads the mean over the tick\'s scrapes and the capacity the engines report', () => {
    // Capacity 400 blocks each; blocks 700 then 900: mean 800 of 800 = 1.0 > 0.9; need ceil(800 / 320) = 3.
    const d = rule().decide([dec([350, 350], { kv_total_blocks: 400 }), dec([450, 450], { kv_total_blocks: 400 })], { prefill: 1, decode: 2 });
    expect(d.desired).toEqual({ decode: 3 });
    expect(d.report.decode?.kv_capacity_from).toBe('engine');
  });

  it('with no capacity series and no profile, never scales on a guess', () => {
    const d = rule({ decode: undefined }).decide([dec([1e6])], { prefill: 1, decode: 1 });
    expect(d.desired).toEqual({});
  });

  it('counts replicas still starting: one overload is answered once', () => {
    const r = rule();
    expect(r.decide([dec([190, 200])], { prefill: 1, decode: 2 }).desired).toEqual({ decode: 5 });
    r.asked({ decode: 5 });
    expect(r.starting('decode', 2)).toBe(3);
    // Still saturated on the next tick: 5 = 2 ready + 3 starting, nothing more.
    expect(r.decide([dec([190, 200])], { prefill: 1, decode: 2 }).desired).toEqual({});
    // A bigger overload asks for the difference only.
    expect(r.decide([dec([300, 300])], { prefill: 1, decode: 2 }).desired).toEqual({ decode: 8 });
    // Past the grace (3 × cold start = 180 s = 36 ticks) the missing replicas no longer count.
    for (let i = 0; i < 40; i++) r.decide([dec([10, 10])], { prefill: 1, decode: 2 });
    expect(r.starting('decode', 2)).toBe(0);
  });

  it('a target the environment did not take (dropped during a rollout) is not starting: the next tick asks again', () => {
    const r = rule();
    expect(r.decide([dec([190, 200])], { prefill: 1, decode: 2 }).desired).toEqual({ decode: 5 });
    r.asked({ decode: 5 });
    r.notTaken();
    expect(r.starting('decode', 2)).toBe(0);
    expect(r.decide([dec([190, 200])], { prefill: 1, decode: 2 }).desired).toEqual({ decode: 5 });
    // Only the last target is withdrawn: one taken before it still counts.
    r.asked({ decode: 5 });
    r.asked({ prefill: 3 });
    r.notTaken();
    expect(r.starting('decode', 2)).toBe(3);
    expect(r.starting('prefill', 1)).toBe(0);
  });

  it('preemptions or waiting requests are saturation even under the mark: one more replica', () => {
    const r = rule();
    expect(r.decide([dec([10], { preemptions_total: 4 })], { prefill: 1, decode: 1 }).desired).toEqual({});
    const d = r.decide([dec([10], { preemptions_total: 7 })], { prefill: 1, decode: 1 });
    expect(d.report.decode).toMatchObject({ preemptions: 3, saturated: true });
    expect(d.desired).toEqual({ decode: 2 });
    // A counter that went down is a restarted pod: its new count is all since the restart.
    expect(r.decide([dec([10], { preemptions_total: 2 })], { prefill: 1, decode: 1 }).report.decode?.preemptions).toBe(2);
    expect(rule().decide([dec([10], { num_requests_waiting: 3 })], { prefill: 1, decode: 1 }).desired).toEqual({ decode: 2 });
  });

  it('a waiting request is saturation only when some request waits in every scrape of the tick', () => {
    // A request caught between engine steps in the last scrape of three: an idle pool, no scale-out.
    const blip = rule().decide([dec([10]), dec([10]), dec([10], { num_requests_waiting: 1 })], { prefill: 1, decode: 1 });
    expect(blip.desired).toEqual({});
    expect(blip.report.decode).toMatchObject({ waiting: 0, saturated: false });
    // A queue through the whole tick (fewest 2 waiting) is.
    const queue = rule().decide([dec([10], { num_requests_waiting: 2 }), dec([10], { num_requests_waiting: 5 }), dec([10], { num_requests_waiting: 3 })], { prefill: 1, decode: 1 });
    expect(queue.report.decode).toMatchObject({ waiting: 2, saturated: true });
    expect(queue.desired).toEqual({ decode: 2 });
  });
});

describe('prefill saturation', () => {
  // prefillStub at ISL 1000: TTFT 80 ms, 38000 tok/s: slack 420 ms = 15960 tokens per worker.
  const pre = (tokens: number[]): RouterSnapshot => ({ prefill: Object.fromEntries(tokens.map((t, i) => [`p${i}`, { active_prefill_tokens: t, last_ttft: 0.1, last_isl: 1000 }])) });

  it('saturated only when even the least-loaded worker is queued past the slack in every scrape', () => {
    const r = rule();
    // One long prompt on one worker: the others are free, no scale-out.
    expect(r.decide([pre([60_000, 0]), pre([58_000, 0])], { prefill: 2, decode: 1 }).desired).toEqual({});
    // Both queued past 15960 in every scrape, the queue growing by 38000 tokens over 5 s = 7600/s: one more.
    const d = r.decide([pre([20_000, 20_000]), pre([39_000, 39_000])], { prefill: 2, decode: 1 });
    expect(d.desired).toEqual({ prefill: 3 });
    expect(d.report.prefill).toMatchObject({ saturated: true, least_queued_prefill_tokens: 20_000 });
  });

  it('asks for the workers the queue growth shows, at most doubling', () => {
    // Growth 800000 tokens in 5 s = 160000/s = 4.2 workers' worth → +5, capped at 2 × 2 = 4.
    const d = rule().decide([pre([20_000, 20_000]), pre([420_000, 420_000])], { prefill: 2, decode: 1 });
    expect(d.desired).toEqual({ prefill: 4 });
  });

  it('remembers for the next throughput tick that queueing past the slack was seen', () => {
    const r = rule();
    r.decide([pre([20_000, 0]), pre([20_000, 17_000])], { prefill: 2, decode: 1 });
    expect(r.prefillQueueingSeen()).toBe(true);
    expect(r.prefillQueueingSeen()).toBe(false);
  });
});

describe('the throughput hold', () => {
  it('a pool saturated since the last throughput tick keeps its target (ready and starting)', () => {
    const r = rule();
    r.decide([dec([190, 200])], { prefill: 1, decode: 2 });
    r.asked({ decode: 5 });
    const plan = { prefill: { replicas: 1, binding: 'demand' as const }, decode: { replicas: 3, binding: 'kv_cache' as const } };
    expect(r.floor(plan, { prefill: 1, decode: 2 })).toEqual({ prefill: plan.prefill, decode: { replicas: 5, binding: 'saturation_hold' } });
    // Not saturated since: the plan goes through.
    r.decide([dec([10, 10])], { prefill: 1, decode: 2 });
    expect(r.floor(plan, { prefill: 1, decode: 2 })).toEqual(plan);
  });
});

describe('in the planner', () => {
  const config = (extra: Record<string, unknown> = {}) =>
    h100Config({ strategy: 'sla', load_router_metrics_url: 'http://127.0.0.1:9/metrics', ...extra });
  it('a saturated decode pool scales out from a load tick with binding saturation; the other pool keeps its target', () => {
    const planner = new Planner({ config: config({ enable_throughput_scaling: false }) });
    const blocks = Math.floor(945_029 / 16); // no profile: the engines' own capacity is needed
    const samples: RouterSnapshot[] = [{ prefill: { p: { active_prefill_tokens: 0, last_ttft: 0.1, last_isl: 100 } }, decode: { a: { active_decode_blocks: blocks, last_itl: 0.02, kv_total_blocks: blocks } } }];
    const d = planner.decideLoad(samples, { prefill: 1, decode: 1 });
    expect(d).toMatchObject({ decided: true, prefill: 1, decode: 2 });
    expect(d.reason.code).toBe('load_scale');
    if (d.reason.code === 'load_scale') expect(d.reason.bindings).toEqual({ prefill: 'saturation_hold', decode: 'saturation' });
    // Without a capacity series and without profile data: no scale-up on a guess.
    const blind = new Planner({ config: config({ enable_throughput_scaling: false }) });
    const noCap: RouterSnapshot[] = [{ prefill: samples[0].prefill, decode: { a: { active_decode_blocks: 1e7, last_itl: 0.02 } } }];
    expect(blind.decideLoad(noCap, { prefill: 1, decode: 1 }).reason.code).toBe('not_saturated');
  });

  it('a throughput tick right after saturation does not scale the pool down', () => {
    const planner = new Planner({ config: config(), interpolators: { prefill: prefillStub, decode }, predictors: fixedPredictors(10, 100, 10) });
    const full: RouterSnapshot[] = [{ prefill: { p: { active_prefill_tokens: 0, last_ttft: 0.1, last_isl: 100 } }, decode: { a: { active_decode_blocks: 99, last_itl: 0.02 }, b: { active_decode_blocks: 99, last_itl: 0.02 } } }];
    const load = planner.decideLoad(full, { prefill: 1, decode: 2 });
    expect(load.decode).toBe(3); // ceil(198 / (0.85 × 100))
    const tp = planner.decideThroughput({ num_req: 10, isl: 100, osl: 10, ttft: 100, itl: 20, request_duration: 1 }, { prefill: 1, decode: 2 });
    // The model alone says 1; the KV the scrape showed (kv_cache) and the saturation hold both keep 3.
    expect(tp.decode).toBe(3);
    if (tp.reason.code === 'scale') expect(['saturation_hold', 'kv_cache']).toContain(tp.reason.bindings.decode);
  });
});
