// The daemon end to end with real parts: a fake frontend driven by a trace, a real Prometheus
// scraping it every second, the strict fake Kubernetes API server, and the real Planner.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/scaling/planner.js';
import { FakeFrontend, type TraceRequest } from '../helpers/fakeFrontend.js';
import type { FakeKube } from '../helpers/fakeKube.js';
import { buildDaemon, metricValue, startFakeKube, type Harness } from '../helpers/daemonHarness.js';
import { startPrometheus, waitFor, type Managed } from '../helpers/procs.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A quiet phase then a burst, in the shared traces' {t, isl, osl} format. */
function burstTrace(): TraceRequest[] {
  const out: TraceRequest[] = [];
  for (let t = 0; t < 9; t += 1) out.push({ t, isl: 3000, osl: 150 }); // 1 rps
  for (let t = 9; t < 21; t += 1 / 40) out.push({ t, isl: 3000, osl: 150 }); // 40 rps
  return out;
}

describe('sla-planner daemon: Prometheus in, Kubernetes out', () => {
  let fe: FakeFrontend;
  let prom: Managed;
  let kube: FakeKube;
  let h: Harness;

  beforeAll(async () => {
    fe = await new FakeFrontend('Qwen/Qwen3-0.6B').start();
    // The Helm PodMonitor adds dynamo_namespace; a static target label does the same here.
    prom = await startPrometheus([{ address: fe.address, labels: { dynamo_namespace: 'test-ns' } }]);
    const k = await startFakeKube();
    kube = k.kube;
    kube.adapters.add('VllmDecodeWorker'); // one pool via the DGDSA, the other via the DGD patch
    h = await buildDaemon({
      config: { throughput_adjustment_interval: 3, load_predictor: 'constant', ttft: 300, itl: 25, max_gpu_budget: 16, metric_reporting_prometheus_port: 0 },
      env: k.env, promUrl: prom.url,
    });
  }, 60_000);

  afterAll(async () => {
    await h?.daemon.stop(1000);
    await prom?.stop();
    await fe?.stop();
    await kube?.stop();
  });

  it('serves /healthz at once and /readyz after the first observation', async () => {
    // Seed the series so the first windows measure increases.
    fe.record({ isl: 3000, osl: 150, ttftS: 0.1, itlS: 0.02 });
    await h.daemon.start();
    const base = `http://127.0.0.1:${h.daemon.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 5000, '/readyz');
  });

  it('decisions follow the traffic, match the decision code on the same observations, and reach the DGD', async () => {
    fe.replay(burstTrace(), { ttftS: 0.12, itlS: 0.02 });
    await sleep(24_000);
    const decisions = h.daemon.history.filter((r) => r.loop === 'throughput');
    expect(decisions.length).toBeGreaterThanOrEqual(6);

    // Replay the daemon's own observations through a fresh Planner: same targets, same holds.
    const replay = h.plannerFactory();
    for (const rec of decisions) {
      if (!rec.observation) continue; // a hold before the decision code (none expected here)
      const d: Decision = replay.decideThroughput(rec.observation as never, rec.current as never);
      expect({ prefill: d.prefill, decode: d.decode, decided: d.decided }).toEqual({ ...(rec.target as object), decided: rec.decided });
    }
    const prefillTargets = decisions.filter((r) => r.decided).map((r) => (r.target as { prefill: number }).prefill);
    // Quiet phase: one prefill replica; burst (40 rps × 3000 tokens): more.
    expect(prefillTargets[0]).toBe(1);
    expect(Math.max(...prefillTargets)).toBeGreaterThanOrEqual(2);

    // Every applied target is in the DGD; the decode pool went through the scaling adapter.
    const applied = decisions.filter((r) => (r.actuation as { status?: string } | undefined)?.status === 'applied');
    expect(applied.length).toBeGreaterThan(0);
    const last = decisions.filter((r) => r.decided).at(-1)!.target as { prefill: number; decode: number };
    expect(kube.replicas('VllmPrefillWorker')).toBe(last.prefill);
    expect(kube.replicas('VllmDecodeWorker')).toBe(last.decode);
    const patches = kube.writes();
    expect(patches.every((p) => p.contentType === 'application/merge-patch+json')).toBe(true);
    expect(patches.some((p) => p.path.endsWith('/vllm-disagg-planner-vllmdecodeworker/scale')) || !applied.some((r) => (r.actuation as { written?: { decode?: number } }).written?.decode !== undefined)).toBe(true);
    // No patch ever repeats the value the DGD already had.
    expect(decisions.filter((r) => (r.actuation as { status?: string } | undefined)?.status === 'unchanged').length
      + applied.length).toBe(decisions.filter((r) => r.decided).length);
  }, 40_000);

  it('exports the original planner:* gauges and its own counters', async () => {
    const text = await (await fetch(`http://127.0.0.1:${h.daemon.port}/metrics`)).text();
    const ticks = h.daemon.history.filter((r) => r.loop === 'throughput' && r.observation);
    const lastObs = ticks.at(-1)!.observation as { num_req: number };
    // An idle window leaves a NaN-derived field unobserved: the gauge keeps the last real value.
    const lastIsl = ticks.map((r) => (r.observation as { isl: number | null }).isl).filter((v) => v !== null).at(-1)!;
    expect(metricValue(text, 'planner:observed_isl')).toBeCloseTo(lastIsl, 6);
    expect(metricValue(text, 'planner:observed_request_rate')).toBeCloseTo(lastObs.num_req / 3, 6);
    const lastDecided = h.daemon.history.filter((r) => r.loop === 'throughput' && r.decided).at(-1)!;
    if (ticks.at(-1) === lastDecided) expect(metricValue(text, 'planner:predicted_num_p')).toBe((lastDecided.target as { prefill: number }).prefill);
    else expect(metricValue(text, 'planner:predicted_num_p')).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'planner:num_p_workers')).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'planner:gpu_hours')).toBeGreaterThan(0);
    expect(metricValue(text, 'sla_planner_decision_duration_seconds_count', { loop: 'throughput' })).toBeGreaterThanOrEqual(6);
    expect(metricValue(text, 'sla_planner_ready')).toBe(1);
    expect(text).toMatch(/^process_resident_memory_bytes /m);
    // One structured line per decision, with its reason.
    const decisionLines = h.lines.filter((l) => l.event === 'decision');
    expect(decisionLines.length).toBe(h.daemon.history.length);
    expect(decisionLines.every((l) => typeof (l.reason as { code?: string }).code === 'string')).toBe(true);
  });
});
