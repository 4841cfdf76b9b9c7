// The planner's decision shell: holds the state that outlives one tick (predictors, correction
// factors, throughput lower bounds, load regressions, counters) and delegates every formula to the
// pure functions in throughput.ts, load.ts and budget.ts. No I/O: callers bring observations and
// current worker counts, and apply (or not) the returned Decision.
import type { PlannerConfig } from '../config/schema.js';
import type { PrefillInterpolator, DecodeInterpolator } from '../profile-data/types.js';
import type { LoadPredictor } from '../predict/types.js';
import type { IntervalObservation, RouterSnapshot } from './observation.js';
import { createPredictor } from '../predict/index.js';
import { InputError } from '../util/errors.js';
import { applyGlobalBudget, applyPoolBudget } from './budget.js';
import {
  decodePoints,
  decodeStep,
  LatencyRegression,
  prefillPoints,
  prefillStep,
  summarizePool,
  workerLoad,
  type LoadStep,
  type PoolView,
} from './load.js';
import {
  decodeCorrectionFactor,
  missingLatencyAndShape,
  missingTrafficFields,
  planAgg,
  planDecode,
  planPrefill,
  prefillCorrectionFactor,
} from './throughput.js';
import { observedBurstiness, sizeQueueForSla } from './queueing.js';
import { quantile } from '../util/stats.js';

export interface ReplicaCounts {
  prefill: number;
  decode: number;
}

export interface PredictedLoad {
  num_req: number;
  isl: number;
  osl: number;
}

export interface DecisionReason {
  /** 'scale' | 'set_lower_bound' | 'hold_invalid_metrics' | 'no_change' | 'load_scale' | ... */
  code: string;
  observed?: IntervalObservation;
  predicted?: PredictedLoad;
  correction_factor?: { prefill: number; decode: number };
  planned?: { prefill: number | null; decode: number | null };
  /** Which constraint set each count: 'demand' | 'min_endpoint' | 'gpu_budget' | 'throughput_floor' | ... */
  binding?: string;
  [k: string]: unknown;
}

export interface Decision {
  /** Target replicas; null = pool not managed in this mode. */
  prefill: number | null;
  decode: number | null;
  /** false = hold, make no scaling call. */
  decided: boolean;
  reason: DecisionReason;
}

export interface PlannerState {
  lowerBound: ReplicaCounts;
  correctionFactor: { prefill: number; decode: number };
  lastPredicted?: PredictedLoad;
  gpuHours: number;
  holds: Record<string, number>;
  /** Allen-Cunneen burstiness B in use (prefill_sizing queueing); 1 otherwise. */
  prefillBurstiness?: number;
  /** Multiplier applied to the request-count forecast (forecast_quantile); 1 otherwise. */
  forecastMultiplier?: number;
}

export interface PlannerOptions {
  config: PlannerConfig;
  interpolators?: { prefill: PrefillInterpolator; decode: DecodeInterpolator };
  /** Default: createPredictor(config.load_predictor, config) for each series. */
  predictors?: { numReq: LoadPredictor; isl: LoadPredictor; osl: LoadPredictor };
  /** Default: config.prefill_engine_num_gpu / decode_engine_num_gpu (1 when unset). */
  gpusPerReplica?: { prefill: number; decode: number };
}

type Pool = 'prefill' | 'decode';

/** Highest learned burstiness: beyond this the interval is an outage, not a traffic shape. */
const BURSTINESS_CAP = 100;
/** Highest forecast multiplier (forecast_quantile): one wild interval must not take the whole budget. */
const FORECAST_MULTIPLIER_CAP = 4;


/** The interval's traffic fields only (router gauges are bulky and explained by the load reasons). */
function metricsOf(obs: IntervalObservation): IntervalObservation {
  const { router: _router, router_samples: _samples, ...metrics } = obs;
  return metrics;
}

/** Which binding outranks which when a decision reports one word for both pools. */
const BINDING_RANK: Record<string, number> = {
  gpu_budget_below_min_endpoint: 6,
  gpu_budget: 5,
  throughput_floor: 4,
  no_capacity: 3,
  min_endpoint: 2,
  load: 1,
  sla_queueing: 1,
  scale_down_window: 1,
  demand: 0,
};

function strongest(...bindings: (string | undefined)[]): string {
  let best = 'demand';
  for (const b of bindings) if (b !== undefined && (BINDING_RANK[b] ?? 0) > (BINDING_RANK[best] ?? 0)) best = b;
  return best;
}

/** A load hold says why when every pool agrees (e.g. all still learning), else 'no_change'. */
function holdCode(steps: { prefill?: LoadStep; decode?: LoadStep }): string {
  const codes = [steps.prefill?.code, steps.decode?.code].filter((c) => c !== undefined);
  const first = codes[0];
  if (first !== undefined && first !== 'scale_up' && first !== 'scale_down' && codes.every((c) => c === first)) return first;
  return 'no_change';
}

export class Planner {
  readonly config: PlannerConfig;
  readonly managed: { prefill: boolean; decode: boolean };
  readonly gpusPerReplica: { prefill: number; decode: number };
  private readonly interpolators: PlannerOptions['interpolators'];
  private readonly predictors: { numReq: LoadPredictor; isl: LoadPredictor; osl: LoadPredictor };
  /** Correction is off when configured so, and always with load scaling (the regression sees real latency). */
  private readonly correctionOn: boolean;
  private readonly lowerBound: ReplicaCounts;
  private readonly correctionFactor = { prefill: 1, decode: 1 };
  private readonly ttftRegression: LatencyRegression;
  private readonly itlRegression: LatencyRegression;
  private lastPredicted: PredictedLoad | undefined;
  private gpuHours = 0;
  /** Burstiness of the prefill queueing model, learned from observed TTFT (prefill_sizing queueing). */
  private prefillBurstiness: number;
  /** Recent observed / forecast request-count ratios (forecast_quantile). */
  private readonly forecastRatios: number[] = [];
  /** Request-count forecast made at the last tick for the interval now ending; undefined after a hold. */
  private forecastForInterval: number | undefined;
  private forecastMultiplier = 1;
  /** Planned counts of the last scale_down_window intervals, newest last. */
  private readonly plannedHistory: Array<{ prefill: number | null; decode: number | null }> = [];
  private readonly holds: Record<string, number> = {};

  constructor(opts: PlannerOptions) {
    const config = opts.config;
    this.config = config;
    this.managed = { prefill: config.mode === 'disagg' || config.mode === 'prefill', decode: config.mode !== 'prefill' };
    this.gpusPerReplica = opts.gpusPerReplica ?? {
      prefill: this.requiredGpus('prefill'),
      decode: this.requiredGpus('decode'),
    };
    for (const pool of ['prefill', 'decode'] as const) {
      const gpus = this.gpusPerReplica[pool];
      // 0 GPUs per replica would divide the budget and the demand by zero: Infinity/NaN replicas.
      if (!(Number.isInteger(gpus) && gpus > 0)) {
        throw new InputError(`GPUs per ${pool} replica must be a whole number > 0, got ${gpus}: set ${pool}_engine_num_gpu (or the GPU limit of the DGD service).`);
      }
    }
    this.interpolators = opts.interpolators;
    if (config.enable_throughput_scaling && !this.interpolators) {
      throw new InputError('throughput scaling needs profile data: pass the interpolators built from profile_results_dir (or set enable_throughput_scaling to false).');
    }
    this.predictors = opts.predictors ?? {
      numReq: createPredictor(config.load_predictor, config),
      isl: createPredictor(config.load_predictor, config),
      osl: createPredictor(config.load_predictor, config),
    };
    this.correctionOn = !config.no_correction && !config.enable_load_scaling;
    // The original starts both floors at 1 whatever min_endpoint is; min_endpoint is applied after.
    this.lowerBound = { prefill: 1, decode: 1 };
    this.ttftRegression = new LatencyRegression(config.load_learning_window, config.load_min_observations);
    this.itlRegression = new LatencyRegression(config.load_learning_window, config.load_min_observations);
    this.prefillBurstiness = config.prefill_burstiness;
  }

  private requiredGpus(pool: Pool): number {
    const key = pool === 'prefill' ? 'prefill_engine_num_gpu' : 'decode_engine_num_gpu';
    const value = this.config[key];
    if (value !== null) return value;
    // Only a managed pool needs it; an unmanaged pool's count is always 0 in GPU arithmetic.
    if (!this.managed[pool]) return 1;
    throw new InputError(
      `${key} is required for mode '${this.config.mode}': set it to the GPUs of one ${pool} replica (in kubernetes the daemon reads it from the DGD).`,
    );
  }

  /** Throughput tick: the observation of the interval that just ended, current worker counts. */
  throughputTick(obs: IntervalObservation, current: ReplicaCounts): Decision {
    const cfg = this.config;
    const intervalS = cfg.throughput_adjustment_interval;
    const counts = this.managedCounts(current);
    this.gpuHours += ((counts.prefill * this.gpusPerReplica.prefill + counts.decode * this.gpusPerReplica.decode) * intervalS) / 3600;

    if (cfg.forecast_quantile !== null) this.recordForecastRatio(obs.num_req);
    // The predictors see every interval, idle ones included (an unobserved value counts as 0), as
    // the original feeds them before it checks validity.
    this.predictors.numReq.observe(obs.num_req ?? 0);
    this.predictors.isl.observe(obs.isl ?? NaN);
    this.predictors.osl.observe(obs.osl ?? NaN);

    if (!cfg.enable_throughput_scaling) return this.hold('throughput_scaling_disabled', current, { observed: metricsOf(obs) });
    const invalid = missingLatencyAndShape(obs);
    if (invalid.length > 0) return this.hold('hold_invalid_metrics', current, { observed: metricsOf(obs), missing: invalid });
    if (cfg.hold_on_missing_data) {
      const missing = missingTrafficFields(obs);
      if (missing.length > 0) return this.hold('hold_missing_data', current, { observed: metricsOf(obs), missing });
    }
    const observed = {
      numReq: obs.num_req ?? 0,
      isl: obs.isl as number,
      osl: obs.osl as number,
      ttftMs: obs.ttft as number,
      itlMs: obs.itl as number,
      requestDurationS: obs.request_duration ?? 0,
    };
    const interp = this.interpolators!;
    if (cfg.prefill_sizing === 'queueing' && cfg.prefill_learn_burstiness && this.managed.prefill) {
      this.learnBurstiness(observed, counts.prefill, intervalS, interp.prefill);
    }

    if (this.correctionOn) {
      let pCf = this.correctionFactor.prefill;
      let dCf = this.correctionFactor.decode;
      // agg engines do both phases, so both factors apply to the one pool.
      if (this.managed.prefill || cfg.mode === 'agg') pCf = prefillCorrectionFactor(observed.ttftMs, observed.isl, interp.prefill);
      if (this.managed.decode) dCf = decodeCorrectionFactor(observed, counts.decode, intervalS, interp.decode) ?? dCf;
      if (!Number.isFinite(pCf) || !Number.isFinite(dCf)) {
        // The original aborts the tick when the correction raises (e.g. a zero profiled latency).
        return this.hold('hold_correction_failed', current, { observed: metricsOf(obs), correction_factor: { prefill: pCf, decode: dCf } });
      }
      this.correctionFactor.prefill = pCf;
      this.correctionFactor.decode = dCf;
    }

    const forecast = {
      numReq: this.predictors.numReq.predict(),
      isl: this.predictors.isl.predict(),
      osl: this.predictors.osl.predict(),
    };
    if (![forecast.numReq, forecast.isl, forecast.osl].every(Number.isFinite)) {
      return this.hold('predict_failed', current, { observed: metricsOf(obs) });
    }
    const predicted: PredictedLoad = { num_req: forecast.numReq, isl: forecast.isl, osl: forecast.osl };
    this.lastPredicted = predicted;
    this.forecastForInterval = forecast.numReq;
    // forecast_quantile: size for an upper quantile of the count, not the mean (reported raw).
    const sized = this.forecastMultiplier === 1 ? forecast : { ...forecast, numReq: forecast.numReq * this.forecastMultiplier };

    const planned: { prefill: number | null; decode: number | null } = { prefill: null, decode: null };
    const bindings: { prefill?: string; decode?: string } = {};
    const details: Record<string, unknown> = {};
    const prefillInput = {
      forecast: sized,
      intervalS,
      correctionFactor: this.correctionFactor.prefill,
      correctionCanScaleUp: cfg.prefill_correction_can_scale_up,
      prefill: interp.prefill,
    };
    const decodeInput = {
      forecast: sized,
      intervalS,
      correctionFactor: this.correctionFactor.decode,
      itlTargetMs: cfg.itl,
      decode: interp.decode,
      monotoneSearch: cfg.monotone_decode_search,
      maxKvUsage: cfg.decode_max_kv_usage,
    };
    if (cfg.mode === 'agg') {
      const plan = planAgg({ prefill: prefillInput, decode: decodeInput, gpusPerReplica: this.gpusPerReplica.decode, minEndpoint: cfg.min_endpoint });
      planned.decode = plan.replicas;
      bindings.decode = plan.binding;
      details.agg_gpus = { prefill: plan.prefillGpus, decode: plan.decodeGpus };
    } else {
      if (this.managed.prefill) {
        const plan = planPrefill({ ...prefillInput, gpusPerReplica: this.gpusPerReplica.prefill, minEndpoint: cfg.min_endpoint });
        planned.prefill = plan.replicas;
        bindings.prefill = plan.binding;
        details.prefill_demand_tok_s = plan.demandTokensPerS;
        details.prefill_thpt_per_gpu = plan.thptPerGpu;
        if (cfg.prefill_sizing === 'queueing') {
          const q = this.queueingPrefill(sized, intervalS, interp.prefill);
          details.prefill_queueing = q;
          // Never below the throughput count: the queueing model only adds headroom.
          if (q.replicas > plan.replicas) {
            planned.prefill = q.replicas;
            bindings.prefill = 'sla_queueing';
          }
        }
      }
      if (this.managed.decode) {
        const plan = planDecode({ ...decodeInput, gpusPerReplica: this.gpusPerReplica.decode, minEndpoint: cfg.min_endpoint });
        planned.decode = plan.replicas;
        bindings.decode = plan.binding;
        details.decode_demand_tok_s = plan.demandTokensPerS;
        details.decode_thpt_per_gpu = plan.thptPerGpu;
      }
    }

    // A count that overflowed (demand over a denormal profiled throughput) would turn into NaN in
    // the budget's proportional shrink; the original's ceil(inf) raises and aborts the tick.
    const overflowed = (['prefill', 'decode'] as const).filter((pool) => planned[pool] !== null && !Number.isFinite(planned[pool]));
    if (overflowed.length > 0) {
      return this.hold('hold_plan_failed', current, { observed: metricsOf(obs), predicted, planned, pools: overflowed, ...details });
    }
    if (cfg.scale_down_window > 1) this.holdScaleDown(planned, bindings);
    if (this.forecastMultiplier !== 1) details.forecast_multiplier = this.forecastMultiplier;

    const base: DecisionReason = {
      code: 'scale',
      observed: metricsOf(obs),
      predicted,
      correction_factor: { ...this.correctionFactor },
      planned,
      ...details,
    };


    if (cfg.enable_load_scaling) {
      // Both modes on: throughput only sets the floor that load decisions may not go under.
      if (planned.prefill !== null) this.lowerBound.prefill = planned.prefill;
      if (planned.decode !== null) this.lowerBound.decode = planned.decode;
      const reason = { ...base, code: 'set_lower_bound', binding: strongest(bindings.prefill, bindings.decode), bindings, lower_bound: { ...this.lowerBound } };
      this.count('set_lower_bound');
      return { prefill: this.managed.prefill ? current.prefill : null, decode: this.managed.decode ? current.decode : null, decided: false, reason };
    }

    const capped = this.applyBudget({ prefill: planned.prefill ?? 0, decode: planned.decode ?? 0 });
    if (capped.binding !== 'none') {
      if (this.managed.prefill) bindings.prefill = capped.binding;
      if (this.managed.decode) bindings.decode = capped.binding;
    }
    const reason: DecisionReason = { ...base, binding: strongest(bindings.prefill, bindings.decode), bindings };
    if (capped.warning) reason.warnings = [capped.warning];
    return {
      prefill: this.managed.prefill ? capped.prefill : null,
      decode: this.managed.decode ? capped.decode : null,
      decided: true,
      reason,
    };
  }

  /** Load tick: the last `load_metric_samples` router snapshots (oldest first) and current counts. */
  loadTick(samples: RouterSnapshot[], current: ReplicaCounts): Decision {
    const cfg = this.config;
    if (!cfg.enable_load_scaling) return this.hold('load_scaling_disabled', current);
    const sensitivity = cfg.load_scaling_down_sensitivity;
    const counts = this.managedCounts(current);

    let steps: { prefill?: LoadStep; decode?: LoadStep };
    let mismatch: { pool: Pool; router: number; workers: number } | undefined;

    if (cfg.mode === 'agg') {
      // Agg engines are "decode" workers carrying both gauges; the regressions learn from
      // per-worker averages because chunked prefill makes single scrapes noisy.
      const view = summarizePool(samples, 'decode');
      for (const [x, y] of prefillPoints(view.perWorkerAveraged.values())) this.ttftRegression.add(x, y);
      for (const [x, y] of decodePoints(view.perWorkerAveraged.values())) this.itlRegression.add(x, y);
      if (view.recent.size !== counts.decode) mismatch = { pool: 'decode', router: view.recent.size, workers: counts.decode };
      else if (view.recent.size === 0) return this.hold('no_metrics', current);
      else {
        const recent = [...view.recent.values()];
        steps = {
          prefill: prefillStep(this.ttftRegression.loadAtSla(cfg.ttft), view.clusterAvgIsl, recent.map((g) => workerLoad(g.active_prefill_tokens, cfg.hold_on_missing_data)), counts.decode, sensitivity),
          decode: decodeStep(this.itlRegression.loadAtSla(cfg.itl), recent.map((g) => workerLoad(g.active_decode_blocks, cfg.hold_on_missing_data)), counts.decode, sensitivity),
        };
        const n = counts.decode;
        const p = steps.prefill!.code;
        const d = steps.decode!.code;
        // One pool serves both phases: grow if either phase is past its SLA load, shrink only if both have room.
        let desired: number | undefined;
        if (p === 'scale_up' || d === 'scale_up') desired = n + 1;
        else if (p === 'scale_down' && d === 'scale_down') desired = n - 1;
        if (desired === undefined) return this.hold(holdCode(steps), current, { load: steps });
        return this.finishLoad({ prefill: 0, decode: desired }, current, steps);
      }
      return this.hold('worker_count_mismatch', current, { mismatch });
    }

    const views: { prefill?: PoolView; decode?: PoolView } = {};
    for (const pool of ['prefill', 'decode'] as const) {
      if (!this.managed[pool]) continue;
      const view = summarizePool(samples, pool);
      views[pool] = view;
      const points = pool === 'prefill' ? prefillPoints(view.recent.values()) : decodePoints(view.recent.values());
      const regression = pool === 'prefill' ? this.ttftRegression : this.itlRegression;
      for (const [x, y] of points) regression.add(x, y);
    }
    for (const pool of ['prefill', 'decode'] as const) {
      const view = views[pool];
      if (view && view.recent.size !== counts[pool]) {
        mismatch = { pool, router: view.recent.size, workers: counts[pool] };
        break;
      }
    }
    // Workers the router sees must be the workers we count, or per-worker loads mean nothing.
    if (mismatch) return this.hold('worker_count_mismatch', current, { mismatch });

    steps = {};
    if (views.prefill) {
      const recent = [...views.prefill.recent.values()];
      steps.prefill = prefillStep(this.ttftRegression.loadAtSla(cfg.ttft), views.prefill.clusterAvgIsl, recent.map((g) => workerLoad(g.active_prefill_tokens, cfg.hold_on_missing_data)), counts.prefill, sensitivity);
    }
    if (views.decode) {
      const recent = [...views.decode.recent.values()];
      steps.decode = decodeStep(this.itlRegression.loadAtSla(cfg.itl), recent.map((g) => workerLoad(g.active_decode_blocks, cfg.hold_on_missing_data)), counts.decode, sensitivity);
    }
    // Each pool moves on its own signal; a pool with nothing to say stays where it is.
    const desired = {
      prefill: steps.prefill?.desired ?? counts.prefill,
      decode: steps.decode?.desired ?? counts.decode,
    };
    if (desired.prefill === counts.prefill && desired.decode === counts.decode) return this.hold(holdCode(steps), current, { load: steps });
    return this.finishLoad(desired, current, steps);
  }

  /** Floors (throughput lower bound, min_endpoint) and the budget on a load step. */
  private finishLoad(desired: ReplicaCounts, current: ReplicaCounts, steps: { prefill?: LoadStep; decode?: LoadStep }): Decision {
    const cfg = this.config;
    const bindings: { prefill?: string; decode?: string } = {};
    const target = { ...desired };
    for (const pool of ['prefill', 'decode'] as const) {
      if (!this.managed[pool]) continue;
      bindings[pool] = 'load';
      if (cfg.enable_throughput_scaling && this.lowerBound[pool] > target[pool]) {
        target[pool] = this.lowerBound[pool];
        bindings[pool] = 'throughput_floor';
      }
      // Not in the original's load path (its floor is at least 1); keeps min_endpoint a hard floor.
      if (cfg.min_endpoint > target[pool]) {
        target[pool] = cfg.min_endpoint;
        bindings[pool] = 'min_endpoint';
      }
    }
    const capped = this.applyBudget(target);
    if (capped.binding !== 'none') {
      if (this.managed.prefill) bindings.prefill = capped.binding;
      if (this.managed.decode) bindings.decode = capped.binding;
    }
    const counts = this.managedCounts(current);
    const final = { prefill: capped.prefill, decode: capped.decode };
    // A step the throughput floor turned back into the current count: the original still issues
    // the (no-op) scaling call, so this stays a decision, flagged for operators.
    const downCapped = (['prefill', 'decode'] as const).some(
      (pool) => this.managed[pool] && desired[pool] < counts[pool] && final[pool] === counts[pool] && bindings[pool] === 'throughput_floor',
    );
    const reason: DecisionReason = {
      code: downCapped ? 'scale_down_capped_by_throughput' : 'load_scale',
      load: steps,
      lower_bound: { ...this.lowerBound },
      binding: strongest(bindings.prefill, bindings.decode),
      bindings,
    };
    if (capped.warning) reason.warnings = [capped.warning];
    return {
      prefill: this.managed.prefill ? final.prefill : null,
      decode: this.managed.decode ? final.decode : null,
      decided: true,
      reason,
    };
  }

  private applyBudget(target: ReplicaCounts): ReplicaCounts & { binding: string; warning?: string } {
    const cfg = this.config;
    const limits = { maxGpuBudget: cfg.max_gpu_budget, minEndpoint: cfg.min_endpoint };
    let result: ReplicaCounts & { binding: string };
    if (this.managed.prefill && this.managed.decode) {
      result = applyGlobalBudget(target.prefill, target.decode, this.gpusPerReplica, limits);
    } else if (this.managed.prefill) {
      const r = applyPoolBudget(target.prefill, this.gpusPerReplica.prefill, limits);
      result = { prefill: r.replicas, decode: 0, binding: r.binding };
    } else {
      const r = applyPoolBudget(target.decode, this.gpusPerReplica.decode, limits);
      result = { prefill: 0, decode: r.replicas, binding: r.binding };
    }
    if (result.binding === 'gpu_budget_below_min_endpoint') {
      return {
        ...result,
        warning: `max_gpu_budget (${cfg.max_gpu_budget}) is below the GPUs of min_endpoint (${cfg.min_endpoint}) replicas per pool; the budget wins and the pools are set to 0 replicas.`,
      };
    }
    if (result.binding === 'gpu_budget') {
      return { ...result, warning: `the targets need more than max_gpu_budget (${cfg.max_gpu_budget}) GPUs; scaled down to fit.` };
    }
    return result;
  }

  state(): PlannerState {
    return {
      lowerBound: { ...this.lowerBound },
      correctionFactor: { ...this.correctionFactor },
      lastPredicted: this.lastPredicted,
      gpuHours: this.gpuHours,
      holds: { ...this.holds },
      prefillBurstiness: this.prefillBurstiness,
      forecastMultiplier: this.forecastMultiplier,
    };
  }

  /**
   * prefill_sizing queueing: replicas from the M/G/c model (queueing.ts) at the forecast arrival
   * rate. One replica serves a prompt of the forecast ISL in isl / (thpt_per_gpu × GPUs) seconds,
   * the same capacity the throughput formula assumes, so the two counts are directly comparable.
   */
  private queueingPrefill(forecast: { numReq: number; isl: number }, intervalS: number, prefill: PrefillInterpolator) {
    const cfg = this.config;
    const gpus = this.gpusPerReplica.prefill;
    const serviceS = this.prefillServiceS(forecast.isl, prefill);
    // The search stops at what the budget could ever give prefill (the budget code caps it again).
    const maxReplicas = cfg.max_gpu_budget >= 0 ? Math.floor(cfg.max_gpu_budget / gpus) : 100_000;
    const sizing = sizeQueueForSla({
      arrivalRatePerS: Math.max(0, forecast.numReq) / intervalS,
      serviceS,
      idleTtftMs: prefill.ttftMs(forecast.isl),
      ttftTargetMs: cfg.ttft,
      quantile: cfg.prefill_ttft_quantile,
      burstiness: this.prefillBurstiness,
      maxUtilization: cfg.prefill_max_utilization,
      maxReplicas,
    });
    return { ...sizing, burstiness: this.prefillBurstiness };
  }

  /** Seconds one prefill replica takes for a prompt of `isl` tokens at its profiled rate; NaN without one. */
  private prefillServiceS(isl: number, prefill: PrefillInterpolator): number {
    const replicaTokensPerS = prefill.thptPerGpu(isl) * this.gpusPerReplica.prefill;
    return replicaTokensPerS > 0 && isl > 0 ? isl / replicaTokensPerS : NaN;
  }

  /**
   * EWMA (weight 1/2: an interval of a few minutes is one noisy sample, two in a row are a trend)
   * of the burstiness that explains the interval just observed, floored at the configured prior so
   * a quiet interval cannot talk the model into running hot, and capped so one pathological
   * interval (e.g. replicas still warming up) cannot demand the whole budget.
   */
  private learnBurstiness(
    observed: { numReq: number; isl: number; ttftMs: number },
    replicas: number,
    intervalS: number,
    prefill: PrefillInterpolator,
  ): void {
    const serviceS = this.prefillServiceS(observed.isl, prefill);
    if (!(serviceS > 0)) return;
    const b = observedBurstiness({
      arrivalRatePerS: observed.numReq / intervalS,
      serviceS,
      replicas,
      observedTtftMs: observed.ttftMs,
      idleTtftMs: prefill.ttftMs(observed.isl),
    });
    if (b === undefined || !Number.isFinite(b)) return;
    const floor = this.config.prefill_burstiness;
    this.prefillBurstiness = Math.min(BURSTINESS_CAP, Math.max(floor, 0.5 * this.prefillBurstiness + 0.5 * b));
  }

  /**
   * forecast_quantile: the ratio observed / forecast of each interval (forecasts under one request
   * say nothing about relative error and are skipped); the multiplier is the configured quantile
   * of the recent ratios, never below 1 (it adds headroom, never removes it).
   */
  private recordForecastRatio(numReq: number | null | undefined): void {
    // Only a forecast made for this very interval: after a held tick the last one was for an older one.
    const last = this.forecastForInterval;
    this.forecastForInterval = undefined;
    if (last === undefined || !(last >= 1) || typeof numReq !== 'number' || !Number.isFinite(numReq)) return;
    this.forecastRatios.push(numReq / last);
    if (this.forecastRatios.length > this.config.forecast_error_window) this.forecastRatios.shift();
    const q = quantile(this.forecastRatios, this.config.forecast_quantile ?? 0.5);
    this.forecastMultiplier = Math.min(FORECAST_MULTIPLIER_CAP, Math.max(1, q));
  }

  /**
   * scale_down_window: a pool goes down only to the highest count planned over the last N
   * intervals (like the HPA's stabilisation window), so a one-interval dip does not release a
   * replica that takes a cold start to get back. Scale-up is never delayed.
   */
  private holdScaleDown(planned: { prefill: number | null; decode: number | null }, bindings: { prefill?: string; decode?: string }): void {
    const raw = { ...planned };
    for (const pool of ['prefill', 'decode'] as const) {
      const now = planned[pool];
      if (now === null) continue;
      let held = now;
      for (const h of this.plannedHistory) {
        const v = h[pool];
        if (v !== null && v > held) held = v;
      }
      if (held > now) {
        planned[pool] = held;
        bindings[pool] = 'scale_down_window';
      }
    }
    this.plannedHistory.push(raw);
    while (this.plannedHistory.length > this.config.scale_down_window - 1) this.plannedHistory.shift();
  }

  /** Counts of the pools this mode manages; an unmanaged pool counts as 0. */
  private managedCounts(current: ReplicaCounts): ReplicaCounts {
    return {
      prefill: this.managed.prefill ? current.prefill : 0,
      decode: this.managed.decode ? current.decode : 0,
    };
  }

  private count(code: string): void {
    this.holds[code] = (this.holds[code] ?? 0) + 1;
  }

  private hold(code: string, current: ReplicaCounts, extra: Record<string, unknown> = {}): Decision {
    this.count(code);
    return {
      prefill: this.managed.prefill ? current.prefill : null,
      decode: this.managed.decode ? current.decode : null,
      decided: false,
      reason: { code, ...extra },
    };
  }
}
