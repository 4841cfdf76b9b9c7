// Replays per-interval observations through a Planner on a virtual clock, the way the daemon would
// see them: throughput tick k at the end of interval k, load ticks every load interval, each load
// tick reading the router scrapes buffered over the last load interval. This is the engine of
// `sla-planner decide` and of the reference-vector tests; it does no I/O.
import type { PlannerConfig } from '../config/schema.js';
import { InputError } from '../util/errors.js';
import { plannedOf, predictedOf, type Decision, type DecisionReason, type HoldCode, type PlannedCounts, type PredictedLoad, type ReplicaCounts } from './decision.js';
import type { Planner } from './planner.js';
import type { IntervalObservation, RouterSnapshot } from './observation.js';

/** The original planner starts its clock a little after deployment; its event times carry this offset. */
export const CLOCK_OFFSET_S = 0.2;

/** Most router scrapes the replay reads per throughput interval (load ticks × samples per tick). */
export const MAX_SCRAPES_PER_INTERVAL = 100_000;

export interface ReplayEvent {
  t: number;
  interval: number;
  prefill: number | null;
  decode: number | null;
  source: 'throughput' | 'load';
}

export interface ReplayLine {
  /** Replica counts after the interval (the last decision applied, else the current counts). */
  prefill: number | null;
  decode: number | null;
  /**
   * The throughput tick reached a plan: it scaled, or (load scaling on) set the floor. False when
   * it held (idle or invalid interval, failed forecast). Load-tick calls show up in `events`.
   */
  decided: boolean;
  /** The throughput tick's reason; with load scaling on, the load ticks' holds of the interval by code. */
  reason: DecisionReason & { load_holds?: Partial<Record<HoldCode, number>> };
  predicted: { prefill: PredictedLoad | null; decode: PredictedLoad | null } | null;
  correction_factor: { prefill: number; decode: number };
  planned: PlannedCounts;
  events: ReplayEvent[];
}

/**
 * Which scrape the router would have returned at time `s` (seconds after start): observation k
 * covers (k·I, (k+1)·I] and its `router_samples` are spread evenly over it; a lone `router`
 * snapshot stands for the whole interval.
 */
export function snapshotAt(observations: readonly IntervalObservation[], intervalS: number, s: number): RouterSnapshot | undefined {
  if (!(s > 0)) return undefined;
  const k = Math.ceil(s / intervalS) - 1;
  const obs = observations[k];
  if (obs === undefined) return undefined;
  const samples = obs.router_samples ?? (obs.router ? [obs.router] : undefined);
  if (samples === undefined || samples.length === 0) return undefined;
  const j = Math.min(samples.length - 1, Math.floor(((s - k * intervalS) * samples.length) / intervalS));
  return samples[j];
}

export function* replayObservations(planner: Planner, observations: readonly IntervalObservation[]): Generator<ReplayLine> {
  const cfg: PlannerConfig = planner.config;
  const intervalS = cfg.throughput_adjustment_interval;
  const loadS = cfg.load_adjustment_interval;
  const scrapeS = loadS / cfg.load_metric_samples;
  if (cfg.enable_load_scaling && (intervalS / loadS) * cfg.load_metric_samples > MAX_SCRAPES_PER_INTERVAL) {
    throw new InputError(
      `throughput_adjustment_interval ${intervalS} s / load_adjustment_interval ${loadS} s x load_metric_samples ${cfg.load_metric_samples} is more than ${MAX_SCRAPES_PER_INTERVAL} router scrapes per interval to replay; lengthen load_adjustment_interval or lower load_metric_samples.`,
    );
  }
  const managed = { prefill: planner.manages('prefill'), decode: planner.manages('decode') };
  // Before any decision the deployment runs min_endpoint replicas per managed pool.
  const applied: ReplicaCounts = { prefill: managed.prefill ? cfg.min_endpoint : 0, decode: managed.decode ? cfg.min_endpoint : 0 };
  let loadTick = 1; // the load loop sleeps one interval before its first tick

  const apply = (d: Decision) => {
    if (d.prefill !== null) applied.prefill = d.prefill;
    if (d.decode !== null) applied.decode = d.decode;
  };

  for (let k = 0; k < observations.length; k++) {
    const obs = observations[k];
    const current = (): ReplicaCounts => ({
      prefill: obs.current_prefill ?? applied.prefill,
      decode: obs.current_decode ?? applied.decode,
    });
    const events: ReplayEvent[] = [];
    const loadHolds: Partial<Record<HoldCode, number>> = {};

    if (cfg.enable_load_scaling) {
      for (; loadTick * loadS < (k + 1) * intervalS; loadTick++) {
        const tau = loadTick * loadS;
        const samples: RouterSnapshot[] = [];
        for (let i = cfg.load_metric_samples - 1; i >= 0; i--) {
          const snap = snapshotAt(observations, intervalS, tau - i * scrapeS);
          if (snap !== undefined) samples.push(snap);
        }
        const decision = planner.decideLoad(samples, current());
        if (!decision.decided) {
          const code = decision.reason.code as HoldCode;
          loadHolds[code] = (loadHolds[code] ?? 0) + 1;
          continue;
        }
        apply(decision);
        events.push({ t: tau + CLOCK_OFFSET_S, interval: Math.floor(tau / intervalS), prefill: decision.prefill, decode: decision.decode, source: 'load' });
      }
    }

    const decision = planner.decideThroughput(obs, current());
    const tau = (k + 1) * intervalS;
    if (decision.decided) {
      apply(decision);
      events.push({ t: tau + CLOCK_OFFSET_S, interval: k, prefill: decision.prefill, decode: decision.decode, source: 'throughput' });
    }
    const state = planner.state();
    const reason = cfg.enable_load_scaling ? { ...decision.reason, load_holds: loadHolds } : decision.reason;
    const predicted = predictedOf(decision.reason);
    const after = events.length > 0 ? applied : current();
    yield {
      prefill: managed.prefill ? after.prefill : null,
      decode: managed.decode ? after.decode : null,
      decided: decision.decided || decision.reason.code === 'set_lower_bound',
      reason,
      predicted: predicted ? { prefill: managed.prefill ? predicted : null, decode: managed.decode ? predicted : null } : null,
      correction_factor: state.correctionFactor,
      planned: plannedOf(decision.reason) ?? { prefill: null, decode: null },
      events,
    };
  }
}
