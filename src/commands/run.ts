// `sla-planner run --config <X>`: the planner daemon, the DGD sidecar service.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { loadConfig, applyDerivedRules, budgetShortfall, MIN_SCRAPE_PERIOD_MS, type PlannerConfig } from '../config/index.js';
import { InputError, RuntimeFailure, errorMessage } from '../util/errors.js';
import { numberFlag, parseCommandArgs, requireFlag } from '../util/args.js';
import { Planner } from '../scaling/planner.js';
import { warmUpPredictors } from '../predict/index.js';
import { trafficPredictors } from '../scaling/forecast.js';
import { TrafficObserver } from '../observe/prometheus.js';
import { RouterSampler } from '../observe/router.js';
import { KubeClient, KubernetesActuator, inClusterConnection, type KubeConnection } from '../actuate/kubernetes.js';
import { kubeconfigFiles, loadKubeconfig } from '../actuate/kubeconfig.js';
import { KubernetesReporter } from '../actuate/report.js';
import { EtcdJson, JsonlSink, VirtualActuator, parseEtcdEndpoints } from '../actuate/virtual.js';
import { GlobalPlannerActuator } from '../actuate/global.js';
import { SerialActuator } from '../actuate/serial.js';
import type { Actuator } from '../actuate/types.js';
import { Daemon } from '../runtime/daemon.js';
import { collectStartupGarbage } from '../runtime/memory.js';
import { Logger, predictorNotices } from '../runtime/log.js';
import type { Command } from './types.js';
import { buildInterpolators, loadProfileDir, unreachableTargets } from '../profile-data/index.js';

const USAGE = `Usage: sla-planner run --config <file|inline JSON> [options]

Runs the planner daemon: reads traffic from Prometheus every throughput_adjustment_interval and
per-worker router gauges every load_adjustment_interval, decides replicas with the SLA planner
logic and scales the deployment (environment: kubernetes, virtual or global-planner).

Options:
  --config <X>               PlannerConfig file (.json/.yaml) or inline JSON (required)
  --profile-dir <dir>        profile data to size from (overrides the config's profile_results_dir)
  --dry-run                  decide and log, never scale (same as no_operation: true)
  --metrics-port <n>         port of /metrics, /healthz, /readyz (default metric_reporting_prometheus_port;
                             0 = no HTTP server, as the original)
  --metrics-host <ip>        address that server binds (default 0.0.0.0, so Prometheus and the kubelet's
                             probes reach the pod IP; 127.0.0.1 keeps it on the pod's loopback)
  --api-server <url>         Kubernetes API URL (default in-cluster; env SLA_PLANNER_K8S_API_URL). The token,
                             CA and namespace files can be moved with SLA_PLANNER_K8S_{TOKEN,CA,NAMESPACE}_FILE.
  --kubeconfig <file>        Run outside the cluster with this kubeconfig (default: env KUBECONFIG, else
                             ~/.kube/config, used when not in a cluster). Token, client-certificate and exec
                             plugin credentials, as kubectl.
  --context <name>           kubeconfig context (default its current-context)
  --namespace <ns>           namespace of the DGD (default the context's, else default)
  --dgd <name>               the DynamoGraphDeployment to read and scale (default env DYN_PARENT_DGD_K8S_NAME)
  --etcd-endpoints <list>    virtual: etcd URLs, comma-separated (default env ETCD_ENDPOINTS)
  --decisions-out <file|->   virtual: also append every decision as a JSON line to a file or stdout
  --global-planner-url <u>   global-planner: URL that receives the ScaleRequest JSON as a POST
                             (default env SLA_PLANNER_GLOBAL_PLANNER_URL)
  --prometheus-timeout-ms <n>  deadline of one PromQL query, connect to last byte (default 5000, at most 600000)

Shadow mode from a laptop: run --dry-run --kubeconfig ~/.kube/config --dgd <name> --metrics-port 9085 reads
the real DGD and Prometheus (metric_pulling_prometheus_endpoint, e.g. a kubectl port-forward) and logs,
exports and serves on /status what it would do; a dry run writes nothing to the cluster (no scaling, no
Events, no annotation).

HTTP (--metrics-port): /metrics, /healthz, /readyz, /status (JSON: replicas per pool, the last decision of
each loop with its reason, open faults, config summary, version).

Env: DYN_PARENT_DGD_K8S_NAME (kubernetes, global-planner), POD_NAMESPACE (global-planner),
SCALING_CHECK_INTERVAL / SCALING_MAX_WAIT_TIME (s; rollout wait of blocking scaling).
SIGTERM/SIGINT stop the daemon cleanly (exit 0).

Faults never stop the daemon: an unreachable etcd at start-up is retried with back-off (/readyz
answers 503 and names it), and every bad or missing answer from Prometheus, the router, etcd, the
API server or the global planner is a counted, named hold.

Exit codes:
  0  clean stop (SIGTERM/SIGINT)
  1  runtime failure: a deployment it cannot manage (e.g. load scaling without a router URL)
  2  usage or input error, one sentence naming it: bad config, profile data, flags or environment
     variables, or environment kubernetes outside a cluster with no kubeconfig
`;

const SECONDS = (raw: string | undefined, dflt: number, name: string): number => {
  if (raw === undefined || raw === '') return dflt;
  const v = Number(raw);
  // Timers hold at most 2^31-1 ms (24.8 days); longer ones fire at once.
  if (!Number.isFinite(v) || v <= 0 || v * 1000 > MAX_TIMER_MS) throw new InputError(`env ${name} must be a positive number of seconds up to ${Math.floor(MAX_TIMER_MS / 1000)}, got '${raw}'.`);
  return v * 1000;
};

const MAX_TIMER_MS = 2 ** 31 - 1;

/** An http(s) URL given on the command line or in the environment; `source` names it. */
function httpUrlFlag(raw: string, source: string): string {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw new InputError(`${source} '${raw}' is not an http(s) URL; write it as http(s)://host:port.`);
  }
  return raw;
}

/** --metrics-host: an IP address of this machine (or localhost). */
function bindAddress(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (raw !== 'localhost' && isIP(raw) === 0) throw new InputError(`--metrics-host '${raw}' is not an IP address; give one such as 0.0.0.0 (all interfaces, the default), 127.0.0.1 or ::.`);
  return raw;
}

function loadInterpolators(config: PlannerConfig, warn: (message: string) => void) {
  // Loaded only when throughput scaling is on, as upstream (load-only runs need no profile).
  const data = loadProfileDir(config.profile_results_dir);
  for (const w of unreachableTargets({ ttftMs: config.ttft, itlMs: config.itl }, data)) warn(w);
  return buildInterpolators(data);
}

function buildActuator(config: PlannerConfig, flags: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): Actuator {
  const checkMs = SECONDS(env.SCALING_CHECK_INTERVAL, 10_000, 'SCALING_CHECK_INTERVAL');
  const maxWaitMs = SECONDS(env.SCALING_MAX_WAIT_TIME, 1_800_000, 'SCALING_MAX_WAIT_TIME');
  const gpus = { prefill: config.prefill_engine_num_gpu, decode: config.decode_engine_num_gpu };
  switch (config.environment) {
    case 'kubernetes': {
      const dgdName = (flags.dgd as string | undefined) ?? env.DYN_PARENT_DGD_K8S_NAME;
      if (!dgdName) throw new InputError('environment kubernetes needs the DynamoGraphDeployment to scale: env DYN_PARENT_DGD_K8S_NAME (the operator sets it) or --dgd <name>.');
      const apiServer = flags['api-server'] as string | undefined;
      if (apiServer !== undefined) httpUrlFlag(apiServer, '--api-server');
      else if (env.SLA_PLANNER_K8S_API_URL) httpUrlFlag(env.SLA_PLANNER_K8S_API_URL, 'env SLA_PLANNER_K8S_API_URL');
      const client = new KubeClient(kubeConnection(flags, env));
      return new KubernetesActuator({
        client, dgdName, backend: config.backend, mode: config.mode, configModelName: config.model_name, configGpus: gpus,
        readyPollMs: checkMs, readyMaxPolls: Math.max(1, Math.floor(maxWaitMs / checkMs)),
      });
    }
    case 'virtual': {
      const flag = flags['etcd-endpoints'] as string | undefined;
      const endpoints = flag ?? env.ETCD_ENDPOINTS;
      const out = flags['decisions-out'] as string | undefined;
      if (!endpoints && !out) throw new InputError('environment virtual needs somewhere to write decisions: --etcd-endpoints / env ETCD_ENDPOINTS, or --decisions-out <file|->.');
      const etcd = endpoints ? new EtcdJson(parseEtcdEndpoints(endpoints, flag !== undefined ? '--etcd-endpoints' : 'env ETCD_ENDPOINTS')) : undefined;
      return new VirtualActuator({
        dynamoNamespace: config.namespace, mode: config.mode, backend: config.backend, modelName: config.model_name, gpus, routerMetricsUrl: config.load_router_metrics_url,
        etcd, sink: out ? new JsonlSink(out) : undefined, maxWaitMs, checkIntervalMs: checkMs,
      });
    }
    case 'global-planner': {
      const flag = flags['global-planner-url'] as string | undefined;
      const url = flag ?? env.SLA_PLANNER_GLOBAL_PLANNER_URL;
      if (url) httpUrlFlag(url, flag !== undefined ? '--global-planner-url' : 'env SLA_PLANNER_GLOBAL_PLANNER_URL');
      if (!url) throw new InputError(`environment global-planner: the original calls ${config.global_planner_namespace}.GlobalPlanner.scale_request over the Dynamo request plane, which sla-planner cannot speak; give --global-planner-url (or env SLA_PLANNER_GLOBAL_PLANNER_URL) of an HTTP bridge that accepts the ScaleRequest JSON.`);
      const dgd = env.DYN_PARENT_DGD_K8S_NAME;
      const podNs = env.POD_NAMESPACE;
      if (!dgd || !podNs) throw new InputError('environment global-planner needs env DYN_PARENT_DGD_K8S_NAME and POD_NAMESPACE (sent in the ScaleRequest).');
      return new GlobalPlannerActuator({
        url, callerNamespace: config.namespace, graphDeploymentName: dgd, k8sNamespace: podNs, mode: config.mode, gpus, modelName: config.model_name, routerMetricsUrl: config.load_router_metrics_url,
      });
    }
  }
}

export const command: Command = {
  name: 'run',
  usage: USAGE,
  async run(argv) {
    const { values } = parseCommandArgs('run', argv, {
      config: { type: 'string' },
      'profile-dir': { type: 'string' },
      'dry-run': { type: 'boolean' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      'api-server': { type: 'string' },
      'etcd-endpoints': { type: 'string' },
      'decisions-out': { type: 'string' },
      'global-planner-url': { type: 'string' },
      'prometheus-timeout-ms': { type: 'string' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string' },
      dgd: { type: 'string' },
    });
    // Listen for SIGTERM/SIGINT from the start: start-up (reading the DGD with retries, the
    // predictor warm-up) can take a while, and a pod being deleted then must still exit 0 at once.
    let started = false;
    const stopSignal = new Promise<string>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    void stopSignal.then(() => {
      if (!started) process.exit(0);
    });
    const env = process.env;
    const source = requireFlag('run', 'config', values.config);
    const { config: loaded, warnings, unworkable } = loadConfig(source, { strict: false, env });
    const profileDir = values['profile-dir'];
    if (profileDir === '') throw new InputError("--profile-dir is empty; give the profiler's output directory.");
    const config: PlannerConfig = {
      ...loaded,
      ...(values['dry-run'] ? { no_operation: true } : {}),
      ...(profileDir !== undefined ? { profile_results_dir: profileDir } : {}),
    };
    const logger = new Logger(undefined, config.log_dir);
    // What cannot work still starts (the original does), but says so where nobody misses it.
    const loud = (message: string) => {
      logger.error('config_cannot_work', { message });
      process.stderr.write(`sla-planner run: warning: ${message}\n`);
    };
    for (const w of warnings) {
      if (unworkable.includes(w)) loud(w);
      else logger.warn('config_warning', { message: w });
    }
    // `run` warns about the combinations the original only discovers at start-up, then refuses them.
    const startup = applyDerivedRules(config, { strict: false }).startup;
    if (startup.length) throw new InputError(`${source.length > 80 ? 'config' : source}: ${startup.join(' ')}`);
    const port = numberFlag('run', 'metrics-port', values['metrics-port'], { integer: true, min: 0, max: 65535 }) ?? config.metric_reporting_prometheus_port;
    const host = bindAddress(values['metrics-host']);
    const promTimeoutMs = numberFlag('run', 'prometheus-timeout-ms', values['prometheus-timeout-ms'], { integer: true, min: 1, max: 600_000 }) ?? 5000;

    const promTls = config.enable_throughput_scaling ? prometheusTls(config) : undefined;
    if (promTls && !promTls.verify && config.metric_pulling_prometheus_endpoint.startsWith('https:')) {
      logger.warn('config_warning', { message: 'Prometheus is queried over https without certificate verification (as the original); set metric_pulling_prometheus_ssl_verify (and metric_pulling_prometheus_ca_bundle for a private CA).' });
    }
    const interpolators = config.enable_throughput_scaling ? loadInterpolators(config, (message) => logger.warn('config_warning', { message })) : undefined;
    const inner = buildActuator(config, values, env);
    const actuator = new SerialActuator(inner, config.no_operation);
    const info = await actuator.init();
    // The DGD's GPUs per replica can make a budget that looked fine too small.
    const shortfall = budgetShortfall(config, { prefill: info.prefillGpus, decode: info.decodeGpus });
    if (shortfall && !unworkable.some((u) => u.endsWith(shortfall))) loud(`${'with the deployment\'s GPUs per replica'}: ${shortfall}`);
    for (const pool of ['prefill', 'decode'] as const) {
      const g = pool === 'prefill' ? info.prefillGpus : info.decodeGpus;
      if (g === null) logger.warn('config_warning', { message: `${pool}_engine_num_gpu unknown (dry run without a DGD); GPUs per replica taken as 1 for the budget.` });
    }
    if (info.modelName === null && config.enable_throughput_scaling && config.throughput_metrics_source === 'frontend') {
      logger.warn('config_warning', { message: 'model_name is unknown: frontend series are filtered on dynamo_namespace only; set model_name to filter on the model too.' });
    }
    const predictors = trafficPredictors(config, predictorNotices(logger));
    if (config.load_predictor_warmup_trace && config.enable_throughput_scaling) {
      try {
        const intervals = await warmUpPredictors(predictors, config.load_predictor_warmup_trace, config.throughput_adjustment_interval);
        logger.info('predictor_warmup', { trace: config.load_predictor_warmup_trace, intervals });
      } catch (err) {
        // As the original: a bad warm-up trace is a warning and the predictors start cold.
        logger.warn('predictor_warmup_failed', { trace: config.load_predictor_warmup_trace, error: errorMessage(err) });
      }
    }
    const planner = new Planner({
      config: { ...config, model_name: info.modelName },
      interpolators,
      predictors,
      gpusPerReplica: { prefill: info.prefillGpus ?? 1, decode: info.decodeGpus ?? 1 },
    });
    const traffic = config.enable_throughput_scaling
      ? new TrafficObserver({
        endpoint: config.metric_pulling_prometheus_endpoint, intervalS: config.throughput_adjustment_interval, source: config.throughput_metrics_source,
        modelName: info.modelName, dynamoNamespace: config.namespace, timeoutMs: promTimeoutMs, numReqSource: config.num_req_source,
        tls: promTls, tokenFile: config.metric_pulling_prometheus_token_file ?? undefined,
      })
      : undefined;
    const routerUrl = config.load_router_metrics_url ?? info.routerMetricsUrl;
    if (config.enable_load_scaling && !routerUrl) throw new RuntimeFailure('load scaling is on but no router metrics URL: set load_router_metrics_url (the DGD has no componentType: frontend service to derive it from).');
    let router: RouterSampler | undefined;
    const daemonRef: { d?: Daemon } = {};
    if (config.enable_load_scaling && routerUrl) {
      router = new RouterSampler({
        // Never more often than every MIN_SCRAPE_PERIOD_MS, whatever load_metric_samples asks.
        url: routerUrl, periodMs: Math.max(MIN_SCRAPE_PERIOD_MS, (config.load_adjustment_interval * 1000) / config.load_metric_samples),
        keep: Math.min(config.load_metric_samples, Math.ceil((config.load_adjustment_interval * 1000) / MIN_SCRAPE_PERIOD_MS)),
        // The buffer spans one load interval; anything older than 1.5 intervals is stale.
        maxAgeMs: config.load_adjustment_interval * 1500,
        onError: (err) => { daemonRef.d?.metrics.dataSourceErrors.inc({ kind: err.kind }); logger.fault(`source:${err.kind}`, { kind: err.kind, error: err.message }); },
        onSample: () => logger.recoverPrefix('source:router_'),
      });
    }
    const reporter = inner instanceof KubernetesActuator && !config.no_operation && (config.kubernetes_events || config.dgd_decision_annotation)
      ? new KubernetesReporter({
        client: inner.client, actuator: inner, events: config.kubernetes_events, annotation: config.dgd_decision_annotation,
        onError: (kind, err) => { daemonRef.d?.metrics.dataSourceErrors.inc({ kind }); logger.fault(`source:${kind}`, { kind, error: err.message }); },
        onWritten: (kind) => logger.recover(`source:${kind}`),
      })
      : undefined;
    const deployment = inner instanceof KubernetesActuator
      ? { kind: 'DynamoGraphDeployment', name: inner.dgdName, namespace: inner.namespace, api_version: `nvidia.com/${inner.apiVersion}` }
      : undefined;
    const daemon = new Daemon({
      config, planner, actuator, info, traffic, router, logger, httpPort: port, httpHost: host, reporter, deployment,
      onReady: () => void collectStartupGarbage(),
    });
    daemonRef.d = daemon;

    // Never crash on something unexpected from outside: log it, count it, carry on.
    const onInternal = (err: unknown) => {
      daemon.metrics.dataSourceErrors.inc({ kind: 'internal' });
      logger.error('internal_error', { error: errorMessage(err) });
    };
    process.on('unhandledRejection', onInternal);
    process.on('uncaughtException', onInternal);

    await daemon.start();
    started = true;
    const signal = await stopSignal;
    logger.info('stopping', { signal });
    // Hard stop: whatever is still running after 4.5 s is abandoned, so the pod exits within 5 s.
    setTimeout(() => process.exit(0), 4500).unref();
    await daemon.stop(3000);
    return 0;
  },
};

/** TLS settings of the Prometheus connection; an unreadable CA bundle is a start-up error. */
function prometheusTls(config: PlannerConfig): { verify: boolean; ca?: string } {
  const file = config.metric_pulling_prometheus_ca_bundle;
  if (!file) return { verify: config.metric_pulling_prometheus_ssl_verify };
  try {
    return { verify: true, ca: readFileSync(file, 'utf8') };
  } catch (err) {
    throw new InputError(`metric_pulling_prometheus_ca_bundle: cannot read '${file}' (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}); mount the CA bundle there or unset the field.`);
  }
}

/**
 * The Kubernetes connection: in the pod's service account when in a cluster (or --api-server),
 * else a kubeconfig (--kubeconfig, KUBECONFIG, ~/.kube/config), as the original loads in-cluster
 * config first and kubeconfig second.
 */
function kubeConnection(flags: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): KubeConnection {
  const kubeconfig = flags.kubeconfig as string | undefined;
  const context = flags.context as string | undefined;
  const namespace = flags.namespace as string | undefined;
  const inCluster = !!(flags['api-server'] || env.SLA_PLANNER_K8S_API_URL || env.KUBERNETES_SERVICE_HOST);
  if (kubeconfig || context || !inCluster) {
    if (!kubeconfig && !context && !kubeconfigFiles({ env }).some((f) => existsSync(f))) {
      throw new InputError(`environment kubernetes: not in a cluster (KUBERNETES_SERVICE_HOST unset) and no kubeconfig (${kubeconfigFiles({ env }).join(', ')} missing); pass --kubeconfig <file>, or --api-server <url> with SLA_PLANNER_K8S_TOKEN_FILE.`);
    }
    return loadKubeconfig({ path: kubeconfig, context, namespace, env }).connection;
  }
  const conn = inClusterConnection(env, flags['api-server'] as string | undefined);
  return namespace ? { ...conn, namespace } : conn;
}
