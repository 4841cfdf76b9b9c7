// Hand-computed timing: prefill 10 + 0.01·isl ms, a decode step 5 + 1·batch ms (context-free), so
// every token time below can be checked with a pencil.
import { describe, expect, it } from 'vitest';
import { MockerHost, type TokenSink } from '../../src/mocker/host.js';
import type { EngineLatencyModel } from '../../src/sim/types.js';
import { parsePromText } from '../../src/observe/promtext.js';

const model: EngineLatencyModel = { prefillMs: (isl) => 10 + 0.01 * isl, decodeStepMs: (n) => 5 + n, maxKvTokens: 100_000 };

function makeHost(o: { maxInFlight?: number; initial?: { prefill: number; decode: number }; coldStartS?: number } = {}) {
  let now = 0;
  const host = new MockerHost(model, {
    mode: 'disagg', initial: o.initial ?? { prefill: 1, decode: 1 }, coldStartS: o.coldStartS ?? 1, gpusPerReplica: { prefill: 1, decode: 2 },
    modelName: 'm', maxInFlight: o.maxInFlight ?? 100, timers: false, clock: () => now,
  });
  return { host, at: (s: number) => { now = s; host.pump(); } };
}

function recorder() {
  const events: Array<[number, number]> = [];
  let finishedAt: number | null = null;
  const sink: TokenSink = { tokens: (total, atS) => events.push([total, +atS.toFixed(6)]), finish: (atS) => { finishedAt = +atS.toFixed(6); } };
  return { sink, events, finished: () => finishedAt };
}

const metric = (text: string, name: string) => parsePromText(text).filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);

describe('MockerHost timing', () => {
  it('streams one request at the modelled times: TTFT 20 ms, then a token every 6 ms', () => {
    const { host, at } = makeHost();
    const r = recorder();
    expect(host.submit(1000, 4, r.sink)).toEqual({ ok: true, id: expect.any(Number) });
    at(0.019);
    expect(r.events).toEqual([]);
    at(0.0205); // prefill 10 + 0.01·1000 = 20 ms
    expect(r.events).toEqual([[1, 0.02]]);
    at(0.0265); // decode starts at 20 ms, steps of 5 + 1 = 6 ms
    expect(r.events.at(-1)).toEqual([2, 0.0265]);
    at(0.0385);
    expect(r.events.at(-1)).toEqual([4, 0.038]);
    expect(r.finished()).toBe(0.038);
    expect(host.inFlight).toBe(0);
    const text = host.metricsText();
    expect(metric(text, 'dynamo_frontend_time_to_first_token_seconds_sum')).toBeCloseTo(0.02, 9);
    expect(metric(text, 'dynamo_frontend_inter_token_latency_seconds_count')).toBe(3);
    expect(metric(text, 'dynamo_frontend_inter_token_latency_seconds_sum')).toBeCloseTo(0.018, 9);
    expect(metric(text, 'dynamo_frontend_request_duration_seconds_sum')).toBeCloseTo(0.038, 9);
    expect(metric(text, 'dynamo_frontend_requests_total')).toBe(1);
  });

  it('queues prefill FIFO and batches decode: the second request waits 20 ms for the first prefill', () => {
    const { host, at } = makeHost();
    const a = recorder();
    const b = recorder();
    host.submit(1000, 4, a.sink);
    host.submit(1000, 4, b.sink);
    for (let t = 0.001; t < 0.07; t += 0.001) at(t);
    // a: first token 20 ms, tokens 26, 32, 38. b: prefill 20..40 ms, decode alone from 40: 46, 52, 58.
    expect(a.finished()).toBeCloseTo(0.038, 9);
    expect(b.events[0][1]).toBeCloseTo(0.04, 9);
    expect(b.finished()).toBeCloseTo(0.058, 9);
    expect(metric(host.metricsText(), 'dynamo_frontend_time_to_first_token_seconds_sum')).toBeCloseTo(0.06, 9);
  });

  it('shares a decode step when two requests run together (step 5 + 2 = 7 ms)', () => {
    const { host, at } = makeHost({ initial: { prefill: 2, decode: 1 } });
    const a = recorder();
    const b = recorder();
    host.submit(1000, 3, a.sink);
    host.submit(1000, 3, b.sink);
    for (let t = 0.001; t < 0.05; t += 0.0005) at(t);
    // Both prefill on their own worker, first tokens at 20 ms; the batch of 2 steps every 7 ms: done at 34 ms.
    expect(a.finished()).toBeCloseTo(0.034, 9);
    expect(b.finished()).toBeCloseTo(0.034, 9);
  });

  it('refuses what can never fit and what is over the in-flight bound', () => {
    const { host, at } = makeHost({ maxInFlight: 1 });
    expect(host.submit(200_000, 4, recorder().sink)).toEqual({ ok: false, reason: 'too_long' });
    const a = recorder();
    expect(host.submit(100, 50, a.sink)).toEqual({ ok: true, id: expect.any(Number) });
    expect(host.submit(100, 5, recorder().sink)).toEqual({ ok: false, reason: 'busy' });
    at(1);
    expect(a.finished()).not.toBeNull();
    const text = host.metricsText();
    expect(metric(text, 'sla_mocker_refused_busy_total')).toBe(1);
    expect(parsePromText(text).find((s) => s.name === 'dynamo_frontend_requests_total' && s.labels.status === 'error')?.value).toBe(1);
  });

  it('a request whose client went away is aborted: its KV blocks are freed at the next decode step and the engine takes the next', () => {
    const { host, at } = makeHost({ maxInFlight: 1 });
    const a = recorder();
    const sub = host.submit(100, 50, a.sink);
    if (!sub.ok) throw new Error('refused');
    // Prefill 10 + 0.01·100 = 11 ms; decode steps of 6 ms end at 17, 23, 29 ms.
    at(0.02);
    const tokensAtAbort = a.events.at(-1)![0];
    expect(tokensAtAbort).toBe(2);
    host.abort(sub.id);
    expect(host.inFlight).toBe(0);
    at(0.022);
    const running = () => metric(host.metricsText(), 'vllm:num_requests_running');
    const used = () => metric(host.metricsText(), 'vllm:kv_cache_usage_perc');
    expect(running()).toBe(1); // still in the batch until the 23 ms boundary
    expect(used()).toBeGreaterThan(0);
    at(0.024);
    expect(running()).toBe(0);
    expect(used()).toBe(0);
    // The in-flight slot is free at once: the next request is served.
    const b = recorder();
    expect(host.submit(100, 2, b.sink)).toEqual({ ok: true, id: expect.any(Number) });
    at(1);
    expect(b.finished()).not.toBeNull();
    expect(a.finished()).toBeNull();
    expect(a.events.at(-1)![0]).toBe(tokensAtAbort);
    const text = host.metricsText();
    expect(metric(text, 'sla_mocker_aborted_requests_total')).toBe(1);
    expect(parsePromText(text).find((s) => s.name === 'dynamo_frontend_requests_total' && s.labels.status === 'error')?.value).toBe(1);
    expect(parsePromText(text).find((s) => s.name === 'dynamo_frontend_requests_total' && s.labels.status === 'success')?.value).toBe(1);
  });

  it('adds workers after the cold start and counts their GPUs from the scale-up', () => {
    const { host, at } = makeHost({ coldStartS: 2 });
    host.setTarget('decode', 3);
    at(1.9);
    expect(host.readyCounts()).toEqual({ prefill: 1, decode: 1 });
    at(2.1);
    expect(host.readyCounts()).toEqual({ prefill: 1, decode: 3 });
    const text = host.metricsText();
    expect(metric(text, 'sla_mocker_gpus')).toBe(1 + 3 * 2);
    // 3 GPUs from 0 to 0 s, 7 from then: 7 · 2.1 GPU-seconds.
    expect(metric(text, 'sla_mocker_gpu_seconds_total')).toBeCloseTo(7 * 2.1, 9);
    expect(parsePromText(text).filter((s) => s.name === 'dynamo_frontend_worker_active_decode_blocks')).toHaveLength(3);
  });
});
