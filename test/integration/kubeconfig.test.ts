// Running outside the cluster with a kubeconfig, against the strict fake API server over TLS with a
// CA made by openssl for this test: token, client-certificate and exec-plugin credentials, and
// `run --dry-run --kubeconfig` as a process (shadow mode: reads the DGD and Prometheus, writes nothing).
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKubeconfig } from '../../src/actuate/kubeconfig.js';
import { KubeClient, KubernetesActuator } from '../../src/actuate/kubernetes.js';
import { EventRecorder } from '../../src/actuate/events.js';
import { InputError } from '../../src/util/errors.js';
import { FakeKube } from '../helpers/fakeKube.js';
import { fixtureDgd, PROFILE_DIR } from '../helpers/daemonHarness.js';
import { BUSY_TRAFFIC, FakePrometheus } from '../helpers/fakePrometheus.js';
import { freePort, waitFor } from '../helpers/procs.js';
import { nonSnakeKeys } from '../helpers/jsonKeys.js';

const CLI = 'dist/src/cli.js';

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

describe('kubeconfig credentials against the fake API server over TLS', () => {
  let dir: string;
  let kube: FakeKube;
  let prom: FakePrometheus;
  const pem = (f: string) => readFileSync(join(dir, f), 'utf8');
  const b64 = (f: string) => Buffer.from(pem(f)).toString('base64');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sla-kubeconfig-'));
    const p = (f: string) => join(dir, f);
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=test-ca', '-keyout', p('ca.key'), '-out', p('ca.crt')]);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', p('server.key'), '-out', p('server.csr')]);
    writeFileSync(p('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    openssl(['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', p('san.ext'), '-out', p('server.crt')]);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=alice', '-keyout', p('client.key'), '-out', p('client.csr')]);
    openssl(['x509', '-req', '-in', p('client.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '1', '-out', p('client.crt')]);
    kube = await new FakeKube('team-a', 'vllm-disagg-planner', fixtureDgd()).start({ key: pem('server.key'), cert: pem('server.crt'), clientCa: pem('ca.crt') });
    kube.certUsers.add('alice');
    kube.extraTokens.add('from-exec-plugin');
    // The exec plugin: prints an ExecCredential with a token, as kubelogin or aws eks get-token do.
    writeFileSync(p('plugin.mjs'), `
      const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);
      process.stdout.write(JSON.stringify({ apiVersion: info.apiVersion, kind: 'ExecCredential',
        status: { token: process.env.PLUGIN_TOKEN, expirationTimestamp: new Date(Date.now() + 3600e3).toISOString() } }));
    `);
    prom = await new FakePrometheus(BUSY_TRAFFIC, { model: 'qwen/qwen3-0.6b', dynamo_namespace: 'test-ns' }).start();
  });
  afterAll(async () => {
    await kube?.stop();
    await prom?.stop();
  });

  /** A kubeconfig with three users and a context for each; the CA is a file path relative to the kubeconfig. */
  function writeKubeconfig(name: string, current: string): string {
    const file = join(dir, name);
    writeFileSync(file, YAML.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': current,
      clusters: [{ name: 'fake', cluster: { server: kube.url, 'certificate-authority': 'ca.crt' } }],
      users: [
        // Written as a YAML block scalar (token: |), so it carries a trailing newline that is not part of the token.
        { name: 'token-user', user: { token: 'test-token\n' } },
        { name: 'cert-user', user: { 'client-certificate-data': b64('client.crt'), 'client-key': 'client.key' } },
        { name: 'exec-user', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: process.execPath, args: [join(dir, 'plugin.mjs')], env: [{ name: 'PLUGIN_TOKEN', value: 'from-exec-plugin' }], interactiveMode: 'Never' } } },
        { name: 'legacy-user', user: { 'auth-provider': { name: 'gcp' } } },
      ],
      contexts: [
        { name: 'with-token', context: { cluster: 'fake', user: 'token-user', namespace: 'team-a' } },
        { name: 'with-cert', context: { cluster: 'fake', user: 'cert-user', namespace: 'team-a' } },
        { name: 'with-exec', context: { cluster: 'fake', user: 'exec-user', namespace: 'team-a' } },
        { name: 'legacy', context: { cluster: 'fake', user: 'legacy-user' } },
      ],
    }));
    return file;
  }

  const actuatorFor = (context: string) => {
    const { connection } = loadKubeconfig({ path: writeKubeconfig(`kc-${context}`, 'with-token'), context, env: {} });
    return new KubernetesActuator({
      client: new KubeClient(connection, { retries: 0, timeoutMs: 3000 }),
      dgdName: 'vllm-disagg-planner', backend: 'vllm', mode: 'disagg', configModelName: null, configGpus: { prefill: null, decode: null },
    });
  };

  it('a bearer token, a client certificate and an exec plugin each read the DGD over verified TLS', async () => {
    for (const context of ['with-token', 'with-cert', 'with-exec']) {
      const info = await actuatorFor(context).init();
      expect(info.services).toEqual({ prefill: 'VllmPrefillWorker', decode: 'VllmDecodeWorker' });
    }
    const users = kube.log.filter((r) => r.path.endsWith('/vllm-disagg-planner')).map((r) => r.user);
    expect(users).toContain('alice');
  });

  it('writes through a kubeconfig are checked like in-cluster ones: a scale patch and an Event, within the shipped Role', async () => {
    const a = actuatorFor('with-exec');
    await a.init();
    expect(await a.apply({ decode: 2 }, { blocking: false })).toMatchObject({ status: 'applied', written: { decode: 2 } });
    const rec = new EventRecorder({ client: a.client, regarding: () => a.eventTarget(), reportingInstance: 'laptop' });
    rec.record({ type: 'Normal', reason: 'SuccessfulRescale', action: 'Scale', note: 'VllmDecodeWorker 1 -> 2: test' });
    await rec.flush();
    expect(kube.eventList().some((e) => e.note === 'VllmDecodeWorker 1 -> 2: test')).toBe(true);
    expect(kube.denied()).toEqual([]);
    kube.dgd.spec!.services!.VllmDecodeWorker.replicas = 1;
    kube.syncStatus(true);
  });

  it('bad kubeconfigs are one clear sentence naming the file and the fix', () => {
    const file = writeKubeconfig('kc-bad', 'nope');
    expect(() => loadKubeconfig({ path: file, env: {} })).toThrow(/context 'nope' not found \(contexts: with-token, with-cert, with-exec, legacy\)/);
    expect(() => loadKubeconfig({ path: file, context: 'legacy', env: {} })).toThrow(/auth-provider 'gcp'.*exec credential plugin/);
    expect(() => loadKubeconfig({ path: join(dir, 'missing'), env: {} })).toThrow(InputError);
    // KUBECONFIG lists are merged first-wins, and missing entries are skipped, as kubectl does.
    const merged = loadKubeconfig({ env: { KUBECONFIG: `${join(dir, 'missing')}:${file}` }, context: 'with-token' });
    expect(merged.connection.namespace).toBe('team-a');
    expect(merged.files).toEqual([file]);
  });

  it('run outside a cluster without any kubeconfig: exit 2 with one sentence saying what to pass', async () => {
    const child = spawn(process.execPath, [CLI, 'run', '--config', '{"environment": "kubernetes", "enable_throughput_scaling": false, "enable_load_scaling": true, "load_router_metrics_url": "http://127.0.0.1:1/metrics"}', '--dgd', 'x'], {
      env: { PATH: process.env.PATH ?? '', HOME: join(dir, 'empty-home') }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(2);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toMatch(/not in a cluster .* and no kubeconfig .*empty-home\/\.kube\/config missing\); pass --kubeconfig <file>/);
  }, 90_000);

  it('run --dry-run --kubeconfig: shadow mode from outside the cluster reads, decides, exports and writes nothing', async () => {
    const kc = writeKubeconfig('kc-shadow', 'with-exec');
    const cfg = join(dir, 'planner.json');
    writeFileSync(cfg, JSON.stringify({
      environment: 'kubernetes', namespace: 'test-ns', metric_pulling_prometheus_endpoint: prom.url, profile_results_dir: PROFILE_DIR,
      throughput_adjustment_interval: 1, load_predictor: 'constant', ttft: 300, itl: 25, max_gpu_budget: 16,
    }));
    const port = await freePort();
    const logBefore = kube.log.length;
    const child = spawn(process.execPath, [CLI, 'run', '--config', cfg, '--dry-run', '--kubeconfig', kc, '--dgd', 'vllm-disagg-planner', '--metrics-port', String(port)], {
      env: { PATH: process.env.PATH ?? '', HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const decisions = () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.event === 'decision' && e.decided);
      await waitFor(async () => decisions().length >= 1, 90_000, `a dry-run decision (stderr: ${err})`);
      expect(decisions()[0].actuation).toEqual({ status: 'dry_run' });
      const status = await (await fetch(`http://127.0.0.1:${port}/status`)).json();
      expect(status).toMatchObject({
        dry_run: true, strategy: 'upstream',
        deployment: { kind: 'DynamoGraphDeployment', name: 'vllm-disagg-planner', namespace: 'team-a', api_version: 'nvidia.com/v1alpha1' },
        pools: { prefill: { service: 'VllmPrefillWorker', current_replicas: 1, target_replicas: 4 }, decode: { service: 'VllmDecodeWorker', current_replicas: 1 } },
        last_decision: { throughput: { action: 'dry_run', reason: 'scale' } },
      });
      expect(nonSnakeKeys(status)).toEqual([]);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/^planner:predicted_num_p 4$/m);
      expect(metrics).toMatch(/^dynamo_planner_predicted_num_prefill_replicas 4$/m);
      // Nothing but reads reached the cluster, authenticated by the exec plugin's token.
      const mine = kube.log.slice(logBefore);
      expect(mine.length).toBeGreaterThan(1);
      expect(mine.every((r) => r.method === 'GET' && r.status === 200)).toBe(true);
      expect(kube.replicas('VllmPrefillWorker')).toBe(1);
    } finally {
      child.kill('SIGTERM');
      await exit;
    }
  }, 120_000);
});
