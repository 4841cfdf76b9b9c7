// Pure reading of a v1alpha1 DynamoGraphDeployment (spec.services keyed by
// service name, each with componentType/subComponentType and replicas): which services are the
// prefill/decode pools, GPUs per replica, model name, frontend metrics URL, readiness, counts.
import type { Backend, Mode } from '../config/schema.js';
import type { Pool } from './types.js';

export interface DgdService {
  componentType?: string;
  subComponentType?: string;
  replicas?: number;
  resources?: { limits?: { gpu?: string | number }; requests?: { gpu?: string | number } };
  extraPodSpec?: { mainContainer?: { args?: string[] } };
  [k: string]: unknown;
}

export interface Dgd {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: { services?: Record<string, DgdService> };
  status?: {
    conditions?: { type?: string; status?: string }[];
    services?: Record<string, { availableReplicas?: number; readyReplicas?: number; updatedReplicas?: number; replicas?: number }>;
  };
}

export const LEGACY_SERVICE_NAMES: Record<Backend, Record<Pool, string>> = {
  vllm: { prefill: 'VllmPrefillWorker', decode: 'VllmDecodeWorker' },
  sglang: { prefill: 'prefill', decode: 'decode' },
  trtllm: { prefill: 'TRTLLMPrefillWorker', decode: 'TRTLLMDecodeWorker' },
  mocker: { prefill: 'prefill', decode: 'decode' },
};

/** Pools the planner writes in each mode (agg scales the decode component only). */
export function managedPools(mode: Mode): Pool[] {
  switch (mode) {
    case 'disagg': return ['prefill', 'decode'];
    case 'prefill': return ['prefill'];
    case 'decode': case 'agg': return ['decode'];
  }
}

export class DgdError extends Error {
  override readonly name = 'DgdError';
}

/** The service key of a pool: by subComponentType, else the backend's legacy name. */
export function findPoolService(dgd: Dgd, pool: Pool, backend: Backend): string {
  const services = dgd.spec?.services ?? {};
  const matches = Object.entries(services).filter(([, s]) => s?.subComponentType === pool).map(([k]) => k);
  if (matches.length > 1) throw new DgdError(`DGD has ${matches.length} services with subComponentType "${pool}" (${matches.join(', ')}); exactly one is allowed.`);
  if (matches.length === 1) return matches[0];
  const legacy = LEGACY_SERVICE_NAMES[backend][pool];
  const svc = services[legacy];
  if (svc && !svc.subComponentType) return legacy;
  throw new DgdError(`DGD has no ${pool} service: set subComponentType: ${pool} on it (or name it ${legacy} for backend ${backend}).`);
}

/** GPUs per replica: limits.gpu, else requests.gpu; null when the service declares none. */
export function gpusPerReplica(svc: DgdService): number | null {
  // `limits.gpu or requests.gpu` upstream: an empty or zero limit falls through to the request.
  const present = (v: string | number | undefined) => v !== undefined && v !== null && v !== '' && Number(v) !== 0;
  const limit = svc.resources?.limits?.gpu;
  const raw = present(limit) ? limit : svc.resources?.requests?.gpu ?? limit;
  if (raw === undefined || raw === null || raw === '') return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new DgdError(`resources gpu '${raw}' is not a whole number`);
  return n;
}

/** POSIX-shell-like splitting of one argument string (quotes and backslashes), as shlex.split. */
export function shellSplit(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote === "'") { if (c === "'") quote = null; else cur += c; continue; }
    if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < s.length && '"\\$`'.includes(s[i + 1])) cur += s[++i];
      else cur += c;
      continue;
    }
    if (/\s/.test(c)) { if (inWord) { out.push(cur); cur = ''; inWord = false; } continue; }
    inWord = true;
    if (c === "'" || c === '"') quote = c;
    else if (c === '\\' && i + 1 < s.length) cur += s[++i];
    else cur += c;
  }
  if (quote) throw new DgdError(`unterminated quote in container args: ${s}`);
  if (inWord) out.push(cur);
  return out;
}

/** --served-model-name, else --model-name, else --model (lower-cased); null when none. */
export function modelNameOf(svc: DgdService): string | null {
  const args = (svc.extraPodSpec?.mainContainer?.args ?? []).flatMap((a) => shellSplit(String(a)));
  for (const flag of ['--served-model-name', '--model-name', '--model']) {
    for (let i = 0; i < args.length; i++) {
      if (args[i] === flag && i + 1 < args.length) return args[i + 1].toLowerCase();
      if (args[i].startsWith(flag + '=')) return args[i].slice(flag.length + 1).toLowerCase();
    }
  }
  return null;
}

export function frontendMetricsUrl(dgd: Dgd, dgdName: string): string | null {
  const entry = Object.entries(dgd.spec?.services ?? {}).find(([, s]) => s?.componentType === 'frontend');
  return entry ? `http://${dgdName}-${entry[0].toLowerCase()}:8000/metrics` : null;
}

export function isReady(dgd: Dgd): boolean {
  return (dgd.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Ready workers: availableReplicas, else readyReplicas, else 0. */
export function readyReplicas(dgd: Dgd, service: string): number {
  const s = dgd.status?.services?.[service];
  return s?.availableReplicas ?? s?.readyReplicas ?? 0;
}

export function specReplicas(dgd: Dgd, service: string): number {
  return dgd.spec?.services?.[service]?.replicas ?? 0;
}

// ---------------------------------------------------------------- nvidia.com/v1beta1

export type DgdApiVersion = 'v1alpha1' | 'v1beta1';

interface V1beta1Container { name?: string; args?: unknown[]; resources?: { limits?: Record<string, unknown>; requests?: Record<string, unknown> } }

export interface V1beta1Component {
  name: string;
  /** frontend | worker | prefill | decode | planner | epp (prefill and decode replace subComponentType). */
  type?: string;
  replicas?: number;
  scalingAdapter?: unknown;
  podTemplate?: { spec?: { containers?: V1beta1Container[] } };
  [k: string]: unknown;
}

export interface DgdV1beta1 {
  apiVersion?: string;
  metadata?: Dgd['metadata'];
  spec?: { components?: V1beta1Component[]; [k: string]: unknown };
  status?: { conditions?: { type?: string; status?: string }[]; components?: NonNullable<Dgd['status']>['services'] };
}

function gpuOf(values: Record<string, unknown> | undefined): string | number | undefined {
  const v = values?.['nvidia.com/gpu'];
  return typeof v === 'string' || typeof v === 'number' ? v : undefined;
}

/**
 * A v1beta1 DGD seen through the v1alpha1 shape the readers above use: components keyed by name,
 * type prefill/decode as subComponentType, the main container's GPU limit and args.
 */
export function fromV1beta1(dgd: DgdV1beta1): Dgd {
  const components = Array.isArray(dgd.spec?.components) ? dgd.spec!.components! : [];
  const services: Record<string, DgdService> = {};
  for (const c of components) {
    if (!c || typeof c.name !== 'string') continue;
    const containers = c.podTemplate?.spec?.containers ?? [];
    const main = containers.find((k) => k?.name === 'main') ?? containers[0];
    const pool = c.type === 'prefill' || c.type === 'decode' ? c.type : undefined;
    const limit = gpuOf(main?.resources?.limits);
    const request = gpuOf(main?.resources?.requests);
    services[c.name] = {
      componentType: pool ? 'worker' : c.type,
      ...(pool && { subComponentType: pool }),
      ...(c.replicas !== undefined && { replicas: c.replicas }),
      ...((limit !== undefined || request !== undefined) && { resources: { limits: { gpu: limit }, requests: { gpu: request } } }),
      extraPodSpec: { mainContainer: { args: (main?.args ?? []).map(String) } },
    };
  }
  return {
    metadata: dgd.metadata,
    spec: { services },
    status: { conditions: dgd.status?.conditions, services: dgd.status?.components },
  };
}

/** Index of a component in spec.components, for a JSON Patch; -1 when absent. */
export function componentIndex(dgd: DgdV1beta1, name: string): number {
  return (dgd.spec?.components ?? []).findIndex((c) => c?.name === name);
}
