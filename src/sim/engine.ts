// The serving-deployment model, the one source of timing truth for `simulate` and for anything that
// serves simulated tokens in real time: pure state, advanced with `advanceTo(nowS)`, reporting
// through callbacks. No I/O, no clock, no randomness.
//
// Model (the README's simulator section lists what is simplified):
// - Prefill: the router sends each arrival to the ready prefill replica that frees up first; a
//   replica serves its FIFO queue one request at a time, each for the profile's TTFT at its ISL.
// - Decode, as vLLM's v1 scheduler at KV saturation: KV is held per sequence in blocks of 16 tokens
//   (ceil(context / 16) each). At every step boundary the scheduler first finds room for the
//   running requests' next tokens; when the blocks run out it preempts the most recently admitted
//   running request (its blocks are freed, it goes back to the front of the waiting queue, and in a
//   step that preempted nothing new is admitted). It then admits waiting requests in FIFO order
//   while the head's blocks are free (minus an optional watermark) and fewer than `maxNumSeqs` run.
//   A readmitted request recomputes its prompt and the tokens it had generated at prefill cost,
//   which the whole batch waits for. Requests that could never fit are rejected at arrival.
// - All running requests advance one token per step; the step time is the profile's ITL at (batch
//   size, mean context). Steps are simulated in runs of equal steps, cut at every finish,
//   admission, preemption and at least every 0.5% of the KV capacity, so cost grows with requests
//   and scaling events, not with tokens.
// - agg: one pool; a replica prefills (its own FIFO server) and then decodes the request itself.
// - Abort (the mocker, when a client goes away): queued requests leave at once, a prompt in
//   prefill is dropped and the next starts, a running request frees its blocks at the next step.
// - Scaling: new replicas serve after the cold start; removed ones stop taking requests and leave
//   once drained. GPUs count from the scale-up until the replica is gone.
import type { Mode } from '../config/schema.js';
import type { DecodeWorkerSample, PrefillWorkerSample, RouterSnapshot } from '../scaling/observation.js';
import { Field, IdDeque, IdHeap, RequestTable } from './tables.js';
import type { EngineLatencyModel, PoolCounts } from './types.js';

export type PoolName = 'prefill' | 'decode';

/** vLLM's KV block size (tokens). */
export const KV_BLOCK_TOKENS = 16;

/** vLLM's defaults on an H100-class GPU (>= 70 GiB) for `vllm serve`: at most 1024 running sequences; no KV watermark in v1. */
export const VLLM_DEFAULTS = { maxNumSeqs: 1024, kvWatermark: 0 } as const;

/** Most replicas a pool may have, whatever a policy asks: bounds memory and work when no GPU budget applies. */
export const MAX_REPLICAS_PER_POOL = 4096;

/** Receives what the frontend would measure. Request ids are valid until complete/drop returns. */
export interface EngineRecorder {
  firstToken(id: number, nowS: number): void;
  /** itlMs is null for single-token outputs (no inter-token gap). */
  complete(id: number, nowS: number, itlMs: number | null): void;
  /** Rejected at arrival: the request could never fit in one engine's KV cache. */
  drop(id: number, nowS: number): void;
  preempt?(id: number, nowS: number, replicaId: number): void;
}

type ReplicaState = 'starting' | 'ready' | 'draining' | 'gone';

/** One worker's gauges as its /metrics (vLLM) and the router (per-worker) would export them. */
export interface WorkerGauges {
  worker_id: number;
  pool: PoolName;
  state: 'ready' | 'draining';
  /** Decode: requests in the running batch; prefill: the one being prefilled (0 or 1). */
  num_requests_running: number;
  /** Decode: the scheduler's waiting queue (new and preempted); prefill: queued behind the one in service. */
  num_requests_waiting: number;
  kv_blocks_used: number;
  kv_blocks_total: number;
  /** kv_blocks_used / kv_blocks_total (vLLM's kv_cache_usage_perc, 0..1). */
  kv_usage: number;
  /** The router's view: blocks of every sequence routed to this worker and not finished (running and waiting). */
  active_decode_blocks: number;
  /** ISL of requests queued or in prefill on this worker (the router's active_prefill_tokens). */
  active_prefill_tokens: number;
  last_ttft_s: number;
  last_isl: number;
  last_itl_s: number;
  /** Cumulative preemptions of this worker (vLLM's num_preemptions_total; resets with the pod). */
  preemptions_total: number;
}

class Replica {
  state: ReplicaState = 'starting';
  // ---- prefill server: FIFO, one request at a time
  readonly prefillQueue = new IdDeque();
  /** Time the last queued prefill ends (the router picks the replica that frees up first). */
  freeAtS = 0;
  prefillTokens = 0;
  prefillBusyS = 0;
  /** When the request at the head of the prefill queue started its prefill. */
  headStartS = 0;
  lastTtftS = 0;
  lastIsl = 0;
  // ---- decode: a batch advancing in lockstep on a step clock g (steps since the replica started)
  readonly running = new IdHeap(); // keyed by finishG
  /** Count of running requests by (isl + 1 - startG) mod 16 (which step each takes a new block). */
  readonly residue = new Int32Array(KV_BLOCK_TOKENS);
  /** padByPhase[g mod 16] = sum over running of the tokens left in their last block: blocks in O(1). */
  readonly padByPhase = new Int32Array(KV_BLOCK_TOKENS);
  /** Sum over running of (isl + 1 - startG): context tokens at clock g = sumBase + n * g. */
  sumBase = 0;
  readonly waiting = new IdDeque();
  /** Ids and admission numbers of running requests, oldest first; entries of requests no longer running are skipped lazily. */
  admitIds = new Int32Array(64);
  admitSeqs = new Float64Array(64);
  admitTop = 0;
  /** Blocks the waiting requests will need when admitted (the router counts them as routed). */
  waitingBlocks = 0;
  /** Clock at the last boundary, and its time. */
  g = 0;
  gAtS = 0;
  /** Extra time before the first step of the current run (recompute of readmitted requests). */
  stallS = 0;
  stepS = 0;
  /** Steps in the current run (the next boundary is at g + runSteps). */
  runSteps = 0;
  // ---- the replica's next events (Infinity = none) and its place in the engine's event heap
  readyEventS = Infinity;
  prefillEventS = Infinity;
  decodeEventS = Infinity;
  /** Clock at the scheduled decode boundary. */
  decodeEventG = 0;
  nextS = Infinity;
  nextSeq = 0;
  heapIndex = -1;
  /** The boundary at which the scheduler last preempted (no admission in that step). */
  preemptedAtG = -1;
  preemptions = 0;
  lastItlS = 0;

  constructor(
    readonly id: number,
    readonly pool: PoolName,
    readonly readyAtS: number,
  ) {}

  isIdle(): boolean {
    return this.prefillQueue.length === 0 && this.running.size === 0 && this.waiting.length === 0;
  }
}

/** x mod 16 for any integer-valued double (no fmod: faster, and right past 2^31). */
const mod16 = (x: number): number => (x - Math.floor(x / KV_BLOCK_TOKENS) * KV_BLOCK_TOKENS) | 0;

export interface EngineOptions {
  mode: Mode;
  coldStartS: number;
  gpusPerReplica: PoolCounts;
  /** Replicas ready at t = 0. */
  initial: PoolCounts;
  recorder: EngineRecorder;
  /** vLLM's max_num_seqs (default 1024). */
  maxNumSeqs?: number;
  /** Share of KV blocks kept free when admitting while something runs (vLLM's optional watermark; default 0). */
  kvWatermark?: number;
}

/** Tokens whose KV a request holds at its peak (the last decode step's context). */
export function peakContextTokens(isl: number, osl: number): number {
  return osl <= 1 ? isl : isl + osl - 1;
}

export const blocksFor = (tokens: number): number => Math.ceil(tokens / KV_BLOCK_TOKENS);

/** KV blocks one engine holds. */
export const totalKvBlocks = (model: EngineLatencyModel): number => Math.floor(model.maxKvTokens / KV_BLOCK_TOKENS);

/** Steps between re-evaluations of the step time for a batch of n: 0.5% of the KV capacity spread over the batch (finer than the profile's 1% grid). */
function runCap(model: EngineLatencyModel, n: number): number {
  return Math.max(1, Math.floor((0.005 * model.maxKvTokens) / n));
}

/**
 * Latency of one request alone on idle engines, with exactly the engine's arithmetic: TTFT = its
 * prefill time, ITL = the mean of its decode steps (null for one output token). `fits` is false
 * when it could never fit in one engine's KV cache.
 */
export function idleLatency(model: EngineLatencyModel, isl: number, osl: number): { ttftMs: number; itlMs: number | null; fits: boolean } {
  isl = Math.round(isl);
  osl = Math.max(1, Math.round(osl));
  const fits = blocksFor(peakContextTokens(isl, osl)) <= totalKvBlocks(model);
  const ttftMs = model.prefillMs(isl);
  if (osl <= 1) return { ttftMs, itlMs: null, fits };
  const steps = osl - 1;
  const cap = runCap(model, 1);
  let totalMs = 0;
  for (let done = 0; done < steps; ) {
    const k = Math.min(steps - done, cap);
    totalMs += k * model.decodeStepMs(1, isl + 1 + done);
    done += k;
  }
  return { ttftMs, itlMs: totalMs / steps, fits };
}

export class Engine {
  /** Every request in the system; the recorder reads fields of the ids it is given. */
  readonly table = new RequestTable();
  /** Replicas with a pending event, a min-heap on (nextS, nextSeq): one entry each, no stale events. */
  private readonly due: Replica[] = [];
  private eventSeq = 0;
  private readonly replicas: Record<PoolName, Replica[]> = { prefill: [], decode: [] };
  private readonly pending: Record<PoolName, IdDeque> = { prefill: new IdDeque(), decode: new IdDeque() };
  private readonly targets: PoolCounts = { prefill: 0, decode: 0 };
  private readonly agg: boolean;
  private readonly totalBlocks: number;
  private readonly watermarkBlocks: number;
  private readonly maxNumSeqs: number;
  private nextId = 0;
  /** Running requests aborted by their client, taken out of the batch at its next step boundary. */
  private readonly aborting = new Set<number>();
  /** Admission counter shared by all replicas, so an admission number names one admission. */
  private admissions = 0;
  private gpuSeconds = 0;
  private gpusNow = 0;
  private gpuAtS = 0;
  private maxGpus = 0;
  private retiredBusyS = 0;
  private retiredPreemptions = 0;
  private maxInFlight = 0;
  scaleUps = 0;
  scaleDowns = 0;
  /** Targets asked above MAX_REPLICAS_PER_POOL and cut to it. */
  clampedTargets = 0;

  constructor(
    private readonly model: EngineLatencyModel,
    private readonly opts: EngineOptions,
  ) {
    this.agg = opts.mode === 'agg';
    this.totalBlocks = totalKvBlocks(model);
    this.maxNumSeqs = opts.maxNumSeqs ?? VLLM_DEFAULTS.maxNumSeqs;
    this.watermarkBlocks = Math.floor((opts.kvWatermark ?? VLLM_DEFAULTS.kvWatermark) * this.totalBlocks);
    for (const pool of ['prefill', 'decode'] as const) {
      const n = this.agg && pool === 'prefill' ? 0 : Math.min(opts.initial[pool], MAX_REPLICAS_PER_POOL);
      for (let i = 0; i < n; i++) this.addReplica(pool, 0, 0);
      this.targets[pool] = n;
    }
    this.maxGpus = this.gpusNow;
  }

  // ================================================================ public API

  /** Requests arrived and neither finished nor rejected. */
  get inFlightRequests(): number {
    return this.table.size;
  }

  /** Most requests in flight at once so far. */
  get peakInFlight(): number {
    return this.maxInFlight;
  }

  /** Preemptions so far, all workers (retired ones included). */
  get preemptions(): number {
    let n = this.retiredPreemptions;
    for (const r of this.replicas.decode) n += r.preemptions;
    return n;
  }

  /** Time of the next internal event (Infinity when nothing is scheduled). */
  nextEventS(): number {
    return this.due.length > 0 ? this.due[0].nextS : Infinity;
  }

  /** True when nothing is in flight and nothing is scheduled: time can jump. */
  isQuiescent(): boolean {
    return this.table.size === 0 && this.due.length === 0;
  }

  /** Process every internal event due at or before `nowS` (idempotent; time never goes back). */
  advanceTo(nowS: number): void {
    const due = this.due;
    while (due.length > 0 && due[0].nextS <= nowS) {
      const r = due[0];
      const atS = r.nextS;
      if (r.readyEventS === atS) {
        r.readyEventS = Infinity;
        this.retime(r);
        this.onReady(r, atS);
      } else if (r.prefillEventS === atS) {
        r.prefillEventS = Infinity;
        this.retime(r);
        this.onPrefillDone(r, atS);
      } else {
        r.decodeEventS = Infinity;
        this.retime(r);
        r.g = r.decodeEventG;
        r.gAtS = atS;
        r.stallS = 0;
        this.schedule(r, atS);
      }
    }
  }

  /**
   * A request reaches the frontend at `nowS` (call advanceTo(nowS) first). Token counts are
   * rounded to integers. Returns its id, or -1 when it was rejected (recorder.drop was called).
   */
  arrive(isl: number, osl: number, nowS: number, tag = 0): number {
    isl = Math.max(0, Math.round(isl));
    osl = Math.max(1, Math.round(osl));
    const t = this.table;
    const id = t.alloc();
    if (t.size > this.maxInFlight) this.maxInFlight = t.size;
    t.set(id, Field.ArrivalS, nowS);
    t.set(id, Field.Isl, isl);
    t.set(id, Field.Osl, osl);
    t.set(id, Field.FirstTokenS, 0);
    t.set(id, Field.Generated, 0);
    t.set(id, Field.AdmitSeq, -1);
    t.set(id, Field.Tag, tag);
    t.set(id, Field.Replica, -1);
    if (blocksFor(peakContextTokens(isl, osl)) > this.totalBlocks) {
      // Longer than one engine's KV cache: vLLM refuses it up front (max_model_len).
      this.opts.recorder.drop(id, nowS);
      t.release(id);
      return -1;
    }
    const pool: PoolName = this.agg ? 'decode' : 'prefill';
    const replica = this.pickPrefillReplica(pool, nowS);
    if (replica) this.enqueuePrefill(replica, id, nowS);
    else this.pending[pool].push(id);
    return id;
  }

  /**
   * The client of request `id` (in flight, not aborted before) went away at `nowS` (call
   * advanceTo(nowS) first), and the engine drops it as vLLM aborts a request: waiting at the
   * frontend or in a scheduler queue, it leaves at once; in prefill, the replica moves on to the
   * next prompt now; running, it leaves the batch and frees its KV blocks at the next step
   * boundary. The recorder hears nothing more of it. The simulator never calls this.
   */
  abort(id: number, nowS: number): void {
    if (this.aborting.has(id)) return;
    const t = this.table;
    const replicaId = t.get(id, Field.Replica);
    const r = replicaId >= 0 ? this.replicaById(replicaId) : undefined;
    if (!r) {
      for (const queue of [this.pending.prefill, this.pending.decode]) {
        const i = queue.indexOf(id);
        if (i >= 0) queue.removeAt(i);
      }
      t.release(id);
      return;
    }
    const inPrefill = r.prefillQueue.indexOf(id);
    if (inPrefill >= 0) this.cancelPrefill(r, inPrefill, nowS);
    else if (this.isRunning(r, id)) {
      // Keyed to finish at once, it is taken out of the batch (its blocks freed) at the next boundary.
      this.aborting.add(id);
      r.running.remove(id);
      r.running.push(r.g, id);
      this.rescheduleAtNextBoundary(r, nowS);
      return;
    } else {
      const i = r.waiting.indexOf(id);
      if (i < 0) return; // not on this replica: nothing to free
      r.waiting.removeAt(i);
      r.waitingBlocks -= this.admitBlocks(id);
      // A new head may fit where the old one did not: the scheduler looks at the next boundary.
      if (i === 0 && r.running.size > 0) this.rescheduleAtNextBoundary(r, nowS);
    }
    t.release(id);
    if (r.state === 'draining' && r.isIdle()) this.retire(r, nowS);
  }

  /** Requests aborted while running, waiting for the step boundary that takes them out. */
  get abortsPending(): number {
    return this.aborting.size;
  }

  /** Scale a pool to `count` replicas (ready + starting); at most MAX_REPLICAS_PER_POOL. */
  setTarget(pool: PoolName, count: number, nowS: number): void {
    if (this.agg && pool === 'prefill') return;
    count = Math.max(0, Math.floor(count));
    if (count > MAX_REPLICAS_PER_POOL) {
      count = MAX_REPLICAS_PER_POOL;
      this.clampedTargets++;
    }
    const old = this.targets[pool];
    if (count === old) return;
    if (count > old) this.scaleUps++;
    else this.scaleDowns++;
    this.targets[pool] = count;
    const live = this.replicas[pool].filter((r) => r.state === 'starting' || r.state === 'ready');
    if (count > live.length) {
      for (let i = live.length; i < count; i++) this.addReplica(pool, nowS, nowS + this.opts.coldStartS);
      return;
    }
    // Replicas still starting go first (as Kubernetes deletes pending pods first), then the newest
    // ready ones; those drain what they hold.
    let excess = live.length - count;
    for (let i = live.length - 1; i >= 0 && excess > 0; i--) {
      if (live[i].state === 'starting') {
        this.retire(live[i], nowS);
        excess--;
      }
    }
    for (let i = live.length - 1; i >= 0 && excess > 0; i--) {
      const r = live[i];
      if (r.state !== 'ready') continue;
      r.state = 'draining';
      excess--;
      if (r.isIdle()) this.retire(r, nowS);
    }
  }

  targetCounts(): PoolCounts {
    return { ...this.targets };
  }

  readyCounts(): PoolCounts {
    return { prefill: this.countState('prefill', 'ready'), decode: this.countState('decode', 'ready') };
  }

  startingCounts(): PoolCounts {
    return { prefill: this.countState('prefill', 'starting'), decode: this.countState('decode', 'starting') };
  }

  /** GPUs allocated now (starting, ready and draining replicas). */
  gpusAllocated(): number {
    return this.gpusNow;
  }

  gpuUsage(nowS: number): { gpuSeconds: number; maxGpus: number } {
    return { gpuSeconds: this.gpuSeconds + this.gpusNow * (nowS - this.gpuAtS), maxGpus: this.maxGpus };
  }

  /** Output tokens a request has produced by `nowS` (0 before its first token); for streaming it out. */
  tokensOut(id: number, nowS: number): number {
    const t = this.table;
    const first = t.get(id, Field.FirstTokenS);
    if (first === 0 || first > nowS) return 0;
    const replicaId = t.get(id, Field.Replica);
    const r = replicaId >= 0 ? this.replicaById(replicaId) : undefined;
    if (!r || !this.isRunning(r, id)) return 1 + t.get(id, Field.Generated);
    return Math.min(t.get(id, Field.Osl), 1 + this.clockAt(r, nowS) - t.get(id, Field.StartG));
  }

  /** Gauges of every ready and draining worker at `nowS`. */
  workerGauges(nowS: number): WorkerGauges[] {
    const out: WorkerGauges[] = [];
    for (const pool of ['prefill', 'decode'] as const) {
      for (const r of this.replicas[pool]) {
        if (r.state !== 'ready' && r.state !== 'draining') continue;
        const decoding = pool === 'decode';
        const used = decoding ? this.blocksAt(r, this.clockAt(r, nowS)) : 0;
        out.push({
          worker_id: r.id,
          pool,
          state: r.state,
          num_requests_running: decoding ? r.running.size : Math.min(1, r.prefillQueue.length),
          num_requests_waiting: decoding ? r.waiting.length : Math.max(0, r.prefillQueue.length - 1),
          kv_blocks_used: used,
          kv_blocks_total: decoding ? this.totalBlocks : 0,
          kv_usage: decoding ? used / this.totalBlocks : 0,
          active_decode_blocks: decoding ? used + r.waitingBlocks : 0,
          active_prefill_tokens: r.prefillTokens,
          last_ttft_s: r.lastTtftS,
          last_isl: r.lastIsl,
          last_itl_s: r.lastItlS,
          preemptions_total: r.preemptions,
        });
      }
    }
    return out;
  }

  /**
   * The router's per-worker gauges at `nowS` for ready workers (draining ones have deregistered).
   * agg engines register as decode workers and carry the prefill gauges too, as the router exports them.
   */
  routerSnapshot(nowS: number): RouterSnapshot {
    const prefill: NonNullable<RouterSnapshot['prefill']> = {};
    const decode: NonNullable<RouterSnapshot['decode']> = {};
    if (!this.agg) {
      for (const r of this.replicas.prefill) {
        if (r.state !== 'ready') continue;
        prefill[String(r.id)] = { active_prefill_tokens: r.prefillTokens, last_ttft: r.lastTtftS, last_isl: r.lastIsl };
      }
    }
    for (const r of this.replicas.decode) {
      if (r.state !== 'ready') continue;
      // The frontend also exports each worker's KV capacity (model_total_kv_blocks).
      const gauges: DecodeWorkerSample & Partial<PrefillWorkerSample> = {
        active_decode_blocks: this.blocksAt(r, this.clockAt(r, nowS)) + r.waitingBlocks,
        last_itl: r.lastItlS,
        kv_total_blocks: this.totalBlocks,
      };
      if (this.agg) {
        gauges.active_prefill_tokens = r.prefillTokens;
        gauges.last_ttft = r.lastTtftS;
        gauges.last_isl = r.lastIsl;
      }
      decode[String(r.id)] = gauges;
    }
    return this.agg ? { decode } : { prefill, decode };
  }

  /** Prefill busy seconds credited so far (at completion) over all prefill-serving replicas. */
  prefillBusySeconds(): number {
    let sum = this.retiredBusyS;
    for (const r of this.replicas[this.agg ? 'decode' : 'prefill']) sum += r.prefillBusyS;
    return sum;
  }

  /** Mean KV usage (0..1, blocks) of ready decode replicas. */
  meanDecodeKvUsage(nowS: number): number {
    let sum = 0;
    let n = 0;
    for (const r of this.replicas.decode) {
      if (r.state !== 'ready') continue;
      sum += this.blocksAt(r, this.clockAt(r, nowS)) / this.totalBlocks;
      n++;
    }
    return n > 0 ? sum / n : 0;
  }

  // ================================================================ replicas and GPUs

  private countState(pool: PoolName, state: ReplicaState): number {
    let n = 0;
    for (const r of this.replicas[pool]) if (r.state === state) n++;
    return n;
  }

  private replicaById(id: number): Replica | undefined {
    for (const pool of ['decode', 'prefill'] as const) for (const r of this.replicas[pool]) if (r.id === id) return r;
    return undefined;
  }

  private addReplica(pool: PoolName, nowS: number, readyAtS: number): void {
    const r = new Replica(this.nextId++, pool, readyAtS);
    r.gAtS = nowS;
    this.replicas[pool].push(r);
    this.changeGpus(this.opts.gpusPerReplica[pool], nowS);
    if (readyAtS <= nowS) r.state = 'ready';
    else {
      r.readyEventS = readyAtS;
      this.retime(r);
    }
  }

  private retire(r: Replica, nowS: number): void {
    r.state = 'gone';
    r.readyEventS = r.prefillEventS = r.decodeEventS = Infinity;
    this.retime(r);
    this.retiredBusyS += r.prefillBusyS;
    this.retiredPreemptions += r.preemptions;
    const list = this.replicas[r.pool];
    list.splice(list.indexOf(r), 1);
    this.changeGpus(-this.opts.gpusPerReplica[r.pool], nowS);
  }

  private changeGpus(delta: number, nowS: number): void {
    this.gpuSeconds += this.gpusNow * (nowS - this.gpuAtS);
    this.gpuAtS = nowS;
    this.gpusNow += delta;
    if (this.gpusNow > this.maxGpus) this.maxGpus = this.gpusNow;
  }

  private onReady(r: Replica, nowS: number): void {
    if (r.state !== 'starting') return;
    r.state = 'ready';
    r.gAtS = nowS;
    // Requests that found no ready replica wait at the frontend; hand them out now.
    const queue = this.pending[r.pool];
    const prefillPool: PoolName = this.agg ? 'decode' : 'prefill';
    for (let n = queue.length; n > 0; n--) {
      const id = queue.shift();
      if (r.pool === prefillPool && this.table.get(id, Field.FirstTokenS) === 0) this.enqueuePrefill(this.pickPrefillReplica(r.pool, nowS)!, id, nowS);
      else this.routeToDecode(id, nowS, null);
    }
  }

  // ================================================================ event heap

  /** Re-place r in the event heap after one of its event times changed. */
  private retime(r: Replica): void {
    const t = Math.min(r.readyEventS, r.prefillEventS, r.decodeEventS);
    if (t === r.nextS && r.heapIndex >= 0) return;
    r.nextS = t;
    r.nextSeq = ++this.eventSeq;
    const due = this.due;
    if (r.heapIndex < 0) {
      if (t === Infinity) return;
      r.heapIndex = due.length;
      due.push(r);
      this.siftUp(r.heapIndex);
      return;
    }
    if (t === Infinity) {
      const i = r.heapIndex;
      const last = due.pop()!;
      r.heapIndex = -1;
      if (last !== r) {
        due[i] = last;
        last.heapIndex = i;
        this.siftUp(i);
        this.siftDown(last.heapIndex);
      }
      return;
    }
    this.siftUp(r.heapIndex);
    this.siftDown(r.heapIndex);
  }

  private before(a: Replica, b: Replica): boolean {
    return a.nextS < b.nextS || (a.nextS === b.nextS && a.nextSeq < b.nextSeq);
  }

  private siftUp(i: number): void {
    const due = this.due;
    const r = due[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(r, due[p])) break;
      due[i] = due[p];
      due[i].heapIndex = i;
      i = p;
    }
    due[i] = r;
    r.heapIndex = i;
  }

  private siftDown(i: number): void {
    const due = this.due;
    const r = due[i];
    const n = due.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const c = l + 1 < n && this.before(due[l + 1], due[l]) ? l + 1 : l;
      if (!this.before(due[c], r)) break;
      due[i] = due[c];
      due[i].heapIndex = i;
      i = c;
    }
    due[i] = r;
    r.heapIndex = i;
  }

  private setDecodeEvent(r: Replica, atS: number, g: number): void {
    r.decodeEventS = atS;
    r.decodeEventG = g;
    this.retime(r);
  }

  // ================================================================ prefill

  private pickPrefillReplica(pool: PoolName, nowS: number): Replica | null {
    let best: Replica | null = null;
    let bestStart = Infinity;
    for (const r of this.replicas[pool]) {
      if (r.state !== 'ready') continue;
      const start = r.freeAtS > nowS ? r.freeAtS : nowS;
      if (start < bestStart) {
        best = r;
        bestStart = start;
      }
    }
    return best;
  }

  private enqueuePrefill(r: Replica, id: number, nowS: number): void {
    const t = this.table;
    const isl = t.get(id, Field.Isl);
    const startS = r.freeAtS > nowS ? r.freeAtS : nowS;
    const endS = startS + this.model.prefillMs(isl) / 1000;
    r.freeAtS = endS;
    r.prefillTokens += isl;
    t.set(id, Field.FirstTokenS, endS);
    t.set(id, Field.Replica, r.id);
    r.prefillQueue.push(id);
    if (r.prefillQueue.length === 1) {
      r.headStartS = startS;
      r.prefillEventS = endS;
      this.retime(r);
    }
  }

  /** Take the prompt at `index` out of r's prefill queue; the ones behind it move up. */
  private cancelPrefill(r: Replica, index: number, nowS: number): void {
    const t = this.table;
    const queue = r.prefillQueue;
    r.prefillTokens -= t.get(queue.at(index), Field.Isl);
    let startS: number;
    if (index === 0) {
      // The prompt in service: the time spent on it was busy, the next one starts now.
      r.prefillBusyS += nowS - r.headStartS;
      r.headStartS = nowS;
      startS = nowS;
    } else startS = t.get(queue.at(index - 1), Field.FirstTokenS);
    queue.removeAt(index);
    for (let i = index; i < queue.length; i++) {
      const id = queue.at(i);
      startS += this.model.prefillMs(t.get(id, Field.Isl)) / 1000;
      t.set(id, Field.FirstTokenS, startS);
    }
    r.freeAtS = startS;
    if (index === 0) {
      r.prefillEventS = queue.length > 0 ? t.get(queue.peek(), Field.FirstTokenS) : Infinity;
      this.retime(r);
    }
  }

  private onPrefillDone(r: Replica, nowS: number): void {
    const t = this.table;
    const id = r.prefillQueue.shift();
    const isl = t.get(id, Field.Isl);
    r.prefillTokens -= isl;
    r.prefillBusyS += nowS - r.headStartS;
    r.lastTtftS = nowS - t.get(id, Field.ArrivalS);
    r.lastIsl = isl;
    if (r.prefillQueue.length > 0) {
      r.headStartS = nowS;
      r.prefillEventS = t.get(r.prefillQueue.peek(), Field.FirstTokenS);
      this.retime(r);
    }
    this.opts.recorder.firstToken(id, nowS);
    if (t.get(id, Field.Osl) <= 1) {
      // The first token was the whole answer: nothing left to decode.
      this.opts.recorder.complete(id, nowS, null);
      t.release(id);
    } else {
      // In agg the KV is already on this replica; in disagg the router picks a decode worker.
      this.routeToDecode(id, nowS, this.agg ? r : null);
    }
    if (r.state === 'draining' && r.isIdle()) this.retire(r, nowS);
  }

  // ================================================================ decode

  /** Blocks the running batch of r holds at clock g. */
  private blocksAt(r: Replica, g: number): number {
    const n = r.running.size;
    if (n === 0) return 0;
    return (r.sumBase + n * g + r.padByPhase[mod16(g)]) / KV_BLOCK_TOKENS;
  }

  /** Steps from g until the batch needs more blocks than the engine has (the next preemption). */
  private stepsToFull(r: Replica, g: number): number {
    const n = r.running.size;
    const spare = this.totalBlocks - this.blocksAt(r, g);
    // Every 16 steps each sequence takes exactly one more block.
    const periods = Math.floor(spare / n);
    const g0 = g + KV_BLOCK_TOKENS * periods;
    const g0m = mod16(g0);
    let left = spare - n * periods;
    for (let j = 1; j <= KV_BLOCK_TOKENS; j++) {
      // A sequence needs a new block for step h when its context at h-1 is a multiple of 16.
      left -= r.residue[(KV_BLOCK_TOKENS - ((g0m + j - 1) & 15)) & 15];
      if (left < 0) return g0 + j - g;
    }
    return Infinity; // unreachable: n blocks per 16 steps exceed what is left
  }

  /** The decode clock reached by `nowS` within the current run. */
  private clockAt(r: Replica, nowS: number): number {
    if (r.running.size === 0 || r.stepS <= 0) return r.g;
    const done = Math.floor((nowS - r.gAtS - r.stallS) / r.stepS + 1e-9);
    return r.g + Math.max(0, Math.min(r.runSteps, done));
  }

  private isRunning(r: Replica, id: number): boolean {
    return r.running.has(id) && this.table.get(id, Field.AdmitSeq) >= 0;
  }

  private routeToDecode(id: number, nowS: number, sameReplica: Replica | null): void {
    let target = sameReplica;
    if (!target) {
      // The KV router's load: blocks of every sequence it has sent to the worker.
      let bestLoad = Infinity;
      for (const r of this.replicas.decode) {
        if (r.state !== 'ready') continue;
        const load = this.blocksAt(r, this.clockAt(r, nowS)) + r.waitingBlocks;
        if (load < bestLoad) {
          target = r;
          bestLoad = load;
        }
      }
    }
    const t = this.table;
    if (!target) {
      t.set(id, Field.Replica, -1);
      this.pending.decode.push(id);
      return;
    }
    t.set(id, Field.Replica, target.id);
    const wasEmpty = target.waiting.length === 0;
    target.waiting.push(id);
    target.waitingBlocks += this.admitBlocks(id);
    if (target.running.size === 0) {
      // Idle: a step starts now.
      target.g = this.clockAt(target, nowS);
      target.gAtS = nowS;
      target.stallS = 0;
      this.schedule(target, nowS);
    } else if (wasEmpty) {
      // Busy: the scheduler looks at the queue at the next step boundary.
      this.rescheduleAtNextBoundary(target, nowS);
    }
    // Otherwise the head of the queue is blocked (blocks or max_num_seqs) until something finishes.
  }

  private admitBlocks(id: number): number {
    const t = this.table;
    return blocksFor(t.get(id, Field.Isl) + 1 + t.get(id, Field.Generated));
  }

  private rescheduleAtNextBoundary(r: Replica, nowS: number): void {
    const elapsed = nowS - r.gAtS - r.stallS;
    if (r.stallS === 0 && elapsed <= 1e-12) {
      // Still at the boundary just processed: the scheduler sees the newcomer in this very step.
      this.schedule(r, r.gAtS);
      return;
    }
    const j = Math.max(1, Math.ceil(elapsed / r.stepS - 1e-9));
    if (j >= r.runSteps) return;
    r.runSteps = j;
    this.setDecodeEvent(r, r.gAtS + r.stallS + j * r.stepS, r.g + j);
  }

  private countResidue(r: Replica, residue: number, delta: number): void {
    r.residue[residue] += delta;
    // With context c = base + g, the last block has (16 - c mod 16) mod 16 free tokens.
    for (let gm = 0; gm < KV_BLOCK_TOKENS; gm++) r.padByPhase[gm] += delta * ((KV_BLOCK_TOKENS - ((residue + gm) & 15)) & 15);
  }

  private removeFromBatch(r: Replica, id: number): void {
    const t = this.table;
    const base = t.get(id, Field.Isl) + 1 - t.get(id, Field.StartG);
    t.set(id, Field.AdmitSeq, -1);
    r.running.remove(id);
    r.sumBase -= base;
    this.countResidue(r, mod16(base), -1);
  }

  private preemptNewest(r: Replica, nowS: number): void {
    const t = this.table;
    // The newest admission still running: the top of the admission stack, skipping stale entries.
    let id = -1;
    while (r.admitTop > 0) {
      const top = --r.admitTop;
      const candidate = r.admitIds[top];
      if (t.get(candidate, Field.AdmitSeq) === r.admitSeqs[top] && r.running.has(candidate)) {
        id = candidate;
        break;
      }
    }
    this.removeFromBatch(r, id);
    t.set(id, Field.Generated, r.g - t.get(id, Field.StartG));
    r.preemptions++;
    // Back to the front of the queue: it resumes before anything that arrived later.
    r.waiting.unshift(id);
    r.waitingBlocks += this.admitBlocks(id);
    this.opts.recorder.preempt?.(id, nowS, r.id);
  }

  /** Record an admission on r's stack (compacted when stale entries pile up). */
  private pushAdmission(r: Replica, id: number, seq: number): void {
    if (r.admitTop === r.admitIds.length) {
      const t = this.table;
      let live = 0;
      for (let i = 0; i < r.admitTop; i++) {
        if (t.get(r.admitIds[i], Field.AdmitSeq) === r.admitSeqs[i] && r.running.has(r.admitIds[i])) {
          r.admitIds[live] = r.admitIds[i];
          r.admitSeqs[live] = r.admitSeqs[i];
          live++;
        }
      }
      r.admitTop = live;
      if (live * 2 > r.admitIds.length) {
        const ids = new Int32Array(r.admitIds.length * 2);
        const seqs = new Float64Array(r.admitIds.length * 2);
        ids.set(r.admitIds);
        seqs.set(r.admitSeqs);
        r.admitIds = ids;
        r.admitSeqs = seqs;
      }
    }
    r.admitIds[r.admitTop] = id;
    r.admitSeqs[r.admitTop] = seq;
    r.admitTop++;
  }

  /**
   * One scheduler step boundary of a decode replica at clock r.g (time nowS): finish, preempt,
   * admit, then plan the run of equal steps until the next thing that changes the batch.
   */
  private schedule(r: Replica, nowS: number): void {
    const t = this.table;
    const running = r.running;
    const g = r.g;
    while (running.size > 0 && running.peekKey() <= g) {
      const id = running.peek();
      this.removeFromBatch(r, id);
      if (this.aborting.size > 0 && this.aborting.delete(id)) {
        t.release(id);
        continue;
      }
      const itlMs = ((nowS - t.get(id, Field.FirstTokenS)) * 1000) / (t.get(id, Field.Osl) - 1);
      this.opts.recorder.complete(id, nowS, itlMs);
      t.release(id);
    }
    // Room for every running request's next token, or preempt the newest admissions.
    while (running.size > 0 && this.blocksAt(r, g) > this.totalBlocks) {
      this.preemptNewest(r, nowS);
      r.preemptedAtG = g;
    }
    // vLLM admits nothing in a step in which it preempted.
    if (r.preemptedAtG !== g) {
      while (r.waiting.length > 0 && running.size < this.maxNumSeqs) {
        const id = r.waiting.peek();
        const need = this.admitBlocks(id);
        const reserve = running.size > 0 ? this.watermarkBlocks : 0;
        if (need + reserve > this.totalBlocks - this.blocksAt(r, g)) break;
        r.waiting.shift();
        r.waitingBlocks -= need;
        const generated = t.get(id, Field.Generated);
        const isl = t.get(id, Field.Isl);
        const startG = g - generated;
        t.set(id, Field.StartG, startG);
        const seq = ++this.admissions;
        t.set(id, Field.AdmitSeq, seq);
        this.pushAdmission(r, id, seq);
        // The first token came from prefill: decode produces the other osl - 1.
        running.push(startG + t.get(id, Field.Osl) - 1, id);
        const base = isl + 1 - startG;
        r.sumBase += base;
        this.countResidue(r, mod16(base), 1);
        // A readmitted request recomputes its prompt and generated tokens; the batch waits for it.
        if (generated > 0) r.stallS += this.model.prefillMs(isl + 1 + generated) / 1000;
      }
    }
    const n = running.size;
    if (n === 0) {
      r.stepS = 0;
      r.runSteps = 0;
      r.decodeEventS = Infinity;
      this.retime(r);
      if (r.state === 'draining' && r.isIdle()) this.retire(r, nowS);
      return;
    }
    const stepMs = this.model.decodeStepMs(n, (r.sumBase + n * g) / n);
    r.stepS = stepMs / 1000;
    r.lastItlS = r.stepS;
    let k = running.peekKey() - g;
    const cap = runCap(this.model, n);
    if (cap < k) k = cap;
    // Each sequence takes at most one block per 16 steps: only a tight cache can fill within k.
    if (this.totalBlocks - this.blocksAt(r, g) < n * (Math.floor(k / KV_BLOCK_TOKENS) + 1)) {
      const full = this.stepsToFull(r, g);
      if (full < k) k = full;
    }
    // After a preemption the queue is looked at again one step later.
    if (r.preemptedAtG === g && r.waiting.length > 0) k = 1;
    r.runSteps = k;
    this.setDecodeEvent(r, nowS + r.stallS + k * r.stepS, g + k);
  }
}
