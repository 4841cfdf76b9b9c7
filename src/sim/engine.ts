// The serving-deployment model: discrete events for prefill (a FIFO server per replica) and a
// batched, token-clock model for decode, so that cost grows with requests and scaling events,
// not with tokens. Pure: no I/O, no clock, no randomness.
//
// Model (see the README's simulator section for the simplifications):
// - Prefill: the router sends each arrival at once to the ready prefill replica that frees up
//   first; the replica serves its queue one request at a time, each for the profile's TTFT at its
//   ISL. TTFT seen by the user = queueing + prefill.
// - Decode: the request then goes to the ready decode replica with the least KV committed. A
//   request holds ISL + generated tokens of KV. A replica admits the head of its FIFO queue when
//   that fits under `maxKvTokens` minus a 1% watermark (as vLLM); when the growing contexts fill
//   the cache, the most recently admitted request is preempted back to the head of the queue and
//   keeps its generated tokens (vLLM's recompute preemption, without the recompute time). A
//   request whose ISL+OSL exceeds the cache can never finish and is dropped. All admitted
//   requests advance one token per decode step; the step time is the profile ITL at
//   (concurrency, mean current context), re-evaluated at every admission/completion and at least
//   every 0.5% of the KV capacity as contexts grow.
// - agg: one pool; a replica prefills (same FIFO server) and then decodes the request itself.
// - Scaling: new replicas are ready after the cold start; removed ones stop taking requests and
//   leave when they have drained. GPUs count from the scale-up until the replica is gone.
import type { Mode } from '../config/schema.js';
import type { DecodeWorkerSample, PrefillWorkerSample, RouterSnapshot } from '../scaling/observation.js';
import { MinHeap } from './stats.js';
import type { EngineLatencyModel, PoolCounts, TraceRequest } from './types.js';

export type PoolName = 'prefill' | 'decode';

/** Router KV block size (tokens) used to express decode KV usage as blocks, as vLLM's default. */
export const KV_BLOCK_TOKENS = 16;

export interface SimRequest {
  arrivalS: number;
  isl: number;
  osl: number;
  prefillEndS: number;
  ttftMs: number;
  kvNeed: number;
  startG: number;
  finishG: number;
  /** Tokens generated before a preemption (kept; they count as context on re-admission). */
  generated: number;
  /** Order of admission on its replica: the newest is preempted first. */
  admitSeq: number;
}

/** Share of the KV cache kept free at admission (vLLM's watermark), so a preempted request does not bounce straight back. */
export const KV_WATERMARK = 0.01;

/** Receives what the frontend would measure. */
export interface EngineRecorder {
  firstToken(req: SimRequest, nowS: number): void;
  /** itlMs is null for single-token outputs (no inter-token gap). */
  complete(req: SimRequest, nowS: number, itlMs: number | null): void;
  drop(req: SimRequest, nowS: number): void;
}

type ReplicaState = 'starting' | 'ready' | 'draining' | 'gone';

class Replica {
  state: ReplicaState = 'starting';
  // prefill server
  freeAtS = 0;
  prefillTokens = 0;
  prefillInFlight = 0;
  lastTtftS = 0;
  lastIsl = 0;
  prefillBusyS = 0;
  // decode batch: g = tokens generated per request since the replica's start (a shared clock)
  g = 0;
  gAtS = 0;
  tokensPerS = 0;
  stepMs = 0;
  readonly active = new MinHeap<SimRequest>();
  sumBase = 0; // sum over active of (isl - startG): KV in use = sumBase + n * g
  reservedKv = 0;
  waiting: SimRequest[] = [];
  waitHead = 0;
  waitingKv = 0;
  lastItlS = 0;
  version = 0;
  admitted = 0;
  preemptions = 0;

  constructor(
    readonly id: number,
    readonly pool: PoolName,
    readonly readyAtS: number,
  ) {}

  get decodeCount(): number {
    return this.active.size;
  }

  get waitingCount(): number {
    return this.waiting.length - this.waitHead;
  }

  kvUsedAt(nowS: number): number {
    const g = this.g + (nowS - this.gAtS) * this.tokensPerS;
    return this.sumBase + this.active.size * g;
  }

  isIdle(): boolean {
    return this.prefillInFlight === 0 && this.active.size === 0 && this.waitingCount === 0;
  }
}

const enum EventKind {
  PrefillDone,
  DecodeStep,
  Ready,
}

interface SimEvent {
  kind: EventKind;
  replica: Replica;
  req: SimRequest | null;
  version: number;
}

export interface EngineOptions {
  mode: Mode;
  coldStartS: number;
  gpusPerReplica: PoolCounts;
  /** Replicas ready at t = 0. */
  initial: PoolCounts;
  recorder: EngineRecorder;
}

export class Engine {
  private readonly events = new MinHeap<SimEvent>();
  private readonly replicas: Record<PoolName, Replica[]> = { prefill: [], decode: [] };
  private readonly pending: Record<PoolName, SimRequest[]> = { prefill: [], decode: [] };
  private readonly targets: PoolCounts = { prefill: 0, decode: 0 };
  private nextId = 0;
  private gpuSeconds = 0;
  private gpusNow = 0;
  private gpuAtS = 0;
  private maxGpus = 0;
  private inFlight = 0;
  scaleUps = 0;
  scaleDowns = 0;
  private readonly agg: boolean;
  private readonly maxChunkTokens: number;

  constructor(
    private readonly model: EngineLatencyModel,
    private readonly opts: EngineOptions,
  ) {
    this.agg = opts.mode === 'agg';
    // Re-evaluate the step time at least every 0.5% of the KV capacity (spread over the batch),
    // which is finer than the profile's decode grid (1% KV usage per cell).
    this.maxChunkTokens = Math.max(1, 0.005 * model.maxKvTokens);
    for (const pool of ['prefill', 'decode'] as const) {
      const n = this.agg && pool === 'prefill' ? 0 : opts.initial[pool];
      for (let i = 0; i < n; i++) this.addReplica(pool, 0, 0);
      this.targets[pool] = n;
    }
    this.maxGpus = this.gpusNow;
  }

  // ---------- public API ----------

  get inFlightRequests(): number {
    return this.inFlight;
  }

  /** Time of the next internal event (Infinity when idle). */
  nextEventS(): number {
    return this.events.peekKey();
  }

  /** Process every internal event due at or before `untilS`. */
  runUntil(untilS: number): void {
    const events = this.events;
    while (events.size > 0 && events.peekKey() <= untilS) {
      const nowS = events.peekKey();
      const ev = events.pop()!;
      switch (ev.kind) {
        case EventKind.PrefillDone:
          this.onPrefillDone(ev.replica, ev.req!, nowS);
          break;
        case EventKind.DecodeStep:
          if (ev.version === ev.replica.version && ev.replica.state !== 'gone') this.syncDecode(ev.replica, nowS);
          break;
        case EventKind.Ready:
          this.onReady(ev.replica, nowS);
          break;
      }
    }
  }

  /** A new request reaches the frontend at `nowS` (call runUntil(nowS) first). */
  arrive(r: TraceRequest, nowS: number): void {
    const req: SimRequest = {
      arrivalS: nowS,
      isl: r.isl,
      osl: r.osl,
      prefillEndS: 0,
      ttftMs: 0,
      kvNeed: r.isl + r.osl,
      startG: 0,
      finishG: 0,
      generated: 0,
      admitSeq: 0,
    };
    this.inFlight++;
    const pool: PoolName = this.agg ? 'decode' : 'prefill';
    const replica = this.pickPrefillReplica(pool, nowS);
    if (replica) this.startPrefill(replica, req, nowS);
    else this.pending[pool].push(req);
  }

  /** Scale a pool to `count` replicas (ready + starting). */
  setTarget(pool: PoolName, count: number, nowS: number): void {
    if (this.agg && pool === 'prefill') return;
    count = Math.max(0, Math.floor(count));
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
    // Remove replicas still starting first (cheapest, as Kubernetes deletes pending pods first),
    // then the newest ready ones; those drain what they hold.
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
      const gauges: DecodeWorkerSample & Partial<PrefillWorkerSample> = {
        active_decode_blocks: Math.ceil(r.kvUsedAt(nowS) / KV_BLOCK_TOKENS),
        last_itl: r.lastItlS,
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

  /** Mean KV usage (0..1) of ready decode replicas. */
  meanDecodeKvUsage(nowS: number): number {
    let sum = 0;
    let n = 0;
    for (const r of this.replicas.decode) {
      if (r.state !== 'ready') continue;
      sum += r.kvUsedAt(nowS) / this.model.maxKvTokens;
      n++;
    }
    return n > 0 ? sum / n : 0;
  }

  // ---------- internals ----------

  private retiredBusyS = 0;

  private countState(pool: PoolName, state: ReplicaState): number {
    let n = 0;
    for (const r of this.replicas[pool]) if (r.state === state) n++;
    return n;
  }

  private addReplica(pool: PoolName, nowS: number, readyAtS: number): void {
    const r = new Replica(this.nextId++, pool, readyAtS);
    r.gAtS = nowS;
    this.replicas[pool].push(r);
    this.changeGpus(this.opts.gpusPerReplica[pool], nowS);
    if (readyAtS <= nowS) r.state = 'ready';
    else this.events.push(readyAtS, { kind: EventKind.Ready, replica: r, req: null, version: 0 });
  }

  private retire(r: Replica, nowS: number): void {
    r.state = 'gone';
    r.version++;
    this.retiredBusyS += r.prefillBusyS;
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
    const pool = r.pool;
    const waiting = this.pending[pool];
    if (waiting.length > 0) {
      this.pending[pool] = [];
      const prefillPool: PoolName = this.agg ? 'decode' : 'prefill';
      for (const req of waiting) {
        if (pool === prefillPool && req.prefillEndS === 0) {
          const target = this.pickPrefillReplica(pool, nowS)!;
          this.startPrefill(target, req, nowS);
        } else {
          this.routeToDecode(req, nowS, null);
        }
      }
    }
  }

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

  private startPrefill(r: Replica, req: SimRequest, nowS: number): void {
    const startS = r.freeAtS > nowS ? r.freeAtS : nowS;
    const serviceS = this.model.prefillMs(req.isl) / 1000;
    const endS = startS + serviceS;
    r.freeAtS = endS;
    r.prefillTokens += req.isl;
    r.prefillInFlight++;
    this.events.push(endS, { kind: EventKind.PrefillDone, replica: r, req, version: 0 });
  }

  private preemptNewest(r: Replica): void {
    let newest: SimRequest | null = null;
    for (const req of r.active.values()) if (!newest || req.admitSeq > newest.admitSeq) newest = req;
    if (!newest) return;
    r.active.remove(newest);
    r.sumBase -= newest.isl - newest.startG;
    r.reservedKv -= newest.kvNeed;
    newest.generated = r.g - newest.startG;
    r.preemptions++;
    // Back to the head of the queue: it resumes before anything that arrived later.
    if (r.waitHead > 0) r.waiting[--r.waitHead] = newest;
    else r.waiting.unshift(newest);
    r.waitingKv += newest.kvNeed;
  }

  private onPrefillDone(r: Replica, req: SimRequest, nowS: number): void {
    r.prefillTokens -= req.isl;
    r.prefillInFlight--;
    r.prefillBusyS += this.model.prefillMs(req.isl) / 1000;
    req.prefillEndS = nowS;
    req.ttftMs = (nowS - req.arrivalS) * 1000;
    r.lastTtftS = req.ttftMs / 1000;
    r.lastIsl = req.isl;
    this.opts.recorder.firstToken(req, nowS);
    if (req.osl <= 1) {
      // The first token was the whole answer: nothing left to decode.
      this.inFlight--;
      this.opts.recorder.complete(req, nowS, null);
    } else {
      // In agg the KV is already on this replica; in disagg the router picks a decode worker.
      this.routeToDecode(req, nowS, this.agg ? r : null);
    }
    if (r.state === 'draining' && r.isIdle()) this.retire(r, nowS);
  }

  private routeToDecode(req: SimRequest, nowS: number, sameReplica: Replica | null): void {
    if (req.kvNeed > this.model.maxKvTokens) {
      // Would never fit in one engine's KV cache: the engine rejects it.
      this.inFlight--;
      this.opts.recorder.drop(req, nowS);
      return;
    }
    let target = sameReplica;
    if (!target) {
      let bestLoad = Infinity;
      for (const r of this.replicas.decode) {
        if (r.state !== 'ready') continue;
        const load = r.reservedKv + r.waitingKv;
        if (load < bestLoad) {
          target = r;
          bestLoad = load;
        }
      }
    }
    if (!target) {
      this.pending.decode.push(req);
      return;
    }
    target.waiting.push(req);
    target.waitingKv += req.kvNeed;
    this.syncDecode(target, nowS);
  }

  /**
   * Bring a decode replica to `nowS`: advance the token clock, finish requests whose last token
   * is out, admit waiting ones that fit, and schedule the next step boundary.
   */
  private syncDecode(r: Replica, nowS: number): void {
    const active = r.active;
    if (active.size > 0) {
      r.g += (nowS - r.gAtS) * r.tokensPerS;
    }
    r.gAtS = nowS;
    // Finish everything whose last token is out (tolerance for float drift of the shared clock).
    const eps = 1e-6;
    while (active.size > 0 && active.peekKey() <= r.g + eps) {
      const req = active.pop()!;
      r.sumBase -= req.isl - req.startG;
      r.reservedKv -= req.kvNeed;
      this.inFlight--;
      const itlMs = ((nowS - req.prefillEndS) * 1000) / (req.osl - 1);
      this.opts.recorder.complete(req, nowS, itlMs);
    }
    const cap = this.model.maxKvTokens;
    // The growing contexts filled the cache: preempt the newest admissions until it fits.
    while (active.size > 1 && r.sumBase + active.size * r.g >= cap - eps) this.preemptNewest(r);
    // Admit in FIFO order while the head fits under the watermark.
    const admitLimit = cap * (1 - KV_WATERMARK);
    while (r.waitHead < r.waiting.length) {
      const req = r.waiting[r.waitHead];
      const kvUsed = r.sumBase + active.size * r.g;
      if (active.size > 0 && kvUsed + req.isl + req.generated > admitLimit) break;
      r.waitHead++;
      r.waitingKv -= req.kvNeed;
      r.reservedKv += req.kvNeed;
      // Context = isl + (g - startG), so a re-admitted request resumes with its generated tokens.
      req.startG = r.g - req.generated;
      // The first token came from prefill; decode produces the remaining osl - 1.
      req.finishG = req.startG + (req.osl - 1);
      req.admitSeq = ++r.admitted;
      r.sumBase += req.isl - req.startG;
      active.push(req.finishG, req);
    }
    if (r.waitHead > 1024 && r.waitHead * 2 > r.waiting.length) {
      r.waiting = r.waiting.slice(r.waitHead);
      r.waitHead = 0;
    }
    r.version++;
    const n = active.size;
    if (n === 0) {
      r.tokensPerS = 0;
      if (r.state === 'draining' && r.isIdle()) this.retire(r, nowS);
      return;
    }
    const kvUsed = r.sumBase + n * r.g;
    const stepMs = this.model.decodeStepMs(n, kvUsed / n);
    r.stepMs = stepMs;
    r.lastItlS = stepMs / 1000;
    r.tokensPerS = 1000 / stepMs;
    const toFinish = active.peekKey() - r.g;
    const chunk = Math.max(1, this.maxChunkTokens / n);
    let dG = toFinish < chunk ? toFinish : chunk;
    const toFull = (cap - kvUsed) / n;
    if (n > 1 && toFull < dG) dG = toFull;
    this.events.push(nowS + (dG > 0 ? dG : 0) / r.tokensPerS, { kind: EventKind.DecodeStep, replica: r, req: null, version: r.version });
  }
}
