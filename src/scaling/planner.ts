// The planner: the pure decision code the daemon, `decide` and the simulator all drive. It owns
// what outlives one tick (predictors, learned factors, regressions, the extensions' memory,
// counters) and runs each tick as a pipeline of named stages, each returning replicas plus the
// rule that bound them, or a typed hold. No I/O: callers bring observations and current worker
// counts, and apply (or not) the returned Decision.
import type { PlannerConfig } from '../config/schema.js';
import type { DecodeInterpolator, PrefillInterpolator } from '../profile-data/types.js';
import { InputError } from '../util/errors.js';
import { gpusOf, atLeastMinEndpoint, withinBudget, growthWithinBudget, type BudgetLimits } from './budget.js';
import { CorrectionFactors, NO_CORRECTION } from './correction.js';
import {
  loadHoldCode,
  strongest,
  type Decision,
  type DecisionCode,
  type DecisionReason,
  type LoadSteps,
  type ObservedTraffic,
  type Plan,
  type PlannedCounts,
  type PlannerState,
  type Pool,
  type PoolBindings,
  type PredictedLoad,
  type ReplicaCounts,
  type SizingDetail,
} from './decision.js';
import { DecodeKvUsageCap } from './extensions/decode-max-kv-usage.js';
import { ForecastQuantile } from './extensions/forecast-quantile.js';
import { HoldOnMissingData, UPSTREAM_MISSING_LOAD_GAUGE } from './extensions/hold-on-missing-data.js';
import { KvDecodeSizing } from './extensions/kv-decode-sizing.js';
import { MonotoneDecodeSearch } from './extensions/monotone-decode-search.js';
import { PrefillCorrectionCanScaleUp, UPSTREAM_PREFILL_CORRECTION } from './extensions/prefill-correction-can-scale-up.js';
import { PrefillBurstSizing } from './extensions/prefill-burst-sizing.js';
import { QueueingPrefill } from './extensions/queueing-prefill.js';
import { SaturationFeedback } from './extensions/saturation-feedback.js';
import { TtftFeedback } from './extensions/ttft-feedback.js';
import { ScaleDownWindow } from './extensions/scale-down-window.js';
import { ThroughputFloor } from './floor.js';
import { TrafficForecaster, type Forecast, type TrafficPredictors } from './forecast.js';
import type { IntervalObservation, RouterSnapshot } from './observation.js';
import { poolSizers, type PoolSizer, type ProfileCapacity } from './pools.js';
import { missingLatencyAndShape, observedInterval, screenLimits, screenObservation, screenRouterSamples, trafficOf, type ScreenLimits } from './screen.js';
import { decodeCapacity } from './throughput.js';

export type { Decision, DecisionReason, PlannerState, PredictedLoad, ReplicaCounts } from './decision.js';

export interface PlannerOptions {
  config: PlannerConfig;
  interpolators?: { prefill: PrefillInterpolator; decode: DecodeInterpolator };
  /** Default: createPredictor(config.load_predictor, config) for each series. */
  predictors?: TrafficPredictors;
  /** Default: config.prefill_engine_num_gpu / decode_engine_num_gpu (1 for a pool the mode does not manage). */
  gpusPerReplica?: { prefill: number; decode: number };
}

export class Planner {
  readonly config: PlannerConfig;
  /** The pools this mode sets counts for (agg: its one pool, as 'decode'). */
  readonly pools: readonly Pool[];
  readonly gpusPerReplica: { prefill: number; decode: number };
  private readonly intervalS: number;
  private readonly sizers: readonly PoolSizer[];
  private readonly limits: ScreenLimits;
  private readonly budget: BudgetLimits;
  private readonly forecaster: TrafficForecaster;
  /** Present when throughput scaling is on: the profile as the sizers read it. */
  private readonly capacity?: ProfileCapacity;
  /** Present when correction is on (no_correction false, load scaling off). */
  private readonly correction?: CorrectionFactors;
  /** Present when load scaling is on next to throughput scaling. */
  private readonly floor?: ThroughputFloor;
  private readonly loadScaling: boolean;
  // sla-planner extensions: each exists only when its option is on.
  private readonly missingData?: HoldOnMissingData;
  private readonly queueing?: QueueingPrefill;
  private readonly quantile?: ForecastQuantile;
  private readonly window?: ScaleDownWindow;
  private readonly kvDecode?: KvDecodeSizing;
  private readonly ttftFeedback?: TtftFeedback;
  private readonly burst?: PrefillBurstSizing;
  /** load_scaling_rule saturation: the load loop's rule, and the floor it hands throughput ticks. */
  private readonly saturation?: SaturationFeedback;

  private ticks = 0;
  private gpuHours = 0;
  private lastPredicted: PredictedLoad | undefined;
  private readonly holds: Partial<Record<DecisionCode, number>> = {};

  constructor(opts: PlannerOptions) {
    const config = opts.config;
    this.config = config;
    this.intervalS = config.throughput_adjustment_interval;
    this.pools = config.mode === 'disagg' ? ['prefill', 'decode'] : config.mode === 'prefill' ? ['prefill'] : ['decode'];
    this.gpusPerReplica = opts.gpusPerReplica ?? { prefill: this.requiredGpus('prefill'), decode: this.requiredGpus('decode') };
    for (const pool of ['prefill', 'decode'] as const) {
      const gpus = this.gpusPerReplica[pool];
      // 0 GPUs per replica would divide the budget and the demand by zero: Infinity/NaN replicas.
      if (!(Number.isInteger(gpus) && gpus > 0)) {
        throw new InputError(`GPUs per ${pool} replica must be a whole number > 0, got ${gpus}: set ${pool}_engine_num_gpu (or the GPU limit of the DGD service).`);
      }
    }
    const profile = opts.interpolators;
    if (config.enable_throughput_scaling && !profile) {
      throw new InputError('throughput scaling needs profile data: pass the interpolators built from profile_results_dir (or set enable_throughput_scaling to false).');
    }
    this.missingData = HoldOnMissingData.fromConfig(config);
    if (config.enable_throughput_scaling) this.kvDecode = KvDecodeSizing.fromConfig(config, profile?.decode, this.gpusPerReplica.decode);
    this.saturation = SaturationFeedback.fromConfig(config, profile, this.pools, this.gpusPerReplica);
    this.sizers = poolSizers(config, this.gpusPerReplica, this.missingData?.missingLoadGauge ?? UPSTREAM_MISSING_LOAD_GAUGE, this.kvDecode);
    this.limits = screenLimits(config, this.pools, profile);
    this.budget = { maxGpuBudget: config.max_gpu_budget, minEndpoint: config.min_endpoint };
    this.forecaster = new TrafficForecaster(config, opts.predictors);
    this.loadScaling = config.enable_load_scaling;
    if (config.enable_throughput_scaling && profile) {
      this.capacity = {
        prefill: profile.prefill,
        decode: decodeCapacity(profile.decode, MonotoneDecodeSearch.fromConfig(config), DecodeKvUsageCap.fromConfig(config)),
        prefillCorrection: PrefillCorrectionCanScaleUp.fromConfig(config) ?? UPSTREAM_PREFILL_CORRECTION,
      };
      // The load-scaling regression sees real latency, so correction is off whenever load scaling is on.
      if (!config.no_correction && !config.enable_load_scaling) {
        const phases = new Set(this.sizers.flatMap((s) => s.phases));
        this.correction = new CorrectionFactors(profile, { prefill: phases.has('prefill'), decode: phases.has('decode') }, this.intervalS);
      }
      // Upstream's both-modes semantics: the plan is a floor for ±1 load steps. The saturation rule
      // only scales out, so there throughput ticks set the counts themselves.
      if (config.enable_load_scaling && !this.saturation) this.floor = new ThroughputFloor();
      this.queueing = QueueingPrefill.fromConfig(config, profile.prefill, this.gpusPerReplica.prefill);
      this.quantile = ForecastQuantile.fromConfig(config);
      this.window = ScaleDownWindow.fromConfig(config);
      this.ttftFeedback = TtftFeedback.fromConfig(config, profile.prefill);
      this.burst = PrefillBurstSizing.fromConfig(config, profile.prefill, this.gpusPerReplica.prefill);
    }
  }

  private requiredGpus(pool: Pool): number {
    const key = pool === 'prefill' ? 'prefill_engine_num_gpu' : 'decode_engine_num_gpu';
    const value = this.config[key];
    if (value !== null) return value;
    // Only a managed pool needs it; an unmanaged pool's count is always 0 in GPU arithmetic.
    if (!this.pools.includes(pool)) return 1;
    throw new InputError(
      `${key} is required for mode '${this.config.mode}': set it to the GPUs of one ${pool} replica (in kubernetes the daemon reads it from the DGD).`,
    );
  }

  /** Throughput scaling: the observation of the interval that just ended and the current worker counts. */
  decideThroughput(obs: IntervalObservation, current: ReplicaCounts): Decision {
    const tick = ++this.ticks;
    const counts = this.managedCounts(current);
    this.gpuHours += (gpusOf(counts, this.gpusPerReplica) * this.intervalS) / 3600;
    const implausible = screenObservation(obs, counts, this.limits);
    if (implausible) return this.hold(implausible, current);
    this.forecaster.observe(obs);
    this.quantile?.recordActual(tick, obs.num_req);
    const observed = trafficOf(obs);
    const capacity = this.capacity;
    if (!capacity) return this.hold({ code: 'throughput_scaling_disabled', observed }, current);
    const invalid = this.invalid(obs, observed) ?? this.learn(obs, counts, observed);
    if (invalid) return this.hold(invalid, current);

    const forecast = this.forecaster.forecast();
    if (!forecast) return this.hold({ code: 'hold_predict_failed', observed }, current);
    const predicted = (this.lastPredicted = { num_req: forecast.numReq, isl: forecast.isl, osl: forecast.osl });
    const sized = this.quantile?.size(tick, forecast) ?? { forecast, sizing: {} };
    let proposal = this.propose(capacity, sized.forecast, sized.sizing);
    proposal = this.queueing?.raise(proposal.plan, proposal.sizing, sized.forecast) ?? proposal;
    if (this.ttftFeedback) {
      const fed = this.ttftFeedback.raise(proposal.plan);
      proposal = { plan: fed.plan, sizing: fed.detail ? { ...proposal.sizing, ttft_feedback: fed.detail } : proposal.sizing };
    }
    if (this.burst) {
      const sized = this.burst.raise(proposal.plan);
      proposal = { plan: sized.plan, sizing: { ...proposal.sizing, prefill_burst: sized.detail } };
    }
    // Demand over a denormal profiled throughput overflows; the original's ceil(inf) raises and aborts the tick.
    const overflowed = this.pools.filter((pool) => !Number.isFinite(proposal.plan[pool]!.replicas));
    if (overflowed.length > 0) {
      return this.hold({ code: 'hold_plan_failed', observed, predicted, planned: plannedCounts(proposal.plan), pools: overflowed, sizing: proposal.sizing }, current);
    }
    const stable = this.window?.stabilize(proposal.plan, counts) ?? proposal.plan;
    const plan = this.saturation?.floor(stable, counts) ?? stable;

    const explained = { observed, predicted, correction_factor: this.correctionFactors(), planned: plannedCounts(plan), sizing: proposal.sizing };
    if (this.floor) {
      // Both scaling modes on: the plan only sets the floor load steps may not go under.
      this.floor.set(plan);
      const bindings = bindingsOf(plan);
      return this.hold({ code: 'set_lower_bound', ...explained, binding: strongest(bindings), bindings, lower_bound: this.floor.bound }, current);
    }
    const budgeted = withinBudget(plan, this.gpusPerReplica, this.budget);
    const bindings = bindingsOf(budgeted.plan);
    return this.decided(budgeted.plan, { code: 'scale', ...explained, binding: strongest(bindings), bindings, ...warnings(budgeted.warning) });
  }

  /** Load scaling: the last `load_metric_samples` router scrapes (oldest first) and the current counts. */
  decideLoad(samples: RouterSnapshot[], current: ReplicaCounts): Decision {
    if (!this.loadScaling) return this.hold({ code: 'load_scaling_disabled' }, current);
    const implausible = screenRouterSamples(samples, this.limits);
    if (implausible) return this.hold(implausible, current);
    const counts = this.managedCounts(current);
    this.kvDecode?.observeLoad(samples);
    this.burst?.observeLoad(samples, this.config.load_adjustment_interval);
    if (this.saturation) return this.saturationStep(this.saturation, samples, counts, current);
    const views = this.sizers.map((sizer) => sizer.learnLoad(samples));
    // Workers the router sees must be the workers we count, or per-worker loads mean nothing.
    const mismatched = this.sizers.findIndex((sizer, i) => views[i].recent.size !== counts[sizer.pool]);
    if (mismatched >= 0) {
      const pool = this.sizers[mismatched].pool;
      return this.hold({ code: 'worker_count_mismatch', mismatch: { pool, router: views[mismatched].recent.size, workers: counts[pool] } }, current);
    }
    const proposals = this.sizers.map((sizer, i) => sizer.stepLoad(views[i], counts[sizer.pool]));
    const load: LoadSteps = Object.assign({}, ...proposals.map((p) => p.steps));
    if (proposals.every((p) => p.desired === undefined)) return this.hold({ code: loadHoldCode(load), load }, current);

    // Each pool moves on its own signal; a pool with nothing to say stays where it is.
    const stepped: Plan = {};
    this.sizers.forEach((sizer, i) => (stepped[sizer.pool] = { replicas: proposals[i].desired ?? counts[sizer.pool], binding: 'load' }));
    const floored = atLeastMinEndpoint(this.floor?.raise(stepped) ?? stepped, this.config.min_endpoint);
    const budgeted = withinBudget(floored, this.gpusPerReplica, this.budget);
    const bindings = bindingsOf(budgeted.plan);
    // A step down the throughput floor turned back into the current count: the original still
    // issues the (no-op) scaling call, so this stays a decision, flagged for operators.
    const downCapped = this.pools.some(
      (pool) => stepped[pool]!.replicas < counts[pool] && budgeted.plan[pool]!.replicas === counts[pool] && bindings[pool] === 'throughput_floor',
    );
    const code = downCapped ? 'scale_down_capped_by_throughput' : 'load_scale';
    return this.decided(budgeted.plan, { code, load, lower_bound: this.floor?.bound, binding: strongest(bindings), bindings, ...warnings(budgeted.warning) });
  }

  /** load_scaling_rule saturation: scale out what is saturated; a pool with nothing to say keeps its target. */
  private saturationStep(rule: SaturationFeedback, samples: RouterSnapshot[], counts: ReplicaCounts, current: ReplicaCounts): Decision {
    for (const pool of this.pools) {
      const router = latestWorkerCount(samples, pool);
      if (router !== undefined && router !== counts[pool]) return this.hold({ code: 'worker_count_mismatch', mismatch: { pool, router, workers: counts[pool] } }, current);
    }
    const { desired, report } = rule.decide(samples, counts);
    // prefill_burst_sizing: a burst seen now asks for its standing count at once, not at the next throughput tick.
    const burstCount = this.burst?.size().replicas;
    const burstWants = burstCount !== undefined && this.pools.includes('prefill') && burstCount > Math.max(desired.prefill ?? 0, counts.prefill + rule.starting('prefill', counts.prefill));
    if (!burstWants && this.pools.every((pool) => desired[pool] === undefined)) return this.hold({ code: 'not_saturated', saturation: report }, current);
    const stepped: Plan = {};
    for (const pool of this.pools) {
      const want = desired[pool];
      stepped[pool] = want !== undefined ? { replicas: want, binding: 'saturation' } : { replicas: counts[pool] + rule.starting(pool, counts[pool]), binding: 'saturation_hold' };
    }
    if (burstWants) stepped.prefill = { replicas: burstCount, binding: 'prefill_burst' };
    const budgeted = growthWithinBudget(atLeastMinEndpoint(stepped, this.config.min_endpoint), counts, this.gpusPerReplica, this.budget);
    const bindings = bindingsOf(budgeted.plan);
    return this.decided(budgeted.plan, { code: 'load_scale', load: {}, saturation: report, binding: strongest(bindings), bindings, ...warnings(budgeted.warning) });
  }

  state(): PlannerState {
    return {
      lowerBound: this.floor?.bound ?? { prefill: 1, decode: 1 },
      correctionFactor: this.correctionFactors(),
      lastPredicted: this.lastPredicted,
      gpuHours: this.gpuHours,
      holds: { ...this.holds },
      prefillBurstiness: this.queueing?.burstiness,
      forecastMultiplier: this.quantile?.multiplier,
    };
  }

  /** Whether the mode sets a count for `pool`. */
  manages(pool: Pool): boolean {
    return this.pools.includes(pool);
  }

  /** The original's validity test, then hold_on_missing_data. */
  private invalid(obs: IntervalObservation, observed: ObservedTraffic): DecisionReason | undefined {
    const missing = missingLatencyAndShape(obs);
    if (missing.length > 0) return { code: 'hold_invalid_metrics', observed, missing };
    return this.missingData?.check(obs, observed);
  }

  /** Learn from a valid interval: the queueing model's burstiness, then the correction factors. */
  private learn(obs: IntervalObservation, counts: ReplicaCounts, observed: ObservedTraffic): DecisionReason | undefined {
    const interval = observedInterval(obs);
    this.queueing?.learn(interval, counts.prefill);
    this.kvDecode?.learn(obs);
    this.burst?.learn(obs);
    // Without the load loop's scrapes there is no queueing evidence to ask for.
    this.ttftFeedback?.learn(obs, counts.prefill, this.saturation?.prefillQueueingSeen() ?? true);
    const failed = this.correction?.learn(interval, counts);
    return failed && { code: 'hold_correction_failed', observed, correction_factor: failed.failed };
  }

  /** Each pool's proposal for the forecast, as one plan. */
  private propose(capacity: ProfileCapacity, forecast: Forecast, sizing: SizingDetail): { plan: Plan; sizing: SizingDetail } {
    const input = { forecast, intervalS: this.intervalS, correction: this.correction?.factors ?? NO_CORRECTION, capacity };
    const plan: Plan = {};
    let detail = sizing;
    for (const sizer of this.sizers) {
      const p = sizer.propose(input);
      plan[sizer.pool] = p.count;
      detail = { ...detail, ...p.sizing };
    }
    return { plan, sizing: detail };
  }

  private correctionFactors(): { prefill: number; decode: number } {
    return this.correction?.factors ?? { ...NO_CORRECTION };
  }

  /** Counts of the pools this mode manages; an unmanaged pool counts as 0. */
  private managedCounts(current: ReplicaCounts): ReplicaCounts {
    return { prefill: this.manages('prefill') ? current.prefill : 0, decode: this.manages('decode') ? current.decode : 0 };
  }

  /** The environment did not take the last decision (dropped during a rollout). */
  notTaken(): void {
    this.saturation?.notTaken();
  }

  private decided(plan: Plan, reason: DecisionReason): Decision {
    const counts = plannedCounts(plan);
    this.saturation?.asked(counts);
    return { prefill: counts.prefill, decode: counts.decode, decided: true, reason };
  }

  /** No scaling call: the managed pools stay at their current counts, and the code is counted. */
  private hold(reason: DecisionReason, current: ReplicaCounts): Decision {
    this.holds[reason.code] = (this.holds[reason.code] ?? 0) + 1;
    return {
      prefill: this.manages('prefill') ? current.prefill : null,
      decode: this.manages('decode') ? current.decode : null,
      decided: false,
      reason,
    };
  }
}

/** Workers of a pool in the latest scrape that has any gauges (undefined when none has). */
function latestWorkerCount(samples: readonly RouterSnapshot[], pool: Pool): number | undefined {
  for (let i = samples.length - 1; i >= 0; i--) {
    const snap = samples[i];
    if (snap.prefill === undefined && snap.decode === undefined) continue;
    return Object.keys(snap[pool] ?? {}).length;
  }
  return undefined;
}

function plannedCounts(plan: Plan): PlannedCounts {
  return { prefill: plan.prefill?.replicas ?? null, decode: plan.decode?.replicas ?? null };
}

function bindingsOf(plan: Plan): PoolBindings {
  const out: PoolBindings = {};
  if (plan.prefill) out.prefill = plan.prefill.binding;
  if (plan.decode) out.decode = plan.decode.binding;
  return out;
}

function warnings(warning: string | undefined): { warnings?: string[] } {
  return warning === undefined ? {} : { warnings: [warning] };
}
