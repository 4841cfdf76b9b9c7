// A strict fake Kubernetes API server for one DynamoGraphDeployment (v1alpha1 or v1beta1), its
// scaling adapters and events.k8s.io/v1 Events. Like a real API server it authenticates (bearer
// token or client certificate), authorizes every request against a Role (by default the Role the
// deploy/ package ships), serves discovery for the versions it has, checks patch content types,
// resourceVersion preconditions and unknown fields, applies merge patches (RFC 7386) and JSON
// patches (RFC 6902), validates Events as the API server does, and answers 403/404/409/500 on demand.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Dgd } from '../../src/actuate/dgd.js';
import {
  ApiFailure, DGD_SCHEMA, EVENT_SCHEMA, type EventObject, type RbacRule, allowed, applyJsonPatch, forbidden, mergePatch, parseResourcePath,
  rulesFromRoleFile, statusBody, unknownFields, validateEventCreate, validateEventUpdate, verbOf,
} from './fakeKubeApi.js';
import { closeServer } from './localServer.js';

export interface RecordedRequest { method: string; path: string; query: string; contentType?: string; body?: unknown; status: number; user?: string }

export interface Fault { method?: string; pathIncludes?: string; status: number; times: number; message?: string }

/** The Role shipped in deploy/base: what the planner may do in a real cluster. */
export const SHIPPED_ROLE = 'deploy/base/rbac.yaml';
/** The DGD the shipped Role is pinned to by resourceNames (its adapters are named <dgd>-<service>). */
export const SHIPPED_DGD = 'llama-disagg';

/** The shipped Role as it would be written for the DGD `name`: its resourceNames re-pointed from the shipped DGD. */
export function shippedRulesFor(name: string): RbacRule[] {
  return rulesFromRoleFile(SHIPPED_ROLE).map((r) => (r.resourceNames
    ? { ...r, resourceNames: r.resourceNames.map((n) => (n === SHIPPED_DGD || n.startsWith(`${SHIPPED_DGD}-`) ? name + n.slice(SHIPPED_DGD.length) : n)) }
    : r));
}

type DgdVersion = 'v1alpha1' | 'v1beta1';
type AnyDgd = Dgd & { apiVersion?: string; spec?: { components?: V1beta1Component[] } };
interface V1beta1Component { name: string; type?: string; replicas?: number; [k: string]: unknown }

export interface FakeTls { key: string; cert: string; clientCa?: string }

export class FakeKube {
  private server: Server | undefined;
  dgd: AnyDgd;
  rv = 100;
  readonly version: DgdVersion;
  readonly log: RecordedRequest[] = [];
  readonly faults: Fault[] = [];
  /** Answer every request with this status while set (an API server outage). */
  outageStatus: number | null = null;
  /** Service (v1alpha1) or component (v1beta1) names that have a DGDSA (scalingAdapter enabled). */
  adapters = new Set<string>();
  /** Like the operator with instant rollouts: status follows spec after each write. */
  autoRollout = true;
  /** RBAC rules of the planner's identity (the shipped Role for this DGD); null = allow everything (a cluster admin). */
  rules: RbacRule[] | null;
  /** Extra nvidia.com versions listed by discovery besides the DGD's own. */
  alsoServed: string[] = [];
  /** Events by name, as stored by the server. */
  readonly events = new Map<string, EventObject>();
  /** Bearer tokens accepted (besides `token`) and client-certificate common names accepted. */
  readonly extraTokens = new Set<string>();
  readonly certUsers = new Set<string>();
  private tls: FakeTls | undefined;

  constructor(readonly namespace: string, readonly name: string, dgd: Dgd, readonly token = 'test-token') {
    this.rules = shippedRulesFor(name);
    this.dgd = structuredClone(dgd) as AnyDgd;
    this.version = this.dgd.apiVersion === 'nvidia.com/v1beta1' ? 'v1beta1' : 'v1alpha1';
    this.dgd.metadata = { ...(this.dgd.metadata ?? {}), name, namespace, resourceVersion: String(this.rv), uid: '6f1c9a52-0d7e-4c1b-9a51-3c2f0e8b7d41' } as Dgd['metadata'];
    this.syncStatus(true);
  }

  setReady(ready: boolean): void {
    this.dgd.status ??= {};
    this.dgd.status.conditions = [{ type: 'Ready', status: ready ? 'True' : 'False' }];
  }

  private entries(): [string, { replicas?: number }][] {
    if (this.version === 'v1beta1') return (this.dgd.spec?.components ?? []).map((c) => [c.name, c]);
    return Object.entries(this.dgd.spec?.services ?? {});
  }

  /** status follows spec (a finished rollout): status.services (v1alpha1) or status.components (v1beta1). */
  syncStatus(ready = true): void {
    const counts: Record<string, { availableReplicas: number; readyReplicas: number; updatedReplicas: number; replicas: number }> = {};
    for (const [k, s] of this.entries()) {
      const n = s.replicas ?? 0;
      counts[k] = { availableReplicas: n, readyReplicas: n, updatedReplicas: n, replicas: n };
    }
    this.dgd.status = { ...(this.dgd.status ?? {}), [this.version === 'v1beta1' ? 'components' : 'services']: counts };
    this.setReady(ready);
  }

  replicas(service: string): number | undefined {
    return this.entries().find(([k]) => k === service)?.[1].replicas;
  }

  annotations(): Record<string, string> {
    return ((this.dgd.metadata as { annotations?: Record<string, string> }).annotations) ?? {};
  }

  /** Someone else edits the DGD (bumps resourceVersion). */
  touch(): void {
    this.rv++;
    this.dgd.metadata!.resourceVersion = String(this.rv);
  }

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
  }

  /** Successful writes to the DGD and its adapters (events are listed in `events`). */
  writes(): RecordedRequest[] {
    return this.log.filter((r) => r.method === 'PATCH' && r.status === 200 && r.path.startsWith('/apis/nvidia.com/'));
  }

  /** Every request the server refused for RBAC. */
  denied(): RecordedRequest[] {
    return this.log.filter((r) => r.status === 403);
  }

  eventList(): EventObject[] {
    return [...this.events.values()];
  }

  async start(tls?: FakeTls): Promise<this> {
    this.tls = tls;
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks).toString('utf8')));
    };
    this.server = tls
      ? createHttpsServer({ key: tls.key, cert: tls.cert, ca: tls.clientCa, requestCert: !!tls.clientCa, rejectUnauthorized: false }, handler)
      : createServer(handler);
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    return this;
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }

  private authenticate(req: IncomingMessage): string | null {
    const auth = req.headers.authorization;
    if (auth === `Bearer ${this.token}` || (auth?.startsWith('Bearer ') && this.extraTokens.has(auth.slice(7)))) return `system:serviceaccount:${this.namespace}:planner-serviceaccount`;
    const sock = req.socket as TLSSocket;
    if (this.tls?.clientCa && sock.authorized) {
      const cn = sock.getPeerCertificate()?.subject?.CN;
      if (cn && this.certUsers.has(cn)) return cn;
    }
    return null;
  }

  private handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const [path, query = ''] = (req.url ?? '').split('?');
    const params = new URLSearchParams(query);
    const rec: RecordedRequest = { method: req.method ?? '', path, query, contentType: req.headers['content-type'], status: 0 };
    try { rec.body = raw ? JSON.parse(raw) : undefined; } catch { rec.body = raw; }
    const warnings: string[] = [];
    const reply = (status: number, body: unknown) => {
      rec.status = status;
      this.log.push(rec);
      const headers: Record<string, string | string[]> = { 'content-type': 'application/json' };
      if (warnings.length) headers.warning = warnings.map((w) => `299 - "${w}"`);
      res.writeHead(status, headers).end(JSON.stringify(body));
    };
    try {
      const user = this.authenticate(req);
      if (!user) return reply(401, statusBody(401, 'Unauthorized', 'Unauthorized'));
      rec.user = user;
      if (this.outageStatus !== null) return reply(this.outageStatus, statusBody(this.outageStatus, 'InternalError', 'etcdserver: leader changed'));
      const fault = this.faults.find((f) => f.times > 0 && (!f.method || f.method === req.method) && (!f.pathIncludes || path.includes(f.pathIncludes)));
      if (fault) {
        fault.times--;
        return reply(fault.status, statusBody(fault.status, 'Injected', fault.message ?? `injected ${fault.status}`));
      }
      // Discovery is open to every authenticated user (the system:discovery role).
      if (req.method === 'GET' && path === '/apis/nvidia.com') return reply(200, this.discovery());
      const target = parseResourcePath(path);
      if (!target) return reply(404, statusBody(404, 'NotFound', `the server could not find the requested resource (${path})`));
      const verb = verbOf(req.method ?? '', target.collection);
      if (this.rules && !allowed(this.rules, target, verb)) throw forbidden(target, verb, user);
      if (target.namespace !== this.namespace) throw new ApiFailure(404, 'NotFound', `namespaces "${target.namespace}" not found`);
      if (req.method === 'PATCH' || req.method === 'POST') {
        if (typeof rec.body !== 'object' || rec.body === null) throw new ApiFailure(400, 'BadRequest', 'the body of the request is not a JSON object or array');
      }
      const strict = params.get('fieldValidation') === 'Strict';
      if (target.group === 'events.k8s.io' && target.version === 'v1' && target.resource === 'events') return reply(...this.eventsApi(req.method!, target.name, rec, strict, warnings));
      if (target.group === 'nvidia.com') return reply(...this.dgdApi(req.method!, target, rec, strict, warnings));
      throw new ApiFailure(404, 'NotFound', `the server could not find the requested resource (${path})`);
    } catch (err) {
      if (err instanceof ApiFailure) return reply(err.code, statusBody(err.code, err.reason, err.message));
      return reply(500, statusBody(500, 'InternalError', String(err)));
    }
  }

  private discovery(): unknown {
    const versions = [...new Set([this.version, ...this.alsoServed])].sort().reverse();
    const preferred = versions.includes('v1beta1') ? 'v1beta1' : versions[0];
    return {
      kind: 'APIGroup', apiVersion: 'v1', name: 'nvidia.com',
      versions: versions.map((v) => ({ groupVersion: `nvidia.com/${v}`, version: v })),
      preferredVersion: { groupVersion: `nvidia.com/${preferred}`, version: preferred },
    };
  }

  /** Unknown fields: 400 under fieldValidation=Strict, otherwise dropped by the server with a warning. */
  private checkFields(obj: unknown, schema: Parameters<typeof unknownFields>[1], strict: boolean, warnings: string[], prefix = ''): void {
    const unknown = unknownFields(obj, schema, prefix);
    if (unknown.length === 0) return;
    if (strict) throw new ApiFailure(400, 'BadRequest', `strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`);
    warnings.push(...unknown.map((f) => `unknown field "${f}"`));
  }

  private mediaType(rec: RecordedRequest, accepted: string[]): void {
    const ct = rec.contentType?.split(';')[0].trim();
    if (!ct || !accepted.includes(ct)) {
      throw new ApiFailure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}; got ${rec.contentType}`);
    }
  }

  private eventsApi(method: string, name: string | undefined, rec: RecordedRequest, strict: boolean, warnings: string[]): [number, unknown] {
    if (method === 'POST' && !name) {
      this.mediaType(rec, ['application/json', 'application/yaml']);
      const ev = rec.body as EventObject;
      this.checkFields(ev, EVENT_SCHEMA, strict, warnings);
      const errs = validateEventCreate(ev, this.namespace);
      if (errs.length) throw new ApiFailure(422, 'Invalid', `Event.events.k8s.io "${ev.metadata?.name}" is invalid: ${errs.join('; ')}`);
      if (this.events.has(ev.metadata.name)) throw new ApiFailure(409, 'AlreadyExists', `events.events.k8s.io "${ev.metadata.name}" already exists`);
      const stored = { ...ev, metadata: { ...ev.metadata, namespace: this.namespace, resourceVersion: String(++this.rv), uid: `ev-${this.rv}`, creationTimestamp: new Date().toISOString() } } as EventObject;
      this.events.set(ev.metadata.name, stored);
      return [201, stored];
    }
    if (!name) throw new ApiFailure(405, 'MethodNotAllowed', `${method} on the events collection is not supported by this fake`);
    const prev = this.events.get(name);
    if (method === 'GET') {
      if (!prev) throw new ApiFailure(404, 'NotFound', `events.events.k8s.io "${name}" not found`);
      return [200, prev];
    }
    if (method === 'PATCH') {
      this.mediaType(rec, ['application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/json-patch+json']);
      if (!prev) throw new ApiFailure(404, 'NotFound', `events.events.k8s.io "${name}" not found`);
      const next = (rec.contentType?.startsWith('application/json-patch+json') ? applyJsonPatch(prev, rec.body) : mergePatch(prev, rec.body)) as EventObject;
      this.checkFields(next, EVENT_SCHEMA, strict, warnings);
      const errs = validateEventUpdate(next, prev);
      if (errs.length) throw new ApiFailure(422, 'Invalid', `Event.events.k8s.io "${name}" is invalid: ${errs.join('; ')}`);
      next.metadata = { ...prev.metadata, resourceVersion: String(++this.rv) };
      this.events.set(name, next);
      return [200, next];
    }
    throw new ApiFailure(405, 'MethodNotAllowed', `${method} on an event is not supported by this fake`);
  }

  private dgdApi(method: string, t: NonNullable<ReturnType<typeof parseResourcePath>>, rec: RecordedRequest, strict: boolean, warnings: string[]): [number, unknown] {
    if (t.version !== this.version) {
      // The fake stores one version and does not model the operator's conversion webhook.
      throw new ApiFailure(404, 'NotFound', `the server could not find the requested resource (nvidia.com/${t.version} is not served by this fake)`);
    }
    if (t.resource === 'dynamographdeployments' && t.name === this.name && !t.subresource) {
      if (method === 'GET') return [200, this.dgd];
      if (method !== 'PATCH') throw new ApiFailure(405, 'MethodNotAllowed', 'method not allowed');
      this.mediaType(rec, ['application/merge-patch+json', 'application/json-patch+json']);
      const jsonPatch = rec.contentType?.startsWith('application/json-patch+json');
      const next = (jsonPatch ? applyJsonPatch(this.dgd, rec.body) : mergePatch(this.dgd, rec.body)) as AnyDgd;
      // A resourceVersion in the patched object is a precondition, as for an update.
      const wantRv = next.metadata?.resourceVersion;
      if (wantRv !== undefined && wantRv !== this.dgd.metadata!.resourceVersion) {
        throw new ApiFailure(409, 'Conflict', `Operation cannot be fulfilled on dynamographdeployments.nvidia.com "${this.name}": the object has been modified; please apply your changes to the latest version and try again`);
      }
      if (JSON.stringify(next.status) !== JSON.stringify(this.dgd.status)) throw new ApiFailure(422, 'Invalid', 'status is a subresource; a patch of the main resource cannot change it');
      this.checkFields(next, DGD_SCHEMA[this.version], strict, warnings);
      this.dgd = next;
      this.touch();
      if (this.autoRollout) this.syncStatus(true);
      return [200, this.dgd];
    }
    if (t.resource === 'dynamographdeploymentscalingadapters' && t.subresource === 'scale' && t.name) {
      if (method !== 'PATCH') throw new ApiFailure(405, 'MethodNotAllowed', 'method not allowed');
      this.mediaType(rec, ['application/merge-patch+json', 'application/json-patch+json']);
      const svc = [...this.adapters].find((k) => `${this.name}-${k.toLowerCase()}` === t.name);
      if (!svc) throw new ApiFailure(404, 'NotFound', `dynamographdeploymentscalingadapters.nvidia.com "${t.name}" not found`);
      this.checkFields(rec.body, { spec: { replicas: true }, metadata: true, apiVersion: true, kind: true }, strict, warnings);
      const n = (rec.body as { spec?: { replicas?: number } }).spec?.replicas;
      if (!Number.isInteger(n) || n! < 0) throw new ApiFailure(422, 'Invalid', 'spec.replicas must be a non-negative integer');
      // The adapter controller writes the DGD's replicas.
      const entry = this.entries().find(([k]) => k === svc)!;
      entry[1].replicas = n;
      this.touch();
      if (this.autoRollout) this.syncStatus(true);
      return [200, { kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: n }, status: { replicas: n } }];
    }
    throw new ApiFailure(404, 'NotFound', `${t.resource}.nvidia.com "${t.name ?? ''}" not found`);
  }
}
