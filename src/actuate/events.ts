// Kubernetes Events (events.k8s.io/v1) about the DGD, as the HPA reports SuccessfulRescale: one per
// scaling, hold episode or failed write. Repeats of the same event (same type, reason, action and
// note) become one Event whose series count and lastObservedTime grow, which is what `kubectl get
// events` and `kubectl describe` show as "x5 over 20m". Writing an Event never blocks or fails a
// decision: errors go to a callback and the event is dropped.
import { hostname } from 'node:os';
import { KubeApiError, type KubeClient } from './kubernetes.js';

export type EventType = 'Normal' | 'Warning';

export interface PlannerEvent {
  type: EventType;
  /** UpperCamelCase, as Kubernetes reasons are (SuccessfulRescale, FailedRescale, ScalingHeld). */
  reason: string;
  /** What the planner did or tried: Scale, Hold. */
  action: string;
  /** One human sentence, at most 1024 characters (longer notes are cut). */
  note: string;
}

export interface EventTarget {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid?: string;
}

export interface EventRecorderOptions {
  client: KubeClient;
  /** The object the events are about (the DGD); its uid lets `kubectl describe` find them. */
  regarding: () => EventTarget;
  /** Who reports: a qualified name, as the API server requires. */
  reportingController?: string;
  reportingInstance?: string;
  /** A repeat after this long starts a new Event (client-go ends a series after 6 minutes of quiet). */
  seriesWindowMs?: number;
  /** Repeats within this interval are counted locally and written together. */
  minPatchIntervalMs?: number;
  onError?: (err: Error) => void;
  onWritten?: () => void;
  now?: () => number;
}

export const REPORTING_CONTROLLER = 'sla-planner.io/planner';
const NOTE_LIMIT = 1024;
const FIELD_LIMIT = 128;
/** Distinct events remembered for aggregation; the oldest is forgotten first. */
const MAX_SERIES = 256;

interface Series {
  name: string;
  count: number;
  lastObservedMs: number;
  writtenCount: number;
  lastPatchMs: number;
  created: boolean;
  timer?: NodeJS.Timeout;
  ev: PlannerEvent;
  eventTimeMs: number;
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits (the API server parses it strictly). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class EventRecorder {
  private readonly series = new Map<string, Series>();
  private chain: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;
  private readonly instance: string;
  private stopped = false;

  constructor(private readonly o: EventRecorderOptions) {
    this.now = o.now ?? Date.now;
    this.instance = (o.reportingInstance ?? `sla-planner-${process.env.POD_NAME ?? hostname()}`).slice(0, FIELD_LIMIT);
  }

  /** Record one occurrence; returns at once (the write is queued). */
  record(ev: PlannerEvent): void {
    if (this.stopped) return;
    const note = ev.note.length > NOTE_LIMIT ? ev.note.slice(0, NOTE_LIMIT - 3) + '...' : ev.note;
    const key = `${ev.type}\u0000${ev.reason}\u0000${ev.action}\u0000${note}`;
    const now = this.now();
    const windowMs = this.o.seriesWindowMs ?? 6 * 60_000;
    const s = this.series.get(key);
    if (s && now - s.lastObservedMs <= windowMs) {
      s.count++;
      s.lastObservedMs = now;
      this.schedulePatch(s);
      return;
    }
    if (s) this.forget(key);
    const fresh: Series = { name: this.eventName(now), count: 1, lastObservedMs: now, writtenCount: 0, lastPatchMs: now, created: false, ev: { ...ev, note }, eventTimeMs: now };
    this.series.set(key, fresh);
    if (this.series.size > MAX_SERIES) this.forget(this.series.keys().next().value as string);
    this.enqueue(() => this.create(fresh));
  }

  /** Write pending series counts and wait for every queued write (shutdown). */
  async flush(): Promise<void> {
    for (const s of this.series.values()) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = undefined;
      if (s.created && s.count > s.writtenCount) this.enqueue(() => this.patch(s));
    }
    await this.chain;
  }

  async stop(): Promise<void> {
    await this.flush();
    this.stopped = true;
  }

  private forget(key: string): void {
    const s = this.series.get(key);
    if (s?.timer) clearTimeout(s.timer);
    this.series.delete(key);
  }

  private eventName(now: number): string {
    // As client-go: the object's name and a hex timestamp, unique per event in practice.
    const nanos = BigInt(now) * 1_000_000n + BigInt(this.series.size);
    return `${this.o.regarding().name}.${nanos.toString(16)}`;
  }

  private enqueue(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((err: Error) => this.o.onError?.(err));
  }

  private schedulePatch(s: Series): void {
    const minMs = this.o.minPatchIntervalMs ?? 30_000;
    const due = s.lastPatchMs + minMs - this.now();
    if (s.writtenCount <= 1 || due <= 0) {
      // The first repeat is written at once, so a series shows up as soon as it exists.
      if (s.timer) clearTimeout(s.timer);
      s.timer = undefined;
      s.lastPatchMs = this.now();
      this.enqueue(() => this.patch(s));
    } else if (!s.timer) {
      s.timer = setTimeout(() => {
        s.timer = undefined;
        s.lastPatchMs = this.now();
        this.enqueue(() => this.patch(s));
      }, due);
      s.timer.unref();
    }
  }

  private path(name?: string): string {
    const ns = this.o.regarding().namespace;
    return `/apis/events.k8s.io/v1/namespaces/${ns}/events${name ? `/${name}` : ''}`;
  }

  private body(s: Series): Record<string, unknown> {
    const { ev, eventTimeMs } = s;
    const t = this.o.regarding();
    const regarding: Record<string, string> = { apiVersion: t.apiVersion, kind: t.kind, name: t.name, namespace: t.namespace };
    if (t.uid) regarding.uid = t.uid;
    return {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: s.name, namespace: t.namespace },
      eventTime: microTime(eventTimeMs),
      reportingController: this.o.reportingController ?? REPORTING_CONTROLLER,
      reportingInstance: this.instance,
      action: ev.action.slice(0, FIELD_LIMIT),
      reason: ev.reason.slice(0, FIELD_LIMIT),
      regarding,
      note: ev.note,
      type: ev.type,
      ...(s.count > 1 && { series: { count: s.count, lastObservedTime: microTime(s.lastObservedMs) } }),
    };
  }

  private async create(s: Series): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const count = s.count;
      try {
        await this.o.client.call('create', this.path(), 'events.events.k8s.io', this.body(s));
        s.created = true;
        s.writtenCount = count;
        this.o.onWritten?.();
        // Repeats that arrived while the event was being created.
        if (s.count > s.writtenCount) this.schedulePatch(s);
        return;
      } catch (err) {
        // A name taken by another event of the same instant: pick another once.
        if (err instanceof KubeApiError && err.status === 409 && attempt === 0) {
          s.name = `${s.name}${(attempt + 1).toString(16)}`;
          continue;
        }
        throw err;
      }
    }
  }

  private async patch(s: Series): Promise<void> {
    if (!s.created || s.count <= s.writtenCount) return;
    const count = s.count;
    const series = { count, lastObservedTime: microTime(s.lastObservedMs) };
    try {
      await this.o.client.call('patch', this.path(s.name), 'events.events.k8s.io', { series });
    } catch (err) {
      // The event expired (events live an hour by default): write it again with its series.
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
      s.name = this.eventName(this.now());
      await this.o.client.call('create', this.path(), 'events.events.k8s.io', this.body(s));
    }
    s.writtenCount = count;
    this.o.onWritten?.();
  }
}
