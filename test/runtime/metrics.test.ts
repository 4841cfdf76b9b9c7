// The daemon's /metrics registry: the original's planner:* gauges and the standard process_* /
// nodejs_* metrics Node services expose, read at scrape time.
import { describe, expect, it } from 'vitest';
import { PlannerMetrics } from '../../src/runtime/metrics.js';

const sampleOf = (text: string, name: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

describe('PlannerMetrics', () => {
  it('exposes the standard process and Node.js metrics with live values', async () => {
    const metrics = new PlannerMetrics();
    await metrics.registry.metrics();
    await new Promise((r) => setImmediate(r)); // nodejs_eventloop_lag_seconds is measured after a scrape
    const text = await metrics.registry.metrics();
    const cpu = sampleOf(text, 'process_cpu_seconds_total')!;
    expect(cpu).toBeGreaterThan(0);
    expect(sampleOf(text, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 2 ** 20);
    expect(sampleOf(text, 'process_start_time_seconds')).toBeCloseTo(Date.now() / 1000 - process.uptime(), -1);
    expect(sampleOf(text, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(2 ** 20);
    expect(sampleOf(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    for (const name of ['process_open_fds', 'nodejs_active_handles_total', 'nodejs_heap_space_size_used_bytes', 'nodejs_version_info',
      'nodejs_eventloop_lag_min_seconds', 'nodejs_eventloop_lag_max_seconds', 'nodejs_eventloop_lag_mean_seconds', 'nodejs_eventloop_lag_stddev_seconds',
      'nodejs_eventloop_lag_p50_seconds', 'nodejs_eventloop_lag_p90_seconds', 'nodejs_eventloop_lag_p99_seconds']) {
      expect(text).toContain(`\n${name}`);
    }
    expect(text).toContain('# TYPE nodejs_gc_duration_seconds histogram');
    // Read again at the next scrape, not cached from the first.
    for (let i = 0; i < 2e6; i++) Math.sqrt(i);
    expect(sampleOf(await metrics.registry.metrics(), 'process_cpu_seconds_total')!).toBeGreaterThan(cpu);
  });

  it('keeps the original planner gauges and ignores non-finite values', async () => {
    const metrics = new PlannerMetrics(false);
    metrics.set('numP', 3);
    metrics.set('observedTtft', 120);
    metrics.set('observedTtft', NaN);
    const text = await metrics.registry.metrics();
    expect(sampleOf(text, 'planner:num_p_workers')).toBe(3);
    expect(sampleOf(text, 'planner:observed_ttft')).toBe(120);
    expect(text).not.toContain('process_cpu_seconds_total');
  });
});
