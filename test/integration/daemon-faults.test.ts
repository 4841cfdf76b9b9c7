// Faults with real parts: Prometheus stopped and restarted mid-run, a worker endpoint returning
// garbage, the Kubernetes API answering 500 for a while. The daemon survives, holds, recovers,
// logs each episode once, and its metrics show it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeFrontend } from '../helpers/fakeFrontend.js';
import type { FakeKube } from '../helpers/fakeKube.js';
import { buildDaemon, metricValue, startFakeKube, type Harness } from '../helpers/daemonHarness.js';
import { startPrometheus, waitFor, type Managed } from '../helpers/procs.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('daemon under faults', () => {
  let fe: FakeFrontend;
  let router: FakeFrontend;
  let prom: Managed;
  let kube: FakeKube;
  let h: Harness;
  let steady: NodeJS.Timeout;
  const metrics = async () => (await fetch(`http://127.0.0.1:${h.daemon.port}/metrics`)).text();
  const faultLines = (key: string) => h.lines.filter((l) => l.event === 'fault' && l.fault === key);
  const recoveredLines = (key: string) => h.lines.filter((l) => l.event === 'recovered' && l.fault === key);

  beforeAll(async () => {
    fe = await new FakeFrontend('Qwen/Qwen3-0.6B').start();
    router = await new FakeFrontend('Qwen/Qwen3-0.6B').start();
    router.setWorker('prefill', 'p1', { active_prefill_tokens: 100, last_ttft: 0.05, last_isl: 2000 });
    router.setWorker('decode', 'd1', { active_decode_blocks: 10, last_itl: 0.01 });
    prom = await startPrometheus([{ address: fe.address, labels: { dynamo_namespace: 'test-ns' } }]);
    const k = await startFakeKube();
    kube = k.kube;
    h = await buildDaemon({
      config: {
        throughput_adjustment_interval: 2, load_predictor: 'constant', ttft: 300, itl: 25, max_gpu_budget: 16,
        enable_load_scaling: true, load_adjustment_interval: 1, load_metric_samples: 4, load_router_metrics_url: router.url + '/metrics',
      },
      env: k.env, promUrl: prom.url, routerUrl: router.url + '/metrics',
    });
    // Steady traffic: 20 rps.
    steady = setInterval(() => { for (let i = 0; i < 2; i++) fe.record({ isl: 2000, osl: 100, ttftS: 0.1, itlS: 0.02 }); }, 100);
    await h.daemon.start();
    await waitFor(async () => h.daemon.history.some((r) => r.loop === 'throughput' && r.observation), 10_000, 'a first throughput tick');
  }, 60_000);

  afterAll(async () => {
    clearInterval(steady);
    await h?.daemon.stop(1000);
    await prom?.stop();
    await fe?.stop();
    await router?.stop();
    await kube?.stop();
  });

  it('Prometheus stopped: holds with a reason, logs the episode once, recovers after restart', async () => {
    await prom.kill!();
    const n0 = h.daemon.history.length;
    await sleep(6500);
    const during = h.daemon.history.slice(n0).filter((r) => r.loop === 'throughput');
    expect(during.length).toBeGreaterThanOrEqual(2);
    expect(during.every((r) => r.decided === false && (r.reason as { code: string }).code === 'data_source_error' && r.error_kind === 'prometheus_unreachable')).toBe(true);
    expect(faultLines('source:prometheus_unreachable')).toHaveLength(1);
    const text = await metrics();
    expect(metricValue(text, 'sla_planner_data_source_errors_total', { kind: 'prometheus_unreachable' })).toBeGreaterThanOrEqual(during.length);
    expect(metricValue(text, 'sla_planner_holds_total', { reason: 'data_source_error' })).toBeGreaterThanOrEqual(during.length);

    await prom.start!();
    await waitFor(async () => recoveredLines('source:prometheus_unreachable').length === 1, 10_000, 'recovery after the restart');
    const n1 = h.daemon.history.length;
    await waitFor(async () => h.daemon.history.slice(n1).some((r) => r.loop === 'throughput' && r.observation), 10_000, 'throughput ticks with data again');
  }, 40_000);

  it('a worker endpoint returning garbage: load ticks hold on missing samples, then resume', async () => {
    router.workerMode = 'garbage';
    await sleep(3500);
    const n0 = h.daemon.history.length;
    await sleep(2200);
    const load = h.daemon.history.slice(n0).filter((r) => r.loop === 'load');
    expect(load.length).toBeGreaterThanOrEqual(1);
    expect(load.every((r) => (r.reason as { code: string }).code === 'no_router_samples')).toBe(true);
    expect(faultLines('source:router_parse')).toHaveLength(1);
    expect(metricValue(await metrics(), 'sla_planner_data_source_errors_total', { kind: 'router_parse' })).toBeGreaterThanOrEqual(4);
    router.workerMode = 'ok';
    await waitFor(async () => recoveredLines('source:router_parse').length === 1, 5000, 'router recovery');
    const n1 = h.daemon.history.length;
    await waitFor(async () => h.daemon.history.slice(n1).some((r) => r.loop === 'load' && (r.reason as { code: string }).code !== 'no_router_samples'), 5000, 'load ticks with samples');
  }, 30_000);

  it('the API server answering 500: holds, counts, recovers; nothing patched meanwhile', async () => {
    kube.outageStatus = 500;
    const patchesBefore = kube.writes().length;
    const n0 = h.daemon.history.length;
    await sleep(6000);
    const during = h.daemon.history.slice(n0);
    expect(during.length).toBeGreaterThanOrEqual(3);
    expect(during.every((r) => r.decided === false)).toBe(true);
    expect(during.some((r) => (r.reason as { code: string }).code === 'environment_unreadable')).toBe(true);
    expect(faultLines('source:k8s_server_error')).toHaveLength(1);
    expect(metricValue(await metrics(), 'sla_planner_data_source_errors_total', { kind: 'k8s_server_error' })).toBeGreaterThanOrEqual(3);
    expect(kube.writes().length).toBe(patchesBefore);
    kube.outageStatus = null;
    await waitFor(async () => recoveredLines('source:k8s_server_error').length === 1, 8000, 'API server recovery');
    const n1 = h.daemon.history.length;
    await waitFor(async () => h.daemon.history.slice(n1).some((r) => r.loop === 'throughput' && r.current !== undefined), 8000, 'decisions again');
    // Still alive and serving.
    expect((await fetch(`http://127.0.0.1:${h.daemon.port}/healthz`)).status).toBe(200);
  }, 30_000);
});
