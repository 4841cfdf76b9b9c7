// Hand-worked cases of the simulator's engine model, with toy latency models whose numbers can be
// followed on paper: prefill 100 ms (or 1 ms per prompt token), decode step 10 ms (or 10 ms per
// request in the batch), KV caches of a few 16-token blocks.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Engine, idleLatency, type EngineRecorder } from '../../src/sim/engine.js';
import { Field } from '../../src/sim/tables.js';
import type { EngineLatencyModel } from '../../src/sim/types.js';

interface Done {
  tag: number;
  arrivalS: number;
  ttftMs: number;
  endS: number;
  itlMs: number | null;
}

interface HarnessOptions {
  initial?: { prefill: number; decode: number };
  mode?: 'disagg' | 'agg';
  coldStartS?: number;
  maxNumSeqs?: number;
  kvWatermark?: number;
}

function harness(model: EngineLatencyModel, o: HarnessOptions = {}) {
  const done: Done[] = [];
  const dropped: number[] = [];
  const preempted: Array<{ tag: number; atS: number }> = [];
  let engine: Engine;
  const recorder: EngineRecorder = {
    firstToken() {},
    complete(id, nowS, itlMs) {
      const t = engine.table;
      done.push({ tag: t.get(id, Field.Tag), arrivalS: t.get(id, Field.ArrivalS), ttftMs: (t.get(id, Field.FirstTokenS) - t.get(id, Field.ArrivalS)) * 1000, endS: nowS, itlMs });
    },
    drop(id) {
      dropped.push(engine.table.get(id, Field.Tag));
    },
    preempt(id, nowS) {
      preempted.push({ tag: engine.table.get(id, Field.Tag), atS: nowS });
    },
  };
  engine = new Engine(model, {
    mode: o.mode ?? 'disagg',
    coldStartS: o.coldStartS ?? 60,
    gpusPerReplica: { prefill: 1, decode: 1 },
    initial: o.initial ?? { prefill: 1, decode: 1 },
    recorder,
    maxNumSeqs: o.maxNumSeqs,
    kvWatermark: o.kvWatermark,
  });
  const byTag = (tag: number) => done.find((d) => d.tag === tag)!;
  return { engine, done, dropped, preempted, byTag };
}

const flat: EngineLatencyModel = { prefillMs: () => 100, decodeStepMs: () => 10, maxKvTokens: 100_000 };
const perRequest: EngineLatencyModel = { prefillMs: () => 100, decodeStepMs: (n) => 10 * n, maxKvTokens: 100_000 };
/** Prefill 1 ms per prompt token (so a recompute's cost can be read off), decode step 10 ms, `blocks` KV blocks. */
const tokenPrefill = (blocks: number): EngineLatencyModel => ({ prefillMs: (n) => n, decodeStepMs: () => 10, maxKvTokens: 16 * blocks });

describe('engine: hand-worked cases', () => {
  it('one request: TTFT = prefill time, ITL = decode step, end = prefill + (osl-1) steps', () => {
    const { engine, done } = harness(flat);
    engine.arrive(100, 11, 0);
    engine.advanceTo(10);
    expect(done).toHaveLength(1);
    expect(done[0].ttftMs).toBeCloseTo(100, 6);
    expect(done[0].endS).toBeCloseTo(0.1 + 10 * 0.01, 6);
    expect(done[0].itlMs).toBeCloseTo(10, 6);
    expect(engine.inFlightRequests).toBe(0);
  });

  it('queueing of two: the second waits for the prefill server; decode steps slow down while they share the batch', () => {
    const { engine, byTag } = harness(perRequest);
    engine.arrive(100, 21, 0, 1);
    engine.arrive(100, 21, 0, 2);
    engine.advanceTo(10);
    // r1: prefill 0-0.1; 10 tokens alone (10 ms) to 0.2; 10 tokens shared (20 ms) to 0.4.
    // r2: queued 0.1, prefill 0.1-0.2, joins the batch at the step boundary at 0.2; 10 tokens
    // shared to 0.4; 10 alone to 0.5.
    expect(byTag(1).ttftMs).toBeCloseTo(100, 6);
    expect(byTag(2).ttftMs).toBeCloseTo(200, 6);
    expect(byTag(1).endS).toBeCloseTo(0.4, 6);
    expect(byTag(2).endS).toBeCloseTo(0.5, 6);
    expect(byTag(1).itlMs).toBeCloseTo(15, 6); // (0.4 - 0.1) / 20 tokens
    expect(byTag(2).itlMs).toBeCloseTo(15, 6); // (0.5 - 0.2) / 20 tokens
  });

  it('a request reaching a busy decode engine mid-step joins at the next step boundary', () => {
    // Two prefill replicas; r2's prompt is 5 ms longer, so it reaches decode 5 ms into r1's step.
    const model: EngineLatencyModel = { prefillMs: (n) => n, decodeStepMs: () => 10, maxKvTokens: 100_000 };
    const { engine, byTag } = harness(model, { initial: { prefill: 2, decode: 1 } });
    engine.arrive(100, 11, 0, 1); // decode from 0.100: steps end 0.110, 0.120, ...
    engine.arrive(105, 3, 0, 2); // first token at 0.105; admitted at the boundary 0.110
    engine.advanceTo(10);
    expect(byTag(2).endS).toBeCloseTo(0.11 + 2 * 0.01, 9);
    expect(byTag(2).itlMs).toBeCloseTo((0.13 - 0.105) * 1000 / 2, 9);
  });

  it('two prefill replicas serve two simultaneous requests in parallel', () => {
    const { engine, done } = harness(flat, { initial: { prefill: 2, decode: 1 } });
    engine.arrive(100, 1, 0);
    engine.arrive(100, 1, 0);
    engine.advanceTo(10);
    expect(done.map((d) => d.ttftMs)).toEqual([expect.closeTo(100, 6), expect.closeTo(100, 6)]);
    // osl = 1: the first token is the whole answer, so no ITL.
    expect(done.every((d) => d.itlMs === null)).toBe(true);
  });

  it('agg: one replica prefills then decodes the same request', () => {
    const { engine, done } = harness(flat, { initial: { prefill: 0, decode: 1 }, mode: 'agg' });
    engine.arrive(100, 11, 0);
    engine.advanceTo(10);
    expect(done[0].ttftMs).toBeCloseTo(100, 6);
    expect(done[0].endS).toBeCloseTo(0.2, 6);
    expect(engine.gpusAllocated()).toBe(1);
  });
});

describe('engine: vLLM scheduling at KV saturation (16-token blocks)', () => {
  it('KV is counted per sequence in whole blocks: two 17-token contexts need 4 blocks, not 34 tokens', () => {
    // 3 blocks (48 tokens). Each request: prompt 16 + first token = 17 tokens = 2 blocks, one decode step.
    const { engine, byTag } = harness(tokenPrefill(3), { initial: { prefill: 2, decode: 1 } });
    engine.arrive(16, 2, 0, 1);
    engine.arrive(16, 2, 0, 2);
    // Both prefills end at 0.016. r1 takes 2 blocks; r2 needs 2 more, only 1 is free: it waits.
    engine.advanceTo(0.02);
    const g = engine.workerGauges(0.02).find((w) => w.pool === 'decode')!;
    expect(g).toMatchObject({ num_requests_running: 1, num_requests_waiting: 1, kv_blocks_used: 2, kv_blocks_total: 3, active_decode_blocks: 4 });
    expect(g.kv_usage).toBeCloseTo(2 / 3, 12);
    engine.advanceTo(10);
    expect(byTag(1).endS).toBeCloseTo(0.026, 9); // 0.016 + one 10 ms step
    expect(byTag(2).endS).toBeCloseTo(0.036, 9); // admitted when r1's blocks are freed at 0.026
    // Counted in tokens (34 <= 48) both would have ended at 0.026.
  });

  it('a waiting request is admitted only when its blocks are free, in FIFO order (the head blocks smaller ones)', () => {
    // 8 blocks. A and B: context 80 = 5 blocks each; C: 16 = 1 block; one decode step each.
    const { engine, byTag } = harness(tokenPrefill(8), { initial: { prefill: 3, decode: 1 } });
    engine.arrive(79, 2, 0, 1);
    engine.arrive(79, 2, 0, 2); // same prompt length, so it reaches decode at the same time
    engine.arrive(15, 2, 0.064, 3);
    engine.advanceTo(10);
    // A and B both reach decode at 0.079; A is admitted (5 blocks), B (5 blocks) does not fit in
    // the 3 left. C reaches decode at 0.079 too (0.064 + 15 ms) and would fit (1 block), but it
    // queues behind B. A ends at 0.089; B and C are admitted then and end at 0.099.
    expect(byTag(1).endS).toBeCloseTo(0.089, 9);
    expect(byTag(2).endS).toBeCloseTo(0.099, 9);
    expect(byTag(3).endS).toBeCloseTo(0.099, 9);
  });

  it('at most max_num_seqs requests run; the next waits for a free slot', () => {
    const { engine, byTag } = harness(flat, { initial: { prefill: 3, decode: 1 }, maxNumSeqs: 2 });
    for (const tag of [1, 2, 3]) engine.arrive(10, 6, 0, tag);
    engine.advanceTo(10);
    // Prefills end at 0.1; two run 5 steps to 0.15; the third starts then and ends at 0.2.
    expect(byTag(1).endS).toBeCloseTo(0.15, 9);
    expect(byTag(2).endS).toBeCloseTo(0.15, 9);
    expect(byTag(3).endS).toBeCloseTo(0.2, 9);
  });

  it('a running request that cannot get its next block preempts the newest admission, which goes back to the front of the queue and is recomputed at prefill cost', () => {
    // 4 blocks (64 tokens), prefill 1 ms per token, decode step 10 ms.
    const { engine, byTag, preempted } = harness(tokenPrefill(4), { initial: { prefill: 2, decode: 1 } });
    engine.arrive(31, 20, 0, 1); // A
    engine.arrive(31, 20, 0, 2); // B
    engine.arrive(15, 2, 0.05, 3); // C: one block, one decode step
    engine.advanceTo(10);
    // 0.031: A and B reach decode, 32 tokens = 2 blocks each: 4 blocks, both admitted.
    // 0.041: each needs a 3rd block for token 33; 6 > 4, so B (admitted last, 1 token generated)
    //        is preempted and put back at the front of the queue. No admission in that step.
    expect(preempted).toEqual([{ tag: 2, atS: expect.closeTo(0.041, 9) }]);
    // 0.065: C reaches decode; 1 block is free, but B (3 blocks) heads the queue: C waits.
    // A runs alone (3, then 4 blocks) and ends after its 19 steps: 0.031 + 0.19 = 0.221.
    expect(byTag(1).endS).toBeCloseTo(0.221, 9);
    // 0.221: B (recompute 31 + 1 + 1 = 33 tokens: 33 ms) and C are admitted. The batch's next step
    //        takes 33 + 10 ms: C ends at 0.264; B makes its 18 remaining tokens by 0.221 + 0.033 + 0.18.
    expect(byTag(3).endS).toBeCloseTo(0.264, 9);
    expect(byTag(2).endS).toBeCloseTo(0.434, 9);
    expect(byTag(2).itlMs).toBeCloseTo(((0.434 - 0.031) * 1000) / 19, 9);
    expect(engine.preemptions).toBe(1);
    const g = engine.workerGauges(1).find((w) => w.pool === 'decode')!;
    expect(g.preemptions_total).toBe(1);
  });

  it('a request that could never fit in one engine is rejected at arrival', () => {
    const { engine, done, dropped } = harness(tokenPrefill(4));
    engine.arrive(60, 10, 0, 1); // peak context 69 tokens = 5 blocks > 4
    engine.arrive(48, 17, 0, 2); // peak 64 = 4 blocks: fits
    engine.advanceTo(10);
    expect(dropped).toEqual([1]);
    expect(done.map((d) => d.tag)).toEqual([2]);
    expect(engine.inFlightRequests).toBe(0);
  });

  it('the optional watermark keeps free blocks at admission while something runs', () => {
    // 10 blocks, watermark 20% = 2 blocks. A: 5 blocks; B: 4 blocks (5 free, but 4 + 2 > 5).
    const off = harness(tokenPrefill(10), { initial: { prefill: 2, decode: 1 } });
    const on = harness(tokenPrefill(10), { initial: { prefill: 2, decode: 1 }, kvWatermark: 0.2 });
    for (const h of [off, on]) {
      h.engine.arrive(79, 2, 0, 1);
      h.engine.arrive(63, 2, 0.016, 2); // reaches decode at 0.079 as well
      h.engine.advanceTo(10);
    }
    expect(off.byTag(2).endS).toBeCloseTo(0.089, 9); // admitted at once
    expect(on.byTag(2).endS).toBeCloseTo(0.099, 9); // admitted when A ends at 0.089
  });

  it('tokensOut follows a request through prefill, decode and completion (for streaming it live)', () => {
    const { engine } = harness(flat);
    const id = engine.arrive(100, 11, 0);
    expect(engine.tokensOut(id, 0.05)).toBe(0);
    engine.advanceTo(0.1);
    expect(engine.tokensOut(id, 0.1)).toBe(1);
    engine.advanceTo(0.155);
    expect(engine.tokensOut(id, 0.155)).toBe(1 + 5); // 5 steps of 10 ms done
  });
});

describe('engine: abort (a client that went away)', () => {
  it('a running request aborted mid-run frees its blocks at the next step boundary, which admits the request waiting for them', () => {
    // 8 blocks (128 tokens), prefill 1 ms per token, decode step 10 ms, two prefill replicas.
    const { engine, done, byTag } = harness(tokenPrefill(8), { initial: { prefill: 2, decode: 1 } });
    const a = engine.arrive(79, 11, 0, 1); // A: context 80 = 5 blocks at 0.079, 6 after its first step
    engine.arrive(63, 2, 0.02, 2); // B: reaches decode at 0.083 needing 4 blocks; 2 are free: it waits
    engine.advanceTo(0.1);
    expect(engine.workerGauges(0.1).find((w) => w.pool === 'decode')).toMatchObject({ num_requests_running: 1, num_requests_waiting: 1, kv_blocks_used: 6 });
    // A's steps end at 0.089, 0.099, 0.109: aborted at 0.1, it holds its blocks until 0.109.
    engine.abort(a, 0.1);
    engine.advanceTo(0.105);
    expect(engine.workerGauges(0.105).find((w) => w.pool === 'decode')).toMatchObject({ num_requests_running: 1, num_requests_waiting: 1, kv_blocks_used: 6 });
    engine.advanceTo(0.112);
    // 0.109: A leaves, its 6 blocks are free, B is admitted (context 64 = 4 blocks) and ends one step later.
    expect(engine.workerGauges(0.112).find((w) => w.pool === 'decode')).toMatchObject({ num_requests_running: 1, num_requests_waiting: 0, kv_blocks_used: 4 });
    engine.advanceTo(10);
    expect(byTag(2).endS).toBeCloseTo(0.119, 9); // without the abort: A ends at 0.179, B at 0.189
    expect(done.map((d) => d.tag)).toEqual([2]);
    expect(engine.isQuiescent()).toBe(true);
    expect(engine.inFlightRequests).toBe(0);
  });

  it('an aborted prompt leaves the prefill queue: the ones behind it move up (in service: the next starts now)', () => {
    // One prefill replica at 1 ms per token: A (100), B (50), C (20) end at 0.1, 0.15, 0.17.
    const { engine, done, byTag } = harness(tokenPrefill(64), { initial: { prefill: 1, decode: 1 } });
    const a = engine.arrive(100, 2, 0, 1);
    const b = engine.arrive(50, 2, 0, 2);
    engine.arrive(20, 2, 0, 3);
    engine.advanceTo(0.05);
    engine.abort(b, 0.05); // queued: C now ends at 0.1 + 0.02
    expect(engine.workerGauges(0.05).find((w) => w.pool === 'prefill')).toMatchObject({ active_prefill_tokens: 120, num_requests_waiting: 1 });
    engine.advanceTo(0.06);
    engine.abort(a, 0.06); // in service: C starts now and ends at 0.08
    engine.advanceTo(10);
    expect(done.map((d) => d.tag)).toEqual([3]);
    expect(byTag(3).ttftMs).toBeCloseTo(80, 6);
    expect(byTag(3).endS).toBeCloseTo(0.09, 9); // one 10 ms decode step
    expect(engine.inFlightRequests).toBe(0);
    expect(engine.prefillBusySeconds()).toBeCloseTo(0.06 + 0.02, 9); // A's 60 ms, then C's 20 ms
  });

  it('a request waiting at the frontend (no ready replica) leaves at once', () => {
    const { engine, done } = harness(tokenPrefill(8), { initial: { prefill: 0, decode: 1 } });
    const a = engine.arrive(10, 5, 0, 1);
    engine.abort(a, 0);
    engine.setTarget('prefill', 1, 0);
    engine.advanceTo(120);
    expect(done).toEqual([]);
    expect(engine.isQuiescent()).toBe(true);
  });

  it('the blocked head of the decode queue aborted: the small request behind it is admitted at the next step', () => {
    // As the first case, plus C (context 16 = 1 block) reaching decode at 0.085 behind B.
    const { engine, byTag } = harness(tokenPrefill(8), { initial: { prefill: 3, decode: 1 } });
    engine.arrive(79, 11, 0, 1);
    const b = engine.arrive(63, 2, 0.02, 2);
    engine.arrive(15, 2, 0.07, 3);
    engine.advanceTo(0.1);
    engine.abort(b, 0.1);
    engine.advanceTo(10);
    expect(byTag(3).endS).toBeCloseTo(0.119, 9); // admitted at 0.109 next to A (6 + 1 <= 8); without the abort, 0.189
    expect(byTag(1).endS).toBeCloseTo(0.179, 9);
  });

  it('random aborts: every other request finishes or is rejected, blocks stay within the cache, nothing is left behind', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.double({ min: 0, max: 0.3, noNaN: true }), isl: fc.integer({ min: 1, max: 400 }), osl: fc.integer({ min: 1, max: 200 }), abortAfterS: fc.option(fc.double({ min: 0, max: 2, noNaN: true })) }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom<'disagg' | 'agg'>('disagg', 'agg'),
        (reqs, p, d, mode) => {
          const model: EngineLatencyModel = { prefillMs: (isl) => 5 + isl / 10, decodeStepMs: (n, ctx) => 5 + n + ctx / 100, maxKvTokens: 512 };
          const { engine, done, dropped } = harness(model, { initial: { prefill: p, decode: d }, mode });
          const events: Array<{ atS: number; i: number; abort: boolean }> = [];
          let t = 0;
          reqs.forEach((r, i) => {
            t += r.dt;
            events.push({ atS: t, i, abort: false });
            if (r.abortAfterS !== null) events.push({ atS: t + r.abortAfterS, i, abort: true });
          });
          events.sort((x, y) => x.atS - y.atS || Number(x.abort) - Number(y.abort));
          const ids = new Map<number, number>();
          let aborted = 0;
          for (const e of events) {
            engine.advanceTo(e.atS);
            if (e.i === 0 && !e.abort && p === 0) engine.setTarget('prefill', 1, e.atS);
            if (!e.abort) {
              ids.set(e.i, engine.arrive(reqs[e.i].isl, reqs[e.i].osl, e.atS, e.i));
            } else if (ids.get(e.i)! >= 0 && !done.some((x) => x.tag === e.i)) {
              engine.abort(ids.get(e.i)!, e.atS);
              aborted++;
            }
            for (const w of engine.workerGauges(e.atS)) {
              expect(w.kv_blocks_used).toBeLessThanOrEqual(32);
              expect(w.kv_blocks_used).toBeGreaterThanOrEqual(0);
              expect(w.active_prefill_tokens).toBeGreaterThanOrEqual(0);
              expect(w.active_decode_blocks).toBeGreaterThanOrEqual(w.kv_blocks_used);
            }
          }
          engine.advanceTo(t + 1e6);
          expect(done.length + dropped.length + aborted).toBe(reqs.length);
          expect(new Set(done.map((x) => x.tag)).size).toBe(done.length);
          expect(engine.inFlightRequests).toBe(0);
          expect(engine.abortsPending).toBe(0);
          expect(engine.isQuiescent()).toBe(true);
        },
      ),
      { numRuns: 150, seed: 11 },
    );
  });
});

describe('engine: scaling', () => {
  it('a new replica takes requests only after the cold start', () => {
    const { engine, done } = harness(flat, { coldStartS: 60 });
    engine.setTarget('prefill', 2, 0);
    expect(engine.readyCounts()).toEqual({ prefill: 1, decode: 1 });
    expect(engine.gpusAllocated()).toBe(3); // the starting replica already holds its GPU
    engine.arrive(100, 1, 0);
    engine.arrive(100, 1, 0);
    engine.advanceTo(59);
    expect(done.map((d) => d.ttftMs)).toEqual([expect.closeTo(100, 6), expect.closeTo(200, 6)]);
    engine.advanceTo(60);
    expect(engine.readyCounts().prefill).toBe(2);
    engine.arrive(100, 1, 60);
    engine.arrive(100, 1, 60);
    engine.advanceTo(70);
    expect(done.slice(2).map((d) => d.ttftMs)).toEqual([expect.closeTo(100, 6), expect.closeTo(100, 6)]);
    expect(engine.gpuUsage(70).gpuSeconds).toBeCloseTo(3 * 70, 6);
  });

  it('a removed replica drains what it holds and then frees its GPU', () => {
    const { engine, done } = harness(flat, { initial: { prefill: 1, decode: 2 } });
    engine.arrive(100, 101, 0); // decode on replica A: 0.1 -> 1.1
    engine.advanceTo(0.1);
    engine.arrive(100, 101, 0.1); // least-loaded: replica B, 0.2 -> 1.2
    engine.advanceTo(0.5);
    engine.setTarget('decode', 1, 0.5);
    expect(engine.readyCounts().decode).toBe(1);
    expect(engine.gpusAllocated()).toBe(3); // the draining one still holds its GPU
    engine.advanceTo(5);
    expect(done.map((d) => d.endS).sort()).toEqual([expect.closeTo(1.1, 6), expect.closeTo(1.2, 6)]);
    expect(engine.gpusAllocated()).toBe(2);
    // GPU-seconds: 3 GPUs until B drained at 1.2 s, then 2.
    expect(engine.gpuUsage(5).gpuSeconds).toBeCloseTo(3 * 1.2 + 2 * 3.8, 6);
    expect(engine.scaleDowns).toBe(1);
  });

  it('requests arriving with no ready replica wait at the frontend', () => {
    const { engine, done } = harness(flat, { initial: { prefill: 0, decode: 1 }, coldStartS: 30 });
    engine.arrive(100, 1, 0);
    engine.setTarget('prefill', 1, 0);
    engine.advanceTo(100);
    expect(done[0].ttftMs).toBeCloseTo(30_100, 3);
  });

  it('a target above the per-pool limit is cut to it and counted', () => {
    const { engine } = harness(flat);
    engine.setTarget('prefill', 1e12, 0);
    expect(engine.targetCounts().prefill).toBe(4096);
    expect(engine.clampedTargets).toBe(1);
  });
});

describe('engine: invariants', () => {
  it('every request finishes or is rejected, TTFT >= prefill time, ITL >= single-request step, blocks never exceed the cache', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.double({ min: 0, max: 0.5, noNaN: true }), isl: fc.integer({ min: 1, max: 400 }), osl: fc.integer({ min: 1, max: 200 }) }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 8 }),
        (reqs, p, d, maxNumSeqs) => {
          const model: EngineLatencyModel = { prefillMs: (isl) => 5 + isl / 10, decodeStepMs: (n, ctx) => 5 + n + ctx / 100, maxKvTokens: 512 };
          const { engine, done, dropped } = harness(model, { initial: { prefill: p, decode: d }, maxNumSeqs });
          let t = 0;
          for (const r of reqs) {
            t += r.dt;
            engine.advanceTo(t);
            for (const w of engine.workerGauges(t)) {
              expect(w.kv_blocks_used).toBeLessThanOrEqual(32);
              expect(w.num_requests_running).toBeLessThanOrEqual(w.pool === 'decode' ? maxNumSeqs : 1);
            }
            engine.arrive(r.isl, r.osl, t);
          }
          engine.advanceTo(t + 1e6);
          expect(done.length + dropped.length).toBe(reqs.length);
          expect(dropped.length).toBe(reqs.filter((r) => Math.ceil((r.isl + r.osl - 1) / 16) > 32).length);
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

  it('idleLatency is what the engine gives a request alone', () => {
    const model: EngineLatencyModel = { prefillMs: (isl) => 5 + isl / 10, decodeStepMs: (n, ctx) => 5 + n + ctx / 100, maxKvTokens: 4096 };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 1, max: 2000 }), (isl, osl) => {
        const { engine, done, dropped } = harness(model);
        engine.arrive(isl, osl, 0);
        engine.advanceTo(1e6);
        const alone = idleLatency(model, isl, osl);
        if (!alone.fits) {
          expect(dropped).toHaveLength(1);
          return;
        }
        expect(done[0].ttftMs).toBeCloseTo(alone.ttftMs, 6);
        if (alone.itlMs === null) expect(done[0].itlMs).toBeNull();
        else expect(done[0].itlMs!).toBeCloseTo(alone.itlMs, 6);
      }),
      { numRuns: 200, seed: 3 },
    );
  });
});
