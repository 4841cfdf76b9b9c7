import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { FixedRateLoop, nextSlot } from '../../src/runtime/schedule.js';
import { Logger } from '../../src/runtime/log.js';

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

  it('a slow tick never shifts the schedule and never overlaps itself (fake clock)', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    try {
      const t0 = Date.now();
      const slotsSeen: number[] = [];
      const lateness: number[] = [];
      let running = 0;
      let maxRunning = 0;
      const loop = new FixedRateLoop('t', 200, async (slot) => {
        slotsSeen.push((slot - t0) / 200);
        lateness.push(Date.now() - slot);
        running++;
        maxRunning = Math.max(maxRunning, running);
        // The second tick is slow (500 ms): slots 600 and 800 pass while it runs.
        await new Promise((r) => setTimeout(r, slotsSeen.length === 2 ? 500 : 5));
        running--;
      }, (e) => { throw e; });
      loop.start(t0);
      await vi.advanceTimersByTimeAsync(1500);
      await loop.stop(500);
      expect(maxRunning).toBe(1);
      // Ticks stay on the 200 ms grid: 200, 400, (600 and 800 skipped while the slow one runs), 1000...
      expect(slotsSeen).toEqual([1, 2, 5, 6, 7]);
      expect(lateness.every((l) => l >= 0)).toBe(true);
      expect(loop.stats.skipped).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a timer that fires early waits out the remainder instead of ticking before its slot', async () => {
    vi.useFakeTimers({ now: 5_000 });
    try {
      // The loop's clock runs 2% slow against the timers', so every timer fires ~2 ms before its slot.
      const clock = () => 5_000 + (Date.now() - 5_000) * 0.98;
      const seen: Array<{ slot: number; now: number }> = [];
      const loop = new FixedRateLoop('t', 100, async (slot) => { seen.push({ slot, now: clock() }); }, (e) => { throw e; }, clock);
      loop.start(clock());
      await vi.advanceTimersByTimeAsync(350);
      await loop.stop(10);
      expect(seen.map((s) => s.slot - 5_000)).toEqual([100, 200, 300]);
      for (const s of seen) expect(s.now).toBeGreaterThanOrEqual(s.slot);
    } finally {
      vi.useRealTimers();
    }
  });

  it('ticks on a real clock stay on the grid and in order', async () => {
    const t0 = Date.now();
    const slots: number[] = [];
    const loop = new FixedRateLoop('t', 50, async (slot) => {
      expect(Date.now()).toBeGreaterThanOrEqual(slot);
      slots.push((slot - t0) / 50);
    }, (e) => { throw e; });
    loop.start(t0);
    await sleep(400);
    await loop.stop(100);
    // However loaded the machine, every tick is on the grid, after its slot, and strictly later than the last.
    expect(slots.length).toBeGreaterThanOrEqual(1);
    expect(slots.every((s, i) => Number.isInteger(s) && s >= 1 && (i === 0 || s > slots[i - 1]))).toBe(true);
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
