// Load scaling end to end: router gauges from a fake frontend, the real Planner's regression, a
// blocking scale through the strict fake API server, then the worker-count guard.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeFrontend } from '../helpers/fakeFrontend.js';
import type { FakeKube } from '../helpers/fakeKube.js';
import { buildDaemon, startFakeKube, type Harness } from '../helpers/daemonHarness.js';
import { waitFor } from '../helpers/procs.js';

describe('daemon load loop', () => {
  let router: FakeFrontend;
  let kube: FakeKube;
  let h: Harness;
  let driver: NodeJS.Timeout;

  beforeAll(async () => {
    router = await new FakeFrontend().start();
    // The one prefill worker is past its TTFT target: TTFT = 0.1 ms per token of load, so the
    // 300 ms SLA sits at 3000 tokens (2000 queued + 1000 ISL), and the queue holds 2500-4000.
    let i = 0;
    const drive = () => {
      const active = 2500 + ((i * 7) % 16) * 100;
      const blocks = 10 + (i % 10);
      router.setWorker('prefill', 'p1', { active_prefill_tokens: active, last_isl: 1000, last_ttft: ((active + 1000) * 0.1) / 1000 });
      router.setWorker('decode', 'd1', { active_decode_blocks: blocks, last_itl: blocks / 1000 });
      i++;
    };
    drive();
    driver = setInterval(drive, 100);
    const k = await startFakeKube();
    kube = k.kube;
    h = await buildDaemon({
      config: {
        enable_throughput_scaling: false, enable_load_scaling: true, load_adjustment_interval: 1, load_metric_samples: 4,
        load_router_metrics_url: router.url + '/metrics', ttft: 300, itl: 25, max_gpu_budget: 16,
      },
      env: k.env, promUrl: 'http://127.0.0.1:1', routerUrl: router.url + '/metrics',
    });
    await h.daemon.start();
  }, 30_000);

  afterAll(async () => {
    clearInterval(driver);
    await h?.daemon.stop(1000);
    await router?.stop();
    await kube?.stop();
  });

  it('scales the overloaded prefill pool up by one, waits for the rollout, then guards on worker counts', async () => {
    await waitFor(async () => h.daemon.history.some((r) => r.loop === 'load' && r.decided), 15_000, 'a load decision');
    const load = h.daemon.history.filter((r) => r.loop === 'load');
    const first = load.find((r) => r.decided)!;
    // Holds until the regression has load_min_observations points.
    expect(load.indexOf(first)).toBeGreaterThanOrEqual(4);
    expect(first.target).toEqual({ prefill: 2, decode: 1 });
    expect(first.actuation).toMatchObject({ status: 'applied', written: { prefill: 2 } });
    expect(kube.replicas('VllmPrefillWorker')).toBe(2);
    expect(kube.replicas('VllmDecodeWorker')).toBe(1);
    // The router still sees one prefill worker while the DGD has two: no decision on that.
    const n = h.daemon.history.length;
    await waitFor(async () => h.daemon.history.slice(n).some((r) => r.loop === 'load'), 5000, 'the next load tick');
    const next = h.daemon.history.slice(n).find((r) => r.loop === 'load')!;
    expect(next).toMatchObject({ decided: false, reason: { code: 'worker_count_mismatch' } });
    expect(kube.writes()).toHaveLength(1);
  }, 25_000);
});
