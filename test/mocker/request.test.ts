import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_MAX_TOKENS, isRefusal, parseCompletion } from '../../src/mocker/request.js';

const limits = { maxOutputTokens: 1000, maxPromptTokens: 5000, model: 'Mock-Model' };

describe('completion requests', () => {
  it('reads prompt length from prompt_tokens, token ids or text, and osl from max_tokens', () => {
    expect(parseCompletion('{"prompt_tokens": 300, "prompt": "x", "max_tokens": 7, "stream": true}', false, limits))
      .toEqual({ isl: 300, osl: 7, stream: true, chat: false, model: 'Mock-Model', includeUsage: false });
    expect(parseCompletion('{"prompt": [1,2,3,4,5], "max_tokens": 2}', false, limits)).toMatchObject({ isl: 5, osl: 2, stream: false });
    // 10 characters: 3 tokens at 4 characters a token.
    expect(parseCompletion('{"prompt": "0123456789"}', false, limits)).toMatchObject({ isl: 3, osl: DEFAULT_MAX_TOKENS });
    expect(parseCompletion('{"model": "mock-model", "messages": [{"role": "user", "content": "abcdefgh"}, {"role": "user", "content": [{"type": "text", "text": "abcd"}]}], "max_completion_tokens": 9, "stream_options": {"include_usage": true}}', true, limits))
      .toEqual({ isl: 3, osl: 9, stream: false, chat: true, model: 'Mock-Model', includeUsage: true });
  });

  it('refuses bad bodies with a status and a sentence naming the field', () => {
    const refuse = (body: string, chat = false) => {
      const r = parseCompletion(body, chat, limits);
      if (!isRefusal(r)) throw new Error(`accepted ${body}`);
      return r;
    };
    expect(refuse('{not json').status).toBe(400);
    expect(refuse('[1]').message).toMatch(/JSON object/);
    expect(refuse('{"prompt": "x", "max_tokens": 1001}')).toEqual({ status: 400, message: expect.stringMatching(/max_tokens 1001 is more than the 1000/) });
    expect(refuse('{"prompt": "x", "max_tokens": 0}').message).toMatch(/at least 1/);
    expect(refuse('{"prompt": "x", "max_tokens": 2.5}').message).toMatch(/max_tokens must be a whole number/);
    expect(refuse('{"prompt": "x", "model": "other"}').status).toBe(404);
    expect(refuse('{"prompt_tokens": 5001}').message).toMatch(/prompt_tokens 5001/);
    expect(refuse(`{"prompt": "${'a'.repeat(20_008)}"}`).message).toMatch(/5002 tokens/);
    expect(refuse('{"prompt": {"a": 1}}').message).toMatch(/prompt must be/);
    expect(refuse('{"messages": []}', true).message).toMatch(/messages/);
    expect(refuse('{"prompt": "x", "stream": "yes"}').message).toMatch(/stream/);
    expect(refuse('{"prompt": "x", "n": 2}').message).toMatch(/n must be 1/);
  });

  it('never throws and keeps every accepted length within its limits (any JSON value)', () => {
    fc.assert(fc.property(fc.jsonValue(), fc.boolean(), (value, chat) => {
      const r = parseCompletion(JSON.stringify(value), chat, limits);
      if (isRefusal(r)) return [400, 404, 413].includes(r.status) && r.message.length > 0;
      return r.isl >= 0 && r.isl <= limits.maxPromptTokens && r.osl >= 1 && r.osl <= limits.maxOutputTokens;
    }), { numRuns: 500 });
  });
});
