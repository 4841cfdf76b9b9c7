// A clairvoyant reference: it knows every request of the trace in advance and, for each throughput
// interval, asks for the fewest replicas that could serve that interval's work within the SLA,
// a cold start ahead of need. Its sizing is a relaxation, so its GPU-hours are a lower bound:
//
// - Work a request must get inside an interval. Meeting TTFT, its prefill (p seconds on one
//   replica) runs within [a, a + ttft]; meeting ITL, its osl - 1 decode tokens come out within
//   [a + p, a + ttft + (osl - 1) * itl], at most one per idle step time m. Whatever part of that
//   does not fit outside interval k must be done inside it: (overlap_k - slack)^+ seconds of
//   prefill (slack = ttft - p) and (overlap_k - slack)^+ / m tokens of decode (slack = window -
//   (osl - 1) * m).
// - A replica does at most one second of prefill per second, and a decode GPU at most the
//   profile's best throughput under the ITL target at the request's context. So no allocation
//   can do interval k's forced work with fewer replica-seconds than W_k / I (fractional).
// - A replica serving at time u was asked for at u - cold start and held since, so GPUs
//   allocated at t are at least the largest need over [t, t + cold start]; and at least
//   min_endpoint per pool.
// - Requests infeasible alone never count toward attainment, so they are left out; for a target
//   attainment A < 1, each pool may further drop the (1 - A) * N - infeasible requests with the
//   most work in that pool (a relaxation: the pools drop independently).
// `lower_bound_gpu_hours` integrates that fractional bound; any policy reaching the attainment
// under the same engine model uses at least as many GPU-hours. The policy itself rounds each
// interval's need up to whole replicas and is simulated like any other (its attainment shows how
// optimistic the bound is: no queueing slack, best-case batching).
import type { PlannerConfig } from '../config/schema.js';
import { applyGlobalBudget, applyPoolBudget } from '../scaling/budget.js';
import { idleLatency } from './engine.js';
import type { EngineLatencyModel, PolicyContext, PoolCounts, PoolTargets, SimPolicy, TraceBatch } from './types.js';

export interface ClairvoyantOptions {
  config: PlannerConfig;
  model: EngineLatencyModel;
  /** The profile's best decode output tokens/s per GPU with ITL <= the target at a context length. */
  bestDecodeTokensPerGpuS: (contextTokens: number) => number;
  gpusPerReplica: PoolCounts;
  coldStartS: number;
  /** Share of all requests that must meet the SLA (1 = every feasible one). */
  targetAttainment: number;
  /** A fresh read of the shaped trace (called once, or twice when A < 1). */
  trace: () => AsyncIterable<TraceBatch>;
}

/** Per-interval forced work, GPU-seconds, sparse by interval index. */
interface Work {
  prefill: Map<number, number>;
  decode: Map<number, number>;
}

const add = (m: Map<number, number>, k: number, v: number) => m.set(k, (m.get(k) ?? 0) + v);

/** (overlap of [a, b) with interval k - slack)^+ for every interval k the window touches. */
function forced(a: number, b: number, slack: number, intervalS: number, each: (k: number, seconds: number) => void): void {
  if (!(b > a) || slack >= intervalS) return;
  const k0 = Math.floor(a / intervalS);
  const k1 = Math.floor(b / intervalS);
  for (let k = k0; k <= k1; k++) {
    const overlap = Math.min(b, (k + 1) * intervalS) - Math.max(a, k * intervalS);
    if (overlap > slack) each(k, overlap - slack);
  }
}

interface RequestWork {
  /** Total forced GPU-seconds of the request in each pool (for the attainment relaxation). */
  prefill: number;
  decode: number;
}

/** Visit each feasible request's forced work; `keep` may veto a request given its totals. */
async function scan(o: ClairvoyantOptions, each: (r: RequestWork, k: number, pool: 'prefill' | 'decode', gpuS: number) => void, keep: (r: RequestWork) => boolean, totals?: (r: RequestWork) => void): Promise<{ all: number; infeasible: number; lastT: number }> {
  const I = o.config.throughput_adjustment_interval;
  const ttftS = o.config.ttft / 1000;
  const itlS = o.config.itl / 1000;
  const gp = o.config.mode === 'agg' ? o.gpusPerReplica.decode : o.gpusPerReplica.prefill;
  let all = 0;
  let infeasible = 0;
  let lastT = 0;
  const parts: Array<[number, 'prefill' | 'decode', number]> = [];
  for await (const b of o.trace()) {
    for (let i = 0; i < b.length; i++) {
      all++;
      const a = b.t[i];
      lastT = a;
      const isl = Math.max(0, Math.round(b.isl[i]));
      const osl = Math.max(1, Math.round(b.osl[i]));
      const alone = idleLatency(o.model, isl, osl);
      if (!alone.fits || alone.ttftMs > o.config.ttft || (alone.itlMs !== null && alone.itlMs > o.config.itl)) {
        infeasible++;
        continue;
      }
      parts.length = 0;
      const r: RequestWork = { prefill: 0, decode: 0 };
      const p = alone.ttftMs / 1000;
      forced(a, a + ttftS, ttftS - p, I, (k, s) => {
        parts.push([k, 'prefill', s * gp]);
        r.prefill += s * gp;
      });
      if (osl > 1) {
        const tokens = osl - 1;
        const m = alone.itlMs! / 1000;
        const e = a + p;
        const l = a + ttftS + tokens * itlS;
        const gpuSPerToken = 1 / o.bestDecodeTokensPerGpuS(isl + osl / 2);
        forced(e, l, l - e - tokens * m, I, (k, s) => {
          parts.push([k, 'decode', (s / m) * gpuSPerToken]);
          r.decode += (s / m) * gpuSPerToken;
        });
      }
      totals?.(r);
      if (!keep(r)) continue;
      for (const [k, pool, gpuS] of parts) each(r, k, pool, gpuS);
    }
  }
  return { all, infeasible, lastT };
}

/** The value with `count` values >= it (the count-th largest), or Infinity when count <= 0. */
function kthLargest(values: Float64Array, count: number): number {
  if (count <= 0) return Infinity;
  if (count >= values.length) return -Infinity;
  const sorted = Float64Array.from(values).sort();
  return sorted[values.length - count];
}

/** Integral over [0, endS) of max(floor, max of box heights covering t), boxes [start, end). */
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
  const recompute = () => {
    top = floor;
    for (const h of active.keys()) if (h > top) top = h;
  };
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
      if (h === top) recompute();
    }
  }
  area += (endS - lastT) * top;
  return area;
}

export interface ClairvoyantBuild {
  policy: SimPolicy;
  initial: PoolCounts;
}

export async function buildClairvoyant(o: ClairvoyantOptions): Promise<ClairvoyantBuild> {
  const cfg = o.config;
  const I = cfg.throughput_adjustment_interval;
  const agg = cfg.mode === 'agg';
  const work: Work = { prefill: new Map(), decode: new Map() };
  const totalsP: number[] = [];
  const totalsD: number[] = [];
  const first = await scan(
    o,
    (_r, k, pool, gpuS) => add(work[pool], k, gpuS),
    () => true,
    (r) => {
      totalsP.push(r.prefill);
      totalsD.push(r.decode);
    },
  );
  const allowedMisses = Math.floor((1 - o.targetAttainment) * first.all + 1e-9) - first.infeasible;
  if (allowedMisses > 0) {
    // Each pool drops its costliest requests, up to the misses the target allows.
    const cutP = kthLargest(Float64Array.from(totalsP), allowedMisses);
    const cutD = kthLargest(Float64Array.from(totalsD), allowedMisses);
    let leftP = allowedMisses;
    let leftD = allowedMisses;
    work.prefill.clear();
    work.decode.clear();
    const dropP = new WeakSet<RequestWork>();
    const dropD = new WeakSet<RequestWork>();
    await scan(
      o,
      (r, k, pool, gpuS) => {
        if (pool === 'prefill' ? dropP.has(r) : dropD.has(r)) return;
        add(work[pool], k, gpuS);
      },
      (r) => {
        if (r.prefill >= cutP && leftP > 0) {
          leftP--;
          dropP.add(r);
        }
        if (r.decode >= cutD && leftD > 0) {
          leftD--;
          dropD.add(r);
        }
        return true;
      },
    );
  }
  const endS = Math.max(I, Math.ceil(first.lastT / I) * I);
  const pools = agg ? (['decode'] as const) : (['prefill', 'decode'] as const);
  const minEp = cfg.min_endpoint;
  // Replica-seconds needed per interval, per managed pool (agg: one pool does both phases).
  const need = (pool: 'prefill' | 'decode'): Map<number, number> => {
    if (!agg || pool === 'prefill') return work[pool];
    const both = new Map(work.decode);
    for (const [k, v] of work.prefill) add(both, k, v);
    return both;
  };
  const cs = o.coldStartS;
  let lowerBoundGpuS = 0;
  const wholeReplicas: Record<'prefill' | 'decode', Map<number, number>> = { prefill: new Map(), decode: new Map() };
  for (const pool of pools) {
    const g = o.gpusPerReplica[pool];
    const boxes: Array<{ start: number; end: number; height: number }> = [];
    for (const [k, gpuS] of need(pool)) {
      const replicas = gpuS / (I * g);
      boxes.push({ start: k * I - cs, end: (k + 1) * I, height: replicas });
      wholeReplicas[pool].set(k, Math.max(minEp, Math.ceil(replicas - 1e-9)));
    }
    lowerBoundGpuS += envelopeIntegral(boxes, minEp, endS) * g;
  }
  const policy = new ClairvoyantPolicy(cfg, o.gpusPerReplica, wholeReplicas, cs, lowerBoundGpuS / 3600, o.targetAttainment);
  return { policy, initial: policy.allocationAt(0) };
}

/** Replays the precomputed allocation: an interval's replicas are asked a cold start before it and kept while needed. */
export class ClairvoyantPolicy implements SimPolicy {
  readonly name: string;
  private readonly timers: number[];
  private readonly keys: Record<'prefill' | 'decode', number[]>;

  constructor(
    private readonly config: PlannerConfig,
    private readonly gpus: PoolCounts,
    private readonly replicas: Record<'prefill' | 'decode', Map<number, number>>,
    private readonly coldStartS: number,
    private readonly lowerBoundGpuHours: number,
    private readonly targetAttainment: number,
  ) {
    this.name = targetAttainment < 1 ? `clairvoyant:${targetAttainment}` : 'clairvoyant';
    const I = config.throughput_adjustment_interval;
    const times = new Set<number>();
    this.keys = { prefill: [...replicas.prefill.keys()].sort((a, b) => a - b), decode: [...replicas.decode.keys()].sort((a, b) => a - b) };
    for (const pool of ['prefill', 'decode'] as const) {
      for (const k of this.keys[pool]) {
        times.add(Math.max(0, k * I - coldStartS));
        times.add((k + 1) * I);
      }
    }
    this.timers = [...times].sort((a, b) => a - b);
  }

  /** Replicas to hold at time t: the largest need of any interval starting within a cold start. */
  allocationAt(t: number): PoolCounts {
    const I = this.config.throughput_adjustment_interval;
    const out: PoolCounts = { prefill: this.config.mode === 'agg' ? 0 : this.config.min_endpoint, decode: this.config.min_endpoint };
    for (const pool of ['prefill', 'decode'] as const) {
      if (pool === 'prefill' && this.config.mode === 'agg') continue;
      const keys = this.keys[pool];
      const lo = Math.floor(t / I + 1e-9);
      const hi = Math.floor((t + this.coldStartS) / I + 1e-9);
      // Binary search for the first key >= lo.
      let a = 0;
      let b = keys.length;
      while (a < b) {
        const mid = (a + b) >> 1;
        if (keys[mid] < lo) a = mid + 1;
        else b = mid;
      }
      for (let i = a; i < keys.length && keys[i] <= hi; i++) out[pool] = Math.max(out[pool], this.replicas[pool].get(keys[i])!);
    }
    const limits = { maxGpuBudget: this.config.max_gpu_budget, minEndpoint: this.config.min_endpoint };
    if (this.config.mode === 'agg') return { prefill: 0, decode: applyPoolBudget(out.decode, this.gpus.decode, limits).replicas };
    const b = applyGlobalBudget(out.prefill, out.decode, this.gpus, limits);
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
    return { lower_bound_gpu_hours: this.lowerBoundGpuHours, target_attainment: this.targetAttainment };
  }
}
