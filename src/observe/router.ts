// Per-worker load gauges scraped straight from the frontend/router /metrics (the router's
// per-worker KV, prefill-token and last-latency gauges):
// a background sampler every load_interval/load_metric_samples keeping the last N snapshots.
import { HttpError, httpRequest, type HttpFaultKind } from '../net/http.js';
import type { EngineGauges, RouterSnapshot } from '../scaling/observation.js';
import { parsePromText, type TextSample } from './promtext.js';

/** The five families the original keeps, and the field each becomes. */
export const WORKER_GAUGE_FIELDS: Record<string, string> = {
  dynamo_frontend_worker_active_prefill_tokens: 'active_prefill_tokens',
  dynamo_frontend_worker_active_decode_blocks: 'active_decode_blocks',
  dynamo_frontend_worker_last_time_to_first_token_seconds: 'last_ttft',
  dynamo_frontend_worker_last_input_sequence_tokens: 'last_isl',
  dynamo_frontend_worker_last_inter_token_latency_seconds: 'last_itl',
};

/**
 * Per-worker engine series the sla strategy's saturation rule also reads when the scraped text
 * carries them with the router's worker_id and worker_type labels (vLLM's own names and Dynamo's
 * kvstats; older vLLM names too). A worker the router's gauges do not list is ignored, so extra
 * series can never add workers.
 */
export const ENGINE_GAUGE_FIELDS: Record<string, keyof EngineGauges> = {
  'vllm:kv_cache_usage_perc': 'kv_usage',
  'vllm:gpu_cache_usage_perc': 'kv_usage',
  dynamo_component_kvstats_gpu_cache_usage_percent: 'kv_usage',
  dynamo_component_kvstats_total_blocks: 'kv_total_blocks',
  'vllm:num_requests_waiting': 'num_requests_waiting',
  'vllm:num_preemptions_total': 'preemptions_total',
  'vllm:num_preemptions': 'preemptions_total',
};

/** The frontend's arrivals counter (summed over its label sets): prefill_burst_sizing reads arrivals per scrape from it. */
export const REQUESTS_STARTED_TOTAL = 'dynamo_frontend_requests_started_total';

/** The frontend's KV capacity of one worker serving the model (blocks); the saturation rule's denominator. */
export const MODEL_TOTAL_KV_BLOCKS = 'dynamo_frontend_model_total_kv_blocks';

export const ROUTER_FETCH_TIMEOUT_MS = 2000;

/**
 * Group samples as result[worker_type][worker_id][field]. dp_rank is ignored (later ranks
 * overwrite earlier ones, as upstream); missing labels become "unknown". Non-finite values are
 * dropped so a garbage gauge can never reach the regression.
 */
export function groupWorkerGauges(samples: TextSample[]): RouterSnapshot {
  // Label values come from outside: null-prototype maps, so a worker_id such as "__proto__"
  // is just a key and can never write onto Object.prototype.
  const out: Record<string, Record<string, Record<string, number>>> = Object.create(null);
  for (const s of samples) {
    const field = Object.hasOwn(WORKER_GAUGE_FIELDS, s.name) ? WORKER_GAUGE_FIELDS[s.name] : undefined;
    if (!field || !Number.isFinite(s.value)) continue;
    const type = s.labels.worker_type ?? 'unknown';
    const id = s.labels.worker_id ?? 'unknown';
    ((out[type] ??= Object.create(null))[id] ??= Object.create(null))[field] = s.value;
  }
  // Engine series and the model's KV capacity, for the workers the router listed (a capacity of 0
  // is no capacity: the planner then falls back to the profile's, never to a 0 denominator).
  let modelKvBlocks: number | undefined;
  let started: number | undefined;
  for (const s of samples) {
    if (!Number.isFinite(s.value)) continue;
    if (s.name === REQUESTS_STARTED_TOTAL) {
      if (s.value >= 0) started = (started ?? 0) + s.value;
      continue;
    }
    if (s.name === MODEL_TOTAL_KV_BLOCKS) {
      if (s.value > 0) modelKvBlocks = Math.max(modelKvBlocks ?? 0, s.value);
      continue;
    }
    const field = Object.hasOwn(ENGINE_GAUGE_FIELDS, s.name) ? ENGINE_GAUGE_FIELDS[s.name] : undefined;
    const worker = field && out[s.labels.worker_type ?? 'unknown']?.[s.labels.worker_id ?? 'unknown'];
    if (!field || worker === undefined || (field === 'kv_total_blocks' && !(s.value > 0))) continue;
    worker[field] = s.value;
  }
  if (modelKvBlocks !== undefined) {
    for (const type of ['prefill', 'decode']) for (const g of Object.values(out[type] ?? {})) g.kv_total_blocks ??= modelKvBlocks;
  }
  const snap: RouterSnapshot = {};
  if (started !== undefined) snap.requests_started_total = started;
  if (out.prefill) snap.prefill = out.prefill as unknown as RouterSnapshot['prefill'];
  if (out.decode) snap.decode = out.decode as unknown as RouterSnapshot['decode'];
  return snap;
}

/** A frontend's /metrics is a few hundred bytes per worker; 8 MiB is thousands of workers. */
export const ROUTER_MAX_BYTES = 8 * 1024 * 1024;

export type RouterFetchErrorKind = 'router_unreachable' | 'router_timeout' | 'router_tls' | 'router_too_large' | 'router_http' | 'router_parse';

export class RouterFetchError extends Error {
  override readonly name = 'RouterFetchError';
  constructor(readonly kind: RouterFetchErrorKind, message: string) {
    super(message);
  }
}

const HTTP_KIND: Record<HttpFaultKind, RouterFetchErrorKind> = {
  timeout: 'router_timeout', unreachable: 'router_unreachable', tls: 'router_tls', too_large: 'router_too_large', cut_off: 'router_unreachable', cancelled: 'router_timeout',
};

/** One GET of the metrics URL, parsed and grouped. Throws RouterFetchError. */
export async function fetchRouterSnapshot(url: string, timeoutMs = ROUTER_FETCH_TIMEOUT_MS, maxBytes = ROUTER_MAX_BYTES): Promise<RouterSnapshot> {
  let body: string;
  try {
    const res = await httpRequest(url, { timeoutMs, maxBytes, headers: { accept: 'text/plain' } });
    body = res.body;
    if (res.status !== 200) throw new RouterFetchError('router_http', `GET ${url} answered HTTP ${res.status}`);
  } catch (err) {
    if (err instanceof RouterFetchError) throw err;
    if (err instanceof HttpError) throw new RouterFetchError(HTTP_KIND[err.kind], err.message);
    throw new RouterFetchError('router_unreachable', (err as Error).message);
  }
  try {
    return groupWorkerGauges(parsePromText(body));
  } catch (err) {
    throw new RouterFetchError('router_parse', `GET ${url}: not Prometheus text (${(err as Error).message})`);
  }
}

export interface RouterSamplerOptions {
  url: string;
  /** Time between scrapes: load_adjustment_interval / load_metric_samples. */
  periodMs: number;
  /** Snapshots kept: load_metric_samples. */
  keep: number;
  timeoutMs?: number;
  onError?: (err: RouterFetchError) => void;
  onSample?: () => void;
  /**
   * Snapshots older than this are not handed out (sla-planner: a router endpoint that keeps
   * failing must not leave the load loop deciding on old gauges forever). Default: no limit.
   */
  maxAgeMs?: number;
  now?: () => number;
}

/** Background sampler with a bounded buffer; a failed scrape adds nothing. */
export class RouterSampler {
  private buffer: { at: number; snap: RouterSnapshot }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;

  constructor(private readonly opts: RouterSamplerOptions) {}

  start(): void {
    if (this.timer) return;
    void this.scrapeOnce();
    this.timer = setInterval(() => void this.scrapeOnce(), this.opts.periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Scrape now (skipped while a scrape is still running, so slow endpoints never pile up). */
  async scrapeOnce(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      const snap = await fetchRouterSnapshot(this.opts.url, this.opts.timeoutMs);
      this.buffer.push({ at: (this.opts.now ?? Date.now)(), snap });
      if (this.buffer.length > this.opts.keep) this.buffer.splice(0, this.buffer.length - this.opts.keep);
      this.opts.onSample?.();
    } catch (err) {
      this.opts.onError?.(err instanceof RouterFetchError ? err : new RouterFetchError('router_unreachable', String(err)));
    } finally {
      this.inFlight = false;
    }
  }

  /** Oldest first, newest last. */
  samples(): RouterSnapshot[] {
    const maxAge = this.opts.maxAgeMs;
    const oldest = maxAge === undefined ? -Infinity : (this.opts.now ?? Date.now)() - maxAge;
    return this.buffer.filter((b) => b.at >= oldest).map((b) => b.snap);
  }
}
