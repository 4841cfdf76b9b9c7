// The virtual environment: decisions go to etcd keys under v1/{namespace}/planner/ with the
// decision-id handshake of the original's virtual connector (a decision is
// complete when the environment writes back the same scaled_decision_id),
// and/or to a JSONL sink (file or stdout) that tests and the simulator read.
//
// etcd is reached through its JSON gRPC gateway (/v3/kv/range, /v3/kv/txn; keys and values
// base64), so no etcd client library is needed.
import { appendFileSync, closeSync, openSync } from 'node:fs';
import { InputError } from '../util/errors.js';
import { httpCall } from '../net/http.js';
import { sleep } from '../util/sleep.js';
import type { Mode } from '../config/schema.js';
import { managedPools } from './dgd.js';
import type { Actuator, ApplyContext, ApplyOutcome, DeploymentInfo, DeploymentView, ScaleTarget } from './types.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

export class EtcdError extends Error {
  override readonly name = 'EtcdError';
}

/** Minimal etcd v3 client over the JSON gateway. */
export class EtcdJson {
  private readonly endpoints: string[];
  constructor(endpoints: string | string[], private readonly timeoutMs = 3000) {
    const list = (Array.isArray(endpoints) ? endpoints : endpoints.split(',')).map((e) => e.trim()).filter(Boolean);
    if (list.length === 0) throw new EtcdError('no etcd endpoint given');
    this.endpoints = list.map((e) => (/^https?:\/\//.test(e) ? e : `http://${e}`).replace(/\/+$/, ''));
  }

  private async post<T>(path: string, body: unknown): Promise<T> {
    let last: unknown;
    // Try each endpoint in turn: any member of the cluster answers.
    for (const ep of this.endpoints) {
      try {
        const res = await httpCall(ep + path, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), timeoutMs: this.timeoutMs,
        });
        if (res.status !== 200) throw new EtcdError(`etcd ${ep}${path} answered HTTP ${res.status}: ${res.body.slice(0, 200)}`);
        return JSON.parse(res.body) as T;
      } catch (err) {
        last = err;
      }
    }
    throw last instanceof EtcdError ? last : new EtcdError(`etcd unreachable at ${this.endpoints.join(',')}: ${(last as Error)?.message ?? last}`);
  }

  async get(key: string): Promise<string | null> {
    const res = await this.post<{ kvs?: { value?: string }[] }>('/v3/kv/range', { key: b64(key) });
    const v = res.kvs?.[0]?.value;
    return v === undefined ? null : unb64(v);
  }

  async getPrefix(prefix: string): Promise<Record<string, string>> {
    // range_end = prefix with its last byte + 1: every key that starts with prefix.
    const end = Buffer.from(prefix, 'utf8');
    end[end.length - 1] += 1;
    const res = await this.post<{ kvs?: { key: string; value?: string }[] }>('/v3/kv/range', { key: b64(prefix), range_end: end.toString('base64') });
    const out: Record<string, string> = {};
    for (const kv of res.kvs ?? []) out[unb64(kv.key)] = kv.value === undefined ? '' : unb64(kv.value);
    return out;
  }

  async put(key: string, value: string): Promise<void> {
    await this.post('/v3/kv/put', { key: b64(key), value: b64(value) });
  }

  /** Several puts in one transaction, so a watcher never sees half a decision. */
  async putAll(kvs: Record<string, string>): Promise<void> {
    const success = Object.entries(kvs).map(([k, v]) => ({ request_put: { key: b64(k), value: b64(v) } }));
    await this.post('/v3/kv/txn', { compare: [], success });
  }
}

export function plannerPrefix(dynamoNamespace: string): string {
  return `v1/${dynamoNamespace}/planner/`;
}

/** A JSON line per decision, to a file or stdout ('-'). */
export class JsonlSink {
  constructor(private readonly target: string) {
    // Checked once at start-up: a sink that cannot be written is a usage mistake, not a fault
    // to discover on the first decision.
    if (target !== '-') {
      try {
        closeSync(openSync(target, 'a'));
      } catch (err) {
        throw new InputError(`--decisions-out ${target}: cannot append to it (${(err as NodeJS.ErrnoException).code ?? String(err)}); give a writable file or - for stdout.`);
      }
    }
  }
  write(record: Record<string, unknown>): void {
    const line = JSON.stringify(record) + '\n';
    if (this.target === '-') process.stdout.write(line);
    else appendFileSync(this.target, line);
  }
}

export interface VirtualActuatorOptions {
  dynamoNamespace: string;
  mode: Mode;
  modelName: string | null;
  gpus: { prefill: number | null; decode: number | null };
  routerMetricsUrl: string | null;
  etcd?: EtcdJson;
  sink?: JsonlSink;
  /** SCALING_MAX_WAIT_TIME (s, default 1800): after this long an unacknowledged decision stops blocking. */
  maxWaitMs?: number;
  /** SCALING_CHECK_INTERVAL (s, default 10): poll period of a blocking wait. */
  checkIntervalMs?: number;
  now?: () => number;
}

export class VirtualActuator implements Actuator {
  readonly name = 'virtual';
  // The coordinator's state: -1 = never written.
  private numPrefill = -1;
  private numDecode = -1;
  private decisionId = -1;
  private firstSkipAt: number | null = null;
  private readonly prefix: string;
  private readonly now: () => number;

  constructor(private readonly o: VirtualActuatorOptions) {
    this.prefix = plannerPrefix(o.dynamoNamespace);
    this.now = o.now ?? Date.now;
  }

  async init(): Promise<DeploymentInfo> {
    if (this.o.etcd) {
      // Resume after a restart: continue the decision ids instead of starting over at 0.
      const kvs = await this.o.etcd.getPrefix(this.prefix);
      // A key that is missing or not a whole number >= 0 (hand-edited, another writer) counts as
      // never written, so garbage never becomes a NaN decision id or replica count.
      const num = (k: string) => {
        const raw = kvs[this.prefix + k];
        const n = raw === undefined || raw.trim() === '' ? Number.NaN : Number(raw);
        return Number.isInteger(n) && n >= 0 ? n : -1;
      };
      this.numPrefill = num('num_prefill_workers');
      this.numDecode = num('num_decode_workers');
      this.decisionId = num('decision_id');
    }
    return {
      prefillGpus: this.o.gpus.prefill,
      decodeGpus: this.o.gpus.decode,
      modelName: this.o.modelName?.toLowerCase() ?? null,
      routerMetricsUrl: this.o.routerMetricsUrl,
      services: {},
    };
  }

  private async acknowledged(): Promise<boolean> {
    if (this.decisionId < 0 || !this.o.etcd) return true;
    const raw = await this.o.etcd.get(this.prefix + 'scaled_decision_id');
    return raw !== null && Number(raw) >= this.decisionId;
  }

  /** Without a worker-count source, the last decided counts stand for the current ones. */
  async view(): Promise<DeploymentView> {
    const pools = managedPools(this.o.mode);
    const val = (n: number, on: boolean) => (on && n >= 0 ? n : null);
    return {
      prefill: val(this.numPrefill, pools.includes('prefill')),
      decode: val(this.numDecode, pools.includes('decode')),
      ready: await this.acknowledged().catch(() => false),
    };
  }

  async apply(target: ScaleTarget, ctx: ApplyContext): Promise<ApplyOutcome> {
    const p = target.prefill ?? this.numPrefill;
    const d = target.decode ?? this.numDecode;
    if (p === this.numPrefill && d === this.numDecode) return { status: 'unchanged' };
    try {
      if (!(await this.acknowledged())) {
        this.firstSkipAt ??= this.now();
        if (this.now() - this.firstSkipAt < (this.o.maxWaitMs ?? 1_800_000)) {
          return { status: 'pending_ack', message: `decision ${this.decisionId} not yet acknowledged (scaled_decision_id)` };
        }
      }
      this.firstSkipAt = null;
      const nextId = this.decisionId + 1;
      const kvs: Record<string, string> = { [this.prefix + 'decision_id']: String(nextId) };
      if (p >= 0) kvs[this.prefix + 'num_prefill_workers'] = String(p);
      if (d >= 0) kvs[this.prefix + 'num_decode_workers'] = String(d);
      if (this.o.etcd) await this.o.etcd.putAll(kvs);
      this.numPrefill = p;
      this.numDecode = d;
      this.decisionId = nextId;
      this.o.sink?.write({ ts: new Date(this.now()).toISOString(), decision_id: nextId, num_prefill_workers: p >= 0 ? p : null, num_decode_workers: d >= 0 ? d : null, predicted_load: ctx.predictedLoad ?? null });
      const written: ScaleTarget = {};
      if (target.prefill !== undefined) written.prefill = p;
      if (target.decode !== undefined) written.decode = d;
      return { status: 'applied', written };
    } catch (err) {
      return { status: 'failed', errorKind: 'etcd_error', message: (err as Error).message };
    }
  }

  async waitReady(signal?: AbortSignal): Promise<boolean> {
    const check = this.o.checkIntervalMs ?? 10_000;
    const tries = Math.max(1, Math.floor((this.o.maxWaitMs ?? 1_800_000) / check));
    for (let i = 0; i < tries && !signal?.aborted; i++) {
      if (await this.acknowledged().catch(() => false)) return true;
      await sleep(check, signal);
    }
    return false;
  }
}
