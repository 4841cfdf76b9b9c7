// Scaling policies the simulator can drive: a fixed allocation, the Kubernetes HPA algorithm, an
// external process speaking the `decide` line format, and our planner (the daemon's own class).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import type { PlannerConfig } from '../config/schema.js';
import type { IntervalObservation, RouterSnapshot } from '../scaling/observation.js';
import type { Decision, PredictedLoad, ReplicaCounts } from '../scaling/decision.js';
import { applyGlobalBudget, applyPoolBudget } from '../scaling/budget.js';
import { InputError, RuntimeFailure } from '../util/errors.js';
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
    if (o.agg) return { decode: applyPoolBudget(out.decode, o.gpusPerReplica.decode, limits).replicas };
    const b = applyGlobalBudget(out.prefill, out.decode, o.gpusPerReplica, limits);
    return { prefill: b.prefill, decode: b.decode };
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
}

/** Our planner, the class the daemon runs, fed what Prometheus and the router would report. */
export class PlannerPolicy implements SimPolicy {
  readonly name: string;
  readonly wantsRouterSamples: boolean;
  readonly decisions: Decision[] = [];

  constructor(
    private readonly planner: PlannerLike,
    config: PlannerConfig,
    private readonly keepDecisions = false,
  ) {
    this.name = `planner:${config.load_predictor}`;
    this.wantsRouterSamples = config.enable_load_scaling;
    if (!config.enable_throughput_scaling) delete (this as Partial<PlannerPolicy>).onInterval;
    if (!config.enable_load_scaling) delete (this as Partial<PlannerPolicy>).onLoadTick;
  }

  onInterval(obs: IntervalObservation, ctx: PolicyContext): PoolTargets | null {
    return this.toTargets(this.planner.decideThroughput(obs, ctx.ready));
  }

  onLoadTick(samples: RouterSnapshot[], ctx: PolicyContext): PoolTargets | null {
    return this.toTargets(this.planner.decideLoad(samples, ctx.ready));
  }

  forecastNumReq(): number {
    return this.planner.state().lastPredicted?.num_req ?? Number.NaN;
  }

  private toTargets(d: Decision): PoolTargets | null {
    if (this.keepDecisions) this.decisions.push(d);
    return d.decided ? { prefill: d.prefill, decode: d.decode } : null;
  }
}

// ---------------------------------------------------------------- exec

/**
 * An external policy: gets one `decide`-format JSON line per throughput interval on stdin and must
 * answer one line `{"prefill": n, "decode": n}` (null or missing = keep).
 */
export class ExecPolicy implements SimPolicy {
  readonly name: string;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: Interface;
  private readonly queue: string[] = [];
  private waiter: ((line: string | null) => void) | null = null;
  private closed = false;
  private stderrTail = '';

  constructor(
    private readonly command: string,
    private readonly timeoutMs = 30_000,
  ) {
    this.name = `exec:${command}`;
    this.child = spawn(command, { shell: true, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.on('error', () => this.finish());
    this.child.on('exit', () => this.finish());
    this.child.stdin.on('error', () => undefined);
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-500);
    });
    this.lines = createInterface({ input: this.child.stdout });
    this.lines.on('line', (line) => {
      if (line.trim() === '') return;
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(line);
      } else this.queue.push(line);
    });
    this.lines.on('close', () => this.finish());
  }

  async onInterval(obs: IntervalObservation): Promise<PoolTargets | null> {
    if (this.closed) throw new RuntimeFailure(`exec policy '${this.command}' exited before the simulation ended${this.stderrHint()}.`);
    this.child.stdin.write(JSON.stringify(obs) + '\n');
    const line = await this.nextLine();
    if (line === null) throw new RuntimeFailure(`exec policy '${this.command}' exited without answering an observation${this.stderrHint()}.`);
    return parseExecAnswer(line, this.command);
  }

  async close(): Promise<void> {
    this.child.stdin.end();
    if (!this.closed) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.child.kill();
          resolve();
        }, 2000);
        this.child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private nextLine(): Promise<string | null> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new RuntimeFailure(`exec policy '${this.command}' gave no answer within ${this.timeoutMs / 1000} s.`));
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
    return tail ? ` (its stderr: ${tail})` : '';
  }
}

export function parseExecAnswer(line: string, command: string): PoolTargets | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new RuntimeFailure(`exec policy '${command}' answered '${line.slice(0, 80)}', which is not JSON; expected {"prefill": n, "decode": n}.`);
  }
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new RuntimeFailure(`exec policy '${command}' answered '${line.slice(0, 80)}'; expected an object {"prefill": n, "decode": n}.`);
  }
  const out: PoolTargets = {};
  for (const pool of ['prefill', 'decode'] as const) {
    const v = (value as Record<string, unknown>)[pool];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new RuntimeFailure(`exec policy '${command}' answered ${pool}=${JSON.stringify(v)}; expected a non-negative integer or null.`);
    }
    out[pool] = v;
  }
  return out;
}
