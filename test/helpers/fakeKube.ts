// A strict fake Kubernetes API server for one DynamoGraphDeployment and its scaling adapters. It
// checks the bearer token, the patch content type and resourceVersion preconditions, applies JSON
// merge patches (RFC 7386), and answers 403/404/409/500 on demand.
import { createServer, type Server } from 'node:http';
import type { Dgd } from '../../src/actuate/dgd.js';

export interface RecordedRequest { method: string; path: string; contentType?: string; body?: unknown; status: number }

export interface Fault { method?: string; pathIncludes?: string; status: number; times: number; message?: string }

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class FakeKube {
  private server: Server | undefined;
  dgd: Dgd;
  rv = 100;
  readonly log: RecordedRequest[] = [];
  readonly faults: Fault[] = [];
  /** Answer every request with this status while set (an API server outage). */
  outageStatus: number | null = null;
  /** Service keys that have a DGDSA (scalingAdapter.enabled). */
  adapters = new Set<string>();
  /** Like the operator with instant rollouts: status follows spec after each write. */
  autoRollout = true;

  constructor(readonly namespace: string, readonly name: string, dgd: Dgd, readonly token = 'test-token') {
    this.dgd = structuredClone(dgd);
    this.dgd.metadata = { ...(this.dgd.metadata ?? {}), name, namespace, resourceVersion: String(this.rv) };
    this.syncStatus(true);
  }

  setReady(ready: boolean): void {
    this.dgd.status ??= {};
    this.dgd.status.conditions = [{ type: 'Ready', status: ready ? 'True' : 'False' }];
  }

  /** status.services follows spec (a finished rollout). */
  syncStatus(ready = true): void {
    const services: Record<string, { availableReplicas: number; readyReplicas: number; updatedReplicas: number; replicas: number }> = {};
    for (const [k, s] of Object.entries(this.dgd.spec?.services ?? {})) {
      const n = s.replicas ?? 0;
      services[k] = { availableReplicas: n, readyReplicas: n, updatedReplicas: n, replicas: n };
    }
    this.dgd.status = { ...(this.dgd.status ?? {}), services };
    this.setReady(ready);
  }

  replicas(service: string): number | undefined {
    return this.dgd.spec?.services?.[service]?.replicas;
  }

  /** Someone else edits the DGD (bumps resourceVersion). */
  touch(): void {
    this.rv++;
    this.dgd.metadata!.resourceVersion = String(this.rv);
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
  }

  writes(): RecordedRequest[] {
    return this.log.filter((r) => r.method === 'PATCH' && r.status === 200);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const rec: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', contentType: req.headers['content-type'], status: 0 };
        try { rec.body = raw ? JSON.parse(raw) : undefined; } catch { rec.body = raw; }
        const reply = (status: number, body: unknown) => {
          rec.status = status;
          this.log.push(rec);
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        };
        const statusBody = (code: number, reason: string, message: string) => ({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code });
        if (req.headers.authorization !== `Bearer ${this.token}`) return reply(401, statusBody(401, 'Unauthorized', 'Unauthorized'));
        if (this.outageStatus !== null) return reply(this.outageStatus, statusBody(this.outageStatus, 'InternalError', 'etcdserver: leader changed'));
        const fault = this.faults.find((f) => f.times > 0 && (!f.method || f.method === req.method) && (!f.pathIncludes || rec.path.includes(f.pathIncludes)));
        if (fault) {
          fault.times--;
          return reply(fault.status, statusBody(fault.status, 'Injected', fault.message ?? `injected ${fault.status}`));
        }
        const base = `/apis/nvidia.com/v1alpha1/namespaces/${this.namespace}`;
        const dgdPath = `${base}/dynamographdeployments/${this.name}`;
        const scaleMatch = rec.path.startsWith(`${base}/dynamographdeploymentscalingadapters/`) ? /\/dynamographdeploymentscalingadapters\/([^/]+)\/scale$/.exec(rec.path) : null;
        if (req.method === 'PATCH') {
          if (rec.contentType !== 'application/merge-patch+json') {
            return reply(415, statusBody(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml; got ${rec.contentType}`));
          }
          if (typeof rec.body !== 'object' || rec.body === null) return reply(400, statusBody(400, 'BadRequest', 'body is not a JSON object'));
        }
        if (rec.path === dgdPath) {
          if (req.method === 'GET') return reply(200, this.dgd);
          if (req.method === 'PATCH') {
            const body = rec.body as { metadata?: { resourceVersion?: string }; status?: unknown };
            const wantRv = body.metadata?.resourceVersion;
            if (wantRv !== undefined && wantRv !== this.dgd.metadata!.resourceVersion) {
              return reply(409, statusBody(409, 'Conflict', `Operation cannot be fulfilled on dynamographdeployments.nvidia.com "${this.name}": the object has been modified; please apply your changes to the latest version and try again`));
            }
            if (body.status !== undefined) return reply(422, statusBody(422, 'Invalid', 'status is a subresource'));
            const { metadata: _m, ...rest } = body;
            this.dgd = mergePatch(this.dgd, rest) as Dgd;
            this.touch();
            if (this.autoRollout) this.syncStatus(true);
            return reply(200, this.dgd);
          }
          return reply(405, statusBody(405, 'MethodNotAllowed', 'method not allowed'));
        }
        if (scaleMatch && req.method === 'PATCH') {
          const adapter = scaleMatch[1];
          const svc = [...this.adapters].find((k) => `${this.name}-${k.toLowerCase()}` === adapter);
          if (!svc) return reply(404, statusBody(404, 'NotFound', `dynamographdeploymentscalingadapters.nvidia.com "${adapter}" not found`));
          const n = (rec.body as { spec?: { replicas?: number } }).spec?.replicas;
          if (!Number.isInteger(n) || n! < 0) return reply(422, statusBody(422, 'Invalid', 'spec.replicas must be a non-negative integer'));
          // The adapter controller writes the DGD's replicas.
          this.dgd.spec!.services![svc].replicas = n;
          this.touch();
          if (this.autoRollout) this.syncStatus(true);
          return reply(200, { kind: 'Scale', spec: { replicas: n }, status: { replicas: n } });
        }
        return reply(404, statusBody(404, 'NotFound', `${rec.path} not found`));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
