import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Dgd, DgdError, findPoolService, frontendMetricsUrl, gpusPerReplica, isReady, modelNameOf, shellSplit,
} from '../../src/actuate/dgd.js';
import { KubeClient, KubernetesActuator, inClusterConnection } from '../../src/actuate/kubernetes.js';
import { RuntimeFailure } from '../../src/util/errors.js';
import { FakeKube, shippedRulesFor } from '../helpers/fakeKube.js';

const DGD_DIR = 'test/fixtures/dynamo/dgd/';
function loadDgd(file: string): Dgd {
  const docs = YAML.parseAllDocuments(readFileSync(DGD_DIR + file, 'utf8')).map((d) => d.toJS());
  return docs.find((d) => d?.kind === 'DynamoGraphDeployment') as Dgd;
}

describe('reading a DGD', () => {
  it('finds pools by subComponentType in the vllm, sglang and trtllm examples', () => {
    expect(findPoolService(loadDgd('vllm-disagg_planner.v1alpha1.yaml'), 'prefill', 'vllm')).toBe('VllmPrefillWorker');
    expect(findPoolService(loadDgd('sglang-disagg_planner.v1alpha1.yaml'), 'decode', 'sglang')).toBe('decode');
    expect(findPoolService(loadDgd('trtllm-disagg_planner.v1alpha1.yaml'), 'prefill', 'trtllm')).toBe('TRTLLMPrefillWorker');
  });

  it('falls back to the legacy name only when that service has no subComponentType', () => {
    const dgd: Dgd = { spec: { services: { VllmDecodeWorker: { replicas: 1 }, Other: { subComponentType: 'prefill' } } } };
    expect(findPoolService(dgd, 'decode', 'vllm')).toBe('VllmDecodeWorker');
    const tagged: Dgd = { spec: { services: { VllmDecodeWorker: { subComponentType: 'prefill' } } } };
    expect(() => findPoolService(tagged, 'decode', 'vllm')).toThrow(/no decode service.*subComponentType: decode/);
    const dup: Dgd = { spec: { services: { A: { subComponentType: 'decode' }, B: { subComponentType: 'decode' } } } };
    expect(() => findPoolService(dup, 'decode', 'vllm')).toThrow(DgdError);
  });

  it('reads GPUs per replica, model name and frontend URL', () => {
    const trt = loadDgd('trtllm-disagg_planner.v1alpha1.yaml');
    expect(gpusPerReplica(trt.spec!.services!.TRTLLMDecodeWorker)).toBe(1);
    expect(gpusPerReplica({ resources: { requests: { gpu: '4' } } })).toBe(4);
    expect(gpusPerReplica({})).toBeNull();
    // Python's `limits.gpu or requests.gpu`: an empty or "0" limit falls through to the request.
    expect(gpusPerReplica({ resources: { limits: { gpu: '' }, requests: { gpu: '2' } } })).toBe(2);
    expect(gpusPerReplica({ resources: { limits: { gpu: '0' }, requests: { gpu: '2' } } })).toBe(2);
    expect(gpusPerReplica({ resources: { limits: { gpu: '0' } } })).toBe(0);
    expect(modelNameOf(trt.spec!.services!.TRTLLMDecodeWorker)).toBe('qwen/qwen3-0.6b');
    expect(modelNameOf({ extraPodSpec: { mainContainer: { args: ['python3 -m dynamo.vllm --model "My Org/M" --served-model-name=Served'] } } })).toBe('served');
    expect(frontendMetricsUrl(trt, 'trt-dgd')).toBe('http://trt-dgd-frontend:8000/metrics');
    expect(shellSplit(`a 'b c' "d \\"e\\"" f\\ g`)).toEqual(['a', 'b c', 'd "e"', 'f g']);
  });

  it('gates on the Ready condition only', () => {
    expect(isReady({ status: { conditions: [{ type: 'Ready', status: 'True' }] } })).toBe(true);
    expect(isReady({ status: { conditions: [{ type: 'Ready', status: 'False' }] } })).toBe(false);
    expect(isReady({})).toBe(false);
  });
});

describe('KubernetesActuator against a strict fake API server', () => {
  let kube: FakeKube;
  let dir: string;
  const make = (token = 'test-token', opts: { retries?: number } = {}) => {
    writeFileSync(join(dir, 'token'), token + '\n');
    const conn = inClusterConnection({ SLA_PLANNER_K8S_API_URL: kube.url, SLA_PLANNER_K8S_TOKEN_FILE: join(dir, 'token'), SLA_PLANNER_K8S_NAMESPACE_FILE: join(dir, 'namespace') });
    return new KubernetesActuator({
      client: new KubeClient(conn, { retries: opts.retries ?? 2, backoffMs: 20, timeoutMs: 2000 }),
      dgdName: 'vllm-disagg-planner', backend: 'vllm', mode: 'disagg', configModelName: null, configGpus: { prefill: null, decode: null },
      readyPollMs: 50, readyMaxPolls: 40,
    });
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sla-k8s-'));
    writeFileSync(join(dir, 'namespace'), 'team-a');
    const dgd = loadDgd('vllm-disagg_planner.v1alpha1.yaml');
    dgd.spec!.services!.VllmDecodeWorker.resources = { limits: { gpu: '2' } };
    kube = await new FakeKube('team-a', 'vllm-disagg-planner', dgd).start();
  });
  afterEach(() => kube.stop());

  it('init reads pools, GPUs per replica, model and router URL from the DGD', async () => {
    const info = await make().init();
    expect(info).toEqual({
      prefillGpus: 1, decodeGpus: 2, modelName: 'qwen/qwen3-0.6b',
      routerMetricsUrl: 'http://vllm-disagg-planner-frontend:8000/metrics',
      services: { prefill: 'VllmPrefillWorker', decode: 'VllmDecodeWorker' },
    });
  });

  it('scales through the DGDSA scale subresource when it exists', async () => {
    kube.adapters.add('VllmDecodeWorker');
    kube.adapters.add('VllmPrefillWorker');
    const a = make();
    await a.init();
    const out = await a.apply({ prefill: 2, decode: 3 }, { blocking: false });
    expect(out).toEqual({ status: 'applied', written: { prefill: 2, decode: 3 }, previous: { prefill: 1, decode: 1 } });
    const writes = kube.writes();
    expect(writes.map((w) => w.path)).toEqual([
      '/apis/nvidia.com/v1alpha1/namespaces/team-a/dynamographdeploymentscalingadapters/vllm-disagg-planner-vllmprefillworker/scale',
      '/apis/nvidia.com/v1alpha1/namespaces/team-a/dynamographdeploymentscalingadapters/vllm-disagg-planner-vllmdecodeworker/scale',
    ]);
    expect(writes[0].body).toEqual({ spec: { replicas: 2 } });
    expect(writes.every((w) => w.contentType === 'application/merge-patch+json')).toBe(true);
    expect(kube.replicas('VllmDecodeWorker')).toBe(3);
  });

  it('falls back to a merge patch of the DGD on 404, and never patches unchanged counts', async () => {
    const a = make();
    await a.init();
    const out = await a.apply({ prefill: 1, decode: 4 }, { blocking: false });
    expect(out.status).toBe('applied');
    const dgdWrites = kube.writes();
    expect(dgdWrites).toHaveLength(1);
    expect(dgdWrites[0].body).toEqual({ metadata: { resourceVersion: '100' }, spec: { services: { VllmDecodeWorker: { replicas: 4 } } } });
    expect(kube.replicas('VllmDecodeWorker')).toBe(4);
    expect(kube.replicas('VllmPrefillWorker')).toBe(1);
    const before = kube.log.filter((r) => r.method === 'PATCH').length;
    expect(await a.apply({ prefill: 1, decode: 4 }, { blocking: false })).toEqual({ status: 'unchanged' });
    expect(kube.log.filter((r) => r.method === 'PATCH').length).toBe(before);
  });

  it('merge-patches both pools in one apply without tripping over its own resourceVersion', async () => {
    const a = make();
    await a.init();
    const out = await a.apply({ prefill: 3, decode: 5 }, { blocking: false });
    expect(out).toEqual({ status: 'applied', written: { prefill: 3, decode: 5 }, previous: { prefill: 1, decode: 1 } });
    // Two DGD writes, the second conditional on the version the first one produced; no 409 round.
    const dgdPatches = kube.log.filter((r) => r.method === 'PATCH' && r.path.endsWith('/dynamographdeployments/vllm-disagg-planner'));
    expect(dgdPatches.map((r) => r.status)).toEqual([200, 200]);
    const rvs = dgdPatches.map((r) => (r.body as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion);
    expect(rvs[0]).not.toEqual(rvs[1]);
    expect(kube.replicas('VllmPrefillWorker')).toBe(3);
    expect(kube.replicas('VllmDecodeWorker')).toBe(5);
  });

  it('drops the decision while the DGD is not Ready, as the original', async () => {
    const a = make();
    await a.init();
    kube.setReady(false);
    expect((await a.apply({ decode: 5 }, { blocking: false })).status).toBe('not_ready');
    expect(kube.log.some((r) => r.method === 'PATCH')).toBe(false);
  });

  it('during_rollout write patches a DGD that is still rolling out (the newest target replaces the one in flight)', async () => {
    const a = make();
    await a.init();
    kube.setReady(false);
    expect(await a.apply({ decode: 5 }, { blocking: false, duringRollout: 'write' })).toEqual({ status: 'applied', written: { decode: 5 }, previous: { decode: 1 } });
    expect(kube.replicas('VllmDecodeWorker')).toBe(5);
  });

  it('retries a resourceVersion conflict with a fresh read', async () => {
    const a = make();
    await a.init();
    // Someone else writes between our GET and our PATCH, once.
    kube.faults.push({ method: 'PATCH', pathIncludes: 'dynamographdeployments/', status: 409, times: 1 });
    const gets = () => kube.log.filter((r) => r.method === 'GET').length;
    const g0 = gets();
    expect(await a.apply({ decode: 2 }, { blocking: false })).toMatchObject({ status: 'applied' });
    expect(gets() - g0).toBe(2);
    expect(kube.replicas('VllmDecodeWorker')).toBe(2);
  });

  it('the fake server itself refuses a stale resourceVersion and a wrong content type', async () => {
    const a = make();
    await a.init();
    kube.touch();
    const res = await fetch(`${kube.url}/apis/nvidia.com/v1alpha1/namespaces/team-a/dynamographdeployments/vllm-disagg-planner`, {
      method: 'PATCH', headers: { authorization: 'Bearer test-token', 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ metadata: { resourceVersion: '100' }, spec: { services: { VllmDecodeWorker: { replicas: 9 } } } }),
    });
    expect(res.status).toBe(409);
    const res2 = await fetch(`${kube.url}/apis/nvidia.com/v1alpha1/namespaces/team-a/dynamographdeployments/vllm-disagg-planner`, {
      method: 'PATCH', headers: { authorization: 'Bearer test-token', 'content-type': 'application/strategic-merge-patch+json' }, body: '{}',
    });
    expect(res2.status).toBe(415);
  });

  it('403 on the scale subresource is not a fallback: it fails naming the RBAC verb', async () => {
    kube.adapters.add('VllmDecodeWorker');
    const a = make();
    await a.init();
    kube.faults.push({ method: 'PATCH', pathIncludes: '/scale', status: 403, times: 1 });
    const out = await a.apply({ decode: 2 }, { blocking: false });
    expect(out.status).toBe('failed');
    expect(out.errorKind).toBe('k8s_forbidden');
    expect(out.message).toMatch(/may not 'patch' dynamographdeploymentscalingadapters\/scale in namespace team-a/);
    expect(kube.writes()).toHaveLength(0);
  });

  it('a wrong token is a 401 with a clear message', async () => {
    const a = make('wrong');
    const err = await a.init().catch((e) => e);
    expect(err).toBeInstanceOf(RuntimeFailure);
    expect(err.message).toMatch(/rejected the service-account token \(401\)/);
  });

  it('a missing DGD is a clear error naming DYN_PARENT_DGD_K8S_NAME', async () => {
    const a = new KubernetesActuator({
      client: new KubeClient(inClusterConnection({ SLA_PLANNER_K8S_API_URL: kube.url, SLA_PLANNER_K8S_TOKEN_FILE: join(dir, 'token'), SLA_PLANNER_K8S_NAMESPACE_FILE: join(dir, 'namespace') })),
      dgdName: 'nope', backend: 'vllm', mode: 'disagg', configModelName: null, configGpus: { prefill: null, decode: null },
    });
    writeFileSync(join(dir, 'token'), 'test-token');
    // The planner's Role is written for the DGD it was told to scale, which does not exist.
    kube.rules = shippedRulesFor('nope');
    await expect(a.init()).rejects.toThrow(/team-a\/nope not found; check DYN_PARENT_DGD_K8S_NAME/);
  });

  it('backs off and retries 5xx; a longer outage fails the call and a later call succeeds', async () => {
    const a = make('test-token', { retries: 2 });
    await a.init();
    kube.faults.push({ status: 500, times: 2 });
    expect((await a.apply({ decode: 2 }, { blocking: false })).status).toBe('applied');
    kube.outageStatus = 503;
    const t0 = Date.now();
    const out = await a.apply({ decode: 3 }, { blocking: false });
    expect(out).toMatchObject({ status: 'failed', errorKind: 'k8s_server_error' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(20 + 40); // two back-off sleeps
    kube.outageStatus = null;
    expect((await a.apply({ decode: 3 }, { blocking: false })).status).toBe('applied');
  });

  it('retries a 429 (API priority and fairness) like a 5xx', async () => {
    const a = make('test-token', { retries: 2 });
    await a.init();
    kube.faults.push({ status: 429, times: 1 });
    expect((await a.apply({ decode: 2 }, { blocking: false })).status).toBe('applied');
    expect(kube.replicas('VllmDecodeWorker')).toBe(2);
  });

  it('reports ready workers from status and waits for Ready after a blocking scale', async () => {
    const a = make();
    await a.init();
    kube.autoRollout = false;
    await a.apply({ decode: 3 }, { blocking: true });
    kube.setReady(false);
    expect(await a.view()).toEqual({ prefill: 1, decode: 1, ready: false });
    setTimeout(() => kube.syncStatus(true), 200);
    expect(await a.waitReady()).toBe(true);
    expect(await a.view()).toEqual({ prefill: 1, decode: 3, ready: true });
  });

  it('a service without GPUs and no config value fails start-up with the fix', async () => {
    delete kube.dgd.spec!.services!.VllmPrefillWorker.resources;
    await expect(make().init()).rejects.toThrow(/declares no GPUs .* prefill_engine_num_gpu is null/);
  });
});
