// Scaling policies the simulator can drive: a fixed allocation, the Kubernetes HPA algorithm, an
// external process speaking the `decide` line format, and our planner (the daemon's own class).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { PlannerConfig } from '../config/schema.js';
import type { IntervalObservation, RouterSnapshot } from '../scaling/observation.js';
import { POOLS, type Decision, type PredictedLoad, type ReplicaCounts } from '../scaling/decision.js';
import type { HistogramWindow } from '../scaling/moments.js';
import { applyGlobalBudget, applyPoolBudget } from '../scaling/budget.js';
import { InputError } from '../util/errors.js';
import { MAX_REPLICAS_PER_POOL } from './engine.js';
import type { HistogramSnapshot } from './metrics.js';
import type { PolicyContext, PoolCounts, PoolTargets, SimPolicy, UtilisationSample } from './types.js';

/** A fixed deployment: the initial replicas never change. */
export function staticPolicy(counts: PoolCounts): SimPolicy {
  return { name: `static:${counts.prefill},${counts.decode}` };
}

/** Parse `static:<prefill>,<decode>` (agg: `static:<replicas>` also accepted). */
export function parseStaticSpec(spec: string, flag = '--policy'): PoolCounts {
  const m = /^static:(\d+)(?:,(\d+))?$/.exec(spec.trim());
  if (!m) throw new InputError(`${flag}: '${spec}' is not a static allocation; write static:<prefill>,<decode>, e.g. static:2,4.`);
  return m[2] === undefined ? { prefill: 0, decode: Number(m[1]) } : { prefill: Number(m[1]), decode: Number(m[2]) };
}

// ---------------------------------------------------------------- HPA

export interface HpaOptions {
  /** Target utilisation (0..1) for both pools. */
  targetUtilisation: number;
  /** Kubernetes default: no change while |usage/target - 1| <= 0.1. */
  tolerance: number;
  /** Kubernetes default sync period (--horizontal-pod-autoscaler-sync-period): 15 s. */
  syncPeriodS: number;
  /** Kubernetes default scale-down stabilisation window: 300 s; scale-up has none. */
  downStabilisationS: number;
  minReplicas: number;
  maxGpuBudget: number;
  gpusPerReplica: PoolCounts;
  agg: boolean;
}

export const HPA_DEFAULTS = { targetUtilisation: 0.7, tolerance: 0.1, syncPeriodS: 15, downStabilisationS: 300 };

/**
 * One pool's desired replicas as the HPA replica calculator computes them: the usage ratio over
 * ready pods, and on a scale-up pods still starting count as idle (which damps the overshoot
 * while they boot).
 */
export function hpaDesiredReplicas(
  specReplicas: number,
  ready: number,
  starting: number,
  utilisation: number,
  target: number,
  tolerance: number,
): number {
  if (ready <= 0) return specReplicas;
  const ratio = utilisation / target;
  if (starting === 0) {
    if (Math.abs(ratio - 1) <= tolerance) return specReplicas;
    return Math.ceil(ratio * ready);
  }
  if (ratio <= 1) {
    if (Math.abs(ratio - 1) <= tolerance) return specReplicas;
    return Math.ceil(ratio * ready);
  }
  const newRatio = (utilisation * ready) / (ready + starting) / target;
  if (newRatio < 1 || Math.abs(newRatio - 1) <= tolerance) return specReplicas;
  return Math.ceil(newRatio * (ready + starting));
}

export class HpaPolicy implements SimPolicy {
  readonly name: string;
  readonly syncPeriodS: number;
  private readonly history: Record<'prefill' | 'decode', Array<{ t: number; replicas: number }>> = { prefill: [], decode: [] };

  constructor(private readonly opts: HpaOptions) {
    this.name = `hpa:${opts.targetUtilisation}`;
    this.syncPeriodS = opts.syncPeriodS;
  }

  onSync(util: UtilisationSample, ctx: PolicyContext): PoolTargets | null {
    const o = this.opts;
    const pools: Array<'prefill' | 'decode'> = o.agg ? ['decode'] : ['prefill', 'decode'];
    const out: PoolCounts = { prefill: ctx.target.prefill, decode: ctx.target.decode };
    for (const pool of pools) {
      // agg engines do both; the busier signal drives them.
      const usage = pool === 'prefill' ? util.prefillBusy : o.agg ? Math.max(util.prefillBusy, util.decodeKvUsage) : util.decodeKvUsage;
      const spec = ctx.target[pool];
      const desired = hpaDesiredReplicas(spec, util.ready[pool], util.starting[pool], usage, o.targetUtilisation, o.tolerance);
      const hist = this.history[pool];
      hist.push({ t: ctx.nowS, replicas: desired });
      while (hist.length > 0 && hist[0].t <= ctx.nowS - o.downStabilisationS) hist.shift();
      let next = desired;
      if (desired < spec) {
        // Scale-down stabilisation: the highest recommendation of the window.
        next = Math.min(spec, Math.max(...hist.map((h) => h.replicas)));
      } else if (desired > spec) {
        // Default scale-up rate: at most double or +4 pods per period, whichever is more.
        next = Math.min(desired, Math.max(2 * spec, spec + 4));
      }
      out[pool] = Math.max(o.minReplicas, next);
    }
    const limits = { maxGpuBudget: o.maxGpuBudget, minEndpoint: o.minReplicas };
    const target = `${Math.round(o.targetUtilisation * 100)}%`;
    const reason = o.agg
      ? `hpa: busy ${Math.round(Math.max(util.prefillBusy, util.decodeKvUsage) * 100)}% vs target ${target}`
      : `hpa: prefill busy ${Math.round(util.prefillBusy * 100)}%, decode KV ${Math.round(util.decodeKvUsage * 100)}% vs target ${target}`;
    if (o.agg) return { decode: applyPoolBudget(out.decode, o.gpusPerReplica.decode, limits).replicas, reason };
    const b = applyGlobalBudget(out.prefill, out.decode, o.gpusPerReplica, limits);
    return { prefill: b.prefill, decode: b.decode, reason };
  }
}

/** Parse `hpa` or `hpa:<target utilisation 0..1>`. */
export function parseHpaSpec(spec: string): number {
  if (spec === 'hpa') return HPA_DEFAULTS.targetUtilisation;
  const m = /^hpa:([0-9.]+)$/.exec(spec);
  const v = m ? Number(m[1]) : Number.NaN;
  if (!(v > 0 && v <= 1)) throw new InputError(`--policy: '${spec}' is not an HPA spec; write hpa or hpa:<target utilisation in (0, 1]>, e.g. hpa:0.7.`);
  return v;
}

// ---------------------------------------------------------------- planner

/** The part of the planner class the simulator drives (the daemon drives the same methods). */
export interface PlannerLike {
  decideThroughput(obs: IntervalObservation, current: ReplicaCounts): Decision;
  decideLoad(samples: RouterSnapshot[], current: ReplicaCounts): Decision;
  state(): { lastPredicted?: PredictedLoad };
  notTaken?(): void;
}

/**
 * What the daemon's environment does while a rollout is in progress (a replica still starting):
 * under during_rollout drop a decision that changes the targets is dropped (DGD not Ready; virtual
 * decision not yet acknowledged), and the regression load loop waits for the rollout after each of
 * its own writes whatever during_rollout says. The simulator releases the wait at the first tick
 * after the rollout; the daemon polls every SCALING_CHECK_INTERVAL, so it may resume a tick later.
 */
export class RolloutGate {
  private loadWaiting = false;
  /** Decisions dropped because a rollout was in progress. */
  dropped = 0;

  constructor(private readonly dropsDecisions: boolean, private readonly loadLoopBlocks: boolean) {}

  /** Every pool serves what was asked for: no replica is starting. */
  static settled(ctx: PolicyContext): boolean {
    return ctx.ready.prefill === ctx.target.prefill && ctx.ready.decode === ctx.target.decode;
  }

  /** The load loop is still waiting for its own last rollout: this tick does not happen. */
  loadTickBlocked(ctx: PolicyContext): boolean {
    if (this.loadWaiting && !RolloutGate.settled(ctx)) return true;
    this.loadWaiting = false;
    return false;
  }

  /** The targets the environment takes from a decision (null: dropped or none). */
  admit(targets: PoolTargets | null, ctx: PolicyContext, loop: 'throughput' | 'load'): PoolTargets | null {
    if (!targets) return null;
    const changes = POOLS.some((p) => targets[p] !== undefined && targets[p] !== null && targets[p] !== ctx.target[p]);
    if (!changes) return targets;
    if (this.dropsDecisions && !RolloutGate.settled(ctx)) {
      this.dropped++;
      return null;
    }
    if (loop === 'load' && this.loadLoopBlocks) this.loadWaiting = true;
    return targets;
  }
}

/** Our planner, the class the daemon runs, fed what Prometheus and the router would report. */
export class PlannerPolicy implements SimPolicy {
  readonly name: string;
  readonly wantsRouterSamples: boolean;
  readonly decisions: Decision[] = [];
  /** Present only when the environment drops decisions during a rollout or the load loop waits for its own. */
  readonly rolloutGate: RolloutGate | undefined;

  constructor(
    private readonly planner: PlannerLike,
    config: PlannerConfig,
    private readonly keepDecisions = false,
    name?: string,
  ) {
    this.name = name ?? `planner:${config.load_predictor}`;
    this.wantsRouterSamples = config.enable_load_scaling;
    // The daemon's load loop blocks on its writes unless the saturation rule counts starting replicas instead.
    const loadLoopBlocks = config.enable_load_scaling && config.load_scaling_rule !== 'saturation';
    const drops = config.during_rollout === 'drop';
    this.rolloutGate = drops || loadLoopBlocks ? new RolloutGate(drops, loadLoopBlocks) : undefined;
    if (!config.enable_throughput_scaling) delete (this as Partial<PlannerPolicy>).onInterval;
    if (!config.enable_load_scaling) delete (this as Partial<PlannerPolicy>).onLoadTick;
  }

  /** The interval's observation with the frontend's ISL, OSL and TTFT histograms, as the daemon's bucket queries return them. */
  onInterval(obs: IntervalObservation, ctx: PolicyContext): PoolTargets | null {
    const w = ctx.metrics.window;
    const full = w === null ? obs : {
      ...obs,
      isl_histogram: histogramWindowOf(w.histograms.isl_tokens),
      osl_histogram: histogramWindowOf(w.histograms.osl_tokens),
      ttft_histogram: histogramWindowOf(w.histograms.ttft_seconds),
    };
    return this.admit(this.toTargets(this.planner.decideThroughput(full, ctx.ready)), ctx, 'throughput');
  }

  onLoadTick(samples: RouterSnapshot[], ctx: PolicyContext): PoolTargets | null {
    if (this.rolloutGate?.loadTickBlocked(ctx)) return null;
    return this.admit(this.toTargets(this.planner.decideLoad(samples, ctx.ready)), ctx, 'load');
  }

  /** What the environment takes of a decision; one it drops is not taken, as the daemon tells the planner. */
  private admit(targets: PoolTargets | null, ctx: PolicyContext, loop: 'throughput' | 'load'): PoolTargets | null {
    if (!this.rolloutGate || !targets) return targets;
    const taken = this.rolloutGate.admit(targets, ctx, loop);
    if (taken === null) this.planner.notTaken?.();
    return taken;
  }

  forecastNumReq(): number {
    return this.planner.state().lastPredicted?.num_req ?? Number.NaN;
  }

  /** Under during_rollout drop: decisions the environment dropped because a rollout was in progress. */
  summaryExtras(): Record<string, number> {
    return this.rolloutGate ? { dropped_during_rollout: this.rolloutGate.dropped } : {};
  }

  private toTargets(d: Decision): PoolTargets | null {
    if (this.keepDecisions) this.decisions.push(d);
    return d.decided ? { prefill: d.prefill, decode: d.decode, reason: decisionReasonText(d) } : null;
  }
}

/** A decision's reason in a few words: its code, the rule that bound it and the forecast it sized for. */
export function decisionReasonText(d: Decision): string {
  const r = d.reason;
  // Per pool when the decision says so: the strongest binding alone would name one pool's rule for both.
  const perPool = 'bindings' in r && r.bindings ? Object.entries(r.bindings).map(([pool, b]) => `${pool} ${b}`).join(', ') : '';
  const binding = perPool ? `, bound by ${perPool}` : 'binding' in r ? `, bound by ${r.binding}` : '';
  const forecast = 'predicted' in r && r.predicted ? ` (forecast ${Math.round(r.predicted.num_req)} req, ISL ${Math.round(r.predicted.isl)}, OSL ${Math.round(r.predicted.osl)})` : '';
  return `${r.code}${binding}${forecast}`;
}

/** A histogram increase() window in the decide input's form. */
export function histogramWindowOf(h: HistogramSnapshot): HistogramWindow {
  return { le: [...h.bounds], cumulative: [...h.cumulative], sum: h.sum };
}

// ---------------------------------------------------------------- exec

/** Longest answer line accepted from an exec policy. */
export const EXEC_MAX_LINE_BYTES = 64 * 1024;
/** Most lines an exec policy may print ahead of the observations asking for them. */
export const EXEC_MAX_UNASKED_LINES = 64;

export interface ExecPolicyOptions {
  /** Longest wait for one answer (ms). */
  timeoutMs?: number;
  /** The budget answers are clamped to (and reported). */
  limits: { maxGpuBudget: number; minEndpoint: number };
  gpusPerReplica: PoolCounts;
  agg: boolean;
  /** Told once when an answer is clamped. */
  warn?: (message: string) => void;
}

/**
 * An external policy: gets one `decide`-format JSON line per throughput interval on stdin and must
 * answer one line `{"prefill": n, "decode": n}` (null or missing = keep). It runs in its own
 * process group, so a timeout or the end of the run ends it and anything it started.
 */
export class ExecPolicy implements SimPolicy {
  readonly name: string;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly queue: string[] = [];
  private partial = '';
  private waiter: ((line: string | null) => void) | null = null;
  private closed = false;
  private failure: InputError | null = null;
  private stderrTail = '';
  private clamped = 0;
  private readonly timeoutMs: number;
  private readonly flag: string;

  constructor(
    private readonly command: string,
    private readonly opts: ExecPolicyOptions,
  ) {
    this.name = `exec:${command}`;
    this.flag = `--policy exec:${command.length > 60 ? command.slice(0, 57) + '...' : command}`;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.child = spawn(command, { shell: true, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.child.on('error', () => this.finish());
    // 'close' (not 'exit'): its last answer may still be in the pipe when it exits.
    this.child.on('close', () => this.finish());
    this.child.stdin.on('error', () => undefined);
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (d: string) => {
      this.stderrTail = (this.stderrTail + d.slice(-500)).slice(-500);
    });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => this.onData(d));
    this.child.stdout.on('end', () => this.finish());
  }

  async onInterval(obs: IntervalObservation, ctx: PolicyContext): Promise<PoolTargets | null> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new InputError(`${this.flag}: the command exited before the simulation ended${this.stderrHint()}; it must keep reading observations until its stdin closes.`);
    this.child.stdin.write(JSON.stringify(obs) + '\n');
    const line = await this.nextLine();
    if (this.failure) throw this.failure;
    if (line === null) throw new InputError(`${this.flag}: the command exited without answering an observation${this.stderrHint()}; it must print one line per observation.`);
    return this.clamp(parseExecAnswer(line, this.command), ctx);
  }

  summaryExtras(): Record<string, number> {
    return { clamped_answers: this.clamped };
  }

  async close(): Promise<void> {
    this.child.stdin.end();
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        this.child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    // Whatever the command left running (a child of its shell, say) goes with its process group.
    this.killGroup();
  }

  /** Answers beyond the GPU budget (or the simulator's replica limit) are cut, counted and told once. */
  private clamp(answer: PoolTargets | null, ctx: PolicyContext): PoolTargets | null {
    if (!answer) return answer;
    const o = this.opts;
    const prefill = answer.prefill ?? ctx.target.prefill;
    const decode = answer.decode ?? ctx.target.decode;
    let out: PoolCounts;
    if (o.agg) out = { prefill: 0, decode: applyPoolBudget(decode, o.gpusPerReplica.decode, o.limits).replicas };
    else {
      const b = applyGlobalBudget(prefill, decode, o.gpusPerReplica, o.limits);
      out = { prefill: b.prefill, decode: b.decode };
    }
    out = { prefill: Math.min(out.prefill, MAX_REPLICAS_PER_POOL), decode: Math.min(out.decode, MAX_REPLICAS_PER_POOL) };
    if (out.prefill === (o.agg ? 0 : prefill) && out.decode === decode) return answer;
    if (this.clamped++ === 0) {
      const budget = o.limits.maxGpuBudget >= 0 ? `max_gpu_budget ${o.limits.maxGpuBudget}` : `the simulator's limit of ${MAX_REPLICAS_PER_POOL} replicas per pool`;
      o.warn?.(`${this.flag}: answer ${JSON.stringify(answer)} is over ${budget}; clamped to ${o.agg ? out.decode : `${out.prefill}/${out.decode}`} (every clamped answer is counted in clamped_targets).`);
    }
    return o.agg ? { decode: out.decode } : out;
  }

  private onData(chunk: string): void {
    if (this.failure) return;
    let text = this.partial + chunk;
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl).trim();
      text = text.slice(nl + 1);
      if (line === '') continue;
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(line);
      } else if (this.queue.push(line) > EXEC_MAX_UNASKED_LINES) {
        return this.fail(`${this.flag}: the command printed more than ${EXEC_MAX_UNASKED_LINES} lines no observation asked for; it must print exactly one line per observation it reads.`);
      }
    }
    if (Buffer.byteLength(text) > EXEC_MAX_LINE_BYTES) {
      return this.fail(`${this.flag}: the command printed a line longer than ${EXEC_MAX_LINE_BYTES / 1024} KB; an answer is one short line {"prefill": n, "decode": n}.`);
    }
    this.partial = text;
  }

  private fail(message: string): void {
    this.failure = new InputError(message);
    this.partial = '';
    this.queue.length = 0;
    this.killGroup();
    this.finish();
  }

  private killGroup(): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      // The negative pid is the process group this policy's command was started in.
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  private nextLine(): Promise<string | null> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        this.fail(`${this.flag}: no answer within ${this.timeoutMs / 1000} s; the command must print one line {"prefill": n, "decode": n} for each observation line it reads.`);
        resolve(null);
      }, this.timeoutMs);
      this.waiter = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
    });
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(null);
    }
  }

  private stderrHint(): string {
    const tail = this.stderrTail.trim().split('\n').pop();
    return tail ? ` (its stderr: ${tail.slice(0, 200)})` : '';
  }
}

export function parseExecAnswer(line: string, command: string): PoolTargets | null {
  const flag = `--policy exec:${command.length > 60 ? command.slice(0, 57) + '...' : command}`;
  const shown = JSON.stringify(line.length > 80 ? line.slice(0, 77) + '...' : line);
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new InputError(`${flag}: answered ${shown}, which is not JSON; expected {"prefill": n, "decode": n}.`);
  }
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InputError(`${flag}: answered ${shown}; expected an object {"prefill": n, "decode": n}.`);
  }
  const out: PoolTargets = {};
  for (const pool of ['prefill', 'decode'] as const) {
    const v = (value as Record<string, unknown>)[pool];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new InputError(`${flag}: answered ${pool}=${JSON.stringify(v)?.slice(0, 40)}; expected a non-negative integer or null.`);
    }
    out[pool] = v;
  }
  return out;
}
