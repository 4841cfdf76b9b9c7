// The Kubernetes DeploymentReporter: Events on the DGD through the EventRecorder and the
// last-decision annotation, each behind its config switch. Write failures reach onError (the
// daemon logs them once per episode and counts them) and never the decision path.
import { EventRecorder } from './events.js';
import type { KubeClient, KubernetesActuator } from './kubernetes.js';
import type { DeploymentEvent, DeploymentReporter } from './types.js';

export interface KubernetesReporterOptions {
  client: KubeClient;
  actuator: KubernetesActuator;
  events: boolean;
  annotation: boolean;
  onError: (kind: 'k8s_events' | 'k8s_annotation', err: Error) => void;
  onWritten?: (kind: 'k8s_events' | 'k8s_annotation') => void;
}

export class KubernetesReporter implements DeploymentReporter {
  private readonly recorder: EventRecorder | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private lastAnnotation: string | undefined;

  constructor(private readonly o: KubernetesReporterOptions) {
    if (o.events) {
      this.recorder = new EventRecorder({
        client: o.client, regarding: () => o.actuator.eventTarget(),
        onError: (err) => o.onError('k8s_events', err), onWritten: () => o.onWritten?.('k8s_events'),
      });
    }
  }

  event(ev: DeploymentEvent): void {
    this.recorder?.record(ev);
  }

  annotate(value: string): void {
    if (!this.o.annotation || value === this.lastAnnotation) return;
    this.lastAnnotation = value;
    this.chain = this.chain
      .then(() => this.o.actuator.annotate(value))
      .then(() => this.o.onWritten?.('k8s_annotation'), (err: Error) => {
        this.lastAnnotation = undefined;
        this.o.onError('k8s_annotation', err);
      });
  }

  async flush(): Promise<void> {
    await Promise.all([this.recorder?.stop(), this.chain]);
  }
}
