// What the original profiler's last step produces for a planner deployment: the planner-config and
// planner-profile-data ConfigMaps and a DynamoGraphDeployment (the one template, dgd-template.ts)
// with prefill and decode workers at the chosen parallelism and the planner mounting both ConfigMaps.
import { createHash } from 'node:crypto';
import { stringify as toYaml } from 'yaml';
import { SLA_STRATEGY, plannerConfigSchema } from '../config/schema.js';
import type { DecodeSweep, PrefillSweep } from './sweep.js';
import type { ModelShape } from './types.js';
import { PLANNER_CONFIG_KEY, PLANNER_SERVICE_ACCOUNT, PROFILE_DATA_MOUNT, mockerDgd, plannerRbac, vllmDisaggDgd, workerServiceNames } from './dgd-template.js';

export { DEFAULT_RUNTIME_IMAGE, PLANNER_CONFIG_KEY, PLANNER_CONFIG_MOUNT, PLANNER_IMAGE, PLANNER_SERVICE_ACCOUNT, PROFILE_DATA_MOUNT, plannerRbac } from './dgd-template.js';

export interface AssemblyInput {
  model: ModelShape;
  deploymentName: string;
  runtimeImage: string;
  prefillTp: number;
  decodeTp: number;
  /** Set on the workers (--max-model-len) when below the model's own limit. */
  maxContextLength: number;
  ttftMs: number;
  itlMs: number;
  prefill: PrefillSweep;
  decode: DecodeSweep;
  /** PlannerConfig keys from a DGDR's features.planner, applied over the defaults below. */
  plannerOverrides?: Record<string, unknown>;
  /** Written as metric_pulling_prometheus_ssl_verify: true unless the user asked otherwise. */
  prometheusSslVerify: boolean;
  /** A mock pool (sla-planner mocker) scaled through the virtual environment instead of vLLM workers. */
  mocker?: boolean;
}

/** Python's repr of a float, so the JSON matches json.dumps byte for byte on typical values. */
export function pyFloat(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity';
  const abs = Math.abs(x);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e16)) {
    const [mant, exp] = x.toExponential().split('e');
    const n = Number(exp);
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return Number.isInteger(x) ? `${x}.0` : String(x);
}

/**
 * json.dumps with default separators of a flat object: integer keys listed in `ints` are written
 * as ints, every other number as a Python float (250 -> 250.0), as ndarray.tolist() gives.
 */
export function pyJsonDumps(obj: Record<string, number | number[]>, ints: ReadonlySet<string>): string {
  const num = (k: string, v: number) => (ints.has(k) ? String(Math.round(v)) : pyFloat(v));
  const parts = Object.entries(obj).map(([k, v]) => `${JSON.stringify(k)}: ${Array.isArray(v) ? `[${v.map((x) => num(k, x)).join(', ')}]` : num(k, v)}`);
  return `{${parts.join(', ')}}`;
}

export function prefillJson(p: PrefillSweep): string {
  return pyJsonDumps({ prefill_isl: p.prefill_isl, prefill_ttft: p.prefill_ttft, prefill_thpt_per_gpu: p.prefill_thpt_per_gpu }, new Set(['prefill_isl']));
}

export function decodeJson(d: DecodeSweep): string {
  return pyJsonDumps(
    { x_kv_usage: d.x_kv_usage, y_context_length: d.y_context_length, z_itl: d.z_itl, z_thpt_per_gpu: d.z_thpt_per_gpu, max_kv_tokens: d.max_kv_tokens },
    new Set(['max_kv_tokens']),
  );
}

/** 4 hex digits from the content: names stay stable across identical runs (upstream: random). */
function suffix(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 4);
}

/** DNS-1123 label from free text (lowercase alphanumerics and '-', at most 63). */
export function dnsLabel(text: string): string {
  const label = text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '').slice(0, 63).replace(/-$/, '');
  return label || 'sla-planner';
}

/**
 * The planner's config: every field of PlannerConfig except the three whose defaults come from
 * the pod's environment (namespace, Prometheus endpoint, metrics port). The original writes the
 * profiler pod's values into those, so a deployed planner filters on the wrong namespace; leaving
 * them out lets the planner read DYN_NAMESPACE and PLANNER_PROMETHEUS_PORT set by the operator.
 */
export function plannerConfig(a: AssemblyInput): Record<string, unknown> {
  // strategy sla unless the request says otherwise; its settings are written out, since every key
  // in the file is explicit and explicit keys win over a strategy.
  const strategy = a.plannerOverrides?.strategy ?? 'sla';
  return plannerConfigSchema.parse({
    environment: 'kubernetes',
    backend: 'vllm',
    mode: 'disagg',
    model_name: a.model.hfId,
    pre_deployment_sweeping_mode: 'rapid',
    enable_throughput_scaling: true,
    strategy,
    ...(strategy === 'sla' ? SLA_STRATEGY : {}),
    ...a.plannerOverrides,
    // The mock pool obeys etcd keys, not the DGD's replicas; the GPU counts below stand for the engines it mocks.
    // Load scaling reads the router gauges straight from the mock frontend (the operator's <dgd>-frontend service).
    ...(a.mocker ? { environment: 'virtual', backend: 'mocker', load_router_metrics_url: a.plannerOverrides?.load_router_metrics_url ?? `http://${dnsLabel(a.deploymentName)}-frontend:8000/metrics` } : {}),
    // What the profile measured wins over the request: the data, its GPUs per engine and the SLA.
    prefill_engine_num_gpu: a.prefillTp,
    decode_engine_num_gpu: a.decodeTp,
    profile_results_dir: PROFILE_DATA_MOUNT,
    ttft: a.ttftMs,
    itl: a.itlMs,
    // The schema's default is the original's (no verification); a generated deployment verifies.
    metric_pulling_prometheus_ssl_verify: a.prometheusSslVerify,
  }) as Record<string, unknown>;
}

export interface Assembly {
  plannerConfigJson: string;
  plannerConfigMap: Record<string, unknown>;
  profileDataConfigMap: Record<string, unknown>;
  dgd: Record<string, unknown>;
  /** ServiceAccount, Role and RoleBinding of the planner, limited to this DGD and its adapters. */
  rbac: Record<string, unknown>[];
  /** Multi-document YAML: [planner-config, planner-profile-data, DGD, ServiceAccount, Role, RoleBinding], ready for kubectl apply. */
  finalConfigYaml: string;
}

export function assemble(a: AssemblyInput): Assembly {
  const plannerConfigJson = JSON.stringify(plannerConfig(a));
  const prefill = prefillJson(a.prefill);
  const decode = decodeJson(a.decode);
  const configName = `planner-config-${suffix(plannerConfigJson)}`;
  const dataName = `planner-profile-data-${suffix(prefill, decode)}`;
  const plannerConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: configName }, data: { [PLANNER_CONFIG_KEY]: plannerConfigJson } };
  const profileDataConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: dataName },
    data: { 'prefill_raw_data.json': prefill, 'decode_raw_data.json': decode },
  };
  const name = dnsLabel(a.deploymentName);
  const dgd = a.mocker
    ? mockerDgd({ name, modelId: a.model.hfId, plannerConfigMap: configName, profileDataConfigMap: dataName })
    : vllmDisaggDgd({
      name, modelId: a.model.hfId, runtimeImage: a.runtimeImage, prefillTp: a.prefillTp, decodeTp: a.decodeTp,
      maxModelLen: a.maxContextLength < a.model.maxContextLength ? a.maxContextLength : undefined,
      plannerConfigMap: configName, profileDataConfigMap: dataName,
    });
  // The virtual environment touches no Kubernetes object: the service account only, no Role.
  const rbac = a.mocker ? [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: PLANNER_SERVICE_ACCOUNT } }] : plannerRbac(name, workerServiceNames(dgd));
  const docs = [plannerConfigMap, profileDataConfigMap, dgd, ...rbac].map((d) => toYaml(d, { lineWidth: 0 }));
  return { plannerConfigJson, plannerConfigMap, profileDataConfigMap, dgd, rbac, finalConfigYaml: docs.join('---\n') };
}
