import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMocker, type RunningMocker } from '../../src/mocker/index.js';
import { SseTokenCounter, replay, type RequestOutcome } from '../../src/mocker/replay.js';
import { toBatches } from '../../src/trace/shape.js';
import type { EngineLatencyModel } from '../../src/sim/types.js';

describe('SSE token counting', () => {
  it('counts token events split anywhere across chunks, and notes [DONE] and error events', () => {
    const ev = (text: string) => `data: {"choices":[{"index":0,"text":"${text}","finish_reason":null}]}\n\n`;
    const stream = ev(' a') + ev(' b') + 'data: {"choices":[{"index":0,"text":"","finish_reason":"length"}]}\n\n' + 'data: [DONE]\n\n';
    for (const cut of [1, 7, 30, stream.length - 3]) {
      const c = new SseTokenCounter();
      expect(c.feed(stream.slice(0, cut)) + c.feed(stream.slice(cut))).toBe(2);
      expect(c.done).toBe(true);
      expect(c.error).toBeNull();
    }
    const c = new SseTokenCounter();
    c.feed('data: {"choices":[{"delta":{"role":"assistant","content":" x"}}]}\n\ndata: {"error":{"message":"too long"}}\n\n');
    expect([c.tokens, c.error]).toEqual([1, 'too long']);
  });
});

// Prefill 20 ms flat, decode step 10 ms: alone, a request's TTFT is 20 ms and its ITL 10 ms.
const model: EngineLatencyModel = { prefillMs: () => 20, decodeStepMs: () => 10, maxKvTokens: 1_000_000 };

describe('replay against the mocker', () => {
  let m: RunningMocker;
  beforeAll(async () => {
    m = await startMocker({
      model, mode: 'disagg', host: '127.0.0.1', port: 0, modelName: 'mock', initial: { prefill: 2, decode: 1 }, coldStartS: 1,
      gpusPerReplica: { prefill: 1, decode: 1 }, maxOutputTokens: 1000, maxPromptTokens: 100_000, maxInFlight: 100, tickMs: 2,
    });
  });
  afterAll(() => m?.stop());

  it('sends at the arrival times and measures TTFT and ITL near the model (loose bounds for a loaded machine)', async () => {
    const trace = [{ t: 0, isl: 100, osl: 11 }, { t: 0.2, isl: 100, osl: 11 }, { t: 0.4, isl: 100, osl: 1 }, { t: 0.6, isl: 100, osl: 21 }];
    const seen: RequestOutcome[] = [];
    const s = await replay(toBatches(trace), { url: m.url, model: 'mock', chat: false, ttftTargetMs: 1000, itlTargetMs: 1000, maxConcurrency: 4, requestTimeoutMs: 10_000, onRequest: (r) => seen.push(r) });
    expect(s).toMatchObject({ policy: 'replay', requests: 4, completed: 4, dropped: 0, unfinished: 0, short_streams: 0, output_tokens: 44, sla_attainment: 1 });
    expect(seen.map((r) => r.tokens).sort((a, b) => a - b)).toEqual([1, 11, 11, 21]);
    // Model: TTFT 20 ms, ITL 10 ms. The client adds the network and timer lag on top.
    expect(s.ttft_ms.mean!).toBeGreaterThanOrEqual(19);
    expect(s.ttft_ms.mean!).toBeLessThan(120);
    expect(s.itl_ms.mean!).toBeGreaterThan(7);
    expect(s.itl_ms.mean!).toBeLessThan(15);
    // The arrivals span 0.6 s and the last request takes 20 + 200 ms.
    expect(s.measured_s).toBeGreaterThan(0.8);
    // Three GPUs held for at least that long.
    expect(s.gpu_hours! * 3600).toBeGreaterThan(3 * 0.8);
  });

  it('counts refusals as dropped and an unreachable server as unfinished', async () => {
    const s = await replay(toBatches([{ t: 0, isl: 2_000_000, osl: 5 }]), { url: m.url, model: null, chat: true, ttftTargetMs: 1, itlTargetMs: 1, maxConcurrency: 1, requestTimeoutMs: 5000 });
    expect(s).toMatchObject({ requests: 1, completed: 0, dropped: 1, sla_attainment: 0 });
    const down = await replay(toBatches([{ t: 0, isl: 5, osl: 5 }]), { url: 'http://127.0.0.1:1', model: null, chat: false, ttftTargetMs: 1, itlTargetMs: 1, maxConcurrency: 1, requestTimeoutMs: 2000 });
    expect(down).toMatchObject({ requests: 1, unfinished: 1, gpu_hours: null, errors: { unreachable: 1 } });
  });
});
