import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parsePromText, PromTextError } from '../../src/observe/promtext.js';
import { fetchRouterSnapshot, groupWorkerGauges, RouterFetchError, RouterSampler } from '../../src/observe/router.js';
import { FakeFrontend } from '../helpers/fakeFrontend.js';

const FIX = 'test/fixtures/dynamo/metrics/';

describe('Prometheus text parsing of the router gauges', () => {
  it('groups the upstream 1P1D fixture exactly as the original parser does', () => {
    const text = readFileSync(FIX + 'frontend-worker-gauges.1p1d.upstream-test.prom', 'utf8');
    const expected = JSON.parse(readFileSync(FIX + 'frontend-worker-gauges.1p1d.expected-parse.json', 'utf8'));
    expect(groupWorkerGauges(parsePromText(text))).toEqual(expected);
  });

  it('reads the exact bytes of the Rust encoder', () => {
    const text = readFileSync(FIX + 'frontend-worker-load-gauges.upstream-test.prom', 'utf8');
    const snap = groupWorkerGauges(parsePromText(text));
    expect(snap.decode?.['123']).toMatchObject({ active_decode_blocks: 42, active_prefill_tokens: 100 });
  });

  it('collapses dp_rank (last one wins) and names missing labels "unknown"', () => {
    const text = [
      'dynamo_frontend_worker_active_decode_blocks{worker_id="7",dp_rank="0",worker_type="decode"} 10',
      'dynamo_frontend_worker_active_decode_blocks{worker_id="7",dp_rank="1",worker_type="decode"} 25',
      'dynamo_frontend_worker_active_decode_blocks{worker_type="decode"} 3',
      'dynamo_frontend_worker_active_decode_blocks{worker_id="9",worker_type="decode"} NaN',
      'unrelated_metric{worker_id="7",worker_type="decode"} 99',
    ].join('\n');
    expect(groupWorkerGauges(parsePromText(text))).toEqual({ decode: { '7': { active_decode_blocks: 25 }, unknown: { active_decode_blocks: 3 } } });
  });

  it('a hostile worker_id or worker_type cannot write onto Object.prototype', () => {
    const text = [
      'dynamo_frontend_worker_active_decode_blocks{worker_id="__proto__",worker_type="decode"} 5',
      'dynamo_frontend_worker_active_prefill_tokens{worker_id="w1",worker_type="__proto__"} 6',
      'constructor{worker_id="w2",worker_type="decode"} 7',
    ].join('\n');
    const snap = groupWorkerGauges(parsePromText(text));
    expect(({} as Record<string, unknown>).active_decode_blocks).toBeUndefined();
    expect(({} as Record<string, unknown>).w1).toBeUndefined();
    expect(Object.keys(snap.decode ?? {})).toEqual(['__proto__']);
    expect(snap.decode?.['__proto__' as string]?.active_decode_blocks).toBe(5);
  });

  it('reads the engines\' series and the model\'s KV capacity for workers the router lists, and only those', () => {
    const text = [
      'dynamo_frontend_worker_active_decode_blocks{worker_id="d1",dp_rank="0",worker_type="decode"} 90',
      'dynamo_frontend_worker_last_inter_token_latency_seconds{worker_id="d1",dp_rank="0",worker_type="decode"} 0.02',
      'dynamo_frontend_worker_active_decode_blocks{worker_id="d2",dp_rank="0",worker_type="decode"} 10',
      'dynamo_frontend_worker_active_prefill_tokens{worker_id="p1",dp_rank="0",worker_type="prefill"} 300',
      'dynamo_frontend_model_total_kv_blocks{model="m"} 100',
      'vllm:kv_cache_usage_perc{worker_id="d1",worker_type="decode"} 0.9',
      'vllm:num_requests_waiting{worker_id="d1",worker_type="decode"} 4',
      'vllm:num_preemptions_total{worker_id="d1",worker_type="decode"} 12',
      'dynamo_component_kvstats_total_blocks{worker_id="d2",worker_type="decode"} 250',
      // A worker the router does not list adds nothing; a 0 capacity is no capacity.
      'vllm:num_requests_waiting{worker_id="ghost",worker_type="decode"} 50',
      'dynamo_component_kvstats_total_blocks{worker_id="d1",worker_type="decode"} 0',
    ].join('\n');
    expect(groupWorkerGauges(parsePromText(text))).toEqual({
      prefill: { p1: { active_prefill_tokens: 300, kv_total_blocks: 100 } },
      decode: {
        d1: { active_decode_blocks: 90, last_itl: 0.02, kv_usage: 0.9, num_requests_waiting: 4, preemptions_total: 12, kv_total_blocks: 100 },
        d2: { active_decode_blocks: 10, kv_total_blocks: 250 },
      },
    });
    // Without any capacity series the field stays absent (the planner falls back to the profile's).
    expect(groupWorkerGauges(parsePromText('dynamo_frontend_worker_active_decode_blocks{worker_id="d",worker_type="decode"} 5\ndynamo_frontend_model_total_kv_blocks{model="m"} 0'))).toEqual({
      decode: { d: { active_decode_blocks: 5 } },
    });
  });

  it('sums the frontend\'s arrivals counter over its label sets (prefill_burst_sizing reads it per scrape)', () => {
    const text = [
      'dynamo_frontend_worker_active_prefill_tokens{worker_id="p1",worker_type="prefill"} 0',
      'dynamo_frontend_requests_started_total{model="a",endpoint="chat_completions"} 120',
      'dynamo_frontend_requests_started_total{model="b",endpoint="completions"} 30',
      // A broken value adds nothing.
      'dynamo_frontend_requests_started_total{model="c",endpoint="completions"} NaN',
    ].join('\n');
    expect(groupWorkerGauges(parsePromText(text))).toEqual({ requests_started_total: 150, prefill: { p1: { active_prefill_tokens: 0 } } });
    expect(groupWorkerGauges(parsePromText('dynamo_frontend_worker_active_prefill_tokens{worker_id="p1",worker_type="prefill"} 0')).requests_started_total).toBeUndefined();
  });

  it('reads special values in any case, as Prometheus does (prom-client writes "Nan")', () => {
    expect(parsePromText('a Nan\nb +inf\nc -INF\nd nan').map((s) => s.value)).toEqual([NaN, Infinity, -Infinity, NaN]);
  });

  it('handles escapes, timestamps and special values', () => {
    const s = parsePromText('m{a="x\\"y\\\\z",b="1"} +Inf 1700000000\nn -Inf\no 1e3\n');
    expect(s).toEqual([
      { name: 'm', labels: { a: 'x"y\\z', b: '1' }, value: Infinity },
      { name: 'n', labels: {}, value: -Infinity },
      { name: 'o', labels: {}, value: 1000 },
    ]);
  });

  it('rejects garbage with the line number', () => {
    expect(() => parsePromText('ok 1\n<html>')).toThrow(/line 2/);
    expect(() => parsePromText('m{a="1"} notanumber')).toThrow(PromTextError);
    expect(() => parsePromText('m{a="1} 3')).toThrow(PromTextError);
  });

  it('never throws anything but PromTextError on arbitrary input', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => {
      try {
        parsePromText(s);
      } catch (err) {
        expect(err).toBeInstanceOf(PromTextError);
      }
    }));
  });
});

describe('router sampler against a fake frontend', () => {
  let fe: FakeFrontend;
  beforeAll(async () => {
    fe = await new FakeFrontend().start();
  });
  afterAll(() => fe.stop());

  it('keeps the last N scrapes and classifies failures without adding samples', async () => {
    const errors: string[] = [];
    const sampler = new RouterSampler({ url: fe.url + '/metrics', periodMs: 1_000_000, keep: 3, timeoutMs: 300, onError: (e) => errors.push(e.kind) });
    fe.workerMode = 'ok';
    for (let i = 1; i <= 5; i++) {
      fe.setWorker('prefill', 'p1', { active_prefill_tokens: i * 100, last_ttft: 0.2, last_isl: 1000 });
      fe.setWorker('decode', 'd1', { active_decode_blocks: i, last_itl: 0.03 });
      await sampler.scrapeOnce();
    }
    expect(sampler.samples().map((s) => s.prefill?.p1.active_prefill_tokens)).toEqual([300, 400, 500]);
    fe.workerMode = 'garbage';
    await sampler.scrapeOnce();
    fe.workerMode = 'http500';
    await sampler.scrapeOnce();
    fe.workerMode = 'hang';
    await sampler.scrapeOnce();
    expect(errors).toEqual(['router_parse', 'router_http', 'router_timeout']);
    expect(sampler.samples()).toHaveLength(3);
    fe.workerMode = 'ok';
    await sampler.scrapeOnce();
    expect(sampler.samples().at(-1)?.decode?.d1).toEqual({ active_decode_blocks: 5, last_itl: 0.03 });
    // The saturation rule's extra series, served by the frontend next to the router's gauges.
    fe.modelKvBlocks.set({ model: 'qwen/qwen3-0.6b' }, 5000);
    fe.setEngine('decode', 'd1', { kv_usage: 0.5, num_requests_waiting: 2, preemptions_total: 7 });
    await sampler.scrapeOnce();
    expect(sampler.samples().at(-1)?.decode?.d1).toEqual({ active_decode_blocks: 5, last_itl: 0.03, kv_total_blocks: 5000, kv_usage: 0.5, num_requests_waiting: 2, preemptions_total: 7 });
  });

  it('reports an unreachable endpoint', async () => {
    const err = await fetchRouterSnapshot('http://127.0.0.1:1/metrics', 500).catch((e) => e);
    expect(err).toBeInstanceOf(RouterFetchError);
    expect(err.kind).toBe('router_unreachable');
  });
});

describe('a connection reset in the middle of the answer', () => {
  it('fails the scrape instead of leaving it (and every later scrape) pending forever', async () => {
    const { createServer } = await import('node:http');
    let mode: 'reset' | 'ok' = 'reset';
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      if (mode === 'ok') return res.end('dynamo_frontend_worker_active_decode_blocks{worker_id="d1",worker_type="decode"} 4\n');
      res.write('dynamo_frontend_worker_active_decode_blocks{worker_id="d1",worker_type="de');
      setTimeout(() => req.socket.destroy(), 50);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`;
    const errors: string[] = [];
    const sampler = new RouterSampler({ url, periodMs: 1_000_000, keep: 3, timeoutMs: 1500, onError: (e) => errors.push(e.kind) });
    const t0 = Date.now();
    await sampler.scrapeOnce();
    // Before the fix the promise never settled: inFlight stayed true and the sampler went silent.
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(errors).toEqual(['router_unreachable']);
    mode = 'ok';
    await sampler.scrapeOnce();
    expect(sampler.samples().at(-1)?.decode?.d1).toEqual({ active_decode_blocks: 4 });
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
});

describe('router sampler staleness', () => {
  it('hands out only snapshots younger than maxAgeMs', async () => {
    const fe = await new FakeFrontend().start();
    let now = 0;
    const sampler = new RouterSampler({ url: fe.url + '/metrics', periodMs: 1_000_000, keep: 10, maxAgeMs: 1000, now: () => now });
    fe.setWorker('decode', 'd1', { active_decode_blocks: 1 });
    await sampler.scrapeOnce();
    now = 600;
    fe.setWorker('decode', 'd1', { active_decode_blocks: 2 });
    await sampler.scrapeOnce();
    expect(sampler.samples()).toHaveLength(2);
    now = 1400;
    expect(sampler.samples().map((s) => s.decode?.d1.active_decode_blocks)).toEqual([2]);
    now = 1700;
    expect(sampler.samples()).toEqual([]);
    await fe.stop();
  });
});
