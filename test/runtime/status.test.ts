import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import type { DeploymentEvent, DeploymentReporter } from '../../src/actuate/types.js';
import { DecisionStatus, bindingOf, type DecisionRecord } from '../../src/runtime/status.js';
import { PlannerMetrics } from '../../src/runtime/metrics.js';
import { parsePromText } from '../../src/observe/promtext.js';
import { readFileSync } from 'node:fs';
import { VERSION } from '../../src/util/version.js';

class Recorder implements DeploymentReporter {
  events: DeploymentEvent[] = [];
  annotations: string[] = [];
  event(ev: DeploymentEvent): void { this.events.push(ev); }
  annotate(value: string): void { this.annotations.push(value); }
  async flush(): Promise<void> { /* nothing queued */ }
}

const { config } = resolveConfig({ environment: 'kubernetes', throughput_adjustment_interval: 60, profile_results_dir: 'x' }, { env: {} });
const info = { prefillGpus: 1, decodeGpus: 2, modelName: 'm', routerMetricsUrl: null, services: { prefill: 'VllmPrefillWorker', decode: 'VllmDecodeWorker' } };

function make() {
  const reporter = new Recorder();
  const status = new DecisionStatus({ config, info, reporter, deployment: { kind: 'DynamoGraphDeployment', name: 'd' }, now: () => Date.parse('2026-05-01T10:00:00Z') });
  return { reporter, status };
}

const scaled: DecisionRecord = {
  loop: 'throughput', decided: true, target: { prefill: 3, decode: 2 }, current: { prefill: 2, decode: 2 },
  reason: { code: 'scale', predicted: { num_req: 534, isl: 3000, osl: 150 }, binding: 'sla_queueing', bindings: { prefill: 'sla_queueing', decode: 'demand' } },
  actuation: { status: 'applied', written: { prefill: 3 }, previous: { prefill: 2 } },
};
const hold = (code: string, loop: 'throughput' | 'load' = 'throughput'): DecisionRecord => ({ loop, decided: false, reason: { code, missing: ['ttft'] }, current: { prefill: 2, decode: 2 } });

describe('DecisionStatus', () => {
  it('one SuccessfulRescale per written pool: service, old -> new, forecast and that pool\'s binding', () => {
    const { reporter, status } = make();
    status.observe(scaled);
    expect(reporter.events).toEqual([{ type: 'Normal', reason: 'SuccessfulRescale', action: 'Scale', note: 'VllmPrefillWorker 2 -> 3: forecast 8.9 req/s (ISL 3000, OSL 150), binding sla_queueing' }]);
    expect(JSON.parse(reporter.annotations[0])).toMatchObject({ loop: 'throughput', action: 'scale', target: { prefill: 3, decode: 2 }, reason: 'scale', binding: 'sla_queueing' });
  });

  it('one ScalingHeld per hold episode, not per tick; a new episode after a decision or another code', () => {
    const { reporter, status } = make();
    for (let i = 0; i < 5; i++) status.observe(hold('hold_invalid_metrics'));
    expect(reporter.events).toHaveLength(1);
    expect(reporter.events[0]).toEqual({ type: 'Warning', reason: 'ScalingHeld', action: 'Hold', note: 'throughput loop holds: hold_invalid_metrics (missing ttft); VllmPrefillWorker 2, VllmDecodeWorker 2 stay' });
    status.observe(hold('data_source_error'));
    status.observe(hold('data_source_error', 'load'));
    status.observe(scaled);
    status.observe(hold('data_source_error'));
    expect(reporter.events.map((e) => e.reason)).toEqual(['ScalingHeld', 'ScalingHeld', 'ScalingHeld', 'SuccessfulRescale', 'ScalingHeld']);
    // Annotated at each episode start and scaling, not at every tick.
    expect(reporter.annotations).toHaveLength(5);
  });

  it('quiet holds (a throughput lower bound, no change) are not events', () => {
    const { reporter, status } = make();
    status.observe(hold('set_lower_bound'));
    status.observe({ loop: 'load', decided: true, target: { prefill: 2, decode: 2 }, current: { prefill: 2, decode: 2 }, reason: { code: 'no_change' }, actuation: { status: 'unchanged' } });
    expect(reporter.events).toEqual([]);
  });

  it('a failed write is a FailedRescale naming the missing RBAC verb; a not-Ready DGD is a hold episode', () => {
    const { reporter, status } = make();
    const message = "RBAC: the planner's service account may not 'patch' dynamographdeploymentscalingadapters/scale in namespace team-a; grant verb 'patch' on dynamographdeploymentscalingadapters/scale in the planner's Role.";
    status.observe({ ...scaled, actuation: { status: 'failed', errorKind: 'k8s_forbidden', message } });
    expect(reporter.events[0]).toMatchObject({ type: 'Warning', reason: 'FailedRescale', action: 'Scale' });
    expect(reporter.events[0].note).toContain("grant verb 'patch'");
    status.observe({ ...scaled, actuation: { status: 'not_ready' } });
    status.observe({ ...scaled, actuation: { status: 'not_ready' } });
    expect(reporter.events.map((e) => e.reason)).toEqual(['FailedRescale', 'ScalingHeld']);
    expect(reporter.events[1].note).toMatch(/is not Ready; decision dropped/);
  });

  it('/status: pools with current and target replicas, the last decision of each loop, config summary', () => {
    const { status } = make();
    status.observe(scaled);
    status.observe(hold('no_router_samples', 'load'));
    const s = status.snapshot({ ready: true, open_faults: ['source:router_unreachable'] });
    expect(s).toMatchObject({
      version: '0.1.0', strategy: 'upstream', ready: true, dry_run: false,
      pools: { prefill: { service: 'VllmPrefillWorker', current_replicas: 2, target_replicas: 3, gpus_per_replica: 1 }, decode: { target_replicas: 2, gpus_per_replica: 2 } },
      last_decision: { throughput: { action: 'scale', reason: 'scale', binding: 'sla_queueing' }, load: { action: 'hold', reason: 'no_router_samples' } },
      open_holds: { load: 'no_router_samples' },
      open_faults: ['source:router_unreachable'],
      config: { mode: 'disagg', throughput_adjustment_interval_s: 60 },
    });
    expect(Object.keys(s.config as object).every((k) => /^[a-z0-9_]+$/.test(k))).toBe(true);
  });

  it('reads a binding whatever its shape: a word, a per-pool word, or an object', () => {
    expect(bindingOf({ binding: 'gpu_budget' })).toBe('gpu_budget');
    expect(bindingOf({ binding: 'demand', bindings: { prefill: 'min_endpoint' } }, 'prefill')).toBe('min_endpoint');
    expect(bindingOf({ binding: { stage: 'gpu_budget', replicas: 3 } })).toBe('gpu_budget');
    expect(bindingOf({})).toBeNull();
  });
});

describe('PlannerMetrics', () => {
  const sample = async (m: PlannerMetrics, name: string) => parsePromText(await m.registry.metrics()).find((s) => s.name === name)?.value;

  it('planner gauges export no sample before the first observation (not 0 workers), both names after', async () => {
    const m = new PlannerMetrics(false);
    expect(await sample(m, 'planner:num_p_workers')).toBeUndefined();
    expect(await sample(m, 'dynamo_planner_num_prefill_replicas')).toBeUndefined();
    m.set('numP', 3);
    expect(await sample(m, 'planner:num_p_workers')).toBe(3);
    expect(await sample(m, 'dynamo_planner_num_prefill_replicas')).toBe(3);
    m.add('gpuHours', 0.5);
    expect(await sample(m, 'dynamo_planner_gpu_hours')).toBe(0.5);
  });

  it('planner_metric_names turns either family off', async () => {
    const legacy = new PlannerMetrics(false, { names: 'planner' });
    legacy.set('observedTtft', 120);
    expect(await sample(legacy, 'planner:observed_ttft')).toBe(120);
    expect(await legacy.registry.metrics()).not.toContain('dynamo_planner_');
    const current = new PlannerMetrics(false, { names: 'dynamo_planner' });
    current.set('observedTtft', 120);
    expect(await sample(current, 'dynamo_planner_observed_ttft_ms')).toBe(120);
    expect(await current.registry.metrics()).not.toContain('planner:');
  });
});

it('the version reported in /status, build info and --version is package.json\'s', () => {
  expect(VERSION).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
});
