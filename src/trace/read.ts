// Request-trace readers and interval bucketing, streaming: a 24 h trace has ~1e6 lines, so files
// are read line by line (gunzipped on the fly) and never held in memory.
//
// Formats, auto-detected from the content (gzip from its magic bytes, not the file name):
// - jsonl:     {"t": seconds since trace start, "isl": tokens, "osl": tokens}  (the format of the traces this project ships)
// - mooncake:  {"timestamp": ms since trace start, "input_length", "output_length", ...}
// - azure-csv: Azure LLM inference CSV, header TIMESTAMP,ContextTokens,GeneratedTokens; TIMESTAMP is
//              a datetime (naive = UTC, up to 7 fractional digits, optional offset); t is re-based
//              to the first row.
// Every format must be sorted by time (as the public traces are); a bad or out-of-order line is
// an InputError naming the file and line.
import { createReadStream, openSync, readSync, closeSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import { pipeline, type Readable } from 'node:stream';
import { InputError } from '../util/errors.js';

export interface TraceRequest {
  /** Arrival, seconds since the trace start. */
  t: number;
  /** Input (prompt) tokens. */
  isl: number;
  /** Output (generated) tokens. */
  osl: number;
}

export const TRACE_FORMATS = ['jsonl', 'mooncake', 'azure-csv'] as const;
export type TraceFormat = (typeof TRACE_FORMATS)[number];

/** One throughput interval of a trace, in the shape the original's warm-up feeds the predictors. */
export interface TraceBucket {
  /** Interval start, seconds since the first request's interval origin. */
  start_s: number;
  request_count: number;
  /** Mean ISL of the interval's requests; 0 when empty. */
  avg_isl: number;
  avg_osl: number;
}

function isGzip(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`trace ${path}: cannot open (${code ?? String(err)}); pass an existing trace file.`);
  }
  try {
    const magic = Buffer.alloc(2);
    const n = readSync(fd, magic, 0, 2, 0);
    return n === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`trace ${path}: cannot read (${code ?? String(err)}); pass a trace file, not a directory.`);
  } finally {
    closeSync(fd);
  }
}

function openLines(path: string): AsyncIterable<string> & { close(): void } {
  // isGzip first: it reports a missing file as an InputError before any stream exists.
  const gzip = isGzip(path);
  const file = createReadStream(path);
  // pipeline (not pipe) so a read error of the file also reaches the gunzip stream and readline.
  const source: Readable = gzip ? pipeline(file, createGunzip(), () => {}) : file;
  // readline forwards errors of its input (a missing file, corrupt gzip) to the line iterator.
  const lines = createInterface({ input: source, crlfDelay: Infinity });
  return {
    [Symbol.asyncIterator]: () => lines[Symbol.asyncIterator](),
    close() {
      lines.close();
      file.destroy();
    },
  };
}

/** Which format a line looks like, or undefined. */
export function detectFormatFromLine(line: string): TraceFormat | undefined {
  const text = line.trim().replace(/^\uFEFF/, '');
  if (text.startsWith('{')) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (obj && typeof obj === 'object') {
      if ('t' in obj && 'isl' in obj) return 'jsonl';
      if ('timestamp' in obj && 'input_length' in obj) return 'mooncake';
    }
    return undefined;
  }
  const header = text.split(',').map((h) => h.trim());
  if (header.includes('TIMESTAMP') && header.includes('ContextTokens') && header.includes('GeneratedTokens')) return 'azure-csv';
  return undefined;
}

export async function detectTraceFormat(path: string): Promise<TraceFormat> {
  const lines = openLines(path);
  try {
    for await (const line of lines) {
      if (line.trim() === '') continue;
      const format = detectFormatFromLine(line);
      if (!format) {
        throw new InputError(
          `trace ${path}: line 1 is not a known trace format; expected JSONL {"t","isl","osl"}, Mooncake JSONL {"timestamp","input_length","output_length"}, or an Azure CSV header TIMESTAMP,ContextTokens,GeneratedTokens.`,
        );
      }
      return format;
    }
  } catch (err) {
    throw asInputError(path, err);
  } finally {
    lines.close();
  }
  throw new InputError(`trace ${path}: the file is empty; pass a trace with at least one request.`);
}

function asInputError(path: string, err: unknown): Error {
  if (err instanceof InputError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new InputError(`trace ${path}: cannot read (${msg}); pass a readable (optionally gzip) trace file.`);
}

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * An Azure TIMESTAMP as whole seconds since the epoch plus the fraction, kept apart because a
 * double holding ~1.7e9 s resolves only ~0.2 µs and the trace has 100-ns digits. NaN when the
 * text is not a datetime.
 */
function splitAzureTimestamp(text: string): { whole: number; frac: number } {
  const m = DATETIME.exec(text.trim());
  if (!m) return { whole: Number.NaN, frac: 0 };
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  let whole = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s) / 1000;
  if (tz && tz !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    whole -= sign * (Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2)) * 60);
  }
  return { whole, frac: frac ? Number(`0.${frac}`) : 0 };
}

/** Seconds since the epoch of an Azure TIMESTAMP (naive = UTC); NaN when it is not a datetime. */
export function parseAzureTimestamp(text: string): number {
  const { whole, frac } = splitAzureTimestamp(text);
  return whole + frac;
}

/**
 * Latest arrival accepted, seconds after the trace start. Consumers emit one bucket or tick per
 * interval from 0, so an epoch time or milliseconds in a seconds field (1.7e9) would otherwise
 * mean tens of millions of empty intervals: a hang, not an error.
 */
export const MAX_TRACE_TIME_S = 366 * 24 * 3600;

function tokens(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined;
}

/**
 * Stream a trace's requests, sorted by t. `format` skips detection. Throws InputError on the first
 * bad line (file and line number, what is wrong, what is expected).
 */
export async function* readTrace(path: string, options: { format?: TraceFormat } = {}): AsyncGenerator<TraceRequest> {
  const format = options.format ?? (await detectTraceFormat(path));
  const lines = openLines(path);
  let lineNo = 0;
  let prevT = Number.NEGATIVE_INFINITY;
  let azureOrigin: { whole: number; frac: number } | undefined;
  let csvColumns: { ts: number; isl: number; osl: number } | undefined;
  const bad = (what: string): never => {
    throw new InputError(`trace ${path}: line ${lineNo}: ${what}`);
  };
  try {
    for await (const rawLine of lines) {
      lineNo++;
      const line = lineNo === 1 ? rawLine.replace(/^\uFEFF/, '') : rawLine;
      if (line.trim() === '') continue;
      let request: TraceRequest;
      if (format === 'azure-csv') {
        const cells = line.split(',');
        if (!csvColumns) {
          const header = cells.map((c) => c.trim());
          csvColumns = { ts: header.indexOf('TIMESTAMP'), isl: header.indexOf('ContextTokens'), osl: header.indexOf('GeneratedTokens') };
          if (csvColumns.ts < 0 || csvColumns.isl < 0 || csvColumns.osl < 0) bad('expected the header TIMESTAMP,ContextTokens,GeneratedTokens.');
          continue;
        }
        const abs = splitAzureTimestamp(cells[csvColumns.ts] ?? '');
        if (!Number.isFinite(abs.whole)) bad(`TIMESTAMP '${cells[csvColumns.ts] ?? ''}' is not a datetime like 2023-11-16 18:17:03.318.`);
        const isl = tokens(cells[csvColumns.isl]);
        const osl = tokens(cells[csvColumns.osl]);
        if (isl === undefined) bad(`ContextTokens '${cells[csvColumns.isl] ?? ''}' must be a number >= 0.`);
        if (osl === undefined) bad(`GeneratedTokens '${cells[csvColumns.osl] ?? ''}' must be a number >= 0.`);
        azureOrigin ??= abs;
        request = { t: abs.whole - azureOrigin.whole + (abs.frac - azureOrigin.frac), isl: isl!, osl: osl! };
      } else {
        let obj: Record<string, unknown>;
        try {
          const parsed: unknown = JSON.parse(line);
          if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
          obj = parsed as Record<string, unknown>;
        } catch {
          return bad('not a JSON object; each line must be one request.');
        }
        const [tKey, islKey, oslKey, scale] = format === 'jsonl' ? ['t', 'isl', 'osl', 1] as const : ['timestamp', 'input_length', 'output_length', 1 / 1000] as const;
        const rawT = obj[tKey];
        if (typeof rawT !== 'number' || !Number.isFinite(rawT)) bad(`"${tKey}" must be a finite number${format === 'jsonl' ? ' (seconds since trace start)' : ' (ms since trace start)'}.`);
        const isl = tokens(obj[islKey]);
        const osl = tokens(obj[oslKey]);
        if (isl === undefined) bad(`"${islKey}" must be a number >= 0.`);
        if (osl === undefined) bad(`"${oslKey}" must be a number >= 0.`);
        request = { t: (rawT as number) * scale, isl: isl!, osl: osl! };
      }
      if (request.t > MAX_TRACE_TIME_S) {
        bad(`time ${request.t} s is more than a year after the trace start; ${format === 'jsonl' ? '"t" must be seconds since the trace start, not an epoch time or milliseconds' : format === 'mooncake' ? '"timestamp" must be milliseconds since the trace start, not an epoch time' : 'the trace must span at most a year'}.`);
      }
      if (request.t < prevT) bad(`time ${request.t} s is earlier than the previous request (${prevT} s); sort the trace by time.`);
      prevT = request.t;
      yield request;
    }
  } catch (err) {
    throw asInputError(path, err);
  } finally {
    lines.close();
  }
}

/** Most intervals bucketTrace emits (every interval, even empty ones, is a step for the predictors). */
export const MAX_BUCKETS = 10_000_000;

/**
 * Per-interval request count and mean ISL/OSL, as the original's warm-up: interval k holds the
 * requests with floor((t - origin) / intervalS) = k, origin = the first request's time, and every
 * interval from the first to the last request is emitted (empty ones as zeros).
 */
export async function* bucketTrace(requests: AsyncIterable<TraceRequest>, intervalS: number): AsyncGenerator<TraceBucket> {
  if (!(intervalS > 0) || !Number.isFinite(intervalS)) throw new InputError(`bucketTrace: interval must be a positive number of seconds, got ${intervalS}.`);
  let origin: number | undefined;
  let index = 0;
  let count = 0;
  let islSum = 0;
  let oslSum = 0;
  const emit = (k: number): TraceBucket => ({
    start_s: k * intervalS,
    request_count: count,
    avg_isl: count ? islSum / count : 0,
    avg_osl: count ? oslSum / count : 0,
  });
  for await (const r of requests) {
    origin ??= r.t;
    const k = Math.floor((r.t - origin) / intervalS);
    if (k >= MAX_BUCKETS) {
      throw new InputError(`bucketTrace: a ${intervalS} s interval over a trace that spans ${r.t - origin} s makes more than ${MAX_BUCKETS} intervals; use a longer interval or a shorter slice of the trace.`);
    }
    while (index < k) {
      yield emit(index);
      index++;
      count = 0;
      islSum = 0;
      oslSum = 0;
    }
    count++;
    islSum += r.isl;
    oslSum += r.osl;
  }
  if (origin !== undefined) yield emit(index);
}

/** All buckets of a trace file (an interval series is small even for a week-long trace). */
export async function readTraceBuckets(path: string, intervalS: number): Promise<TraceBucket[]> {
  const out: TraceBucket[] = [];
  for await (const b of bucketTrace(readTrace(path), intervalS)) out.push(b);
  return out;
}
