// What production Prometheus would hold about a simulated deployment: the Dynamo frontend's
// counters and histograms (cumulative, with their default buckets) and the per-worker gauges of the
// router and of the vLLM engines. Cumulative, so a window is an increase() as the planner's PromQL
// computes it, and renderable as Prometheus text, so a live mock can serve the same objects.
import type { WorkerGauges } from './engine.js';

/**
 * The frontend's default histogram upper bounds (without +Inf), as its DYN_METRICS_* defaults
 * produce them.
 */
export const FRONTEND_BUCKETS = {
  ttft_seconds: [0, 0.0022, 0.0047, 0.01, 0.022, 0.047, 0.1, 0.22, 0.47, 1, 2.2, 4.7, 10, 22, 48, 100, 220, 480],
  itl_seconds: [0, 0.0019, 0.0035, 0.0067, 0.013, 0.024, 0.045, 0.084, 0.16, 0.3, 0.56, 1.1, 2],
  isl_tokens: [0, 100, 210, 430, 870, 1800, 3600, 7400, 15000, 31000, 63000, 130000],
  osl_tokens: [0, 100, 210, 430, 880, 1800, 3700, 7600, 16000, 32000],
  request_duration_seconds: [0, 1.9, 3.4, 6.3, 12, 22, 40, 75, 140, 260],
} as const;

type HistogramName = keyof typeof FRONTEND_BUCKETS;
const HISTOGRAMS = Object.keys(FRONTEND_BUCKETS) as HistogramName[];

/** Prometheus metric name of each frontend histogram. */
export const FRONTEND_HISTOGRAM_METRICS: Record<HistogramName, string> = {
  ttft_seconds: 'dynamo_frontend_time_to_first_token_seconds',
  itl_seconds: 'dynamo_frontend_inter_token_latency_seconds',
  isl_tokens: 'dynamo_frontend_input_sequence_tokens',
  osl_tokens: 'dynamo_frontend_output_sequence_tokens',
  request_duration_seconds: 'dynamo_frontend_request_duration_seconds',
};

/** A histogram as Prometheus stores it: cumulative counts per upper bound (the last is +Inf). */
export interface HistogramSnapshot {
  /** Upper bounds without +Inf. */
  bounds: readonly number[];
  /** cumulative[i] = observations <= bounds[i]; cumulative[bounds.length] = count (+Inf). */
  cumulative: number[];
  sum: number;
  count: number;
}

export class CumulativeHistogram {
  private readonly perBucket: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.perBucket = new Float64Array(bounds.length + 1);
  }

  observe(value: number, weight = 1): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.perBucket[i] += weight;
    this.sum += value * weight;
    this.count += weight;
  }

  snapshot(): HistogramSnapshot {
    const cumulative: number[] = [];
    let c = 0;
    for (const n of this.perBucket) cumulative.push((c += n));
    return { bounds: this.bounds, cumulative, sum: this.sum, count: this.count };
  }
}

/** The frontend's series at one instant (counters and histograms are cumulative since start). */
export interface FrontendSnapshot {
  t_s: number;
  /** dynamo_frontend_requests_started_total: +1 per arrival. */
  requests_started: number;
  /** dynamo_frontend_requests_total{status="success"}: +1 per finished request. */
  requests_succeeded: number;
  /** dynamo_frontend_requests_total{status="error"}: requests the engine refused (too long for its KV cache). */
  requests_failed: number;
  /** dynamo_frontend_inflight_requests (gauge). */
  inflight: number;
  histograms: Record<HistogramName, HistogramSnapshot>;
}

/** What increase(x[window]) shows over (from_s, to_s]; `inflight` is the gauge at to_s. */
export interface FrontendWindow extends Omit<FrontendSnapshot, 't_s'> {
  from_s: number;
  to_s: number;
}

export function histogramIncrease(a: HistogramSnapshot, b: HistogramSnapshot): HistogramSnapshot {
  return { bounds: b.bounds, cumulative: b.cumulative.map((v, i) => v - a.cumulative[i]), sum: b.sum - a.sum, count: b.count - a.count };
}

export function frontendIncrease(a: FrontendSnapshot, b: FrontendSnapshot): FrontendWindow {
  const histograms = {} as Record<HistogramName, HistogramSnapshot>;
  for (const h of HISTOGRAMS) histograms[h] = histogramIncrease(a.histograms[h], b.histograms[h]);
  return {
    from_s: a.t_s,
    to_s: b.t_s,
    requests_started: b.requests_started - a.requests_started,
    requests_succeeded: b.requests_succeeded - a.requests_succeeded,
    requests_failed: b.requests_failed - a.requests_failed,
    inflight: b.inflight,
    histograms,
  };
}

/** sum / count, or null for an empty histogram (PromQL's 0/0). */
export function histogramMean(h: HistogramSnapshot): number | null {
  return h.count > 0 ? h.sum / h.count : null;
}

/**
 * PromQL's histogram_quantile: linear interpolation inside the bucket holding rank q*count; the
 * lowest bucket starts at 0 (or its bound when that is <= 0); a rank in +Inf returns the highest
 * finite bound. Null when empty.
 */
export function histogramQuantile(q: number, h: HistogramSnapshot): number | null {
  if (!(h.count > 0)) return null;
  if (q <= 0) return h.bounds.length > 0 && h.bounds[0] < 0 ? h.bounds[0] : 0;
  const rank = Math.min(1, q) * h.count;
  let i = 0;
  while (i < h.bounds.length && h.cumulative[i] < rank) i++;
  if (i === h.bounds.length) return h.bounds.length > 0 ? h.bounds[h.bounds.length - 1] : null;
  const upper = h.bounds[i];
  const lower = i === 0 ? Math.min(0, upper) : h.bounds[i - 1];
  const below = i === 0 ? 0 : h.cumulative[i - 1];
  const inBucket = h.cumulative[i] - below;
  if (i === 0 && upper <= 0) return upper;
  return inBucket > 0 ? lower + (upper - lower) * ((rank - below) / inBucket) : upper;
}

/** The frontend's metrics, fed by the simulator at the moments the real frontend observes. */
export class FrontendMetrics {
  requestsStarted = 0;
  requestsSucceeded = 0;
  requestsFailed = 0;
  inflight = 0;
  readonly ttft = new CumulativeHistogram(FRONTEND_BUCKETS.ttft_seconds);
  readonly itl = new CumulativeHistogram(FRONTEND_BUCKETS.itl_seconds);
  readonly isl = new CumulativeHistogram(FRONTEND_BUCKETS.isl_tokens);
  readonly osl = new CumulativeHistogram(FRONTEND_BUCKETS.osl_tokens);
  readonly duration = new CumulativeHistogram(FRONTEND_BUCKETS.request_duration_seconds);

  started(): void {
    this.requestsStarted++;
    this.inflight++;
  }

  /** First response chunk: TTFT and ISL are observed then. */
  firstToken(ttftS: number, isl: number): void {
    this.ttft.observe(ttftS);
    this.isl.observe(isl);
  }

  /** End of stream. The frontend observes one ITL per token; the simulator knows each request's mean gap. */
  finished(durationS: number, osl: number, itlS: number | null): void {
    this.requestsSucceeded++;
    this.inflight--;
    this.osl.observe(osl);
    this.duration.observe(durationS);
    if (itlS !== null && osl > 1) this.itl.observe(itlS, osl - 1);
  }

  failed(): void {
    this.requestsFailed++;
    this.inflight--;
  }

  snapshot(nowS: number): FrontendSnapshot {
    return {
      t_s: nowS,
      requests_started: this.requestsStarted,
      requests_succeeded: this.requestsSucceeded,
      requests_failed: this.requestsFailed,
      inflight: this.inflight,
      histograms: {
        ttft_seconds: this.ttft.snapshot(),
        itl_seconds: this.itl.snapshot(),
        isl_tokens: this.isl.snapshot(),
        osl_tokens: this.osl.snapshot(),
        request_duration_seconds: this.duration.snapshot(),
      },
    };
  }
}

// ---------------------------------------------------------------- Prometheus text

const num = (v: number): string => (Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v));
const labelText = (labels: Record<string, string>): string => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
};

class TextWriter {
  readonly lines: string[] = [];
  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  }
  sample(name: string, labels: Record<string, string>, value: number): void {
    this.lines.push(`${name}${labelText(labels)} ${num(value)}`);
  }
  histogram(name: string, labels: Record<string, string>, h: HistogramSnapshot): void {
    h.bounds.forEach((le, i) => this.sample(`${name}_bucket`, { ...labels, le: num(le) }, h.cumulative[i]));
    this.sample(`${name}_bucket`, { ...labels, le: '+Inf' }, h.count);
    this.sample(`${name}_sum`, labels, h.sum);
    this.sample(`${name}_count`, labels, h.count);
  }
  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

/** The frontend's /metrics request series (one model, streamed chat completions). */
export function frontendPrometheusText(s: FrontendSnapshot, model: string): string {
  const w = new TextWriter();
  const base = { model, endpoint: 'chat_completions', request_type: 'stream' };
  w.family('dynamo_frontend_requests_started_total', 'counter', 'Requests received.');
  w.sample('dynamo_frontend_requests_started_total', base, s.requests_started);
  w.family('dynamo_frontend_requests_total', 'counter', 'Requests finished, by status.');
  w.sample('dynamo_frontend_requests_total', { ...base, status: 'success', error_type: '' }, s.requests_succeeded);
  w.sample('dynamo_frontend_requests_total', { ...base, status: 'error', error_type: 'validation' }, s.requests_failed);
  w.family('dynamo_frontend_inflight_requests', 'gauge', 'Requests in flight.');
  w.sample('dynamo_frontend_inflight_requests', { model }, s.inflight);
  for (const h of HISTOGRAMS) {
    const name = FRONTEND_HISTOGRAM_METRICS[h];
    w.family(name, 'histogram', h.replace(/_/g, ' ') + '.');
    w.histogram(name, { model }, s.histograms[h]);
  }
  return w.text();
}

/**
 * Per-worker gauges: the router's (served by the frontend, what the load planner scrapes) and the
 * engines' own vLLM series (one set per worker; `worker_id` stands in for the pod labels).
 */
export function workerPrometheusText(workers: WorkerGauges[], model: string, agg = false): string {
  const w = new TextWriter();
  const routed = workers.filter((g) => g.state === 'ready');
  const type = (g: WorkerGauges) => (agg ? 'decode' : g.pool);
  const router = (g: WorkerGauges) => ({ worker_id: String(g.worker_id), dp_rank: '0', worker_type: type(g) });
  const prefillSide = routed.filter((g) => agg || g.pool === 'prefill');
  const decodeSide = routed.filter((g) => g.pool === 'decode');
  const engine = (g: WorkerGauges) => ({ model_name: model, engine: '0', worker_id: String(g.worker_id), worker_type: type(g) });
  const families: Array<[string, 'gauge' | 'counter', string, WorkerGauges[], (g: WorkerGauges) => Record<string, string>, (g: WorkerGauges) => number]> = [
    ['dynamo_frontend_worker_active_prefill_tokens', 'gauge', 'Prefill tokens queued or in prefill per worker.', prefillSide, router, (g) => g.active_prefill_tokens],
    ['dynamo_frontend_worker_last_time_to_first_token_seconds', 'gauge', 'TTFT of the last request per worker.', prefillSide, router, (g) => g.last_ttft_s],
    ['dynamo_frontend_worker_last_input_sequence_tokens', 'gauge', 'ISL of the last request per worker.', prefillSide, router, (g) => g.last_isl],
    ['dynamo_frontend_worker_active_decode_blocks', 'gauge', 'KV blocks of active sequences per worker.', decodeSide, router, (g) => g.active_decode_blocks],
    ['dynamo_frontend_worker_last_inter_token_latency_seconds', 'gauge', 'Last ITL per worker.', decodeSide, router, (g) => g.last_itl_s],
    ['vllm:num_requests_running', 'gauge', 'Requests in the running batch.', workers, engine, (g) => g.num_requests_running],
    ['vllm:num_requests_waiting', 'gauge', 'Requests waiting to be scheduled.', workers, engine, (g) => g.num_requests_waiting],
    ['vllm:kv_cache_usage_perc', 'gauge', 'KV-cache usage, 1 = 100%.', workers, engine, (g) => g.kv_usage],
    ['vllm:num_preemptions_total', 'counter', 'Cumulative preemptions.', workers, engine, (g) => g.preemptions_total],
  ];
  for (const [name, kind, help, which, labels, value] of families) {
    w.family(name, kind, help);
    for (const g of which) w.sample(name, labels(g), value(g));
  }
  return w.text();
}
