// The fleet's handshake with the planner's keys, on an in-memory stand-in for etcd (the real one is
// exercised by the closed-loop test).
import { describe, expect, it } from 'vitest';
import { VirtualFleet, type ScalablePool } from '../../src/mocker/fleet.js';
import { EtcdError, type EtcdJson } from '../../src/actuate/etcd.js';
import type { PoolCounts } from '../../src/sim/types.js';

const P = 'v1/ns/planner/';

/** etcd's semantics the fleet relies on, in memory: prefix ranges, puts on a lease, leases that lapse or are revoked with their keys. */
function fakeEtcd(kv: Map<string, string>, fail = { on: false }) {
  const leaseOf = new Map<string, string>();
  const leases = new Set<string>();
  let nextLease = 0x1f;
  const check = () => {
    if (fail.on) throw new EtcdError('etcd_unreachable', 'etcd unreachable: refused');
  };
  const etcd = {
    async range(prefix: string) {
      check();
      return [...kv].filter(([k]) => k.startsWith(prefix)).map(([key, value]) => ({ key, value, modRevision: '1' }));
    },
    async put(key: string, value: string, lease?: string) {
      check();
      if (lease !== undefined && !leases.has(lease)) throw new EtcdError('etcd_http', 'requested lease not found');
      kv.set(key, value);
      if (lease !== undefined) leaseOf.set(key, lease);
    },
    async count(prefix: string) {
      check();
      return [...kv.keys()].filter((k) => k.startsWith(prefix)).length;
    },
    async delete(key: string) {
      check();
      kv.delete(key);
    },
    async leaseGrant() {
      check();
      const id = String(nextLease++);
      leases.add(id);
      return id;
    },
    async leaseKeepAlive(id: string) {
      check();
      return leases.has(id);
    },
    async leaseRevoke(id: string) {
      check();
      leases.delete(id);
      for (const [k, l] of leaseOf) if (l === id) kv.delete(k);
    },
  };
  /** The lease lapses (the fleet missed its renewals): its keys go. */
  const expire = (id: string) => void etcd.leaseRevoke(id);
  return Object.assign(etcd as unknown as EtcdJson, { expire, leases });
}

const instances = (kv: Map<string, string>, component: string) => [...kv.keys()].filter((k) => k.startsWith(`v1/instances/ns/${component}/generate/`)).sort();

function fakePool() {
  const target: PoolCounts = { prefill: 1, decode: 1 };
  const ready: PoolCounts = { prefill: 1, decode: 1 };
  const pool: ScalablePool = { setTarget: (p, n) => { target[p] = n; }, readyCounts: () => ({ ...ready }), targetCounts: () => ({ ...target }) };
  return { pool, target, ready };
}

describe('VirtualFleet', () => {
  it('applies a new decision at once and acknowledges it only when the ready workers match', async () => {
    const kv = new Map([[P + 'decision_id', '0'], [P + 'num_prefill_workers', '2'], [P + 'num_decode_workers', '3']]);
    const { pool, target, ready } = fakePool();
    const fleet = new VirtualFleet(pool, { etcd: fakeEtcd(kv), dynamoNamespace: 'ns', maxWorkers: 10 });
    await fleet.poll();
    expect(target).toEqual({ prefill: 2, decode: 3 });
    expect(kv.has(P + 'scaled_decision_id')).toBe(false);
    ready.prefill = 2;
    await fleet.poll();
    expect(kv.has(P + 'scaled_decision_id')).toBe(false);
    ready.decode = 3;
    await fleet.poll();
    expect(kv.get(P + 'scaled_decision_id')).toBe('0');
    // The same decision again changes nothing; the next one is applied.
    await fleet.poll();
    expect(fleet.stats).toMatchObject({ applied: 1, acknowledged: 1 });
    kv.set(P + 'decision_id', '1');
    kv.set(P + 'num_decode_workers', '1');
    await fleet.poll();
    expect(target.decode).toBe(1);
    ready.decode = 1;
    await fleet.poll();
    expect(kv.get(P + 'scaled_decision_id')).toBe('1');
    expect(fleet.lastAcknowledged).toBe(1);
  });

  it('registers exactly the ready workers under the backend\'s components, on a lease it renews, re-registers after a lapse and revokes on close', async () => {
    const kv = new Map<string, string>();
    const { pool, ready } = fakePool();
    const etcd = fakeEtcd(kv);
    const fleet = new VirtualFleet(pool, { etcd, dynamoNamespace: 'ns', backend: 'trtllm', maxWorkers: 10 });
    await fleet.poll();
    expect(instances(kv, 'prefill')).toEqual(['v1/instances/ns/prefill/generate/1f-0']);
    expect(instances(kv, 'tensorrt_llm')).toEqual(['v1/instances/ns/tensorrt_llm/generate/1f-0']);
    expect(JSON.parse(kv.get('v1/instances/ns/prefill/generate/1f-0')!)).toMatchObject({ namespace: 'ns', endpoint: 'generate' });
    ready.decode = 3;
    ready.prefill = 0;
    await fleet.poll();
    expect(instances(kv, 'prefill')).toEqual([]);
    expect(instances(kv, 'tensorrt_llm')).toHaveLength(3);
    ready.decode = 2;
    await fleet.poll();
    expect(instances(kv, 'tensorrt_llm')).toEqual(['v1/instances/ns/tensorrt_llm/generate/1f-0', 'v1/instances/ns/tensorrt_llm/generate/1f-1']);
    // Keys deleted by hand while the lease lives: the next poll puts them back.
    kv.delete('v1/instances/ns/tensorrt_llm/generate/1f-1');
    await fleet.poll();
    expect(instances(kv, 'tensorrt_llm')).toEqual(['v1/instances/ns/tensorrt_llm/generate/1f-0', 'v1/instances/ns/tensorrt_llm/generate/1f-1']);
    // The lease lapsed (a stalled fleet): the next poll registers the ready workers again on a new one.
    etcd.expire('31');
    expect(instances(kv, 'tensorrt_llm')).toEqual([]);
    await fleet.poll();
    expect(instances(kv, 'tensorrt_llm')).toEqual(['v1/instances/ns/tensorrt_llm/generate/20-0', 'v1/instances/ns/tensorrt_llm/generate/20-1']);
    await fleet.close();
    expect(instances(kv, 'tensorrt_llm')).toEqual([]);
    expect(etcd.leases.size).toBe(0);
    // Closed: polls do nothing, so no registration outlives the fleet.
    await fleet.poll();
    expect([...kv.keys()].filter((k) => k.startsWith('v1/instances/'))).toEqual([]);
  });

  it('close() waits for a poll still registering, so no worker key outlives the fleet; a lease etcd refuses is revoked and replaced', async () => {
    const kv = new Map<string, string>();
    const { pool, ready } = fakePool();
    ready.decode = 4;
    const etcd = fakeEtcd(kv);
    // Every put waits for the test to let it through: the poll is caught mid-registration.
    const gates: Array<() => void> = [];
    const put = etcd.put.bind(etcd);
    etcd.put = (async (key: string, value: string, lease?: string) => {
      await new Promise<void>((r) => gates.push(r));
      return put(key, value, lease);
    }) as typeof etcd.put;
    const fleet = new VirtualFleet(pool, { etcd, dynamoNamespace: 'ns', maxWorkers: 10 });
    const polling = fleet.poll();
    await new Promise((r) => setTimeout(r, 10));
    expect(gates).toHaveLength(1);
    const closing = fleet.close();
    // Let the in-flight put finish: the poll stops registering, then close revokes the lease.
    gates.shift()!();
    await polling;
    await closing;
    expect([...kv.keys()].filter((k) => k.startsWith('v1/instances/'))).toEqual([]);
    expect(etcd.leases.size).toBe(0);

    // A keep-alive etcd answers with HTTP 500 (a lease it does not know): the next poll takes a new lease.
    const kv2 = new Map<string, string>();
    const etcd2 = fakeEtcd(kv2);
    const fleet2 = new VirtualFleet(fakePool().pool, { etcd: etcd2, dynamoNamespace: 'ns', maxWorkers: 10 });
    await fleet2.poll();
    const keepAlive = etcd2.leaseKeepAlive.bind(etcd2);
    let refuse = true;
    etcd2.leaseKeepAlive = (async (id: string) => {
      if (refuse) throw new EtcdError('etcd_http', 'etcd answered HTTP 500: invalid lease');
      return keepAlive(id);
    }) as typeof etcd2.leaseKeepAlive;
    await fleet2.poll();
    expect(fleet2.stats.poll_errors).toBe(1);
    refuse = false;
    await fleet2.poll();
    // The refused lease was revoked first: the worker is registered once, on the new lease.
    expect(instances(kv2, 'backend')).toEqual(['v1/instances/ns/backend/generate/20-0']);
  });

  it('cuts counts to maxWorkers, ignores garbage, and survives an etcd outage', async () => {
    const kv = new Map([[P + 'decision_id', 'seven'], [P + 'num_decode_workers', '3']]);
    const fail = { on: false };
    const { pool, target, ready } = fakePool();
    const fleet = new VirtualFleet(pool, { etcd: fakeEtcd(kv, fail), dynamoNamespace: 'ns', maxWorkers: 4 });
    await fleet.poll();
    expect(target).toEqual({ prefill: 1, decode: 1 });
    expect(fleet.stats.garbage).toBe(1);
    fail.on = true;
    await fleet.poll();
    expect(fleet.stats.poll_errors).toBe(1);
    fail.on = false;
    kv.set(P + 'decision_id', '5');
    kv.set(P + 'num_decode_workers', '999');
    kv.set(P + 'num_prefill_workers', '-1');
    await fleet.poll();
    expect(target).toEqual({ prefill: 1, decode: 4 });
    expect(fleet.stats.clamped).toBe(1);
    ready.decode = 4;
    await fleet.poll();
    expect(kv.get(P + 'scaled_decision_id')).toBe('5');
  });
});
