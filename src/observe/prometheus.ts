// Traffic over one throughput interval from Prometheus, with the original's PromQL
// (increase() of the frontend's counters and histogram sums over the interval) and its client-side filtering, mapped to an IntervalObservation.
//
// Three outcomes are kept apart: "no matching series" reads 0 (a valid observation, as upstream);
// a 0/0 histogram ratio (idle window) reads NaN and becomes an unobserved field, which the
// decision code turns into "no decision"; a transport/HTTP error or timeout is a hold with a reason
// (upstream reads 0 there, which would let a Prometheus outage scale the deployment down).
import { readFileSync } from 'node:fs';
import type { PrometheusDriver } from 'prometheus-query';
import { HttpError, excerpt, httpRequest, parseJsonBody, type HttpFaultKind, type HttpResponse } from '../net/http.js';
import { isPlainObject } from '../util/objects.js';
import { histogramProblem, MAX_HISTOGRAM_BUCKETS, type HistogramWindow } from '../scaling/moments.js';
import type { IntervalObservation } from '../scaling/observation.js';

export type TrafficField = 'ttft' | 'itl' | 'num_req' | 'request_duration' | 'isl' | 'osl';

const FRONTEND_HISTOGRAMS: Record<Exclude<TrafficField, 'num_req'>, string> = {
  ttft: 'dynamo_frontend_time_to_first_token_seconds',
  itl: 'dynamo_frontend_inter_token_latency_seconds',
  request_duration: 'dynamo_frontend_request_duration_seconds',
  isl: 'dynamo_frontend_input_sequence_tokens',
  osl: 'dynamo_frontend_output_sequence_tokens',
};

const ROUTER_METRICS: Record<TrafficField, string> = {
  ttft: 'router_time_to_first_token_seconds',
  itl: 'router_inter_token_latency_seconds',
  num_req: 'router_requests_total',
  request_duration: 'request_duration_seconds',
  isl: 'router_input_sequence_tokens',
  osl: 'router_output_sequence_tokens',
};

/** Query order of the original: TTFT, ITL, request count, duration, ISL, OSL. */
export const TRAFFIC_FIELDS: TrafficField[] = ['ttft', 'itl', 'num_req', 'request_duration', 'isl', 'osl'];

/**
 * What `num_req` counts: `finished` requests (`requests_total`, +1 when a request ends: the
 * original's pin) or `started` ones (`requests_started_total`, the offered load, which newer
 * upstream prefers; a saturated pool's completions only show its own capacity).
 */
export type NumReqSource = 'finished' | 'started';

export function frontendQuery(field: TrafficField, intervalS: number, numReqSource: NumReqSource = 'finished'): string {
  const I = `${intervalS}s`;
  if (field === 'num_req') {
    return numReqSource === 'started' ? `increase(dynamo_frontend_requests_started_total[${I}])` : `increase(dynamo_frontend_requests_total[${I}])`;
  }
  const m = FRONTEND_HISTOGRAMS[field];
  return `increase(${m}_sum[${I}])/increase(${m}_count[${I}])`;
}

export function routerQuery(field: TrafficField, intervalS: number, dynamoNamespace: string, numReqSource: NumReqSource = 'finished'): string {
  const I = `${intervalS}s`;
  const sel = `{dynamo_namespace="${dynamoNamespace.replace(/-/g, '_')}"}`;
  const m = ROUTER_METRICS[field];
  if (field === 'num_req' && numReqSource === 'started') {
    // Started count where the router exports it, else the finished count (newer upstream's query).
    return `sum(increase(dynamo_component_router_requests_started_total${sel}[${I}]) or ignoring(__name__) increase(dynamo_component_${m}${sel}[${I}]))`;
  }
  if (field === 'num_req') return `sum(increase(dynamo_component_${m}${sel}[${I}]))`;
  return `sum(increase(dynamo_component_${m}_sum${sel}[${I}])) / sum(increase(dynamo_component_${m}_count${sel}[${I}]))`;
}

export interface SeriesValue {
  labels: Record<string, string>;
  value: number;
}

/**
 * Client-side filter of the original: model compared case-insensitively, dynamo_namespace exactly.
 * A null model filters on the namespace only (the original would need a model name here).
 */
export function matchingValues(series: SeriesValue[], modelName: string | null, dynamoNamespace: string): number[] {
  const model = modelName?.toLowerCase();
  return series
    .filter((s) => (model === undefined || (s.labels.model ?? '').toLowerCase() === model) && s.labels.dynamo_namespace === dynamoNamespace)
    .map((s) => s.value);
}

/** Frontend post-processing: sum for the counter, unweighted mean for ratios; [] → 0. */
export function aggregateFrontend(field: TrafficField, values: number[]): number {
  if (values.length === 0) return 0;
  const total = values.reduce((a, b) => a + b, 0);
  return field === 'num_req' ? total : total / values.length;
}

/**
 * Why a query gave no value. unreachable: no connection; timeout: no complete answer by the
 * deadline; tls: certificate refused; too_large: answer over the size cap; auth: 401/403 or an
 * unreadable token file; unavailable: 5xx or 429 (Prometheus or a proxy up but not serving);
 * http: another non-2xx (the query was refused); bad_response: a 2xx that is not a Prometheus
 * answer (an HTML page, JSON null, status "error", no result vector).
 */
export type TrafficErrorKind =
  | 'prometheus_unreachable' | 'prometheus_timeout' | 'prometheus_tls' | 'prometheus_too_large'
  | 'prometheus_auth' | 'prometheus_unavailable' | 'prometheus_http' | 'prometheus_bad_response';

export class PrometheusFault extends Error {
  override readonly name = 'PrometheusFault';
  constructor(readonly kind: TrafficErrorKind, message: string) {
    super(message);
  }
}

export type TrafficResult =
  | {
    ok: true; observation: IntervalObservation; raw: Record<TrafficField, number>; idle: boolean; emptyFields: TrafficField[];
    /**
     * Set when Prometheus has frontend series but none match this deployment's model and
     * dynamo_namespace: usually a scrape set-up without the Helm PodMonitor that adds the
     * dynamo_namespace label, or a wrong namespace/model_name. Upstream then silently reads 0.
     */
    unmatched?: UnmatchedLabels;
  }
  | { ok: false; kind: TrafficErrorKind; message: string };

export interface TrafficObserverOptions {
  endpoint: string;
  intervalS: number;
  source: 'frontend' | 'router';
  modelName: string | null;
  dynamoNamespace: string;
  /** Deadline of one query, connect to last byte (default 5000). */
  timeoutMs?: number;
  /** Largest answer accepted, bytes (default PROMETHEUS_MAX_BYTES). */
  maxBytes?: number;
  /** Default `finished` (the original's pin). */
  numReqSource?: NumReqSource;
  /**
   * https only. Default: no verification, as the original. `ca` (PEM text) trusts a private CA
   * and implies verification.
   */
  tls?: { verify: boolean; ca?: string };
  /** Bearer token file, read at every query so a rotated token applies at once. */
  tokenFile?: string;
}

/** Our queries aggregate to a few series per model; 8 MiB is thousands of them. */
export const PROMETHEUS_MAX_BYTES = 8 * 1024 * 1024;
/** More series than any deployment's frontends export for one query: a wrong or hostile answer. */
export const PROMETHEUS_MAX_SERIES = 10_000;

const HTTP_KIND: Record<HttpFaultKind, TrafficErrorKind> = {
  timeout: 'prometheus_timeout', unreachable: 'prometheus_unreachable', tls: 'prometheus_tls',
  too_large: 'prometheus_too_large', cut_off: 'prometheus_unreachable', cancelled: 'prometheus_timeout',
};

function statusKind(status: number): TrafficErrorKind {
  if (status === 401 || status === 403) return 'prometheus_auth';
  if (status >= 500 || status === 429) return 'prometheus_unavailable';
  return 'prometheus_http';
}

/** The parts of the request prometheus-query hands its transport. */
interface DriverRequest {
  baseURL?: string;
  url?: string;
  method?: string;
  params?: URLSearchParams;
  data?: unknown;
  headers?: { toJSON?(): Record<string, unknown> };
}

function requestUrl(req: DriverRequest): string {
  const base = (req.baseURL ?? '').replace(/\/+$/, '');
  const path = (req.url ?? '').replace(/^\/+/, '');
  const url = new URL(path ? `${base}/${path}` : base);
  if (req.params instanceof URLSearchParams) for (const [k, v] of req.params) url.searchParams.append(k, v);
  return url.toString();
}

/**
 * prometheus-query builds the PromQL request and reads the result; this is its transport: the
 * daemon's one HTTP client with a deadline, a size cap, TLS and the bearer token, and a check that
 * a 2xx answer really is a Prometheus vector answer. Every failure is a PrometheusFault.
 */
export function prometheusTransport(opts: Pick<TrafficObserverOptions, 'tls' | 'tokenFile' | 'timeoutMs' | 'maxBytes'>) {
  const tls = { verify: Boolean(opts.tls?.verify || opts.tls?.ca), ca: opts.tls?.ca };
  return async (req: DriverRequest) => {
    const url = requestUrl(req);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.tokenFile) {
      let token: string;
      try {
        token = readFileSync(opts.tokenFile, 'utf8').trim();
      } catch (err) {
        throw new PrometheusFault('prometheus_auth', `cannot read metric_pulling_prometheus_token_file ${opts.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? err}`);
      }
      headers.authorization = `Bearer ${token}`;
    }
    const method = (req.method ?? 'get').toUpperCase() === 'POST' ? 'POST' : 'GET';
    if (method === 'POST') headers['content-type'] = 'application/x-www-form-urlencoded';
    let res: HttpResponse;
    try {
      res = await httpRequest(url, {
        method, headers, body: method === 'POST' && typeof req.data === 'string' ? req.data : undefined,
        timeoutMs: opts.timeoutMs ?? 5000, maxBytes: opts.maxBytes ?? PROMETHEUS_MAX_BYTES, tls,
      });
    } catch (err) {
      if (err instanceof HttpError) throw new PrometheusFault(HTTP_KIND[err.kind], err.message);
      throw err;
    }
    const json = parseJsonBody(res);
    if (res.status < 200 || res.status >= 300) {
      const detail = json.ok && isPlainObject(json.value) && typeof json.value.error === 'string' ? json.value.error : excerpt(res.body, 120);
      throw new PrometheusFault(statusKind(res.status), `${url.split('?')[0]} answered HTTP ${res.status}: ${detail}`);
    }
    if (!json.ok) throw new PrometheusFault('prometheus_bad_response', `${url.split('?')[0]} answered HTTP ${res.status} but the ${json.why}`);
    const answer = json.value;
    if (!isPlainObject(answer) || answer.status !== 'success' || !isPlainObject(answer.data)) {
      throw new PrometheusFault('prometheus_bad_response', `${url.split('?')[0]}: not a Prometheus API answer (expected {"status": "success", "data": {...}}, got ${excerpt(JSON.stringify(answer) ?? String(answer), 80)})`);
    }
    const result = answer.data.result;
    if (answer.data.resultType !== 'vector' || !Array.isArray(result)) {
      throw new PrometheusFault('prometheus_bad_response', `${url.split('?')[0]}: expected an instant vector, got resultType ${JSON.stringify(answer.data.resultType)}`);
    }
    if (result.length > PROMETHEUS_MAX_SERIES) {
      throw new PrometheusFault('prometheus_too_large', `${url.split('?')[0]}: ${result.length} series in one answer, over the ${PROMETHEUS_MAX_SERIES} limit`);
    }
    for (const r of result) {
      if (!isPlainObject(r) || !Array.isArray(r.value) || r.value.length !== 2 || (r.metric !== undefined && !isPlainObject(r.metric))) {
        throw new PrometheusFault('prometheus_bad_response', `${url.split('?')[0]}: a series is not {"metric": {...}, "value": [time, "number"]}`);
      }
    }
    return { data: answer, status: res.status, statusText: '', headers: res.headers, config: req, request: {} };
  };
}

/** What prometheus-query rejected with, as one of our faults (its own wrapper keeps ours as `original`). */
function asFault(err: unknown): PrometheusFault {
  const original = (err as { original?: unknown } | null)?.original;
  if (original instanceof PrometheusFault) return original;
  if (err instanceof PrometheusFault) return err;
  const message = err instanceof Error ? err.message : (err as { error?: string } | null)?.error ?? String(err);
  return new PrometheusFault('prometheus_bad_response', `Prometheus answer not understood: ${message}`);
}

interface QueryOutcome {
  value: number;
  empty: boolean;
  /** Series existed but none passed the model/namespace filter: what they carry instead. */
  unmatched?: UnmatchedLabels;
}

/** Label values of series the client-side filter dropped (a few of each, for a log line). */
export interface UnmatchedLabels {
  dynamo_namespace: string[];
  model: string[];
}

function unmatchedLabels(series: SeriesValue[]): UnmatchedLabels {
  const distinct = (key: string) => [...new Set(series.map((s) => s.labels[key] ?? '(none)'))].slice(0, 5);
  return { dynamo_namespace: distinct('dynamo_namespace'), model: distinct('model') };
}

// prometheus-query's self-contained build (the one it ships for browsers), with axios's small
// browser core inlined: its Node entry requires the Node axios with its HTTP stack, form-data, MIME
// table and proxy agents (~4 MB resident), none of which runs, since every request goes through our
// transport. (A specifier in a variable: the package declares types for its main entry only.)
const PROMETHEUS_QUERY_BUNDLE = 'prometheus-query/dist/prometheus-query.umd.js';
function loadPrometheusQuery(): Promise<typeof import('prometheus-query')> {
  return (import(PROMETHEUS_QUERY_BUNDLE) as Promise<{ default: typeof import('prometheus-query') }>).then((m) => m.default);
}

/** One PromQL round per throughput tick. Never throws. */
export class TrafficObserver {
  private driver: Promise<PrometheusDriver> | undefined;

  constructor(private readonly opts: TrafficObserverOptions) {}

  /** Loaded on first use: load-only runs never query Prometheus. */
  private getDriver(): Promise<PrometheusDriver> {
    return (this.driver ??= loadPrometheusQuery().then(({ PrometheusDriver }) => {
      const adapter = prometheusTransport(this.opts);
      return new PrometheusDriver({
        endpoint: this.opts.endpoint.replace(/\/+$/, ''), baseURL: '/api/v1',
        // The driver's requests go through our transport (deadline, size cap, TLS, token, typed
        // faults) instead of axios's own HTTP stack.
        requestInterceptor: { onFulfilled: ((config: { adapter?: unknown }) => Object.assign(config, { adapter })) as never },
      });
    }));
  }

  queryFor(field: TrafficField, numReqSource: NumReqSource = this.opts.numReqSource ?? 'finished'): string {
    return this.opts.source === 'router'
      ? routerQuery(field, this.opts.intervalS, this.opts.dynamoNamespace, numReqSource)
      : frontendQuery(field, this.opts.intervalS, numReqSource);
  }

  private async queryOne(field: TrafficField): Promise<QueryOutcome> {
    const result = await this.queryWith(field, this.opts.numReqSource ?? 'finished');
    // A frontend too old to export requests_started_total: fall back to the finished count, as
    // newer upstream does.
    if (result.empty && field === 'num_req' && this.opts.numReqSource === 'started' && this.opts.source === 'frontend') {
      return this.queryWith(field, 'finished');
    }
    return result;
  }

  private async queryWith(field: TrafficField, numReqSource: NumReqSource): Promise<QueryOutcome> {
    const series = await this.seriesOf(this.queryFor(field, numReqSource));
    if (this.opts.source === 'router') {
      // Router source: the selector is in the PromQL; NaN reads 0 (upstream).
      const v = series[0]?.value;
      return { value: v === undefined || Number.isNaN(v) ? 0 : v, empty: series.length === 0 };
    }
    const values = matchingValues(series, this.opts.modelName, this.opts.dynamoNamespace);
    const outcome: QueryOutcome = { value: aggregateFrontend(field, values), empty: values.length === 0 };
    if (outcome.empty && series.length > 0) outcome.unmatched = unmatchedLabels(series);
    return outcome;
  }

  /**
   * The frontend's ISL, OSL and TTFT histograms over the interval, bucket by bucket (the sla
   * strategy's inputs; the router source has no such series, so it returns none). Never throws.
   */
  async observeHistograms(): Promise<HistogramResult> {
    if (this.opts.source !== 'frontend') return { ok: true, histograms: {} };
    const histograms: Partial<Record<HistogramField, HistogramWindow>> = {};
    try {
      for (const field of HISTOGRAM_FIELDS) {
        const buckets = await this.seriesOf(frontendBucketQuery(field, this.opts.intervalS));
        const sums = await this.seriesOf(frontendHistogramSumQuery(field, this.opts.intervalS));
        const h = histogramFromSeries(buckets, sums, this.opts.modelName, this.opts.dynamoNamespace);
        if (h !== undefined) histograms[field] = h;
      }
    } catch (err) {
      const fault = asFault(err);
      return { ok: false, kind: fault.kind, message: fault.message };
    }
    return { ok: true, histograms };
  }

  private async seriesOf(query: string): Promise<SeriesValue[]> {
    const res = await (await this.getDriver()).instantQuery(query);
    if (!res || !Array.isArray(res.result)) throw new PrometheusFault('prometheus_bad_response', 'no result vector in the answer');
    return res.result.map((r: { metric?: { labels?: Record<string, string> }; value?: { value?: number } }) => ({
      labels: (r.metric?.labels ?? {}) as Record<string, string>,
      value: Number(r.value?.value),
    }));
  }

  async observe(): Promise<TrafficResult> {
    const raw = {} as Record<TrafficField, number>;
    const emptyFields: TrafficField[] = [];
    let unmatched: UnmatchedLabels | undefined;
    try {
      for (const field of TRAFFIC_FIELDS) {
        const { value, empty, unmatched: u } = await this.queryOne(field);
        raw[field] = value;
        unmatched ??= u;
        if (empty) emptyFields.push(field);
      }
    } catch (err) {
      const fault = asFault(err);
      return { ok: false, kind: fault.kind, message: fault.message };
    }
    // Scaled first: a finite value in seconds can overflow to Infinity in ms (1e308 s).
    const ms = (v: number) => (Number.isFinite(v * 1000) ? v * 1000 : null);
    const plain = (v: number) => (Number.isFinite(v) ? v : null);
    const observation: IntervalObservation = {
      num_req: plain(raw.num_req),
      isl: plain(raw.isl),
      osl: plain(raw.osl),
      ttft: ms(raw.ttft),
      itl: ms(raw.itl),
      request_duration: plain(raw.request_duration),
    };
    const idle = TRAFFIC_FIELDS.some((f) => !Number.isFinite(raw[f]));
    return { ok: true, observation, raw, idle, emptyFields, ...(unmatched ? { unmatched } : {}) };
  }
}

// ---------------------------------------------------------------- histogram buckets (sla strategy)

/**
 * The frontend histograms whose buckets the sla strategy reads: ISL and OSL for the length moments
 * of KV-aware decode sizing, TTFT for the share of requests over the target (ttft_feedback).
 */
export const BUCKET_HISTOGRAMS = {
  isl_histogram: 'dynamo_frontend_input_sequence_tokens',
  osl_histogram: 'dynamo_frontend_output_sequence_tokens',
  ttft_histogram: 'dynamo_frontend_time_to_first_token_seconds',
} as const;

export type HistogramField = keyof typeof BUCKET_HISTOGRAMS;
export const HISTOGRAM_FIELDS = Object.keys(BUCKET_HISTOGRAMS) as HistogramField[];

/** increase() of every bucket over the interval, kept apart by the labels the client-side filter reads. */
export function frontendBucketQuery(field: HistogramField, intervalS: number): string {
  return `sum by (le, model, dynamo_namespace) (increase(${BUCKET_HISTOGRAMS[field]}_bucket[${intervalS}s]))`;
}

/** increase() of the histogram's sum over the interval, by the same labels. */
export function frontendHistogramSumQuery(field: HistogramField, intervalS: number): string {
  return `sum by (model, dynamo_namespace) (increase(${BUCKET_HISTOGRAMS[field]}_sum[${intervalS}s]))`;
}

/**
 * The matching bucket series summed per `le`, as a histogram window; undefined when no series
 * matches, the +Inf bucket is missing, or there are more buckets than any frontend exports.
 * increase() extrapolates each bucket on its own, so the counts are made non-decreasing here.
 */
export function histogramFromSeries(
  buckets: SeriesValue[],
  sums: SeriesValue[],
  modelName: string | null,
  dynamoNamespace: string,
): HistogramWindow | undefined {
  const model = modelName?.toLowerCase();
  const matches = (s: SeriesValue) =>
    (model === undefined || (s.labels.model ?? '').toLowerCase() === model) && s.labels.dynamo_namespace === dynamoNamespace;
  const byLe = new Map<number, number>();
  for (const s of buckets) {
    if (!matches(s) || !Number.isFinite(s.value)) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    if (Number.isNaN(le)) continue;
    byLe.set(le, (byLe.get(le) ?? 0) + Math.max(0, s.value));
    if (byLe.size > MAX_HISTOGRAM_BUCKETS + 1) return undefined;
  }
  const total = byLe.get(Infinity);
  if (total === undefined) return undefined;
  const le = [...byLe.keys()].filter(Number.isFinite).sort((a, b) => a - b);
  if (le.length === 0) return undefined;
  const cumulative: number[] = [];
  let running = 0;
  for (const b of le) cumulative.push((running = Math.max(running, byLe.get(b)!)));
  cumulative.push(Math.max(running, total));
  let sum = 0;
  for (const s of sums) if (matches(s) && Number.isFinite(s.value)) sum += Math.max(0, s.value);
  const h: HistogramWindow = { le, cumulative, sum };
  return histogramProblem(h) === undefined ? h : undefined;
}

export type HistogramResult =
  | { ok: true; histograms: Partial<Record<HistogramField, HistogramWindow>> }
  | { ok: false; kind: TrafficErrorKind; message: string };
