// The global-planner environment. The original sends a JSON ScaleRequest to the Dynamo runtime
// endpoint {global_planner_namespace}.GlobalPlanner.scale_request over the runtime request plane
// (NATS/TCP), which a process without the Dynamo runtime cannot speak. We POST the same JSON to an
// HTTP URL instead (--global-planner-url or SLA_PLANNER_GLOBAL_PLANNER_URL) and read the same
// ScaleResponse back; a small bridge next to the global planner can forward it.
import { HttpError, httpRequest, parseJsonBody } from '../net/http.js';
import { isPlainObject } from '../util/objects.js';
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
  /** Largest ScaleResponse accepted, bytes (default GLOBAL_PLANNER_MAX_BYTES). */
  maxBytes?: number;
  now?: () => number;
}

/** A ScaleResponse is a few hundred bytes. */
export const GLOBAL_PLANNER_MAX_BYTES = 1024 * 1024;

const STATUSES = new Set(['success', 'error', 'scaling', 'rejected']);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** The ScaleResponse in a reply, or why the reply is not one. */
export function readScaleResponse(value: unknown): { ok: true; reply: ScaleResponse } | { ok: false; why: string } {
  if (!isPlainObject(value)) return { ok: false, why: 'the answer is not a JSON object' };
  if (typeof value.status !== 'string' || !STATUSES.has(value.status)) {
    return { ok: false, why: `status ${JSON.stringify(value.status)} is not one of success, error, scaling, rejected` };
  }
  const current = value.current_replicas;
  if (current !== undefined && current !== null) {
    if (!isPlainObject(current)) return { ok: false, why: 'current_replicas is not an object' };
    for (const pool of ['prefill', 'decode'] as const) {
      const v = current[pool];
      if (v !== undefined && v !== null && !isCount(v)) return { ok: false, why: `current_replicas.${pool} is ${JSON.stringify(v)}, not a whole number >= 0` };
    }
  }
  const message = typeof value.message === 'string' ? value.message.slice(0, 500) : undefined;
  const replicas = isPlainObject(current)
    ? { ...(isCount(current.prefill) ? { prefill: current.prefill } : {}), ...(isCount(current.decode) ? { decode: current.decode } : {}) }
    : undefined;
  return { ok: true, reply: { status: value.status as ScaleResponse['status'], ...(message !== undefined ? { message } : {}), ...(replicas ? { current_replicas: replicas } : {}) } };
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
    let res;
    try {
      res = await httpRequest(this.o.url, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
        timeoutMs: this.o.timeoutMs ?? 10_000, maxBytes: this.o.maxBytes ?? GLOBAL_PLANNER_MAX_BYTES, signal: ctx.signal,
      });
    } catch (err) {
      const kind = err instanceof HttpError && err.kind === 'timeout' ? 'global_planner_timeout'
        : err instanceof HttpError && err.kind === 'too_large' ? 'global_planner_bad_response' : 'global_planner_unreachable';
      return { status: 'failed', errorKind: kind, message: `global planner ${this.o.url}: ${(err as Error).message}` };
    }
    if (res.status !== 200) return { status: 'failed', errorKind: 'global_planner_http', message: `global planner ${this.o.url} answered HTTP ${res.status}` };
    const json = parseJsonBody(res);
    const parsed = json.ok ? readScaleResponse(json.value) : json;
    if (!parsed.ok) return { status: 'failed', errorKind: 'global_planner_bad_response', message: `global planner ${this.o.url}: ${parsed.why}; expected a ScaleResponse` };
    const reply = parsed.reply;
    if (reply.current_replicas) {
      this.current = { prefill: reply.current_replicas.prefill ?? this.current.prefill, decode: reply.current_replicas.decode ?? this.current.decode };
    }
    if (reply.status === 'error') return { status: 'failed', errorKind: 'global_planner_error', message: reply.message ?? 'error' };
    // 'rejected' (over the global budget) is logged and the planner carries on, as upstream.
    if (reply.status === 'rejected') return { status: 'failed', errorKind: 'global_planner_rejected', message: reply.message ?? 'rejected' };
    const written: ScaleTarget = {};
    for (const t of body.target_replicas) written[t.sub_component_type] = t.desired_replicas;
    return { status: 'applied', written, message: reply.message };
  }
}
