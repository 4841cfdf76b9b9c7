// The simulator's programmatic entry: build the latency model from profile data, the policy from
// its spec, shape the trace, and run. Used by `sla-planner simulate` and bench/sim.ts.
import type { PlannerConfig } from '../config/schema.js';
import { buildInterpolators, loadProfileDir } from '../profile-data/index.js';
import type { DecodeInterpolator, PrefillInterpolator } from '../profile-data/types.js';
import { Planner } from '../scaling/planner.js';
import { createPredictor } from '../predict/index.js';
import { InputError } from '../util/errors.js';
import { ExecPolicy, HPA_DEFAULTS, HpaPolicy, PlannerPolicy, parseHpaSpec, parseStaticSpec, staticPolicy } from './policies.js';
import { simulate, type SimulationResult } from './simulator.js';
import { readTrace } from '../trace/read.js';
import { shapeTrace, shapedDuration, type TraceShaping } from '../trace/shape.js';
import type { EngineLatencyModel, PoolCounts, SimPolicy, TraceRequest } from './types.js';

export { simulate, DEFAULT_COLD_START_S } from './simulator.js';
export type { SimulationResult } from './simulator.js';
export { timelineCsv, reportHtml } from './report.js';

export interface Interpolators {
  prefill: PrefillInterpolator;
  decode: DecodeInterpolator;
}

/** The engine's latency model is the profile itself: prefill TTFT by ISL, decode ITL by load. */
export function latencyModelFromProfile(interp: Interpolators): EngineLatencyModel {
  return {
    prefillMs: (isl) => interp.prefill.ttftMs(isl),
    decodeStepMs: (concurrency, contextTokens) => interp.decode.itlMs(concurrency, contextTokens),
    maxKvTokens: interp.decode.maxKvTokens,
  };
}

export function loadInterpolators(profileDir: string): Interpolators {
  return buildInterpolators(loadProfileDir(profileDir));
}

/** GPUs per replica: the config's, else 1 with a warning (there is no DGD to read them from). */
export function gpusPerReplica(config: PlannerConfig, warn: (m: string) => void): PoolCounts {
  const pick = (pool: 'prefill' | 'decode'): number => {
    const v = config[`${pool}_engine_num_gpu`];
    if (v !== null) return v;
    if (config.mode === 'agg' && pool === 'prefill') return 1;
    warn(`${pool}_engine_num_gpu is not set; simulating 1 GPU per ${pool} replica (set it in the config to change this).`);
    return 1;
  };
  return { prefill: pick('prefill'), decode: pick('decode') };
}

export const POLICY_HELP = "planner, static:<prefill>,<decode>, hpa[:<target utilisation>], or exec:<command>";

export interface PolicyBuild {
  policy: SimPolicy;
  /** Replicas at t = 0 for this policy. */
  initial: PoolCounts;
}

export function buildPolicy(
  spec: string,
  config: PlannerConfig,
  interp: Interpolators,
  gpus: PoolCounts,
  initial: PoolCounts | undefined,
  log: (m: string) => void = (m) => process.stderr.write(`${m}\n`),
): PolicyBuild {
  const agg = config.mode === 'agg';
  const defaultInitial: PoolCounts = { prefill: agg ? 0 : config.min_endpoint, decode: config.min_endpoint };
  const start = initial ?? defaultInitial;
  if (spec === 'planner') {
    // The planner's own predictors, with their notices (e.g. the ARIMA order chosen) sent to `log`.
    const predictor = () => createPredictor(config.load_predictor, config, { log });
    const planner = new Planner({ config, interpolators: interp, gpusPerReplica: gpus, predictors: { numReq: predictor(), isl: predictor(), osl: predictor() } });
    return { policy: new PlannerPolicy(planner, config), initial: start };
  }
  if (spec.startsWith('static:')) {
    const counts = parseStaticSpec(spec);
    if (!agg && counts.prefill === 0) throw new InputError(`--policy ${spec}: mode '${config.mode}' needs prefill replicas; write static:<prefill>,<decode>.`);
    return { policy: staticPolicy(counts), initial: counts };
  }
  if (spec === 'hpa' || spec.startsWith('hpa:')) {
    const target = parseHpaSpec(spec);
    const policy = new HpaPolicy({
      ...HPA_DEFAULTS,
      targetUtilisation: target,
      minReplicas: config.min_endpoint,
      maxGpuBudget: config.max_gpu_budget,
      gpusPerReplica: gpus,
      agg,
    });
    return { policy, initial: start };
  }
  if (spec.startsWith('exec:')) {
    const command = spec.slice('exec:'.length).trim();
    if (command === '') throw new InputError(`--policy exec: needs a command, e.g. exec:'python3 my_policy.py'.`);
    return { policy: new ExecPolicy(command), initial: start };
  }
  throw new InputError(`--policy '${spec}' is not a policy; use ${POLICY_HELP}.`);
}

export interface RunOptions {
  config: PlannerConfig;
  interpolators: Interpolators;
  trace: string | AsyncIterable<TraceRequest> | Iterable<TraceRequest>;
  policy: string;
  shaping?: TraceShaping;
  coldStartS?: number;
  initial?: PoolCounts;
  numReqSource?: 'finished' | 'started';
  warn?: (m: string) => void;
  /** Informational notices of the policy (predictor model choices); default stderr. */
  log?: (m: string) => void;
  onProgress?: (nowS: number) => void;
}

export async function runSimulation(opts: RunOptions): Promise<SimulationResult> {
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
  const gpus = gpusPerReplica(opts.config, warn);
  const { policy, initial } = buildPolicy(opts.policy, opts.config, opts.interpolators, gpus, opts.initial, opts.log);
  const shaping = opts.shaping ?? {};
  const source = typeof opts.trace === 'string' ? readTrace(opts.trace) : opts.trace;
  try {
    return await simulate(shapeTrace(source, shaping), {
      config: opts.config,
      model: latencyModelFromProfile(opts.interpolators),
      policy,
      initial,
      gpusPerReplica: gpus,
      coldStartS: opts.coldStartS,
      endS: shapedDuration(shaping),
      numReqSource: opts.numReqSource,
      onProgress: opts.onProgress,
    });
  } finally {
    if (policy.close) await policy.close().catch(() => undefined);
  }
}
