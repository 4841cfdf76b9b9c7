// The global-planner environment. The original sends a JSON ScaleRequest to the Dynamo runtime
// endpoint {global_planner_namespace}.GlobalPlanner.scale_request over the runtime request plane
// (NATS/TCP), which a process without the Dynamo runtime cannot speak. We POST the same JSON to an
// HTTP URL instead (--global-planner-url or SLA_PLANNER_GLOBAL_PLANNER_URL) and read the same
// ScaleResponse back; a small bridge next to the global planner can forward it.
import { httpCall } from '../net/http.js';
import type { Mode } from '../config/schema.js';
import { managedPools } from './dgd.js';
import type { Actuator, ApplyContext, ApplyOutcome, DeploymentInfo, DeploymentView, ScaleTarget } from './types.js';

export interface ScaleRequest {
  caller_namespace: string;
  graph_deployment_name: string;
  k8s_namespace: string;
  target_replicas: { sub_component_type: 'prefill' | 'decode'; component_name?: string | null; desired_replicas: number }[];
  blocking: boolean;
  timestamp: number;
  predicted_load: { num_requests: number; isl: number; osl: number } | null;
}

export interface ScaleResponse {
  status: 'success' | 'error' | 'scaling' | 'rejected';
  message?: string;
  current_replicas?: { prefill?: number; decode?: number };
}

export interface GlobalPlannerActuatorOptions {
  url: string;
  callerNamespace: string;
  graphDeploymentName: string;
  k8sNamespace: string;
  mode: Mode;
  gpus: { prefill: number | null; decode: number | null };
  modelName: string | null;
  routerMetricsUrl: string | null;
  timeoutMs?: number;
  now?: () => number;
}

export class GlobalPlannerActuator implements Actuator {
  readonly name = 'global-planner';
  private current: { prefill: number | null; decode: number | null } = { prefill: null, decode: null };

  constructor(private readonly o: GlobalPlannerActuatorOptions) {}

  async init(): Promise<DeploymentInfo> {
    return { prefillGpus: this.o.gpus.prefill, decodeGpus: this.o.gpus.decode, modelName: this.o.modelName, routerMetricsUrl: this.o.routerMetricsUrl, services: {} };
  }

  async view(): Promise<DeploymentView> {
    return { ...this.current, ready: true };
  }

  buildRequest(target: ScaleTarget, ctx: ApplyContext): ScaleRequest {
    const pools = managedPools(this.o.mode).filter((p) => target[p] !== undefined);
    return {
      caller_namespace: this.o.callerNamespace,
      graph_deployment_name: this.o.graphDeploymentName,
      k8s_namespace: this.o.k8sNamespace,
      target_replicas: pools.map((p) => ({ sub_component_type: p, component_name: null, desired_replicas: target[p]! })),
      blocking: ctx.blocking,
      timestamp: (this.o.now ?? Date.now)() / 1000,
      predicted_load: ctx.predictedLoad ?? null,
    };
  }

  async apply(target: ScaleTarget, ctx: ApplyContext): Promise<ApplyOutcome> {
    const body = this.buildRequest(target, ctx);
    if (body.target_replicas.length === 0) return { status: 'unchanged' };
    try {
      const res = await httpCall(this.o.url, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), timeoutMs: this.o.timeoutMs ?? 10_000,
      });
      if (res.status !== 200) return { status: 'failed', errorKind: 'global_planner_http', message: `global planner ${this.o.url} answered HTTP ${res.status}` };
      const reply = JSON.parse(res.body) as ScaleResponse;
      if (reply.current_replicas) {
        this.current = { prefill: reply.current_replicas.prefill ?? this.current.prefill, decode: reply.current_replicas.decode ?? this.current.decode };
      }
      if (reply.status === 'error') return { status: 'failed', errorKind: 'global_planner_error', message: reply.message ?? 'error' };
      // 'rejected' (over the global budget) is logged and the planner carries on, as upstream.
      if (reply.status === 'rejected') return { status: 'failed', errorKind: 'global_planner_rejected', message: reply.message ?? 'rejected' };
      const written: ScaleTarget = {};
      for (const t of body.target_replicas) written[t.sub_component_type] = t.desired_replicas;
      return { status: 'applied', written, message: reply.message };
    } catch (err) {
      return { status: 'failed', errorKind: 'global_planner_unreachable', message: `global planner ${this.o.url}: ${(err as Error).message}` };
    }
  }
}
