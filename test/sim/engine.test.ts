// Hand-worked cases of the simulator's engine model, with a toy latency model whose numbers can be
// followed on paper: prefill 100 ms, decode step 10 ms per request in the batch.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Engine, type EngineRecorder, type SimRequest } from '../../src/sim/engine.js';
import type { EngineLatencyModel } from '../../src/sim/types.js';

interface Done {
  arrivalS: number;
  ttftMs: number;
  endS: number;
  itlMs: number | null;
}

function harness(model: EngineLatencyModel, initial = { prefill: 1, decode: 1 }, mode: 'disagg' | 'agg' = 'disagg', coldStartS = 60) {
  const done: Done[] = [];
  const dropped: SimRequest[] = [];
  const recorder: EngineRecorder = {
    firstToken() {},
    complete(req, nowS, itlMs) {
      done.push({ arrivalS: req.arrivalS, ttftMs: req.ttftMs, endS: nowS, itlMs });
    },
    drop(req) {
      dropped.push(req);
    },
  };
  const engine = new Engine(model, { mode, coldStartS, gpusPerReplica: { prefill: 1, decode: 1 }, initial, recorder });
  return { engine, done, dropped };
}

const flat: EngineLatencyModel = { prefillMs: () => 100, decodeStepMs: () => 10, maxKvTokens: 100_000 };
const perRequest: EngineLatencyModel = { prefillMs: () => 100, decodeStepMs: (n) => 10 * n, maxKvTokens: 100_000 };

describe('engine: hand-worked cases', () => {
  it('one request: TTFT = prefill time, ITL = decode step, end = prefill + (osl-1) steps', () => {
    const { engine, done } = harness(flat);
    engine.arrive({ t: 0, isl: 100, osl: 11 }, 0);
    engine.runUntil(10);
    expect(done).toHaveLength(1);
    expect(done[0].ttftMs).toBeCloseTo(100, 6);
    expect(done[0].endS).toBeCloseTo(0.1 + 10 * 0.01, 6);
    expect(done[0].itlMs).toBeCloseTo(10, 6);
    expect(engine.inFlightRequests).toBe(0);
  });

  it('queueing of two: the second waits for the prefill server; decode steps slow down while they share the batch', () => {
    const { engine, done } = harness(perRequest);
    engine.arrive({ t: 0, isl: 100, osl: 21 }, 0);
    engine.arrive({ t: 0, isl: 100, osl: 21 }, 0);
    engine.runUntil(10);
    done.sort((a, b) => a.endS - b.endS);
    // r1: prefill 0-0.1; 10 tokens alone (10 ms) to 0.2; 10 tokens shared (20 ms) to 0.4.
    // r2: queued 0.1, prefill 0.1-0.2; 10 tokens shared to 0.4; 10 alone to 0.5.
    expect(done.map((d) => d.ttftMs)).toEqual([expect.closeTo(100, 6), expect.closeTo(200, 6)]);
    expect(done[0].endS).toBeCloseTo(0.4, 6);
    expect(done[1].endS).toBeCloseTo(0.5, 6);
    expect(done[0].itlMs).toBeCloseTo(15, 6); // (0.4 - 0.1) / 20 tokens
    expect(done[1].itlMs).toBeCloseTo(15, 6); // (0.5 - 0.2) / 20 tokens
  });

  it('two prefill replicas serve two simultaneous requests in parallel', () => {
    const { engine, done } = harness(flat, { prefill: 2, decode: 1 });
    engine.arrive({ t: 0, isl: 100, osl: 1 }, 0);
    engine.arrive({ t: 0, isl: 100, osl: 1 }, 0);
    engine.runUntil(10);
    expect(done.map((d) => d.ttftMs)).toEqual([expect.closeTo(100, 6), expect.closeTo(100, 6)]);
    // osl = 1: the first token is the whole answer, so no ITL.
    expect(done.every((d) => d.itlMs === null)).toBe(true);
  });

  it('KV overflow: the newest request is preempted when contexts fill the cache; one larger than the cache is dropped', () => {
    const small: EngineLatencyModel = { ...flat, maxKvTokens: 300 };
    const { engine, done, dropped } = harness(small);
    engine.arrive({ t: 0, isl: 100, osl: 101 }, 0); // 100 decode tokens, 201 KV at the end
    engine.arrive({ t: 0, isl: 100, osl: 101 }, 0);
    engine.arrive({ t: 0, isl: 250, osl: 100 }, 0); // needs 350 > 300: can never finish
    engine.runUntil(100);
    done.sort((a, b) => a.endS - b.endS);
    expect(dropped).toHaveLength(1);
    expect(dropped[0].isl).toBe(250);
    // r1 decodes from 0.1. At 0.2 it holds 110 tokens and r2 (100) is admitted (210 <= 297).
    // Both grow by 1 token per 10 ms step: 300 tokens after 45 steps, at 0.65 s, so r2 (newest,
    // 45 tokens generated) is preempted. r1 ends at 0.1 + 100 * 0.01 = 1.1; r2 re-enters with
    // its 45 tokens (needs 145) and generates the last 55: 1.1 + 0.55 = 1.65.
    expect(done[0].endS).toBeCloseTo(1.1, 6);
    expect(done[1].endS).toBeCloseTo(1.65, 6);
    expect(done[1].itlMs).toBeCloseTo(14.5, 6); // (1.65 - 0.2) / 100 tokens
    expect(engine.inFlightRequests).toBe(0);
  });

  it('KV admission: a request waits in the queue while the cache is full', () => {
    const small: EngineLatencyModel = { ...flat, maxKvTokens: 300 };
    const { engine, done } = harness(small, { prefill: 2, decode: 1 });
    engine.arrive({ t: 0, isl: 200, osl: 51 }, 0); // decode 0.1 -> 0.6
    engine.arrive({ t: 0, isl: 200, osl: 51 }, 0); // prefill ends 0.1 too, but 200 + 200 > 297: waits
    engine.runUntil(100);
    done.sort((a, b) => a.endS - b.endS);
    expect(done[0].endS).toBeCloseTo(0.6, 6);
    expect(done[1].endS).toBeCloseTo(1.1, 6);
    expect(done[1].itlMs).toBeCloseTo(20, 6); // (1.1 - 0.1) / 50
  });

  it('agg: one replica prefills then decodes the same request', () => {
    const { engine, done } = harness(flat, { prefill: 0, decode: 1 }, 'agg');
    engine.arrive({ t: 0, isl: 100, osl: 11 }, 0);
    engine.runUntil(10);
    expect(done[0].ttftMs).toBeCloseTo(100, 6);
    expect(done[0].endS).toBeCloseTo(0.2, 6);
    expect(engine.gpusAllocated()).toBe(1);
  });
});

describe('engine: scaling', () => {
  it('a new replica takes requests only after the cold start', () => {
    const { engine, done } = harness(flat, { prefill: 1, decode: 1 }, 'disagg', 60);
    engine.setTarget('prefill', 2, 0);
    expect(engine.readyCounts()).toEqual({ prefill: 1, decode: 1 });
    expect(engine.gpusAllocated()).toBe(3); // the starting replica already holds its GPU
    engine.arrive({ t: 0, isl: 100, osl: 1 }, 0);
    engine.arrive({ t: 0, isl: 100, osl: 1 }, 0);
    engine.runUntil(59);
    expect(done.map((d) => d.ttftMs)).toEqual([expect.closeTo(100, 6), expect.closeTo(200, 6)]);
    engine.runUntil(60);
    expect(engine.readyCounts().prefill).toBe(2);
    engine.arrive({ t: 60, isl: 100, osl: 1 }, 60);
    engine.arrive({ t: 60, isl: 100, osl: 1 }, 60);
    engine.runUntil(70);
    expect(done.slice(2).map((d) => d.ttftMs)).toEqual([expect.closeTo(100, 6), expect.closeTo(100, 6)]);
    expect(engine.gpuUsage(70).gpuSeconds).toBeCloseTo(3 * 70, 6);
  });

  it('a removed replica drains what it holds and then frees its GPU', () => {
    const { engine, done } = harness(flat, { prefill: 1, decode: 2 });
    engine.arrive({ t: 0, isl: 100, osl: 101 }, 0); // decode on replica A: 0.1 -> 1.1
    engine.runUntil(0.1);
    engine.arrive({ t: 0.1, isl: 100, osl: 101 }, 0.1); // least-loaded: replica B, 0.2 -> 1.2
    engine.runUntil(0.5);
    engine.setTarget('decode', 1, 0.5);
    expect(engine.readyCounts().decode).toBe(1);
    expect(engine.gpusAllocated()).toBe(3); // the draining one still holds its GPU
    engine.runUntil(5);
    expect(done.map((d) => d.endS).sort()).toEqual([expect.closeTo(1.1, 6), expect.closeTo(1.2, 6)]);
    expect(engine.gpusAllocated()).toBe(2);
    // GPU-seconds: 3 GPUs until B drained at 1.2 s, then 2.
    expect(engine.gpuUsage(5).gpuSeconds).toBeCloseTo(3 * 1.2 + 2 * 3.8, 6);
    expect(engine.scaleDowns).toBe(1);
  });

  it('requests arriving with no ready replica wait at the frontend', () => {
    const { engine, done } = harness(flat, { prefill: 0, decode: 1 }, 'disagg', 30);
    engine.arrive({ t: 0, isl: 100, osl: 1 }, 0);
    engine.setTarget('prefill', 1, 0);
    engine.runUntil(100);
    expect(done[0].ttftMs).toBeCloseTo(30_100, 3);
  });
});

describe('engine: invariants', () => {
  it('every request finishes or is dropped, TTFT >= prefill time, ITL >= single-request step', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.double({ min: 0, max: 0.5, noNaN: true }), isl: fc.integer({ min: 1, max: 400 }), osl: fc.integer({ min: 1, max: 200 }) }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        (reqs, p, d) => {
          const model: EngineLatencyModel = { prefillMs: (isl) => 5 + isl / 10, decodeStepMs: (n, ctx) => 5 + n + ctx / 100, maxKvTokens: 500 };
          const { engine, done, dropped } = harness(model, { prefill: p, decode: d });
          let t = 0;
          for (const r of reqs) {
            t += r.dt;
            engine.runUntil(t);
            engine.arrive({ t, isl: r.isl, osl: r.osl }, t);
          }
          engine.runUntil(t + 1e6);
          expect(done.length + dropped.length).toBe(reqs.length);
          expect(dropped.length).toBe(reqs.filter((r) => r.isl + r.osl > 500).length);
          expect(engine.inFlightRequests).toBe(0);
          for (const x of done) {
            expect(x.ttftMs).toBeGreaterThanOrEqual(5);
            if (x.itlMs !== null) expect(x.itlMs).toBeGreaterThanOrEqual(6 - 1e-9);
          }
        },
      ),
      { numRuns: 100, seed: 7 },
    );
  });
});
