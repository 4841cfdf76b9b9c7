// Pool sizers, built once from `mode`: disagg [prefill, decode], prefill [prefill], decode
// [decode], agg [agg]. Each proposes its pool's count for a forecast (throughput scaling) and
// steps it ±1 from the router's per-worker gauges (load scaling), keeping the latency regressions
// that load steps learn from.
import type { PlannerConfig } from '../config/schema.js';
import type { PrefillInterpolator } from '../profile-data/types.js';
import type { LoadSteps, Pool, PoolCount, SizingDetail } from './decision.js';
import type { CorrectionFactor } from './correction.js';
import type { Forecast } from './forecast.js';
import type { KvDecodeSizing } from './extensions/kv-decode-sizing.js';
import type { PrefillCorrectionRule } from './extensions/prefill-correction-can-scale-up.js';
import type { RouterSnapshot } from './observation.js';
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
  type WorkerGauges,
} from './load.js';
import { planAgg, planDecode, planPrefill, type DecodeCapacity } from './throughput.js';

/** How the profile is read, with the extensions that change it built in (built once). */
export interface ProfileCapacity {
  prefill: PrefillInterpolator;
  decode: DecodeCapacity;
  prefillCorrection: PrefillCorrectionRule;
}

export interface SizingInput {
  forecast: Forecast;
  intervalS: number;
  correction: CorrectionFactor;
  capacity: ProfileCapacity;
}

export interface PoolProposal {
  count: PoolCount;
  sizing: SizingDetail;
}

/** A load step's answer: the desired count (undefined = nothing to say) and the rule's steps. */
export interface LoadProposal {
  desired: number | undefined;
  steps: LoadSteps;
}

export interface PoolSizer {
  /** The count it sets; agg's one pool is scaled as the decode component, as upstream. */
  readonly pool: Pool;
  /** The phases its workers run (for the correction factors). */
  readonly phases: readonly Pool[];
  /** Throughput scaling: replicas for the forecast. */
  propose(input: SizingInput): PoolProposal;
  /** Load scaling: summarise the buffered scrapes and feed the latency regressions. */
  learnLoad(samples: readonly RouterSnapshot[]): PoolView;
  /** Load scaling: the ±1 step from the latest scrape. */
  stepLoad(view: PoolView, workers: number): LoadProposal;
}

interface SizerSettings {
  gpusPerReplica: number;
  minEndpoint: number;
  ttftTargetMs: number;
  itlTargetMs: number;
  sensitivityPct: number;
  /** What a worker's missing load gauge reads as (0 upstream; NaN under hold_on_missing_data). */
  missingLoadGauge: number;
  learningWindow: number;
  minObservations: number;
}

function settingsOf(config: PlannerConfig, gpusPerReplica: number, missingLoadGauge: number): SizerSettings {
  return {
    gpusPerReplica,
    minEndpoint: config.min_endpoint,
    ttftTargetMs: config.ttft,
    itlTargetMs: config.itl,
    sensitivityPct: config.load_scaling_down_sensitivity,
    missingLoadGauge,
    learningWindow: config.load_learning_window,
    minObservations: config.load_min_observations,
  };
}

/** Load scaling of one phase: its latency-vs-load regression and its ±1 step. */
class PhaseLoad {
  private readonly regression: LatencyRegression;

  constructor(
    private readonly phase: Pool,
    private readonly s: SizerSettings,
  ) {
    this.regression = new LatencyRegression(s.learningWindow, s.minObservations);
  }

  learn(workers: Iterable<WorkerGauges>): void {
    this.regression.addAll(this.phase === 'prefill' ? prefillPoints(workers) : decodePoints(workers));
  }

  /** Prefill load is active prompt tokens against the SLA load less the mean ISL; decode load is active KV blocks. */
  step(view: PoolView, workers: number): LoadStep {
    const recent = [...view.recent.values()];
    const s = this.s;
    if (this.phase === 'prefill') {
      const loads = recent.map((g) => workerLoad(g.active_prefill_tokens, s.missingLoadGauge));
      return prefillStep(this.regression.loadAtSla(s.ttftTargetMs), view.clusterAvgIsl, loads, workers, s.sensitivityPct);
    }
    const loads = recent.map((g) => workerLoad(g.active_decode_blocks, s.missingLoadGauge));
    return decodeStep(this.regression.loadAtSla(s.itlTargetMs), loads, workers, s.sensitivityPct);
  }
}

function proposePrefill({ forecast, intervalS, correction, capacity }: SizingInput, s: SizerSettings): PoolProposal {
  const plan = planPrefill({
    forecast, intervalS, correctionFactor: capacity.prefillCorrection.applied(correction.prefill), prefill: capacity.prefill,
    gpusPerReplica: s.gpusPerReplica, minEndpoint: s.minEndpoint,
  });
  return { count: { replicas: plan.replicas, binding: plan.binding }, sizing: { prefill_demand_tok_s: plan.demandTokensPerS, prefill_thpt_per_gpu: plan.thptPerGpu } };
}

function proposeDecode({ forecast, intervalS, correction, capacity }: SizingInput, s: SizerSettings): PoolProposal {
  const plan = planDecode({
    forecast, intervalS, correctionFactor: correction.decode, itlTargetMs: s.itlTargetMs, capacity: capacity.decode,
    gpusPerReplica: s.gpusPerReplica, minEndpoint: s.minEndpoint,
  });
  return { count: { replicas: plan.replicas, binding: plan.binding }, sizing: { decode_demand_tok_s: plan.demandTokensPerS, decode_thpt_per_gpu: plan.thptPerGpu } };
}

/** A disaggregated pool: one phase, sized by its own formula, stepped on the router's latest scrape. */
export class PhaseSizer implements PoolSizer {
  readonly phases: readonly Pool[];
  private readonly load: PhaseLoad;

  constructor(
    readonly pool: Pool,
    private readonly s: SizerSettings,
    /** decode_sizing kv: sizes the decode pool instead of the throughput formula. */
    private readonly kvDecode?: KvDecodeSizing,
  ) {
    this.phases = [pool];
    this.load = new PhaseLoad(pool, s);
  }

  propose(input: SizingInput): PoolProposal {
    if (this.pool === 'prefill') return proposePrefill(input, this.s);
    if (this.kvDecode === undefined) return proposeDecode(input, this.s);
    const kv = this.kvDecode.propose(input.forecast);
    return { count: kv.count, sizing: { decode_kv: kv.detail } };
  }

  learnLoad(samples: readonly RouterSnapshot[]): PoolView {
    const view = summarizePool(samples, this.pool);
    this.load.learn(view.recent.values());
    return view;
  }

  stepLoad(view: PoolView, workers: number): LoadProposal {
    const step = this.load.step(view, workers);
    return { desired: step.desired, steps: { [this.pool]: step } };
  }
}

/** One pool whose engines run both phases (the router labels its workers "decode"). */
export class AggSizer implements PoolSizer {
  readonly pool = 'decode';
  readonly phases = ['prefill', 'decode'] as const;
  private readonly prefill: PhaseLoad;
  private readonly decode: PhaseLoad;

  constructor(private readonly s: SizerSettings) {
    this.prefill = new PhaseLoad('prefill', s);
    this.decode = new PhaseLoad('decode', s);
  }

  propose({ forecast, intervalS, correction, capacity }: SizingInput): PoolProposal {
    const plan = planAgg({
      prefill: { forecast, intervalS, correctionFactor: capacity.prefillCorrection.applied(correction.prefill), prefill: capacity.prefill },
      decode: { forecast, intervalS, correctionFactor: correction.decode, itlTargetMs: this.s.itlTargetMs, capacity: capacity.decode },
      gpusPerReplica: this.s.gpusPerReplica,
      minEndpoint: this.s.minEndpoint,
    });
    return { count: { replicas: plan.replicas, binding: plan.binding }, sizing: { agg_gpus: { prefill: plan.prefillGpus, decode: plan.decodeGpus } } };
  }

  /** The regressions learn from per-worker averages: chunked prefill makes single scrapes noisy. */
  learnLoad(samples: readonly RouterSnapshot[]): PoolView {
    const view = summarizePool(samples, 'decode');
    this.prefill.learn(view.perWorkerAveraged.values());
    this.decode.learn(view.perWorkerAveraged.values());
    return view;
  }

  /** One pool serves both phases: grow if either phase is past its SLA load, shrink only if both have room. */
  stepLoad(view: PoolView, workers: number): LoadProposal {
    if (view.recent.size === 0) return { desired: undefined, steps: { decode: { desired: undefined, code: 'no_metrics' } } };
    const prefill = this.prefill.step(view, workers);
    const decode = this.decode.step(view, workers);
    let desired: number | undefined;
    if (prefill.code === 'scale_up' || decode.code === 'scale_up') desired = workers + 1;
    else if (prefill.code === 'scale_down' && decode.code === 'scale_down') desired = workers - 1;
    return { desired, steps: { prefill, decode } };
  }
}

/** The sizers of a mode, in the order their pools are checked and reported. */
export function poolSizers(
  config: PlannerConfig,
  gpusPerReplica: { prefill: number; decode: number },
  missingLoadGauge: number,
  kvDecode?: KvDecodeSizing,
): PoolSizer[] {
  const prefill = () => new PhaseSizer('prefill', settingsOf(config, gpusPerReplica.prefill, missingLoadGauge));
  const decode = () => new PhaseSizer('decode', settingsOf(config, gpusPerReplica.decode, missingLoadGauge), kvDecode);
  switch (config.mode) {
    case 'disagg':
      return [prefill(), decode()];
    case 'prefill':
      return [prefill()];
    case 'decode':
      return [decode()];
    case 'agg':
      return [new AggSizer(settingsOf(config, gpusPerReplica.decode, missingLoadGauge))];
  }
}
