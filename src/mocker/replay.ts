// The load generator: a trace's requests sent as streaming OpenAI completions at their arrival
// times (wall clock), with the client's own TTFT and ITL, summarised as `simulate` summarises a run.
// Memory is bounded: requests are read in batches, at most `maxConcurrency` are open, and latencies
// go to fixed-size histograms.
import { HttpError, httpRequest } from '../net/http.js';
import { parsePromText } from '../observe/promtext.js';
import { LogHistogram } from '../sim/stats.js';
import type { Percentiles } from '../sim/types.js';
import type { TraceBatch } from '../trace/read.js';
import { sleep } from '../util/sleep.js';

export interface ReplayOptions {
  /** The frontend's base URL (http://host:port). */
  url: string;
  /** Sent as `model` (omitted when null: the server's own). */
  model: string | null;
  /** POST /v1/chat/completions instead of /v1/completions. */
  chat: boolean;
  ttftTargetMs: number;
  itlTargetMs: number;
  /** Most requests open at once; an arrival past it waits for a slot (and counts as late). */
  maxConcurrency: number;
  /** Deadline of one request, from send to the last byte. */
  requestTimeoutMs: number;
  /** Called once per finished request (tests, progress). */
  onRequest?: (r: RequestOutcome) => void;
}

export interface RequestOutcome {
  isl: number;
  osl: number;
  ok: boolean;
  ttftMs: number | null;
  itlMs: number | null;
  tokens: number;
  error?: string;
}

/** What the client saw: the shape of `simulate`'s summary, with null for what a client cannot see. */
export interface ReplaySummary {
  policy: 'replay';
  requests: number;
  completed: number;
  sla_attainment: number;
  ttft_attainment: number;
  itl_attainment: number;
  ttft_ms: Percentiles;
  itl_ms: Percentiles;
  /** GPU-hours the mock pool held over the run (from its sla_mocker_gpu_seconds_total), null against another server. */
  gpu_hours: number | null;
  dropped: number;
  unfinished: number;
  peak_in_flight: number;
  /** Requests sent more than 50 ms after their arrival time (the client or the concurrency cap lagged). */
  late_starts: number;
  /** Requests whose stream delivered fewer tokens than asked. */
  short_streams: number;
  output_tokens: number;
  measured_s: number;
  sla: { ttft_ms: number; itl_ms: number };
  errors: Record<string, number>;
}

/** Count the tokens of SSE events in a chunk stream; keeps only the unfinished tail between chunks. */
export class SseTokenCounter {
  private tail = '';
  tokens = 0;
  error: string | null = null;
  done = false;

  /** Feed one chunk; returns how many token events it completed. */
  feed(text: string): number {
    const data = this.tail + text;
    let start = 0;
    let added = 0;
    for (;;) {
      const end = data.indexOf('\n\n', start);
      if (end < 0) break;
      const event = data.slice(start, end);
      start = end + 2;
      if (!event.startsWith('data: ')) continue;
      const payload = event.slice(6);
      if (payload === '[DONE]') {
        this.done = true;
        continue;
      }
      let v: { choices?: Array<{ text?: string; delta?: { content?: string } }>; error?: { message?: string } };
      try {
        v = JSON.parse(payload);
      } catch {
        this.error ??= 'unparsable_event';
        continue;
      }
      if (v.error) {
        this.error ??= String(v.error.message ?? 'error_event').slice(0, 80);
        continue;
      }
      const c = v.choices?.[0];
      if (c && ((typeof c.text === 'string' && c.text !== '') || (typeof c.delta?.content === 'string' && c.delta.content !== ''))) added++;
    }
    this.tail = data.slice(start);
    // An event can never be this long: a server that never ends one must not grow our memory.
    if (this.tail.length > 1_000_000) {
      this.error ??= 'event_too_long';
      this.tail = '';
    }
    this.tokens += added;
    return added;
  }
}

/** Seconds of GPU held by a mock pool, or null when the server does not export it. */
async function gpuSeconds(url: string): Promise<number | null> {
  try {
    const res = await httpRequest(`${url}/metrics`, { timeoutMs: 5000, maxBytes: 16 * 1024 * 1024 });
    if (res.status !== 200) return null;
    const s = parsePromText(res.body).find((x) => x.name === 'sla_mocker_gpu_seconds_total');
    return s ? s.value : null;
  } catch {
    return null;
  }
}

export async function replay(batches: AsyncIterable<TraceBatch>, o: ReplayOptions): Promise<ReplaySummary> {
  const base = o.url.replace(/\/+$/, '');
  const endpoint = `${base}${o.chat ? '/v1/chat/completions' : '/v1/completions'}`;
  const ttft = new LogHistogram();
  const itl = new LogHistogram();
  const errors: Record<string, number> = {};
  let requests = 0, completed = 0, met = 0, ttftMet = 0, itlMet = 0, dropped = 0, unfinished = 0, late = 0, shortStreams = 0, outputTokens = 0;
  let open = 0, peak = 0;
  let slotFreed: (() => void) | null = null;
  const pending = new Set<Promise<void>>();
  const gpuAtStart = await gpuSeconds(base);

  const countError = (kind: string) => {
    errors[kind] = (errors[kind] ?? 0) + 1;
  };

  async function one(isl: number, osl: number): Promise<void> {
    const body: Record<string, unknown> = { max_tokens: osl, min_tokens: osl, ignore_eos: true, stream: true, prompt_tokens: isl };
    if (o.model !== null) body.model = o.model;
    if (o.chat) body.messages = [{ role: 'user', content: 'x' }];
    else body.prompt = 'x';
    const counter = new SseTokenCounter();
    const sentAt = performance.now();
    let firstAt = 0;
    let lastAt = 0;
    const decoder = new TextDecoder();
    let outcome: RequestOutcome;
    try {
      const res = await httpRequest(endpoint, {
        method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' }, body: JSON.stringify(body),
        timeoutMs: o.requestTimeoutMs, maxBytes: 64 * 1024 * 1024, connections: o.maxConcurrency,
        onChunk: (chunk) => {
          const now = performance.now();
          if (counter.feed(decoder.decode(chunk, { stream: true })) > 0) {
            if (firstAt === 0) firstAt = now;
            lastAt = now;
          }
        },
      });
      if (res.status !== 200) {
        dropped++;
        countError(`http_${res.status}`);
        outcome = { isl, osl, ok: false, ttftMs: null, itlMs: null, tokens: 0, error: `http_${res.status}` };
      } else if (counter.error !== null || counter.tokens === 0) {
        dropped++;
        countError(counter.error ?? 'no_tokens');
        outcome = { isl, osl, ok: false, ttftMs: null, itlMs: null, tokens: counter.tokens, error: counter.error ?? 'no_tokens' };
      } else {
        completed++;
        const n = counter.tokens;
        outputTokens += n;
        if (n < osl) shortStreams++;
        const ttftMs = firstAt - sentAt;
        const itlMs = n > 1 ? (lastAt - firstAt) / (n - 1) : null;
        ttft.add(ttftMs);
        if (itlMs !== null) itl.add(itlMs);
        const tOk = ttftMs <= o.ttftTargetMs;
        const iOk = itlMs === null || itlMs <= o.itlTargetMs;
        if (tOk) ttftMet++;
        if (iOk) itlMet++;
        if (tOk && iOk) met++;
        outcome = { isl, osl, ok: true, ttftMs, itlMs, tokens: n };
      }
    } catch (err) {
      unfinished++;
      const kind = err instanceof HttpError ? err.kind : 'error';
      countError(kind);
      outcome = { isl, osl, ok: false, ttftMs: null, itlMs: null, tokens: counter.tokens, error: kind };
    }
    o.onRequest?.(outcome);
  }

  const t0 = performance.now();
  for await (const b of batches) {
    for (let i = 0; i < b.length; i++) {
      const due = t0 + b.t[i] * 1000;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      while (open >= o.maxConcurrency) await new Promise<void>((r) => (slotFreed = r));
      if (performance.now() - due > 50) late++;
      requests++;
      open++;
      if (open > peak) peak = open;
      const p: Promise<void> = one(b.isl[i], b.osl[i]).finally(() => {
        open--;
        pending.delete(p);
        const wake = slotFreed;
        slotFreed = null;
        wake?.();
      });
      pending.add(p);
    }
  }
  await Promise.all(pending);
  const measuredS = (performance.now() - t0) / 1000;
  const gpuAtEnd = gpuAtStart === null ? null : await gpuSeconds(base);
  const ratio = (n: number) => (requests > 0 ? n / requests : 1);
  return {
    policy: 'replay',
    requests,
    completed,
    sla_attainment: ratio(met),
    ttft_attainment: ratio(ttftMet),
    itl_attainment: ratio(itlMet),
    ttft_ms: ttft.percentiles(),
    itl_ms: itl.percentiles(),
    gpu_hours: gpuAtStart !== null && gpuAtEnd !== null ? (gpuAtEnd - gpuAtStart) / 3600 : null,
    dropped,
    unfinished,
    peak_in_flight: peak,
    late_starts: late,
    short_streams: shortStreams,
    output_tokens: outputTokens,
    measured_s: measuredS,
    sla: { ttft_ms: o.ttftTargetMs, itl_ms: o.itlTargetMs },
    errors,
  };
}
