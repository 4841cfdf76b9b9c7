// load_scaling_rule: saturation (sla-planner extension; on under strategy sla). The upstream load
// rule steps ±1 from a regression of latency on load; at KV saturation the engine's step time is
// flat (the batch is capped by KV), so the regression puts the SLA load beyond the cache, a new
// worker that starts empty blocks every scale-up and lets a scale-down through, and the pool
// oscillates at the cliff. This rule reads what the pool holds against what it can hold, as
// Knative's panic mode reads observed concurrency against the target:
// - decode: the router's active KV blocks (running and waiting sequences) over the engines' KV
//   capacity (the frontend's model_total_kv_blocks, else the profile's max_kv_tokens: a missing
//   capacity series never reads as 0); over `saturation_kv_usage`, or preemptions or waiting
//   requests in every scrape of the tick reported by the engines, it is saturated and asks for ceil(blocks / (fill × capacity))
//   at once, proportional to the overload;
// - prefill: saturated when, in every scrape of the tick, even the least-loaded worker holds more
//   queued prompt tokens than it prefills within the TTFT slack (target − idle TTFT): a new prompt
//   cannot meet the target wherever the router sends it. It asks for the workers that keep up
//   with the arrivals the growing queue shows: ready + growth / (rate × tick), at least one more
//   and at most twice the ready count per tick (a prompt already queued cannot move, so the queue
//   itself says nothing about how many more would help; a single long prompt never triggers it).
// Replicas asked for and still starting are counted (no second scale-up for the same overload),
// a load tick never scales down, and a throughput tick may not scale down a pool that was
// saturated since the previous one.
import type { PlannerConfig } from '../../config/schema.js';
import type { DecodeInterpolator, PrefillInterpolator } from '../../profile-data/types.js';
import { POOLS, type Plan, type Pool, type ReplicaCounts, type SaturationReport } from '../decision.js';
import type { DecodeWorkerSample, PrefillWorkerSample, RouterSnapshot } from '../observation.js';
import { MAX_POOL_REPLICAS } from '../screen.js';

/** vLLM's default KV block (tokens): what converts the profile's token capacity into the router's blocks. */
export const DEFAULT_KV_BLOCK_TOKENS = 16;

export interface SaturationSettings {
  prefill?: PrefillInterpolator;
  decode?: DecodeInterpolator;
  pools: readonly Pool[];
  gpusPerReplica: ReplicaCounts;
  loadIntervalS: number;
  ttftTargetMs: number;
  /** KV usage over which a decode pool is saturated. */
  kvHighMark: number;
  /** The KV fill a scale-out sizes for. */
  kvFill: number;
  /** Seconds a replica asked for counts as starting (then it is presumed lost and asked for again). */
  startingGraceS: number;
  maxReplicas: ReplicaCounts;
}

interface Asked {
  replicas: number;
  tick: number;
}

export interface SaturationDecision {
  /** Pools to scale out, and to what. */
  desired: Partial<Record<Pool, number>>;
  report: SaturationReport;
}

export class SaturationFeedback {
  private tick = 0;
  private requested: Partial<Record<Pool, Asked>> = {};
  /** What was asked before the last target, to restore when the environment does not take it. */
  private beforeLastAsk: Partial<Record<Pool, Asked>> | undefined;
  /** Load tick of the last saturation seen per pool. */
  private readonly saturatedAt: Partial<Record<Pool, number>> = {};
  /** Throughput floor handed out at the last throughput tick (saturation since then holds a scale-down). */
  private lastThroughputTick = 0;
  /** Whether a scrape since the last call to prefillQueueingSeen() had every prefill worker queued past the TTFT slack. */
  private prefillQueued = false;
  /** Preemption counters of the previous tick, per worker. */
  private lastPreemptions = new Map<string, number>();

  constructor(private readonly s: SaturationSettings) {}

  static fromConfig(
    config: PlannerConfig,
    profile: { prefill: PrefillInterpolator; decode: DecodeInterpolator } | undefined,
    pools: readonly Pool[],
    gpusPerReplica: ReplicaCounts,
  ): SaturationFeedback | undefined {
    if (config.load_scaling_rule !== 'saturation' || !config.enable_load_scaling) return undefined;
    const budget = (pool: Pool) => (config.max_gpu_budget >= 0 ? Math.floor(config.max_gpu_budget / gpusPerReplica[pool]) : MAX_POOL_REPLICAS);
    return new SaturationFeedback({
      prefill: profile?.prefill,
      decode: profile?.decode,
      pools,
      gpusPerReplica,
      loadIntervalS: config.load_adjustment_interval,
      ttftTargetMs: config.ttft,
      kvHighMark: config.saturation_kv_usage,
      kvFill: config.decode_max_kv_usage,
      startingGraceS: 3 * config.cold_start_s,
      maxReplicas: { prefill: Math.min(budget('prefill'), MAX_POOL_REPLICAS), decode: Math.min(budget('decode'), MAX_POOL_REPLICAS) },
    });
  }

  /** A target the planner decided (either loop): replicas over the ready count are starting for a while. */
  asked(plan: Partial<Record<Pool, number | null>>): void {
    this.beforeLastAsk = { ...this.requested };
    for (const pool of POOLS) {
      const n = plan[pool];
      if (typeof n === 'number') this.requested[pool] = { replicas: n, tick: this.tick };
    }
  }

  /** The environment did not take the last target (dropped during a rollout): nothing of it is starting. */
  notTaken(): void {
    if (this.beforeLastAsk === undefined) return;
    this.requested = this.beforeLastAsk;
    this.beforeLastAsk = undefined;
  }

  /** Replicas asked for and not ready yet (0 once ready or past the grace). */
  starting(pool: Pool, ready: number): number {
    const a = this.requested[pool];
    if (a === undefined || (this.tick - a.tick) * this.s.loadIntervalS > this.s.startingGraceS) return 0;
    return Math.max(0, a.replicas - ready);
  }

  /** One load tick: scale out what is saturated, in proportion to the overload. */
  decide(samples: readonly RouterSnapshot[], ready: ReplicaCounts): SaturationDecision {
    this.tick++;
    const report: SaturationReport = {};
    const desired: Partial<Record<Pool, number>> = {};
    for (const pool of this.s.pools) {
      const starting = this.starting(pool, ready[pool]);
      const view = pool === 'decode' ? this.decodeView(samples, ready.decode) : this.prefillView(samples, ready.prefill);
      if (view === undefined) continue;
      const wanted = Math.min(this.s.maxReplicas[pool], view.needed);
      if (view.saturated) this.saturatedAt[pool] = this.tick;
      report[pool] = { ...view.detail, saturated: view.saturated, needed: view.needed, starting, ready: ready[pool] };
      if (view.saturated && wanted > ready[pool] + starting) desired[pool] = wanted;
    }
    return { desired, report };
  }

  /**
   * Whether, since the last call, some scrape had every prefill worker queued past what it prefills
   * within the TTFT slack (a prompt arriving then had to wait beyond the target wherever it went).
   */
  prefillQueueingSeen(): boolean {
    const seen = this.prefillQueued;
    this.prefillQueued = false;
    return seen;
  }

  /**
   * The throughput plan with the saturation hold: a pool saturated since the last throughput tick
   * keeps at least its current target (ready and starting replicas).
   */
  floor(plan: Plan, current: ReplicaCounts): Plan {
    const out: Plan = { ...plan };
    for (const pool of POOLS) {
      const c = out[pool];
      const at = this.saturatedAt[pool];
      const target = current[pool] + this.starting(pool, current[pool]);
      if (c !== undefined && at !== undefined && at > this.lastThroughputTick && target > c.replicas) {
        out[pool] = { replicas: target, binding: 'saturation_hold' };
      }
    }
    this.lastThroughputTick = this.tick;
    return out;
  }

  /** Decode: active KV blocks against capacity, plus what the engines say about preemptions and waiting requests. */
  private decodeView(samples: readonly RouterSnapshot[], ready: number): PoolView | undefined {
    const decode = this.s.decode;
    const latest = latestWith(samples, 'decode');
    if (latest === undefined || ready === 0) return undefined;
    const workers = Object.entries(latest) as Array<[string, DecodeWorkerSample]>;
    if (workers.length === 0) return undefined;
    // Mean over the buffered scrapes of the pool's total blocks: one scrape catches a transient.
    // A request waits for the engine's next step as it arrives, so one scrape often shows a waiting
    // request on an idle engine: only a queue present in every scrape of the tick is saturation.
    let blocksSum = 0;
    let scrapes = 0;
    let waiting = Infinity;
    for (const snap of samples) {
      if (snap.decode === undefined) continue;
      let total = 0;
      let waitingNow = 0;
      for (const g of Object.values(snap.decode)) {
        total += g.active_decode_blocks;
        if (typeof g.num_requests_waiting === 'number') waitingNow += g.num_requests_waiting;
      }
      blocksSum += total;
      waiting = Math.min(waiting, waitingNow);
      scrapes++;
    }
    if (scrapes === 0) waiting = 0;
    const blocks = scrapes > 0 ? blocksSum / scrapes : 0;
    const fallback = decode !== undefined ? Math.floor(decode.maxKvTokens / DEFAULT_KV_BLOCK_TOKENS) : undefined;
    let capacity = 0;
    let capacityFrom: 'engine' | 'profile' = 'engine';
    for (const [, g] of workers) {
      const reported = g.kv_total_blocks;
      if (typeof reported === 'number' && reported > 0) capacity += reported;
      else if (fallback !== undefined && fallback > 0) {
        capacity += fallback;
        capacityFrom = 'profile';
      } else return undefined; // no capacity known: never scale on a guess
    }
    const perWorker = capacity / workers.length;
    const usage = blocks / capacity;
    let preempted = 0;
    const seen = new Map<string, number>();
    for (const [id, g] of workers) {
      if (typeof g.preemptions_total === 'number') {
        const before = this.lastPreemptions.get(id);
        // A counter that went down is a restarted pod: its new count is all since the restart.
        if (before !== undefined) preempted += g.preemptions_total >= before ? g.preemptions_total - before : g.preemptions_total;
        seen.set(id, g.preemptions_total);
      }
    }
    this.lastPreemptions = seen;
    const saturated = usage > this.s.kvHighMark || preempted > 0 || waiting > 0;
    let needed = Math.ceil(blocks / (this.s.kvFill * perWorker));
    // Preemptions or a queue below the usage mark (a long request, fragmentation): one more.
    if (saturated && needed <= ready) needed = ready + 1;
    return {
      saturated,
      needed: Math.min(needed, MAX_POOL_REPLICAS),
      detail: { kv_blocks: blocks, kv_capacity_blocks: capacity, kv_usage: usage, kv_capacity_from: capacityFrom, preemptions: preempted, waiting },
    };
  }

  /** Prefill: every worker's queue past what it prefills within the TTFT slack, in every scrape of the tick. */
  private prefillView(samples: readonly RouterSnapshot[], ready: number): PoolView | undefined {
    const prefill = this.s.prefill;
    if (prefill === undefined || ready === 0) return undefined;
    const totals: number[] = [];
    const leastPerScrape: number[] = [];
    let leastBacklog = Infinity;
    let islSum = 0;
    let islCount = 0;
    for (const snap of samples) {
      if (snap.prefill === undefined) continue;
      const workers = Object.values(snap.prefill) as PrefillWorkerSample[];
      if (workers.length === 0) continue;
      let total = 0;
      let least = Infinity;
      for (const g of workers) {
        total += g.active_prefill_tokens;
        least = Math.min(least, g.active_prefill_tokens);
        if (g.last_isl > 0) {
          islSum += g.last_isl;
          islCount++;
        }
      }
      totals.push(total);
      leastPerScrape.push(least);
      leastBacklog = Math.min(leastBacklog, least);
    }
    if (totals.length === 0) return undefined;
    const isl = islCount > 0 ? islSum / islCount : prefill.minIsl;
    const ratePerReplica = prefill.thptPerGpu(isl) * this.s.gpusPerReplica.prefill;
    if (!(ratePerReplica > 0)) return undefined;
    const idleMs = prefill.ttftMs(isl);
    // With no slack left the target itself bounds the wait (the idle TTFT is then infeasible anyway).
    const slackS = (this.s.ttftTargetMs - idleMs > 0 ? this.s.ttftTargetMs - idleMs : this.s.ttftTargetMs) / 1000;
    const slackTokens = ratePerReplica * slackS;
    const saturated = leastBacklog > slackTokens;
    if (leastPerScrape.some((least) => least > slackTokens)) this.prefillQueued = true;
    // Arrivals beyond what the ready workers prefill show as queue growth over the tick.
    const growthPerS = (totals[totals.length - 1] - totals[0]) / this.s.loadIntervalS;
    const more = Math.max(1, Math.ceil(Math.max(0, growthPerS) / ratePerReplica));
    const needed = saturated ? Math.min(2 * ready, ready + more) : ready;
    return {
      saturated,
      needed,
      detail: { least_queued_prefill_tokens: leastBacklog, queued_prefill_tokens: totals[totals.length - 1], prefill_tokens_per_s_per_replica: ratePerReplica, ttft_slack_ms: slackS * 1000 },
    };
  }
}

interface PoolView {
  saturated: boolean;
  needed: number;
  detail: Record<string, number | string>;
}

/** The latest scrape's workers of a pool (scrapes with no gauges at all are skipped). */
function latestWith(samples: readonly RouterSnapshot[], pool: Pool): Record<string, DecodeWorkerSample> | undefined {
  for (let i = samples.length - 1; i >= 0; i--) {
    const snap = samples[i];
    if (snap.prefill === undefined && snap.decode === undefined) continue;
    return snap[pool] as Record<string, DecodeWorkerSample> | undefined;
  }
  return undefined;
}
