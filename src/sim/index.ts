// The simulator's programmatic entry: build the latency model from profile data, the policies from
// their specs, shape the trace, and run. Several policies share one read of the trace. Used by
// `sla-planner simulate` and bench/sim.ts.
import type { PlannerConfig } from '../config/schema.js';
import { buildInterpolators, loadProfileDir } from '../profile-data/index.js';
import type { DecodeInterpolator, PrefillInterpolator } from '../profile-data/types.js';
import { Planner } from '../scaling/planner.js';
import { createPredictor, type PredictorLog } from '../predict/index.js';
import { InputError } from '../util/errors.js';
import { buildClairvoyant } from './clairvoyant.js';
import { MAX_REPLICAS_PER_POOL } from './engine.js';
import { ExecPolicy, HPA_DEFAULTS, HpaPolicy, PlannerPolicy, parseHpaSpec, parseStaticSpec, staticPolicy } from './policies.js';
import { DEFAULT_COLD_START_S, Simulation, type SimulationResult } from './simulator.js';
import { readTraceBatches, type TraceBatch } from '../trace/read.js';
import { newShapingStats, shapeBatches, shapedDuration, toBatches, type ShapingStats, type TraceShaping } from '../trace/shape.js';
import type { EngineLatencyModel, PoolCounts, SimPolicy, TraceRequest } from './types.js';

export { simulate, simulateBatches, Simulation, DEFAULT_COLD_START_S } from './simulator.js';
export type { SimulationResult, SimulationOptions } from './simulator.js';
export type { ScaleEvent } from './types.js';
export { timelineCsv, eventsCsv } from './report.js';
export { comparisonReportHtml, type ReportRun } from './comparison.js';

export interface Interpolators {
  prefill: PrefillInterpolator;
  decode: DecodeInterpolator;
}

/**
 * The engine's latency model is the profile itself: prefill TTFT by ISL, decode ITL by load.
 * Beyond the longest measured prompt, prefill time grows linearly at that prompt's throughput
 * (attention makes the real growth faster, so this is optimistic, not the interpolator's clamp,
 * which would give a 64k prompt the TTFT of a 16k one).
 */
export function latencyModelFromProfile(interp: Interpolators): EngineLatencyModel {
  const maxIsl = interp.prefill.maxIsl;
  const ttftAtMaxMs = interp.prefill.ttftMs(maxIsl);
  const prefill = (isl: number) => (isl <= maxIsl ? interp.prefill.ttftMs(isl) : (ttftAtMaxMs * isl) / maxIsl);
  const step = (concurrency: number, contextTokens: number) => interp.decode.itlMs(concurrency, contextTokens);
  // Whole token counts repeat across a trace: remember them (NaN = not computed yet).
  const prefillMemo = new Float64Array(MEMO_TOKENS).fill(Number.NaN);
  const loneStepMemo = new Float64Array(MEMO_TOKENS).fill(Number.NaN);
  return {
    prefillMs: (isl) => {
      if (!(isl < MEMO_TOKENS && Number.isInteger(isl) && isl >= 0)) return prefill(isl);
      const v = prefillMemo[isl];
      return v === v ? v : (prefillMemo[isl] = prefill(isl));
    },
    decodeStepMs: (concurrency, contextTokens) => {
      if (concurrency !== 1 || !(contextTokens < MEMO_TOKENS && Number.isInteger(contextTokens) && contextTokens >= 0)) return step(concurrency, contextTokens);
      const v = loneStepMemo[contextTokens];
      return v === v ? v : (loneStepMemo[contextTokens] = step(1, contextTokens));
    },
    maxKvTokens: interp.decode.maxKvTokens,
  };
}

/** Token counts below this are memoised by the latency model (1 MB per table). */
const MEMO_TOKENS = 1 << 17;

/**
 * The profile's best decode throughput per GPU (output tokens/s) among the cells of a context row
 * whose ITL meets the target; the emptiest cell's when none does.
 */
export function bestDecodeTokensPerGpuS(decode: DecodeInterpolator, itlTargetMs: number): (contextTokens: number) => number {
  const cache = new Map<number, number>();
  const rowStep = decode.maxContextLength / 99;
  return (contextTokens) => {
    const row = Math.min(99, Math.max(0, Math.round(contextTokens / rowStep)));
    let best = cache.get(row);
    if (best === undefined) {
      const ctx = Math.max(1, row * rowStep);
      best = 0;
      for (let ix = 1; ix <= 99; ix++) {
        const concurrency = ((ix / 99) * decode.maxKvTokens) / ctx;
        if (decode.itlMs(concurrency, ctx) <= itlTargetMs) best = Math.max(best, decode.thptPerGpu(concurrency, ctx));
      }
      if (best === 0) best = decode.thptPerGpu(0, ctx);
      cache.set(row, best);
    }
    return best;
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

export const POLICY_HELP = 'planner, planner:upstream, planner:sla, static:<prefill>,<decode>, hpa[:<target utilisation>], clairvoyant, or exec:<command>';

/** The planner under each strategy, for `planner:upstream` and `planner:sla` (the config file with `strategy` set). */
export type StrategyConfigs = Partial<Record<'upstream' | 'sla', PlannerConfig>>;

/**
 * Split a `--policy` list: commas separate policies, except the counts of `static:P,D` and
 * anything after `exec:` (a command may hold commas, so exec comes last).
 */
export function splitPolicyList(list: string): string[] {
  const out: string[] = [];
  const parts = list.split(',');
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i].trim();
    if (p.startsWith('exec:')) {
      out.push([p, ...parts.slice(i + 1)].join(',').trim());
      break;
    }
    if (/^\d+$/.test(p) && out.length > 0 && /^static:\d+$/.test(out[out.length - 1])) out[out.length - 1] += `,${p}`;
    else out.push(p);
  }
  if (out.length === 0 || out.some((p) => p === '')) throw new InputError(`--policy '${list}' has an empty entry; list policies separated by commas, e.g. planner,static:2,1,hpa.`);
  return out;
}

/** A fixed allocation must fit the GPU budget (when there is one) and the simulator's replica limit. */
export function checkAllocation(counts: PoolCounts, what: string, config: PlannerConfig, gpus: PoolCounts): void {
  const agg = config.mode === 'agg';
  const budget = config.max_gpu_budget;
  const need = (agg ? 0 : counts.prefill * gpus.prefill) + counts.decode * gpus.decode;
  if (budget >= 0 && need > budget) {
    throw new InputError(`${what} needs ${need} GPUs, more than max_gpu_budget ${budget} in the config; lower the counts or raise max_gpu_budget.`);
  }
  for (const pool of ['prefill', 'decode'] as const) {
    if (counts[pool] > MAX_REPLICAS_PER_POOL) throw new InputError(`${what}: ${counts[pool]} ${pool} replicas is more than the ${MAX_REPLICAS_PER_POOL} the simulator models per pool; ask for fewer.`);
  }
}

export interface PolicyBuild {
  policy: SimPolicy;
  /** Replicas at t = 0 for this policy. */
  initial: PoolCounts;
  /** The config this policy runs with when it is not the run's (planner:upstream, planner:sla). */
  config?: PlannerConfig;
}

export interface PolicyEnv {
  config: PlannerConfig;
  interpolators: Interpolators;
  gpus: PoolCounts;
  initial?: PoolCounts;
  coldStartS: number;
  /** A fresh read of the shaped trace (the clairvoyant reads it ahead). */
  trace: () => AsyncIterable<TraceBatch>;
  log: PredictorLog;
  warn: (m: string) => void;
  strategies?: StrategyConfigs;
}

export async function buildPolicy(spec: string, env: PolicyEnv): Promise<PolicyBuild> {
  const { config, gpus } = env;
  const agg = config.mode === 'agg';
  const defaultInitial: PoolCounts = { prefill: agg ? 0 : config.min_endpoint, decode: config.min_endpoint };
  const start = env.initial ?? defaultInitial;
  if (env.initial) checkAllocation(env.initial, `--initial ${env.initial.prefill},${env.initial.decode}`, config, gpus);
  const limits = { maxGpuBudget: config.max_gpu_budget, minEndpoint: config.min_endpoint };
  if (spec === 'planner' || spec === 'planner:upstream' || spec === 'planner:sla') {
    const strategy = spec === 'planner' ? undefined : spec === 'planner:sla' ? 'sla' : 'upstream';
    const own = strategy === undefined ? config : env.strategies?.[strategy];
    if (own === undefined) throw new InputError(`--policy ${spec}: no config for strategy ${strategy}; pass the config file with --config.`);
    // The planner's own predictors, with their notices (e.g. the ARIMA order chosen) sent to `log`.
    const predictor = () => createPredictor(own.load_predictor, own, { log: env.log });
    const planner = new Planner({ config: own, interpolators: env.interpolators, gpusPerReplica: gpus, predictors: { numReq: predictor(), isl: predictor(), osl: predictor() } });
    const policy = new PlannerPolicy(planner, own, false, strategy && `planner:${strategy}`);
    return { policy, initial: start, ...(strategy ? { config: own } : {}) };
  }
  if (spec.startsWith('static:')) {
    const counts = parseStaticSpec(spec);
    if (!agg && counts.prefill === 0) throw new InputError(`--policy ${spec}: mode '${config.mode}' needs prefill replicas; write static:<prefill>,<decode>.`);
    checkAllocation(counts, `--policy ${spec}`, config, gpus);
    return { policy: staticPolicy(counts), initial: counts };
  }
  if (spec === 'hpa' || spec.startsWith('hpa:')) {
    const target = parseHpaSpec(spec);
    const policy = new HpaPolicy({ ...HPA_DEFAULTS, targetUtilisation: target, minReplicas: config.min_endpoint, maxGpuBudget: config.max_gpu_budget, gpusPerReplica: gpus, agg });
    return { policy, initial: start };
  }
  if (spec === 'clairvoyant') {
    return buildClairvoyant({
      config,
      model: latencyModelFromProfile(env.interpolators),
      bestDecodeTokensPerGpuS: bestDecodeTokensPerGpuS(env.interpolators.decode, config.itl),
      gpusPerReplica: gpus,
      coldStartS: env.coldStartS,
      trace: env.trace,
    });
  }
  if (spec.startsWith('exec:')) {
    const command = spec.slice('exec:'.length).trim();
    if (command === '') throw new InputError(`--policy exec: needs a command, e.g. exec:'python3 my_policy.py'.`);
    return { policy: new ExecPolicy(command, { limits, gpusPerReplica: gpus, agg, warn: env.warn }), initial: start };
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
  /** Configs of planner:upstream and planner:sla (each runs with its own num_req_source). */
  strategies?: StrategyConfigs;
  /** vLLM's max_num_seqs per decode engine. */
  maxNumSeqs?: number;
  /** vLLM's KV admission watermark (share of blocks). */
  kvWatermark?: number;
  warn?: (m: string) => void;
  /** Informational notices of the policy (predictor model choices); default stderr. */
  log?: PredictorLog;
  onProgress?: (nowS: number) => void;
}

export async function runSimulation(opts: RunOptions): Promise<SimulationResult> {
  return (await runSimulations({ ...opts, policies: [opts.policy] }))[0];
}

/** Why a run saw no request, in one sentence naming the input to change. */
function emptyRunError(traceName: string, shaping: TraceShaping, stats: ShapingStats): InputError {
  if (stats.read === 0) return new InputError(`${traceName} holds no request (only a header or blank lines); pass a trace with at least one request.`);
  if (stats.beforeStart === stats.read) {
    return new InputError(`--start ${shaping.startS} s is past the end of ${traceName} (its last request is at ${stats.lastReadT} s); pick a start before it.`);
  }
  if (stats.thinned > 0) {
    return new InputError(`--load-scale ${shaping.loadScale} kept none of the ${stats.thinned} requests in the window; use a larger factor.`);
  }
  return new InputError(`the window --start ${shaping.startS ?? 0} --duration ${shaping.durationS} holds no request of ${traceName}; widen it.`);
}

/**
 * Run every policy on the same trace, read once. Results are in the order of `policies`.
 */
export async function runSimulations(opts: Omit<RunOptions, 'policy'> & { policies: string[] }): Promise<SimulationResult[]> {
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
  const log: PredictorLog = opts.log ?? ((m) => process.stderr.write(`${m}\n`));
  const gpus = gpusPerReplica(opts.config, warn);
  const shaping = opts.shaping ?? {};
  const traceName = typeof opts.trace === 'string' ? `trace ${opts.trace}` : 'the trace';
  // A re-readable source: the file, or the requests held once in memory when a one-shot stream must be read twice.
  let source: () => AsyncIterable<TraceBatch>;
  if (typeof opts.trace === 'string') {
    const path = opts.trace;
    source = () => readTraceBatches(path);
  } else if (Array.isArray(opts.trace)) {
    const list = opts.trace as TraceRequest[];
    source = () => toBatches(list);
  } else {
    const once = opts.trace;
    const needsTwo = opts.policies.includes('clairvoyant');
    if (needsTwo) {
      const held: TraceBatch[] = [];
      for await (const b of toBatches(once)) held.push(b);
      source = () => toBatches((function* () {
        for (const b of held) for (let i = 0; i < b.length; i++) yield { t: b.t[i], isl: b.isl[i], osl: b.osl[i] };
      })());
    } else source = () => toBatches(once);
  }
  const shaped = () => shapeBatches(source(), shaping);
  const coldStartS = opts.coldStartS ?? DEFAULT_COLD_START_S;
  const builds: PolicyBuild[] = [];
  try {
    for (const spec of opts.policies) {
      builds.push(await buildPolicy(spec, { config: opts.config, interpolators: opts.interpolators, gpus, initial: opts.initial, coldStartS, trace: shaped, log, warn, strategies: opts.strategies }));
    }
    const model = latencyModelFromProfile(opts.interpolators);
    const runs = builds.map(
      (b) =>
        new Simulation({
          config: b.config ?? opts.config,
          model,
          policy: b.policy,
          initial: b.initial,
          gpusPerReplica: gpus,
          coldStartS,
          endS: shapedDuration(shaping),
          // A strategy variant queries what its own config says; the run's flag applies to the rest.
          numReqSource: b.config ? b.config.num_req_source : opts.numReqSource,
          maxNumSeqs: opts.maxNumSeqs,
          kvWatermark: opts.kvWatermark,
          onProgress: opts.onProgress,
        }),
    );
    const stats = newShapingStats();
    const live = new Set(runs);
    for await (const batch of shapeBatches(source(), shaping, stats)) {
      for (const run of runs) if (live.has(run) && !(await run.feed(batch))) live.delete(run);
      if (live.size === 0) break;
    }
    if (stats.kept === 0) throw emptyRunError(traceName, shaping, stats);
    const results: SimulationResult[] = [];
    for (const run of runs) results.push(await run.finish());
    return results;
  } finally {
    for (const b of builds) if (b.policy.close) await b.policy.close().catch(() => undefined);
  }
}
