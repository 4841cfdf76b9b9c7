// The virtual environment: decisions go to etcd keys under v1/{namespace}/planner/ with the
// decision-id handshake of the original's virtual connector (a decision is
// complete when the environment writes back the same scaled_decision_id),
// and/or to a JSONL sink (file or stdout) that tests and the simulator read.
//
// etcd state is never trusted blindly: it is read before the first decision (etcd down at start-up
// is a hold, not an exit) and again after any write whose answer was lost, and every write is a
// transaction guarded by the revision of decision_id, so a write that committed without our
// knowing can neither be repeated nor leave the cached counts wrong.
import { appendFileSync, closeSync, openSync } from 'node:fs';
import { InputError } from '../util/errors.js';
import { sleep } from '../util/sleep.js';
import type { Backend, Mode } from '../config/schema.js';
import { managedPools } from './dgd.js';
import { MAX_POOL_REPLICAS } from '../scaling/screen.js';
import { EtcdError, type EtcdJson } from './etcd.js';
import type { Actuator, ApplyContext, ApplyFault, ApplyOutcome, DeploymentInfo, DeploymentView, Pool, ScaleTarget } from './types.js';

export { EtcdError, EtcdJson, parseEtcdEndpoints } from './etcd.js';

export function plannerPrefix(dynamoNamespace: string): string {
  return `v1/${dynamoNamespace}/planner/`;
}

/** The Dynamo component each backend's workers register under, per pool (agg workers are the decode component). */
export const WORKER_COMPONENTS: Record<Backend, Record<Pool, string>> = {
  vllm: { prefill: 'prefill', decode: 'backend' },
  sglang: { prefill: 'prefill', decode: 'backend' },
  trtllm: { prefill: 'prefill', decode: 'tensorrt_llm' },
  mocker: { prefill: 'prefill', decode: 'backend' },
};

/** Where a pool's live workers are registered: one key per instance of its generate endpoint. */
export function instancePrefix(dynamoNamespace: string, backend: Backend, pool: Pool): string {
  return `v1/instances/${dynamoNamespace}/${WORKER_COMPONENTS[backend][pool]}/generate/`;
}

/** A JSON line per decision, to a file or stdout ('-'). */
export class JsonlSink {
  constructor(private readonly target: string) {
    // Checked once at start-up: a sink that cannot be written is a usage mistake, not a fault
    // to discover on the first decision.
    if (target !== '-') {
      try {
        closeSync(openSync(target, 'a'));
      } catch (err) {
        throw new InputError(`--decisions-out ${target}: cannot append to it (${(err as NodeJS.ErrnoException).code ?? String(err)}); give a writable file or - for stdout.`);
      }
    }
  }
  write(record: Record<string, unknown>): void {
    const line = JSON.stringify(record) + '\n';
    if (this.target === '-') process.stdout.write(line);
    else appendFileSync(this.target, line);
  }
}

export interface VirtualActuatorOptions {
  dynamoNamespace: string;
  mode: Mode;
  /** Names the components whose registered instances are the ready workers (default vllm). */
  backend?: Backend;
  modelName: string | null;
  gpus: { prefill: number | null; decode: number | null };
  routerMetricsUrl: string | null;
  etcd?: EtcdJson;
  sink?: JsonlSink;
  /** SCALING_MAX_WAIT_TIME (s, default 1800): after this long an unacknowledged decision stops blocking. */
  maxWaitMs?: number;
  /** SCALING_CHECK_INTERVAL (s, default 10): poll period of a blocking wait. */
  checkIntervalMs?: number;
  now?: () => number;
}

/** What scaled_decision_id says about our last decision. */
type Acknowledgement = { state: 'acked' } | { state: 'pending' } | { state: 'garbage'; raw: string };

export class VirtualActuator implements Actuator {
  readonly name = 'virtual';
  // The coordinator's state: -1 = never written.
  private numPrefill = -1;
  private numDecode = -1;
  private decisionId = -1;
  /** etcd revision of the decision_id key when last read or written; "0" = the key is absent. */
  private decisionRevision = '0';
  /** The state above matches etcd: false until read, and again after a write whose outcome is unknown. */
  private synced: boolean;
  private firstSkipAt: number | null = null;
  /** Pools whose workers have registered: from then on their instance counts are the current counts, 0 included. */
  private readonly instancesSeen = new Set<Pool>();
  private readonly prefix: string;
  private readonly now: () => number;

  constructor(private readonly o: VirtualActuatorOptions) {
    this.prefix = plannerPrefix(o.dynamoNamespace);
    this.now = o.now ?? Date.now;
    this.synced = !o.etcd;
  }

  /** Config-derived facts only: etcd is read by connect(), which the daemon retries. */
  async init(): Promise<DeploymentInfo> {
    return {
      prefillGpus: this.o.gpus.prefill,
      decodeGpus: this.o.gpus.decode,
      modelName: this.o.modelName?.toLowerCase() ?? null,
      routerMetricsUrl: this.o.routerMetricsUrl,
      services: {},
    };
  }

  /** Read the coordinator's state from etcd (after a restart: continue the decision ids). Throws EtcdError. */
  async connect(signal?: AbortSignal): Promise<void> {
    if (this.synced || !this.o.etcd) return;
    const kvs = new Map((await this.o.etcd.range(this.prefix, 64, signal)).map((kv) => [kv.key, kv]));
    // A key that is missing or not a whole number >= 0 (hand-edited, another writer) counts as
    // never written, so garbage never becomes a NaN decision id or replica count.
    const num = (k: string) => {
      const raw = kvs.get(this.prefix + k)?.value;
      const n = raw === undefined || raw.trim() === '' ? Number.NaN : Number(raw);
      return Number.isSafeInteger(n) && n >= 0 ? n : -1;
    };
    this.numPrefill = num('num_prefill_workers');
    this.numDecode = num('num_decode_workers');
    this.decisionId = num('decision_id');
    this.decisionRevision = kvs.get(this.prefix + 'decision_id')?.modRevision ?? '0';
    this.synced = true;
  }

  get connected(): boolean {
    return this.synced;
  }

  private async acknowledgement(signal?: AbortSignal): Promise<Acknowledgement> {
    if (this.decisionId < 0 || !this.o.etcd) return { state: 'acked' };
    const raw = await this.o.etcd.get(this.prefix + 'scaled_decision_id', signal);
    if (raw === null) return { state: 'pending' };
    const n = raw.trim() === '' ? Number.NaN : Number(raw);
    // Not a decision id at all: waiting for it to reach ours could block every write for
    // SCALING_MAX_WAIT_TIME, so it is reported and not waited for.
    if (!Number.isSafeInteger(n) || n < -1) return { state: 'garbage', raw: raw.slice(0, 40) };
    return n >= this.decisionId ? { state: 'acked' } : { state: 'pending' };
  }

  /**
   * Current counts are the workers registered in etcd (ready ones: a starting worker registers once
   * it serves, a draining one has deregistered), as the original counts runtime instances outside
   * Kubernetes. A pool none of whose workers has registered yet (an environment that does not
   * register them, or a component name it does not use) counts its last decided target instead,
   * and the view says so (`counts: 'decided'`).
   */
  async view(signal?: AbortSignal): Promise<DeploymentView> {
    await this.connect(signal);
    const pools = managedPools(this.o.mode);
    const ack = await this.acknowledgement(signal).catch(() => ({ state: 'pending' }) as const);
    const out: DeploymentView = { prefill: null, decode: null, ready: ack.state !== 'pending', counts: 'ready' };
    for (const pool of pools) {
      const registered = await this.registeredCount(pool, signal);
      const decided = pool === 'prefill' ? this.numPrefill : this.numDecode;
      if (registered !== null) out[pool] = registered;
      else {
        out[pool] = decided >= 0 ? decided : null;
        out.counts = 'decided';
      }
    }
    return out;
  }

  /** A pool's registered instances; null while none has ever registered (or without etcd). */
  private async registeredCount(pool: Pool, signal?: AbortSignal): Promise<number | null> {
    if (!this.o.etcd) return null;
    const n = await this.o.etcd.count(instancePrefix(this.o.dynamoNamespace, this.o.backend ?? 'vllm', pool), signal, MAX_POOL_REPLICAS);
    if (n > 0) this.instancesSeen.add(pool);
    return this.instancesSeen.has(pool) ? n : null;
  }

  async apply(target: ScaleTarget, ctx: ApplyContext): Promise<ApplyOutcome> {
    const etcd = this.o.etcd;
    try {
      await this.connect(ctx.signal);
      const p = target.prefill ?? this.numPrefill;
      const d = target.decode ?? this.numDecode;
      if (p === this.numPrefill && d === this.numDecode) return { status: 'unchanged' };
      const ack = await this.acknowledgement(ctx.signal);
      if (ack.state === 'pending' && ctx.duringRollout !== 'write') {
        this.firstSkipAt ??= this.now();
        if (this.now() - this.firstSkipAt < (this.o.maxWaitMs ?? 1_800_000)) {
          return { status: 'pending_ack', message: `decision ${this.decisionId} not yet acknowledged (scaled_decision_id)` };
        }
      }
      this.firstSkipAt = null;
      const nextId = this.decisionId + 1;
      const kvs: Record<string, string> = { [this.prefix + 'decision_id']: String(nextId) };
      if (p >= 0) kvs[this.prefix + 'num_prefill_workers'] = String(p);
      if (d >= 0) kvs[this.prefix + 'num_decode_workers'] = String(d);
      if (etcd) {
        let revision: string | null;
        try {
          revision = await etcd.putAllIf(kvs, this.prefix + 'decision_id', this.decisionRevision, ctx.signal);
        } catch (err) {
          // The answer is lost, not necessarily the write: read etcd again before trusting the cache.
          this.synced = false;
          const e = err as EtcdError;
          return { status: 'failed', errorKind: e.kind ?? 'etcd_error', message: `${e.message}; the write may have been applied, so etcd is read again before the next decision` };
        }
        if (revision === null) {
          this.synced = false;
          return { status: 'failed', errorKind: 'etcd_conflict', message: `${this.prefix}decision_id changed since it was read (another writer, or an earlier write of ours whose answer was lost); etcd is read again before the next decision` };
        }
        this.decisionRevision = revision;
      }
      this.numPrefill = p;
      this.numDecode = d;
      this.decisionId = nextId;
      const faults: ApplyFault[] = [];
      if (ack.state === 'garbage') {
        faults.push({ kind: 'etcd_bad_acknowledgement', message: `${this.prefix}scaled_decision_id is '${ack.raw}', not a decision id; written without waiting for it` });
      }
      try {
        this.o.sink?.write({ ts: new Date(this.now()).toISOString(), decision_id: nextId, num_prefill_workers: p >= 0 ? p : null, num_decode_workers: d >= 0 ? d : null, predicted_load: ctx.predictedLoad ?? null });
      } catch (err) {
        faults.push({ kind: 'decisions_out_failed', message: `--decisions-out: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      }
      const written: ScaleTarget = {};
      if (target.prefill !== undefined) written.prefill = p;
      if (target.decode !== undefined) written.decode = d;
      return { status: 'applied', written, ...(faults.length ? { faults } : {}) };
    } catch (err) {
      return { status: 'failed', errorKind: err instanceof EtcdError ? err.kind : 'etcd_error', message: (err as Error).message };
    }
  }

  async waitReady(signal?: AbortSignal): Promise<boolean> {
    const check = this.o.checkIntervalMs ?? 10_000;
    const tries = Math.max(1, Math.floor((this.o.maxWaitMs ?? 1_800_000) / check));
    for (let i = 0; i < tries && !signal?.aborted; i++) {
      const ack = await this.acknowledgement(signal).catch(() => ({ state: 'pending' }) as const);
      if (ack.state !== 'pending') return true;
      await sleep(check, signal);
    }
    return false;
  }
}
