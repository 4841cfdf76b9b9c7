// The planner daemon: a collector (Prometheus traffic, router gauges), a decider (the pure Planner)
// and a scaler (one serialising Actuator), driven by two fixed-rate loops, with its own /metrics,
// /healthz and /readyz. Nothing from outside (Prometheus, router, API server) can crash it: every
// failure becomes a hold with a reason, a counter and one log line per episode.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PlannerConfig } from '../config/schema.js';
import { plannedOf, predictedOf, type Decision, type PlannerState, type ReplicaCounts } from '../scaling/decision.js';
import { HoldOnMissingData } from '../scaling/extensions/hold-on-missing-data.js';
import type { IntervalObservation, RouterSnapshot } from '../scaling/observation.js';
import type { Actuator, ApplyOutcome, DeploymentInfo, DeploymentReporter, DeploymentView, ScaleTarget } from '../actuate/types.js';
import { InputError } from '../util/errors.js';
import { sleep } from '../util/sleep.js';
import type { HistogramResult, TrafficResult } from '../observe/prometheus.js';
import { FixedRateLoop } from './schedule.js';
import { Logger } from './log.js';
import { PlannerMetrics } from './metrics.js';
import { DecisionStatus, type DecisionRecord, type TickLoop } from './status.js';
import { VERSION } from '../util/version.js';

/** What the daemon needs from the decision code (the Planner class satisfies it). */
export interface DecisionEngine {
  decideThroughput(obs: IntervalObservation, current: ReplicaCounts): Decision;
  decideLoad(samples: RouterSnapshot[], current: ReplicaCounts): Decision;
  state(): PlannerState;
  /** The environment did not take the last decision: it must not count as asked for. */
  notTaken?(): void;
}

export interface TrafficSource {
  observe(): Promise<TrafficResult>;
  /** The frontend histograms bucket by bucket (the sla strategy's inputs); optional. */
  observeHistograms?(): Promise<HistogramResult>;
}

export interface RouterSource {
  start(): void;
  stop(): void;
  samples(): RouterSnapshot[];
}

export interface DaemonOptions {
  config: PlannerConfig;
  planner: DecisionEngine;
  actuator: Actuator;
  info: DeploymentInfo;
  traffic?: TrafficSource;
  router?: RouterSource;
  logger?: Logger;
  metrics?: PlannerMetrics;
  /** Port of /metrics, /healthz, /readyz; 0 = none (the original's default), -1 = any free port. */
  httpPort: number;
  /** Address the HTTP server binds (default 0.0.0.0: Prometheus scrapes the pod IP). */
  httpHost?: string;
  /** Events and the last-decision annotation (kubernetes, not in a dry run). */
  reporter?: DeploymentReporter;
  /** The object scaled, shown in /status (kubernetes: the DGD's kind, name, namespace, api_version). */
  deployment?: Record<string, string>;
  /** Back-off of the environment's start-up connection (first delay, cap), ms. */
  connectBackoffMs?: { first: number; max: number };
  /** Called once, the first time the daemon is ready (run: collect start-up garbage). */
  onReady?: () => void;
  /** Override the loop periods (tests); default from the config, in seconds. */
  throughputPeriodMs?: number;
  loadPeriodMs?: number;
}

export type { TickLoop };

export class Daemon {
  readonly logger: Logger;
  readonly metrics: PlannerMetrics;
  private server: Server | undefined;
  private readonly loops: FixedRateLoop[] = [];
  private readonly abort = new AbortController();
  private observedOnce = false;
  private readyOnce = false;
  private started = false;
  /** Kind of the open fault episode of reading the environment, if any. */
  private readFault: string | null = null;
  /** The environment's own state has been read (etcd for virtual); true at once where there is none. */
  private environmentConnected: boolean;
  private readonly gpus: { prefill: number; decode: number };
  private readonly missingData: HoldOnMissingData | undefined;
  /** Every decision record, newest last (bounded), for tests and debugging. */
  readonly history: Record<string, unknown>[] = [];
  readonly status: DecisionStatus;

  constructor(private readonly o: DaemonOptions) {
    this.logger = o.logger ?? new Logger(undefined, o.config.log_dir);
    this.metrics = o.metrics ?? new PlannerMetrics(true, { names: o.config.planner_metric_names });
    this.gpus = { prefill: o.info.prefillGpus ?? 1, decode: o.info.decodeGpus ?? 1 };
    this.metrics.gpuBudget.set(o.config.max_gpu_budget);
    this.missingData = HoldOnMissingData.fromConfig(o.config);
    this.status = new DecisionStatus({ config: o.config, info: o.info, reporter: o.reporter, deployment: o.deployment });
    this.metrics.buildInfo.set({ version: VERSION, strategy: this.status.strategy, mode: o.config.mode }, 1);
    this.metrics.slaTarget.set({ metric: 'ttft' }, o.config.ttft);
    this.metrics.slaTarget.set({ metric: 'itl' }, o.config.itl);
    this.environmentConnected = !o.actuator.connect;
  }

  get ready(): boolean {
    return this.started && this.observedOnce && this.environmentConnected;
  }

  /** What /readyz is waiting for, in words. */
  private waitingFor(): string[] {
    const out: string[] = [];
    if (!this.started) out.push('start-up');
    if (!this.environmentConnected) out.push(`${this.o.actuator.name} environment state (retrying with back-off)`);
    if (!this.observedOnce) out.push('a first observation');
    return out;
  }

  private updateReady(): void {
    if (this.ready) this.metrics.ready.set(1);
  }

  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  async start(): Promise<void> {
    if (this.o.httpPort !== 0) await this.listen(this.o.httpPort < 0 ? 0 : this.o.httpPort);
    if (!this.environmentConnected) void this.connectEnvironment();
    const c = this.o.config;
    this.o.router?.start();
    if (c.enable_throughput_scaling && this.o.traffic) {
      const ms = this.o.throughputPeriodMs ?? c.throughput_adjustment_interval * 1000;
      this.loops.push(new FixedRateLoop('throughput', ms, () => this.timed('throughput', () => this.runThroughputTick()), (e) => this.internalError('throughput', e)));
    }
    if (c.enable_load_scaling && this.o.router) {
      const ms = this.o.loadPeriodMs ?? c.load_adjustment_interval * 1000;
      this.loops.push(new FixedRateLoop('load', ms, () => this.timed('load', () => this.runLoadTick()), (e) => this.internalError('load', e)));
    }
    const t0 = Date.now();
    for (const loop of this.loops) loop.start(t0);
    this.started = true;
    this.markReadyIfDone();
    this.logger.info('started', {
      environment: c.environment, mode: c.mode, loops: this.loops.map((l) => l.name), namespace: c.namespace,
      model: this.o.info.modelName, gpus_per_replica: this.gpus, http_port: this.port ?? null, http_host: this.port === undefined ? null : this.o.httpHost ?? '0.0.0.0', dry_run: c.no_operation,
    });
    // A first observation (not fed to the predictors) makes /readyz meaningful without waiting
    // a whole throughput interval.
    void this.probe();
  }

  private async probe(): Promise<void> {
    if (this.o.traffic && this.o.config.enable_throughput_scaling) {
      const r = await this.o.traffic.observe().catch((e) => ({ ok: false as const, kind: 'prometheus_bad_response' as const, message: String(e) }));
      if (r.ok) this.markObserved();
      else this.dataSourceFault(r.kind, r.message);
    } else {
      try {
        await this.o.actuator.view(this.abort.signal);
        this.markObserved();
      } catch (err) {
        const kind = (err as { kind?: unknown }).kind;
        this.dataSourceFault(typeof kind === 'string' ? kind : 'environment_read', (err as Error).message);
      }
    }
  }

  /**
   * Read the environment's state (etcd for virtual) until it works, with doubling delays: an etcd
   * that is down at start-up makes the pod unready and every tick a hold, never a crash loop.
   */
  private async connectEnvironment(): Promise<void> {
    const backoff = this.o.connectBackoffMs ?? { first: 500, max: 30_000 };
    let delay = backoff.first;
    while (!this.abort.signal.aborted) {
      try {
        await this.o.actuator.connect!(this.abort.signal);
        this.environmentConnected = true;
        this.logger.recoverPrefix('source:connect_');
        this.logger.info('environment_connected', { environment: this.o.actuator.name });
        this.markReadyIfDone();
        return;
      } catch (err) {
        const kind = (err as { kind?: unknown }).kind;
        const k = typeof kind === 'string' ? kind : 'environment';
        this.metrics.dataSourceErrors.inc({ kind: k });
        this.logger.fault(`source:connect_${k}`, { kind: k, error: (err as Error).message, retry: 'with back-off; /readyz reports it', next_try_s: delay / 1000 });
      }
      await sleep(delay, this.abort.signal);
      delay = Math.min(delay * 2, backoff.max);
    }
  }

  private markObserved(): void {
    if (!this.observedOnce) {
      this.observedOnce = true;
      this.markReadyIfDone();
    }
  }

  private markReadyIfDone(): void {
    if (this.ready) {
      this.updateReady();
      this.logger.info('ready');
      if (!this.readyOnce) {
        this.readyOnce = true;
        this.o.onReady?.();
      }
    }
  }

  /** SIGTERM/SIGINT: stop scheduling, let a running tick finish for up to graceMs, close. */
  async stop(graceMs = 3000): Promise<void> {
    this.abort.abort();
    this.o.router?.stop();
    await Promise.all(this.loops.map((l) => l.stop(graceMs)));
    if (this.server) {
      const s = this.server;
      s.closeAllConnections?.();
      await new Promise<void>((r) => s.close(() => r()));
    }
    await this.o.reporter?.flush().catch(() => undefined);
    this.logger.info('stopped');
  }

  private async timed(loop: TickLoop, fn: () => Promise<void>): Promise<void> {
    const end = this.metrics.decisionDuration.startTimer({ loop });
    try {
      await fn();
      this.logger.recover(`internal:${loop}`);
    } finally {
      end();
    }
  }

  /** A tick that threw: nothing was scaled, so it is a hold like any other, counted and recorded. */
  private internalError(loop: TickLoop, err: unknown): void {
    const message = (err as Error)?.message ?? String(err);
    this.metrics.dataSourceErrors.inc({ kind: 'internal' });
    this.logger.fault(`internal:${loop}`, { loop, error: message });
    this.hold(loop, 'internal_error', { error: message });
  }

  private dataSourceFault(kind: string, message: string, fields: Record<string, unknown> = {}): void {
    this.metrics.dataSourceErrors.inc({ kind });
    this.logger.fault(`source:${kind}`, { kind, error: message, ...fields });
  }

  private hold(loop: TickLoop, reason: string, fields: Record<string, unknown> = {}): void {
    this.metrics.holds.inc({ reason });
    this.metrics.decisions.inc({ loop, outcome: 'hold' });
    this.record({ loop, decided: false, reason: { code: reason }, ...fields });
  }

  private record(rec: Record<string, unknown>): void {
    this.history.push(rec);
    if (this.history.length > 1000) this.history.shift();
    this.logger.info('decision', rec);
    this.metrics.lastDecisionTimestamp.set({ loop: String(rec.loop) }, Date.now() / 1000);
    this.status.observe(rec as DecisionRecord);
  }

  /** Where the last view's counts came from (logged when it changes). */
  private countsSource: 'ready' | 'decided' | null = null;

  private async readView(loop: TickLoop): Promise<DeploymentView | null> {
    try {
      const view = await this.o.actuator.view(this.abort.signal);
      if (this.readFault) this.logger.recover(`source:${this.readFault}`);
      this.readFault = null;
      return view;
    } catch (err) {
      // The environment's own fault kind (k8s_timeout, etcd_unreachable, ...) when it has one.
      const kind = (err as { kind?: unknown }).kind;
      const k = typeof kind === 'string' ? kind : 'environment_read';
      // A different read fault than the open one ends that episode (one line each).
      if (this.readFault && this.readFault !== k) this.logger.recover(`source:${this.readFault}`);
      this.readFault = k;
      this.dataSourceFault(k, (err as Error).message);
      this.hold(loop, 'environment_unreadable', { error_kind: k });
      return null;
    }
  }

  private updateWorkerGauges(view: DeploymentView): ReplicaCounts {
    const counts = view.counts ?? 'ready';
    if (counts !== this.countsSource) {
      // Said once per change (not at a start on ready counts): decisions from targets rather than serving workers are worth knowing about.
      const quiet = this.countsSource === null && counts === 'ready';
      this.countsSource = counts;
      if (!quiet) this.logger.info('worker_counts', counts === 'ready'
        ? { source: 'ready', note: 'current counts are the workers serving now' }
        : { source: 'decided', note: 'the environment reports no serving workers (none registered under v1/instances/); the last decided counts stand for the current ones' });
    }
    const current = { prefill: view.prefill ?? 0, decode: view.decode ?? 0 };
    if (view.prefill !== null) this.metrics.set('numP', view.prefill);
    if (view.decode !== null) this.metrics.set('numD', view.decode);
    this.metrics.gpusInUse.set(current.prefill * this.gpus.prefill + current.decode * this.gpus.decode);
    return current;
  }

  async runThroughputTick(): Promise<void> {
    const c = this.o.config;
    const intervalS = c.throughput_adjustment_interval;
    const result = await this.o.traffic!.observe();
    if (!result.ok) {
      this.dataSourceFault(result.kind, result.message);
      this.hold('throughput', `data_source_error`, { error_kind: result.kind });
      return;
    }
    this.logger.recoverPrefix('source:prometheus_');
    this.markObserved();
    if (result.emptyFields.length) {
      this.logger.fault('empty:prometheus', {
        kind: 'no_matching_series', fields: result.emptyFields, note: 'read as 0, as the original does',
        ...(result.unmatched && {
          wanted: { dynamo_namespace: this.o.config.namespace, model: this.o.info.modelName },
          seen: result.unmatched,
          hint: 'frontend series exist but none carry this dynamo_namespace and model: the Helm dynamo-frontend PodMonitor adds the dynamo_namespace label; with another scrape set-up, or a wrong namespace/model_name, nothing matches',
        }),
      });
    }
    else this.logger.recover('empty:prometheus');
    const histograms = await this.readHistograms();
    const view = await this.readView('throughput');
    if (!view) return;
    const current = this.updateWorkerGauges(view);
    const observed: IntervalObservation = { ...result.observation, ...histograms, current_prefill: view.prefill, current_decode: view.decode };
    const obs = this.missingData?.unobserved(observed, result.emptyFields) ?? observed;
    const m = this.metrics;
    m.set('observedTtft', obs.ttft);
    m.set('observedItl', obs.itl);
    m.set('observedRate', obs.num_req == null ? null : obs.num_req / intervalS);
    m.set('observedDuration', obs.request_duration);
    m.set('observedIsl', obs.isl);
    m.set('observedOsl', obs.osl);
    const decision = this.o.planner.decideThroughput(obs, current);
    const state = this.o.planner.state();
    // The decision code accumulates GPU hours per throughput tick exactly as the original.
    m.set('gpuHours', state.gpuHours);
    m.set('pCorrection', state.correctionFactor.prefill);
    m.set('dCorrection', state.correctionFactor.decode);
    const predicted = predictedOf(decision.reason) ?? state.lastPredicted;
    if (predicted) {
      m.set('predictedRate', predicted.num_req / intervalS);
      m.set('predictedIsl', predicted.isl);
      m.set('predictedOsl', predicted.osl);
    }
    const planned = plannedOf(decision.reason);
    m.set('predictedNumP', decision.decided ? decision.prefill : planned?.prefill);
    m.set('predictedNumD', decision.decided ? decision.decode : planned?.decode);
    await this.act('throughput', decision, current, obs, false, predicted);
  }

  /**
   * The bucket series when a stage reads them (decode_sizing kv, ttft_feedback). A failure is a
   * fault to log, not a hold: those stages fall back (exponential lengths, no feedback) without them.
   */
  private async readHistograms(): Promise<Partial<IntervalObservation>> {
    const c = this.o.config;
    const traffic = this.o.traffic;
    if (!(c.decode_sizing === 'kv' || c.ttft_feedback) || !traffic?.observeHistograms) return {};
    const r = await traffic.observeHistograms().catch((e: unknown) => ({ ok: false as const, kind: 'prometheus_bad_response' as const, message: String(e) }));
    if (!r.ok) {
      this.dataSourceFault(`histograms_${r.kind}`, r.message);
      return {};
    }
    this.logger.recoverPrefix('source:histograms_');
    return r.histograms;
  }

  async runLoadTick(): Promise<void> {
    const samples = this.o.router!.samples();
    if (samples.length === 0) {
      this.hold('load', 'no_router_samples');
      return;
    }
    this.markObserved();
    const read = await this.readView('load');
    if (!read) return;
    // An environment that reports no counts (global-planner; virtual without etcd) counts the
    // workers the router reports, as the original counts registered runtime instances there.
    const latest = samples[samples.length - 1];
    const view = {
      ...read,
      prefill: read.prefill ?? (this.o.info.services.prefill === undefined && latest.prefill ? Object.keys(latest.prefill).length : null),
      decode: read.decode ?? (this.o.info.services.decode === undefined && latest.decode ? Object.keys(latest.decode).length : null),
    };
    const current = this.updateWorkerGauges(view);
    const decision = this.o.planner.decideLoad(samples, current);
    // The original's load loop waits for each rollout (a cold start) before its next tick; the
    // saturation rule counts replicas still starting instead, so it keeps watching meanwhile.
    await this.act('load', decision, current, undefined, this.o.config.load_scaling_rule !== 'saturation', undefined);
  }

  private async act(
    loop: TickLoop, decision: Decision, current: ReplicaCounts, obs: IntervalObservation | undefined, blocking: boolean,
    predicted: { num_req: number; isl: number; osl: number } | undefined,
  ): Promise<void> {
    const base = { loop, decided: decision.decided, target: { prefill: decision.prefill, decode: decision.decode }, current, reason: decision.reason, observation: obs };
    if (!decision.decided) {
      this.metrics.holds.inc({ reason: decision.reason.code });
      this.metrics.decisions.inc({ loop, outcome: 'hold' });
      this.record(base);
      return;
    }
    const target: ScaleTarget = {};
    if (decision.prefill !== null) target.prefill = decision.prefill;
    if (decision.decode !== null) target.decode = decision.decode;
    if (target.prefill !== undefined) this.metrics.targetReplicas.set({ pool: 'prefill' }, target.prefill);
    if (target.decode !== undefined) this.metrics.targetReplicas.set({ pool: 'decode' }, target.decode);
    let outcome: ApplyOutcome;
    try {
      outcome = await this.o.actuator.apply(target, {
        blocking, duringRollout: this.o.config.during_rollout, signal: this.abort.signal,
        predictedLoad: predicted ? { num_requests: predicted.num_req, isl: predicted.isl, osl: predicted.osl } : undefined,
      });
    } catch (err) {
      outcome = { status: 'failed', errorKind: 'actuator_internal', message: (err as Error).message };
    }
    this.metrics.decisions.inc({ loop, outcome: outcome.status });
    // Dropped for a rollout in progress: nothing was written (a failed write may have been, so it stays asked for).
    if (outcome.status === 'not_ready' || outcome.status === 'pending_ack') this.o.planner.notTaken?.();
    for (const f of outcome.faults ?? []) this.dataSourceFault(f.kind, f.message);
    if (outcome.status === 'failed') {
      // A failure after some pools were written (prefill patched, decode refused) says so: the
      // next tick reads the deployment afresh and writes only what still differs.
      this.dataSourceFault(outcome.errorKind ?? 'actuator', outcome.message ?? '', outcome.written ? { partially_written: outcome.written } : {});
      this.metrics.holds.inc({ reason: `actuator_${outcome.errorKind ?? 'failed'}` });
    } else {
      // A write went through; the Events and annotation writers end their own fault episodes.
      for (const key of this.logger.openFaults()) if (/^source:(k8s_(?!events|annotation)|etcd|global_planner|actuator)/.test(key)) this.logger.recover(key);
      if (outcome.status === 'not_ready' || outcome.status === 'pending_ack') this.metrics.holds.inc({ reason: outcome.status });
    }
    this.record({ ...base, actuation: outcome });
    if (blocking && outcome.status === 'applied' && this.o.actuator.waitReady) {
      // The original's load loop waits for the rollout before its next tick; our loop skips
      // the slots that pass meanwhile.
      const ok = await this.o.actuator.waitReady(this.abort.signal);
      if (!ok && !this.abort.signal.aborted) this.logger.warn('rollout_wait_timeout', { loop });
    }
  }

  private listen(port: number): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      }
      if (path === '/status') {
        const body = JSON.stringify(this.status.snapshot({ ready: this.ready, open_faults: this.logger.openFaults() }), null, 1);
        res.writeHead(200, { 'content-type': 'application/json' }).end(body + '\n');
        return;
      }
      if (path === '/readyz') {
        const body = JSON.stringify({
          ready: this.ready, started: this.started, first_observation: this.observedOnce, environment_connected: this.environmentConnected,
          waiting_for: this.waitingFor(), open_faults: this.logger.openFaults(),
        });
        res.writeHead(this.ready ? 200 : 503, { 'content-type': 'application/json' }).end(body + '\n');
        return;
      }
      // Like prometheus_client's start_http_server, any other path serves the metrics.
      this.metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text),
        (err) => res.writeHead(500).end(String(err)),
      );
    });
    this.server = server;
    const host = this.o.httpHost ?? '0.0.0.0';
    return new Promise((resolve, reject) => {
      const fail = (err: NodeJS.ErrnoException) => {
        this.server = undefined;
        const why = err.code === 'EADDRINUSE' ? 'it is in use' : err.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)'
          : err.code === 'EADDRNOTAVAIL' ? 'the address is not on this machine' : (err.code ?? err.message);
        reject(new InputError(`cannot serve /metrics on ${host}:${port}: ${why}; choose another --metrics-port / --metrics-host (or metric_reporting_prometheus_port).`));
      };
      server.once('error', fail);
      server.listen(port, host, () => {
        server.off('error', fail);
        resolve();
      });
    });
  }
}
