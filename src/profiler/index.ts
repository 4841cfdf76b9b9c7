// The rapid profiler end to end, without I/O: model + GPU + SLA in, the files of a planner
// deployment out (as a map of relative path -> content) for the command to write.
import { stringify as toYaml } from 'yaml';
import { encodeNpz } from '../profile-data/npz.js';
import { InputError } from '../util/errors.js';
import { assemble, decodeJson, prefillJson, type Assembly } from './assemble.js';
import { DEFAULT_EFFICIENCY } from './defaults.js';
import { maxKvTokens, type Engine } from './perf.js';
import { plotPage, tpCurves } from './plot.js';
import { selectParallelism, selectionTable, type Selection, type Workload } from './select.js';
import { decodeSweep, prefillSweep, type DecodeSweep, type PrefillSweep } from './sweep.js';
import type { Efficiency, GpuSpec, ModelShape } from './types.js';

export interface RapidProfileOptions {
  model: ModelShape;
  gpu: GpuSpec;
  workload: Workload;
  /** Only this tensor-parallel size (both engines); else choose among 1, 2, 4, 8. */
  tp?: number;
  prefillGranularity: number;
  decodeGranularity: number;
  /** Cap on the context the sweeps cover; the model's own limit when absent. */
  maxContextLength?: number;
  deploymentName?: string;
  runtimeImage: string;
  /** metric_pulling_prometheus_ssl_verify of the generated config (default true). */
  prometheusSslVerify?: boolean;
  eff?: Efficiency;
  /** PlannerConfig keys for the generated planner config (a DGDR's features.planner). */
  plannerOverrides?: Record<string, unknown>;
  /** Write a mocker deployment (a DGDR's features.mocker). */
  mocker?: boolean;
}

export interface RapidProfile {
  selection: Selection;
  table: string;
  prefillEngine: Engine;
  decodeEngine: Engine;
  maxContextLength: number;
  prefill: PrefillSweep;
  decode: DecodeSweep;
  assembly: Assembly;
  /** Relative path -> content, in the original profiler's output layout plus our extras. */
  files: Record<string, string | Buffer>;
}

export const MIN_PREFILL_GRANULARITY = 4; // the planner's cubic prefill fit needs 4 points
// Upper bounds keep the files, the plot page and the planner's start-up (a Delaunay triangulation
// of the decode points) small: 1000 ISL points and ~2,500 decode points at 100 are far beyond
// what the interpolators resolve (the decode grid is 100 x 100), and the original's defaults are 16 and 6.
export const MAX_PREFILL_GRANULARITY = 1000;
export const MAX_DECODE_GRANULARITY = 100;

export function rapidProfile(o: RapidProfileOptions): RapidProfile {
  const eff = o.eff ?? DEFAULT_EFFICIENCY;
  if (o.prefillGranularity < MIN_PREFILL_GRANULARITY) {
    throw new InputError(`--prefill-interpolation-granularity must be at least ${MIN_PREFILL_GRANULARITY} (the planner fits a cubic through the prefill points), got ${o.prefillGranularity}.`);
  }
  if (o.decodeGranularity < 2) {
    throw new InputError(`--decode-interpolation-granularity must be at least 2 (the decode interpolator needs an area of points), got ${o.decodeGranularity}.`);
  }
  if (o.prefillGranularity > MAX_PREFILL_GRANULARITY) {
    throw new InputError(`--prefill-interpolation-granularity must be at most ${MAX_PREFILL_GRANULARITY} (the default is 16), got ${o.prefillGranularity}.`);
  }
  if (o.decodeGranularity > MAX_DECODE_GRANULARITY) {
    throw new InputError(`--decode-interpolation-granularity must be at most ${MAX_DECODE_GRANULARITY} (the default is 6), got ${o.decodeGranularity}.`);
  }
  const selection = selectParallelism(o.model, o.gpu, eff, o.workload, o.tp);
  const prefillEngine: Engine = { model: o.model, gpu: o.gpu, tp: selection.prefill.chosen.tp, eff };
  const decodeEngine: Engine = { model: o.model, gpu: o.gpu, tp: selection.decode.chosen.tp, eff };
  const decodeKv = maxKvTokens(decodeEngine);
  // An engine cannot serve a context longer than its KV cache holds (vLLM refuses to start).
  const maxContextLength = Math.min(o.maxContextLength ?? o.model.maxContextLength, o.model.maxContextLength, decodeKv, maxKvTokens(prefillEngine));
  const prefill = prefillSweep(prefillEngine, maxContextLength, o.prefillGranularity);
  const decode = decodeSweep(decodeEngine, maxContextLength, o.decodeGranularity, decodeKv);
  const table = selectionTable(selection, o.workload);
  const assembly = assemble({
    model: o.model,
    deploymentName: o.deploymentName ?? `${o.model.name}-disagg-planner`,
    runtimeImage: o.runtimeImage,
    prefillTp: prefillEngine.tp,
    decodeTp: decodeEngine.tp,
    maxContextLength,
    ttftMs: o.workload.ttftMs,
    itlMs: o.workload.itlMs,
    prefill,
    decode,
    plannerOverrides: o.plannerOverrides,
    prometheusSslVerify: o.prometheusSslVerify ?? true,
    mocker: o.mocker,
  });
  const title = `${o.model.name} on ${o.gpu.description}: prefill TP${prefillEngine.tp}, decode TP${decodeEngine.tp}`;
  const summary = [table, ...selection.warnings.map((w) => `warning: ${w}`)].join('\n');
  const files: Record<string, string | Buffer> = {
    'selected_prefill_interpolation/raw_data.npz': encodeNpz({
      prefill_isl: { dtype: '<i8', data: prefill.prefill_isl },
      prefill_ttft: { dtype: '<f8', data: prefill.prefill_ttft },
      prefill_thpt_per_gpu: { dtype: '<f8', data: prefill.prefill_thpt_per_gpu },
    }),
    'selected_decode_interpolation/raw_data.npz': encodeNpz({
      x_kv_usage: { dtype: '<f8', data: decode.x_kv_usage },
      y_context_length: { dtype: '<f8', data: decode.y_context_length },
      z_itl: { dtype: '<f8', data: decode.z_itl },
      z_thpt_per_gpu: { dtype: '<f8', data: decode.z_thpt_per_gpu },
      max_kv_tokens: { dtype: '<i8', data: [decode.max_kv_tokens], shape: [1] },
    }),
    'prefill_raw_data.json': prefillJson(prefill),
    'decode_raw_data.json': decodeJson(decode),
    'planner_config.json': assembly.plannerConfigJson,
    'planner-profile-data.configmap.json': JSON.stringify(assembly.profileDataConfigMap, null, 1) + '\n',
    'final_config.yaml': assembly.finalConfigYaml,
    'profiler_status.yaml': toYaml({
      status: 'success',
      message: `rapid profile of ${o.model.name} on ${o.gpu.name}: prefill TP${prefillEngine.tp}, decode TP${decodeEngine.tp}`,
      outputs: { final_config: 'final_config.yaml' },
    }),
    'selection.txt': summary + '\n',
    'plots.html': plotPage({ title, summary, prefill, decode, workload: o.workload, curves: tpCurves(o.model, o.gpu, eff, o.workload, selection) }),
  };
  return { selection, table, prefillEngine, decodeEngine, maxContextLength, prefill, decode, assembly, files };
}

export { resolveGpu, resolveModel } from './inputs.js';
export { DEFAULT_EFFICIENCY, DEFAULT_SLA } from './defaults.js';
export type { Efficiency, GpuSpec, ModelShape } from './types.js';
