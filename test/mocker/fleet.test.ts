// The fleet's handshake with the planner's keys, on an in-memory stand-in for etcd (the real one is
// exercised by the closed-loop test).
import { describe, expect, it } from 'vitest';
import { VirtualFleet, type ScalablePool } from '../../src/mocker/fleet.js';
import { EtcdError, type EtcdJson } from '../../src/actuate/etcd.js';
import type { PoolCounts } from '../../src/sim/types.js';

const P = 'v1/ns/planner/';

function fakeEtcd(kv: Map<string, string>, fail = { on: false }) {
  return {
    async range(prefix: string) {
      if (fail.on) throw new EtcdError('etcd_unreachable', 'etcd unreachable: refused');
      return [...kv].filter(([k]) => k.startsWith(prefix)).map(([key, value]) => ({ key, value, modRevision: '1' }));
    },
    async put(key: string, value: string) {
      kv.set(key, value);
    },
  } as unknown as EtcdJson;
}

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
