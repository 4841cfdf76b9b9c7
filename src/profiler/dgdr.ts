// A DynamoGraphDeploymentRequest (nvidia.com/v1beta1) as input to the rapid profiler: the model,
// backend, hardware, workload, SLA and planner features it asks for become the profile options,
// and the result is reported as the status the DGDR would carry. What only the thorough path (a
// live endpoint) or other parts of Dynamo can do is refused with the reason and what to run.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { KEY_ALIASES, resolveConfig } from '../config/index.js';
import { InputError } from '../util/errors.js';
import { resolveGpu } from './inputs.js';
import { SHIPPED_MODELS } from './specs/models.js';
import type { GpuSpec, ModelShape } from './types.js';

/** Defaults the DGDR API documents for the fields it leaves optional. */
export const DGDR_DEFAULTS = { isl: 4000, osl: 1000, ttftMs: 2000, itlMs: 30 };

export interface DgdrRequest {
  /** metadata.name, when the file is a whole DGDR (a bare spec has none). */
  name: string | null;
  model: ModelShape;
  gpu: GpuSpec;
  workload: { isl: number; osl: number; ttftMs: number; itlMs: number };
  /** hardware.totalGpus: the planner's GPU budget. */
  totalGpus: number | null;
  /** PlannerConfig keys from features.planner (canonical names), applied over the generated config. */
  plannerOverrides: Record<string, unknown>;
  autoApply: boolean;
  /** features.mocker.enabled: the deployment is sla-planner's mock pool instead of vLLM workers. */
  mocker: boolean;
  /** Fields read but not acted on, said in the status so nothing is silently dropped. */
  notes: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function positive(v: unknown, field: string, file: string, integer: boolean): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new InputError(`${file}: ${field} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(v)}.`);
  }
  return v;
}

function modelFor(id: string, override: ModelShape | undefined, file: string): ModelShape {
  if (override) return { ...override, hfId: id };
  const shipped = Object.values(SHIPPED_MODELS).find((m) => m.hfId.toLowerCase() === id.toLowerCase() || m.name === id.toLowerCase());
  if (!shipped) {
    throw new InputError(`${file}: spec.model '${id}' is not one of the shipped model shapes (${Object.values(SHIPPED_MODELS).map((m) => m.hfId).join(', ')}); pass --model <config.json> with its Hugging Face config.json.`);
  }
  return shipped;
}

/** Read a DGDR file (a whole DynamoGraphDeploymentRequest or just its spec). */
export function readDgdr(file: string, opts: { modelOverride?: ModelShape } = {}): DgdrRequest {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new InputError(`--dgdr ${file}: ${e.code ? `cannot read it (${e.code})` : `not valid YAML (${e.message.split('\n')[0]})`}.`);
  }
  if (!isObj(doc)) throw new InputError(`--dgdr ${file}: expected a DynamoGraphDeploymentRequest (or its spec) as a YAML mapping.`);
  const whole = doc.kind !== undefined;
  if (whole && doc.kind !== 'DynamoGraphDeploymentRequest') throw new InputError(`--dgdr ${file}: kind is '${String(doc.kind)}', expected DynamoGraphDeploymentRequest.`);
  if (whole && doc.apiVersion !== 'nvidia.com/v1beta1') throw new InputError(`--dgdr ${file}: apiVersion '${String(doc.apiVersion)}' is not read; write the request as nvidia.com/v1beta1.`);
  const spec = whole ? doc.spec : doc;
  if (!isObj(spec)) throw new InputError(`--dgdr ${file}: spec is missing.`);
  const where = `--dgdr ${file}`;
  const notes: string[] = [];

  if (spec.v1beta2 !== undefined) throw new InputError(`${where}: spec.v1beta2 (a converted v1beta2 request) is not read; write the native v1beta1 fields (model, backend, hardware, workload, sla).`);
  // What the rapid path cannot do: each refusal says why and what to run instead.
  const strategy = spec.searchStrategy ?? 'rapid';
  if (strategy === 'thorough') {
    throw new InputError(`${where}: searchStrategy thorough deploys and benchmarks every candidate on a live endpoint with GPUs, which this rapid profiler cannot do; apply the DGDR to a cluster with the Dynamo operator (kubectl apply -f ${file}) to run the Dynamo profiler, or set searchStrategy: rapid to use sla-planner's performance model.`);
  }
  if (strategy !== 'rapid') throw new InputError(`${where}: searchStrategy '${String(strategy)}' is not rapid or thorough.`);
  const features = isObj(spec.features) ? spec.features : {};
  const mocker = isObj(features.mocker) && features.mocker.enabled === true;
  const backend = spec.backend ?? 'auto';
  // A mocker deployment takes its timing from profile data of the backend it stands in for: vLLM here.
  if (backend !== 'vllm' && backend !== 'auto' && !(mocker && backend === 'mocker')) {
    throw new InputError(`${where}: backend ${String(backend)}: the rapid profiler here writes vLLM deployments only; set backend: vllm (or auto), or run the Dynamo profiler for ${String(backend)}.`);
  }
  const overrides = isObj(spec.overrides) ? spec.overrides : {};
  if (overrides.dgd !== undefined) throw new InputError(`${where}: overrides.dgd is not merged by the rapid path; remove it and edit the generated final_config.yaml instead.`);
  if (overrides.profilingJob !== undefined) notes.push('overrides.profilingJob ignored: no profiling Job runs on the rapid path');
  if (overrides.trustRemoteCode === true) throw new InputError(`${where}: overrides.trustRemoteCode is not supported by the rapid path; remove it (the generated workers do not pass --trust-remote-code).`);
  if (spec.modelCache !== undefined) throw new InputError(`${where}: modelCache (model weights from a PVC) is not wired into the generated DGD by the rapid path; remove it, or add the volume to final_config.yaml yourself.`);
  if (typeof spec.model !== 'string' || spec.model.trim() === '') throw new InputError(`${where}: spec.model is required (a Hugging Face id such as Qwen/Qwen3-0.6B).`);
  const model = modelFor(spec.model.trim(), opts.modelOverride, where);

  const hw = isObj(spec.hardware) ? spec.hardware : {};
  if (typeof hw.gpuSku !== 'string') throw new InputError(`${where}: hardware.gpuSku is required here (the operator would discover it from the cluster's nodes); set it, e.g. h100_sxm or h200_sxm.`);
  let gpu: GpuSpec;
  try {
    gpu = resolveGpu(hw.gpuSku);
  } catch {
    throw new InputError(`${where}: hardware.gpuSku '${hw.gpuSku}' has no shipped GPU spec (h100_sxm, h200_sxm, a100_sxm, b200_sxm, l40s); use one of those or run 'profile --gpu <spec file>' without --dgdr.`);
  }
  const perNode = positive(hw.numGpusPerNode, 'hardware.numGpusPerNode', where, true);
  if (perNode !== undefined) gpu = { ...gpu, maxGpusPerNode: Math.min(gpu.maxGpusPerNode, perNode) };
  const totalGpus = positive(hw.totalGpus, 'hardware.totalGpus', where, true) ?? null;
  if (hw.vramMb !== undefined) notes.push(`hardware.vramMb ignored: the ${gpu.name} spec's memory is used`);

  const wl = isObj(spec.workload) ? spec.workload : {};
  if (wl.concurrency !== undefined || wl.requestRate !== undefined) notes.push('workload.concurrency/requestRate ignored: the planner sizes replicas from live traffic');
  const sla = isObj(spec.sla) ? spec.sla : {};
  if (sla.e2eLatency !== undefined) throw new InputError(`${where}: sla.e2eLatency is not supported by the rapid path; give sla.ttft and sla.itl (ms) instead.`);
  if (sla.optimizationType !== undefined) notes.push('sla.optimizationType ignored: the choice is the fewest GPUs that meet ttft and itl');
  const workload = {
    isl: positive(wl.isl, 'workload.isl', where, true) ?? DGDR_DEFAULTS.isl,
    osl: positive(wl.osl, 'workload.osl', where, true) ?? DGDR_DEFAULTS.osl,
    ttftMs: positive(sla.ttft, 'sla.ttft', where, false) ?? DGDR_DEFAULTS.ttftMs,
    itlMs: positive(sla.itl, 'sla.itl', where, false) ?? DGDR_DEFAULTS.itlMs,
  };

  // features.planner carries PlannerConfig keys; they are checked as the planner would check them.
  const planner = features.planner === undefined || features.planner === null ? {} : features.planner;
  if (!isObj(planner)) throw new InputError(`${where}: features.planner must be a mapping of PlannerConfig keys.`);
  const plannerOverrides: Record<string, unknown> = {};
  if (Object.keys(planner).length) {
    const { config, warnings } = resolveConfig(planner, { origin: `${where} features.planner`, env: {} });
    notes.push(...warnings.map((w) => `features.planner: ${w}`));
    for (const key of Object.keys(planner)) {
      const canonical = KEY_ALIASES[key]?.canonical ?? key;
      if (canonical in config) plannerOverrides[canonical] = (config as unknown as Obj)[canonical];
    }
    const wanted = mocker ? 'mocker' : 'vllm';
    if (plannerOverrides.backend !== undefined && plannerOverrides.backend !== wanted) {
      throw new InputError(`${where}: features.planner.backend is ${String(plannerOverrides.backend)} but the generated deployment is ${mocker ? 'a mocker pool' : 'vLLM'}; set it to ${wanted} or remove it.`);
    }
  }
  const meta = isObj(doc.metadata) ? doc.metadata : {};
  return {
    name: whole && typeof meta.name === 'string' ? meta.name : null,
    model, gpu, workload, totalGpus, plannerOverrides,
    autoApply: spec.autoApply !== false,
    mocker,
    notes,
  };
}

/** The status a DGDR carries once profiling has produced its deployment (as the operator writes it). */
export function dgdrStatus(o: { dgdName: string; selected: unknown; autoApply: boolean; message: string; notes: string[]; now: Date }): Obj {
  const t = o.now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const cond = (type: string, reason: string, message: string) => ({ type, status: 'True', reason, message, lastTransitionTime: t });
  return {
    // The rapid path ends at a generated spec; with autoApply the operator would go on to Deploying.
    phase: 'Ready',
    dgdName: o.dgdName,
    conditions: [
      cond('Validation', 'Validated', o.notes.length ? `accepted; ${o.notes.join('; ')}` : 'accepted'),
      cond('Profiling', 'Completed', o.message),
      cond('SpecGenerated', 'SpecGenerated', `DynamoGraphDeployment ${o.dgdName} written to final_config.yaml${o.autoApply ? ' (autoApply: kubectl apply -f final_config.yaml)' : ''}`),
      cond('Succeeded', 'SpecGenerated', 'profiling finished; the generated deployment is in profilingResults.selectedConfig'),
    ],
    profilingResults: { selectedConfig: o.selected },
  };
}

/** The status of a request the rapid path refused. */
export function dgdrFailedStatus(message: string, now: Date): Obj {
  const t = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    phase: 'Failed',
    conditions: [
      { type: 'Validation', status: 'False', reason: 'ValidationFailed', message, lastTransitionTime: t },
      { type: 'Succeeded', status: 'False', reason: 'ValidationFailed', message, lastTransitionTime: t },
    ],
  };
}
