import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  aggregateFrontend, frontendBucketQuery, frontendHistogramSumQuery, frontendQuery, histogramFromSeries, matchingValues, routerQuery, TrafficObserver,
} from '../../src/observe/prometheus.js';
import { fractionAbove, histogramMoments } from '../../src/scaling/moments.js';
import { FakeFrontend } from '../helpers/fakeFrontend.js';
import { startPrometheus, waitFor, type Managed } from '../helpers/procs.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PromQL and client-side post-processing', () => {
  it('builds the exact frontend queries', () => {
    expect(frontendQuery('ttft', 180)).toBe('increase(dynamo_frontend_time_to_first_token_seconds_sum[180s])/increase(dynamo_frontend_time_to_first_token_seconds_count[180s])');
    expect(frontendQuery('num_req', 60)).toBe('increase(dynamo_frontend_requests_total[60s])');
    expect(frontendQuery('num_req', 60, 'started')).toBe('increase(dynamo_frontend_requests_started_total[60s])');
    expect(frontendQuery('osl', 5)).toBe('increase(dynamo_frontend_output_sequence_tokens_sum[5s])/increase(dynamo_frontend_output_sequence_tokens_count[5s])');
  });

  it('builds the router queries with dashes turned into underscores', () => {
    expect(routerQuery('num_req', 30, 'default-my-dgd')).toBe('sum(increase(dynamo_component_router_requests_total{dynamo_namespace="default_my_dgd"}[30s]))');
    expect(routerQuery('num_req', 30, 'a-b', 'started')).toBe('sum(increase(dynamo_component_router_requests_started_total{dynamo_namespace="a_b"}[30s]) or ignoring(__name__) increase(dynamo_component_router_requests_total{dynamo_namespace="a_b"}[30s]))');
    expect(routerQuery('itl', 30, 'a-b')).toBe('sum(increase(dynamo_component_router_inter_token_latency_seconds_sum{dynamo_namespace="a_b"}[30s])) / sum(increase(dynamo_component_router_inter_token_latency_seconds_count{dynamo_namespace="a_b"}[30s]))');
  });

  it('filters model case-insensitively and namespace exactly; means ratios, sums counters', () => {
    const el = JSON.parse(readFileSync('test/fixtures/dynamo/metrics/prometheus-query-result-element.upstream-test.json', 'utf8'));
    const series = [
      { labels: el.metric, value: 0.2 },
      { labels: { ...el.metric, pod: 'second' }, value: 0.4 },
      { labels: { ...el.metric, model: 'other' }, value: 9 },
      { labels: { ...el.metric, dynamo_namespace: 'vllm_disagg_planner' }, value: 9 },
    ];
    const v = matchingValues(series, 'Qwen/Qwen3-0.6B', 'vllm-disagg-planner');
    expect(v).toEqual([0.2, 0.4]);
    expect(aggregateFrontend('ttft', v)).toBeCloseTo(0.3, 12);
    expect(aggregateFrontend('num_req', [3, 4, 5])).toBe(12);
    expect(aggregateFrontend('isl', [])).toBe(0);
    expect(aggregateFrontend('itl', [NaN, 1])).toBeNaN();
  });
});

describe('histogram buckets (sla strategy)', () => {
  it('builds the bucket and sum queries, by the labels the filter reads', () => {
    expect(frontendBucketQuery('isl_histogram', 180)).toBe('sum by (le, model, dynamo_namespace) (increase(dynamo_frontend_input_sequence_tokens_bucket[180s]))');
    expect(frontendHistogramSumQuery('ttft_histogram', 60)).toBe('sum by (model, dynamo_namespace) (increase(dynamo_frontend_time_to_first_token_seconds_sum[60s]))');
  });

  it('sums matching series per le, sorts bounds, makes counts non-decreasing, needs +Inf', () => {
    const l = (le: string, ns = 'n', model = 'M') => ({ le, dynamo_namespace: ns, model });
    const buckets = [
      { labels: l('+Inf'), value: 10 }, { labels: l('100'), value: 4 }, { labels: l('10'), value: 1 },
      // a second frontend pod of the same deployment
      { labels: l('+Inf'), value: 2 }, { labels: l('100'), value: 2 }, { labels: l('10'), value: 2.5 },
      // increase() extrapolates each bucket alone: 1000 may come out below 100
      { labels: l('1000'), value: 5.5 },
      { labels: l('+Inf', 'other'), value: 99 }, { labels: l('10', 'n', 'x'), value: 99 },
    ];
    const sums = [{ labels: l(''), value: 700 }, { labels: l('', 'other'), value: 1e6 }];
    expect(histogramFromSeries(buckets, sums, 'm', 'n')).toEqual({ le: [10, 100, 1000], cumulative: [3.5, 6, 6, 12], sum: 700 });
    expect(histogramFromSeries(buckets.filter((b) => b.labels.le !== '+Inf'), sums, 'm', 'n')).toBeUndefined();
    expect(histogramFromSeries([], sums, 'm', 'n')).toBeUndefined();
  });
});

describe('TrafficObserver against a real Prometheus scraping a fake frontend', () => {
  let fe: FakeFrontend;
  let other: FakeFrontend;
  let prom: Managed;
  beforeAll(async () => {
    fe = await new FakeFrontend('Qwen/Qwen3-0.6B', { exportStarted: true }).start();
    other = await new FakeFrontend('Qwen/Qwen3-0.6B').start();
    prom = await startPrometheus([
      { address: fe.address, labels: { dynamo_namespace: 'ns-a' } },
      { address: other.address, labels: { dynamo_namespace: 'ns-b' } },
    ]);
  }, 60_000);
  afterAll(async () => {
    await prom?.stop();
    await fe?.stop();
    await other?.stop();
  });

  const observer = (intervalS: number) => new TrafficObserver({ endpoint: prom.url, intervalS, source: 'frontend', modelName: 'Qwen/Qwen3-0.6B', dynamoNamespace: 'ns-a' });

  it('no series yet: every field reads 0 and is valid, as upstream', async () => {
    const r = await observer(30).observe();
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.observation).toEqual({ num_req: 0, isl: 0, osl: 0, ttft: 0, itl: 0, request_duration: 0 });
    expect(r.emptyFields).toHaveLength(6);
    expect(r.idle).toBe(false);
  });

  it('traffic: means of this deployment only, TTFT/ITL in ms', async () => {
    const warm = { isl: 1000, osl: 21, ttftS: 0.25, itlS: 0.04 };
    fe.record(warm);
    other.record({ isl: 50, osl: 5, ttftS: 3, itlS: 1 });
    // Let Prometheus see the series before the counted requests, so increase() measures them.
    const scraped = async () => (await fetch(`${prom.url}/api/v1/query?query=dynamo_frontend_requests_total`).then((r) => r.json()) as { data: { result: unknown[] } }).data.result.length === 2;
    await waitFor(scraped, 10_000, 'first scrape of both frontends');
    await sleep(1500);
    for (let i = 0; i < 10; i++) {
      fe.record(warm);
      other.record({ isl: 50, osl: 5, ttftS: 3, itlS: 1 });
    }
    fe.startOnly(20); // arrived, still in flight: offered load the finished count cannot see
    await sleep(2500);
    const r = await observer(30).observe();
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.observation.ttft).toBeCloseTo(250, 6);
    expect(r.observation.itl).toBeCloseTo(40, 6);
    expect(r.observation.isl).toBeCloseTo(1000, 6);
    expect(r.observation.osl).toBeCloseTo(21, 6);
    expect(r.observation.request_duration).toBeCloseTo(0.25 + 0.04 * 20, 6);
    // increase() extrapolates to the window edges, so the count is at least the 10 requests.
    expect(r.observation.num_req).toBeGreaterThanOrEqual(10);
    expect(r.observation.num_req).toBeLessThan(16);
    expect(r.emptyFields).toEqual([]);

    // num_req_source 'started': the offered load (10 finished + 20 in flight).
    const started = await new TrafficObserver({ endpoint: prom.url, intervalS: 30, source: 'frontend', modelName: 'Qwen/Qwen3-0.6B', dynamoNamespace: 'ns-a', numReqSource: 'started' }).observe();
    expect(started.ok && started.observation.num_req).toBeGreaterThanOrEqual(30);
    expect(started.ok && started.observation.num_req).toBeLessThan(46);
    // A frontend without requests_started_total (ns-b): falls back to the finished count.
    const fallback = await new TrafficObserver({ endpoint: prom.url, intervalS: 30, source: 'frontend', modelName: 'Qwen/Qwen3-0.6B', dynamoNamespace: 'ns-b', numReqSource: 'started' }).observe();
    expect(fallback.ok && fallback.observation.num_req).toBeGreaterThanOrEqual(10);
    expect(fallback.ok && fallback.observation.num_req).toBeLessThan(16);

    // A namespace no series carries: read as 0 (upstream), and the result says what was there.
    const wrong = await new TrafficObserver({ endpoint: prom.url, intervalS: 30, source: 'frontend', modelName: 'Qwen/Qwen3-0.6B', dynamoNamespace: 'ns-typo' }).observe();
    expect(wrong.ok).toBe(true);
    if (!wrong.ok) return;
    expect(wrong.observation.num_req).toBe(0);
    expect(wrong.emptyFields).toHaveLength(6);
    expect(wrong.unmatched?.dynamo_namespace.sort()).toEqual(['ns-a', 'ns-b']);
    expect(wrong.unmatched?.model).toEqual(['qwen/qwen3-0.6b']);
    // A matching deployment carries no such note.
    expect(r.unmatched).toBeUndefined();

    // The sla strategy's bucket series: this deployment's only, ISL 1000 in (870, 1800], TTFT 0.25 s in (0.22, 0.47].
    const h = await observer(30).observeHistograms();
    expect(h.ok).toBe(true);
    if (!h.ok) return;
    const isl = h.histograms.isl_histogram!;
    const total = isl.cumulative[isl.cumulative.length - 1];
    expect(total).toBeGreaterThanOrEqual(10);
    expect(total).toBeLessThan(16);
    expect(isl.cumulative[isl.le.indexOf(870)]).toBe(0);
    expect(isl.cumulative[isl.le.indexOf(1800)]).toBeCloseTo(total, 6);
    // The sum and the buckets are extrapolated by increase() separately: the mean is 1000 within 2%.
    expect(Math.abs(histogramMoments(isl)!.m1 - 1000)).toBeLessThan(20);
    expect(fractionAbove(h.histograms.ttft_histogram!, 0.22)).toBeCloseTo(1, 6);
    expect(fractionAbove(h.histograms.ttft_histogram!, 0.47)).toBeCloseTo(0, 6);
    expect(h.histograms.osl_histogram).toBeDefined();
    // The router source has no bucket series: none, and no query sent.
    const viaRouter = await new TrafficObserver({ endpoint: prom.url, intervalS: 30, source: 'router', modelName: null, dynamoNamespace: 'ns-a' }).observeHistograms();
    expect(viaRouter).toEqual({ ok: true, histograms: {} });
  }, 30_000);

  it('an idle window reads NaN: fields unobserved, no decision material', async () => {
    await sleep(3200);
    const r = await observer(2).observe();
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.idle).toBe(true);
    expect(r.observation.ttft).toBeNull();
    expect(r.observation.isl).toBeNull();
    expect(r.observation.num_req).toBe(0);
  }, 20_000);
});

describe('TrafficObserver failures are holds with a kind, never values', () => {
  let hang: Server;
  let err503: Server;
  let hangUrl = '';
  let errUrl = '';
  beforeAll(async () => {
    hang = createServer(() => { /* never answers */ });
    err503 = createServer((_q, res) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"status":"error","errorType":"unavailable","error":"overloaded"}'));
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
    await new Promise<void>((r) => err503.listen(0, '127.0.0.1', () => r()));
    hangUrl = `http://127.0.0.1:${(hang.address() as { port: number }).port}`;
    errUrl = `http://127.0.0.1:${(err503.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    hang.closeAllConnections();
    err503.closeAllConnections();
    await new Promise((r) => hang.close(r));
    await new Promise((r) => err503.close(r));
  });
  const obs = (endpoint: string) => new TrafficObserver({ endpoint, intervalS: 60, source: 'frontend', modelName: 'm', dynamoNamespace: 'n', timeoutMs: 300 });

  it('classifies unreachable, timeout and HTTP errors', async () => {
    expect(await obs('http://127.0.0.1:1').observe()).toMatchObject({ ok: false, kind: 'prometheus_unreachable' });
    expect(await obs('http://127.0.0.1:1').observeHistograms()).toMatchObject({ ok: false, kind: 'prometheus_unreachable' });
    expect(await obs(errUrl).observeHistograms()).toMatchObject({ ok: false, kind: 'prometheus_unavailable' });
    expect(await obs(hangUrl).observe()).toMatchObject({ ok: false, kind: 'prometheus_timeout' });
    // 503: Prometheus up but not serving, with its own error text in the message.
    expect(await obs(errUrl).observe()).toMatchObject({ ok: false, kind: 'prometheus_unavailable', message: expect.stringContaining('HTTP 503: overloaded') });
  });

  it('a server that trickles bytes is a timeout too (the deadline covers the whole answer)', async () => {
    const timers: NodeJS.Timeout[] = [];
    const trickle = createServer((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"status":"success","data":{"resultType":"vector","result":[');
      timers.push(setInterval(() => res.write(' '), 100));
    });
    await new Promise<void>((r) => trickle.listen(0, '127.0.0.1', () => r()));
    const t0 = Date.now();
    const out = await obs(`http://127.0.0.1:${(trickle.address() as { port: number }).port}`).observe();
    expect(out).toMatchObject({ ok: false, kind: 'prometheus_timeout' });
    expect(Date.now() - t0).toBeLessThan(2000);
    for (const t of timers) clearInterval(t);
    trickle.closeAllConnections();
    await new Promise((r) => trickle.close(r));
  });
});
