// What a scaler does with a decision. Both loops hand their targets to one Actuator; the
// SerialActuator (serial.ts) makes sure two writes never interleave.

export type Pool = 'prefill' | 'decode';

/** Desired replicas per pool; an absent pool is left alone. */
export interface ScaleTarget {
  prefill?: number;
  decode?: number;
}

/** What the environment reports now. null = pool not managed or unknown. */
export interface DeploymentView {
  prefill: number | null;
  decode: number | null;
  /** The deployment can take a new scaling request (DGD Ready, or previous decision acknowledged). */
  ready: boolean;
  /**
   * What the counts are: ready workers (Kubernetes status, registered instances), or the last
   * decided targets where the environment reports no workers. Absent = ready.
   */
  counts?: 'ready' | 'decided';
}

export type ApplyStatus =
  | 'applied' // a write was made
  | 'unchanged' // every target equals the current spec: no write (never patch unchanged counts)
  | 'not_ready' // skipped because the deployment is not Ready (the original drops the decision too)
  | 'pending_ack' // virtual: previous decision not yet acknowledged
  | 'dry_run' // no_operation / --dry-run
  | 'failed'; // the environment refused or was unreachable; see errorKind

/** Something wrong from outside that did not stop the write (counted and logged by the daemon). */
export interface ApplyFault {
  kind: string;
  message: string;
}

export interface ApplyOutcome {
  status: ApplyStatus;
  /** The pools actually written and their new values (on 'failed': those written before the failure). */
  written?: ScaleTarget;
  /** Kubernetes: each pool's spec replicas before this apply touched it (for events). */
  previous?: ScaleTarget;
  errorKind?: string;
  message?: string;
  faults?: ApplyFault[];
}

export interface ApplyContext {
  /** Load loop: wait until the deployment is Ready again afterwards (the original's blocking=True). */
  blocking: boolean;
  /**
   * A decision made while the previous one is still rolling out (DGD not Ready, virtual decision
   * not yet acknowledged): 'drop' it as the original does (default), or 'write' it so the newest
   * target replaces the one in flight.
   */
  duringRollout?: 'drop' | 'write';
  /** Forecast carried along to the global planner. */
  predictedLoad?: { num_requests: number; isl: number; osl: number };
  signal?: AbortSignal;
}

/** Facts found at start-up (from the DGD in kubernetes, from config elsewhere). */
export interface DeploymentInfo {
  prefillGpus: number | null;
  decodeGpus: number | null;
  modelName: string | null;
  routerMetricsUrl: string | null;
  services: { prefill?: string; decode?: string };
}

export interface Actuator {
  readonly name: string;
  /** Start-up discovery; throws InputError / RuntimeFailure on a deployment it cannot manage. */
  init(): Promise<DeploymentInfo>;
  /**
   * Read the environment's own state before the first decision (virtual: the etcd keys). The
   * daemon retries it with back-off until it succeeds and says so in /readyz; view and apply
   * call it too, so a tick before it succeeds is a hold.
   */
  connect?(signal?: AbortSignal): Promise<void>;
  view(signal?: AbortSignal): Promise<DeploymentView>;
  apply(target: ScaleTarget, ctx: ApplyContext): Promise<ApplyOutcome>;
  /** Blocking callers wait here, outside the serialising lock. Resolves false on timeout/abort. */
  waitReady?(signal?: AbortSignal): Promise<boolean>;
}

/** One Kubernetes-style event about the deployment (see events.ts). */
export interface DeploymentEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  action: string;
  note: string;
}

/**
 * Where the daemon reports what it did, besides its log and metrics: Events and an annotation on
 * the DGD in kubernetes. Fire-and-forget: reporting never delays or fails a decision.
 */
export interface DeploymentReporter {
  event(ev: DeploymentEvent): void;
  /** The last decision, as a compact JSON string; repeated values are not rewritten. */
  annotate(value: string): void;
  /** Wait for queued writes (shutdown). */
  flush(): Promise<void>;
}
