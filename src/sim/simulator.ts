// The simulation driver: streams a trace through the engine, fires the policy's ticks at the
// times the real planner would, and keeps what the frontend's Prometheus histograms would show.
// Memory is flat in trace length: requests live only while in flight, latencies go to
// fixed-size histograms, and the timeline has one row per throughput interval.
import type { PlannerConfig } from '../config/schema.js';
import type { IntervalObservation, RouterSnapshot } from '../scaling/observation.js';
import { InputError } from '../util/errors.js';
import { Engine, type EngineRecorder, type PoolName, type SimRequest } from './engine.js';
import { LogHistogram } from './stats.js';
import type { EngineLatencyModel, PolicyContext, PoolCounts, PoolTargets, SimPolicy, SimSummary, TimelineRow, TraceRequest } from './types.js';

/**
 * Default cold start: a new vLLM worker pod on a node that already holds the image needs roughly
 * a minute (container start, an 8B model's weights from local disk or cache, CUDA graph capture,
 * registration with the router). Pulling the image or weights over the network takes longer; set
 * --cold-start for that.
 */
export const DEFAULT_COLD_START_S = 60;

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
  /** Called now and then with the simulated time. */
  onProgress?: (nowS: number) => void;
}

export interface SimulationResult {
  summary: SimSummary;
  timeline: TimelineRow[];
}

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
}

const mean = (sum: number, n: number): number | null => (n > 0 ? sum / n : null);

export async function simulate(
  trace: AsyncIterable<TraceRequest> | Iterable<TraceRequest>,
  opts: SimulationOptions,
): Promise<SimulationResult> {
  const { config, policy } = opts;
  const ttftTargetMs = config.ttft;
  const itlTargetMs = config.itl;
  const intervalS = config.throughput_adjustment_interval;

  const ttftHist = new LogHistogram();
  const itlHist = new LogHistogram();
  let win = new Window();
  let completed = 0;
  let met = 0;
  let ttftMet = 0;
  let itlMet = 0;
  let dropped = 0;

  const recorder: EngineRecorder = {
    firstToken(req: SimRequest) {
      win.ttftSum += req.ttftMs;
      win.ttftCount++;
    },
    complete(req: SimRequest, nowS: number, itlMs: number | null) {
      completed++;
      ttftHist.add(req.ttftMs);
      const ttftOk = req.ttftMs <= ttftTargetMs;
      const itlOk = itlMs === null || itlMs <= itlTargetMs;
      if (ttftOk) ttftMet++;
      if (itlOk) itlMet++;
      if (ttftOk && itlOk) {
        met++;
        win.met++;
      }
      win.completed++;
      win.islSum += req.isl;
      win.oslSum += req.osl;
      win.durationSum += nowS - req.arrivalS;
      if (itlMs !== null) {
        // The frontend observes one ITL per token gap, so the interval mean weights by tokens.
        itlHist.add(itlMs);
        win.itlSum += itlMs * (req.osl - 1);
        win.itlWeight += req.osl - 1;
      }
    },
    drop() {
      dropped++;
    },
  };

  const engine = new Engine(opts.model, {
    mode: config.mode,
    coldStartS: opts.coldStartS ?? DEFAULT_COLD_START_S,
    gpusPerReplica: opts.gpusPerReplica,
    initial: opts.initial,
    recorder,
  });

  const context = (nowS: number): PolicyContext => ({ nowS, ready: engine.readyCounts(), target: engine.targetCounts() });
  const apply = (targets: PoolTargets | null | undefined, nowS: number) => {
    if (!targets) return;
    for (const pool of ['prefill', 'decode'] as PoolName[]) {
      const n = targets[pool];
      if (typeof n === 'number' && Number.isFinite(n)) engine.setTarget(pool, n, nowS);
    }
  };

  // Tick schedule. Router samples only when a load-scaling policy reads them.
  const useLoad = !!policy.onLoadTick && !!policy.wantsRouterSamples;
  const loadIntervalS = config.load_adjustment_interval;
  const samplesPerLoad = config.load_metric_samples;
  const sampleEveryS = loadIntervalS / samplesPerLoad;
  let sampleIdx = 1;
  let nextSampleS = useLoad ? sampleEveryS : Infinity;
  let nextLoadS = useLoad ? loadIntervalS : Infinity;
  let samples: RouterSnapshot[] = [];
  const syncS = policy.onSync && policy.syncPeriodS ? policy.syncPeriodS : Infinity;
  let nextSyncS = syncS;
  let lastBusyS = 0;
  let intervalIdx = 1;
  let nextIntervalS = intervalS;
  let forecast = Number.NaN;
  const timeline: TimelineRow[] = [];
  let lastProgressS = 0;

  const intervalTick = async (nowS: number) => {
    const w = win;
    win = new Window();
    const ready = engine.readyCounts();
    const obs: IntervalObservation = {
      num_req: opts.numReqSource === 'started' ? w.arrivals : w.completed,
      isl: mean(w.islSum, w.completed),
      osl: mean(w.oslSum, w.completed),
      ttft: mean(w.ttftSum, w.ttftCount),
      itl: mean(w.itlSum, w.itlWeight),
      request_duration: mean(w.durationSum, w.completed),
      current_prefill: config.mode === 'agg' ? null : ready.prefill,
      current_decode: ready.decode,
    };
    const row: TimelineRow = {
      t_s: nowS,
      arrivals: w.arrivals,
      completed: w.completed,
      rps: w.arrivals / intervalS,
      forecast_rps: forecast / intervalS,
      isl: obs.isl ?? Number.NaN,
      osl: obs.osl ?? Number.NaN,
      prefill_ready: ready.prefill,
      decode_ready: ready.decode,
      prefill_target: 0,
      decode_target: 0,
      gpus: engine.gpusAllocated(),
      ttft_ms: obs.ttft ?? Number.NaN,
      itl_ms: obs.itl ?? Number.NaN,
      sla_attainment: w.completed > 0 ? w.met / w.completed : Number.NaN,
    };
    if (policy.onInterval) {
      apply(await policy.onInterval(obs, context(nowS)), nowS);
      forecast = policy.forecastNumReq ? policy.forecastNumReq() : Number.NaN;
    }
    const target = engine.targetCounts();
    row.prefill_target = target.prefill;
    row.decode_target = target.decode;
    timeline.push(row);
  };

  const advance = async (untilS: number) => {
    for (;;) {
      const tickS = Math.min(nextSampleS, nextLoadS, nextSyncS, nextIntervalS);
      if (tickS > untilS) break;
      engine.runUntil(tickS);
      if (nextSampleS === tickS) {
        samples.push(engine.routerSnapshot(tickS));
        if (samples.length > samplesPerLoad) samples.shift();
        nextSampleS = ++sampleIdx * sampleEveryS;
      }
      if (nextLoadS === tickS) {
        apply(policy.onLoadTick!(samples, context(tickS)), tickS);
        samples = [];
        nextLoadS += loadIntervalS;
      }
      if (nextSyncS === tickS) {
        const busyS = engine.prefillBusySeconds();
        const ready = engine.readyCounts();
        const prefillReady = config.mode === 'agg' ? ready.decode : ready.prefill;
        apply(
          policy.onSync!(
            {
              prefillBusy: prefillReady > 0 ? (busyS - lastBusyS) / (syncS * prefillReady) : 0,
              decodeKvUsage: engine.meanDecodeKvUsage(tickS),
              ready,
              starting: engine.startingCounts(),
            },
            context(tickS),
          ),
          tickS,
        );
        lastBusyS = busyS;
        nextSyncS += syncS;
      }
      if (nextIntervalS === tickS) {
        await intervalTick(tickS);
        nextIntervalS = ++intervalIdx * intervalS;
      }
    }
    engine.runUntil(untilS);
    if (opts.onProgress && untilS - lastProgressS >= intervalS) {
      lastProgressS = untilS;
      opts.onProgress(untilS);
    }
  };

  let requests = 0;
  let lastT = 0;
  for await (const r of trace as AsyncIterable<TraceRequest>) {
    if (!(r.t >= lastT)) {
      throw new InputError(`trace: request ${requests + 1} has t=${r.t} s, earlier than the previous request (t=${lastT} s); sort the trace by t.`);
    }
    if (opts.endS !== undefined && r.t > opts.endS) break;
    lastT = r.t;
    await advance(r.t);
    engine.arrive(r, r.t);
    win.arrivals++;
    requests++;
  }
  // By default the run ends with the interval that holds the last arrival, so every request is
  // seen by a full interval.
  const endS = opts.endS ?? Math.max(intervalS, Math.ceil(lastT / intervalS) * intervalS);
  await advance(endS);
  const { gpuSeconds, maxGpus } = engine.gpuUsage(endS);
  engine.runUntil(endS + (opts.drainLimitS ?? 3600));
  if (policy.close) await policy.close();

  const summary: SimSummary = {
    policy: policy.name,
    mode: config.mode,
    requests,
    completed,
    sla_attainment: requests > 0 ? met / requests : 1,
    ttft_attainment: requests > 0 ? ttftMet / requests : 1,
    itl_attainment: requests > 0 ? itlMet / requests : 1,
    ttft_ms: ttftHist.percentiles(),
    itl_ms: itlHist.percentiles(),
    gpu_hours: gpuSeconds / 3600,
    gpus: { mean: endS > 0 ? gpuSeconds / endS : maxGpus, max: maxGpus },
    scale_up: engine.scaleUps,
    scale_down: engine.scaleDowns,
    dropped,
    unfinished: engine.inFlightRequests,
    simulated_s: endS,
    sla: { ttft_ms: ttftTargetMs, itl_ms: itlTargetMs },
  };
  return { summary, timeline };
}
