// The simulation driver: streams a trace through the engine, fires the policy's ticks at the
// times the real planner would, and keeps what the frontend's Prometheus series would show.
// Memory is flat in trace length: requests live only while in flight (in the engine's typed
// table), latencies go to fixed-size histograms, and the timeline has one row per busy interval.
import type { PlannerConfig } from '../config/schema.js';
import type { IntervalObservation, RouterSnapshot } from '../scaling/observation.js';
import { toBatches } from '../trace/shape.js';
import { InputError } from '../util/errors.js';
import { Engine, idleLatency, type EngineRecorder, type PoolName } from './engine.js';
import { Field } from './tables.js';
import { FrontendMetrics, frontendIncrease, frontendPrometheusText, workerPrometheusText, type FrontendSnapshot, type FrontendWindow } from './metrics.js';
import { LogHistogram } from './stats.js';
import type {
  EngineLatencyModel,
  InfeasibleCounts,
  PolicyContext,
  PoolCounts,
  PoolTargets,
  SimMetricsView,
  SimPolicy,
  SimSummary,
  TimelineRow,
  ScaleEvent,
  TraceBatch,
  TraceRequest,
  WorkerScrape,
} from './types.js';

/**
 * Default cold start: a new vLLM worker pod on a node that already holds the image needs roughly
 * a minute (container start, an 8B model's weights from local disk or cache, CUDA graph capture,
 * registration with the router). Pulling the image or weights over the network takes longer; set
 * --cold-start for that.
 */
export const DEFAULT_COLD_START_S = 60;

/** Model name on the simulated frontend's series. */
const SIM_MODEL = 'simulated';

export interface SimulationOptions {
  config: PlannerConfig;
  model: EngineLatencyModel;
  policy: SimPolicy;
  /** Replicas ready at t = 0. */
  initial: PoolCounts;
  gpusPerReplica: PoolCounts;
  coldStartS?: number;
  /** End of the simulated window (s); default: the end of the interval of the last arrival. Ticks stop here. */
  endS?: number;
  /** How long after endS in-flight requests may still finish (s); later ones count as unfinished. */
  drainLimitS?: number;
  /**
   * What `num_req` counts: 'finished' = requests completed in the interval, as upstream's
   * `dynamo_frontend_requests_total` (default); 'started' = arrivals, as the newer
   * `requests_started_total` (offered load, which a saturated pool does not cap).
   */
  numReqSource?: 'finished' | 'started';
  /** vLLM's max_num_seqs per decode engine (default 1024). */
  maxNumSeqs?: number;
  /** vLLM's KV admission watermark, a share of the blocks (default 0: off, as in vLLM v1). */
  kvWatermark?: number;
  /** Called now and then with the simulated time. */
  onProgress?: (nowS: number) => void;
}

export interface SimulationResult {
  summary: SimSummary;
  timeline: TimelineRow[];
  /** Every change of a target, oldest first (at most MAX_SCALE_EVENTS). */
  events: ScaleEvent[];
}

/** Most scale events a run keeps for its report (a pathological policy may flap every tick). */
export const MAX_SCALE_EVENTS = 100_000;

/** The planner's view of one throughput interval (what its PromQL would return). */
class Window {
  arrivals = 0;
  completed = 0;
  met = 0;
  ttftSum = 0;
  ttftCount = 0;
  itlSum = 0;
  itlWeight = 0;
  islSum = 0;
  oslSum = 0;
  durationSum = 0;
  /** TTFT and mean ITL of each request finishing in the interval, for its p99. */
  readonly ttftDone: number[] = [];
  readonly itlDone: number[] = [];
}

/** The 99th percentile (nearest rank) of the values; NaN when there are none. */
function p99(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)];
}

const mean = (sum: number, n: number): number | null => (n > 0 ? sum / n : null);

/** Tag bits the driver attaches to each request. */
const FEASIBLE = 1;

/**
 * An idle engine is jumped over (policies are not called) once it has been idle this long: by then
 * every policy has seen idle intervals for long enough to settle, and a gap of days in a trace
 * costs O(1) instead of one tick per interval.
 */
const idleSkipAfterS = (intervalS: number): number => Math.max(100 * intervalS, 3600);

/**
 * One simulation, fed in batches: `feed` as the trace streams in, then `finish`. Several runs can
 * share one read of a trace.
 */
export class Simulation {
  private readonly config: PlannerConfig;
  private readonly policy: SimPolicy;
  private readonly engine: Engine;
  private readonly frontend = new FrontendMetrics();
  private readonly ttftHist = new LogHistogram();
  private readonly itlHist = new LogHistogram();
  private readonly infeasible: InfeasibleCounts = { requests: 0, ttft: 0, itl: 0, kv: 0 };
  private readonly timeline: TimelineRow[] = [];
  private readonly events: ScaleEvent[] = [];
  private readonly intervalS: number;
  private readonly ttftTargetMs: number;
  private readonly itlTargetMs: number;
  private readonly coldStartS: number;
  private win = new Window();
  private completed = 0;
  private met = 0;
  private ttftMet = 0;
  private itlMet = 0;
  private feasible = 0;
  private feasibleMet = 0;
  private dropped = 0;
  private requests = 0;
  private lastT = 0;
  private ended = false;
  // tick schedules
  private readonly useLoad: boolean;
  private readonly sampleEveryS: number;
  private sampleIdx = 1;
  private nextSampleS: number;
  private nextLoadS: number;
  private samples: RouterSnapshot[] = [];
  private readonly syncS: number;
  private nextSyncS: number;
  private lastBusyS = 0;
  private intervalIdx = 1;
  private nextIntervalS: number;
  private readonly scrapeS: number;
  private nextScrapeS: number;
  private scrapes: WorkerScrape[] = [];
  private nextTimerS: number;
  private forecast = Number.NaN;
  private lastProgressS = 0;
  private prevFrontend: FrontendSnapshot;
  private idleSinceS = Number.NaN;
  private idleSkipped = 0;

  constructor(private readonly opts: SimulationOptions) {
    const { config, policy } = opts;
    this.config = config;
    this.policy = policy;
    this.intervalS = config.throughput_adjustment_interval;
    this.ttftTargetMs = config.ttft;
    this.itlTargetMs = config.itl;
    this.coldStartS = opts.coldStartS ?? DEFAULT_COLD_START_S;
    this.engine = new Engine(opts.model, {
      mode: config.mode,
      coldStartS: this.coldStartS,
      gpusPerReplica: opts.gpusPerReplica,
      initial: opts.initial,
      recorder: this.recorder(),
      maxNumSeqs: opts.maxNumSeqs,
      kvWatermark: opts.kvWatermark,
    });
    // Router samples only when a load-scaling policy reads them.
    this.useLoad = !!policy.onLoadTick && !!policy.wantsRouterSamples;
    this.sampleEveryS = config.load_adjustment_interval / config.load_metric_samples;
    this.nextSampleS = this.useLoad ? this.sampleEveryS : Infinity;
    this.nextLoadS = this.useLoad ? config.load_adjustment_interval : Infinity;
    this.syncS = policy.onSync && policy.syncPeriodS ? policy.syncPeriodS : Infinity;
    this.nextSyncS = this.syncS;
    this.nextIntervalS = this.intervalS;
    this.scrapeS = policy.scrapeIntervalS && policy.scrapeIntervalS > 0 ? policy.scrapeIntervalS : Infinity;
    this.nextScrapeS = this.scrapeS;
    this.nextTimerS = policy.onTimer && policy.nextTimerS ? policy.nextTimerS(-Infinity) : Infinity;
    this.prevFrontend = this.frontend.snapshot(0);
  }

  private recorder(): EngineRecorder {
    return {
      firstToken: (id, nowS) => {
        const t = this.engine.table;
        const ttftMs = (nowS - t.get(id, Field.ArrivalS)) * 1000;
        this.win.ttftSum += ttftMs;
        this.win.ttftCount++;
        this.frontend.firstToken(ttftMs / 1000, t.get(id, Field.Isl));
      },
      complete: (id, nowS, itlMs) => {
        const t = this.engine.table;
        const arrivalS = t.get(id, Field.ArrivalS);
        const isl = t.get(id, Field.Isl);
        const osl = t.get(id, Field.Osl);
        const ttftMs = (t.get(id, Field.FirstTokenS) - arrivalS) * 1000;
        this.completed++;
        this.ttftHist.add(ttftMs);
        const ttftOk = ttftMs <= this.ttftTargetMs;
        const itlOk = itlMs === null || itlMs <= this.itlTargetMs;
        if (ttftOk) this.ttftMet++;
        if (itlOk) this.itlMet++;
        const w = this.win;
        w.ttftDone.push(ttftMs);
        if (itlMs !== null) w.itlDone.push(itlMs);
        if (ttftOk && itlOk) {
          this.met++;
          w.met++;
          if ((t.get(id, Field.Tag) & FEASIBLE) !== 0) this.feasibleMet++;
        }
        w.completed++;
        w.islSum += isl;
        w.oslSum += osl;
        w.durationSum += nowS - arrivalS;
        if (itlMs !== null) {
          // The frontend observes one ITL per token gap, so the interval mean weights by tokens.
          this.itlHist.add(itlMs);
          w.itlSum += itlMs * (osl - 1);
          w.itlWeight += osl - 1;
        }
        this.frontend.finished(nowS - arrivalS, osl, itlMs === null ? null : itlMs / 1000);
      },
      drop: () => {
        this.dropped++;
        this.frontend.failed();
      },
    };
  }

  private metricsView(nowS: number, window: FrontendWindow | null, scrapes: readonly WorkerScrape[]): SimMetricsView {
    const engine = this.engine;
    const frontend = this.frontend;
    const agg = this.config.mode === 'agg';
    return {
      frontend: () => frontend.snapshot(nowS),
      window,
      workers: () => engine.workerGauges(nowS),
      scrapes,
      prometheusText: () => frontendPrometheusText(frontend.snapshot(nowS), SIM_MODEL) + workerPrometheusText(engine.workerGauges(nowS), SIM_MODEL, agg),
    };
  }

  private context(nowS: number, window: FrontendWindow | null = null, scrapes: readonly WorkerScrape[] = []): PolicyContext {
    return { nowS, ready: this.engine.readyCounts(), target: this.engine.targetCounts(), metrics: this.metricsView(nowS, window, scrapes) };
  }

  private apply(targets: PoolTargets | null | undefined, nowS: number): void {
    if (!targets) return;
    for (const pool of ['prefill', 'decode'] as PoolName[]) {
      const n = targets[pool];
      if (typeof n !== 'number' || !Number.isFinite(n)) continue;
      const from = this.engine.targetCounts()[pool];
      this.engine.setTarget(pool, n, nowS);
      const to = this.engine.targetCounts()[pool];
      if (to !== from && this.events.length < MAX_SCALE_EVENTS) this.events.push({ t_s: nowS, pool, from, to, reason: targets.reason ?? this.policy.name });
    }
  }

  /**
   * Feed the next requests (sorted by time). Returns false once the window's end is passed (the
   * caller may stop reading).
   */
  async feed(batch: TraceBatch): Promise<boolean> {
    if (this.ended) return false;
    let i = 0;
    while (i < batch.length) {
      // Requests up to the next tick go through a synchronous loop (fast); a tick may await the policy.
      i = this.feedUntilTick(batch, i);
      if (i < 0) return false;
      if (i < batch.length) {
        await this.advance(batch.t[i]);
        this.arrive(batch.t[i], batch.isl[i], batch.osl[i]);
        i++;
      }
    }
    return true;
  }

  /** Arrive requests from index i while no tick is due; returns the index of the first that needs one (or -1 past the window's end). */
  private feedUntilTick(batch: TraceBatch, i: number): number {
    const endS = this.opts.endS ?? Infinity;
    const tickS = this.nextTickS();
    for (; i < batch.length; i++) {
      const t = batch.t[i];
      if (!(t >= this.lastT)) {
        throw new InputError(`trace: request ${this.requests + 1} has t=${t} s, earlier than the previous request (t=${this.lastT} s); sort the trace by t.`);
      }
      if (t > endS) {
        this.ended = true;
        return -1;
      }
      this.lastT = t;
      if (t >= tickS) return i;
      this.engine.advanceTo(t);
      this.arrive(t, batch.isl[i], batch.osl[i]);
    }
    return i;
  }

  private arrive(t: number, isl: number, osl: number): void {
    // Feasible = meets both targets alone on idle engines and fits in one engine's KV cache.
    const alone = idleLatency(this.opts.model, isl, osl);
    const ttftBad = alone.ttftMs > this.ttftTargetMs;
    const itlBad = alone.itlMs !== null && alone.itlMs > this.itlTargetMs;
    let tag = 0;
    if (!alone.fits || ttftBad || itlBad) {
      this.infeasible.requests++;
      if (!alone.fits) this.infeasible.kv++;
      if (ttftBad) this.infeasible.ttft++;
      if (itlBad) this.infeasible.itl++;
    } else {
      tag = FEASIBLE;
      this.feasible++;
    }
    this.win.arrivals++;
    this.requests++;
    this.frontend.started();
    this.engine.arrive(isl, osl, t, tag);
  }

  private nextTickS(): number {
    return Math.min(this.nextSampleS, this.nextLoadS, this.nextSyncS, this.nextIntervalS, this.nextScrapeS, this.nextTimerS);
  }

  private async intervalTick(nowS: number): Promise<void> {
    const w = this.win;
    this.win = new Window();
    const engine = this.engine;
    const ready = engine.readyCounts();
    const obs: IntervalObservation = {
      num_req: this.opts.numReqSource === 'started' ? w.arrivals : w.completed,
      isl: mean(w.islSum, w.completed),
      osl: mean(w.oslSum, w.completed),
      ttft: mean(w.ttftSum, w.ttftCount),
      itl: mean(w.itlSum, w.itlWeight),
      request_duration: mean(w.durationSum, w.completed),
      current_prefill: this.config.mode === 'agg' ? null : ready.prefill,
      current_decode: ready.decode,
    };
    const snapshot = this.frontend.snapshot(nowS);
    const window = frontendIncrease(this.prevFrontend, snapshot);
    this.prevFrontend = snapshot;
    const scrapes = this.scrapes;
    this.scrapes = [];
    const row: TimelineRow = {
      t_s: nowS,
      arrivals: w.arrivals,
      completed: w.completed,
      rps: w.arrivals / this.intervalS,
      forecast_rps: this.forecast / this.intervalS,
      isl: obs.isl ?? Number.NaN,
      osl: obs.osl ?? Number.NaN,
      prefill_ready: ready.prefill,
      decode_ready: ready.decode,
      prefill_target: 0,
      decode_target: 0,
      gpus: engine.gpusAllocated(),
      ttft_ms: obs.ttft ?? Number.NaN,
      itl_ms: obs.itl ?? Number.NaN,
      ttft_p99_ms: p99(w.ttftDone),
      itl_p99_ms: p99(w.itlDone),
      sla_attainment: w.completed > 0 ? w.met / w.completed : Number.NaN,
    };
    const policy = this.policy;
    if (policy.onInterval) {
      this.apply(await policy.onInterval(obs, this.context(nowS, window, scrapes)), nowS);
      this.forecast = policy.forecastNumReq ? policy.forecastNumReq() : Number.NaN;
    }
    const target = engine.targetCounts();
    row.prefill_target = target.prefill;
    row.decode_target = target.decode;
    this.timeline.push(row);
  }

  /** Jump every schedule to shortly before `untilS` (the engine is idle; nothing happens meanwhile). */
  private skipIdle(untilS: number): boolean {
    const I = this.intervalS;
    // Resume early enough for a policy to act ahead of the traffic (a cold start and two intervals).
    const resumeIdx = Math.floor((untilS - 2 * I - this.coldStartS) / I);
    if (resumeIdx <= this.intervalIdx) return false;
    const resumeS = resumeIdx * I;
    this.idleSkipped += resumeIdx - this.intervalIdx;
    this.intervalIdx = resumeIdx;
    this.nextIntervalS = resumeS;
    const after = (periodS: number) => (Number.isFinite(periodS) ? Math.ceil(resumeS / periodS) * periodS : Infinity);
    if (this.useLoad) {
      this.sampleIdx = Math.ceil(resumeS / this.sampleEveryS);
      this.nextSampleS = this.sampleIdx * this.sampleEveryS;
      this.nextLoadS = after(this.config.load_adjustment_interval);
      this.samples = [];
    }
    this.nextSyncS = after(this.syncS);
    this.nextScrapeS = after(this.scrapeS);
    this.scrapes = [];
    if (Number.isFinite(this.nextTimerS)) this.nextTimerS = this.policy.nextTimerS!(resumeS - 1e-9);
    this.prevFrontend = { ...this.prevFrontend, t_s: resumeS - I };
    this.idleSinceS = Number.NaN;
    return true;
  }

  private async advance(untilS: number): Promise<void> {
    const engine = this.engine;
    const policy = this.policy;
    for (;;) {
      const tickS = this.nextTickS();
      if (tickS > untilS) break;
      engine.advanceTo(tickS);
      if (engine.isQuiescent()) {
        if (Number.isNaN(this.idleSinceS)) this.idleSinceS = tickS;
        else if (tickS - this.idleSinceS >= idleSkipAfterS(this.intervalS) && this.skipIdle(untilS)) continue;
      } else this.idleSinceS = Number.NaN;
      if (this.nextSampleS === tickS) {
        this.samples.push({ requests_started_total: this.frontend.requestsStarted, ...engine.routerSnapshot(tickS) });
        if (this.samples.length > this.config.load_metric_samples) this.samples.shift();
        this.nextSampleS = ++this.sampleIdx * this.sampleEveryS;
      }
      if (this.nextScrapeS === tickS) {
        this.scrapes.push({ t_s: tickS, workers: engine.workerGauges(tickS) });
        this.nextScrapeS += this.scrapeS;
      }
      if (this.nextLoadS === tickS) {
        this.apply(policy.onLoadTick!(this.samples, this.context(tickS)), tickS);
        this.samples = [];
        this.nextLoadS += this.config.load_adjustment_interval;
      }
      if (this.nextSyncS === tickS) {
        const busyS = engine.prefillBusySeconds();
        const ready = engine.readyCounts();
        const prefillReady = this.config.mode === 'agg' ? ready.decode : ready.prefill;
        const util = {
          prefillBusy: prefillReady > 0 ? (busyS - this.lastBusyS) / (this.syncS * prefillReady) : 0,
          decodeKvUsage: engine.meanDecodeKvUsage(tickS),
          ready,
          starting: engine.startingCounts(),
        };
        this.apply(policy.onSync!(util, this.context(tickS)), tickS);
        this.lastBusyS = busyS;
        this.nextSyncS += this.syncS;
      }
      if (this.nextTimerS === tickS) {
        this.apply(policy.onTimer!(this.context(tickS)), tickS);
        const next = policy.nextTimerS!(tickS);
        this.nextTimerS = next > tickS ? next : Infinity;
      }
      if (this.nextIntervalS === tickS) {
        await this.intervalTick(tickS);
        this.nextIntervalS = ++this.intervalIdx * this.intervalS;
      }
    }
    engine.advanceTo(untilS);
    if (this.opts.onProgress && untilS - this.lastProgressS >= this.intervalS) {
      this.lastProgressS = untilS;
      this.opts.onProgress(untilS);
    }
  }

  /** Run to the end of the window, let in-flight requests drain, and summarise. */
  async finish(): Promise<SimulationResult> {
    const { policy, engine } = this;
    const I = this.intervalS;
    // By default the run ends with the interval that holds the last arrival, so every request is
    // seen by a full interval.
    const endS = this.opts.endS ?? Math.max(I, Math.ceil(this.lastT / I) * I);
    await this.advance(endS);
    const { gpuSeconds, maxGpus } = engine.gpuUsage(endS);
    engine.advanceTo(endS + (this.opts.drainLimitS ?? 3600));
    if (policy.close) await policy.close();
    const requests = this.requests;
    const ratio = (n: number, d: number) => (d > 0 ? n / d : 1);
    const details = policy.summaryExtras?.() ?? {};
    const summary: SimSummary = {
      policy: policy.name,
      mode: this.config.mode,
      requests,
      completed: this.completed,
      sla_attainment: ratio(this.met, requests),
      feasible_sla_attainment: ratio(this.feasibleMet, this.feasible),
      ttft_attainment: ratio(this.ttftMet, requests),
      itl_attainment: ratio(this.itlMet, requests),
      infeasible: { ...this.infeasible },
      ttft_ms: this.ttftHist.percentiles(),
      itl_ms: this.itlHist.percentiles(),
      gpu_hours: gpuSeconds / 3600,
      gpus: { mean: endS > 0 ? gpuSeconds / endS : maxGpus, max: maxGpus },
      scale_up: engine.scaleUps,
      scale_down: engine.scaleDowns,
      dropped: this.dropped,
      unfinished: engine.inFlightRequests,
      peak_in_flight: engine.peakInFlight,
      preemptions: engine.preemptions,
      clamped_targets: engine.clampedTargets + (details.clamped_answers ?? 0),
      idle_intervals_skipped: this.idleSkipped,
      simulated_s: endS,
      sla: { ttft_ms: this.ttftTargetMs, itl_ms: this.itlTargetMs },
      policy_details: details,
    };
    return { summary, timeline: this.timeline, events: this.events };
  }
}

/** Simulate a trace given as requests. */
export async function simulate(trace: AsyncIterable<TraceRequest> | Iterable<TraceRequest>, opts: SimulationOptions): Promise<SimulationResult> {
  return simulateBatches(toBatches(trace), opts);
}

/** Simulate a trace given as batches (the readers' and shapers' output). */
export async function simulateBatches(batches: AsyncIterable<TraceBatch> | Iterable<TraceBatch>, opts: SimulationOptions): Promise<SimulationResult> {
  const run = new Simulation(opts);
  for await (const b of batches as AsyncIterable<TraceBatch>) if (!(await run.feed(b))) break;
  return run.finish();
}
