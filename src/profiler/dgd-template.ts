// The one DynamoGraphDeployment template for a disaggregated vLLM deployment with sla-planner as its
// planner service. `profile` fills it with the chosen parallelism and its ConfigMap names; the
// shipped examples (config/deploy/dgd.yaml, the deploy/ overlays) are generated from it, so the two
// cannot drift. v1alpha1 is the form the pinned operator reads; v1beta1 is the same deployment in
// the current upstream shape (spec.components, podTemplate), for clusters that serve it.

/** Placeholder until the project publishes an image; replace with your registry's tag. */
export const PLANNER_IMAGE = 'ghcr.io/sla-planner/sla-planner:0.1.0';
/** Placeholder tag, as in Dynamo's own example DGDs. */
export const DEFAULT_RUNTIME_IMAGE = 'nvcr.io/nvidia/ai-dynamo/vllm-runtime:my-tag';
export const PLANNER_CONFIG_MOUNT = '/workspace/planner_config';
export const PROFILE_DATA_MOUNT = '/workspace/profiling_results';
export const PLANNER_CONFIG_KEY = 'planner_config.json';
/** The planner's metrics port: the operator sets PLANNER_PROMETHEUS_PORT=9085 and names the port "metrics". */
export const PLANNER_METRICS_PORT = 9085;
/** The Hugging Face token secret the workers read (kubectl create secret generic hf-token-secret ...). */
export const HF_TOKEN_SECRET = 'hf-token-secret';
const KV_TRANSFER_CONFIG = '{"kv_connector":"NixlConnector","kv_role":"kv_both"}';

export interface DgdTemplateInput {
  name: string;
  /** Hugging Face id the workers load. */
  modelId: string;
  runtimeImage: string;
  plannerImage?: string;
  prefillTp: number;
  decodeTp: number;
  /** --max-model-len on the workers, when below the model's own limit. */
  maxModelLen?: number;
  plannerConfigMap: string;
  profileDataConfigMap: string;
}

type Obj = Record<string, unknown>;

function worker(t: DgdTemplateInput, role: 'prefill' | 'decode'): Obj {
  const tp = role === 'prefill' ? t.prefillTp : t.decodeTp;
  const args = ['-m', 'dynamo.vllm', '--model', t.modelId, '--tensor-parallel-size', String(tp)];
  if (t.maxModelLen !== undefined) args.push('--max-model-len', String(t.maxModelLen));
  // Both engines of a disaggregated pair speak NIXL to move the KV cache.
  args.push('--disaggregation-mode', role, '--kv-transfer-config', KV_TRANSFER_CONFIG);
  return {
    componentType: 'worker',
    subComponentType: role,
    replicas: 1,
    // The planner writes replicas through the scaling adapter's scale subresource.
    scalingAdapter: { enabled: true },
    envFromSecret: HF_TOKEN_SECRET,
    resources: { limits: { gpu: String(tp) } },
    extraPodSpec: {
      mainContainer: { image: t.runtimeImage, workingDir: '/workspace/examples/backends/vllm', command: ['python3'], args },
    },
  };
}

const probe = (path: string, port: number, periodSeconds: number) => ({ httpGet: { path, port }, periodSeconds });

/** The planner service: `sla-planner run` with its config and the profile data mounted from their ConfigMaps. */
function plannerService(t: { plannerImage?: string; plannerConfigMap: string; profileDataConfigMap: string }): Obj {
  return {
    componentType: 'planner',
    replicas: 1,
    extraPodSpec: {
      mainContainer: {
        image: t.plannerImage ?? PLANNER_IMAGE,
        command: ['sla-planner', 'run', '--config', `${PLANNER_CONFIG_MOUNT}/${PLANNER_CONFIG_KEY}`],
        readinessProbe: probe('/readyz', PLANNER_METRICS_PORT, 10),
        livenessProbe: probe('/healthz', PLANNER_METRICS_PORT, 30),
        volumeMounts: [
          { name: t.plannerConfigMap, mountPath: PLANNER_CONFIG_MOUNT, readOnly: true },
          { name: t.profileDataConfigMap, mountPath: PROFILE_DATA_MOUNT, readOnly: true },
        ],
      },
      volumes: [
        { name: t.plannerConfigMap, configMap: { name: t.plannerConfigMap } },
        { name: t.profileDataConfigMap, configMap: { name: t.profileDataConfigMap } },
      ],
    },
  };
}

/** The DGD in the pinned v1alpha1 shape (spec.services keyed by service name). */
export function vllmDisaggDgd(t: DgdTemplateInput): Obj {
  return {
    apiVersion: 'nvidia.com/v1alpha1',
    kind: 'DynamoGraphDeployment',
    metadata: { name: t.name },
    spec: {
      backendFramework: 'vllm',
      services: {
        Frontend: {
          componentType: 'frontend',
          replicas: 1,
          extraPodSpec: {
            // The KV router gives the per-worker load gauges that load scaling reads.
            mainContainer: { image: t.runtimeImage, command: ['python3'], args: ['-m', 'dynamo.frontend', '--http-port', '8000', '--router-mode', 'kv'] },
          },
        },
        Planner: plannerService(t),
        VllmDecodeWorker: worker(t, 'decode'),
        VllmPrefillWorker: worker(t, 'prefill'),
      },
    },
  };
}

export interface MockerDgdInput {
  name: string;
  /** Served model name of the mock pool (what the planner's model filter reads). */
  modelId: string;
  plannerImage?: string;
  /** Image that runs `sla-planner mocker` (default: the planner's). */
  mockerImage?: string;
  plannerConfigMap: string;
  profileDataConfigMap: string;
}

/**
 * A mocker deployment: one Frontend service runs sla-planner's mocker, the whole pool of mock
 * engines timed from the profile data behind an OpenAI-compatible endpoint on port 8000 (with
 * /metrics there, as a Dynamo frontend), and the planner scales it through the virtual
 * environment's etcd keys (ETCD_ENDPOINTS, which the operator gives Dynamo components). No GPUs.
 */
export function mockerDgd(t: MockerDgdInput): Obj {
  const profileVolume = { name: t.profileDataConfigMap, configMap: { name: t.profileDataConfigMap } };
  const profileMount = { name: t.profileDataConfigMap, mountPath: PROFILE_DATA_MOUNT, readOnly: true };
  return {
    apiVersion: 'nvidia.com/v1alpha1',
    kind: 'DynamoGraphDeployment',
    metadata: { name: t.name },
    spec: {
      backendFramework: 'mocker',
      services: {
        Frontend: {
          componentType: 'frontend',
          replicas: 1,
          extraPodSpec: {
            mainContainer: {
              image: t.mockerImage ?? t.plannerImage ?? PLANNER_IMAGE,
              command: ['sla-planner', 'mocker', '--profile-dir', PROFILE_DATA_MOUNT, '--config', `${PLANNER_CONFIG_MOUNT}/${PLANNER_CONFIG_KEY}`,
                '--host', '0.0.0.0', '--port', '8000', '--model', t.modelId],
              readinessProbe: probe('/health', 8000, 10),
              volumeMounts: [{ name: t.plannerConfigMap, mountPath: PLANNER_CONFIG_MOUNT, readOnly: true }, profileMount],
            },
            volumes: [{ name: t.plannerConfigMap, configMap: { name: t.plannerConfigMap } }, profileVolume],
          },
        },
        Planner: plannerService(t),
      },
    },
  };
}

/**
 * The same deployment as nvidia.com/v1beta1: a components list with type prefill/decode, each
 * with a pod template whose container "main" carries image, args, env and the GPU limit.
 */
export function toV1beta1(dgd: Obj): Obj {
  const spec = dgd.spec as { backendFramework?: string; services: Record<string, Obj> };
  const components = Object.entries(spec.services).map(([name, s]) => {
    const pod = (s.extraPodSpec ?? {}) as { mainContainer?: Obj; volumes?: unknown[] };
    const main: Obj = { name: 'main', ...(pod.mainContainer ?? {}) };
    const gpu = (s.resources as { limits?: { gpu?: string } } | undefined)?.limits?.gpu;
    if (gpu !== undefined) main.resources = { limits: { 'nvidia.com/gpu': gpu } };
    if (s.envFromSecret) main.envFrom = [{ secretRef: { name: s.envFromSecret } }];
    const type = (s.subComponentType as string | undefined) ?? (s.componentType as string);
    return {
      name,
      type,
      replicas: s.replicas,
      ...(s.scalingAdapter ? { scalingAdapter: {} } : {}),
      podTemplate: { spec: { containers: [main], ...(pod.volumes ? { volumes: pod.volumes } : {}) } },
    };
  });
  return { apiVersion: 'nvidia.com/v1beta1', kind: 'DynamoGraphDeployment', metadata: dgd.metadata, spec: { backendFramework: spec.backendFramework, components } };
}

/** The service account the Dynamo operator runs `componentType: planner` services as. */
export const PLANNER_SERVICE_ACCOUNT = 'planner-serviceaccount';

/**
 * Least privilege for the planner of one DGD: get and patch that DGD only, patch the scale
 * subresource of its workers' scaling adapters only (named <dgd>-<service, lower case>), and create
 * and patch Events (their names are generated, so they cannot be pinned by resourceNames).
 */
export function plannerRbac(dgdName: string, workerServices: string[]): Record<string, unknown>[] {
  const role = `sla-planner-${dgdName}`.slice(0, 253);
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: PLANNER_SERVICE_ACCOUNT } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: role },
      rules: [
        { apiGroups: ['nvidia.com'], resources: ['dynamographdeployments'], resourceNames: [dgdName], verbs: ['get', 'patch'] },
        {
          apiGroups: ['nvidia.com'], resources: ['dynamographdeploymentscalingadapters/scale'],
          resourceNames: workerServices.map((svc) => `${dgdName}-${svc.toLowerCase()}`), verbs: ['patch'],
        },
        { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: role },
      subjects: [{ kind: 'ServiceAccount', name: PLANNER_SERVICE_ACCOUNT }],
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role },
    },
  ];
}

/** The worker services of a v1alpha1 DGD (the pools whose scaling adapters the planner patches). */
export function workerServiceNames(dgd: Obj): string[] {
  const services = ((dgd.spec as { services?: Record<string, Obj> } | undefined)?.services) ?? {};
  return Object.entries(services).filter(([, svc]) => svc.componentType === 'worker').map(([name]) => name).sort();
}
