// What the daemon tells people besides its log: the last decision of each loop, the replicas per
// pool and the open faults as /status JSON, and (through a DeploymentReporter) one Event per
// scaling, per hold episode and per failed write, plus the last decision as a DGD annotation.
import type { PlannerConfig } from '../config/schema.js';
import type { ApplyOutcome, DeploymentInfo, DeploymentReporter, Pool, ScaleTarget } from '../actuate/types.js';
import { VERSION } from '../util/version.js';

export type TickLoop = 'throughput' | 'load';

/** One decision record as the daemon logs it. */
export interface DecisionRecord {
  loop: TickLoop;
  decided: boolean;
  target?: { prefill: number | null; decode: number | null };
  current?: { prefill: number; decode: number };
  reason?: { code?: unknown; predicted?: { num_req: number; isl: number; osl: number }; [k: string]: unknown };
  actuation?: ApplyOutcome;
  [k: string]: unknown;
}

/** Holds that are the normal course of things, not an episode worth an Event. */
const QUIET_HOLDS = new Set(['set_lower_bound', 'no_change', 'not_saturated', 'throughput_scaling_disabled']);

export interface LoopSummary {
  at: string;
  /** scale | unchanged | hold | failed | not_ready | pending_ack | dry_run */
  action: string;
  target: { prefill: number | null; decode: number | null } | null;
  current: { prefill: number; decode: number } | null;
  reason: string;
  binding: string | null;
  note: string;
}

/** The binding constraint of a pool's count, whatever shape the decision code gives it. */
export function bindingOf(reason: DecisionRecord['reason'], pool?: Pool): string | null {
  if (!reason) return null;
  const r = reason as { binding?: unknown; bindings?: Record<string, unknown> };
  const raw = (pool && r.bindings?.[pool]) ?? r.binding;
  if (typeof raw === 'string') return raw;
  if (raw && typeof raw === 'object') {
    const o = raw as Record<string, unknown>;
    const v = (pool && o[pool]) ?? o.code ?? o.kind ?? o.stage;
    return typeof v === 'string' ? v : JSON.stringify(raw);
  }
  return null;
}

function codeOf(reason: DecisionRecord['reason']): string {
  const c = reason?.code;
  return typeof c === 'string' ? c : c === undefined ? 'unknown' : JSON.stringify(c);
}

const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

export interface DecisionStatusOptions {
  config: PlannerConfig;
  info: DeploymentInfo;
  reporter?: DeploymentReporter;
  /** The object scaled (kubernetes: the DGD), shown in /status. */
  deployment?: Record<string, string>;
  now?: () => number;
}

export class DecisionStatus {
  private readonly last: Partial<Record<TickLoop, LoopSummary>> = {};
  private readonly openHold: Partial<Record<TickLoop, string>> = {};
  private readonly target: Partial<Record<Pool, number>> = {};
  private current: { prefill: number; decode: number } | null = null;
  private readonly now: () => number;
  private readonly startedAt: string;
  /** Set by startHold when this record opened a hold episode (it is then annotated). */
  private justOpened = false;

  constructor(private readonly o: DecisionStatusOptions) {
    this.now = o.now ?? Date.now;
    this.startedAt = new Date(this.now()).toISOString();
  }

  get strategy(): PlannerConfig['strategy'] {
    return this.o.config.strategy;
  }

  private service(pool: Pool): string {
    return this.o.info.services[pool] ?? pool;
  }

  /** Why a pool got its count, in a few words: the forecast (throughput) or the load verdict, and the binding. */
  private why(rec: DecisionRecord, pool?: Pool): string {
    const parts: string[] = [];
    const predicted = rec.reason?.predicted;
    if (rec.loop === 'throughput' && predicted) {
      parts.push(`forecast ${fmt(predicted.num_req / this.o.config.throughput_adjustment_interval)} req/s (ISL ${fmt(predicted.isl, 0)}, OSL ${fmt(predicted.osl, 0)})`);
    } else {
      parts.push(`${rec.loop} loop ${codeOf(rec.reason)}`);
    }
    const binding = bindingOf(rec.reason, pool);
    if (binding) parts.push(`binding ${binding}`);
    return parts.join(', ');
  }

  private counts(t: { prefill: number | null; decode: number | null } | ScaleTarget | undefined): string {
    if (!t) return '';
    return (['prefill', 'decode'] as const).filter((p) => typeof t[p] === 'number').map((p) => `${this.service(p)} ${t[p]}`).join(', ');
  }

  /** Take one decision record: update the status, report scalings, hold episodes and failures. */
  observe(rec: DecisionRecord): void {
    const at = new Date(this.now()).toISOString();
    if (rec.current) this.current = rec.current;
    const out = rec.actuation;
    const summary: LoopSummary = {
      at, action: 'hold', target: rec.target ?? null, current: rec.current ?? null, reason: codeOf(rec.reason), binding: bindingOf(rec.reason), note: '',
    };
    if (rec.decided && rec.target) for (const p of ['prefill', 'decode'] as const) if (typeof rec.target[p] === 'number') this.target[p] = rec.target[p]!;
    const reporter = this.o.reporter;
    if (!rec.decided) {
      summary.note = this.holdNote(rec);
      this.startHold(rec.loop, summary.reason, summary.note);
    } else if (out?.status === 'applied' || out?.status === 'failed') {
      // A failed apply may have written some pools first: those are scalings all the same.
      const notes: string[] = [];
      for (const pool of ['prefill', 'decode'] as const) {
        const to = out.written?.[pool];
        if (to === undefined) continue;
        const note = `${this.service(pool)} ${out.previous?.[pool] ?? rec.current?.[pool] ?? '?'} -> ${to}: ${this.why(rec, pool)}`;
        notes.push(note);
        reporter?.event({ type: 'Normal', reason: 'SuccessfulRescale', action: 'Scale', note });
      }
      if (out.status === 'applied') {
        summary.action = 'scale';
        this.openHold[rec.loop] = undefined;
      } else {
        summary.action = 'failed';
        // The pool whose write failed: attempted (it has a previous count) but not written.
        const failed = (['prefill', 'decode'] as const).find((p) => out.previous?.[p] !== undefined && out.written?.[p] === undefined);
        const what = failed ? `${this.service(failed)} ${out.previous![failed]} -> ${rec.target?.[failed]}` : `scaling to ${this.counts(rec.target)}`;
        const note = `${what} failed (${out.errorKind ?? 'error'}): ${out.message ?? ''}`;
        notes.push(note);
        reporter?.event({ type: 'Warning', reason: 'FailedRescale', action: 'Scale', note });
      }
      summary.note = notes.join('; ');
    } else if (out?.status === 'not_ready' || out?.status === 'pending_ack') {
      summary.action = out.status;
      summary.note = `${rec.loop} loop wanted ${this.counts(rec.target)} (${this.why(rec)}) but the deployment ${out.status === 'not_ready' ? 'is not Ready' : 'has not acknowledged the previous decision'}; decision dropped`;
      this.startHold(rec.loop, out.status === 'not_ready' ? 'deployment_not_ready' : 'pending_ack', summary.note);
    } else {
      summary.action = out?.status ?? 'unchanged';
      summary.note = `${this.counts(rec.target)}: ${this.why(rec)}`;
      this.openHold[rec.loop] = undefined;
    }
    this.last[rec.loop] = summary;
    if (reporter && (summary.action === 'scale' || summary.action === 'failed' || this.justOpened)) {
      reporter.annotate(JSON.stringify({ loop: rec.loop, at, action: summary.action, target: summary.target, reason: summary.reason, binding: summary.binding, note: summary.note }));
    }
    this.justOpened = false;
  }

  private holdNote(rec: DecisionRecord): string {
    const r = rec.reason ?? {};
    const detail = [
      Array.isArray(r.missing) && r.missing.length ? `missing ${r.missing.join(', ')}` : '',
      typeof rec.error === 'string' ? rec.error : '',
      typeof rec.error_kind === 'string' ? rec.error_kind : '',
    ].filter(Boolean).join('; ');
    const keep = rec.current ? `; ${this.counts(rec.current)} stay` : '';
    return `${rec.loop} loop holds: ${codeOf(r)}${detail ? ` (${detail})` : ''}${keep}`;
  }

  /** One Event per episode: a hold with the same code on the same loop as the open one says nothing new. */
  private startHold(loop: TickLoop, code: string, note: string): void {
    if (this.openHold[loop] === code) return;
    this.openHold[loop] = code;
    if (QUIET_HOLDS.has(code)) return;
    this.justOpened = true;
    this.o.reporter?.event({ type: 'Warning', reason: 'ScalingHeld', action: 'Hold', note });
  }

  /** The /status document (snake_case keys). */
  snapshot(extra: { ready: boolean; open_faults: string[] }): Record<string, unknown> {
    const c = this.o.config;
    const pools: Record<string, unknown> = {};
    for (const pool of ['prefill', 'decode'] as const) {
      if (this.o.info.services[pool] === undefined && this.target[pool] === undefined && this.current?.[pool] === undefined) continue;
      pools[pool] = {
        service: this.o.info.services[pool] ?? null,
        current_replicas: this.current?.[pool] ?? null,
        target_replicas: this.target[pool] ?? null,
        gpus_per_replica: (pool === 'prefill' ? this.o.info.prefillGpus : this.o.info.decodeGpus) ?? null,
      };
    }
    return {
      version: VERSION,
      strategy: this.strategy,
      started_at: this.startedAt,
      ready: extra.ready,
      dry_run: c.no_operation,
      deployment: this.o.deployment ?? null,
      pools,
      last_decision: { throughput: this.last.throughput ?? null, load: this.last.load ?? null },
      open_holds: Object.fromEntries(Object.entries(this.openHold).filter(([, v]) => v !== undefined)),
      open_faults: extra.open_faults,
      config: {
        environment: c.environment, backend: c.backend, mode: c.mode, namespace: c.namespace,
        ttft_ms: c.ttft, itl_ms: c.itl, max_gpu_budget: c.max_gpu_budget, min_endpoint: c.min_endpoint,
        enable_throughput_scaling: c.enable_throughput_scaling, throughput_adjustment_interval_s: c.throughput_adjustment_interval,
        enable_load_scaling: c.enable_load_scaling, load_adjustment_interval_s: c.load_adjustment_interval,
        load_predictor: c.load_predictor, model_name: this.o.info.modelName ?? c.model_name,
      },
    };
  }
}
