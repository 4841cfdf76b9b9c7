// The kubernetes environment: read and scale the parent DynamoGraphDeployment with the
// service-account credentials mounted in the pod (token, CA and
// namespace under /var/run/secrets/kubernetes.io/serviceaccount).
import { readFileSync, existsSync } from 'node:fs';
import type { Dispatcher } from 'undici';
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
const METHOD: Record<KubeVerb, string> = { get: 'GET', patch: 'PATCH', create: 'POST' };

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

export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(readonly status: number, readonly verb: string, readonly resource: string, message: string) {
    super(message);
  }
  get kind(): string {
    if (this.status === 401 || this.status === 403) return 'k8s_forbidden';
    if (this.status === 404) return 'k8s_not_found';
    if (this.status === 409) return 'k8s_conflict';
    if (this.status >= 500) return 'k8s_server_error';
    if (this.status === 0) return 'k8s_unreachable';
    return 'k8s_client_error';
  }
}

export interface KubeClientOptions {
  /** Retries of a 5xx/transport failure within one call, with doubling delays from backoffMs. */
  retries?: number;
  backoffMs?: number;
  timeoutMs?: number;
}

// undici is loaded on first use so that the other environments do not pay its ~20 MB.
let undiciModule: Promise<typeof import('undici')> | undefined;
const loadUndici = () => (undiciModule ??= import('undici'));

export class KubeClient {
  private dispatcher: Dispatcher | undefined;
  private dispatcherReady = false;
  constructor(readonly conn: KubeConnection, private readonly opts: KubeClientOptions = {}) {}

  private async agent(): Promise<Dispatcher | undefined> {
    if (!this.dispatcherReady) {
      this.dispatcherReady = true;
      if (this.conn.credentials && this.conn.apiUrl.startsWith('https:')) {
        const t = await this.conn.credentials.tls();
        const { Agent } = await loadUndici();
        this.dispatcher = new Agent({ connect: { ca: t.ca, cert: t.cert, key: t.key, rejectUnauthorized: !t.insecure, servername: t.servername } });
      } else if (this.conn.apiUrl.startsWith('https:') && existsSync(this.conn.caPath)) {
        const { Agent } = await loadUndici();
        this.dispatcher = new Agent({ connect: { ca: readFileSync(this.conn.caPath, 'utf8') } });
      }
    }
    return this.dispatcher;
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
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once<T>(verb, path, resource, body, signal, contentType);
      } catch (err) {
        // 429: API priority-and-fairness throttling, which asks the client to come back.
        const retryable = err instanceof KubeApiError && (err.status >= 500 || err.status === 0 || err.status === 429);
        if (!retryable || attempt >= retries || signal?.aborted) throw err;
        await sleep(delay, signal);
        delay *= 2;
      }
    }
  }

  private async once<T>(verb: KubeVerb, path: string, resource: string, body: unknown, signal?: AbortSignal, contentType?: string): Promise<T> {
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    const headers: Record<string, string> = { accept: 'application/json' };
    const auth = await this.authorization(signal);
    if (auth) headers.authorization = auth;
    if (body !== undefined) headers['content-type'] = contentType ?? (verb === 'create' ? 'application/json' : 'application/merge-patch+json');
    const url = this.conn.apiUrl + path + (verb === 'get' ? '' : `${path.includes('?') ? '&' : '?'}fieldValidation=Strict`);
    let res: Dispatcher.ResponseData;
    try {
      const { request } = await loadUndici();
      res = await request(url, {
        method: METHOD[verb],
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        dispatcher: await this.agent(),
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new KubeApiError(0, verb, resource, `${verb.toUpperCase()} ${path}: ${(err as Error).message}`);
    }
    const text = await res.body.text();
    if (res.statusCode >= 200 && res.statusCode < 300) {
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new KubeApiError(502, verb, resource, `${verb.toUpperCase()} ${path}: answer is not JSON`);
      }
    }
    let detail = text.slice(0, 200);
    try { detail = (JSON.parse(text) as { message?: string }).message ?? detail; } catch { /* keep raw text */ }
    const ns = this.conn.namespace;
    let message: string;
    if (res.statusCode === 401) message = `Kubernetes API rejected the ${this.conn.credentials ? `credentials of ${this.conn.credentials.origin}` : 'service-account token'} (401) for ${verb} ${resource}: ${detail}`;
    else if (res.statusCode === 403) message = `RBAC: the planner's service account may not '${verb}' ${resource} in namespace ${ns}; grant verb '${verb}' on ${resource} in the planner's Role. Server said: ${detail}`;
    else message = `${verb.toUpperCase()} ${resource} answered HTTP ${res.statusCode}: ${detail}`;
    throw new KubeApiError(res.statusCode, verb, resource, message);
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
      const group = await this.o.client.call<{ versions?: { version?: string }[] }>('get', '/apis/nvidia.com', 'apigroups');
      const served = new Set((group.versions ?? []).map((v) => v.version));
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
      const raw = await this.o.client.call<Dgd | DgdV1beta1>('get', this.dgdPath(), 'dynamographdeployments.nvidia.com', undefined, signal);
      const uid = (raw?.metadata as { uid?: unknown } | undefined)?.uid;
      if (typeof uid === 'string') this.uid = uid;
      return { raw, view: this.version === 'v1beta1' ? fromV1beta1(raw as DgdV1beta1) : (raw as Dgd) };
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
    const count = (pool: Pool) => (this.services[pool] ? readyReplicas(dgd, this.services[pool]!) : null);
    return { prefill: count('prefill'), decode: count('decode'), ready: isReady(dgd) };
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
        if (!isReady(dgd)) return { status: 'not_ready', message: `DynamoGraphDeployment ${this.ns}/${this.o.dgdName} is not Ready; decision dropped as the original does.` };
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
      const kind = err instanceof KubeApiError ? err.kind : 'k8s_error';
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
