// The daemon's wiring with stub parts: what reaches the decision code, and how outcomes of the
// actuator show up in holds, metrics and the log.
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/procs.js';
import { plannerConfigSchema, type PlannerConfig } from '../../src/config/schema.js';
import { Daemon, type DecisionEngine } from '../../src/runtime/daemon.js';
import { Logger } from '../../src/runtime/log.js';
import type { HistogramResult, TrafficResult } from '../../src/observe/prometheus.js';
import type { Actuator, ApplyContext, ApplyOutcome, DeploymentView } from '../../src/actuate/types.js';
import type { IntervalObservation } from '../../src/scaling/observation.js';
import type { Decision } from '../../src/scaling/decision.js';
import { metricValue, PROFILE_DIR } from '../helpers/daemonHarness.js';
import { FakePrometheus } from '../helpers/fakePrometheus.js';
import { TrafficObserver } from '../../src/observe/prometheus.js';
import { buildInterpolators, loadProfileDir } from '../../src/profile-data/index.js';
import { Planner } from '../../src/scaling/planner.js';

function config(extra: Record<string, unknown> = {}): PlannerConfig {
  return { ...plannerConfigSchema.parse({ throughput_adjustment_interval: 60, ...extra }), namespace: 'ns', metric_pulling_prometheus_endpoint: 'http://x', metric_reporting_prometheus_port: 0 } as PlannerConfig;
}

const EMPTY: TrafficResult = {
  ok: true, observation: { num_req: 0, isl: 0, osl: 0, ttft: 0, itl: 0, request_duration: 0 },
  raw: { num_req: 0, isl: 0, osl: 0, ttft: 0, itl: 0, request_duration: 0 }, idle: false,
  emptyFields: ['ttft', 'itl', 'num_req', 'request_duration', 'isl', 'osl'],
};

function setup(cfg: PlannerConfig, traffic: TrafficResult, decision: Partial<Decision>, outcome: ApplyOutcome, histograms?: () => Promise<HistogramResult>) {
  const seen: IntervalObservation[] = [];
  const planner: DecisionEngine = {
    decideThroughput: (obs, current) => { seen.push(obs); return { prefill: current.prefill, decode: current.decode, decided: false, reason: { code: 'x' } as never, ...decision }; },
    decideLoad: () => { throw new Error('unused'); },
    state: () => ({ lowerBound: { prefill: 1, decode: 1 }, correctionFactor: { prefill: 1.5, decode: 0.8 }, gpuHours: 0.25, holds: {} }),
  };
  const applied: unknown[] = [];
  const actuator: Actuator = {
    name: 'stub', init: async () => ({}) as never,
    view: async () => ({ prefill: 2, decode: 3, ready: true }),
    apply: async (t) => { applied.push(t); return outcome; },
  };
  const lines: Record<string, unknown>[] = [];
  const daemon = new Daemon({
    config: cfg, planner, actuator, info: { prefillGpus: 2, decodeGpus: 1, modelName: 'm', routerMetricsUrl: null, services: {} },
    traffic: { observe: async () => traffic, ...(histograms ? { observeHistograms: histograms } : {}) }, logger: new Logger((l) => lines.push(JSON.parse(l))), httpPort: 0,
  });
  return { daemon, seen, applied, lines };
}

describe('daemon wiring', () => {
  it('no series: request count and duration are unobserved under hold_on_missing_data, 0 otherwise (upstream)', async () => {
    const a = setup(config(), EMPTY, {}, { status: 'unchanged' });
    await a.daemon.runThroughputTick();
    expect(a.seen[0]).toMatchObject({ num_req: null, request_duration: null, isl: 0, current_prefill: 2, current_decode: 3 });
    const b = setup(config({ hold_on_missing_data: false }), EMPTY, {}, { status: 'unchanged' });
    await b.daemon.runThroughputTick();
    expect(b.seen[0]).toMatchObject({ num_req: 0, request_duration: 0 });
    expect(a.lines.filter((l) => l.event === 'fault' && l.fault === 'empty:prometheus')).toHaveLength(1);
  });

  it('an applied decision sets the target and GPU gauges; a failed one counts a hold and a source error', async () => {
    const busy: TrafficResult = { ...EMPTY, emptyFields: [], observation: { num_req: 600, isl: 3000, osl: 150, ttft: 120, itl: 20, request_duration: 3 } };
    const ok = setup(config(), busy, { prefill: 4, decode: 2, decided: true, reason: { code: 'scale', predicted: { num_req: 660, isl: 3000, osl: 150 } } as never }, { status: 'applied', written: { prefill: 4, decode: 2 } });
    await ok.daemon.runThroughputTick();
    expect(ok.applied).toEqual([{ prefill: 4, decode: 2 }]);
    const text = await ok.daemon.metrics.registry.metrics();
    expect(metricValue(text, 'planner:observed_request_rate')).toBe(10);
    expect(metricValue(text, 'planner:predicted_request_rate')).toBe(11);
    expect(metricValue(text, 'planner:predicted_num_p')).toBe(4);
    expect(metricValue(text, 'planner:p_correction_factor')).toBe(1.5);
    expect(metricValue(text, 'planner:gpu_hours')).toBe(0.25);
    expect(metricValue(text, 'sla_planner_gpus_in_use')).toBe(2 * 2 + 3 * 1);
    expect(metricValue(text, 'sla_planner_target_replicas', { pool: 'prefill' })).toBe(4);
    expect(metricValue(text, 'sla_planner_decisions_total', { loop: 'throughput', outcome: 'applied' })).toBe(1);

    const bad = setup(config(), busy, { prefill: 4, decode: 2, decided: true, reason: { code: 'scale' } as never }, { status: 'failed', errorKind: 'k8s_forbidden', message: "RBAC: may not 'patch'" });
    await bad.daemon.runThroughputTick();
    await bad.daemon.runThroughputTick();
    const t2 = await bad.daemon.metrics.registry.metrics();
    expect(metricValue(t2, 'sla_planner_holds_total', { reason: 'actuator_k8s_forbidden' })).toBe(2);
    expect(metricValue(t2, 'sla_planner_data_source_errors_total', { kind: 'k8s_forbidden' })).toBe(2);
    expect(bad.lines.filter((l) => l.event === 'fault')).toHaveLength(1);
    expect(bad.lines.find((l) => l.event === 'fault')).toMatchObject({ kind: 'k8s_forbidden', error: "RBAC: may not 'patch'" });
  });

  it('sla strategy: the bucket series reach the decision code; their failure is a fault, not a hold', async () => {
    const busy: TrafficResult = { ...EMPTY, emptyFields: [], observation: { num_req: 600, isl: 3000, osl: 150, ttft: 120, itl: 20, request_duration: 3 } };
    const isl = { le: [1000, 5000], cumulative: [0, 600, 600], sum: 1.8e6 };
    let asked = 0;
    const good = setup(config({ strategy: 'sla', decode_sizing: 'kv' }), busy, {}, { status: 'unchanged' }, async () => (asked++, { ok: true, histograms: { isl_histogram: isl } }));
    await good.daemon.runThroughputTick();
    expect(good.seen[0]).toMatchObject({ num_req: 600, isl_histogram: isl, current_prefill: 2 });
    const failing = setup(config({ decode_sizing: 'kv' }), busy, {}, { status: 'unchanged' }, async () => ({ ok: false, kind: 'prometheus_timeout', message: 'slow' }));
    await failing.daemon.runThroughputTick();
    expect(failing.seen[0]).toMatchObject({ num_req: 600 });
    expect(failing.seen[0].isl_histogram).toBeUndefined();
    expect(metricValue(await failing.daemon.metrics.registry.metrics(), 'sla_planner_data_source_errors_total', { kind: 'histograms_prometheus_timeout' })).toBe(1);
    // Upstream never asks for them.
    const upstream = setup(config(), busy, {}, { status: 'unchanged' }, async () => (asked++, { ok: true, histograms: {} }));
    await upstream.daemon.runThroughputTick();
    expect(asked).toBe(1);
  });

  it('a Prometheus error never reaches the decision code', async () => {
    const a = setup(config(), { ok: false, kind: 'prometheus_timeout', message: 'timeout' }, {}, { status: 'unchanged' });
    await a.daemon.runThroughputTick();
    expect(a.seen).toHaveLength(0);
    expect(a.daemon.history[0]).toMatchObject({ decided: false, reason: { code: 'data_source_error' }, error_kind: 'prometheus_timeout' });
  });
});

describe('a tick that throws', () => {
  it('is a counted hold with one log line per episode, and the loop keeps running', async () => {
    let calls = 0;
    const planner: DecisionEngine = {
      decideThroughput: (_obs, current) => {
        calls++;
        if (calls <= 2) throw new Error('interpolator blew up');
        return { prefill: current.prefill, decode: current.decode, decided: false, reason: { code: 'no_change', load: {} } };
      },
      decideLoad: () => { throw new Error('unused'); },
      state: () => ({ lowerBound: { prefill: 1, decode: 1 }, correctionFactor: { prefill: 1, decode: 1 }, gpuHours: 0, holds: {} }),
    };
    const actuator: Actuator = { name: 'stub', init: async () => ({}) as never, view: async () => ({ prefill: 1, decode: 1, ready: true }), apply: async () => ({ status: 'unchanged' }) };
    const lines: Record<string, unknown>[] = [];
    const busy: TrafficResult = { ...EMPTY, emptyFields: [], observation: { num_req: 6, isl: 30, osl: 15, ttft: 12, itl: 2, request_duration: 3 } };
    const daemon = new Daemon({
      config: config(), planner, actuator, info: { prefillGpus: 1, decodeGpus: 1, modelName: 'm', routerMetricsUrl: null, services: {} },
      traffic: { observe: async () => busy }, logger: new Logger((l) => lines.push(JSON.parse(l))), httpPort: 0, throughputPeriodMs: 40,
    });
    await daemon.start();
    // Three ticks of 40 ms, however long a loaded machine takes to run them.
    await waitFor(async () => calls >= 3, 20_000, 'three ticks');
    await daemon.stop(500);
    expect(calls).toBeGreaterThanOrEqual(3);
    const text = await daemon.metrics.registry.metrics();
    expect(metricValue(text, 'sla_planner_holds_total', { reason: 'internal_error' })).toBe(2);
    expect(daemon.history.filter((h) => (h.reason as { code: string }).code === 'internal_error')).toHaveLength(2);
    expect(lines.filter((l) => l.event === 'fault' && l.fault === 'internal:throughput')).toHaveLength(1);
    expect(lines.filter((l) => l.event === 'recovered' && l.fault === 'internal:throughput')).toHaveLength(1);
  });
});

describe('load tick rollout wait', () => {
  it('upstream waits for the rollout after a load scale; the saturation rule counts starting replicas instead', async () => {
    const run = async (cfg: PlannerConfig) => {
      let waited = 0;
      const planner: DecisionEngine = {
        decideThroughput: () => { throw new Error('unused'); },
        decideLoad: () => ({ prefill: 1, decode: 3, decided: true, reason: { code: 'load_scale', load: {}, binding: 'load', bindings: {} } }),
        state: () => ({ lowerBound: { prefill: 1, decode: 1 }, correctionFactor: { prefill: 1, decode: 1 }, gpuHours: 0, holds: {} }),
      };
      const actuator: Actuator = {
        name: 'stub', init: async () => ({}) as never, view: async () => ({ prefill: 1, decode: 2, ready: true }),
        apply: async () => ({ status: 'applied', written: { decode: 3 } }), waitReady: async () => (waited++, true),
      };
      const daemon = new Daemon({
        config: cfg, planner, actuator, info: { prefillGpus: 1, decodeGpus: 1, modelName: 'm', routerMetricsUrl: null, services: {} },
        router: { start: () => {}, stop: () => {}, samples: () => [{ decode: { a: { active_decode_blocks: 1, last_itl: 0.01 } } }] },
        logger: new Logger(() => {}), httpPort: 0,
      });
      await daemon.runLoadTick();
      return waited;
    };
    expect(await run(config({ enable_load_scaling: true }))).toBe(1);
    expect(await run(config({ enable_load_scaling: true, load_scaling_rule: 'saturation' }))).toBe(0);
  });
});

describe('load tick without a worker-count source', () => {
  it('counts the workers the router reports (virtual), and holds when there are no samples', async () => {
    const currents: unknown[] = [];
    let samples: { decode?: Record<string, { active_decode_blocks: number; last_itl: number }> }[] = [];
    const planner: DecisionEngine = {
      decideThroughput: () => { throw new Error('unused'); },
      decideLoad: (_s, current) => { currents.push(current); return { prefill: null, decode: current.decode, decided: false, reason: { code: 'no_change', load: {} } }; },
      state: () => ({ lowerBound: { prefill: 1, decode: 1 }, correctionFactor: { prefill: 1, decode: 1 }, gpuHours: 0, holds: {} }),
    };
    const actuator: Actuator = { name: 'virtual', init: async () => ({}) as never, view: async () => ({ prefill: null, decode: null, ready: true }), apply: async () => ({ status: 'unchanged' }) };
    const daemon = new Daemon({
      config: config({ mode: 'decode', enable_throughput_scaling: false, enable_load_scaling: true, load_router_metrics_url: 'http://r/metrics' }),
      planner, actuator, info: { prefillGpus: null, decodeGpus: 1, modelName: 'm', routerMetricsUrl: null, services: {} },
      router: { start: () => undefined, stop: () => undefined, samples: () => samples as never }, logger: new Logger(() => undefined), httpPort: 0,
    });
    await daemon.runLoadTick();
    expect(daemon.history[0]).toMatchObject({ decided: false, reason: { code: 'no_router_samples' } });
    samples = [{ decode: { a: { active_decode_blocks: 1, last_itl: 0.01 } } }, { decode: { a: { active_decode_blocks: 1, last_itl: 0.01 }, b: { active_decode_blocks: 2, last_itl: 0.01 } } }];
    await daemon.runLoadTick();
    expect(currents).toEqual([{ prefill: 0, decode: 2 }]);
  });
});

describe('where current counts come from', () => {
  it('says once when the environment reports decided counts and once when serving workers appear; passes during_rollout to the actuator', async () => {
    const lines: Array<Record<string, unknown>> = [];
    let view: DeploymentView = { prefill: null, decode: 2, ready: true, counts: 'decided' };
    const contexts: ApplyContext[] = [];
    const planner: DecisionEngine = {
      decideThroughput: () => { throw new Error('unused'); },
      decideLoad: (_s, current) => ({ prefill: null, decode: current.decode + 1, decided: true, reason: { code: 'load_scale', load: {} } as never }),
      state: () => ({ lowerBound: { prefill: 1, decode: 1 }, correctionFactor: { prefill: 1, decode: 1 }, gpuHours: 0, holds: {} }),
      notTaken: () => { notTaken++; },
    };
    let notTaken = 0;
    let outcome: ApplyOutcome = { status: 'unchanged' };
    const actuator: Actuator = { name: 'virtual', init: async () => ({}) as never, view: async () => view, apply: async (_t, ctx) => { contexts.push(ctx); return outcome; } };
    const daemon = new Daemon({
      config: config({ mode: 'decode', enable_throughput_scaling: false, enable_load_scaling: true, load_scaling_rule: 'saturation', during_rollout: 'write', load_router_metrics_url: 'http://r/metrics' }),
      planner, actuator, info: { prefillGpus: null, decodeGpus: 1, modelName: 'm', routerMetricsUrl: null, services: {} },
      router: { start: () => undefined, stop: () => undefined, samples: () => [{ decode: { a: { active_decode_blocks: 1, last_itl: 0.01 } } }] as never },
      logger: new Logger((line) => lines.push(JSON.parse(line))), httpPort: 0,
    });
    await daemon.runLoadTick();
    await daemon.runLoadTick();
    view = { prefill: null, decode: 1, ready: true, counts: 'ready' };
    await daemon.runLoadTick();
    expect(lines.filter((l) => l.event === 'worker_counts').map((l) => l.source)).toEqual(['decided', 'ready']);
    expect(contexts.map((c) => c.duringRollout)).toEqual(['write', 'write', 'write']);
    expect(notTaken).toBe(0);
    // A decision dropped for a rollout in progress is withdrawn from the planner.
    outcome = { status: 'not_ready' };
    await daemon.runLoadTick();
    expect(notTaken).toBe(1);
    expect(daemon.history.map((h) => (h as { current: { decode: number } }).current.decode)).toEqual([2, 2, 1, 1]);
  });
});

describe('impossible Prometheus values', () => {
  it('every query answering -1000 is a named, counted hold with the field and value, and nothing is written', async () => {
    const prom = await new FakePrometheus(
      { time_to_first_token: '-1000', inter_token_latency: '-1000', requests_total: '-1000', request_duration: '-1000', input_sequence: '-1000', output_sequence: '-1000' },
      { model: 'm', dynamo_namespace: 'ns' },
    ).start();
    try {
      const cfg = config({ environment: 'virtual', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, max_gpu_budget: 64 });
      const planner = new Planner({ config: cfg, interpolators: buildInterpolators(loadProfileDir(PROFILE_DIR)) });
      const applied: unknown[] = [];
      const actuator: Actuator = {
        name: 'stub', init: async () => ({}) as never,
        view: async () => ({ prefill: 6, decode: 4, ready: true }),
        apply: async (t) => { applied.push(t); return { status: 'applied', written: t as never }; },
      };
      const traffic = new TrafficObserver({ endpoint: prom.url, intervalS: 60, source: 'frontend', modelName: 'm', dynamoNamespace: 'ns', timeoutMs: 2000 });
      const daemon = new Daemon({
        config: cfg, planner, actuator, info: { prefillGpus: 1, decodeGpus: 1, modelName: 'm', routerMetricsUrl: null, services: {} },
        traffic, logger: new Logger(() => undefined), httpPort: 0,
      });
      for (let i = 0; i < 3; i++) await daemon.runThroughputTick();
      expect(applied).toEqual([]);
      expect(daemon.history).toHaveLength(3);
      // The observer passes the answer through as it came: -1000 requests, -1e6 ms of TTFT.
      expect(daemon.history[0]).toMatchObject({
        loop: 'throughput', decided: false, target: { prefill: 6, decode: 4 },
        reason: { code: 'hold_implausible_observation', field: 'num_req', value: -1000, rule: 'must be >= 0' },
        observation: { num_req: -1000, ttft: -1_000_000 },
      });
      const text = await daemon.metrics.registry.metrics();
      expect(metricValue(text, 'sla_planner_holds_total', { reason: 'hold_implausible_observation' })).toBe(3);
      expect(metricValue(text, 'sla_planner_decisions_total', { loop: 'throughput', outcome: 'hold' })).toBe(3);
      expect(planner.state().holds).toEqual({ hold_implausible_observation: 3 });
    } finally {
      await prom.stop();
    }
  });

  it('a router gauge of -1000 on every worker is a hold on the load tick, not a scale-down', async () => {
    const cfg = config({ environment: 'virtual', mode: 'decode', decode_engine_num_gpu: 1, enable_throughput_scaling: false, enable_load_scaling: true, load_router_metrics_url: 'http://r/metrics', load_min_observations: 1 });
    const planner = new Planner({ config: cfg });
    const applied: unknown[] = [];
    const actuator: Actuator = {
      name: 'stub', init: async () => ({}) as never, view: async () => ({ prefill: null, decode: 2, ready: true }),
      apply: async (t) => { applied.push(t); return { status: 'applied', written: t as never }; },
    };
    const gauges = (blocks: number) => ({ decode: { a: { active_decode_blocks: blocks, last_itl: 0.01 }, b: { active_decode_blocks: blocks, last_itl: 0.01 } } });
    let samples = [gauges(40)];
    const daemon = new Daemon({
      config: cfg, planner, actuator, info: { prefillGpus: null, decodeGpus: 1, modelName: 'm', routerMetricsUrl: null, services: {} },
      router: { start: () => undefined, stop: () => undefined, samples: () => samples }, logger: new Logger(() => undefined), httpPort: 0,
    });
    await daemon.runLoadTick();
    samples = [gauges(-1000)];
    await daemon.runLoadTick();
    expect(applied).toEqual([]);
    expect(daemon.history[1]).toMatchObject({ loop: 'load', decided: false, reason: { code: 'hold_implausible_observation', field: 'router.decode["a"].active_decode_blocks', value: -1000 } });
    const text = await daemon.metrics.registry.metrics();
    expect(metricValue(text, 'sla_planner_holds_total', { reason: 'hold_implausible_observation' })).toBe(1);
  });
});
