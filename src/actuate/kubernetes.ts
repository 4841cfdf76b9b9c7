// The kubernetes environment: read and scale the parent DynamoGraphDeployment with the
// service-account credentials mounted in the pod (token, CA and
// namespace under /var/run/secrets/kubernetes.io/serviceaccount).
import { readFileSync, existsSync } from 'node:fs';
import { HttpError, excerpt, httpRequest, type HttpFaultKind, type TlsOptions } from '../net/http.js';
import type { Backend, Mode } from '../config/schema.js';
import { RuntimeFailure } from '../util/errors.js';
import { sleep } from '../util/sleep.js';
import {
  type Dgd, type DgdApiVersion, type DgdV1beta1, DgdError, componentIndex, findPoolService, frontendMetricsUrl, fromV1beta1, gpusPerReplica, isReady,
  managedPools, modelNameOf, readyReplicas, specReplicas,
} from './dgd.js';
import type { EventTarget } from './events.js';
import type { Actuator, ApplyContext, ApplyOutcome, DeploymentInfo, DeploymentView, Pool, ScaleTarget } from './types.js';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Annotation on the DGD holding the planner's last decision (JSON). */
export const DECISION_ANNOTATION = 'sla-planner.io/last-decision';

export interface KubeConnection {
  apiUrl: string;
  tokenPath: string;
  caPath: string;
  namespace: string;
  /** Credentials from a kubeconfig (kubeconfig.ts); when set, tokenPath and caPath are not used. */
  credentials?: KubeCredentials;
}

/** How a client outside the pod authenticates: TLS material and a per-request Authorization header. */
export interface KubeCredentials {
  /** Authorization header value, or null for client-certificate auth; called per request (tokens rotate). */
  authorization(signal?: AbortSignal): Promise<string | null>;
  /** TLS material; called once per connection pool (an exec plugin may hand out a client certificate). */
  tls(): Promise<{ ca?: string; cert?: string; key?: string; insecure?: boolean; servername?: string }>;
  /** Where these credentials come from, for error messages (e.g. "kubeconfig context kind-dev"). */
  readonly origin: string;
}

export type KubeVerb = 'get' | 'patch' | 'create';
const METHOD: Record<KubeVerb, 'GET' | 'PATCH' | 'POST'> = { get: 'GET', patch: 'PATCH', create: 'POST' };

/**
 * In-cluster connection. Every path and the API URL can be overridden (tests, out-of-cluster
 * runs): SLA_PLANNER_K8S_API_URL, SLA_PLANNER_K8S_TOKEN_FILE, SLA_PLANNER_K8S_CA_FILE,
 * SLA_PLANNER_K8S_NAMESPACE_FILE.
 */
export function inClusterConnection(env: NodeJS.ProcessEnv, apiUrlOverride?: string): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const apiUrl = apiUrlOverride ?? env.SLA_PLANNER_K8S_API_URL ?? (host ? `https://${host.includes(':') ? `[${host}]` : host}:${port}` : undefined);
  if (!apiUrl) {
    throw new RuntimeFailure('environment kubernetes: not in a cluster (KUBERNETES_SERVICE_HOST unset); pass --api-server <url> or set SLA_PLANNER_K8S_API_URL.');
  }
  const namespacePath = env.SLA_PLANNER_K8S_NAMESPACE_FILE ?? `${SA_DIR}/namespace`;
  // The original falls back to "default" when the namespace file is absent.
  const namespace = existsSync(namespacePath) ? readFileSync(namespacePath, 'utf8').trim() || 'default' : 'default';
  return {
    apiUrl: apiUrl.replace(/\/+$/, ''),
    tokenPath: env.SLA_PLANNER_K8S_TOKEN_FILE ?? `${SA_DIR}/token`,
    caPath: env.SLA_PLANNER_K8S_CA_FILE ?? `${SA_DIR}/ca.crt`,
    namespace,
  };
}

export type KubeFaultKind =
  | 'k8s_unauthorized' | 'k8s_forbidden' | 'k8s_not_found' | 'k8s_conflict' | 'k8s_throttled' | 'k8s_server_error' | 'k8s_client_error'
  | 'k8s_unreachable' | 'k8s_timeout' | 'k8s_tls' | 'k8s_too_large' | 'k8s_bad_response';

function kindOfStatus(status: number): KubeFaultKind {
  if (status === 401) return 'k8s_unauthorized';
  if (status === 403) return 'k8s_forbidden';
  if (status === 404) return 'k8s_not_found';
  if (status === 409) return 'k8s_conflict';
  if (status === 429) return 'k8s_throttled';
  if (status >= 500) return 'k8s_server_error';
  if (status === 0) return 'k8s_unreachable';
  return 'k8s_client_error';
}

const TRANSPORT_KIND: Record<HttpFaultKind, KubeFaultKind> = {
  timeout: 'k8s_timeout', unreachable: 'k8s_unreachable', tls: 'k8s_tls', too_large: 'k8s_too_large', cut_off: 'k8s_unreachable', cancelled: 'k8s_timeout',
};

export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  readonly kind: KubeFaultKind;
  /** status 0: no HTTP answer (transport failure or unusable answer); `kind` says which. */
  constructor(readonly status: number, readonly verb: string, readonly resource: string, message: string, kind?: KubeFaultKind) {
    super(message);
    this.kind = kind ?? kindOfStatus(status);
  }
}

/** A DGD with its managedFields is tens of kB; 4 MiB is far beyond any real object. */
export const KUBE_MAX_BYTES = 4 * 1024 * 1024;

export interface KubeClientOptions {
  /** Retries of a 5xx/429/connection failure within one call, with doubling delays from backoffMs. */
  retries?: number;
  backoffMs?: number;
  /** Deadline of one request (default 5000 ms); a timed-out request is not retried. */
  timeoutMs?: number;
  /** Deadline of one call including its retries (default 10 000 ms), so a hung API server holds a tick for at most this long. */
  callBudgetMs?: number;
  maxBytes?: number;
}

export class KubeClient {
  private tls: TlsOptions | undefined;
  constructor(readonly conn: KubeConnection, private readonly opts: KubeClientOptions = {}) {}

  private async tlsOptions(): Promise<TlsOptions> {
    if (this.tls === undefined) {
      if (this.conn.credentials) {
        // A kubeconfig user: its cluster CA (or the system's), client certificate and TLS server name.
        const t = await this.conn.credentials.tls();
        this.tls = { verify: !t.insecure, ca: t.insecure ? undefined : t.ca, cert: t.cert, key: t.key, servername: t.servername };
      } else {
        // The service-account CA when mounted; the system's CAs otherwise. Never unverified.
        this.tls = existsSync(this.conn.caPath) ? { ca: readFileSync(this.conn.caPath, 'utf8') } : { verify: true };
      }
    }
    return this.tls;
  }

  private async authorization(signal?: AbortSignal): Promise<string | null> {
    return this.conn.credentials ? this.conn.credentials.authorization(signal) : `Bearer ${this.token()}`;
  }

  private token(): string {
    // Re-read every call: projected service-account tokens rotate.
    try {
      return readFileSync(this.conn.tokenPath, 'utf8').trim();
    } catch {
      throw new KubeApiError(401, 'read', 'token', `service-account token file ${this.conn.tokenPath} is not readable; mount the service account or set SLA_PLANNER_K8S_TOKEN_FILE.`);
    }
  }

  /**
   * One API call with retries. `contentType` is the patch flavour (merge patch by default; a
   * JSON Patch for v1beta1 list items); writes ask for strict field validation, so an unknown field
   * is an error instead of being dropped silently.
   */
  async call<T>(verb: KubeVerb, path: string, resource: string, body?: unknown, signal?: AbortSignal, contentType?: string): Promise<T> {
    const retries = this.opts.retries ?? 3;
    let delay = this.opts.backoffMs ?? 500;
    const end = Date.now() + (this.opts.callBudgetMs ?? 10_000);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once<T>(verb, path, resource, body, Math.min(this.opts.timeoutMs ?? 5000, Math.max(1, end - Date.now())), signal, contentType);
      } catch (err) {
        // 429: API priority-and-fairness throttling, which asks the client to come back. A
        // timeout is not retried: a hung server would cost the whole budget per call.
        const retryable = err instanceof KubeApiError && (err.kind === 'k8s_server_error' || err.kind === 'k8s_throttled' || err.kind === 'k8s_unreachable');
        if (!retryable || attempt >= retries || signal?.aborted || Date.now() + delay >= end) throw err;
        await sleep(delay, signal);
        delay *= 2;
      }
    }
  }

  private async once<T>(verb: KubeVerb, path: string, resource: string, body: unknown, timeoutMs: number, signal?: AbortSignal, contentType?: string): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const auth = await this.authorization(signal);
    if (auth) headers.authorization = auth;
    if (body !== undefined) headers['content-type'] = contentType ?? (verb === 'create' ? 'application/json' : 'application/merge-patch+json');
    const url = this.conn.apiUrl + path + (verb === 'get' ? '' : `${path.includes('?') ? '&' : '?'}fieldValidation=Strict`);
    const where = `${verb.toUpperCase()} ${path}`;
    let res;
    try {
      res = await httpRequest(url, {
        method: METHOD[verb], headers, body: body === undefined ? undefined : JSON.stringify(body),
        timeoutMs, maxBytes: this.opts.maxBytes ?? KUBE_MAX_BYTES, tls: url.startsWith('https:') ? await this.tlsOptions() : undefined, signal,
      });
    } catch (err) {
      const kind = err instanceof HttpError ? TRANSPORT_KIND[err.kind] : 'k8s_unreachable';
      throw new KubeApiError(0, verb, resource, err instanceof HttpError ? err.message : `${where}: ${(err as Error).message}`, kind);
    }
    const text = res.body;
    if (res.status >= 200 && res.status < 300) {
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new KubeApiError(0, verb, resource, `${where}: answered HTTP ${res.status} but not with JSON (${(res.headers['content-type'] ?? 'no content type').split(';')[0]}, starts ${JSON.stringify(excerpt(text, 40))})`, 'k8s_bad_response');
      }
    }
    let detail = excerpt(text);
    try { detail = (JSON.parse(text) as { message?: string }).message ?? detail; } catch { /* keep raw text */ }
    detail = excerpt(String(detail));
    const ns = this.conn.namespace;
    let message: string;
    if (res.status === 401) message = `Kubernetes API rejected the ${this.conn.credentials ? `credentials of ${this.conn.credentials.origin}` : 'service-account token'} (401) for ${verb} ${resource}: ${detail}`;
    else if (res.status === 403) message = `RBAC: the planner's service account may not '${verb}' ${resource} in namespace ${ns}; grant verb '${verb}' on ${resource} in the planner's Role. Server said: ${detail}`;
    else message = `${verb.toUpperCase()} ${resource} answered HTTP ${res.status}: ${detail}`;
    throw new KubeApiError(res.status, verb, resource, message);
  }
}

export interface KubernetesActuatorOptions {
  client: KubeClient;
  dgdName: string;
  backend: Backend;
  mode: Mode;
  configModelName: string | null;
  configGpus: { prefill: number | null; decode: number | null };
  /** Blocking wait for Ready: poll period and count (the original: 10 s × 180). */
  readyPollMs?: number;
  readyMaxPolls?: number;
  maxConflictRetries?: number;
  /** DGD API version; default: v1beta1 when the cluster serves it (discovery), else v1alpha1. */
  apiVersion?: DgdApiVersion;
}

export class KubernetesActuator implements Actuator {
  readonly name = 'kubernetes';
  private services: Partial<Record<Pool, string>> = {};
  private readonly pools: Pool[];
  private version: DgdApiVersion;
  private uid: string | undefined;

  constructor(private readonly o: KubernetesActuatorOptions) {
    this.pools = managedPools(o.mode);
    this.version = o.apiVersion ?? 'v1alpha1';
  }

  get client(): KubeClient {
    return this.o.client;
  }

  get apiVersion(): DgdApiVersion {
    return this.version;
  }

  get namespace(): string {
    return this.ns;
  }

  get dgdName(): string {
    return this.o.dgdName;
  }

  /** The DGD as an event's `regarding` object. */
  eventTarget(): EventTarget {
    return { apiVersion: `nvidia.com/${this.version}`, kind: 'DynamoGraphDeployment', name: this.o.dgdName, namespace: this.ns, uid: this.uid };
  }

  /**
   * v1beta1 when the cluster serves it (the current upstream storage version), else the pinned
   * v1alpha1. Discovery is open to every authenticated client; when it fails we keep v1alpha1.
   */
  private async discoverVersion(): Promise<void> {
    if (this.o.apiVersion) return;
    try {
      const group = await this.o.client.call<{ versions?: unknown } | null>('get', '/apis/nvidia.com', 'apigroups');
      // An answer that is not an APIGroup says nothing about the versions: keep the pinned one.
      if (!Array.isArray(group?.versions)) return;
      const served = new Set((group.versions as { version?: unknown }[]).map((v) => v?.version));
      if (served.has('v1beta1')) this.version = 'v1beta1';
      else if (served.has('v1alpha1')) this.version = 'v1alpha1';
      else throw new RuntimeFailure(`the cluster serves no DynamoGraphDeployment version sla-planner reads (nvidia.com serves ${[...served].join(', ') || 'nothing'}); install the Dynamo operator.`);
    } catch (err) {
      if (err instanceof RuntimeFailure) throw err;
      if (err instanceof KubeApiError && err.status === 404) throw new RuntimeFailure('the cluster has no nvidia.com API group: the Dynamo operator (its CRDs) is not installed.');
      this.version = 'v1alpha1';
    }
  }

  private get ns(): string {
    return this.o.client.conn.namespace;
  }

  private dgdPath(): string {
    return `/apis/nvidia.com/${this.version}/namespaces/${this.ns}/dynamographdeployments/${this.o.dgdName}`;
  }

  /** The DGD as the readers see it (a v1beta1 object is mapped to the v1alpha1 shape), and as stored. */
  async readDgd(signal?: AbortSignal): Promise<Dgd> {
    return (await this.readBoth(signal)).view;
  }

  private async readBoth(signal?: AbortSignal): Promise<{ view: Dgd; raw: Dgd | DgdV1beta1 }> {
    try {
      const raw = await this.o.client.call<unknown>('get', this.dgdPath(), 'dynamographdeployments.nvidia.com', undefined, signal);
      const spec = (raw as { spec?: { services?: unknown; components?: unknown } } | null)?.spec;
      const shaped = this.version === 'v1beta1' ? Array.isArray(spec?.components) : typeof spec?.services === 'object' && spec.services !== null && !Array.isArray(spec.services);
      if (!shaped) {
        const what = this.version === 'v1beta1' ? 'spec.components list' : 'spec.services map';
        throw new KubeApiError(0, 'get', 'dynamographdeployments.nvidia.com', `GET ${this.dgdPath()}: the answer is not a DynamoGraphDeployment (no ${what})`, 'k8s_bad_response');
      }
      const uid = ((raw as Dgd).metadata as { uid?: unknown } | undefined)?.uid;
      if (typeof uid === 'string') this.uid = uid;
      return { raw: raw as Dgd | DgdV1beta1, view: this.version === 'v1beta1' ? fromV1beta1(raw as DgdV1beta1) : (raw as Dgd) };
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) {
        throw new KubeApiError(404, 'get', 'dynamographdeployments.nvidia.com',
          `DynamoGraphDeployment ${this.ns}/${this.o.dgdName} not found; check DYN_PARENT_DGD_K8S_NAME and the service-account namespace.`);
      }
      throw err;
    }
  }

  async init(): Promise<DeploymentInfo> {
    await this.discoverVersion();
    let dgd: Dgd;
    try {
      dgd = await this.readDgd();
    } catch (err) {
      throw new RuntimeFailure(`environment kubernetes: ${(err as Error).message}`);
    }
    const gpus: Record<Pool, number | null> = { prefill: this.o.configGpus.prefill, decode: this.o.configGpus.decode };
    const models: string[] = [];
    try {
      for (const pool of this.pools) {
        const key = findPoolService(dgd, pool, this.o.backend);
        this.services[pool] = key;
        const svc = dgd.spec!.services![key];
        const fromDgd = gpusPerReplica(svc);
        if (fromDgd !== null && fromDgd > 0) gpus[pool] = fromDgd;
        if (gpus[pool] === null) throw new DgdError(`service ${key} declares no GPUs (resources.limits.gpu) and config ${pool}_engine_num_gpu is null; set one of them.`);
        const m = modelNameOf(svc);
        if (m) models.push(m);
      }
    } catch (err) {
      throw new RuntimeFailure(`DynamoGraphDeployment ${this.ns}/${this.o.dgdName}: ${(err as Error).message}`);
    }
    if (new Set(models).size > 1) throw new RuntimeFailure(`DynamoGraphDeployment ${this.ns}/${this.o.dgdName}: prefill and decode serve different models (${[...new Set(models)].join(' vs ')}).`);
    let modelName: string | null = models[0] ?? null;
    const cfgModel = this.o.configModelName?.toLowerCase() ?? null;
    if (modelName && cfgModel && modelName !== cfgModel) {
      throw new RuntimeFailure(`config model_name '${this.o.configModelName}' does not match the DGD's model '${modelName}'; fix model_name or remove it.`);
    }
    modelName ??= cfgModel;
    return {
      prefillGpus: gpus.prefill,
      decodeGpus: gpus.decode,
      modelName,
      routerMetricsUrl: frontendMetricsUrl(dgd, this.o.dgdName),
      services: { ...this.services },
    };
  }

  async view(signal?: AbortSignal): Promise<DeploymentView> {
    const dgd = await this.readDgd(signal);
    const count = (pool: Pool) => {
      const svc = this.services[pool];
      if (!svc) return null;
      const n = readyReplicas(dgd, svc);
      // A count the API server could never report is a bad answer, not a worker count to plan from.
      if (!Number.isSafeInteger(n) || n < 0) {
        throw new KubeApiError(0, 'get', 'dynamographdeployments.nvidia.com', `DynamoGraphDeployment ${this.ns}/${this.o.dgdName}: status.services.${svc} reports ${JSON.stringify(n)} replicas`, 'k8s_bad_response');
      }
      return n;
    };
    const conditions = dgd.status?.conditions;
    return { prefill: count('prefill'), decode: count('decode'), ready: Array.isArray(conditions) && isReady(dgd) };
  }

  /**
   * Scale one pool. `dgd` is the copy read at the start of this apply; after a merge patch of the
   * DGD its resourceVersion is advanced to the server's answer, so the next pool's conditional
   * patch in the same apply is not refused as stale by our own write.
   */
  private async patchPool(dgd: Dgd, raw: Dgd | DgdV1beta1, service: string, replicas: number, signal?: AbortSignal): Promise<void> {
    const scalePath = `/apis/nvidia.com/${this.version}/namespaces/${this.ns}/dynamographdeploymentscalingadapters/${this.o.dgdName}-${service.toLowerCase()}/scale`;
    try {
      await this.o.client.call('patch', scalePath, 'dynamographdeploymentscalingadapters/scale', { spec: { replicas } }, signal);
      return;
    } catch (err) {
      // Only a 404 means "no scaling adapter" (older operator or adapter disabled); a 403 does not.
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    }
    // resourceVersion makes the patch conditional, so a concurrent writer yields a 409.
    const rv = dgd.metadata?.resourceVersion;
    let updated: Dgd | null;
    if (this.version === 'v1beta1') {
      // components is a list: a JSON Patch at the component's index, guarded by a test of its name.
      const i = componentIndex(raw as DgdV1beta1, service);
      if (i < 0) throw new DgdError(`component ${service} is no longer in the DGD`);
      const ops: unknown[] = [{ op: 'test', path: `/spec/components/${i}/name`, value: service }];
      if (rv) ops.push({ op: 'replace', path: '/metadata/resourceVersion', value: rv });
      ops.push({ op: 'add', path: `/spec/components/${i}/replicas`, value: replicas });
      updated = await this.o.client.call<Dgd | null>('patch', this.dgdPath(), 'dynamographdeployments.nvidia.com', ops, signal, 'application/json-patch+json');
    } else {
      const body = rv ? { metadata: { resourceVersion: rv }, spec: { services: { [service]: { replicas } } } } : { spec: { services: { [service]: { replicas } } } };
      updated = await this.o.client.call<Dgd | null>('patch', this.dgdPath(), 'dynamographdeployments.nvidia.com', body, signal);
    }
    const newRv = updated?.metadata?.resourceVersion;
    if (dgd.metadata) dgd.metadata.resourceVersion = typeof newRv === 'string' ? newRv : undefined;
  }

  /** Write the last-decision annotation (a merge patch of metadata only: no precondition, no replicas). */
  async annotate(value: string, signal?: AbortSignal): Promise<void> {
    await this.o.client.call('patch', this.dgdPath(), 'dynamographdeployments.nvidia.com', { metadata: { annotations: { [DECISION_ANNOTATION]: value } } }, signal);
  }

  async apply(target: ScaleTarget, ctx: ApplyContext): Promise<ApplyOutcome> {
    const maxConflicts = this.o.maxConflictRetries ?? 3;
    const written: ScaleTarget = {};
    const previous: ScaleTarget = {};
    try {
      for (let attempt = 0; ; attempt++) {
        const { view: dgd, raw } = await this.readBoth(ctx.signal);
        if (!isReady(dgd) && ctx.duringRollout !== 'write') return { status: 'not_ready', message: `DynamoGraphDeployment ${this.ns}/${this.o.dgdName} is not Ready; decision dropped as the original does.` };
        const changes = this.pools.filter((p) => target[p] !== undefined && specReplicas(dgd, this.services[p]!) !== target[p]);
        if (changes.length === 0) return Object.keys(written).length ? { status: 'applied', written, previous } : { status: 'unchanged' };
        try {
          for (const pool of changes) {
            previous[pool] ??= specReplicas(dgd, this.services[pool]!);
            await this.patchPool(dgd, raw, this.services[pool]!, target[pool]!, ctx.signal);
            written[pool] = target[pool];
          }
          return { status: 'applied', written, previous };
        } catch (err) {
          // 409: someone else changed the DGD; read it again and re-check before writing.
          if (err instanceof KubeApiError && err.status === 409 && attempt < maxConflicts) continue;
          throw err;
        }
      }
    } catch (err) {
      const kind = err instanceof KubeApiError ? err.kind : 'k8s_bad_response';
      return { status: 'failed', errorKind: kind, message: (err as Error).message, written: Object.keys(written).length ? written : undefined, previous: Object.keys(previous).length ? previous : undefined };
    }
  }

  async waitReady(signal?: AbortSignal): Promise<boolean> {
    const pollMs = this.o.readyPollMs ?? 10_000;
    const maxPolls = this.o.readyMaxPolls ?? 180;
    for (let i = 0; i < maxPolls; i++) {
      await sleep(pollMs, signal);
      if (signal?.aborted) return false;
      try {
        if (isReady(await this.readDgd(signal))) return true;
      } catch {
        // A failed poll counts as not ready yet.
      }
    }
    return false;
  }
}
