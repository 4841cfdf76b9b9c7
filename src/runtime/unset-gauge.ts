// A prom-client gauge without labels that exports no sample until it is first set: before the
// first observation a dashboard must see "no data", not 0 workers.
import { Gauge, type GaugeConfiguration } from './prom.js';

export class UnsetGauge extends Gauge {
  constructor(config: GaugeConfiguration<string>) {
    super(config);
    this.clear();
  }

  /** Back to "never observed" (prom-client's reset() puts an unlabelled gauge back to 0). */
  clear(): void {
    (this as unknown as { hashMap: Record<string, unknown> }).hashMap = {};
  }
}
