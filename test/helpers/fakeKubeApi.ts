// The API-server rules the fake Kubernetes server enforces beyond routing: RBAC from a Role (as the
// authorizer checks verb, group, resource and subresource), strict field validation (unknown
// fields are a 400 with fieldValidation=Strict, dropped with a Warning otherwise), events.k8s.io/v1
// validation (as the API server's ValidateEventCreate/Update for v1) and RFC 6902 JSON Patch.
import { readFileSync } from 'node:fs';
import YAML from 'yaml';

export interface StatusBody { kind: 'Status'; apiVersion: 'v1'; status: 'Failure'; message: string; reason: string; code: number; details?: unknown }
export const statusBody = (code: number, reason: string, message: string): StatusBody => ({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code });

export class ApiFailure extends Error {
  constructor(readonly code: number, readonly reason: string, message: string) {
    super(message);
  }
}

// ---------------------------------------------------------------- RBAC

export interface RbacRule { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }

/** Rules of every Role in a YAML file (a kustomize base's rbac.yaml). */
export function rulesFromRoleFile(path: string): RbacRule[] {
  return YAML.parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => d.toJS() as { kind?: string; rules?: RbacRule[] })
    .filter((d) => d?.kind === 'Role' || d?.kind === 'ClusterRole')
    .flatMap((d) => d.rules ?? []);
}

export interface ResourceRequest { group: string; version: string; namespace?: string; resource: string; name?: string; subresource?: string; collection: boolean }

/** /apis/{group}/{version}/namespaces/{ns}/{resource}[/{name}[/{sub}]] (and /api/v1/...). */
export function parseResourcePath(path: string): ResourceRequest | null {
  const m = /^\/(?:apis\/([^/]+)|api)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+)(?:\/([^/]+))?)?$/.exec(path);
  if (!m) return null;
  return { group: m[1] ?? '', version: m[2], namespace: m[3], resource: m[4], name: m[5], subresource: m[6], collection: m[5] === undefined };
}

export function verbOf(method: string, collection: boolean): string {
  switch (method) {
    case 'GET': return collection ? 'list' : 'get';
    case 'POST': return 'create';
    case 'PATCH': return 'patch';
    case 'PUT': return 'update';
    case 'DELETE': return collection ? 'deletecollection' : 'delete';
    default: return method.toLowerCase();
  }
}

export function allowed(rules: RbacRule[], req: ResourceRequest, verb: string): boolean {
  const resource = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  return rules.some((r) =>
    (r.apiGroups.includes(req.group) || r.apiGroups.includes('*'))
    && (r.resources.includes(resource) || r.resources.includes('*'))
    && (r.verbs.includes(verb) || r.verbs.includes('*'))
    && (!r.resourceNames?.length || (req.name !== undefined && r.resourceNames.includes(req.name))));
}

export function forbidden(req: ResourceRequest, verb: string, user: string): ApiFailure {
  const resource = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  const what = req.name ? `${req.resource}${req.group ? `.${req.group}` : ''} "${req.name}"` : `${req.resource}${req.group ? `.${req.group}` : ''}`;
  return new ApiFailure(403, 'Forbidden', `${what} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${req.group}" in the namespace "${req.namespace}"`);
}

// ---------------------------------------------------------------- strict field validation

/** A schema of known fields: `true` = any value; an object = known keys; `[schema]` = list of; `{'*': schema}` = map of. */
export type FieldSchema = true | { [key: string]: FieldSchema } | [FieldSchema];

export function unknownFields(value: unknown, schema: FieldSchema, path = ''): string[] {
  if (schema === true || value === null || typeof value !== 'object') return [];
  if (Array.isArray(schema)) return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, schema[0], `${path}[${i}]`)) : [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const sub = schema[k] ?? schema['*'];
    if (sub === undefined) out.push(path ? `${path}.${k}` : k);
    else out.push(...unknownFields(v, sub, path ? `${path}.${k}` : k));
  }
  return out;
}

const OBJECT_META: FieldSchema = {
  name: true, generateName: true, namespace: true, uid: true, resourceVersion: true, generation: true, creationTimestamp: true,
  deletionTimestamp: true, deletionGracePeriodSeconds: true, labels: true, annotations: true, ownerReferences: true, finalizers: true, managedFields: true,
};
const OBJECT_REFERENCE: FieldSchema = { kind: true, namespace: true, name: true, uid: true, apiVersion: true, resourceVersion: true, fieldPath: true };

export const EVENT_SCHEMA: FieldSchema = {
  apiVersion: true, kind: true, metadata: OBJECT_META, eventTime: true, series: { count: true, lastObservedTime: true },
  reportingController: true, reportingInstance: true, action: true, reason: true, regarding: OBJECT_REFERENCE, related: OBJECT_REFERENCE,
  note: true, type: true, deprecatedSource: { component: true, host: true }, deprecatedFirstTimestamp: true, deprecatedLastTimestamp: true, deprecatedCount: true,
};

// The DGD fields our planner and the operator's CRD schema know (v1alpha1 services, v1beta1 components).
const SERVICE_V1ALPHA1: FieldSchema = {
  componentType: true, subComponentType: true, replicas: true, resources: true, extraPodSpec: true, envs: true, envFromSecret: true,
  multinode: true, scalingAdapter: { enabled: true }, livenessProbe: true, readinessProbe: true, annotations: true, labels: true, volumeMounts: true,
  ingress: true, modelRef: true, sharedMemory: true, extraPodMetadata: true, globalDynamoNamespace: true, dynamoNamespace: true, eppConfig: true,
  frontendSidecar: true, checkpoint: true, topologyConstraint: true, autoscaling: true, serviceName: true, dynamoComponent: true, pvc: true,
};
const COMPONENT_V1BETA1: FieldSchema = {
  name: true, type: true, replicas: true, podTemplate: true, scalingAdapter: true, multinode: true, globalDynamoNamespace: true, topologyConstraint: true,
  sharedMemory: true, modelRef: true, experimental: true, eppConfig: true, frontendSidecar: true, checkpoint: true, compilationCache: true,
};
export const DGD_SCHEMA: Record<'v1alpha1' | 'v1beta1', FieldSchema> = {
  v1alpha1: {
    apiVersion: true, kind: true, metadata: OBJECT_META, status: true,
    spec: { services: { '*': SERVICE_V1ALPHA1 }, envs: true, backendFramework: true, pvcs: true, annotations: true, labels: true, restart: true, topologyConstraint: true },
  },
  v1beta1: {
    apiVersion: true, kind: true, metadata: OBJECT_META, status: true,
    spec: { components: [COMPONENT_V1BETA1], env: true, backendFramework: true, annotations: true, labels: true, restart: true, topologyConstraint: true, providerOverride: true, priorityClassName: true, experimental: true },
  },
};

// ---------------------------------------------------------------- events.k8s.io/v1

const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;
const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export type EventObject = Record<string, unknown> & {
  metadata: { name: string; namespace: string; resourceVersion?: string; uid?: string; creationTimestamp?: string };
  series?: { count?: number; lastObservedTime?: string };
};

/** The field errors a v1 create gets from the API server (empty = valid). */
export function validateEventCreate(ev: EventObject, namespace: string): string[] {
  const errs: string[] = [];
  const md = ev.metadata ?? {};
  if (!md.name || md.name.length > 253 || !DNS_SUBDOMAIN.test(md.name)) errs.push(`metadata.name: Invalid value: "${md.name}": a lowercase RFC 1123 subdomain is required`);
  if (md.namespace !== undefined && md.namespace !== namespace) errs.push('metadata.namespace: Invalid value: does not match the namespace of the request');
  if (typeof ev.eventTime !== 'string' || !MICRO_TIME.test(ev.eventTime)) errs.push(`eventTime: Required value (RFC 3339 with microseconds), got ${JSON.stringify(ev.eventTime)}`);
  if (ev.type !== 'Normal' && ev.type !== 'Warning') errs.push(`type: Invalid value: "${ev.type}"`);
  for (const f of ['deprecatedFirstTimestamp', 'deprecatedLastTimestamp', 'deprecatedCount', 'deprecatedSource']) if (ev[f] !== undefined) errs.push(`${f}: Invalid value: needs to be unset`);
  const controller = ev.reportingController as string | undefined;
  if (!controller) errs.push('reportingController: Required value');
  else if (!QUALIFIED_NAME.test(controller)) errs.push(`reportingController: Invalid value: "${controller}": must be a qualified name`);
  const instance = ev.reportingInstance as string | undefined;
  if (!instance) errs.push('reportingInstance: Required value');
  else if (instance.length > 128) errs.push('reportingInstance: Invalid value: can have at most 128 characters');
  for (const f of ['action', 'reason'] as const) {
    const v = ev[f] as string | undefined;
    if (!v) errs.push(`${f}: Required value`);
    else if (v.length > 128) errs.push(`${f}: Invalid value: can have at most 128 characters`);
  }
  if (typeof ev.note === 'string' && ev.note.length > 1024) errs.push('note: Invalid value: can have at most 1024 characters');
  const reg = ev.regarding as { namespace?: string } | undefined;
  if (!reg?.namespace ? namespace !== 'default' && namespace !== 'kube-system' : reg.namespace !== namespace) errs.push('regarding.namespace: Invalid value: does not match event.namespace');
  errs.push(...validateSeries(ev));
  return errs;
}

function validateSeries(ev: EventObject): string[] {
  if (ev.series === undefined) return [];
  const errs: string[] = [];
  if (!Number.isInteger(ev.series.count) || (ev.series.count as number) < 2) errs.push('series.count: Invalid value: should be at least 2');
  if (typeof ev.series.lastObservedTime !== 'string' || !MICRO_TIME.test(ev.series.lastObservedTime)) errs.push('series.lastObservedTime: Required value');
  return errs;
}

const IMMUTABLE_EVENT_FIELDS = ['regarding', 'related', 'reason', 'note', 'type', 'eventTime', 'action', 'reportingController', 'reportingInstance'];

export function validateEventUpdate(next: EventObject, prev: EventObject): string[] {
  const errs = IMMUTABLE_EVENT_FIELDS
    .filter((f) => JSON.stringify(next[f]) !== JSON.stringify(prev[f]))
    .map((f) => `${f}: Invalid value: field is immutable`);
  if (JSON.stringify(next.series) !== JSON.stringify(prev.series)) errs.push(...validateSeries(next));
  return errs;
}

// ---------------------------------------------------------------- patches

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export interface JsonPatchOp { op: string; path: string; value?: unknown; from?: string }

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new ApiFailure(422, 'Invalid', `JSON Patch path "${path}" does not start with /`);
  return path.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** RFC 6902 add/replace/remove/test; a failed test or a missing path is a 422, as the API server answers. */
export function applyJsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new ApiFailure(400, 'BadRequest', 'a JSON Patch must be an array of operations');
  const root = structuredClone(doc) as Record<string, unknown>;
  for (const raw of ops as JsonPatchOp[]) {
    const parts = pointer(raw.path);
    const last = parts.pop();
    let parent: unknown = root;
    for (const p of parts) {
      parent = (parent as Record<string, unknown>)?.[p];
      if (parent === undefined || parent === null) throw new ApiFailure(422, 'Invalid', `the server rejected our request due to an error in our request: path ${raw.path} not found`);
    }
    if (last === undefined) throw new ApiFailure(422, 'Invalid', 'JSON Patch on the document root is not supported');
    const container = parent as Record<string, unknown> | unknown[];
    const key = Array.isArray(container) ? (last === '-' ? container.length : Number(last)) : last;
    const exists = Array.isArray(container) ? Number.isInteger(key) && (key as number) < container.length : Object.prototype.hasOwnProperty.call(container, key);
    switch (raw.op) {
      case 'test':
        if (!exists || JSON.stringify((container as Record<string, unknown>)[key as string]) !== JSON.stringify(raw.value)) {
          throw new ApiFailure(422, 'Invalid', `the server rejected our request due to an error in our request: testing value ${raw.path} failed`);
        }
        break;
      case 'add':
        if (Array.isArray(container)) container.splice(key as number, 0, raw.value);
        else container[key as string] = raw.value;
        break;
      case 'replace':
        if (!exists) throw new ApiFailure(422, 'Invalid', `the server rejected our request due to an error in our request: replace operation does not apply: doc is missing key: ${raw.path}`);
        (container as Record<string, unknown>)[key as string] = raw.value;
        break;
      case 'remove':
        if (!exists) throw new ApiFailure(422, 'Invalid', `the server rejected our request due to an error in our request: remove operation does not apply: doc is missing path: ${raw.path}`);
        if (Array.isArray(container)) container.splice(key as number, 1);
        else delete container[key as string];
        break;
      default:
        throw new ApiFailure(422, 'Invalid', `JSON Patch operation "${raw.op}" is not supported by this fake`);
    }
  }
  return root;
}
