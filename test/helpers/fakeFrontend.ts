// A fake Dynamo frontend: exports the frontend's metrics with prom-client (same names, labels and
// default buckets as lib/llm/src/http/service/metrics.rs) and the per-worker router gauges, and
// can be driven by a request trace.
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { TraceRequest } from '../../src/trace/read.js';
import { closeServer } from './localServer.js';

const BUCKETS = JSON.parse(readFileSync(new URL('../fixtures/dynamo/metrics/frontend-histogram-buckets.json', import.meta.url), 'utf8')) as Record<string, unknown>;

function bucketsFor(name: string): number[] | undefined {
  const entry = BUCKETS[name] as { 'upper_bounds_excluding_+Inf'?: number[] } | undefined;
  // prom-client adds +Inf itself and wants strictly positive, increasing bounds.
  return entry?.['upper_bounds_excluding_+Inf']?.filter((b) => b > 0);
}

export type { TraceRequest };

export type WorkerMode = 'ok' | 'garbage' | 'http500' | 'hang';

export class FakeFrontend {
  readonly registry = new Registry();
  private server: Server | undefined;
  readonly requests: Counter<'model' | 'endpoint' | 'request_type' | 'status' | 'error_type'>;
  readonly ttft: Histogram<'model'>;
  readonly itl: Histogram<'model'>;
  readonly isl: Histogram<'model'>;
  readonly osl: Histogram<'model'>;
  readonly duration: Histogram<'model'>;
  readonly workerGauges: Record<string, Gauge<'worker_id' | 'dp_rank' | 'worker_type'>>;
  /** The frontend's KV capacity of one worker serving the model (set it to export the series). */
  readonly modelKvBlocks: Gauge<'model'>;
  /** Engine series carrying the router's worker labels (vLLM names), for the saturation rule's extra signals. */
  readonly engineGauges: Record<'kv_usage' | 'num_requests_waiting' | 'preemptions_total', Gauge<'worker_id' | 'worker_type'>>;
  workerMode: WorkerMode = 'ok';
  private timers: NodeJS.Timeout[] = [];
  served = 0;

  /** `dynamo_frontend_requests_started_total`, exported by newer frontends only (opt in). */
  readonly started: Counter<'model'> | undefined;

  constructor(readonly model = 'Qwen/Qwen3-0.6B', opts: { exportStarted?: boolean } = {}) {
    this.started = opts.exportStarted
      ? new Counter({ name: 'dynamo_frontend_requests_started_total', help: 'Requests started', labelNames: ['model'], registers: [this.registry] })
      : undefined;
    const h = (name: string, help: string) => new Histogram({ name, help, labelNames: ['model'], buckets: bucketsFor(name) ?? [0.01, 0.1, 1, 10, 100, 1000, 10000], registers: [this.registry] });
    this.requests = new Counter({ name: 'dynamo_frontend_requests_total', help: 'Total requests', labelNames: ['model', 'endpoint', 'request_type', 'status', 'error_type'], registers: [this.registry] });
    this.ttft = h('dynamo_frontend_time_to_first_token_seconds', 'TTFT');
    this.itl = h('dynamo_frontend_inter_token_latency_seconds', 'ITL');
    this.isl = h('dynamo_frontend_input_sequence_tokens', 'ISL');
    this.osl = h('dynamo_frontend_output_sequence_tokens', 'OSL');
    this.duration = h('dynamo_frontend_request_duration_seconds', 'duration');
    const g = (name: string) => new Gauge({ name, help: name, labelNames: ['worker_id', 'dp_rank', 'worker_type'], registers: [this.registry] });
    this.modelKvBlocks = new Gauge({ name: 'dynamo_frontend_model_total_kv_blocks', help: 'KV blocks of one worker', labelNames: ['model'], registers: [this.registry] });
    const e = (name: string) => new Gauge({ name, help: name, labelNames: ['worker_id', 'worker_type'], registers: [this.registry] });
    this.engineGauges = {
      kv_usage: e('vllm:kv_cache_usage_perc'),
      num_requests_waiting: e('vllm:num_requests_waiting'),
      preemptions_total: e('vllm:num_preemptions_total'),
    };
    this.workerGauges = {
      active_prefill_tokens: g('dynamo_frontend_worker_active_prefill_tokens'),
      active_decode_blocks: g('dynamo_frontend_worker_active_decode_blocks'),
      last_ttft: g('dynamo_frontend_worker_last_time_to_first_token_seconds'),
      last_isl: g('dynamo_frontend_worker_last_input_sequence_tokens'),
      last_itl: g('dynamo_frontend_worker_last_inter_token_latency_seconds'),
    };
  }

  /** Requests that arrived but have not finished (count in requests_started_total only). */
  startOnly(n: number): void {
    this.started?.inc({ model: this.model.toLowerCase() }, n);
  }

  /** One finished request, observed as the frontend does (ITL once per token after the first). */
  record(r: { isl: number; osl: number; ttftS: number; itlS: number }): void {
    const model = this.model.toLowerCase();
    this.started?.inc({ model });
    this.ttft.observe({ model }, r.ttftS);
    this.isl.observe({ model }, r.isl);
    for (let i = 1; i < Math.min(r.osl, 50); i++) this.itl.observe({ model }, r.itlS);
    this.osl.observe({ model }, r.osl);
    this.duration.observe({ model }, r.ttftS + r.itlS * Math.max(0, r.osl - 1));
    this.requests.inc({ model, endpoint: 'chat_completions', request_type: 'stream', status: 'success', error_type: '' });
    this.served++;
  }

  /** Replay a trace in real time divided by `speedup`, starting now. */
  replay(trace: TraceRequest[], opts: { speedup?: number; ttftS?: number; itlS?: number; offsetMs?: number } = {}): void {
    const speed = opts.speedup ?? 1;
    for (const r of trace) {
      const t = setTimeout(() => this.record({ isl: r.isl, osl: r.osl, ttftS: opts.ttftS ?? 0.1, itlS: opts.itlS ?? 0.02 }), (opts.offsetMs ?? 0) + (r.t * 1000) / speed);
      this.timers.push(t);
    }
  }

  setWorker(type: 'prefill' | 'decode', id: string, fields: Partial<Record<keyof FakeFrontend['workerGauges'], number>>): void {
    for (const [k, v] of Object.entries(fields)) this.workerGauges[k].set({ worker_id: id, dp_rank: '0', worker_type: type }, v as number);
  }

  setEngine(type: 'prefill' | 'decode', id: string, fields: Partial<Record<keyof FakeFrontend['engineGauges'], number>>): void {
    for (const [k, v] of Object.entries(fields)) this.engineGauges[k as keyof FakeFrontend['engineGauges']].set({ worker_id: id, worker_type: type }, v as number);
  }

  get url(): string {
    const a = this.server!.address() as { port: number };
    return `http://127.0.0.1:${a.port}`;
  }

  get address(): string {
    return `127.0.0.1:${(this.server!.address() as { port: number }).port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      if (this.workerMode === 'garbage') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('<html>not metrics {{{\n\x00\x01 garbage value here\n');
      if (this.workerMode === 'http500') return void res.writeHead(500).end('boom');
      if (this.workerMode === 'hang') return; // never answers: the client's timeout must fire
      this.registry.metrics().then((text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    return this;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    await closeServer(this.server);
  }
}
