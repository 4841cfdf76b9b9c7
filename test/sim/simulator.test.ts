// The simulation driver, the policies and the outputs, on small synthetic traces and the shipped
// profile.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { resolveConfig } from '../../src/config/index.js';
import { eventsCsv, loadInterpolators, runSimulation, runSimulations, simulate, splitPolicyList, timelineCsv } from '../../src/sim/index.js';
import { InputError } from '../../src/util/errors.js';
import { HpaPolicy, HPA_DEFAULTS, hpaDesiredReplicas, parseExecAnswer, parseStaticSpec } from '../../src/sim/policies.js';
import { shapeTrace } from '../../src/trace/shape.js';
import type { EngineLatencyModel, SimPolicy, TraceRequest } from '../../src/sim/types.js';

const interpolators = loadInterpolators('config/profile');
const base = {
  environment: 'virtual',
  mode: 'disagg',
  prefill_engine_num_gpu: 1,
  decode_engine_num_gpu: 1,
  ttft: 200,
  itl: 20,
  throughput_adjustment_interval: 60,
  max_gpu_budget: -1,
  load_predictor: 'constant',
};
const config = resolveConfig(base).config;

/** A step in load: `low` req/s for the first half, `high` for the second, isl 2048, osl 64. */
function* stepLoad(low: number, high: number, halfS: number): Generator<TraceRequest> {
  let t = 0;
  while (t < halfS) {
    yield { t, isl: 2048, osl: 64 };
    t += 1 / low;
  }
  while (t < 2 * halfS) {
    yield { t, isl: 2048, osl: 64 };
    t += 1 / high;
  }
}

describe('simulate: planner in the loop', () => {
  it('the planner scales prefill up on a load step (prefill correction may scale up), within the GPU budget', async () => {
    // 40 req/s * 2048 tokens = 82k tokens/s; one H100 prefills ~35.5k tokens/s at ISL 2048.
    const cfg = resolveConfig({ ...base, max_gpu_budget: 8, no_correction: false, prefill_correction_can_scale_up: true }).config;
    const planner = await runSimulation({ config: cfg, interpolators, trace: stepLoad(2, 40, 600), policy: 'planner', coldStartS: 60 });
    const fixed = await runSimulation({ config: cfg, interpolators, trace: stepLoad(2, 40, 600), policy: 'static:1,1' });
    const last = planner.timeline.at(-1)!;
    expect(last.prefill_target).toBeGreaterThanOrEqual(3);
    expect(last.prefill_target + last.decode_target).toBeLessThanOrEqual(8);
    expect(planner.summary.gpus.max).toBeLessThanOrEqual(8 + 1); // + a draining replica at most
    expect(planner.summary.scale_up).toBeGreaterThanOrEqual(1);
    expect(planner.summary.sla_attainment).toBeGreaterThan(fixed.summary.sla_attainment + 0.1);
    expect(planner.summary.gpu_hours).toBeGreaterThan(fixed.summary.gpu_hours);
    // The constant predictor's forecast is the last interval's count, shown one interval later.
    const k = planner.timeline.findIndex((r) => r.t_s === 720);
    expect(planner.timeline[k].forecast_rps).toBeCloseTo(planner.timeline[k - 1].completed / 60, 6);
  });

  it('the planner sees completions, not arrivals: a saturated pool reports its own capacity (upstream behaviour)', async () => {
    // requests_total counts finished requests, so a saturated prefill replica shows ~17.3 req/s
    // (its capacity at ISL 2048) however many arrive, and upstream's planner asks for ~1 replica.
    const { timeline } = await runSimulation({ config, interpolators, trace: stepLoad(2, 40, 600), policy: 'planner' });
    const overloaded = timeline.filter((r) => r.t_s > 660);
    for (const r of overloaded) expect(r.completed / 60).toBeLessThan(2 * 17.4);
    expect(Math.max(...overloaded.map((r) => r.prefill_target))).toBeLessThanOrEqual(2);
  });

  it('fed arrivals instead (num_req = started requests), the same planner sizes prefill for the offered load', async () => {
    const { timeline } = await runSimulation({ config, interpolators, trace: stepLoad(2, 40, 600), policy: 'planner', numReqSource: 'started' });
    // ceil(40 req/s * 2048 tokens / 35548 tokens/s per GPU) = 3 prefill replicas.
    expect(timeline.at(-1)!.prefill_target).toBe(3);
  });

  it('is deterministic: the same inputs give the same summary', async () => {
    const shaping = { loadScale: 1.7, seed: 3 };
    const a = await runSimulation({ config, interpolators, trace: stepLoad(2, 20, 300), policy: 'planner', shaping });
    const b = await runSimulation({ config, interpolators, trace: stepLoad(2, 20, 300), policy: 'planner', shaping });
    expect(a.summary).toEqual(b.summary);
    expect(a.timeline).toEqual(b.timeline);
  });

  it('GPU-hours of a static deployment = GPUs x simulated time', async () => {
    const { summary } = await runSimulation({ config, interpolators, trace: stepLoad(1, 1, 900), policy: 'static:2,3', shaping: { durationS: 1800 } });
    expect(summary.gpu_hours).toBeCloseTo((5 * 1800) / 3600, 9);
    expect(summary.gpus).toEqual({ mean: 5, max: 5 });
  });

  it('feeds the planner what Prometheus would: completed count and means per interval', async () => {
    const seen: unknown[] = [];
    const spy: SimPolicy = {
      name: 'spy',
      onInterval(obs) {
        seen.push(obs);
        return null;
      },
    };
    const model: EngineLatencyModel = { prefillMs: () => 100, decodeStepMs: () => 10, maxKvTokens: 1e6 };
    const trace: TraceRequest[] = [
      { t: 1, isl: 100, osl: 11 },
      { t: 2, isl: 300, osl: 21 },
      { t: 59.9, isl: 100, osl: 11 }, // finishes at 60.1: next interval
    ];
    await simulate(trace, { config, model, policy: spy, initial: { prefill: 1, decode: 1 }, gpusPerReplica: { prefill: 1, decode: 1 }, endS: 120 });
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({ num_req: 2, isl: 200, osl: 16, current_prefill: 1, current_decode: 1 });
    // TTFT is observed at the first token (3 requests by 60 s), ITL weighted by token gaps.
    expect((seen[0] as { ttft: number }).ttft).toBeCloseTo(100, 6);
    expect((seen[0] as { itl: number }).itl).toBeCloseTo(10, 6);
    expect((seen[0] as { request_duration: number }).request_duration).toBeCloseTo((0.2 + 0.3) / 2, 6);
    expect(seen[1]).toMatchObject({ num_req: 1, ttft: null });
  });

  it('an idle interval reports null means, as the histogram 0/0', async () => {
    const seen: Array<Record<string, unknown>> = [];
    const spy: SimPolicy = { name: 'spy', onInterval: (obs) => (seen.push(obs as Record<string, unknown>), null) };
    const model: EngineLatencyModel = { prefillMs: () => 100, decodeStepMs: () => 10, maxKvTokens: 1e6 };
    await simulate([{ t: 0, isl: 10, osl: 2 }], { config, model, policy: spy, initial: { prefill: 1, decode: 1 }, gpusPerReplica: { prefill: 1, decode: 1 }, endS: 120 });
    expect(seen[1]).toMatchObject({ num_req: 0, isl: null, osl: null, ttft: null, itl: null, request_duration: null });
  });
});

describe('simulate: infeasible requests', () => {
  it('counts requests no allocation can serve (alone they miss TTFT or ITL, or never fit) and reports attainment over the others', async () => {
    // Prefill isl/10 ms, decode step ctx/100 ms, 200 blocks of KV; targets TTFT 300 ms, ITL 20 ms.
    const cfg = resolveConfig({ ...base, ttft: 300, itl: 20 }).config;
    const model: EngineLatencyModel = { prefillMs: (isl) => isl / 10, decodeStepMs: (_n, ctx) => ctx / 100, maxKvTokens: 16 * 200 };
    const trace: TraceRequest[] = [
      { t: 0, isl: 100, osl: 10 }, // feasible: 10 ms prefill, ~1 ms steps
      { t: 10, isl: 2100, osl: 50 }, // ITL alone 21.01 ms > 20: infeasible (itl)
      { t: 20, isl: 3500, osl: 10 }, // 350 ms prefill, 35 ms steps, 3509 tokens > 3200: infeasible (ttft, itl, kv), rejected
      { t: 30, isl: 3100, osl: 2 }, // 310 ms prefill, one 31 ms step: infeasible (ttft, itl)
    ];
    const { summary } = await simulate(trace, { config: cfg, model, policy: { name: 'fixed' }, initial: { prefill: 1, decode: 1 }, gpusPerReplica: { prefill: 1, decode: 1 } });
    expect(summary.infeasible).toEqual({ requests: 3, ttft: 2, itl: 3, kv: 1 });
    expect(summary.dropped).toBe(1);
    expect(summary.sla_attainment).toBe(0.25);
    expect(summary.feasible_sla_attainment).toBe(1);
  });
});

describe('simulate: several policies on one trace', () => {
  it('splits a policy list: static counts stay with static, exec takes the rest', () => {
    expect(splitPolicyList('planner,static:2,1,hpa')).toEqual(['planner', 'static:2,1', 'hpa']);
    expect(splitPolicyList('static:3,hpa:0.5,clairvoyant')).toEqual(['static:3', 'hpa:0.5', 'clairvoyant']);
    expect(splitPolicyList('static:1,1,exec:python3 p.py --a 1,2')).toEqual(['static:1,1', 'exec:python3 p.py --a 1,2']);
    expect(() => splitPolicyList('planner,,hpa')).toThrow(/empty entry/);
  });

  it('runs each policy on the same requests, one summary each, as each alone would', async () => {
    const both = await runSimulations({ config, interpolators, trace: [...stepLoad(2, 10, 300)], policies: ['static:1,1', 'planner', 'clairvoyant'] });
    expect(both.map((r) => r.summary.policy)).toEqual(['static:1,1', 'planner:constant', 'clairvoyant']);
    expect(new Set(both.map((r) => r.summary.requests)).size).toBe(1);
    const alone = await runSimulation({ config, interpolators, trace: stepLoad(2, 10, 300), policy: 'planner' });
    expect(both[1].summary).toEqual(alone.summary);
    expect(both[2].summary.policy_details.lower_bound_gpu_hours).toBeGreaterThan(0);
  });

  it('an empty run is an error that says why, not attainment 1', async () => {
    const msg = async (p: Promise<unknown>) => {
      const err = await p.then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      return (err as Error).message;
    };
    const trace = [...stepLoad(1, 1, 100)];
    expect(await msg(runSimulation({ config, interpolators, trace: [], policy: 'static:1,1' }))).toMatch(/holds no request/);
    expect(await msg(runSimulation({ config, interpolators, trace, policy: 'static:1,1', shaping: { startS: 5000 } }))).toMatch(/--start 5000 s is past the end of the trace \(its last request is at 199 s\)/);
    expect(await msg(runSimulation({ config, interpolators, trace, policy: 'static:1,1', shaping: { loadScale: 1e-300 } }))).toMatch(/--load-scale 1e-300 kept none of the 200 requests/);
  });

  it('counts beyond the GPU budget or the replica limit are refused before any work', async () => {
    const budgeted = resolveConfig({ ...base, max_gpu_budget: 8 }).config;
    await expect(runSimulation({ config: budgeted, interpolators, trace: [], policy: 'static:100000000,1' })).rejects.toThrow(/static:100000000,1 needs 100000001 GPUs, more than max_gpu_budget 8/);
    await expect(runSimulation({ config, interpolators, trace: [], policy: 'planner', initial: { prefill: 100000000, decode: 1 } })).rejects.toThrow(/--initial 100000000,1: 100000000 prefill replicas is more than the 4096/);
  });

  it('a long idle gap costs O(1): intervals are skipped once the engine has idled an hour', async () => {
    const cfg = resolveConfig({ ...base, throughput_adjustment_interval: 1 }).config;
    const far = 104 * 24 * 3600;
    const { summary, timeline } = await runSimulation({ config: cfg, interpolators, trace: [{ t: 0, isl: 100, osl: 10 }, { t: far, isl: 100, osl: 10 }], policy: 'planner' });
    expect(summary.completed).toBe(2);
    expect(summary.idle_intervals_skipped).toBeGreaterThan(far - 4000);
    expect(timeline.length).toBeLessThan(4000);
    expect(summary.gpu_hours).toBeCloseTo((2 * (far + 1)) / 3600, 0);
  });
});

describe('simulate: load scaling (router samples)', () => {
  it('disagg: the load planner gets one sample per load_interval/load_metric_samples and scales prefill up under a step', async () => {
    const cfg = resolveConfig({ ...base, environment: 'kubernetes', enable_load_scaling: true, load_adjustment_interval: 5, load_metric_samples: 10 }).config;
    const { summary, timeline } = await runSimulation({ config: cfg, interpolators, trace: stepLoad(2, 40, 600), policy: 'planner' });
    expect(summary.scale_up).toBeGreaterThan(0);
    expect(Math.max(...timeline.map((r) => r.prefill_target))).toBeGreaterThanOrEqual(2);
  });

  it('agg: one pool carrying both gauges scales on the load signal', async () => {
    const cfg = resolveConfig({ ...base, environment: 'kubernetes', mode: 'agg', enable_throughput_scaling: false, enable_load_scaling: true }).config;
    const { summary, timeline } = await runSimulation({ config: cfg, interpolators, trace: stepLoad(2, 40, 600), policy: 'planner' });
    expect(summary.mode).toBe('agg');
    expect(summary.scale_up).toBeGreaterThan(0);
    expect(timeline.every((r) => r.prefill_target === 0 && r.prefill_ready === 0)).toBe(true);
    expect(Math.max(...timeline.map((r) => r.decode_target))).toBeGreaterThanOrEqual(2);
  });
});

describe('simulate: policies', () => {
  it('hpa: the Kubernetes replica calculation with tolerance and starting pods', () => {
    expect(hpaDesiredReplicas(4, 4, 0, 0.75, 0.7, 0.1)).toBe(4); // within tolerance
    expect(hpaDesiredReplicas(4, 4, 0, 0.95, 0.7, 0.1)).toBe(Math.ceil((0.95 / 0.7) * 4));
    expect(hpaDesiredReplicas(4, 4, 0, 0.2, 0.7, 0.1)).toBe(2);
    // 2 ready at 100%, 2 starting counted idle: 50% / 70% < 1 -> hold.
    expect(hpaDesiredReplicas(4, 2, 2, 1.0, 0.7, 0.1)).toBe(4);
    expect(hpaDesiredReplicas(4, 2, 2, 2.0, 0.7, 0.1)).toBe(Math.ceil((2.0 * 2) / 4 / 0.7 * 4));
  });

  it('hpa: scale-down waits for the stabilisation window, scale-up is at most double or +4', () => {
    const hpa = new HpaPolicy({ ...HPA_DEFAULTS, minReplicas: 1, maxGpuBudget: -1, gpusPerReplica: { prefill: 1, decode: 1 }, agg: false });
    const ctx = (t: number, p: number) => ({ nowS: t, ready: { prefill: p, decode: 1 }, target: { prefill: p, decode: 1 } });
    const util = (busy: number, p: number) => ({ prefillBusy: busy, decodeKvUsage: 0.7, ready: { prefill: p, decode: 1 }, starting: { prefill: 0, decode: 0 } });
    expect(hpa.onSync(util(7, 1), ctx(15, 1))!.prefill).toBe(5); // wants 10, rate limit max(2, 1+4)
    expect(hpa.onSync(util(0.7, 5), ctx(30, 5))!.prefill).toBe(5);
    // Load vanishes: the 10 recommended at 15 s holds the count until 315 s.
    expect(hpa.onSync(util(0.0, 5), ctx(45, 5))!.prefill).toBe(5);
    let t = 60;
    for (; t < 315; t += 15) hpa.onSync(util(0.0, 5), ctx(t, 5));
    expect(hpa.onSync(util(0.0, 5), ctx(330, 5))!.prefill).toBe(1);
  });

  it('hpa in the loop adds prefill replicas under load', async () => {
    const { summary, timeline } = await runSimulation({ config, interpolators, trace: stepLoad(2, 40, 600), policy: 'hpa' });
    expect(summary.scale_up).toBeGreaterThan(0);
    expect(timeline.at(-1)!.prefill_target).toBeGreaterThanOrEqual(3);
  });

  it('exec: an external process gets decide-format lines and its answers are applied', async () => {
    // A shell one-liner policy: always ask for 3 prefill and 2 decode, echo what it saw on stderr.
    const script = `node -e "require('readline').createInterface({input:process.stdin}).on('line',l=>{const o=JSON.parse(l);if(typeof o.num_req!=='number')process.exit(3);console.log(JSON.stringify({prefill:3,decode:2}))})"`;
    const { summary, timeline } = await runSimulation({ config, interpolators, trace: stepLoad(1, 1, 300), policy: `exec:${script}`, coldStartS: 30 });
    expect(timeline[0].prefill_target).toBe(3);
    expect(timeline[0].decode_target).toBe(2);
    expect(timeline.at(-1)!.prefill_ready).toBe(3);
    expect(summary.scale_up).toBe(2);
  });

  it('exec: a malformed answer is a clear error', () => {
    expect(() => parseExecAnswer('hello', 'x')).toThrow(/not JSON/);
    expect(() => parseExecAnswer('{"prefill": -1}', 'x')).toThrow(/non-negative integer/);
    expect(parseExecAnswer('{"decode": 4}', 'x')).toEqual({ decode: 4 });
  });

  it('exec: an answer over the GPU budget is clamped to it and counted', async () => {
    const cfg = resolveConfig({ ...base, max_gpu_budget: 6 }).config;
    const script = `node -e "require('readline').createInterface({input:process.stdin}).on('line',()=>console.log(JSON.stringify({prefill:100000000})))"`;
    const warnings: string[] = [];
    const { summary, timeline } = await runSimulation({ config: cfg, interpolators, trace: stepLoad(1, 1, 300), policy: `exec:${script}`, warn: (m) => warnings.push(m) });
    // 100000000 prefill + the current decode (1) over 6 GPUs: prefill capped so one decode still fits.
    expect(timeline[0].prefill_target).toBe(5);
    expect(timeline[0].decode_target).toBe(1);
    expect(summary.clamped_targets).toBe(10);
    expect(summary.gpus.max).toBeLessThanOrEqual(6);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/answer \{"prefill":100000000\} is over max_gpu_budget 6; clamped to 5\/1/);
  });

  it('static specs', () => {
    expect(parseStaticSpec('static:2,5')).toEqual({ prefill: 2, decode: 5 });
    expect(() => parseStaticSpec('static:two')).toThrow(/static:<prefill>,<decode>/);
  });

  it('an unknown policy names the accepted ones', async () => {
    await expect(runSimulation({ config, interpolators, trace: [], policy: 'magic' })).rejects.toThrow(/planner, planner:upstream, planner:sla, static/);
  });
});

describe('simulate: trace shaping', () => {
  it('load-scale keeps the shape: per-minute counts scale by x (within sampling noise), deterministic per seed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.double({ min: 0.2, max: 3, noNaN: true }), fc.integer({ min: 0, max: 1000 }), async (x, seed) => {
        const trace = Array.from({ length: 2000 }, (_, i) => ({ t: i * 0.1, isl: 10, osl: 10 }));
        const out: TraceRequest[] = [];
        for await (const r of shapeTrace(trace, { loadScale: x, seed })) out.push(r);
        expect(Math.abs(out.length - 2000 * x)).toBeLessThan(5 * Math.sqrt(2000) + 1);
        const again: TraceRequest[] = [];
        for await (const r of shapeTrace(trace, { loadScale: x, seed })) again.push(r);
        expect(again).toEqual(out);
      }),
      { numRuns: 30, seed: 11 },
    );
  });

  it('replicated copies are spread over the gap to the next request and stay sorted', async () => {
    const out: TraceRequest[] = [];
    for await (const r of shapeTrace([{ t: 0, isl: 1, osl: 1 }, { t: 1, isl: 2, osl: 2 }, { t: 3, isl: 3, osl: 3 }], { loadScale: 2 })) out.push(r);
    expect(out.map((r) => r.t)).toEqual([0, 0.5, 1, 2, 3, 3]);
    expect(out.map((r) => r.isl)).toEqual([1, 1, 2, 2, 3, 3]);
  });

  it('start/duration slice and re-base, speedup compresses time', async () => {
    const trace = Array.from({ length: 100 }, (_, i) => ({ t: i, isl: 1, osl: 1 }));
    const out: TraceRequest[] = [];
    for await (const r of shapeTrace(trace, { startS: 10, durationS: 20, speedup: 2 })) out.push(r);
    expect(out).toHaveLength(20);
    expect(out[0].t).toBe(0);
    expect(out.at(-1)!.t).toBe(9.5);
  });
});

describe('simulate: outputs', () => {
  it('timeline.csv has a header and one row per interval; events.csv one row per change of a target with its reason', async () => {
    const { timeline, events, summary } = await runSimulation({ config, interpolators, trace: stepLoad(2, 40, 300), policy: 'planner' });
    const csv = timelineCsv(timeline).trim().split('\n');
    expect(csv[0].split(',')).toEqual(expect.arrayContaining(['forecast_rps', 'ttft_p99_ms', 'itl_p99_ms']));
    expect(csv).toHaveLength(1 + 10);
    // Every change of a target is an event, and the events add up to the summary's counts.
    expect(events.length).toBe(summary.scale_up + summary.scale_down);
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) {
      expect(e.to).not.toBe(e.from);
      expect(e.reason).toMatch(/^scale, bound by prefill [a-z_]+, decode [a-z_]+ \(forecast \d+ req, ISL \d+, OSL \d+\)$/);
    }
    const lines = eventsCsv(events).trim().split('\n');
    expect(lines[0]).toBe('t_s,pool,from,to,reason');
    expect(lines[1]).toMatch(/^\d+(\.\d+)?,(prefill|decode),\d+,\d+,"scale, bound by/);
    // A p99 exactly when requests finished in the interval.
    for (const row of timeline) expect(Number.isFinite(row.ttft_p99_ms) && row.ttft_p99_ms > 0).toBe(row.completed > 0);
  });
});
