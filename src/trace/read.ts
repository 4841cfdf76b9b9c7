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

/** Consecutive requests as columns (the simulator's hot path reads these without an object per request). */
export interface TraceBatch {
  t: Float64Array;
  isl: Float64Array;
  osl: Float64Array;
  length: number;
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

/** Longest line accepted: one request takes tens of bytes, a Mooncake line with its block hashes a few KB. */
export const MAX_TRACE_LINE_BYTES = 16 * 1024 * 1024;

/** Requests per batch handed to the consumer. */
const BATCH = 4096;

export function newTraceBatch(capacity = BATCH): TraceBatch {
  return { t: new Float64Array(capacity), isl: new Float64Array(capacity), osl: new Float64Array(capacity), length: 0 };
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

/** The complete lines of one chunk of a file, as byte ranges of `buf` (no newline, no trailing CR). */
interface LineRanges {
  buf: Buffer;
  starts: Int32Array;
  ends: Int32Array;
  count: number;
  /** 1-based number of the first line. */
  firstLineNo: number;
}

/**
 * The file's lines, chunk by chunk (gunzipped on the fly), without a string per line. Pulled by
 * the consumer, so a slow consumer holds the read back. Lines over MAX_TRACE_LINE_BYTES are an
 * InputError, not an out-of-memory.
 */
async function* lineRanges(path: string): AsyncGenerator<LineRanges> {
  // isGzip first: it reports a missing file as an InputError before any stream exists.
  const gzip = isGzip(path);
  const file = createReadStream(path, { highWaterMark: 1 << 16 });
  // pipeline (not pipe) so a read error of the file also reaches the gunzip stream.
  const source: Readable = gzip ? pipeline(file, createGunzip({ chunkSize: 1 << 16 }), () => {}) : file;
  const splitter = new LineSplitter(path);
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      const head = splitter.carryOver(chunk);
      if (head) yield head;
      const body = splitter.split(chunk);
      if (body) yield body;
    }
    const tail = splitter.end();
    if (tail) yield tail;
  } catch (err) {
    throw asInputError(path, err);
  } finally {
    file.destroy();
    source.destroy();
  }
}

/** Finds the lines of each chunk; a line cut by a chunk boundary is carried to the next. */
class LineSplitter {
  private lineNo = 0;
  private pieces: Buffer[] = [];
  private pending = 0;
  /** Where the current chunk's own lines start (after the carried-over line's end). */
  private pos = 0;

  constructor(private readonly path: string) {}

  private tooLong(): never {
    throw new InputError(`trace ${this.path}: line ${this.lineNo + 1} is longer than ${MAX_TRACE_LINE_BYTES / 1024 / 1024} MB; a trace line holds one request (is this a trace file?).`);
  }

  private single(buf: Buffer): LineRanges {
    let end = buf.length;
    if (end > 0 && buf[end - 1] === 0x0d) end--;
    return { buf, starts: Int32Array.of(0), ends: Int32Array.of(end), count: 1, firstLineNo: ++this.lineNo };
  }

  /** The line that started in earlier chunks, when it ends in this one. */
  carryOver(chunk: Buffer): LineRanges | null {
    this.pos = 0;
    if (this.pending === 0) return null;
    const nl = chunk.indexOf(0x0a);
    if (nl < 0) return null;
    if (this.pending + nl > MAX_TRACE_LINE_BYTES) this.tooLong();
    this.pieces.push(chunk.subarray(0, nl));
    const line = Buffer.concat(this.pieces);
    this.pieces = [];
    this.pending = 0;
    this.pos = nl + 1;
    return this.single(line);
  }

  /** The complete lines of the chunk (from where carryOver left off); keeps the unfinished tail. */
  split(chunk: Buffer): LineRanges | null {
    let pos = this.pos;
    let out: LineRanges | null = null;
    if (this.pending === 0) {
      let nl = chunk.indexOf(0x0a, pos);
      if (nl >= 0) {
        let cap = 64 + (chunk.length >> 4);
        let starts = new Int32Array(cap);
        let ends = new Int32Array(cap);
        let count = 0;
        const first = this.lineNo + 1;
        while (nl >= 0) {
          if (nl - pos > MAX_TRACE_LINE_BYTES) {
            this.lineNo += count;
            this.tooLong();
          }
          if (count === cap) {
            cap *= 2;
            const s2 = new Int32Array(cap);
            const e2 = new Int32Array(cap);
            s2.set(starts);
            e2.set(ends);
            starts = s2;
            ends = e2;
          }
          starts[count] = pos;
          ends[count] = nl > pos && chunk[nl - 1] === 0x0d ? nl - 1 : nl;
          count++;
          pos = nl + 1;
          nl = chunk.indexOf(0x0a, pos);
        }
        this.lineNo += count;
        out = { buf: chunk, starts, ends, count, firstLineNo: first };
      }
    }
    if (pos < chunk.length) {
      this.pending += chunk.length - pos;
      if (this.pending > MAX_TRACE_LINE_BYTES) this.tooLong();
      // Copy: the stream may reuse its buffers.
      this.pieces.push(Buffer.from(chunk.subarray(pos)));
    }
    return out;
  }

  end(): LineRanges | null {
    return this.pending > 0 ? this.single(Buffer.concat(this.pieces)) : null;
  }
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
  let first: string | undefined;
  outer: for await (const lines of lineRanges(path)) {
    for (let k = 0; k < lines.count; k++) {
      const text = lines.buf.toString('utf8', lines.starts[k], lines.ends[k]);
      if (text.trim() === '') continue;
      first = text;
      break outer;
    }
  }
  if (first === undefined) throw new InputError(`trace ${path}: the file is empty; pass a trace with at least one request.`);
  const format = detectFormatFromLine(first);
  if (!format) {
    throw new InputError(
      `trace ${path}: line 1 is not a known trace format; expected JSONL {"t","isl","osl"}, Mooncake JSONL {"timestamp","input_length","output_length"}, or an Azure CSV header TIMESTAMP,ContextTokens,GeneratedTokens.`,
    );
  }
  return format;
}

function asInputError(path: string, err: unknown): Error {
  if (err instanceof InputError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new InputError(`trace ${path}: cannot read (${msg}); pass a readable (optionally gzip) trace file.`);
}

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$/;

const daysInMonth = (y: number, m: number): number => new Date(Date.UTC(y, m, 0)).getUTCDate();

/**
 * An Azure TIMESTAMP as whole seconds since the epoch plus the fraction, kept apart because a
 * double holding ~1.7e9 s resolves only ~0.2 µs and the trace has 100-ns digits. NaN when the
 * text is not a datetime, or names a day or time that does not exist (no roll-over to a valid one).
 */
function splitAzureTimestamp(text: string): { whole: number; frac: number } {
  const m = DATETIME.exec(text.trim());
  if (!m) return { whole: Number.NaN, frac: 0 };
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  if (+mo < 1 || +mo > 12 || +d < 1 || +d > daysInMonth(+y, +mo) || +h > 23 || +mi > 59 || +s > 59) return { whole: Number.NaN, frac: 0 };
  let whole = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s) / 1000;
  if (tz && tz !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    const tzH = Number(digits.slice(0, 2));
    const tzM = Number(digits.slice(2));
    if (tzH > 14 || tzM > 59) return { whole: Number.NaN, frac: 0 };
    whole -= sign * (tzH * 3600 + tzM * 60);
  }
  return { whole, frac: frac ? Number(`0.${frac}`) : 0 };
}

/** Seconds since the epoch of an Azure TIMESTAMP (naive = UTC); NaN when it is not a valid datetime. */
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

// ---------------------------------------------------------------- fast JSON lines

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * Parse a JSON number at buf[i..]: returns the index after it (value in `numOut[0]`), or -1 when it
 * is not a JSON number the fast path handles. Up to 15 significant digits and 22 decimals without
 * an exponent, a decimal integer divided by a power of ten is exact to the last bit (both exact
 * doubles, one correctly rounded division), so this equals JSON.parse.
 */
function fastNumber(buf: Buffer, i: number, end: number, numOut: Float64Array): number {
  const start = i;
  let neg = false;
  if (buf[i] === 0x2d) {
    neg = true;
    i++;
  }
  if (i >= end) return -1;
  let mant = 0;
  let digits = 0;
  const c0 = buf[i];
  if (c0 === 0x30) {
    i++;
  } else if (c0 >= 0x31 && c0 <= 0x39) {
    while (i < end && buf[i] >= 0x30 && buf[i] <= 0x39) {
      mant = mant * 10 + (buf[i] - 0x30);
      digits++;
      i++;
    }
  } else return -1;
  let frac = 0;
  if (i < end && buf[i] === 0x2e) {
    i++;
    const f0 = i;
    while (i < end && buf[i] >= 0x30 && buf[i] <= 0x39) {
      mant = mant * 10 + (buf[i] - 0x30);
      if (mant !== 0) digits++;
      i++;
    }
    frac = i - f0;
    if (frac === 0) return -1;
  }
  if (i < end && (buf[i] === 0x65 || buf[i] === 0x45)) {
    // Exponents are rare in traces: let the exact parser read the whole number.
    i++;
    if (i < end && (buf[i] === 0x2b || buf[i] === 0x2d)) i++;
    const e0 = i;
    while (i < end && buf[i] >= 0x30 && buf[i] <= 0x39) i++;
    if (i === e0) return -1;
    numOut[0] = Number(buf.toString('latin1', start, i));
    return i;
  }
  if (digits > 15 || frac > 22) {
    numOut[0] = Number(buf.toString('latin1', start, i));
    return i;
  }
  const v = frac === 0 ? mant : mant / POW10[frac];
  numOut[0] = neg ? -v : v;
  return i;
}

const isWs = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;

/** Key bytes of the three fields of each JSON format. */
const KEYS: Record<'jsonl' | 'mooncake', readonly [Buffer, Buffer, Buffer]> = {
  jsonl: [Buffer.from('t'), Buffer.from('isl'), Buffer.from('osl')],
  mooncake: [Buffer.from('timestamp'), Buffer.from('input_length'), Buffer.from('output_length')],
};

function keyIs(buf: Buffer, start: number, end: number, key: Buffer): boolean {
  if (end - start !== key.length) return false;
  for (let k = 0; k < key.length; k++) if (buf[start + k] !== key[k]) return false;
  return true;
}

/**
 * The common case of a JSON trace line, read straight from the bytes: an object whose values are
 * numbers or arrays of numbers. Writes [time, isl, osl] into `out` and returns true when all three
 * were found as numbers; false sends the line to JSON.parse, which decides (and names the error).
 */
function fastJsonLine(buf: Buffer, i: number, end: number, keys: readonly [Buffer, Buffer, Buffer], out: Float64Array, numOut: Float64Array): boolean {
  while (i < end && isWs(buf[i])) i++;
  if (buf[i] !== 0x7b) return false;
  i++;
  let found = 0;
  for (;;) {
    while (i < end && isWs(buf[i])) i++;
    if (buf[i] === 0x7d && found === 0) return false; // an empty object: the slow path says so
    if (buf[i] !== 0x22) return false;
    const k0 = ++i;
    while (i < end && buf[i] !== 0x22) {
      if (buf[i] === 0x5c) return false;
      i++;
    }
    if (i >= end) return false;
    const k1 = i++;
    while (i < end && isWs(buf[i])) i++;
    if (buf[i] !== 0x3a) return false;
    i++;
    while (i < end && isWs(buf[i])) i++;
    if (buf[i] === 0x5b) {
      // An array of numbers (Mooncake's hash_ids): skipped.
      i++;
      while (i < end && isWs(buf[i])) i++;
      if (buf[i] !== 0x5d) {
        for (;;) {
          i = fastNumber(buf, i, end, numOut);
          if (i < 0) return false;
          while (i < end && isWs(buf[i])) i++;
          if (buf[i] === 0x2c) {
            i++;
            while (i < end && isWs(buf[i])) i++;
            continue;
          }
          if (buf[i] === 0x5d) break;
          return false;
        }
      }
      i++;
    } else {
      i = fastNumber(buf, i, end, numOut);
      if (i < 0) return false;
      for (let f = 0; f < 3; f++) {
        if (keyIs(buf, k0, k1, keys[f])) {
          out[f] = numOut[0];
          found |= 1 << f;
        }
      }
    }
    while (i < end && isWs(buf[i])) i++;
    if (buf[i] === 0x2c) {
      i++;
      continue;
    }
    if (buf[i] !== 0x7d) return false;
    i++;
    while (i < end && isWs(buf[i])) i++;
    return i === end && found === 7;
  }
}

/** Turns lines into batches of requests; synchronous so its hot loop keeps locals in registers. */
class TraceParser {
  prevT = 0;
  lineNo = 0;
  batch = newTraceBatch();
  /** Batches filled, handed out before the next chunk is read. */
  readonly full: TraceBatch[] = [];
  private azureOrigin: { whole: number; frac: number } | undefined;
  private csvColumns: { ts: number; isl: number; osl: number } | undefined;
  private readonly fields = new Float64Array(3);
  private readonly numOut = new Float64Array(1);
  private readonly keys: readonly [Buffer, Buffer, Buffer];
  private readonly scale: number;
  private readonly names: readonly [string, string, string];

  constructor(
    private readonly path: string,
    private readonly format: TraceFormat,
  ) {
    this.keys = format === 'mooncake' ? KEYS.mooncake : KEYS.jsonl;
    this.scale = format === 'mooncake' ? 1 / 1000 : 1;
    this.names = format === 'mooncake' ? ['timestamp', 'input_length', 'output_length'] : ['t', 'isl', 'osl'];
  }

  private bad(what: string): never {
    throw new InputError(`trace ${this.path}: line ${this.lineNo}: ${what}`);
  }

  parse(lines: LineRanges): void {
    const { buf, starts, ends, count, firstLineNo } = lines;
    const json = this.format !== 'azure-csv';
    const keys = this.keys;
    const fields = this.fields;
    const numOut = this.numOut;
    const scale = this.scale;
    for (let k = 0; k < count; k++) {
      let start = starts[k];
      const end = ends[k];
      if (firstLineNo + k === 1 && end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
      let i = start;
      while (i < end && isWs(buf[i])) i++;
      if (i === end) continue;
      this.lineNo = firstLineNo + k;
      if (!json) {
        this.csvLine(buf.toString('utf8', start, end));
        continue;
      }
      if (fastJsonLine(buf, i, end, keys, fields, numOut)) {
        const t = fields[0] * scale;
        const isl = fields[1];
        const osl = fields[2];
        // The common case, checked inline; anything else goes the slow way for its message.
        if (t >= this.prevT && t <= MAX_TRACE_TIME_S && isl >= 0 && osl >= 0 && isl < Infinity && osl < Infinity) {
          this.append(t, isl, osl);
          continue;
        }
      }
      this.slowJson(buf.toString('utf8', start, end));
    }
  }

  private push(t: number, isl: number, osl: number): void {
    if (t > MAX_TRACE_TIME_S) {
      const format = this.format;
      this.bad(`time ${t} s is more than a year after the trace start; ${format === 'jsonl' ? '"t" must be seconds since the trace start, not an epoch time or milliseconds' : format === 'mooncake' ? '"timestamp" must be milliseconds since the trace start, not an epoch time' : 'the trace must span at most a year'}.`);
    }
    if (t < this.prevT) this.bad(`time ${t} s is earlier than the previous request (${this.prevT} s); sort the trace by time.`);
    this.append(t, isl, osl);
  }

  /** Add a checked request to the batch being filled. */
  private append(t: number, isl: number, osl: number): void {
    this.prevT = t;
    const b = this.batch;
    const n = b.length++;
    b.t[n] = t;
    b.isl[n] = isl;
    b.osl[n] = osl;
    if (b.length === BATCH) {
      this.full.push(b);
      this.batch = newTraceBatch();
    }
  }

  /** The general path for a JSON line: JSON.parse, then every check with its message. */
  private slowJson(text: string): void {
    const [tKey, islKey, oslKey] = this.names;
    let obj: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      obj = parsed as Record<string, unknown>;
    } catch {
      return this.bad('not a JSON object; each line must be one request.');
    }
    const rawT = obj[tKey];
    const timeWhat = this.format === 'jsonl' ? '"t" must be a finite number >= 0 (seconds since the trace start)' : '"timestamp" must be a finite number >= 0 (ms since the trace start)';
    if (typeof rawT !== 'number' || !Number.isFinite(rawT) || rawT < 0) this.bad(`${timeWhat}, got ${(JSON.stringify(rawT) ?? 'nothing').slice(0, 40)}.`);
    const isl = tokens(obj[islKey]);
    const osl = tokens(obj[oslKey]);
    if (isl === undefined) this.bad(`"${islKey}" must be a number >= 0.`);
    if (osl === undefined) this.bad(`"${oslKey}" must be a number >= 0.`);
    this.push((rawT as number) * this.scale, isl!, osl!);
  }

  private csvLine(text: string): void {
    const cells = text.split(',');
    if (!this.csvColumns) {
      const header = cells.map((c) => c.trim());
      this.csvColumns = { ts: header.indexOf('TIMESTAMP'), isl: header.indexOf('ContextTokens'), osl: header.indexOf('GeneratedTokens') };
      if (this.csvColumns.ts < 0 || this.csvColumns.isl < 0 || this.csvColumns.osl < 0) this.bad('expected the header TIMESTAMP,ContextTokens,GeneratedTokens.');
      return;
    }
    const cols = this.csvColumns;
    const abs = splitAzureTimestamp(cells[cols.ts] ?? '');
    if (!Number.isFinite(abs.whole)) this.bad(`TIMESTAMP '${(cells[cols.ts] ?? '').slice(0, 80)}' is not a valid datetime like 2023-11-16 18:17:03.318.`);
    const isl = tokens(cells[cols.isl]);
    const osl = tokens(cells[cols.osl]);
    if (isl === undefined) this.bad(`ContextTokens '${(cells[cols.isl] ?? '').slice(0, 80)}' must be a number >= 0.`);
    if (osl === undefined) this.bad(`GeneratedTokens '${(cells[cols.osl] ?? '').slice(0, 80)}' must be a number >= 0.`);
    this.azureOrigin ??= abs;
    this.push(abs.whole - this.azureOrigin.whole + (abs.frac - this.azureOrigin.frac), isl!, osl!);
  }
}

/**
 * Stream a trace's requests in batches, sorted by t. `format` skips detection. Throws InputError on
 * the first bad line (file and line number, what is wrong, what is expected).
 */
export async function* readTraceBatches(path: string, options: { format?: TraceFormat } = {}): AsyncGenerator<TraceBatch> {
  const parser = new TraceParser(path, options.format ?? (await detectTraceFormat(path)));
  for await (const lines of lineRanges(path)) {
    parser.parse(lines);
    while (parser.full.length > 0) yield parser.full.shift()!;
  }
  if (parser.batch.length > 0) yield parser.batch;
}

/** Stream a trace's requests one by one, sorted by t (see readTraceBatches). */
export async function* readTrace(path: string, options: { format?: TraceFormat } = {}): AsyncGenerator<TraceRequest> {
  for await (const b of readTraceBatches(path, options)) {
    for (let i = 0; i < b.length; i++) yield { t: b.t[i], isl: b.isl[i], osl: b.osl[i] };
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
