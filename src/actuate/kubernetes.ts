// The kubernetes environment: read and scale the parent DynamoGraphDeployment with the
// service-account credentials mounted in the pod (token, CA and
// namespace under /var/run/secrets/kubernetes.io/serviceaccount).
import { readFileSync, existsSync } from 'node:fs';
import type { Dispatcher } from 'undici';
import type { Backend, Mode } from '../config/schema.js';
import { RuntimeFailure } from '../util/errors.js';
import { sleep } from '../util/sleep.js';
import {
  type Dgd, DgdError, findPoolService, frontendMetricsUrl, gpusPerReplica, isReady, managedPools, modelNameOf, readyReplicas, specReplicas,
} from './dgd.js';
import type { Actuator, ApplyContext, ApplyOutcome, DeploymentInfo, DeploymentView, Pool, ScaleTarget } from './types.js';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const GROUP_VERSION = 'nvidia.com/v1alpha1';

export interface KubeConnection {
  apiUrl: string;
  tokenPath: string;
  caPath: string;
  namespace: string;
}

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
      if (this.conn.apiUrl.startsWith('https:') && existsSync(this.conn.caPath)) {
        const { Agent } = await loadUndici();
        this.dispatcher = new Agent({ connect: { ca: readFileSync(this.conn.caPath, 'utf8') } });
      }
    }
    return this.dispatcher;
  }

  private token(): string {
    // Re-read every call: projected service-account tokens rotate.
    try {
      return readFileSync(this.conn.tokenPath, 'utf8').trim();
    } catch {
      throw new KubeApiError(401, 'read', 'token', `service-account token file ${this.conn.tokenPath} is not readable; mount the service account or set SLA_PLANNER_K8S_TOKEN_FILE.`);
    }
  }

  async call<T>(verb: 'get' | 'patch', path: string, resource: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const retries = this.opts.retries ?? 3;
    let delay = this.opts.backoffMs ?? 500;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once<T>(verb, path, resource, body, signal);
      } catch (err) {
        // 429: API priority-and-fairness throttling, which asks the client to come back.
        const retryable = err instanceof KubeApiError && (err.status >= 500 || err.status === 0 || err.status === 429);
        if (!retryable || attempt >= retries || signal?.aborted) throw err;
        await sleep(delay, signal);
        delay *= 2;
      }
    }
  }

  private async once<T>(verb: 'get' | 'patch', path: string, resource: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    const headers: Record<string, string> = { authorization: `Bearer ${this.token()}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/merge-patch+json';
    let res: Dispatcher.ResponseData;
    try {
      const { request } = await loadUndici();
      res = await request(this.conn.apiUrl + path, {
        method: verb === 'get' ? 'GET' : 'PATCH',
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
    if (res.statusCode === 401) message = `Kubernetes API rejected the service-account token (401) for ${verb} ${resource}: ${detail}`;
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
}

export class KubernetesActuator implements Actuator {
  readonly name = 'kubernetes';
  private services: Partial<Record<Pool, string>> = {};
  private readonly pools: Pool[];

  constructor(private readonly o: KubernetesActuatorOptions) {
    this.pools = managedPools(o.mode);
  }

  private get ns(): string {
    return this.o.client.conn.namespace;
  }

  private dgdPath(): string {
    return `/apis/${GROUP_VERSION}/namespaces/${this.ns}/dynamographdeployments/${this.o.dgdName}`;
  }

  async readDgd(signal?: AbortSignal): Promise<Dgd> {
    try {
      return await this.o.client.call<Dgd>('get', this.dgdPath(), 'dynamographdeployments.nvidia.com', undefined, signal);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) {
        throw new KubeApiError(404, 'get', 'dynamographdeployments.nvidia.com',
          `DynamoGraphDeployment ${this.ns}/${this.o.dgdName} not found; check DYN_PARENT_DGD_K8S_NAME and the service-account namespace.`);
      }
      throw err;
    }
  }

  async init(): Promise<DeploymentInfo> {
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
  private async patchPool(dgd: Dgd, service: string, replicas: number, signal?: AbortSignal): Promise<void> {
    const scalePath = `/apis/${GROUP_VERSION}/namespaces/${this.ns}/dynamographdeploymentscalingadapters/${this.o.dgdName}-${service.toLowerCase()}/scale`;
    try {
      await this.o.client.call('patch', scalePath, 'dynamographdeploymentscalingadapters/scale', { spec: { replicas } }, signal);
      return;
    } catch (err) {
      // Only a 404 means "no scaling adapter" (older operator or adapter disabled); a 403 does not.
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    }
    // resourceVersion makes the merge patch conditional, so a concurrent writer yields a 409.
    const rv = dgd.metadata?.resourceVersion;
    const body = rv ? { metadata: { resourceVersion: rv }, spec: { services: { [service]: { replicas } } } } : { spec: { services: { [service]: { replicas } } } };
    const updated = await this.o.client.call<Dgd | null>('patch', this.dgdPath(), 'dynamographdeployments.nvidia.com', body, signal);
    const newRv = updated?.metadata?.resourceVersion;
    if (dgd.metadata) dgd.metadata.resourceVersion = typeof newRv === 'string' ? newRv : undefined;
  }

  async apply(target: ScaleTarget, ctx: ApplyContext): Promise<ApplyOutcome> {
    const maxConflicts = this.o.maxConflictRetries ?? 3;
    const written: ScaleTarget = {};
    try {
      for (let attempt = 0; ; attempt++) {
        const dgd = await this.readDgd(ctx.signal);
        if (!isReady(dgd)) return { status: 'not_ready', message: `DynamoGraphDeployment ${this.ns}/${this.o.dgdName} is not Ready; decision dropped as the original does.` };
        const changes = this.pools.filter((p) => target[p] !== undefined && specReplicas(dgd, this.services[p]!) !== target[p]);
        if (changes.length === 0) return Object.keys(written).length ? { status: 'applied', written } : { status: 'unchanged' };
        try {
          for (const pool of changes) {
            await this.patchPool(dgd, this.services[pool]!, target[pool]!, ctx.signal);
            written[pool] = target[pool];
          }
          return { status: 'applied', written };
        } catch (err) {
          // 409: someone else changed the DGD; read it again and re-check before writing.
          if (err instanceof KubeApiError && err.status === 409 && attempt < maxConflicts) continue;
          throw err;
        }
      }
    } catch (err) {
      const kind = err instanceof KubeApiError ? err.kind : 'k8s_error';
      return { status: 'failed', errorKind: kind, message: (err as Error).message, written: Object.keys(written).length ? written : undefined };
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
