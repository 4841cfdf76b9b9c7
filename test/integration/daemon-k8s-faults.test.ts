// The daemon against a Kubernetes API that misbehaves, reached over https with the service
// account's CA: a hung API server, a token that stops working mid-run, a write that half
// succeeds (prefill patched, decode refused), and a 2xx answer that is not JSON. Every one is a
// named, counted hold logged once, bounded in time, and the daemon recovers without a restart.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient, inClusterConnection } from '../../src/actuate/kubernetes.js';
import { FakePrometheus, BUSY_TRAFFIC } from '../helpers/fakePrometheus.js';
import type { FakeKube } from '../helpers/fakeKube.js';
import { buildDaemon, metricValue, startFakeKube, type Harness } from '../helpers/daemonHarness.js';
import { waitFor } from '../helpers/procs.js';
import { closeServer } from '../helpers/localServer.js';

type Mode = 'pass' | 'hang' | 'html200';

/** An https front for the fake API server, with a certificate from a CA made for this test. */
class TlsFront {
  private server: Server | undefined;
  mode: Mode = 'pass';
  constructor(private readonly target: string, private readonly key: Buffer, private readonly cert: string) {}
  async start(): Promise<this> {
    this.server = createTlsServer({ key: this.key, cert: this.cert }, (req: IncomingMessage, res: ServerResponse) => {
      if (this.mode === 'hang') return; // accepts, never answers
      if (this.mode === 'html200' && req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Please log in</body></html>');
        return;
      }
      const up = request(this.target + req.url, { method: req.method, headers: req.headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    return this;
  }
  get url(): string {
    return `https://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
  }
  async stop(): Promise<void> {
    await closeServer(this.server);
  }
}

describe('daemon against a misbehaving Kubernetes API over https', () => {
  let kube: FakeKube;
  let front: TlsFront;
  let prom: FakePrometheus;
  let h: Harness;
  let env: Record<string, string>;
  let dir: string;
  const faultLines = (key: string) => h.lines.filter((l) => l.event === 'fault' && l.fault === key);
  const recovered = (key: string) => h.lines.filter((l) => l.event === 'recovered' && l.fault === key);
  const metrics = () => h.daemon.metrics.registry.metrics();
  const since = (n: number) => h.daemon.history.slice(n);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sla-k8s-tls-'));
    // A CA and a server certificate it signs, as a cluster's service-account CA does.
    const o = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore', cwd: dir });
    o(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=test-cluster-ca', '-keyout', 'ca.key', '-out', 'ca.crt']);
    o(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=kubernetes', '-keyout', 'api.key', '-out', 'api.csr']);
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    o(['x509', '-req', '-in', 'api.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'san.ext', '-out', 'api.crt']);

    const k = await startFakeKube();
    kube = k.kube;
    kube.adapters = new Set(['VllmPrefillWorker', 'VllmDecodeWorker']);
    front = await new TlsFront(kube.url, readFileSync(join(dir, 'api.key')), readFileSync(join(dir, 'api.crt'), 'utf8')).start();
    env = { ...k.env, SLA_PLANNER_K8S_API_URL: front.url, SLA_PLANNER_K8S_CA_FILE: join(dir, 'ca.crt') };
    prom = await new FakePrometheus(BUSY_TRAFFIC, { model: 'qwen/qwen3-0.6b', dynamo_namespace: 'test-ns' }).start();
    h = await buildDaemon({
      config: { throughput_adjustment_interval: 1, load_predictor: 'constant', ttft: 300, itl: 25, max_gpu_budget: 32 },
      env, promUrl: prom.url, kubeBackoffMs: 20, kubeTimeoutMs: 800,
    });
    await h.daemon.start();
    await waitFor(async () => kube.writes().length > 0, 15_000, 'a first write over https');
  }, 60_000);

  afterAll(async () => {
    await h?.daemon.stop(1000);
    await front?.stop();
    await kube?.stop();
    await prom?.stop();
  });

  it('https with the service-account CA: verified, and decisions reach the DGD', async () => {
    expect(kube.writes().every((w) => w.path.includes('/scale'))).toBe(true);
    // Without the CA the same server is refused as a TLS fault, never trusted.
    const noCa = new KubeClient(inClusterConnection({ ...env, SLA_PLANNER_K8S_CA_FILE: join(dir, 'missing.crt') }), { retries: 0, timeoutMs: 2000 });
    await expect(noCa.call('get', '/apis/nvidia.com/v1alpha1/namespaces/team-a/dynamographdeployments/vllm-disagg-planner', 'dgd')).rejects.toMatchObject({ kind: 'k8s_tls' });
  });

  it('a hung API server: each tick holds within the request deadline, logged once, then recovers', async () => {
    const writes = kube.writes().length;
    const slowTicks = async () => {
      const text = await metrics();
      const all = metricValue(text, 'sla_planner_decision_duration_seconds_count', { loop: 'throughput' }) ?? 0;
      return all - (metricValue(text, 'sla_planner_decision_duration_seconds_bucket', { loop: 'throughput', le: '2' }) ?? 0);
    };
    const slowBefore = await slowTicks();
    front.mode = 'hang';
    const n0 = h.daemon.history.length;
    await new Promise((r) => setTimeout(r, 4000));
    const during = since(n0);
    expect(during.length).toBeGreaterThanOrEqual(2);
    // A tick that read the DGD just before the hang fails at its write instead: same kind.
    const kindOf = (r: Record<string, unknown>) => r.error_kind ?? (r.actuation as { errorKind?: string } | undefined)?.errorKind;
    // (A tick already past its API calls when the hang began may still finish normally.)
    const first = during.findIndex((r) => kindOf(r) === 'k8s_timeout');
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThanOrEqual(1);
    expect(during.slice(first).map(kindOf)).toEqual(during.slice(first).map(() => 'k8s_timeout'));
    expect(during.filter((r) => r.decided === false).length).toBeGreaterThanOrEqual(1);
    expect(faultLines('source:k8s_timeout')).toHaveLength(1);
    // Each tick ends at the 800 ms request deadline (timeouts are not retried), not after ~43 s:
    // no throughput tick took over 2 s.
    expect(await slowTicks()).toBe(slowBefore);
    const text = await metrics();
    expect(metricValue(text, 'sla_planner_data_source_errors_total', { kind: 'k8s_timeout' })).toBeGreaterThanOrEqual(2);
    expect(kube.writes().length).toBe(writes);
    front.mode = 'pass';
    await waitFor(async () => recovered('source:k8s_timeout').length === 1, 10_000, 'recovery from the hang');
  }, 30_000);

  it('a 2xx answer that is not JSON: a k8s_bad_response hold, not a server error', async () => {
    front.mode = 'html200';
    const n0 = h.daemon.history.length;
    await waitFor(async () => since(n0).filter((r) => r.error_kind === 'k8s_bad_response').length >= 2, 10_000, 'bad-response holds');
    expect(faultLines('source:k8s_bad_response')).toHaveLength(1);
    expect(faultLines('source:k8s_bad_response')[0].error).toMatch(/not with JSON \(text\/html, starts "<html><body>Please log in/);
    front.mode = 'pass';
    await waitFor(async () => recovered('source:k8s_bad_response').length === 1, 10_000, 'recovery');
  }, 30_000);

  it('the token stops working mid-run (401): holds as k8s_unauthorized, recovers when the rotated token is valid again', async () => {
    const tokenFile = env.SLA_PLANNER_K8S_TOKEN_FILE;
    const good = readFileSync(tokenFile, 'utf8');
    writeFileSync(tokenFile, 'revoked-token');
    const n0 = h.daemon.history.length;
    await waitFor(async () => since(n0).filter((r) => r.error_kind === 'k8s_unauthorized').length >= 2, 10_000, '401 holds');
    expect(faultLines('source:k8s_unauthorized')).toHaveLength(1);
    expect(faultLines('source:k8s_unauthorized')[0].error).toMatch(/rejected the service-account token \(401\)/);
    writeFileSync(tokenFile, good);
    await waitFor(async () => recovered('source:k8s_unauthorized').length === 1, 10_000, 'recovery with the rotated token');
  }, 30_000);

  it('a half-applied write (prefill patched, decode refused) says so, and the next tick writes only decode', async () => {
    // Move the deployment away from the planner's target so the next decision writes both pools.
    kube.dgd.spec!.services!.VllmPrefillWorker.replicas = 9;
    kube.dgd.spec!.services!.VllmDecodeWorker.replicas = 9;
    kube.syncStatus(true);
    kube.faults.push({ method: 'PATCH', pathIncludes: 'vllmdecodeworker', status: 500, times: 2 });
    const logBefore = kube.log.length;
    await waitFor(async () => faultLines('source:k8s_server_error').some((l) => l.partially_written !== undefined), 10_000, 'a partial write');
    const partial = faultLines('source:k8s_server_error').find((l) => l.partially_written !== undefined)!;
    const prefillTarget = (partial.partially_written as { prefill: number }).prefill;
    expect(kube.replicas('VllmPrefillWorker')).toBe(prefillTarget);
    await waitFor(async () => kube.replicas('VllmDecodeWorker') !== 9, 10_000, 'decode written on a later tick');
    const patches = kube.log.slice(logBefore).filter((r) => r.method === 'PATCH' && r.status === 200);
    // Prefill was written once (the later tick saw it already at target); decode once it was accepted.
    expect(patches.filter((r) => r.path.includes('vllmprefillworker'))).toHaveLength(1);
    expect(patches.filter((r) => r.path.includes('vllmdecodeworker'))).toHaveLength(1);
    expect(h.daemon.history.some((r) => (r.actuation as { status?: string; written?: unknown } | undefined)?.status === 'failed'
      && (r.actuation as { written?: unknown }).written !== undefined)).toBe(true);
  }, 30_000);
});
