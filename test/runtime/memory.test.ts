// The one collection the daemon makes when its start-up is over.
import { describe, expect, it } from 'vitest';
import { collectStartupGarbage } from '../../src/runtime/memory.js';
import { plannerConfigSchema, type PlannerConfig } from '../../src/config/schema.js';
import { Daemon, type DecisionEngine } from '../../src/runtime/daemon.js';
import { Logger } from '../../src/runtime/log.js';
import type { Actuator } from '../../src/actuate/types.js';
import { waitFor } from '../helpers/procs.js';

describe('collectStartupGarbage', () => {
  it('frees garbage that survived into the old generation', async () => {
    // Garbage that has been promoted (kept across scavenges) is only freed by a full collection.
    let kept: number[][] | undefined = Array.from({ length: 4000 }, (_, i) => Array.from({ length: 500 }, (_, j) => i + j + 0.5));
    for (let i = 0; i < 50; i++) new Array(100_000).fill(i); // scavenges that promote `kept`
    const before = process.memoryUsage().heapUsed;
    expect(kept.length).toBe(4000);
    kept = undefined;
    expect(await collectStartupGarbage()).toBe(true);
    // 4000 x 500 doubles is 16 MB.
    expect(before - process.memoryUsage().heapUsed).toBeGreaterThan(10 * 1024 * 1024);
  });
});

describe('Daemon onReady', () => {
  const config = { ...plannerConfigSchema.parse({ enable_throughput_scaling: false, enable_load_scaling: false }), namespace: 'ns', metric_reporting_prometheus_port: 0 } as PlannerConfig;
  const planner: DecisionEngine = {
    decideThroughput: () => { throw new Error('unused'); },
    decideLoad: () => { throw new Error('unused'); },
    state: () => ({ lowerBound: { prefill: 1, decode: 1 }, correctionFactor: { prefill: 1, decode: 1 }, gpuHours: 0, holds: {} }),
  };
  const info = { prefillGpus: 1, decodeGpus: 1, modelName: 'm', routerMetricsUrl: null, services: {} };

  it('is called once, when the first observation makes the daemon ready', async () => {
    let calls = 0;
    const actuator: Actuator = { name: 'stub', init: async () => ({}) as never, view: async () => ({ prefill: 1, decode: 1, ready: true }), apply: async () => ({ status: 'unchanged' }) };
    const daemon = new Daemon({ config, planner, actuator, info, logger: new Logger(() => undefined), httpPort: 0, onReady: () => calls++ });
    await daemon.start();
    await waitFor(async () => daemon.ready, 5000, 'ready');
    expect(calls).toBe(1);
    await daemon.stop(100);
    expect(calls).toBe(1);
  });

  it('is not called while the daemon is not ready', async () => {
    let calls = 0;
    let viewed = 0;
    const actuator: Actuator = { name: 'stub', init: async () => ({}) as never, view: async () => { viewed++; throw new Error('environment down'); }, apply: async () => ({ status: 'unchanged' }) };
    const daemon = new Daemon({ config, planner, actuator, info, logger: new Logger(() => undefined), httpPort: 0, onReady: () => calls++ });
    await daemon.start();
    await waitFor(async () => viewed > 0, 5000, 'a first view');
    expect(daemon.ready).toBe(false);
    expect(calls).toBe(0);
    await daemon.stop(100);
  });
});
