// Fuzz: what the daemon's outside world answers. One hostile server plays Prometheus, the router's
// /metrics, the etcd gateway, the Kubernetes API and the global planner, answering each request
// with a generated status, media type, body (valid-looking with wild values, JSON of any shape,
// HTML, bytes, over the size cap) and behaviour (hang, trickle, cut mid-body, slow). Every call
// ends by its deadline with either sane values or a typed fault of its surface; nothing throws
// anything else.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TrafficObserver, type TrafficErrorKind } from '../../src/observe/prometheus.js';
import { RouterFetchError, fetchRouterSnapshot } from '../../src/observe/router.js';
import { EtcdError, EtcdJson, VirtualActuator } from '../../src/actuate/virtual.js';
import { KubeApiError, KubeClient, KubernetesActuator } from '../../src/actuate/kubernetes.js';
import { GlobalPlannerActuator } from '../../src/actuate/global.js';
import type { ApplyOutcome } from '../../src/actuate/types.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEED, limitMs, runs, tally } from './tally.js';
import { closeServer } from '../helpers/localServer.js';

// Scaled with FUZZ_RUNS: the default budget fits vitest's 60 s.
vi.setConfig({ testTimeout: limitMs(), hookTimeout: limitMs() });

const DEADLINE_MS = 150;
const MAX_BYTES = 64 * 1024;

type Behaviour = 'normal' | 'hang' | 'trickle' | 'cut' | 'slow';
type BodySpec =
  | { kind: 'valid'; values: unknown[] }
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'huge' }
  | { kind: 'deep'; depth: number };
interface Spec { status: number; contentType: string | null; body: BodySpec; behaviour: Behaviour }

const WILD_NUMBERS = ['NaN', '+Inf', '-Inf', '1e308', '-1000', '-0', '0', 'abc', '', '3.5', '1e-320', '12345678901234567890'];
const wildValue = fc.oneof(fc.constantFrom<unknown>(...WILD_NUMBERS, null, true, -1, 0, 1.5, 2 ** 53, 1e300, -7, '7', [], {}), fc.double(), fc.integer(), fc.string({ maxLength: 12 }));

const spec: fc.Arbitrary<Spec> = fc.record({
  status: fc.oneof({ weight: 6, arbitrary: fc.constant(200) }, { weight: 3, arbitrary: fc.constantFrom(201, 204, 301, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503) }),
  contentType: fc.constantFrom('application/json', 'text/plain; version=0.0.4', 'text/html', 'application/octet-stream', null),
  body: fc.oneof(
    { weight: 5, arbitrary: fc.array(wildValue, { minLength: 1, maxLength: 8 }).map((values) => ({ kind: 'valid' as const, values })) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => ({ kind: 'json' as const, value })) },
    { weight: 1, arbitrary: fc.constantFrom('<html><body>Sign in</body></html>', '', 'null', '{"status":"success"', 'OK', '\u0000\u0001').map((text) => ({ kind: 'text' as const, text })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }).map((bytes) => ({ kind: 'bytes' as const, bytes })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'huge' as const }) },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 100_000 }).map((depth) => ({ kind: 'deep' as const, depth })) },
  ),
  behaviour: fc.oneof({ weight: 12, arbitrary: fc.constant('normal' as const) }, { weight: 1, arbitrary: fc.constantFrom<Behaviour>('hang', 'trickle', 'cut', 'slow') }),
});

type Surface = 'prometheus' | 'router' | 'etcd' | 'kubernetes' | 'global';

/** A body that looks like the surface's real answer, carrying the generated wild values. */
function validBody(surface: Surface, values: unknown[], path: string): string {
  const v = (i: number) => values[i % values.length];
  switch (surface) {
    case 'prometheus':
      return JSON.stringify({ status: 'success', data: { resultType: 'vector', result: values.map((x, i) => ({ metric: { model: i % 2 ? 'm' : v(i), dynamo_namespace: 'ns', __proto__: v(i + 1) }, value: [1700000000, x] })) } });
    case 'router':
      return values.map((x, i) => `dynamo_frontend_worker_${['active_prefill_tokens', 'active_decode_blocks', 'last_time_to_first_token_seconds', 'last_input_sequence_tokens', 'last_inter_token_latency_seconds'][i % 5]}{worker_id="${i % 3 === 0 ? '__proto__' : `w${i}`}",worker_type="${i % 2 ? 'decode' : 'prefill'}"} ${String(x)}`).join('\n') + '\n';
    case 'etcd':
      if (path.endsWith('/txn')) return JSON.stringify({ header: { revision: v(0) }, succeeded: v(1) });
      return JSON.stringify({ kvs: values.map((x, i) => ({ key: Buffer.from(`v1/ns/planner/${['num_prefill_workers', 'num_decode_workers', 'decision_id', 'scaled_decision_id'][i % 4]}`).toString('base64'), value: Buffer.from(String(x)).toString('base64'), mod_revision: v(i + 1) })) });
    case 'kubernetes':
      return JSON.stringify({
        metadata: { name: 'dgd', resourceVersion: v(0) },
        spec: { services: { VllmPrefillWorker: { subComponentType: 'prefill', replicas: v(1) }, VllmDecodeWorker: { subComponentType: 'decode', replicas: v(2) } } },
        status: { conditions: v(3) === null ? [{ type: 'Ready', status: 'True' }] : v(3), services: { VllmPrefillWorker: { availableReplicas: v(4) }, VllmDecodeWorker: { readyReplicas: v(5) } } },
      });
    case 'global':
      return JSON.stringify({ status: v(0) === null ? 'success' : v(0), message: v(1), current_replicas: { prefill: v(2), decode: v(3) } });
  }
}

class HostileServer {
  private server: Server | undefined;
  private timers: NodeJS.Timeout[] = [];
  surface: Surface = 'prometheus';
  spec: Spec | null = null;
  /** Answer the next `goodAnswers` requests with a plain valid body (set-up calls). */
  good: string | null = null;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      req.resume();
      req.on('end', () => this.answer(req, res));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    return this;
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    if (this.good !== null || !this.spec) return void res.writeHead(200, { 'content-type': 'application/json' }).end(this.good ?? '{}');
    const s = this.spec;
    if (s.behaviour === 'hang') return;
    let body: Buffer;
    switch (s.body.kind) {
      case 'valid': body = Buffer.from(validBody(this.surface, s.body.values, req.url ?? '')); break;
      case 'json': body = Buffer.from(JSON.stringify(s.body.value) ?? 'null'); break;
      case 'text': body = Buffer.from(s.body.text); break;
      case 'bytes': body = Buffer.from(s.body.bytes); break;
      case 'huge': body = Buffer.alloc(MAX_BYTES * 4, 0x5b); break;
      case 'deep': body = Buffer.from('['.repeat(s.body.depth) + ']'.repeat(s.body.depth)); break;
    }
    const headers: Record<string, string> = s.contentType ? { 'content-type': s.contentType } : {};
    if (s.behaviour === 'trickle') {
      res.writeHead(s.status, headers);
      let i = 0;
      const t = setInterval(() => { if (i < body.length) res.write(body.subarray(i, ++i)); else res.write(' '); }, 20);
      this.timers.push(t);
      res.on('close', () => clearInterval(t));
      return;
    }
    if (s.behaviour === 'cut') {
      res.writeHead(s.status, { ...headers, 'content-length': String(body.length + 100) });
      res.write(body.subarray(0, body.length >> 1));
      setTimeout(() => req.socket.destroy(), 5);
      return;
    }
    const send = () => res.writeHead(s.status, headers).end(body);
    if (s.behaviour === 'slow') setTimeout(send, DEADLINE_MS / 3);
    else send();
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await closeServer(this.server);
  }
}

const TRAFFIC_KINDS: TrafficErrorKind[] = ['prometheus_unreachable', 'prometheus_timeout', 'prometheus_tls', 'prometheus_too_large', 'prometheus_auth', 'prometheus_unavailable', 'prometheus_http', 'prometheus_bad_response'];
const STATUSES = ['applied', 'unchanged', 'not_ready', 'pending_ack', 'dry_run', 'failed'];

const finiteOrNull = (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v));
const countOrNull = (v: unknown) => v === null || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);

/** A call that must settle by `boundMs`, timed with a generous allowance for a loaded machine. */
async function within<T>(boundMs: number, call: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const out = await call();
  expect(Date.now() - t0).toBeLessThan(boundMs + 2000);
  return out;
}

function checkOutcome(out: ApplyOutcome, kinds: RegExp): void {
  expect(STATUSES).toContain(out.status);
  if (out.status === 'failed') expect(out.errorKind).toMatch(kinds);
  expect((out.message ?? '').includes('\n')).toBe(false);
}

describe('fuzz: the daemon\'s outside responses', () => {
  let hostile: HostileServer;
  let kube: KubernetesActuator;
  beforeAll(async () => {
    hostile = await new HostileServer().start();
    const dir = mkdtempSync(join(tmpdir(), 'sla-fuzz-kube-'));
    writeFileSync(join(dir, 'token'), 't');
    kube = new KubernetesActuator({
      client: new KubeClient({ apiUrl: hostile.url, tokenPath: join(dir, 'token'), caPath: join(dir, 'none'), namespace: 'ns' }, { retries: 0, timeoutMs: DEADLINE_MS }),
      dgdName: 'dgd', backend: 'vllm', mode: 'disagg', configModelName: null, configGpus: { prefill: 1, decode: 1 },
    });
    hostile.good = validBody('kubernetes', [null, 1, 1, null, 1, 1], '');
    // The short deadline is for the fuzzed calls; on a loaded machine the very first connection
    // may miss it, so set-up retries.
    for (let i = 0; ; i++) {
      try {
        await kube.init();
        break;
      } catch (err) {
        if (i >= 20) throw err;
      }
    }
    hostile.good = null;
  });
  afterAll(() => hostile.stop());

  const tallies = Object.fromEntries((['prometheus', 'router', 'etcd', 'kubernetes', 'global'] as const).map((s) => [s, tally(`daemon responses: ${s}`)])) as Record<Surface, ReturnType<typeof tally>>;
  const property = (surface: Surface, check: () => Promise<void>, numRuns: number) => {
    const t = tallies[surface];
    return fc.assert(fc.asyncProperty(spec, async (s) => {
      hostile.surface = surface;
      hostile.spec = s;
      await t.caseAsync(check);
    }), { numRuns: runs(numRuns), seed: SEED });
  };

  it('Prometheus: an observation of finite values or nothing, or a typed hold', () => property('prometheus', async () => {
    const r = await within(7 * DEADLINE_MS, () => new TrafficObserver({ endpoint: hostile.url, intervalS: 60, source: 'frontend', modelName: 'm', dynamoNamespace: 'ns', timeoutMs: DEADLINE_MS, maxBytes: MAX_BYTES }).observe());
    if (r.ok) for (const v of Object.values(r.observation)) expect(finiteOrNull(v)).toBe(true);
    else {
      expect(TRAFFIC_KINDS).toContain(r.kind);
      expect(r.message.includes('\n')).toBe(false);
    }
  }, 150));

  it('router /metrics: finite gauges per worker, or a typed RouterFetchError', () => property('router', async () => {
    try {
      const snap = await within(DEADLINE_MS, () => fetchRouterSnapshot(`${hostile.url}/metrics`, DEADLINE_MS, MAX_BYTES));
      for (const pool of [snap.prefill, snap.decode]) for (const worker of Object.values(pool ?? {})) for (const v of Object.values(worker)) expect(Number.isFinite(v)).toBe(true);
      expect(({} as Record<string, unknown>).active_prefill_tokens).toBeUndefined();
    } catch (err) {
      expect(err).toBeInstanceOf(RouterFetchError);
      expect((err as RouterFetchError).kind).toMatch(/^router_(unreachable|timeout|tls|too_large|http|parse)$/);
    }
  }, 150));

  it('etcd gateway: counts that are whole numbers or unknown, writes that apply or fail as etcd faults', () => property('etcd', async () => {
    const a = new VirtualActuator({ dynamoNamespace: 'ns', mode: 'disagg', modelName: 'm', gpus: { prefill: 1, decode: 1 }, routerMetricsUrl: null, etcd: new EtcdJson(hostile.url, { timeoutMs: DEADLINE_MS, backoffMs: 0 }), maxWaitMs: 1000 });
    await a.init();
    try {
      const view = await within(2 * DEADLINE_MS, () => a.view());
      expect(countOrNull(view.prefill) && countOrNull(view.decode)).toBe(true);
      expect(typeof view.ready).toBe('boolean');
    } catch (err) {
      expect(err).toBeInstanceOf(EtcdError);
    }
    checkOutcome(await within(3 * DEADLINE_MS, () => a.apply({ prefill: 2, decode: 3 }, { blocking: false })), /^etcd_(unreachable|timeout|http|bad_response|conflict)$/);
  }, 150));

  it('Kubernetes API: worker counts that are whole numbers, or a typed KubeApiError; writes apply or fail with a k8s kind', () => property('kubernetes', async () => {
    try {
      const view = await within(DEADLINE_MS, () => kube.view());
      expect(countOrNull(view.prefill) && countOrNull(view.decode)).toBe(true);
    } catch (err) {
      expect(err).toBeInstanceOf(KubeApiError);
      expect((err as KubeApiError).kind).toMatch(/^k8s_/);
    }
    checkOutcome(await within(3 * DEADLINE_MS, () => kube.apply({ prefill: 2, decode: 3 }, { blocking: false })), /^k8s_/);
  }, 150));

  it('global planner: a ScaleResponse is read only when it is one', () => property('global', async () => {
    const g = new GlobalPlannerActuator({ url: `${hostile.url}/scale`, callerNamespace: 'ns', graphDeploymentName: 'dgd', k8sNamespace: 'k', mode: 'disagg', gpus: { prefill: 1, decode: 1 }, modelName: null, routerMetricsUrl: null, timeoutMs: DEADLINE_MS, maxBytes: MAX_BYTES });
    checkOutcome(await within(DEADLINE_MS, () => g.apply({ prefill: 2, decode: 3 }, { blocking: false })), /^global_planner_(unreachable|timeout|http|bad_response|error|rejected)$/);
    const view = await g.view();
    expect(countOrNull(view.prefill) && countOrNull(view.decode)).toBe(true);
  }, 150));
});
