// prom-client's parts, loaded module by module instead of through the package index. The index
// also loads collectDefaultMetrics, whose CPU collector requires @opentelemetry/api (51 CommonJS
// modules, a few MB of an idle daemon's RSS in bench:daemon) only to attach trace exemplars, which
// the planner never enables. prom-client has no exports map, so its lib/ modules are public paths.
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

const require = createRequire(import.meta.url);

export const Registry = require('prom-client/lib/registry') as typeof PromClient.Registry;
export const Counter = require('prom-client/lib/counter') as typeof PromClient.Counter;
export const Gauge = require('prom-client/lib/gauge') as typeof PromClient.Gauge;
export const Histogram = require('prom-client/lib/histogram') as typeof PromClient.Histogram;
export type Registry = PromClient.Registry;
export type Counter<T extends string = string> = PromClient.Counter<T>;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;
export type Histogram<T extends string = string> = PromClient.Histogram<T>;
export type GaugeConfiguration<T extends string> = PromClient.GaugeConfiguration<T>;

type DefaultCollector = (registry: Registry, config: { eventLoopMonitoringPrecision: number }) => void;

/**
 * prom-client's default collectors in its own order (lib/defaultMetrics.js), each from its module,
 * except the CPU counters (see processCpuCounters).
 */
const DEFAULT_COLLECTORS = [
  'processStartTime', 'osMemoryHeap', 'processOpenFileDescriptors', 'processMaxFileDescriptors', 'eventLoopLag',
  ...(typeof process.getActiveResourcesInfo === 'function' ? ['processResources'] : []),
  'processHandles', 'processRequests', 'heapSizeAndUsed', 'heapSpacesSizeAndUsed', 'version', 'gc',
];

/**
 * process_cpu_{user,system,}_seconds_total as prom-client's collector exports them (same names,
 * help and values: the CPU time since the last scrape added at each scrape), without exemplars.
 */
function processCpuCounters(registry: Registry): void {
  let last = process.cpuUsage();
  const registers = [registry];
  // Registered first, as prom-client does: its collect() sets all three before they are read.
  new Counter({
    name: 'process_cpu_user_seconds_total', help: 'Total user CPU time spent in seconds.', registers,
    collect() {
      const now = process.cpuUsage();
      const userS = (now.user - last.user) / 1e6;
      const systemS = (now.system - last.system) / 1e6;
      last = now;
      this.inc(userS);
      system.inc(systemS);
      total.inc(userS + systemS);
    },
  });
  const system = new Counter({ name: 'process_cpu_system_seconds_total', help: 'Total system CPU time spent in seconds.', registers });
  const total = new Counter({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', registers });
}

/** The standard process_* and nodejs_* metrics, as prom-client's collectDefaultMetrics registers them. */
export function collectDefaultMetrics(registry: Registry, eventLoopMonitoringPrecision: number): void {
  processCpuCounters(registry);
  for (const name of DEFAULT_COLLECTORS) (require(`prom-client/lib/metrics/${name}`) as DefaultCollector)(registry, { eventLoopMonitoringPrecision });
}
