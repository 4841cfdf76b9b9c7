import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Dgd } from '../../src/actuate/dgd.js';
import { EventRecorder, REPORTING_CONTROLLER, microTime } from '../../src/actuate/events.js';
import { KubeClient, inClusterConnection } from '../../src/actuate/kubernetes.js';
import { FakeKube } from '../helpers/fakeKube.js';

function fixtureDgd(): Dgd {
  const docs = YAML.parseAllDocuments(readFileSync('test/fixtures/dynamo/dgd/vllm-disagg_planner.v1alpha1.yaml', 'utf8')).map((d) => d.toJS());
  return docs.find((d) => d?.kind === 'DynamoGraphDeployment') as Dgd;
}

describe('EventRecorder against the strict fake API server', () => {
  let kube: FakeKube;
  let client: KubeClient;
  let clock: number;
  const errors: Error[] = [];
  const target = () => ({ apiVersion: 'nvidia.com/v1alpha1', kind: 'DynamoGraphDeployment', name: 'vllm-disagg-planner', namespace: 'team-a', uid: kube.dgd.metadata!.uid as string | undefined });
  const recorder = (opts: { minPatchIntervalMs?: number; seriesWindowMs?: number } = {}) => new EventRecorder({
    client, regarding: target, reportingInstance: 'sla-planner-test', now: () => clock, onError: (e) => errors.push(e), ...opts,
  });
  const scaled = { type: 'Normal' as const, reason: 'SuccessfulRescale', action: 'Scale', note: 'VllmDecodeWorker 1 -> 2: forecast 8.9 req/s, binding demand' };

  beforeEach(async () => {
    kube = await new FakeKube('team-a', 'vllm-disagg-planner', fixtureDgd()).start();
    const dir = mkdtempSync(join(tmpdir(), 'sla-ev-'));
    writeFileSync(join(dir, 'token'), 'test-token');
    writeFileSync(join(dir, 'namespace'), 'team-a');
    client = new KubeClient(inClusterConnection({ SLA_PLANNER_K8S_API_URL: kube.url, SLA_PLANNER_K8S_TOKEN_FILE: join(dir, 'token'), SLA_PLANNER_K8S_NAMESPACE_FILE: join(dir, 'namespace') }), { retries: 0, timeoutMs: 2000 });
    clock = Date.parse('2026-05-01T10:00:00.000Z');
    errors.length = 0;
  });
  afterEach(() => kube.stop());

  it('creates a valid events.k8s.io/v1 Event about the DGD, found by its uid as kubectl describe looks it up', async () => {
    const r = recorder();
    r.record(scaled);
    await r.flush();
    expect(errors).toEqual([]);
    const [ev] = kube.eventList();
    expect(ev).toMatchObject({
      apiVersion: 'events.k8s.io/v1', kind: 'Event', type: 'Normal', reason: 'SuccessfulRescale', action: 'Scale', note: scaled.note,
      reportingController: REPORTING_CONTROLLER, reportingInstance: 'sla-planner-test', eventTime: '2026-05-01T10:00:00.000000Z',
      regarding: { kind: 'DynamoGraphDeployment', name: 'vllm-disagg-planner', namespace: 'team-a', uid: '6f1c9a52-0d7e-4c1b-9a51-3c2f0e8b7d41' },
    });
    expect(ev.series).toBeUndefined();
    expect(ev.metadata.name).toMatch(/^vllm-disagg-planner\.[0-9a-f]+$/);
    const post = kube.log.find((r) => r.method === 'POST')!;
    expect(post.query).toBe('fieldValidation=Strict');
    expect(post.status).toBe(201);
  });

  it('aggregates repeats into one Event: count 2 at once, later counts at most once per interval, the rest on flush', async () => {
    const r = recorder({ minPatchIntervalMs: 30_000 });
    r.record(scaled);
    await r.flush();
    clock += 5_000;
    r.record(scaled);
    await new Promise((res) => setTimeout(res, 50));
    let [ev] = kube.eventList();
    expect(ev.series).toEqual({ count: 2, lastObservedTime: '2026-05-01T10:00:05.000000Z' });
    clock += 5_000;
    r.record(scaled);
    clock += 5_000;
    r.record(scaled);
    await new Promise((res) => setTimeout(res, 50));
    // Within 30 s of the last write: counted, not yet written.
    expect(kube.eventList()[0].series!.count).toBe(2);
    await r.flush();
    [ev] = kube.eventList();
    expect(kube.eventList()).toHaveLength(1);
    expect(ev.series).toEqual({ count: 4, lastObservedTime: '2026-05-01T10:00:15.000000Z' });
    const patches = kube.log.filter((q) => q.method === 'PATCH');
    expect(patches.map((p) => (p.body as { series: { count: number } }).series.count)).toEqual([2, 4]);
    expect(patches.every((p) => p.contentType === 'application/merge-patch+json' && p.status === 200)).toBe(true);
  });

  it('another note is another Event; a repeat after the series window starts a new Event', async () => {
    const r = recorder({ seriesWindowMs: 60_000 });
    r.record(scaled);
    r.record({ ...scaled, note: 'VllmDecodeWorker 2 -> 3: forecast 12.0 req/s, binding demand' });
    clock += 61_000;
    r.record(scaled);
    await r.flush();
    expect(kube.eventList()).toHaveLength(3);
    expect(kube.eventList().every((e) => e.series === undefined)).toBe(true);
  });

  it('an expired Event (404 on the series patch) is written again with its count', async () => {
    const r = recorder();
    r.record(scaled);
    await r.flush();
    kube.events.clear();
    clock += 1000;
    r.record(scaled);
    await r.flush();
    expect(errors).toEqual([]);
    const [ev] = kube.eventList();
    expect(ev.series).toEqual({ count: 2, lastObservedTime: '2026-05-01T10:00:01.000000Z' });
  });

  it('without the events verbs in the Role the write fails with the RBAC sentence, and the recorder keeps going', async () => {
    kube.rules = kube.rules!.filter((rule) => !rule.apiGroups.includes('events.k8s.io'));
    const r = recorder();
    r.record(scaled);
    await r.flush();
    expect(kube.eventList()).toHaveLength(0);
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(/may not 'create' events\.events\.k8s\.io in namespace team-a; grant verb 'create'/);
    expect(kube.denied()[0].path).toBe('/apis/events.k8s.io/v1/namespaces/team-a/events');
  });

  it('the fake refuses what a real API server refuses: unknown fields, a millisecond eventTime, a changed note, a 1-count series', async () => {
    const post = (body: unknown, q = '?fieldValidation=Strict') => fetch(`${kube.url}/apis/events.k8s.io/v1/namespaces/team-a/events${q}`, {
      method: 'POST', headers: { authorization: 'Bearer test-token', 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const good = {
      apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'x.1' }, eventTime: microTime(clock), reportingController: REPORTING_CONTROLLER,
      reportingInstance: 'i', action: 'Scale', reason: 'SuccessfulRescale', type: 'Normal', note: 'n', regarding: { kind: 'DynamoGraphDeployment', name: 'd', namespace: 'team-a' },
    };
    const unknown = await post({ ...good, count: 3 });
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).message).toMatch(/unknown field "count"/);
    const lenient = await post({ ...good, metadata: { name: 'x.0' }, count: 3 }, '');
    expect(lenient.status).toBe(201);
    expect(lenient.headers.get('warning')).toMatch(/unknown field "count"/);
    const ms = await post({ ...good, eventTime: new Date(clock).toISOString() });
    expect(ms.status).toBe(422);
    const noController = await post({ ...good, reportingController: 'Not A Name' });
    expect((await noController.json()).message).toMatch(/reportingController: Invalid value/);
    expect((await post(good)).status).toBe(201);
    expect((await post(good)).status).toBe(409);
    const patch = (body: unknown) => fetch(`${kube.url}/apis/events.k8s.io/v1/namespaces/team-a/events/x.1`, {
      method: 'PATCH', headers: { authorization: 'Bearer test-token', 'content-type': 'application/merge-patch+json' }, body: JSON.stringify(body),
    });
    expect((await patch({ note: 'other' })).status).toBe(422);
    expect((await patch({ series: { count: 1, lastObservedTime: microTime(clock) } })).status).toBe(422);
    expect((await patch({ series: { count: 2, lastObservedTime: microTime(clock) } })).status).toBe(200);
  });

  it('microTime writes exactly six fractional digits', () => {
    expect(microTime(Date.parse('2026-01-02T03:04:05.678Z'))).toBe('2026-01-02T03:04:05.678000Z');
  });
});
