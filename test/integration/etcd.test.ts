import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdJson, JsonlSink, VirtualActuator, instancePrefix, plannerPrefix } from '../../src/actuate/virtual.js';
import { startEtcd, type Managed } from '../helpers/procs.js';

describe('virtual environment against a real etcd', () => {
  let etcd: Managed;
  let client: EtcdJson;
  beforeAll(async () => {
    etcd = await startEtcd();
    client = new EtcdJson(etcd.url);
  }, 30_000);
  afterAll(() => etcd?.stop());

  const P = plannerPrefix('dyn-ns');
  const make = (o: Partial<ConstructorParameters<typeof VirtualActuator>[0]> = {}) => new VirtualActuator({
    dynamoNamespace: 'dyn-ns', mode: 'disagg', modelName: 'M', gpus: { prefill: 1, decode: 1 }, routerMetricsUrl: null, etcd: client, checkIntervalMs: 50, ...o,
  });

  it('writes counts and decision ids with the acknowledgement handshake', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sla-virt-'));
    const a = make({ sink: new JsonlSink(join(dir, 'decisions.jsonl')) });
    const info = await a.init();
    expect(info.modelName).toBe('m');
    expect(await a.view()).toEqual({ prefill: null, decode: null, ready: true, counts: 'decided' });

    expect(await a.apply({ prefill: 2, decode: 3 }, { blocking: false })).toEqual({ status: 'applied', written: { prefill: 2, decode: 3 } });
    expect(await client.getPrefix(P)).toEqual({ [P + 'num_prefill_workers']: '2', [P + 'num_decode_workers']: '3', [P + 'decision_id']: '0' });

    // Same counts: nothing written.
    expect((await a.apply({ prefill: 2, decode: 3 }, { blocking: false })).status).toBe('unchanged');
    // Not yet acknowledged: the next decision waits.
    expect((await a.apply({ prefill: 2, decode: 4 }, { blocking: false })).status).toBe('pending_ack');
    expect(await client.get(P + 'decision_id')).toBe('0');
    expect((await a.view()).ready).toBe(false);

    // The external environment acknowledges.
    await client.put(P + 'scaled_decision_id', '0');
    expect(await a.apply({ decode: 4 }, { blocking: false })).toEqual({ status: 'applied', written: { decode: 4 } });
    expect(await client.get(P + 'decision_id')).toBe('1');
    expect(await client.get(P + 'num_decode_workers')).toBe('4');
    expect(await client.get(P + 'num_prefill_workers')).toBe('2');
    expect(await a.view()).toEqual({ prefill: 2, decode: 4, ready: false, counts: 'decided' });

    const lines = readFileSync(join(dir, 'decisions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.decision_id, l.num_prefill_workers, l.num_decode_workers])).toEqual([[0, 2, 3], [1, 2, 4]]);

    // A restarted planner continues the ids instead of starting over.
    await client.put(P + 'scaled_decision_id', '1');
    const b = make();
    await b.init();
    expect(await b.view()).toEqual({ prefill: 2, decode: 4, ready: true, counts: 'decided' });
    await b.apply({ prefill: 1 }, { blocking: false });
    expect(await client.get(P + 'decision_id')).toBe('2');
  });

  it('counts the workers registered under v1/instances/ per pool once any has registered there, 0 included, and they vanish with their lease', async () => {
    const a = make({ dynamoNamespace: 'ns-inst', backend: 'trtllm' });
    await a.init();
    await a.apply({ prefill: 3, decode: 2 }, { blocking: false });
    // Nothing registered yet: the decided counts stand in.
    expect(await a.view()).toEqual({ prefill: 3, decode: 2, ready: false, counts: 'decided' });
    const lease = await client.leaseGrant(30);
    const pre = instancePrefix('ns-inst', 'trtllm', 'prefill');
    const dec = instancePrefix('ns-inst', 'trtllm', 'decode');
    expect([pre, dec]).toEqual(['v1/instances/ns-inst/prefill/generate/', 'v1/instances/ns-inst/tensorrt_llm/generate/']);
    await client.put(pre + 'a1', '{}', lease);
    // Another backend's decode component and another namespace do not count.
    await client.put('v1/instances/ns-inst/backend/generate/b1', '{}', lease);
    await client.put('v1/instances/ns-inst2/prefill/generate/c1', '{}', lease);
    // Prefill counts its registered worker; decode, none of whose workers has registered yet, its decided 2.
    expect(await a.view()).toEqual({ prefill: 1, decode: 2, ready: false, counts: 'decided' });
    await client.put(dec + 'd1', '{}', lease);
    await client.put(dec + 'd2', '{}', lease);
    await client.put(dec + 'd3', '{}', lease);
    expect(await a.view()).toMatchObject({ prefill: 1, decode: 3, counts: 'ready' });
    // The lease is alive while kept alive; a revoked one answers false, not an error.
    expect(await client.leaseKeepAlive(lease)).toBe(true);
    // Every worker gone (lease revoked): zero serving workers, not the decided counts.
    await client.leaseRevoke(lease);
    expect(await client.count(pre)).toBe(0);
    expect(await a.view()).toEqual({ prefill: 0, decode: 0, ready: false, counts: 'ready' });
    expect(await client.leaseKeepAlive(lease)).toBe(false);
  });

  it('during_rollout write replaces an unacknowledged decision; drop waits for the acknowledgement', async () => {
    const a = make({ dynamoNamespace: 'ns-rollout' });
    await a.init();
    await a.apply({ prefill: 1, decode: 1 }, { blocking: false });
    expect((await a.apply({ prefill: 2, decode: 1 }, { blocking: false, duringRollout: 'drop' })).status).toBe('pending_ack');
    expect(await a.apply({ prefill: 2, decode: 1 }, { blocking: false, duringRollout: 'write' })).toEqual({ status: 'applied', written: { prefill: 2, decode: 1 } });
    expect(await client.getPrefix(plannerPrefix('ns-rollout'))).toEqual({
      [plannerPrefix('ns-rollout') + 'decision_id']: '1', [plannerPrefix('ns-rollout') + 'num_prefill_workers']: '2', [plannerPrefix('ns-rollout') + 'num_decode_workers']: '1',
    });
  });

  it('an unacknowledged decision stops blocking after the maximum wait', async () => {
    let now = 1_000_000;
    const a = make({ dynamoNamespace: 'ns-wait', maxWaitMs: 60_000, now: () => now });
    await a.init();
    await a.apply({ prefill: 1, decode: 1 }, { blocking: false });
    expect((await a.apply({ decode: 2 }, { blocking: false })).status).toBe('pending_ack');
    now += 59_000;
    expect((await a.apply({ decode: 2 }, { blocking: false })).status).toBe('pending_ack');
    now += 2_000;
    expect((await a.apply({ decode: 2 }, { blocking: false })).status).toBe('applied');
    expect(await client.get(plannerPrefix('ns-wait') + 'decision_id')).toBe('1');
  });

  it('waitReady returns once the decision is acknowledged', async () => {
    const a = make({ dynamoNamespace: 'ns-block', maxWaitMs: 5000 });
    await a.init();
    await a.apply({ prefill: 1, decode: 2 }, { blocking: true });
    setTimeout(() => void client.put(plannerPrefix('ns-block') + 'scaled_decision_id', '0'), 150);
    const t0 = Date.now();
    expect(await a.waitReady()).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
  });

  it('resumes from garbage keys as if they were never written, not with NaN ids', async () => {
    const Pg = plannerPrefix('ns-garbage');
    await client.put(Pg + 'decision_id', 'seven');
    await client.put(Pg + 'num_prefill_workers', '-3');
    await client.put(Pg + 'num_decode_workers', '2.5');
    const a = make({ dynamoNamespace: 'ns-garbage' });
    await a.init();
    expect(await a.view()).toEqual({ prefill: null, decode: null, ready: true, counts: 'decided' });
    expect(await a.apply({ prefill: 1, decode: 2 }, { blocking: false })).toMatchObject({ status: 'applied' });
    expect(await client.get(Pg + 'decision_id')).toBe('0');
  });

  it('a blocking wait on the daemon-long signal leaves no abort listener behind', async () => {
    const a = make({ dynamoNamespace: 'ns-listeners', maxWaitMs: 400, checkIntervalMs: 20 });
    await a.init();
    await a.apply({ prefill: 1, decode: 1 }, { blocking: true });
    const ctl = new AbortController();
    let added = 0;
    let removed = 0;
    const add = ctl.signal.addEventListener.bind(ctl.signal);
    const remove = ctl.signal.removeEventListener.bind(ctl.signal);
    ctl.signal.addEventListener = ((...args: Parameters<typeof add>) => { added++; add(...args); }) as typeof add;
    ctl.signal.removeEventListener = ((...args: Parameters<typeof remove>) => { removed++; remove(...args); }) as typeof remove;
    // Never acknowledged: about 20 polls, each must clean up after itself.
    expect(await a.waitReady(ctl.signal)).toBe(false);
    expect(added).toBeGreaterThan(5);
    expect(removed).toBe(added);
  });

  it('an unreachable etcd is a failed outcome, not a crash', async () => {
    const a = make({ etcd: new EtcdJson('127.0.0.1:1', { timeoutMs: 500 }), dynamoNamespace: 'x' });
    const out = await a.apply({ prefill: 1, decode: 1 }, { blocking: false });
    expect(out).toMatchObject({ status: 'failed', errorKind: 'etcd_unreachable' });
    expect(out.message).toMatch(/^etcd unreachable: POST http:\/\/127.0.0.1:1\/v3\/kv\/range: .*ECONNREFUSED/);
  });
});
