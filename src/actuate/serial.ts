// One actuator for both loops: writes are queued so a throughput write and a load write never
// interleave (each reads the deployment fresh inside its turn). Dry run answers without writing.
import type { Actuator, ApplyContext, ApplyOutcome, DeploymentInfo, DeploymentView, ScaleTarget } from './types.js';

export class SerialActuator implements Actuator {
  readonly name: string;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly inner: Actuator, private readonly dryRun = false) {
    this.name = inner.name;
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  init(): Promise<DeploymentInfo> {
    return this.inner.init();
  }

  /** In the queue: reading the environment's state must not interleave with a write. */
  connect(signal?: AbortSignal): Promise<void> {
    const inner = this.inner;
    return inner.connect ? this.enqueue(() => inner.connect!(signal)) : Promise.resolve();
  }

  view(signal?: AbortSignal): Promise<DeploymentView> {
    return this.inner.view(signal);
  }

  apply(target: ScaleTarget, ctx: ApplyContext): Promise<ApplyOutcome> {
    if (this.dryRun) return Promise.resolve({ status: 'dry_run' });
    return this.enqueue(() => this.inner.apply(target, ctx));
  }

  /** Outside the queue: a blocking load loop waiting for Ready must not stall the other loop. */
  async waitReady(signal?: AbortSignal): Promise<boolean> {
    if (this.dryRun || !this.inner.waitReady) return true;
    return this.inner.waitReady(signal);
  }
}
