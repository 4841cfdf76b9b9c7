// What the planner would see: the frontend's cumulative histograms (with buckets) and counters, an
// interval's increase(), the per-worker gauges, and all of it as Prometheus text the daemon's own
// parser reads back. Hand-worked on a toy engine: prefill 150 ms, decode step 10 ms.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { simulate } from '../../src/sim/index.js';
import { CumulativeHistogram, FRONTEND_BUCKETS, FRONTEND_HISTOGRAM_METRICS, histogramMean, histogramQuantile, type FrontendWindow } from '../../src/sim/metrics.js';
import { parsePromText } from '../../src/observe/promtext.js';
import { groupWorkerGauges } from '../../src/observe/router.js';
import type { IntervalObservation } from '../../src/scaling/observation.js';
import type { EngineLatencyModel, PolicyContext, SimPolicy } from '../../src/sim/types.js';

const config = resolveConfig({ environment: 'virtual', mode: 'disagg', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, ttft: 200, itl: 20, throughput_adjustment_interval: 60, max_gpu_budget: -1 }).config;
const model: EngineLatencyModel = { prefillMs: () => 150, decodeStepMs: () => 10, maxKvTokens: 1e6 };

describe('histograms as Prometheus keeps them', () => {
  it('counts each observation in the first bucket whose bound holds it, cumulative per le, +Inf = count', () => {
    const h = new CumulativeHistogram([0, 1, 2]);
    for (const v of [0, 0.5, 1, 1.5, 7]) h.observe(v);
    h.observe(2, 3); // weight 3
    expect(h.snapshot()).toEqual({ bounds: [0, 1, 2], cumulative: [1, 3, 7, 8], sum: 0 + 0.5 + 1 + 1.5 + 7 + 6, count: 8 });
  });

  it('histogram_quantile interpolates inside the bucket, as PromQL does', () => {
    const h = new CumulativeHistogram([0.1, 0.22, 0.47]);
    for (const v of [0.15, 0.15, 0.15, 0.3]) h.observe(v);
    const s = h.snapshot();
    // rank 0.5 * 4 = 2 of the 3 in (0.1, 0.22]: 0.1 + 0.12 * 2/3.
    expect(histogramQuantile(0.5, s)).toBeCloseTo(0.18, 12);
    // rank 3.6 lands in (0.22, 0.47], which holds 1: 0.22 + 0.25 * 0.6.
    expect(histogramQuantile(0.9, s)).toBeCloseTo(0.37, 12);
    expect(histogramMean(s)).toBeCloseTo(0.75 / 4, 12);
    expect(histogramQuantile(0.5, new CumulativeHistogram([1]).snapshot())).toBeNull();
  });
});

describe('what a policy sees each throughput interval', () => {
  it('increase() of the frontend series over the interval, with buckets, next to the planner observation', async () => {
    const windows: FrontendWindow[] = [];
    const observations: IntervalObservation[] = [];
    const texts: string[] = [];
    const spy: SimPolicy = {
      name: 'spy',
      onInterval(obs, ctx: PolicyContext) {
        windows.push(ctx.metrics.window!);
        observations.push(obs);
        texts.push(ctx.metrics.prometheusText());
        return null;
      },
    };
    // Request 3 gets its first token in window 1 and finishes in window 2.
    const trace = [
      { t: 1, isl: 100, osl: 11 }, // first token 1.15, done 1.25
      { t: 2, isl: 300, osl: 21 }, // first token 2.15, done 2.35
      { t: 59.8, isl: 100, osl: 11 }, // first token 59.95, done 60.05
    ];
    await simulate(trace, { config, model, policy: spy, initial: { prefill: 1, decode: 1 }, gpusPerReplica: { prefill: 1, decode: 1 }, endS: 120 });
    expect(windows).toHaveLength(2);
    const [w1, w2] = windows;
    expect(w1).toMatchObject({ from_s: 0, to_s: 60, requests_started: 3, requests_succeeded: 2, requests_failed: 0, inflight: 1 });
    const ttft = w1.histograms.ttft_seconds;
    expect(ttft.count).toBe(3);
    expect(ttft.sum).toBeCloseTo(0.45, 9);
    // 0.15 s lands in (0.1, 0.22]: cumulative counts per le.
    expect(ttft.cumulative.slice(0, 9)).toEqual([0, 0, 0, 0, 0, 0, 0, 3, 3]);
    expect(w1.histograms.isl_tokens.cumulative.slice(0, 4)).toEqual([0, 2, 2, 3]); // 100, 100 <= 100; 300 <= 430
    // ITL: one observation per token gap: 10 + 20 gaps of 10 ms, all <= 0.013 s.
    expect(w1.histograms.itl_seconds).toMatchObject({ count: 30 });
    expect(w1.histograms.itl_seconds.sum).toBeCloseTo(0.3, 9);
    expect(w1.histograms.itl_seconds.cumulative[4]).toBe(30);
    expect(w1.histograms.osl_tokens.cumulative[1]).toBe(2);
    expect(w1.histograms.request_duration_seconds.sum).toBeCloseTo(0.25 + 0.35, 9);
    // The planner's observation holds the same means (its ISL is over finished requests).
    expect(observations[0].ttft).toBeCloseTo((ttft.sum / ttft.count) * 1000, 9);
    expect(observations[0].itl).toBeCloseTo((w1.histograms.itl_seconds.sum / w1.histograms.itl_seconds.count) * 1000, 9);
    expect(observations[0].num_req).toBe(w1.requests_succeeded);
    expect(w2).toMatchObject({ from_s: 60, to_s: 120, requests_started: 0, requests_succeeded: 1, inflight: 0 });
    expect(w2.histograms.ttft_seconds.count).toBe(0);
    expect(w2.histograms.osl_tokens.count).toBe(1);
    // Windows add up to the cumulative series.
    expect(w1.histograms.osl_tokens.count + w2.histograms.osl_tokens.count).toBe(3);
    // The text a /metrics endpoint would serve at 60 s, read back by the daemon's parser.
    const samples = parsePromText(texts[0]);
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('dynamo_frontend_requests_started_total')).toBe(3);
    expect(value('dynamo_frontend_requests_total', { status: 'success' })).toBe(2);
    expect(value('dynamo_frontend_time_to_first_token_seconds_bucket', { le: '0.22' })).toBe(3);
    expect(value('dynamo_frontend_time_to_first_token_seconds_bucket', { le: '+Inf' })).toBe(3);
    expect(value('dynamo_frontend_time_to_first_token_seconds_count')).toBe(3);
    expect(value('vllm:num_requests_running', { worker_type: 'decode' })).toBe(1);
    const router = groupWorkerGauges(samples);
    expect(Object.keys(router.prefill ?? {})).toHaveLength(1);
    expect(router.prefill![Object.keys(router.prefill!)[0]]).toMatchObject({ last_ttft: expect.closeTo(0.15, 9), last_isl: 100, active_prefill_tokens: 0 });
    expect(Object.values(router.decode ?? {})[0]).toMatchObject({ active_decode_blocks: 7, last_itl: 0.01 }); // request 3: 101 tokens = 7 blocks
  });

  it('a policy can ask for gauge scrapes every few seconds over the interval', async () => {
    const scrapes: number[][] = [];
    const spy: SimPolicy = {
      name: 'scraper',
      scrapeIntervalS: 5,
      onInterval(_obs, ctx) {
        scrapes.push(ctx.metrics.scrapes.map((s) => s.t_s));
        return null;
      },
    };
    await simulate([{ t: 1, isl: 10, osl: 2 }], { config, model, policy: spy, initial: { prefill: 1, decode: 1 }, gpusPerReplica: { prefill: 1, decode: 1 }, endS: 120 });
    expect(scrapes[0]).toEqual([5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]);
    expect(scrapes[1][0]).toBe(65);
  });

  it('bucket bounds are the frontend defaults (DYN_METRICS_*), metric by metric', () => {
    const contract = JSON.parse(readFileSync('test/fixtures/dynamo/metrics/frontend-histogram-buckets.json', 'utf8')) as Record<string, { 'upper_bounds_excluding_+Inf': number[] }>;
    for (const [key, name] of Object.entries(FRONTEND_HISTOGRAM_METRICS)) {
      expect(FRONTEND_BUCKETS[key as keyof typeof FRONTEND_BUCKETS]).toEqual(contract[name]['upper_bounds_excluding_+Inf']);
    }
  });
});
