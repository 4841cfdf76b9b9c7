import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Dgd, type DgdV1beta1, findPoolService, fromV1beta1, gpusPerReplica, modelNameOf } from '../../src/actuate/dgd.js';
import { DECISION_ANNOTATION, KubeClient, KubernetesActuator, inClusterConnection } from '../../src/actuate/kubernetes.js';
import { FakeKube } from '../helpers/fakeKube.js';

function load(file: string): Dgd {
  const docs = YAML.parseAllDocuments(readFileSync(`test/fixtures/dynamo/dgd/${file}`, 'utf8')).map((d) => d.toJS());
  return docs.find((d) => d?.kind === 'DynamoGraphDeployment') as Dgd;
}
const V1BETA1 = 'vllm-disagg_planner.v1beta1.HEAD-2026-08.yaml';

describe('reading a v1beta1 DGD (spec.components list)', () => {
  it('finds the pools by type, GPUs in the main container limits and the model in its args', () => {
    const view = fromV1beta1(load(V1BETA1) as DgdV1beta1);
    expect(findPoolService(view, 'prefill', 'vllm')).toBe('VllmPrefillWorker');
    expect(findPoolService(view, 'decode', 'vllm')).toBe('VllmDecodeWorker');
    expect(gpusPerReplica(view.spec!.services!.VllmDecodeWorker)).toBe(1);
    expect(modelNameOf(view.spec!.services!.VllmPrefillWorker)).toBe('qwen/qwen3-0.6b');
    expect(view.spec!.services!.Frontend.componentType).toBe('frontend');
  });

  it('maps status.components to the ready counts', () => {
    const dgd = { ...load(V1BETA1), status: { conditions: [{ type: 'Ready', status: 'True' }], components: { VllmDecodeWorker: { readyReplicas: 3 } } } } as DgdV1beta1;
    expect(fromV1beta1(dgd).status!.services!.VllmDecodeWorker.readyReplicas).toBe(3);
  });

  it('tolerates a malformed components field (no pools found: a clear error, not a crash)', () => {
    const view = fromV1beta1({ spec: { components: 'nope' as unknown as [] } });
    expect(() => findPoolService(view, 'decode', 'vllm')).toThrow(/no decode service/);
  });
});

describe('KubernetesActuator on a cluster that serves v1beta1', () => {
  let kube: FakeKube;
  let dir: string;
  const make = () => new KubernetesActuator({
    client: new KubeClient(inClusterConnection({ SLA_PLANNER_K8S_API_URL: kube.url, SLA_PLANNER_K8S_TOKEN_FILE: join(dir, 'token'), SLA_PLANNER_K8S_NAMESPACE_FILE: join(dir, 'namespace') }), { retries: 1, backoffMs: 20, timeoutMs: 2000 }),
    dgdName: 'vllm-disagg-planner', backend: 'vllm', mode: 'disagg', configModelName: null, configGpus: { prefill: null, decode: null },
  });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sla-k8s-b-'));
    writeFileSync(join(dir, 'token'), 'test-token');
    writeFileSync(join(dir, 'namespace'), 'team-a');
    const dgd = load(V1BETA1);
    kube = await new FakeKube('team-a', 'vllm-disagg-planner', dgd).start();
  });
  afterEach(() => kube.stop());

  it('discovers v1beta1 and reads the DGD at that version', async () => {
    const a = make();
    const info = await a.init();
    expect(a.apiVersion).toBe('v1beta1');
    expect(info).toMatchObject({ prefillGpus: 1, decodeGpus: 1, modelName: 'qwen/qwen3-0.6b', services: { prefill: 'VllmPrefillWorker', decode: 'VllmDecodeWorker' } });
    expect(kube.log.map((r) => r.path)).toEqual(['/apis/nvidia.com', '/apis/nvidia.com/v1beta1/namespaces/team-a/dynamographdeployments/vllm-disagg-planner']);
    expect(a.eventTarget()).toMatchObject({ apiVersion: 'nvidia.com/v1beta1', uid: '6f1c9a52-0d7e-4c1b-9a51-3c2f0e8b7d41' });
  });

  it('writes through the v1beta1 scaling adapter when it exists', async () => {
    kube.adapters.add('VllmDecodeWorker');
    const a = make();
    await a.init();
    expect(await a.apply({ decode: 3 }, { blocking: false })).toMatchObject({ status: 'applied', written: { decode: 3 }, previous: { decode: 1 } });
    expect(kube.writes().map((w) => w.path)).toEqual(['/apis/nvidia.com/v1beta1/namespaces/team-a/dynamographdeploymentscalingadapters/vllm-disagg-planner-vllmdecodeworker/scale']);
    expect(kube.replicas('VllmDecodeWorker')).toBe(3);
  });

  it('falls back to a JSON Patch at the component index, guarded by its name and the resourceVersion', async () => {
    const a = make();
    await a.init();
    const out = await a.apply({ prefill: 2, decode: 4 }, { blocking: false });
    expect(out).toMatchObject({ status: 'applied', written: { prefill: 2, decode: 4 } });
    const [first, second] = kube.writes();
    expect(first.contentType).toBe('application/json-patch+json');
    expect(first.query).toBe('fieldValidation=Strict');
    // The fixture lists Frontend, Planner, VllmDecodeWorker, VllmPrefillWorker.
    expect(first.body).toEqual([
      { op: 'test', path: '/spec/components/3/name', value: 'VllmPrefillWorker' },
      { op: 'replace', path: '/metadata/resourceVersion', value: '100' },
      { op: 'add', path: '/spec/components/3/replicas', value: 2 },
    ]);
    expect((second.body as { path: string }[])[2].path).toBe('/spec/components/2/replicas');
    expect(kube.replicas('VllmPrefillWorker')).toBe(2);
    expect(kube.replicas('VllmDecodeWorker')).toBe(4);
  });

  it('a concurrent edit between read and write is a 409 and is retried on a fresh read', async () => {
    const a = make();
    await a.init();
    kube.faults.push({ method: 'PATCH', pathIncludes: 'dynamographdeployments/', status: 409, times: 1 });
    expect(await a.apply({ decode: 2 }, { blocking: false })).toMatchObject({ status: 'applied' });
    expect(kube.replicas('VllmDecodeWorker')).toBe(2);
  });

  it('the fake refuses a JSON Patch whose test fails and a stale resourceVersion, as the API server does', async () => {
    const patch = (ops: unknown) => fetch(`${kube.url}/apis/nvidia.com/v1beta1/namespaces/team-a/dynamographdeployments/vllm-disagg-planner`, {
      method: 'PATCH', headers: { authorization: 'Bearer test-token', 'content-type': 'application/json-patch+json' }, body: JSON.stringify(ops),
    });
    expect((await patch([{ op: 'test', path: '/spec/components/0/name', value: 'VllmDecodeWorker' }, { op: 'add', path: '/spec/components/0/replicas', value: 9 }])).status).toBe(422);
    expect((await patch([{ op: 'replace', path: '/metadata/resourceVersion', value: '1' }, { op: 'add', path: '/spec/components/0/replicas', value: 9 }])).status).toBe(409);
    expect((await patch([{ op: 'add', path: '/spec/components/0/replica', value: 9 }])).status).toBe(200);
    const strict = await fetch(`${kube.url}/apis/nvidia.com/v1beta1/namespaces/team-a/dynamographdeployments/vllm-disagg-planner?fieldValidation=Strict`, {
      method: 'PATCH', headers: { authorization: 'Bearer test-token', 'content-type': 'application/json-patch+json' }, body: JSON.stringify([{ op: 'add', path: '/spec/components/0/replicaz', value: 9 }]),
    });
    expect(strict.status).toBe(400);
  });

  it('writes the last-decision annotation with a merge patch of metadata only', async () => {
    const a = make();
    await a.init();
    await a.annotate('{"loop":"throughput"}');
    expect(kube.annotations()[DECISION_ANNOTATION]).toBe('{"loop":"throughput"}');
    expect(kube.writes()[0].body).toEqual({ metadata: { annotations: { [DECISION_ANNOTATION]: '{"loop":"throughput"}' } } });
  });
});

describe('version choice', () => {
  it('a cluster serving only v1alpha1 is read at v1alpha1; no nvidia.com group is a clear start-up error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sla-k8s-c-'));
    writeFileSync(join(dir, 'token'), 'test-token');
    writeFileSync(join(dir, 'namespace'), 'team-a');
    const kube = await new FakeKube('team-a', 'vllm-disagg-planner', load('vllm-disagg_planner.v1alpha1.yaml')).start();
    try {
      const conn = inClusterConnection({ SLA_PLANNER_K8S_API_URL: kube.url, SLA_PLANNER_K8S_TOKEN_FILE: join(dir, 'token'), SLA_PLANNER_K8S_NAMESPACE_FILE: join(dir, 'namespace') });
      const opts = { dgdName: 'vllm-disagg-planner', backend: 'vllm' as const, mode: 'disagg' as const, configModelName: null, configGpus: { prefill: null, decode: null } };
      const a = new KubernetesActuator({ client: new KubeClient(conn, { retries: 0 }), ...opts });
      await a.init();
      expect(a.apiVersion).toBe('v1alpha1');
      kube.faults.push({ pathIncludes: '/apis/nvidia.com', status: 404, times: 1 });
      const b = new KubernetesActuator({ client: new KubeClient(conn, { retries: 0 }), ...opts });
      await expect(b.init()).rejects.toThrow(/no nvidia\.com API group: the Dynamo operator/);
    } finally {
      await kube.stop();
    }
  });
});
