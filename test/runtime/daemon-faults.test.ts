// The daemon's fault handling with stub parts: an environment that cannot be reached at start-up
// (retried with back-off, reported in /readyz), read faults labelled with their own kind, faults
// reported by a write that went through, and a /metrics port it cannot bind.
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { plannerConfigSchema, type PlannerConfig } from '../../src/config/schema.js';
import { Daemon, type DecisionEngine } from '../../src/runtime/daemon.js';
import { Logger } from '../../src/runtime/log.js';
import type { TrafficResult } from '../../src/observe/prometheus.js';
import type { Actuator, ApplyOutcome, DeploymentView } from '../../src/actuate/types.js';
import { InputError } from '../../src/util/errors.js';
import { metricValue } from '../helpers/daemonHarness.js';

function config(): PlannerConfig {
  return { ...plannerConfigSchema.parse({ throughput_adjustment_interval: 60 }), namespace: 'ns', metric_pulling_prometheus_endpoint: 'http://x', metric_reporting_prometheus_port: 0 } as PlannerConfig;
}

const BUSY: TrafficResult = {
  ok: true, observation: { num_req: 600, isl: 3000, osl: 150, ttft: 120, itl: 20, request_duration: 3 },
  raw: { num_req: 600, isl: 3, osl: 0.15, ttft: 0.12, itl: 0.02, request_duration: 3 }, idle: false, emptyFields: [],
};

const planner: DecisionEngine = {
  decideThroughput: () => ({ prefill: 3, decode: 2, decided: true, reason: { code: 'scale' } }),
  decideLoad: () => { throw new Error('unused'); },
  state: () => ({ lowerBound: { prefill: 1, decode: 1 }, correctionFactor: { prefill: 1, decode: 1 }, gpuHours: 0, holds: {} }),
};

class Kinded extends Error {
  constructor(readonly kind: string, message: string) {
    super(message);
  }
}

function make(actuator: Actuator, opts: { httpPort?: number } = {}) {
  const lines: Record<string, unknown>[] = [];
  const daemon = new Daemon({
    config: config(), planner, actuator, info: { prefillGpus: 1, decodeGpus: 1, modelName: 'm', routerMetricsUrl: null, services: {} },
    traffic: { observe: async () => BUSY }, logger: new Logger((l) => lines.push(JSON.parse(l))),
    httpPort: opts.httpPort ?? -1, httpHost: '127.0.0.1', throughputPeriodMs: 60_000, connectBackoffMs: { first: 20, max: 40 },
  });
  return { daemon, lines };
}

const readyz = async (d: Daemon) => {
  const res = await fetch(`http://127.0.0.1:${d.port}/readyz`);
  return { status: res.status, body: await res.json() as Record<string, unknown> };
};

describe('daemon fault handling', () => {
  const running: Daemon[] = [];
  afterEach(async () => {
    for (const d of running.splice(0)) await d.stop(100);
  });

  it('an environment unreachable at start-up: retried with back-off, /readyz 503 naming it, ticks hold, then ready', async () => {
    let failures = 4;
    const actuator: Actuator = {
      name: 'virtual',
      init: async () => ({}) as never,
      connect: async () => { if (failures-- > 0) throw new Kinded('etcd_unreachable', 'etcd unreachable: POST http://etcd:2379/v3/kv/range: ECONNREFUSED'); },
      view: async () => { if (failures >= 0) throw new Kinded('etcd_unreachable', 'not connected'); return { prefill: 1, decode: 1, ready: true }; },
      apply: async () => ({ status: 'applied', written: { prefill: 3, decode: 2 } }),
    };
    const { daemon, lines } = make(actuator);
    running.push(daemon);
    await daemon.start();
    const early = await readyz(daemon);
    expect(early.status).toBe(503);
    expect(early.body).toMatchObject({ environment_connected: false, waiting_for: expect.arrayContaining(['virtual environment state (retrying with back-off)']) });
    await daemon.runThroughputTick();
    expect(daemon.history.at(-1)).toMatchObject({ decided: false, reason: { code: 'environment_unreadable' }, error_kind: 'etcd_unreachable' });
    await new Promise((r) => setTimeout(r, 400));
    const later = await readyz(daemon);
    expect(later).toMatchObject({ status: 200, body: { ready: true, environment_connected: true, waiting_for: [] } });
    // One fault line for the whole episode, one recovery, and the retries counted.
    expect(lines.filter((l) => l.event === 'fault' && l.fault === 'source:connect_etcd_unreachable')).toHaveLength(1);
    expect(lines.filter((l) => l.event === 'recovered' && l.fault === 'source:connect_etcd_unreachable')).toHaveLength(1);
    expect(metricValue(await daemon.metrics.registry.metrics(), 'sla_planner_data_source_errors_total', { kind: 'etcd_unreachable' })).toBeGreaterThanOrEqual(4);
    expect(metricValue(await daemon.metrics.registry.metrics(), 'sla_planner_ready')).toBe(1);
  });

  it('read faults carry the environment\'s own kind; a change of kind ends one episode and starts the next', async () => {
    const kinds = ['k8s_timeout', 'k8s_timeout', 'k8s_unauthorized', null];
    const actuator: Actuator = {
      name: 'kubernetes', init: async () => ({}) as never,
      view: async (): Promise<DeploymentView> => {
        const k = kinds.shift();
        if (k) throw new Kinded(k, `${k} happened`);
        return { prefill: 3, decode: 2, ready: true };
      },
      apply: async () => ({ status: 'unchanged' }),
    };
    const { daemon, lines } = make(actuator, { httpPort: 0 });
    for (let i = 0; i < 4; i++) await daemon.runThroughputTick();
    expect(daemon.history.map((r) => r.error_kind ?? null)).toEqual(['k8s_timeout', 'k8s_timeout', 'k8s_unauthorized', null]);
    expect(lines.filter((l) => l.event === 'fault').map((l) => l.fault)).toEqual(['source:k8s_timeout', 'source:k8s_unauthorized']);
    expect(lines.filter((l) => l.event === 'recovered').map((l) => l.fault)).toEqual(['source:k8s_timeout', 'source:k8s_unauthorized']);
  });

  it('faults reported by a write that went through are counted and logged; a half-applied write says what was written', async () => {
    const outcomes: ApplyOutcome[] = [
      { status: 'applied', written: { prefill: 3, decode: 2 }, faults: [{ kind: 'etcd_bad_acknowledgement', message: "scaled_decision_id is 'x'" }] },
      { status: 'failed', errorKind: 'k8s_server_error', message: 'PATCH decode answered HTTP 500', written: { prefill: 3 } },
    ];
    const actuator: Actuator = { name: 'stub', init: async () => ({}) as never, view: async () => ({ prefill: 1, decode: 1, ready: true }), apply: async () => outcomes.shift()! };
    const { daemon, lines } = make(actuator, { httpPort: 0 });
    await daemon.runThroughputTick();
    await daemon.runThroughputTick();
    const text = await daemon.metrics.registry.metrics();
    expect(metricValue(text, 'sla_planner_data_source_errors_total', { kind: 'etcd_bad_acknowledgement' })).toBe(1);
    expect(lines.find((l) => l.fault === 'source:etcd_bad_acknowledgement')).toMatchObject({ error: "scaled_decision_id is 'x'" });
    expect(lines.find((l) => l.fault === 'source:k8s_server_error')).toMatchObject({ partially_written: { prefill: 3 } });
  });

  it('a /metrics port it cannot bind is an input error naming the address, not a stack', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const actuator: Actuator = { name: 'stub', init: async () => ({}) as never, view: async () => ({ prefill: 1, decode: 1, ready: true }), apply: async () => ({ status: 'unchanged' }) };
      const { daemon } = make(actuator, { httpPort: port });
      const err = await daemon.start().catch((e) => e);
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toBe(`cannot serve /metrics on 127.0.0.1:${port}: it is in use; choose another --metrics-port / --metrics-host (or metric_reporting_prometheus_port).`);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
