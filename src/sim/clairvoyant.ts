// A clairvoyant reference: it knows every request of the trace in advance and asks, a cold start
// ahead of need, for the fewest replicas that could serve each moment's work within the SLA.
// Its sizing rests on necessary conditions only, so `lower_bound_gpu_hours` is a lower bound of
// the GPU-hours of any policy that serves every feasible request within the SLA (under the same
// engine model, with replica counts changing on whole seconds, as every policy here does):
//
// - Prefill (1-second slots). A replica prefills one request at a time, so in any window w the
//   replicas ready must be at least the prefill seconds of the requests whose [arrival, arrival +
//   TTFT target] lies inside w, divided by w's length. Ready counts are whole numbers and constant
//   within a slot, so each slot needs at least the ceiling of the largest such ratio over windows
//   inside it (and of its share of the work of requests straddling slots).
// - Decode (throughput intervals). Meeting ITL, a request's osl - 1 tokens come out within
//   [arrival + prefill, arrival + TTFT + (osl - 1) * ITL], at most one per idle step time m;
//   whatever cannot fit outside interval k must be made inside it, and a decode GPU makes at most
//   the profile's best throughput under the ITL target at the request's context. So interval k
//   needs that many GPU-seconds, however the count varies within it.
// - A replica ready at u was asked for at u - cold start and held since: GPUs held at t are at
//   least the largest prefill need over [t, t + cold start]; and at least min_endpoint per pool.
// - Requests infeasible alone never count toward attainment and are left out.
// The policy, a cold start ahead of each throughput interval, asks for the fewest prefill replicas
// with which the interval's feasible requests all meet TTFT when replayed through the engine's
// prefill rule (FIFO servers, earliest free first, queues carried over), and for decode the larger
// of the throughput need and the KV the interval's requests hold at its peak (each decoding at the
// ITL target's pace, caches filled to KV_FILL): sized on the bound alone, queues and the KV cliff
// would break the SLA.
// It is simulated like any other policy; its GPU-hours are what a clairvoyant reaches in practice,
// the bound what nothing can beat. A policy that lets feasible requests miss can come in under
// the bound.
import type { PlannerConfig } from '../config/schema.js';
import { applyGlobalBudget, applyPoolBudget } from '../scaling/budget.js';
import { idleLatency } from './engine.js';
import type { EngineLatencyModel, PolicyContext, PoolCounts, PoolTargets, SimPolicy, TraceBatch } from './types.js';

/** Prefill slot length (s): whole seconds, the grid every policy's decisions and cold starts fall on. */
const SLOT_S = 1;
/** Share of each decode engine's KV blocks the clairvoyant policy plans to fill (the rest absorbs imbalance and growth). */
export const KV_FILL = 0.9;
/** Distinct arrival times per slot examined as window ends (bounds the quadratic scan of a dense slot). */
const MAX_WINDOW_POINTS = 2000;

export interface ClairvoyantOptions {
  config: PlannerConfig;
  model: EngineLatencyModel;
  /** The profile's best decode output tokens/s per GPU with ITL <= the target at a context length. */
  bestDecodeTokensPerGpuS: (contextTokens: number) => number;
  gpusPerReplica: PoolCounts;
  coldStartS: number;
  /** A fresh read of the shaped trace. */
  trace: () => AsyncIterable<TraceBatch>;
}

const add = (m: Map<number, number>, k: number, v: number) => m.set(k, (m.get(k) ?? 0) + v);

/** For each grid cell k a window [a, b) touches: (overlap - slack)^+ (what cannot be done elsewhere). */
function forced(a: number, b: number, slack: number, cellS: number, each: (k: number, seconds: number) => void): void {
  if (!(b > a) || slack >= cellS) return;
  const k0 = Math.floor(a / cellS);
  const k1 = Math.floor(b / cellS);
  for (let k = k0; k <= k1; k++) {
    const overlap = Math.min(b, (k + 1) * cellS) - Math.max(a, k * cellS);
    if (overlap > slack) each(k, overlap - slack);
  }
}

/**
 * The largest (prefill seconds of requests whose windows lie inside w) / |w| over windows w from
 * one arrival to another's deadline, for requests sorted by arrival with windows of length `ttftS`.
 */
function peakWindowNeed(arrivals: number[], work: number[], ttftS: number): number {
  // Requests arriving together share a window: merge them.
  const times: number[] = [];
  const sums: number[] = [];
  for (let i = 0; i < arrivals.length; i++) {
    if (times.length > 0 && times[times.length - 1] === arrivals[i]) sums[sums.length - 1] += work[i];
    else {
      times.push(arrivals[i]);
      sums.push(work[i]);
    }
  }
  let best = 0;
  for (let j = 0; j < times.length; j++) {
    let demand = 0;
    for (let i = j; i >= 0 && j - i < MAX_WINDOW_POINTS; i--) {
      demand += sums[i];
      const ratio = demand / (times[j] - times[i] + ttftS);
      if (ratio > best) best = ratio;
    }
  }
  return best;
}

/** Integral over [0, endS) of max(floor, the highest box covering t); boxes [start, end). */
function envelopeIntegral(boxes: Array<{ start: number; end: number; height: number }>, floor: number, endS: number): number {
  const events: Array<[number, number, number]> = []; // time, +1 start / -1 end, height
  for (const b of boxes) {
    const s = Math.max(0, b.start);
    const e = Math.min(endS, b.end);
    if (e > s && b.height > floor) {
      events.push([s, 1, b.height]);
      events.push([e, -1, b.height]);
    }
  }
  events.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const active = new Map<number, number>();
  let top = floor;
  let lastT = 0;
  let area = 0;
  for (const [t, kind, h] of events) {
    area += (t - lastT) * top;
    lastT = t;
    if (kind === 1) {
      active.set(h, (active.get(h) ?? 0) + 1);
      if (h > top) top = h;
    } else {
      const c = active.get(h)! - 1;
      if (c === 0) active.delete(h);
      else active.set(h, c);
      if (h === top) {
        top = floor;
        for (const x of active.keys()) if (x > top) top = x;
      }
    }
  }
  return area + (endS - lastT) * top;
}

export interface ClairvoyantNeeds {
  /** Whole prefill replicas needed per 1-s slot (slots not listed: none beyond min_endpoint). */
  prefillBySlot: Map<number, number>;
  /** Decode GPU-seconds forced into each throughput interval. */
  decodeGpuSByInterval: Map<number, number>;
  /** Peak KV blocks held by requests decoding in each interval (each at the ITL target's pace). */
  decodeBlocksByInterval: Map<number, number>;
  /** Prefill replicas with which each interval's feasible requests all meet TTFT (replayed). */
  prefillByInterval: Map<number, number>;
  /** End of the simulated window (s). */
  endS: number;
  requests: number;
  infeasible: number;
}

/** One pass over the trace: what each slot and interval must do for every feasible request to meet the SLA. */
export async function clairvoyantNeeds(o: ClairvoyantOptions): Promise<ClairvoyantNeeds> {
  const cfg = o.config;
  const I = cfg.throughput_adjustment_interval;
  const ttftS = cfg.ttft / 1000;
  const itlS = cfg.itl / 1000;
  const prefillWork = new Map<number, number>(); // fluid forced seconds per slot
  /** Arrivals and prefill seconds of the requests whose whole TTFT window lies in one slot. */
  const windows = new Map<number, { arrivals: number[]; work: number[] }>();
  const decodeGpuSByInterval = new Map<number, number>();
  // KV residency: request r holds blocks0[r] + rate[r] * (t - start[r]) blocks over [start, end).
  const starts: number[] = [];
  const ends: number[] = [];
  /** Feasible requests' arrivals and prefill seconds, for the replay. */
  const arrivals: number[] = [];
  const prefillS: number[] = [];
  const blocks0: number[] = [];
  const rates: number[] = [];
  let requests = 0;
  let infeasible = 0;
  let lastT = 0;
  for await (const b of o.trace()) {
    for (let i = 0; i < b.length; i++) {
      requests++;
      const a = b.t[i];
      lastT = a;
      const isl = Math.max(0, Math.round(b.isl[i]));
      const osl = Math.max(1, Math.round(b.osl[i]));
      const alone = idleLatency(o.model, isl, osl);
      if (!alone.fits || alone.ttftMs > cfg.ttft || (alone.itlMs !== null && alone.itlMs > cfg.itl)) {
        infeasible++;
        continue;
      }
      const p = alone.ttftMs / 1000;
      arrivals.push(a);
      prefillS.push(p);
      const k = Math.floor(a / SLOT_S);
      if (Math.floor((a + ttftS) / SLOT_S) === k) {
        let w = windows.get(k);
        if (!w) windows.set(k, (w = { arrivals: [], work: [] }));
        w.arrivals.push(a);
        w.work.push(p);
      }
      forced(a, a + ttftS, ttftS - p, SLOT_S, (cell, s) => add(prefillWork, cell, s));
      if (osl > 1) {
        const tokens = osl - 1;
        const m = alone.itlMs! / 1000;
        const e = a + p;
        const l = a + ttftS + tokens * itlS;
        const gpuSPerToken = 1 / o.bestDecodeTokensPerGpuS(isl + osl / 2);
        forced(e, l, l - e - tokens * m, I, (cell, s) => add(decodeGpuSByInterval, cell, (s / m) * gpuSPerToken));
        starts.push(e);
        ends.push(e + tokens * itlS);
        blocks0.push((isl + 1) / 16);
        rates.push(1 / (16 * itlS));
      }
    }
  }
  const decodeBlocksByInterval = peakResidency(starts, ends, blocks0, rates, I);
  const prefillBySlot = new Map<number, number>();
  for (const k of new Set([...prefillWork.keys(), ...windows.keys()])) {
    const fluid = Math.ceil((prefillWork.get(k) ?? 0) / SLOT_S - 1e-9);
    const w = windows.get(k);
    const peak = w ? Math.ceil(peakWindowNeed(w.arrivals, w.work, ttftS) - 1e-9) : 0;
    const need = Math.max(fluid, peak);
    if (need > 0) prefillBySlot.set(k, need);
  }
  const prefillByInterval = replayPrefill(arrivals, prefillS, I, ttftS);
  return { prefillBySlot, decodeGpuSByInterval, decodeBlocksByInterval, prefillByInterval, endS: Math.max(I, Math.ceil(lastT / I) * I), requests, infeasible };
}

/** Most prefill replicas the replay tries for one interval. */
const MAX_REPLAY_REPLICAS = 256;

/**
 * Interval by interval, the fewest prefill replicas with which every request arriving in it meets
 * TTFT under the engine's rule (FIFO servers, the earliest free takes the next request), starting
 * from the queues the previous interval left.
 */
function replayPrefill(arrivals: number[], prefillS: number[], intervalS: number, ttftS: number): Map<number, number> {
  const out = new Map<number, number>();
  let free: number[] = []; // free-at times of the replicas the previous interval kept
  let i = 0;
  const replay = (from: number, to: number, start: number, c: number, keep: boolean): boolean => {
    const f = free.slice(0, c).sort((x, y) => x - y);
    while (f.length < c) f.push(start);
    let ok = true;
    for (let j = from; j < to; j++) {
      // Earliest-free server: f is small; a linear scan keeps it simple.
      let best = 0;
      for (let r = 1; r < c; r++) if (f[r] < f[best]) best = r;
      const begin = Math.max(f[best], arrivals[j]);
      f[best] = begin + prefillS[j];
      if (f[best] - arrivals[j] > ttftS + 1e-9) {
        ok = false;
        if (!keep) return false;
      }
    }
    if (keep) free = f;
    return ok;
  };
  while (i < arrivals.length) {
    const k = Math.floor(arrivals[i] / intervalS);
    let j = i;
    while (j < arrivals.length && Math.floor(arrivals[j] / intervalS) === k) j++;
    // Smallest count that works (more servers never delay anyone under earliest-free routing).
    let lo = 1;
    let hi = 1;
    while (hi < MAX_REPLAY_REPLICAS && !replay(i, j, k * intervalS, hi, false)) hi *= 2;
    hi = Math.min(hi, MAX_REPLAY_REPLICAS);
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (replay(i, j, k * intervalS, mid, false)) hi = mid;
      else lo = mid + 1;
    }
    replay(i, j, k * intervalS, lo, true);
    out.set(k, lo);
    i = j;
  }
  return out;
}

/** The largest sum of linearly growing occupancies over each interval (a sweep over starts and ends). */
function peakResidency(starts: number[], ends: number[], blocks0: number[], rates: number[], intervalS: number): Map<number, number> {
  const n = starts.length;
  const order = new Int32Array(2 * n);
  const time = (e: number) => (e < n ? starts[e] : ends[e - n]);
  for (let i = 0; i < 2 * n; i++) order[i] = i;
  // Ends before starts at equal times: a request leaving frees its blocks for one arriving.
  order.sort((x, y) => time(x) - time(y) || (y >= n ? 1 : 0) - (x >= n ? 1 : 0));
  const peak = new Map<number, number>();
  let c = 0; // occupancy = c + r * t
  let r = 0;
  const note = (t: number) => {
    const v = c + r * t;
    const k = Math.floor(t / intervalS);
    if (v > (peak.get(k) ?? 0)) peak.set(k, v);
  };
  let lastT = 0;
  for (let i = 0; i < order.length; i++) {
    const e = order[i];
    const t = time(e);
    // Occupancy only grows between events, so each interval's peak is at an event or at its end.
    if (r > 0 && Math.floor(t / intervalS) > Math.floor(lastT / intervalS)) note(Math.min(t, (Math.floor(lastT / intervalS) + 1) * intervalS) - 1e-9);
    note(t - 1e-12 > lastT ? t - 1e-12 : t);
    const q = e < n ? e : e - n;
    const sign = e < n ? 1 : -1;
    c += sign * (blocks0[q] - rates[q] * starts[q]);
    r += sign * rates[q];
    note(t);
    lastT = t;
  }
  return peak;
}

export interface ClairvoyantBuild {
  policy: SimPolicy;
  initial: PoolCounts;
}

export async function buildClairvoyant(o: ClairvoyantOptions): Promise<ClairvoyantBuild> {
  const cfg = o.config;
  const I = cfg.throughput_adjustment_interval;
  const agg = cfg.mode === 'agg';
  const needs = await clairvoyantNeeds(o);
  const cs = o.coldStartS;
  const minEp = cfg.min_endpoint;
  const gp = agg ? o.gpusPerReplica.decode : o.gpusPerReplica.prefill;
  const gd = o.gpusPerReplica.decode;
  // Lower bound, prefill: whole replicas per slot, held from a cold start before.
  const boxes = [...needs.prefillBySlot].map(([k, n]) => ({ start: k * SLOT_S - cs, end: (k + 1) * SLOT_S, height: n }));
  const prefillGpuS = envelopeIntegral(boxes, minEp, needs.endS) * gp;
  // Decode: each interval's forced GPU-seconds, or min_endpoint's.
  let decodeGpuS = minEp * gd * needs.endS;
  for (const [, w] of needs.decodeGpuSByInterval) decodeGpuS += Math.max(0, w - minEp * gd * I);
  // agg: one pool does both phases (concurrently, in this engine model): the larger need binds.
  const lowerBoundGpuS = agg ? Math.max(prefillGpuS, decodeGpuS) : prefillGpuS + decodeGpuS;
  const decodeByInterval = new Map<number, number>();
  const blocksPerEngine = Math.floor(o.model.maxKvTokens / 16);
  for (const k of new Set([...needs.decodeGpuSByInterval.keys(), ...needs.decodeBlocksByInterval.keys()])) {
    const throughput = Math.ceil((needs.decodeGpuSByInterval.get(k) ?? 0) / (I * gd) - 1e-9);
    const kv = Math.ceil((needs.decodeBlocksByInterval.get(k) ?? 0) / (blocksPerEngine * KV_FILL) - 1e-9);
    decodeByInterval.set(k, Math.max(throughput, kv));
  }
  const policy = new ClairvoyantPolicy(cfg, o.gpusPerReplica, needs.prefillByInterval, decodeByInterval, cs, lowerBoundGpuS / 3600);
  return { policy, initial: policy.allocationAt(0) };
}

/** Sorted keys of a grid's cells with a need, and the largest need of the cells overlapping [t, t + span]. */
class Grid {
  readonly keys: number[];
  constructor(
    readonly cellS: number,
    readonly need: Map<number, number>,
  ) {
    this.keys = [...need.keys()].sort((a, b) => a - b);
  }

  maxOver(t: number, span: number): number {
    const lo = Math.floor(t / this.cellS + 1e-9);
    const hi = Math.floor((t + span) / this.cellS + 1e-9);
    let a = 0;
    let b = this.keys.length;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (this.keys[mid] < lo) a = mid + 1;
      else b = mid;
    }
    let best = 0;
    for (let i = a; i < this.keys.length && this.keys[i] <= hi; i++) best = Math.max(best, this.need.get(this.keys[i])!);
    return best;
  }

  /** Times at which maxOver(t, span) can change: a cell entering the window, and one leaving it. */
  changes(span: number): number[] {
    const out: number[] = [];
    for (const k of this.keys) out.push(Math.max(0, k * this.cellS - span), (k + 1) * this.cellS);
    return out;
  }
}

/** Replays the needs: each asked a cold start before it and held while needed. */
export class ClairvoyantPolicy implements SimPolicy {
  readonly name = 'clairvoyant';
  private readonly timers: number[];
  private readonly prefill: Grid;
  private readonly decode: Grid;

  constructor(
    private readonly config: PlannerConfig,
    private readonly gpus: PoolCounts,
    prefillByInterval: Map<number, number>,
    decodeByInterval: Map<number, number>,
    private readonly coldStartS: number,
    private readonly lowerBoundGpuHours: number,
  ) {
    this.prefill = new Grid(config.throughput_adjustment_interval, prefillByInterval);
    this.decode = new Grid(config.throughput_adjustment_interval, decodeByInterval);
    this.timers = [...new Set([...this.prefill.changes(coldStartS), ...this.decode.changes(coldStartS)])].sort((a, b) => a - b);
  }

  /** Replicas to hold at time t: the largest need starting within a cold start, within the budget. */
  allocationAt(t: number): PoolCounts {
    const c = this.config;
    const minEp = c.min_endpoint;
    const prefill = Math.max(minEp, this.prefill.maxOver(t, this.coldStartS));
    const decode = Math.max(minEp, this.decode.maxOver(t, this.coldStartS));
    const limits = { maxGpuBudget: c.max_gpu_budget, minEndpoint: minEp };
    // agg: the one pool does both phases at once in this engine model.
    if (c.mode === 'agg') return { prefill: 0, decode: applyPoolBudget(Math.max(prefill, decode), this.gpus.decode, limits).replicas };
    const b = applyGlobalBudget(prefill, decode, this.gpus, limits);
    return { prefill: b.prefill, decode: b.decode };
  }

  nextTimerS(nowS: number): number {
    let a = 0;
    let b = this.timers.length;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (this.timers[mid] <= nowS) a = mid + 1;
      else b = mid;
    }
    return a < this.timers.length ? this.timers[a] : Infinity;
  }

  onTimer(ctx: PolicyContext): PoolTargets {
    return this.allocationAt(ctx.nowS);
  }

  summaryExtras(): Record<string, number> {
    return { lower_bound_gpu_hours: this.lowerBoundGpuHours };
  }
}
