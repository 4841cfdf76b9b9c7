// What a completion request asks of the mock engines: prompt length and output length, read from an
// OpenAI-style body. Every field a client controls is bounded, and every refusal is an HTTP status
// with one sentence naming the field.

/** A request the engines can serve. */
export interface CompletionAsk {
  /** Prompt tokens. */
  isl: number;
  /** Output tokens (max_tokens: the mock never stops early, as vLLM with ignore_eos). */
  osl: number;
  stream: boolean;
  chat: boolean;
  model: string;
  /** The client asked for a final usage chunk (stream_options.include_usage). */
  includeUsage: boolean;
}

export interface RequestRefusal {
  status: 400 | 404 | 413;
  message: string;
}

export interface RequestLimits {
  /** Largest max_tokens accepted. */
  maxOutputTokens: number;
  /** Largest prompt accepted, tokens. */
  maxPromptTokens: number;
  /** The served model name (a different `model` is a 404, as an OpenAI server answers). */
  model: string;
}

/** Without max_tokens, the output length vLLM's OpenAI server defaults to for completions. */
export const DEFAULT_MAX_TOKENS = 16;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whole tokens of a text: one per 4 characters, as a rough English BPE count (at least 1 for a non-empty text). */
export function textTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function wholeCount(v: unknown, field: string, max: number): number | RequestRefusal {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return { status: 400, message: `${field} must be a whole number >= 0, got ${JSON.stringify(v)?.slice(0, 40)}.` };
  if (v > max) return { status: 400, message: `${field} ${v} is more than the ${max} this server accepts; ask for at most ${max}.` };
  return v;
}

/**
 * The prompt length: an explicit `prompt_tokens` (this mock's extension, for load generators that
 * do not want to send long prompts), else a prompt of token ids (its length), else text (by
 * textTokens). Chat messages count their text contents.
 */
function promptTokens(body: Record<string, unknown>, chat: boolean, limits: RequestLimits): number | RequestRefusal {
  if (body.prompt_tokens !== undefined) return wholeCount(body.prompt_tokens, 'prompt_tokens', limits.maxPromptTokens);
  let n: number;
  if (chat) {
    if (!Array.isArray(body.messages) || body.messages.length === 0) return { status: 400, message: 'messages must be a non-empty list of {"role", "content"} (or give prompt_tokens).' };
    n = 0;
    for (const m of body.messages) {
      const content = isObj(m) ? m.content : undefined;
      if (typeof content === 'string') n += textTokens(content);
      else if (Array.isArray(content)) for (const part of content) n += isObj(part) && typeof part.text === 'string' ? textTokens(part.text) : 0;
      else return { status: 400, message: 'every message needs a content string or a list of text parts.' };
    }
  } else {
    const p = body.prompt;
    if (typeof p === 'string') n = textTokens(p);
    else if (Array.isArray(p) && p.every((x) => typeof x === 'number' && Number.isInteger(x))) n = p.length;
    else return { status: 400, message: 'prompt must be a string or a list of token ids (or give prompt_tokens).' };
  }
  if (n > limits.maxPromptTokens) return { status: 400, message: `the prompt has ${n} tokens, more than the ${limits.maxPromptTokens} this server accepts.` };
  return n;
}

/** Read a completion (chat = false) or chat-completion body. */
export function parseCompletion(raw: string, chat: boolean, limits: RequestLimits): CompletionAsk | RequestRefusal {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { status: 400, message: 'the body is not JSON; send a JSON object such as {"prompt": "...", "max_tokens": 64, "stream": true}.' };
  }
  if (!isObj(body)) return { status: 400, message: 'the body must be a JSON object.' };
  const model = body.model === undefined ? limits.model : body.model;
  if (typeof model !== 'string') return { status: 400, message: 'model must be a string.' };
  if (model.toLowerCase() !== limits.model.toLowerCase()) return { status: 404, message: `model '${model.slice(0, 80)}' is not served here; this server serves '${limits.model}'.` };
  const tokensField = chat && body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens';
  const rawOsl = body[tokensField];
  const osl = rawOsl === undefined || rawOsl === null ? DEFAULT_MAX_TOKENS : wholeCount(rawOsl, tokensField, limits.maxOutputTokens);
  if (typeof osl !== 'number') return osl;
  if (osl < 1) return { status: 400, message: `${tokensField} must be at least 1.` };
  const isl = promptTokens(body, chat, limits);
  if (typeof isl !== 'number') return isl;
  if (body.stream !== undefined && typeof body.stream !== 'boolean') return { status: 400, message: 'stream must be true or false.' };
  if (body.n !== undefined && body.n !== 1) return { status: 400, message: 'n must be 1 (the mock serves one choice per request).' };
  const includeUsage = isObj(body.stream_options) && body.stream_options.include_usage === true;
  return { isl, osl, stream: body.stream === true, chat, model: limits.model, includeUsage };
}

export const isRefusal = (v: CompletionAsk | RequestRefusal): v is RequestRefusal => 'status' in v;
