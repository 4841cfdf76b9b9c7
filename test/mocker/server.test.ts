// The mock frontend over real HTTP: OpenAI-shaped answers, and bad clients answered with a status or
// a clean close, never a crash or a request left behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { startMocker, type RunningMocker } from '../../src/mocker/index.js';
import { parsePromText } from '../../src/observe/promtext.js';
import type { EngineLatencyModel } from '../../src/sim/types.js';

// Prefill 5 ms + 0.001·isl, decode step 4 ms: a 20-token answer takes about 80 ms.
const model: EngineLatencyModel = { prefillMs: (isl) => 5 + 0.001 * isl, decodeStepMs: () => 4, maxKvTokens: 30_000 };

let m: RunningMocker;
beforeAll(async () => {
  m = await startMocker({
    model, mode: 'disagg', host: '127.0.0.1', port: 0, modelName: 'mock', initial: { prefill: 1, decode: 1 }, coldStartS: 1,
    gpusPerReplica: { prefill: 1, decode: 1 }, maxOutputTokens: 1000, maxPromptTokens: 40_000, maxInFlight: 8, tickMs: 2,
  });
});
afterAll(() => m?.stop());

const post = (path: string, body: string) => fetch(`${m.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });

async function waitIdle(): Promise<void> {
  for (let i = 0; i < 200 && m.host.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 20));
}

describe('mock frontend', () => {
  it('streams one SSE event per token, a finish event and [DONE]', async () => {
    const res = await post('/v1/completions', JSON.stringify({ prompt_tokens: 1000, max_tokens: 20, stream: true, stream_options: { include_usage: true } }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = (await res.text()).split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)));
    expect(chunks.filter((c) => c.choices[0]?.text === ' tok')).toHaveLength(20);
    expect(chunks.at(-2).choices[0].finish_reason).toBe('length');
    expect(chunks.at(-1).usage).toEqual({ prompt_tokens: 1000, completion_tokens: 20, total_tokens: 1020 });
  });

  it('answers chat completions, streamed and whole', async () => {
    const whole = await (await post('/v1/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }))).json();
    expect(whole.choices[0].message).toEqual({ role: 'assistant', content: ' tok tok tok' });
    const text = await (await post('/v1/chat/completions', JSON.stringify({ model: 'MOCK', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, stream: true }))).text();
    const chunks = text.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)));
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: ' tok' });
    expect(chunks[1].choices[0].delta).toEqual({ content: ' tok' });
  });

  it('answers bad requests with 4xx and a message', async () => {
    expect((await post('/v1/completions', '{oops')).status).toBe(400);
    const huge = await post('/v1/completions', JSON.stringify({ prompt: 'x', max_tokens: 1e9 }));
    expect(huge.status).toBe(400);
    expect((await huge.json()).error.message).toMatch(/max_tokens 1000000000 is more than the 1000/);
    expect((await post('/v1/completions', JSON.stringify({ prompt: 'x', model: 'gpt-4' }))).status).toBe(404);
    expect((await post('/v1/completions', JSON.stringify({ prompt: 'x'.repeat(9 * 1024 * 1024) }))).status).toBe(413);
    // 35 000 + 9 tokens of KV: more than one engine's 30 000 (vLLM refuses what exceeds max_model_len).
    const tooLong = await post('/v1/completions', JSON.stringify({ prompt_tokens: 35_000, max_tokens: 10 }));
    expect(tooLong.status).toBe(400);
    expect((await tooLong.json()).error.message).toMatch(/more than one engine holds/);
    const tooLongStream = await (await post('/v1/completions', JSON.stringify({ prompt_tokens: 35_000, max_tokens: 10, stream: true }))).text();
    expect(tooLongStream).toMatch(/^data: \{"error":\{"message":"the request needs 35010 tokens.*\n\ndata: \[DONE\]\n\n$/s);
    expect((await fetch(`${m.url}/v1/completions`)).status).toBe(405);
    expect((await fetch(`${m.url}/nope`)).status).toBe(404);
  });

  it('a client gone mid-stream is a clean close: the request is aborted in the engine, nothing stays in flight', async () => {
    const before = m.host.aborted;
    await new Promise<void>((resolve, reject) => {
      const req = request(`${m.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.end(JSON.stringify({ prompt_tokens: 100, max_tokens: 200, stream: true }));
      setTimeout(() => reject(new Error('no data')), 5000);
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(m.host.aborted).toBe(before + 1);
    await waitIdle();
    expect(m.host.inFlight).toBe(0);
    expect((await fetch(`${m.url}/health`)).status).toBe(200);
  });

  it('over the in-flight bound, new requests get 503 and the rest are served', async () => {
    const bodies = Array.from({ length: 12 }, () => post('/v1/completions', JSON.stringify({ prompt_tokens: 10, max_tokens: 50 })));
    const statuses = (await Promise.all(bodies)).map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(8);
    expect(statuses.filter((s) => s === 503)).toHaveLength(4);
  });

  it('exports the series the planner reads', async () => {
    const samples = parsePromText(await (await fetch(`${m.url}/metrics`)).text());
    const names = new Set(samples.map((s) => s.name));
    for (const n of ['dynamo_frontend_requests_total', 'dynamo_frontend_requests_started_total', 'dynamo_frontend_time_to_first_token_seconds_sum',
      'dynamo_frontend_inter_token_latency_seconds_count', 'dynamo_frontend_input_sequence_tokens_sum', 'dynamo_frontend_output_sequence_tokens_sum',
      'dynamo_frontend_request_duration_seconds_sum', 'dynamo_frontend_worker_active_decode_blocks', 'dynamo_frontend_worker_active_prefill_tokens']) {
      expect(names.has(n), n).toBe(true);
    }
    expect(samples.find((s) => s.name === 'dynamo_frontend_requests_total')?.labels.model).toBe('mock');
  });
});
