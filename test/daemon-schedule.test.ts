import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FixedRateLoop, nextSlot } from '../src/runtime/schedule.js';
import { Logger } from '../src/runtime/log.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('fixed-rate schedule', () => {
  it('nextSlot is on the grid, strictly after the reference, and less than one period later', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 0, max: 1e9 }), (start, period, delta) => {
      const after = start + delta;
      const s = nextSlot(start, period, after);
      expect((s - start) % period).toBe(0);
      expect(s).toBeGreaterThan(after);
      expect(s - after).toBeLessThanOrEqual(period);
      expect(s).toBeGreaterThanOrEqual(start + period);
    }));
  });

  it('a slow tick never shifts the schedule and never overlaps itself', async () => {
    const starts: number[] = [];
    let running = 0;
    let maxRunning = 0;
    const t0 = Date.now();
    const slotsSeen: number[] = [];
    const loop = new FixedRateLoop('t', 200, async (slot) => {
      slotsSeen.push((slot - t0) / 200);
      expect(Date.now()).toBeGreaterThanOrEqual(slot);
      starts.push(Date.now() - t0);
      running++;
      maxRunning = Math.max(maxRunning, running);
      // The second tick is slow (500 ms): slots 600 and 800 pass while it runs.
      await sleep(starts.length === 2 ? 500 : 5);
      running--;
    }, (e) => { throw e; });
    loop.start(t0);
    await sleep(1500);
    await loop.stop(500);
    expect(maxRunning).toBe(1);
    // Ticks stay on the 200 ms grid: 200, 400, (600 and 800 skipped while the slow one runs), 1000...
    expect(slotsSeen.slice(0, 3)).toEqual([1, 2, 5]);
    expect(slotsSeen.every((s, i) => Number.isInteger(s) && (i === 0 || s > slotsSeen[i - 1]))).toBe(true);
    expect(loop.stats.skipped).toBeGreaterThanOrEqual(2);
  });

  it('stop waits for the running tick but not beyond the grace time', async () => {
    const loop = new FixedRateLoop('t', 20, () => sleep(10_000), () => undefined);
    loop.start();
    await sleep(40);
    const t = Date.now();
    await loop.stop(100);
    expect(Date.now() - t).toBeLessThan(1000);
  });

  it('a throwing tick is reported and the loop carries on', async () => {
    const errors: unknown[] = [];
    let n = 0;
    const loop = new FixedRateLoop('t', 30, async () => { n++; throw new Error('boom'); }, (e) => errors.push(e));
    loop.start();
    await sleep(110);
    await loop.stop(100);
    expect(n).toBeGreaterThanOrEqual(2);
    expect(errors).toHaveLength(n);
  });
});

describe('fault episodes in the log', () => {
  it('logs a fault once per episode and one recovery line', () => {
    const lines: Record<string, unknown>[] = [];
    let now = 0;
    const log = new Logger((l) => lines.push(JSON.parse(l)), null, () => now);
    expect(log.fault('source:x', { kind: 'x' })).toBe(true);
    now = 1000;
    expect(log.fault('source:x', { kind: 'x' })).toBe(false);
    expect(log.fault('source:x', { kind: 'x' })).toBe(false);
    now = 5000;
    expect(log.recover('source:x')).toBe(true);
    expect(log.recover('source:x')).toBe(false);
    log.fault('source:x', {});
    expect(lines.map((l) => l.event)).toEqual(['fault', 'recovered', 'fault']);
    expect(lines[1]).toMatchObject({ fault: 'source:x', failures: 3, duration_s: 5 });
  });
});
