// The planner's own /metrics: the original's unlabelled planner:* gauges (names and meanings kept so existing dashboards work) plus
// sla-planner's counters and histograms (prefix sla_planner_), and the standard process_* / nodejs_* metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from './prom.js';
import { DYNAMO_PLANNER_NAMES } from './metric-names.js';
import { UnsetGauge } from './unset-gauge.js';

/**
 * Period of the event-loop-delay sampler behind nodejs_eventloop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds.
 * prom-client's default (10 ms) wakes an idle daemon 100 times a second, about 7 ms of CPU per second;
 * once a second still catches a blocked loop. Every other standard metric, nodejs_eventloop_lag_seconds
 * included, is read when /metrics is scraped (GC durations as collections happen).
 */
export const EVENT_LOOP_SAMPLE_MS = 1000;

const ORIGINAL_GAUGES = {
  numP: ['planner:num_p_workers', 'Current ready prefill workers'],
  numD: ['planner:num_d_workers', 'Current ready decode workers'],
  observedTtft: ['planner:observed_ttft', 'Observed TTFT over the last throughput interval, ms'],
  observedItl: ['planner:observed_itl', 'Observed ITL over the last throughput interval, ms'],
  observedRate: ['planner:observed_request_rate', 'Observed requests per second over the last throughput interval'],
  observedDuration: ['planner:observed_request_duration', 'Observed mean request duration, s'],
  observedIsl: ['planner:observed_isl', 'Observed mean input sequence length, tokens'],
  observedOsl: ['planner:observed_osl', 'Observed mean output sequence length, tokens'],
  pCorrection: ['planner:p_correction_factor', 'Prefill correction factor (observed / profiled TTFT)'],
  dCorrection: ['planner:d_correction_factor', 'Decode correction factor (observed / profiled ITL)'],
  predictedRate: ['planner:predicted_request_rate', 'Forecast requests per second for the next interval'],
  predictedIsl: ['planner:predicted_isl', 'Forecast mean ISL for the next interval'],
  predictedOsl: ['planner:predicted_osl', 'Forecast mean OSL for the next interval'],
  predictedNumP: ['planner:predicted_num_p', 'Prefill replicas decided (after the GPU budget)'],
  predictedNumD: ['planner:predicted_num_d', 'Decode replicas decided (after the GPU budget)'],
  gpuHours: ['planner:gpu_hours', 'Cumulative GPU hours of the managed pools'],
} as const;

export type OriginalGauge = keyof typeof ORIGINAL_GAUGES;

export interface MetricsOptions {
  /** Which names the planner gauges are exported under (config planner_metric_names). */
  names?: 'both' | 'planner' | 'dynamo_planner';
}

export class PlannerMetrics {
  readonly registry = new Registry();
  private readonly gauges: Record<OriginalGauge, UnsetGauge[]>;
  readonly decisionDuration: Histogram<'loop'>;
  readonly dataSourceErrors: Counter<'kind'>;
  readonly holds: Counter<'reason'>;
  readonly decisions: Counter<'loop' | 'outcome'>;
  readonly targetReplicas: Gauge<'pool'>;
  readonly gpusInUse: Gauge;
  readonly gpuBudget: Gauge;
  readonly ready: Gauge;
  readonly buildInfo: Gauge<'version' | 'strategy' | 'mode'>;
  readonly lastDecisionTimestamp: Gauge<'loop'>;
  readonly slaTarget: Gauge<'metric'>;

  constructor(defaultMetrics = true, opts: MetricsOptions = {}) {
    if (defaultMetrics) collectDefaultMetrics(this.registry, EVENT_LOOP_SAMPLE_MS);
    const names = opts.names ?? 'both';
    // Unset until first observed: a gauge reading 0 workers before the first tick is a lie.
    this.gauges = Object.fromEntries(
      Object.entries(ORIGINAL_GAUGES).map(([k, [name, help]]) => [k, [
        ...(names !== 'dynamo_planner' ? [new UnsetGauge({ name, help, registers: [this.registry] })] : []),
        ...(names !== 'planner' ? [new UnsetGauge({ name: DYNAMO_PLANNER_NAMES[k as OriginalGauge], help, registers: [this.registry] })] : []),
      ]]),
    ) as Record<OriginalGauge, UnsetGauge[]>;
    this.decisionDuration = new Histogram({
      name: 'sla_planner_decision_duration_seconds', help: 'Time of one tick: observe, decide, actuate',
      labelNames: ['loop'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30], registers: [this.registry],
    });
    this.dataSourceErrors = new Counter({ name: 'sla_planner_data_source_errors_total', help: 'Failed reads of Prometheus, the router endpoint or the environment, by kind', labelNames: ['kind'], registers: [this.registry] });
    this.holds = new Counter({ name: 'sla_planner_holds_total', help: 'Ticks that made no scaling call, by reason', labelNames: ['reason'], registers: [this.registry] });
    this.decisions = new Counter({ name: 'sla_planner_decisions_total', help: 'Ticks by loop and actuation outcome', labelNames: ['loop', 'outcome'], registers: [this.registry] });
    this.targetReplicas = new Gauge({ name: 'sla_planner_target_replicas', help: 'Last target replicas per pool', labelNames: ['pool'], registers: [this.registry] });
    this.gpusInUse = new Gauge({ name: 'sla_planner_gpus_in_use', help: 'GPUs used by the managed pools (ready replicas × GPUs per replica)', registers: [this.registry] });
    this.gpuBudget = new Gauge({ name: 'sla_planner_gpu_budget', help: 'max_gpu_budget (negative = no budget)', registers: [this.registry] });
    this.ready = new Gauge({ name: 'sla_planner_ready', help: '1 once config and profile are loaded and a first observation was made', registers: [this.registry] });
    this.buildInfo = new Gauge({ name: 'sla_planner_build_info', help: 'Always 1; the labels say which version, strategy and mode run', labelNames: ['version', 'strategy', 'mode'], registers: [this.registry] });
    this.slaTarget = new Gauge({ name: 'sla_planner_sla_target_ms', help: 'The SLA targets the planner sizes for (config ttft and itl), ms', labelNames: ['metric'], registers: [this.registry] });
    this.lastDecisionTimestamp = new Gauge({ name: 'sla_planner_last_decision_timestamp_seconds', help: 'Unix time of the last decision (scale or hold) of each loop', labelNames: ['loop'], registers: [this.registry] });
  }

  set(name: OriginalGauge, value: number | null | undefined): void {
    if (value === null || value === undefined || !Number.isFinite(value)) return;
    for (const g of this.gauges[name]) g.set(value);
  }

  add(name: OriginalGauge, value: number): void {
    if (Number.isFinite(value)) for (const g of this.gauges[name]) g.inc(value);
  }
}
