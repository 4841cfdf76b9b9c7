// Builds the daemon in-process from real parts (config resolution, profile, Planner, Prometheus
// observer, Kubernetes actuator) with its log lines captured for assertions.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { resolveConfig } from '../../src/config/index.js';
import { buildInterpolators, loadProfileDir } from '../../src/profile-data/index.js';
import { Planner } from '../../src/scaling/planner.js';
import { TrafficObserver } from '../../src/observe/prometheus.js';
import { RouterSampler } from '../../src/observe/router.js';
import { KubeClient, KubernetesActuator, inClusterConnection } from '../../src/actuate/kubernetes.js';
import { SerialActuator } from '../../src/actuate/serial.js';
import { KubernetesReporter } from '../../src/actuate/report.js';
import type { Dgd } from '../../src/actuate/dgd.js';
import { Daemon } from '../../src/runtime/daemon.js';
import { Logger } from '../../src/runtime/log.js';
import { FakeKube } from './fakeKube.js';
import { parsePromText } from '../../src/observe/promtext.js';

export const PROFILE_DIR = 'test/fixtures/h100/llama-3.1-8b/npz';

export function fixtureDgd(): Dgd {
  const docs = YAML.parseAllDocuments(readFileSync('test/fixtures/dynamo/dgd/vllm-disagg_planner.v1alpha1.yaml', 'utf8')).map((d) => d.toJS());
  return docs.find((d) => d?.kind === 'DynamoGraphDeployment') as Dgd;
}

export async function startFakeKube(): Promise<{ kube: FakeKube; env: Record<string, string> }> {
  const kube = await new FakeKube('team-a', 'vllm-disagg-planner', fixtureDgd()).start();
  const dir = mkdtempSync(join(tmpdir(), 'sla-daemon-'));
  writeFileSync(join(dir, 'token'), kube.token);
  writeFileSync(join(dir, 'namespace'), 'team-a');
  const env = {
    SLA_PLANNER_K8S_API_URL: kube.url, SLA_PLANNER_K8S_TOKEN_FILE: join(dir, 'token'), SLA_PLANNER_K8S_NAMESPACE_FILE: join(dir, 'namespace'),
    DYN_PARENT_DGD_K8S_NAME: 'vllm-disagg-planner',
  };
  return { kube, env };
}

export interface Harness {
  daemon: Daemon;
  lines: Record<string, unknown>[];
  config: ReturnType<typeof resolveConfig>['config'];
  plannerFactory: () => Planner;
}

export async function buildDaemon(opts: {
  config: Record<string, unknown>; env: Record<string, string>; promUrl: string; routerUrl?: string; kubeBackoffMs?: number; kubeTimeoutMs?: number;
  /** Events and the last-decision annotation on the DGD, as `run` wires them. */
  reporter?: boolean;
}): Promise<Harness> {
  const { config } = resolveConfig({ environment: 'kubernetes', namespace: 'test-ns', metric_pulling_prometheus_endpoint: opts.promUrl, profile_results_dir: PROFILE_DIR, ...opts.config }, { env: {} });
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger((l) => lines.push(JSON.parse(l)));
  const kubeActuator = new KubernetesActuator({
    client: new KubeClient(inClusterConnection(opts.env), { retries: 1, backoffMs: opts.kubeBackoffMs ?? 50, timeoutMs: opts.kubeTimeoutMs ?? 2000 }),
    dgdName: opts.env.DYN_PARENT_DGD_K8S_NAME, backend: config.backend, mode: config.mode, configModelName: config.model_name,
    configGpus: { prefill: config.prefill_engine_num_gpu, decode: config.decode_engine_num_gpu }, readyPollMs: 200, readyMaxPolls: 20,
  });
  const actuator = new SerialActuator(kubeActuator, config.no_operation);
  const info = await actuator.init();
  const interpolators = config.enable_throughput_scaling ? buildInterpolators(loadProfileDir(config.profile_results_dir)) : undefined;
  const plannerFactory = () => new Planner({ config: { ...config, model_name: info.modelName }, interpolators, gpusPerReplica: { prefill: info.prefillGpus ?? 1, decode: info.decodeGpus ?? 1 } });
  const traffic = config.enable_throughput_scaling
    ? new TrafficObserver({ endpoint: opts.promUrl, intervalS: config.throughput_adjustment_interval, source: 'frontend', modelName: info.modelName, dynamoNamespace: config.namespace, timeoutMs: 1000, numReqSource: config.num_req_source })
    : undefined;
  let daemonRef: Daemon | undefined;
  const router = opts.routerUrl
    ? new RouterSampler({
      url: opts.routerUrl, periodMs: (config.load_adjustment_interval * 1000) / config.load_metric_samples, keep: config.load_metric_samples,
      maxAgeMs: config.load_adjustment_interval * 1500, timeoutMs: 500,
      onError: (e) => { daemonRef?.metrics.dataSourceErrors.inc({ kind: e.kind }); logger.fault(`source:${e.kind}`, { kind: e.kind }); },
      onSample: () => logger.recoverPrefix('source:router_'),
    })
    : undefined;
  const reporter = opts.reporter
    ? new KubernetesReporter({
      client: kubeActuator.client, actuator: kubeActuator, events: config.kubernetes_events, annotation: config.dgd_decision_annotation,
      onError: (kind, err) => logger.fault(`source:${kind}`, { kind, error: err.message }),
    })
    : undefined;
  const daemon = new Daemon({ config, planner: plannerFactory(), actuator, info, traffic, router, logger, httpPort: -1, httpHost: '127.0.0.1', reporter });
  daemonRef = daemon;
  return { daemon, lines, config, plannerFactory };
}

/** A value of one sample in Prometheus text, e.g. metricValue(text, 'sla_planner_holds_total', {reason: 'x'}). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  // The daemon's own exposition read back with the parser the router sampler uses.
  const sample = parsePromText(text).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return sample?.value;
}
