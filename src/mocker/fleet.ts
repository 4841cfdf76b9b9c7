// The mock fleet obeying the planner in the virtual environment: it polls the keys the planner
// writes under v1/{namespace}/planner/, scales the pools to each new decision (new workers serve
// after the cold start, removed ones drain), and acknowledges the decision by writing
// scaled_decision_id once the ready workers match it, as an environment does when its scaling is done.
import { EtcdError, type EtcdJson } from '../actuate/etcd.js';
import { plannerPrefix } from '../actuate/virtual.js';
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
  private busy = false;
  /** Decisions applied; decision ids acknowledged; polls that failed; counts cut to maxWorkers. */
  readonly stats = { applied: 0, acknowledged: 0, poll_errors: 0, clamped: 0, garbage: 0 };

  constructor(private readonly pool: ScalablePool, private readonly o: FleetOptions) {
    this.prefix = plannerPrefix(o.dynamoNamespace);
  }

  get lastAcknowledged(): number {
    return this.acknowledgedId;
  }

  /** One poll: read the planner's keys, apply a new decision, acknowledge one that is done. Never throws. */
  async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const kvs = new Map((await this.o.etcd.range(this.prefix, 64)).map((kv) => [kv.key, kv.value]));
      const id = count(kvs.get(this.prefix + 'decision_id'));
      if (id === null) {
        if (kvs.has(this.prefix + 'decision_id')) this.stats.garbage++;
      } else if (id > this.seenId) {
        this.seenId = id;
        this.apply({ id, prefill: count(kvs.get(this.prefix + 'num_prefill_workers')), decode: count(kvs.get(this.prefix + 'num_decode_workers')) });
      }
      if (this.applying && this.isDone(this.applying)) {
        await this.o.etcd.put(this.prefix + 'scaled_decision_id', String(this.applying.id));
        this.acknowledgedId = this.applying.id;
        this.stats.acknowledged++;
        this.o.log?.(`decision ${this.applying.id} done: acknowledged (scaled_decision_id ${this.applying.id})`);
        this.applying = null;
      }
    } catch (err) {
      this.stats.poll_errors++;
      this.o.log?.(`etcd poll failed: ${err instanceof EtcdError ? err.message : String(err)}`);
    } finally {
      this.busy = false;
    }
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
