// The mock fleet obeying the planner in the virtual environment: it polls the keys the planner
// writes under v1/{namespace}/planner/, scales the pools to each new decision (new workers serve
// after the cold start, removed ones drain), and acknowledges the decision by writing
// scaled_decision_id once the ready workers match it, as an environment does when its scaling is done.
// Like Dynamo workers, each serving worker is registered under v1/instances/ on a lease the fleet
// renews every poll, so the planner counts the workers serving now and a killed fleet's vanish.
import { EtcdError, type EtcdJson } from '../actuate/etcd.js';
import { instancePrefix, plannerPrefix } from '../actuate/virtual.js';
import type { Backend } from '../config/schema.js';
import type { PoolCounts } from '../sim/types.js';

/** What the fleet needs of the pool it scales. */
export interface ScalablePool {
  setTarget(pool: 'prefill' | 'decode', count: number): void;
  readyCounts(): PoolCounts;
  targetCounts(): PoolCounts;
}

export interface FleetOptions {
  etcd: EtcdJson;
  dynamoNamespace: string;
  /** Names the components the workers register under (default vllm). */
  backend?: Backend;
  /** Seconds the registrations outlive the last renewal (default 10; keep it above a few poll periods). */
  leaseTtlS?: number;
  /** Largest worker count a decision may ask for per pool (larger values are cut to it and counted). */
  maxWorkers: number;
  log?: (line: string) => void;
}

/** A decision read from etcd. */
export interface Decision {
  id: number;
  prefill: number | null;
  decode: number | null;
}

/** A whole number >= 0 from a key's text, else null (missing or garbage). */
function count(raw: string | undefined): number | null {
  if (raw === undefined || raw.trim() === '') return null;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

export class VirtualFleet {
  private readonly prefix: string;
  /** The decision being applied (acknowledged once ready), and the last acknowledged. */
  private applying: Decision | null = null;
  private acknowledgedId = -1;
  private seenId = -1;
  /** The poll in progress (polls never overlap; close() waits for it). */
  private inFlight: Promise<void> | null = null;
  /** The lease the registrations hang on, and how many workers of each pool are registered. */
  private lease: string | null = null;
  private registered: PoolCounts = { prefill: 0, decode: 0 };
  /** A lease given up after etcd refused to renew it, to revoke before registering again. */
  private staleLease: string | null = null;
  private closed = false;
  /** Decisions applied; decision ids acknowledged; polls that failed; counts cut to maxWorkers. */
  readonly stats = { applied: 0, acknowledged: 0, poll_errors: 0, clamped: 0, garbage: 0 };

  private readonly backend: Backend;
  private readonly leaseTtlS: number;

  constructor(private readonly pool: ScalablePool, private readonly o: FleetOptions) {
    this.prefix = plannerPrefix(o.dynamoNamespace);
    this.backend = o.backend ?? 'vllm';
    this.leaseTtlS = o.leaseTtlS ?? 10;
  }

  get lastAcknowledged(): number {
    return this.acknowledgedId;
  }

  /** One poll: read the planner's keys, apply a new decision, acknowledge one that is done. Never throws. */
  poll(): Promise<void> {
    if (this.inFlight || this.closed) return this.inFlight ?? Promise.resolve();
    this.inFlight = this.pollOnce().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async pollOnce(): Promise<void> {
    try {
      const kvs = new Map((await this.o.etcd.range(this.prefix, 64)).map((kv) => [kv.key, kv.value]));
      const id = count(kvs.get(this.prefix + 'decision_id'));
      if (id === null) {
        if (kvs.has(this.prefix + 'decision_id')) this.stats.garbage++;
      } else if (id > this.seenId) {
        this.seenId = id;
        this.apply({ id, prefill: count(kvs.get(this.prefix + 'num_prefill_workers')), decode: count(kvs.get(this.prefix + 'num_decode_workers')) });
      }
      // Registrations first, so a planner that sees the acknowledgement also sees the workers.
      await this.register();
      if (this.applying && this.isDone(this.applying)) {
        await this.o.etcd.put(this.prefix + 'scaled_decision_id', String(this.applying.id));
        this.acknowledgedId = this.applying.id;
        this.stats.acknowledged++;
        this.o.log?.(`decision ${this.applying.id} done: acknowledged (scaled_decision_id ${this.applying.id})`);
        this.applying = null;
      }
    } catch (err) {
      this.stats.poll_errors++;
      // A lease etcd refuses to renew (or an answer that is not one) is dropped: the next poll takes a new one.
      if (err instanceof EtcdError && (err.kind === 'etcd_http' || err.kind === 'etcd_bad_response') && this.lease !== null) {
        this.staleLease = this.lease;
        this.lease = null;
      }
      this.o.log?.(`etcd poll failed: ${err instanceof EtcdError ? err.message : String(err)}`);
    }
  }

  /** Renew the lease (a new one if it lapsed) and make the registered workers the ready ones. */
  private async register(): Promise<void> {
    const etcd = this.o.etcd;
    if (this.staleLease !== null) {
      // Its keys would count the same workers twice until it lapses: revoke it first, if etcd lets us.
      await etcd.leaseRevoke(this.staleLease).catch(() => undefined);
      this.staleLease = null;
    }
    if (this.lease === null || !(await etcd.leaseKeepAlive(this.lease))) {
      this.lease = await etcd.leaseGrant(this.leaseTtlS);
      this.registered = { prefill: 0, decode: 0 };
    }
    const lease = this.lease;
    const ready = this.pool.readyCounts();
    const id = BigInt(lease).toString(16);
    for (const pool of ['prefill', 'decode'] as const) {
      const prefix = instancePrefix(this.o.dynamoNamespace, this.backend, pool);
      // Keys deleted behind the fleet's back (an etcd wiped or edited by hand) are put back.
      if (this.registered[pool] > 0 && (await etcd.count(`${prefix}${id}-`)) < this.registered[pool]) this.registered[pool] = 0;
      // Closing stops registering: close() revokes this lease once this poll is over.
      for (; this.registered[pool] < ready[pool] && !this.closed; this.registered[pool]++) {
        const key = `${prefix}${id}-${this.registered[pool]}`;
        await etcd.put(key, JSON.stringify({ component: pool, endpoint: 'generate', namespace: this.o.dynamoNamespace, instance_id: key.slice(prefix.length) }), lease);
      }
      for (; this.registered[pool] > ready[pool]; this.registered[pool]--) await etcd.delete(`${prefix}${id}-${this.registered[pool] - 1}`);
    }
  }

  /** Deregister every worker at once (the lease goes, and its keys with it). Never throws. */
  async close(): Promise<void> {
    this.closed = true;
    // A poll in flight may still be registering: let it finish so its lease is the one revoked.
    await this.inFlight;
    if (this.lease === null) return;
    const lease = this.lease;
    this.lease = null;
    await this.o.etcd.leaseRevoke(lease).catch((err: unknown) => {
      this.o.log?.(`etcd lease ${lease} not revoked (${err instanceof Error ? err.message : String(err)}): its worker keys lapse with it within ${this.leaseTtlS} s`);
    });
  }

  private apply(d: Decision): void {
    for (const pool of ['prefill', 'decode'] as const) {
      let n = d[pool];
      if (n === null) continue;
      if (n > this.o.maxWorkers) {
        this.stats.clamped++;
        n = this.o.maxWorkers;
        d[pool] = n;
      }
      this.pool.setTarget(pool, n);
    }
    this.stats.applied++;
    this.applying = d;
    this.o.log?.(`decision ${d.id}: prefill ${d.prefill ?? 'unchanged'}, decode ${d.decode ?? 'unchanged'}`);
  }

  /** Done when every pool the decision names has exactly its target ready (new ones started, removed ones gone from the ready set). */
  private isDone(d: Decision): boolean {
    const ready = this.pool.readyCounts();
    const target = this.pool.targetCounts();
    return (['prefill', 'decode'] as const).every((p) => d[p] === null || ready[p] === target[p]);
  }
}
