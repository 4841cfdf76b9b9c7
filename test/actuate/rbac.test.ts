// The shipped Role (config/deploy/rbac.yaml) and the one `sla-planner profile` writes grant exactly
// what the Kubernetes actuator does against the DGD they name: every request it makes is allowed,
// and nothing is granted on any other object.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dgd } from '../../src/actuate/dgd.js';
import { KubeClient, KubernetesActuator, inClusterConnection } from '../../src/actuate/kubernetes.js';
import { plannerRbac } from '../../src/profiler/assemble.js';
import { FakeKube } from '../helpers/fakeKube.js';

interface Rule { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] }

const docs = (file: string) => YAML.parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
const shipped = docs('config/deploy/rbac.yaml');
const dgd = docs('config/deploy/dgd.yaml').find((d) => d.kind === 'DynamoGraphDeployment') as Dgd;
const role = shipped.find((d) => d.kind === 'Role') as { rules: Rule[]; metadata: { name: string } };

/** The RBAC verb, resource and name of one API request, as the API server authorises it. */
function authz(method: string, path: string): { verb: string; resource: string; name: string } {
  const m = /^\/apis\/nvidia\.com\/[^/]+\/namespaces\/[^/]+\/([^/]+)\/([^/]+)(\/scale)?$/.exec(path);
  if (!m) throw new Error(`unexpected request path ${path}`);
  return { verb: method === 'GET' ? 'get' : 'patch', resource: m[1] + (m[3] ?? ''), name: m[2] };
}

const allowed = (rules: Rule[], r: { verb: string; resource: string; name: string }) =>
  rules.some((rule) => rule.apiGroups.includes('nvidia.com') && rule.resources.includes(r.resource) && rule.verbs.includes(r.verb) && rule.resourceNames?.includes(r.name));

describe('planner RBAC is limited to its own DGD', () => {
  let kube: FakeKube;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sla-rbac-'));
    writeFileSync(join(dir, 'token'), 'test-token');
    writeFileSync(join(dir, 'namespace'), 'team-a');
    kube = await new FakeKube('team-a', dgd.metadata!.name!, dgd).start();
  });
  afterAll(() => kube.stop());

  it('every rule of the shipped Role names its objects (no namespace-wide grant), but Events, whose names are generated', () => {
    expect(role.rules.length).toBe(3);
    for (const rule of role.rules) {
      if (rule.apiGroups.includes('events.k8s.io')) expect(rule).toEqual({ apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] });
      else expect(rule.resourceNames?.length).toBeGreaterThan(0);
    }
  });

  it('the shipped Role is what the profiler writes for the shipped DGD', () => {
    const workers = Object.entries(dgd.spec!.services!).filter(([, s]) => s.componentType === 'worker').map(([k]) => k);
    const generated = plannerRbac(dgd.metadata!.name!, workers);
    const genRole = generated.find((d) => d.kind === 'Role') as { rules: Rule[] };
    const sorted = (rules: Rule[]) => rules.map((r) => ({ ...r, resourceNames: [...(r.resourceNames ?? [])].sort() }));
    expect(sorted(role.rules)).toEqual(sorted(genRole.rules));
    expect(shipped.map((d) => d.kind)).toEqual(generated.map((d) => d.kind));
  });

  it('allows every request the actuator makes: reads, adapter scale patches and the DGD merge patch', async () => {
    const actuator = new KubernetesActuator({
      client: new KubeClient(inClusterConnection({ SLA_PLANNER_K8S_API_URL: kube.url, SLA_PLANNER_K8S_TOKEN_FILE: join(dir, 'token'), SLA_PLANNER_K8S_NAMESPACE_FILE: join(dir, 'namespace') }), { retries: 0, timeoutMs: 2000 }),
      dgdName: dgd.metadata!.name!, backend: 'vllm', mode: 'disagg', configModelName: null, configGpus: { prefill: null, decode: null },
    });
    await actuator.init();
    await actuator.view();
    kube.adapters = new Set(['VllmPrefillWorker', 'VllmDecodeWorker']);
    expect((await actuator.apply({ prefill: 3, decode: 2 }, { blocking: false })).status).toBe('applied');
    kube.adapters = new Set();
    expect((await actuator.apply({ prefill: 1, decode: 1 }, { blocking: false })).status).toBe('applied');
    // Discovery (GET /apis/nvidia.com) is a non-resource URL every authenticated user may read (system:discovery).
    const requests = kube.log.filter((r) => r.path !== '/apis/nvidia.com').map((r) => authz(r.method, r.path));
    expect(new Set(requests.map((r) => `${r.verb} ${r.resource}`))).toEqual(new Set([
      'get dynamographdeployments', 'patch dynamographdeploymentscalingadapters/scale', 'patch dynamographdeployments',
    ]));
    for (const r of requests) expect(allowed(role.rules, r), JSON.stringify(r)).toBe(true);
    // The same request against another DGD or adapter is refused by the Role.
    expect(allowed(role.rules, { verb: 'get', resource: 'dynamographdeployments', name: 'someone-else' })).toBe(false);
    expect(allowed(role.rules, { verb: 'patch', resource: 'dynamographdeploymentscalingadapters/scale', name: 'someone-else-vllmdecodeworker' })).toBe(false);
  });
});
