// The mock frontend: an OpenAI-compatible HTTP server in front of a MockerHost. Streamed answers
// are server-sent events, one per token, written when the engine model produces the token.
// Everything a client controls is bounded: body size, prompt and output length, requests in flight,
// bytes buffered for a slow reader.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { MockerHost, TokenSink } from './host.js';
import { isRefusal, parseCompletion, type CompletionAsk, type RequestLimits } from './request.js';

export interface MockServerOptions {
  limits: RequestLimits;
  /** Largest request body, bytes. */
  maxBodyBytes?: number;
  /** A reader this far behind (bytes buffered) is cut off: its stream is closed and the request aborted. */
  maxBufferedBytes?: number;
}

export const MAX_BODY_BYTES = 8 * 1024 * 1024;
export const MAX_BUFFERED_BYTES = 1024 * 1024;

/** One token's text: every token reads the same, the mock produces timing, not language. */
const TOKEN_TEXT = ' tok';

function sendJson(res: ServerResponse, status: number, value: unknown, extra: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, message: string): void {
  const type = status === 404 ? 'NotFoundError' : status === 413 ? 'RequestTooLarge' : status === 429 || status === 503 ? 'ServiceUnavailable' : 'BadRequestError';
  sendJson(res, status, { error: { message, type, code: status } }, status === 503 || status === 429 ? { 'retry-after': '1' } : {});
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) return resolve(null);
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

let nextRequest = 0;

/** SSE chunks of one streamed answer. */
class SseSink implements TokenSink {
  private readonly id = `cmpl-${++nextRequest}`;
  private readonly created = Math.floor(Date.now() / 1000);
  private written = 0;
  /** Every token after the first is the same event: built once. */
  private tokenEvent: string | null = null;
  finished = false;
  onCutOff: (() => void) | null = null;

  constructor(private readonly res: ServerResponse, private readonly ask: CompletionAsk, private readonly maxBuffered: number) {}

  private chunk(text: string | null, finish: string | null, first: boolean): string {
    const a = this.ask;
    const choice = a.chat
      ? { index: 0, delta: text === null ? {} : first ? { role: 'assistant', content: text } : { content: text }, logprobs: null, finish_reason: finish }
      : { index: 0, text: text ?? '', logprobs: null, finish_reason: finish };
    return `data: ${JSON.stringify({ id: this.id, object: a.chat ? 'chat.completion.chunk' : 'text_completion', created: this.created, model: a.model, choices: [choice] })}\n\n`;
  }

  tokens(total: number): void {
    if (this.res.destroyed) return;
    let out = '';
    if (this.written === 0 && total > 0) {
      out = this.chunk(TOKEN_TEXT, null, true);
      this.written = 1;
    }
    if (this.written < total) {
      this.tokenEvent ??= this.chunk(TOKEN_TEXT, null, false);
      out += this.tokenEvent.repeat(total - this.written);
      this.written = total;
    }
    this.res.write(out);
    if (this.res.writableLength > this.maxBuffered) this.onCutOff?.();
  }

  finish(): void {
    this.finished = true;
    if (this.res.destroyed) return;
    let out = this.chunk(null, 'length', false);
    if (this.ask.includeUsage) {
      const usage = { prompt_tokens: this.ask.isl, completion_tokens: this.ask.osl, total_tokens: this.ask.isl + this.ask.osl };
      out += `data: ${JSON.stringify({ id: this.id, object: this.ask.chat ? 'chat.completion.chunk' : 'text_completion', created: this.created, model: this.ask.model, choices: [], usage })}\n\n`;
    }
    this.res.end(out + 'data: [DONE]\n\n');
  }
}

/** The whole answer at once (stream: false). */
class WholeSink implements TokenSink {
  finished = false;
  onCutOff: (() => void) | null = null;
  constructor(private readonly res: ServerResponse, private readonly ask: CompletionAsk) {}
  tokens(): void {}
  finish(): void {
    this.finished = true;
    if (this.res.destroyed) return;
    const a = this.ask;
    const text = TOKEN_TEXT.repeat(a.osl);
    const choice = a.chat ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: 'length' } : { index: 0, text, logprobs: null, finish_reason: 'length' };
    sendJson(this.res, 200, {
      id: `cmpl-${++nextRequest}`, object: a.chat ? 'chat.completion' : 'text_completion', created: Math.floor(Date.now() / 1000), model: a.model,
      choices: [choice], usage: { prompt_tokens: a.isl, completion_tokens: a.osl, total_tokens: a.isl + a.osl },
    });
  }
}

export function createMockServer(host: MockerHost, opts: MockServerOptions): Server {
  const maxBody = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  const maxBuffered = opts.maxBufferedBytes ?? MAX_BUFFERED_BYTES;

  async function completion(req: IncomingMessage, res: ServerResponse, chat: boolean): Promise<void> {
    const raw = await readBody(req, maxBody);
    if (raw === null) return sendError(res, 413, `the body is larger than ${maxBody} bytes; send a shorter prompt or prompt_tokens.`);
    const ask = parseCompletion(raw, chat, opts.limits);
    if (isRefusal(ask)) return sendError(res, ask.status, ask.message);
    if (res.destroyed) return;
    const sink = ask.stream ? new SseSink(res, ask, maxBuffered) : new WholeSink(res, ask);
    if (ask.stream) res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const outcome = host.submit(ask.isl, ask.osl, sink);
    if (!outcome.ok) {
      const message = outcome.reason === 'busy'
        ? `the server holds its maximum of requests in flight; retry later.`
        : `the request needs ${ask.isl + ask.osl} tokens of KV cache, more than one engine holds; send a shorter prompt or fewer max_tokens.`;
      if (!ask.stream) return sendError(res, outcome.reason === 'busy' ? 503 : 400, message);
      // Headers are out: the error goes as the stream's one event, as OpenAI servers do.
      res.end(`data: ${JSON.stringify({ error: { message, code: outcome.reason === 'busy' ? 503 : 400 } })}\n\ndata: [DONE]\n\n`);
      return;
    }
    // Cut off a slow reader by closing its connection; the close event (never inside an engine
    // callback) aborts the request.
    sink.onCutOff = () => res.destroy();
    res.on('close', () => {
      if (!sink.finished) host.abort(outcome.id);
    });
  }

  return createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const done = (err: unknown) => {
      if (!res.headersSent) sendError(res, 400, `could not read the request (${(err as Error)?.message ?? err}).`);
      else res.destroy();
    };
    if (path === '/v1/completions' || path === '/v1/chat/completions') {
      if (req.method !== 'POST') return sendError(res, 405, `${path} takes POST.`);
      completion(req, res, path === '/v1/chat/completions').catch(done);
      return;
    }
    if (req.method !== 'GET') return sendError(res, 405, `${path} takes GET.`);
    if (path === '/metrics') {
      const text = host.metricsText();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    if (path === '/health' || path === '/ready') return sendJson(res, 200, { status: 'ok', in_flight: host.inFlight, ready: host.readyCounts() });
    if (path === '/v1/models') return sendJson(res, 200, { object: 'list', data: [{ id: opts.limits.model, object: 'model', owned_by: 'sla-planner-mocker' }] });
    sendError(res, 404, `no route ${path}; use /v1/completions, /v1/chat/completions, /metrics or /health.`);
  });
}
