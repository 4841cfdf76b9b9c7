// A pool of mock engines driven in wall-clock time: the simulator's engine model (the one source of
// timing truth) advanced to "now" whenever something is due, with each request's tokens handed to a
// sink at the moments the model produces them. The frontend's metrics are the simulator's, fed by
// the same engine callbacks, so what Prometheus scrapes here is what `simulate` would report.
import { Engine, type EngineRecorder, type PoolName } from '../sim/engine.js';
import { FrontendMetrics, frontendPrometheusText, workerPrometheusText } from '../sim/metrics.js';
import { Field } from '../sim/tables.js';
import type { EngineLatencyModel, PoolCounts } from '../sim/types.js';
import type { Mode } from '../config/schema.js';

/** Receives one request's tokens; `total` is cumulative (1 at the first token). */
export interface TokenSink {
  tokens(total: number, atS: number): void;
  finish(atS: number): void;
}

export interface MockerHostOptions {
  mode: Mode;
  /** Workers ready at start. */
  initial: PoolCounts;
  coldStartS: number;
  gpusPerReplica: PoolCounts;
  /** Served model name (the frontend series' `model` label). */
  modelName: string;
  /** Most requests in flight (queued, prefilling or decoding). */
  maxInFlight: number;
  /** Decode tokens are handed out at least this often (ms); prefill ends and run boundaries are exact. */
  tickMs?: number;
  maxNumSeqs?: number;
  kvWatermark?: number;
  /** Seconds since the host started (default: the monotonic clock); tests pass their own. */
  clock?: () => number;
  /** Drive the engines with timers (default true); tests call pump() themselves. */
  timers?: boolean;
}

interface Stream {
  sink: TokenSink;
  osl: number;
  sent: number;
}

export type SubmitOutcome = { ok: true; id: number } | { ok: false; reason: 'too_long' | 'busy' };

export const DEFAULT_TICK_MS = 2;

export class MockerHost {
  readonly frontend = new FrontendMetrics();
  private readonly engine: Engine;
  private readonly streams = new Map<number, Stream>();
  /** Requests past their first token and not finished: polled for new tokens every tick. */
  private readonly decoding = new Set<number>();
  private readonly clock: () => number;
  private readonly tickS: number;
  private timer: NodeJS.Timeout | undefined;
  private timerAtS = Infinity;
  private stopped = false;
  /** Requests aborted because their client went away. */
  aborted = 0;
  refusedBusy = 0;

  constructor(model: EngineLatencyModel, private readonly o: MockerHostOptions) {
    const started = performance.now();
    this.clock = o.clock ?? (() => (performance.now() - started) / 1000);
    this.tickS = (o.tickMs ?? DEFAULT_TICK_MS) / 1000;
    this.engine = new Engine(model, {
      mode: o.mode,
      coldStartS: o.coldStartS,
      gpusPerReplica: o.gpusPerReplica,
      initial: o.initial,
      recorder: this.recorder(),
      maxNumSeqs: o.maxNumSeqs,
      kvWatermark: o.kvWatermark,
    });
  }

  private recorder(): EngineRecorder {
    const t = () => this.engine.table;
    return {
      firstToken: (id, atS) => {
        this.frontend.firstToken(atS - t().get(id, Field.ArrivalS), t().get(id, Field.Isl));
        const s = this.streams.get(id);
        if (!s) return;
        s.sent = 1;
        s.sink.tokens(1, atS);
        this.decoding.add(id);
      },
      complete: (id, atS, itlMs) => {
        const osl = t().get(id, Field.Osl);
        this.frontend.finished(atS - t().get(id, Field.ArrivalS), osl, itlMs === null ? null : itlMs / 1000);
        const s = this.streams.get(id);
        this.streams.delete(id);
        this.decoding.delete(id);
        if (!s) return;
        if (s.sent < osl) s.sink.tokens(osl, atS);
        s.sink.finish(atS);
      },
      drop: () => this.frontend.failed(),
    };
  }

  nowS(): number {
    return this.clock();
  }

  get inFlight(): number {
    return this.streams.size;
  }

  /** A request arrives now. Refused when it could never fit an engine's KV cache, or when the host is full. */
  submit(isl: number, osl: number, sink: TokenSink): SubmitOutcome {
    if (this.streams.size >= this.o.maxInFlight) {
      this.refusedBusy++;
      return { ok: false, reason: 'busy' };
    }
    const now = this.clock();
    this.engine.advanceTo(now);
    this.frontend.started();
    const id = this.engine.arrive(isl, osl, now);
    if (id < 0) return { ok: false, reason: 'too_long' };
    this.streams.set(id, { sink, osl: Math.max(1, Math.round(osl)), sent: 0 });
    this.schedule();
    return { ok: true, id };
  }

  /**
   * The client went away: as vLLM does, the engine aborts the request (out of its queue, or out of
   * the batch with its KV blocks freed at the next step). Counted as aborted and, at the frontend,
   * as an errored request.
   */
  abort(id: number): void {
    if (!this.streams.delete(id)) return;
    this.decoding.delete(id);
    const now = this.clock();
    this.engine.advanceTo(now);
    this.engine.abort(id, now);
    this.frontend.failed();
    this.aborted++;
    this.schedule();
  }

  /** Scale a pool now (new workers serve after the cold start; removed ones drain). */
  setTarget(pool: PoolName, count: number): void {
    const now = this.clock();
    this.engine.advanceTo(now);
    this.engine.setTarget(pool, count, now);
    this.schedule();
  }

  targetCounts(): PoolCounts {
    return this.engine.targetCounts();
  }

  readyCounts(): PoolCounts {
    this.engine.advanceTo(this.clock());
    return this.engine.readyCounts();
  }

  /** Workers still draining requests after a scale-down. */
  drainingCount(): number {
    return this.engine.workerGauges(this.clock()).filter((g) => g.state === 'draining').length;
  }

  /** Process everything due by now and hand out new tokens. */
  pump(): void {
    const now = this.clock();
    this.engine.advanceTo(now);
    for (const id of this.decoding) {
      const s = this.streams.get(id)!;
      const n = this.engine.tokensOut(id, now);
      if (n > s.sent) {
        s.sent = n;
        s.sink.tokens(n, now);
      }
    }
  }

  /** Arm one timer for the next thing due: an engine event, or the next token tick while anything decodes. */
  private schedule(): void {
    if (this.o.timers === false || this.stopped) return;
    let next = this.engine.nextEventS();
    const now = this.clock();
    if (this.decoding.size > 0) next = Math.min(next, now + this.tickS);
    if (next === Infinity) return;
    // A timer already due no later (within a tick) stands.
    if (this.timer && this.timerAtS <= next + this.tickS / 2) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAtS = next;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAtS = Infinity;
      this.pump();
      this.schedule();
    }, Math.max(0, (next - now) * 1000));
  }

  /** Prometheus text: the frontend's series, the router's and engines' per-worker gauges, and the pool's own. */
  metricsText(): string {
    const now = this.clock();
    this.engine.advanceTo(now);
    const agg = this.o.mode === 'agg';
    const ready = this.engine.readyCounts();
    const target = this.engine.targetCounts();
    const { gpuSeconds } = this.engine.gpuUsage(now);
    const lines = [
      '# HELP sla_mocker_workers Mock workers by pool and state.',
      '# TYPE sla_mocker_workers gauge',
    ];
    for (const pool of ['prefill', 'decode'] as const) {
      lines.push(`sla_mocker_workers{pool="${pool}",state="ready"} ${ready[pool]}`, `sla_mocker_workers{pool="${pool}",state="target"} ${target[pool]}`);
    }
    lines.push(
      '# HELP sla_mocker_gpus GPUs the mock workers hold (starting, ready and draining).',
      '# TYPE sla_mocker_gpus gauge',
      `sla_mocker_gpus ${this.engine.gpusAllocated()}`,
      '# HELP sla_mocker_gpu_seconds_total GPU-seconds held since start.',
      '# TYPE sla_mocker_gpu_seconds_total counter',
      `sla_mocker_gpu_seconds_total ${gpuSeconds}`,
      '# HELP sla_mocker_aborted_requests_total Requests aborted because their client went away before the end.',
      '# TYPE sla_mocker_aborted_requests_total counter',
      `sla_mocker_aborted_requests_total ${this.aborted}`,
      '# HELP sla_mocker_refused_busy_total Requests refused because the host held its maximum in flight.',
      '# TYPE sla_mocker_refused_busy_total counter',
      `sla_mocker_refused_busy_total ${this.refusedBusy}`,
    );
    return frontendPrometheusText(this.frontend.snapshot(now), this.o.modelName) + workerPrometheusText(this.engine.workerGauges(now), this.o.modelName, agg) + lines.join('\n') + '\n';
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
