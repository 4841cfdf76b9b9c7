import { gzipSync } from 'node:zlib';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  bucketTrace,
  MAX_BUCKETS,
  detectTraceFormat,
  parseAzureTimestamp,
  readTrace,
  readTraceBuckets,
  type TraceBucket,
  type TraceRequest,
} from '../../src/trace/read.js';
import { InputError } from '../../src/util/errors.js';

const FIX = 'test/fixtures/traces';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function* from(requests: TraceRequest[]): AsyncGenerator<TraceRequest> {
  yield* requests;
}

function tmpFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'trace-test-'));
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function inputError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected an InputError');
}

describe('readTrace formats', () => {
  it('reads JSONL {t, isl, osl}, skipping blank lines', async () => {
    const rows = await collect(readTrace(`${FIX}/small.jsonl`));
    expect(rows).toHaveLength(6);
    expect(rows[1]).toEqual({ t: 5.5, isl: 300, osl: 30 });
    expect(rows[5]).toEqual({ t: 39, isl: 60, osl: 8 });
  });

  it('detects gzip from the content, with or without the .gz suffix', async () => {
    const plain = await collect(readTrace(`${FIX}/small.jsonl`));
    expect(await collect(readTrace(`${FIX}/small.jsonl.gz`))).toEqual(plain);
    expect(await collect(readTrace(`${FIX}/small-gz-without-suffix.jsonl`))).toEqual(plain);
  });

  it('reads Mooncake JSONL with timestamps in ms', async () => {
    expect(await detectTraceFormat(`${FIX}/mooncake.jsonl`)).toBe('mooncake');
    const rows = await collect(readTrace(`${FIX}/mooncake.jsonl`));
    expect(rows.map((r) => r.t)).toEqual([0, 10.535, 27.482]);
    expect(rows[1]).toMatchObject({ isl: 672, osl: 26 });
  });

  it('reads Azure CSV (CRLF, 7 fractional digits) re-based to the first row', async () => {
    expect(await detectTraceFormat(`${FIX}/azure.csv`)).toBe('azure-csv');
    const rows = await collect(readTrace(`${FIX}/azure.csv`));
    expect(rows).toHaveLength(4);
    expect(rows[0]).toEqual({ t: 0, isl: 4808, osl: 10 });
    expect(rows[1].t).toBeCloseTo(0.052, 9);
    expect(rows[2].t).toBeCloseTo(10.098189, 6);
    expect(rows[3]).toMatchObject({ isl: 2000, osl: 100 });
    expect(rows[3].t).toBeCloseTo(61.682, 6);
  });

  it('parses Azure datetimes with and without an offset', () => {
    expect(parseAzureTimestamp('2024-05-10 00:00:00.009930+00:00') - parseAzureTimestamp('2024-05-10 00:00:00')).toBeCloseTo(0.00993, 6);
    expect(parseAzureTimestamp('2024-05-10 02:00:00+02:00')).toBe(parseAzureTimestamp('2024-05-10 00:00:00'));
    expect(parseAzureTimestamp('yesterday')).toBeNaN();
  });

  it('streams the 1000-request Mooncake-derived JSONL trace', async () => {
    let n = 0;
    let islSum = 0;
    for await (const r of readTrace(`${FIX}/mooncake_arxiv_first1000.jsonl`)) {
      n++;
      islSum += r.isl;
    }
    expect(n).toBe(1000);
    // README: isl mean 9,792
    expect(islSum / n).toBeCloseTo(9792, -1);
  });
});

describe('readTrace errors name the file and line', () => {
  it('rejects a non-JSON line', async () => {
    const path = tmpFile('bad.jsonl', '{"t":0,"isl":1,"osl":1}\n{"t":1,"isl":2\n');
    const msg = await inputError(collect(readTrace(path)));
    expect(msg).toContain(path);
    expect(msg).toContain('line 2');
  });

  it('rejects a negative or missing token count', async () => {
    const path = tmpFile('neg.jsonl', '{"t":0,"isl":1,"osl":1}\n{"t":1,"isl":2,"osl":3}\n{"t":2,"isl":-5,"osl":1}\n');
    const msg = await inputError(collect(readTrace(path)));
    expect(msg).toMatch(/line 3: "isl" must be a number >= 0/);
  });

  it('rejects time going backwards', async () => {
    const path = tmpFile('order.jsonl', '{"t":5,"isl":1,"osl":1}\n{"t":4,"isl":1,"osl":1}\n');
    const msg = await inputError(collect(readTrace(path)));
    expect(msg).toMatch(/line 2: .*earlier than the previous request.*sort the trace by time/);
  });

  it('rejects epoch seconds or milliseconds where seconds since the start are expected', async () => {
    // 1.7e9 s from the start would be ~28 million empty 60 s intervals for the bucketer/simulator.
    const epoch = tmpFile('epoch.jsonl', '{"t":1700000000,"isl":1,"osl":1}\n');
    expect(await inputError(collect(readTrace(epoch)))).toMatch(/line 1: time 1700000000 s is more than a year after the trace start; "t" must be seconds since the trace start/);
    const mooncakeEpochMs = tmpFile('epoch-mc.jsonl', '{"timestamp":0,"input_length":1,"output_length":1}\n{"timestamp":1700000000000,"input_length":1,"output_length":1}\n');
    expect(await inputError(collect(readTrace(mooncakeEpochMs)))).toMatch(/line 2: .*"timestamp" must be milliseconds since the trace start/);
    // A day-long trace is fine.
    const day = tmpFile('day.jsonl', '{"t":0,"isl":1,"osl":1}\n{"t":86399,"isl":1,"osl":1}\n');
    expect(await collect(readTrace(day))).toHaveLength(2);
  });

  it('rejects a bad Azure TIMESTAMP', async () => {
    const path = tmpFile('bad.csv', 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03,1,1\nsoon,1,1\n');
    expect(await inputError(collect(readTrace(path)))).toMatch(/line 3: TIMESTAMP 'soon' is not a valid datetime/);
  });

  it('rejects an unknown format, an empty file and a missing file', async () => {
    expect(await inputError(detectTraceFormat(tmpFile('x.csv', 'a,b,c\n1,2,3\n')))).toMatch(/line 1 is not a known trace format/);
    expect(await inputError(detectTraceFormat(tmpFile('empty.jsonl', '\n\n')))).toMatch(/empty/);
    expect(await inputError(collect(readTrace('test/fixtures/traces/nope.jsonl')))).toMatch(/nope\.jsonl: cannot open/);
  });

  it('rejects a corrupt gzip file', async () => {
    const path = tmpFile('corrupt.jsonl.gz', '\x1f\x8bnot really gzip');
    await inputError(collect(readTrace(path, { format: 'jsonl' })));
  });
});

describe('bucketTrace', () => {
  it('emits every interval from the first to the last request, empty ones as zeros', async () => {
    const buckets = await readTraceBuckets(`${FIX}/small.jsonl`, 10);
    expect(buckets).toEqual<TraceBucket[]>([
      { start_s: 0, request_count: 3, avg_isl: 200, avg_osl: 20 },
      { start_s: 10, request_count: 1, avg_isl: 1000, avg_osl: 50 },
      { start_s: 20, request_count: 0, avg_isl: 0, avg_osl: 0 },
      { start_s: 30, request_count: 2, avg_isl: 50, avg_osl: 6 },
    ]);
  });

  it('measures intervals from the first request, not from t = 0', async () => {
    const buckets = await collect(bucketTrace(from([
      { t: 100, isl: 1, osl: 1 },
      { t: 159.9, isl: 3, osl: 3 },
      { t: 160, isl: 5, osl: 5 },
    ]), 60));
    expect(buckets.map((b) => b.request_count)).toEqual([2, 1]);
    expect(buckets[0].avg_isl).toBe(2);
  });

  it('yields nothing for an empty stream and rejects a non-positive interval', async () => {
    expect(await collect(bucketTrace(from([]), 60))).toEqual([]);
    await expect(collect(bucketTrace(from([]), 0))).rejects.toBeInstanceOf(InputError);
  });

  it('refuses an interval/span combination of more than MAX_BUCKETS intervals instead of looping on', async () => {
    const far = from([{ t: 0, isl: 1, osl: 1 }, { t: 3600, isl: 1, osl: 1 }]);
    let emitted = 0;
    const err = await (async () => {
      for await (const _ of bucketTrace(far, 3600 / (MAX_BUCKETS + 1))) emitted++;
    })().catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/more than 10000000 intervals; use a longer interval/);
    // It stops before emitting the empty run, not after.
    expect(emitted).toBe(0);
  });

  it('conserves the request count of the shipped Azure trace at 60 s', async () => {
    const buckets = await readTraceBuckets('config/traces/azure2023_code_1h.jsonl', 60);
    expect(buckets.reduce((a, b) => a + b.request_count, 0)).toBe(8819);
    // 3,435.9 s of trace -> intervals 0..57
    expect(buckets).toHaveLength(58);
    // README: "minutes with zero requests"
    expect(buckets.some((b) => b.request_count === 0)).toBe(true);
  });
});

describe('readTrace on a directory', () => {
  it('is an InputError, not a stack trace', async () => {
    expect(await inputError(collect(readTrace('test/fixtures/traces')))).toMatch(/cannot read \(EISDIR\)/);
  });
});

describe('bucketTrace properties', () => {
  it('conserves requests and tokens, and emits floor((last - first) / I) + 1 intervals', async () => {
    const request = fc.record({
      gap: fc.double({ min: 0, max: 500, noNaN: true }),
      isl: fc.integer({ min: 0, max: 100_000 }),
      osl: fc.integer({ min: 0, max: 10_000 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 200 }), fc.double({ min: 0.5, max: 600, noNaN: true }), async (rows, intervalS) => {
        let t = 0;
        const requests = rows.map((r) => ({ t: (t += r.gap), isl: r.isl, osl: r.osl }));
        const buckets = await collect(bucketTrace(from(requests), intervalS));
        const first = requests[0].t;
        const last = requests[requests.length - 1].t;
        expect(buckets).toHaveLength(Math.floor((last - first) / intervalS) + 1);
        expect(buckets.reduce((a, b) => a + b.request_count, 0)).toBe(requests.length);
        const islTotal = buckets.reduce((a, b) => a + b.avg_isl * b.request_count, 0);
        expect(islTotal).toBeCloseTo(requests.reduce((a, r) => a + r.isl, 0), 3);
        for (const b of buckets) if (b.request_count === 0) expect([b.avg_isl, b.avg_osl]).toEqual([0, 0]);
      }),
      { numRuns: 200, seed: 11 },
    );
  });
});

describe('streaming a 24 h gzip trace', () => {
  it('reads 400,000 gzipped requests over a day in intervals without holding them', async () => {
    // One request every 0.216 s for 24 h, written gzipped the way the shared traces are.
    const n = 400_000;
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`{"t":${(i * 0.216).toFixed(3)},"isl":${100 + (i % 7)},"osl":${10 + (i % 3)}}`);
    const file = join(mkdtempSync(join(tmpdir(), 'trace-gz-')), 'day.jsonl.gz');
    writeFileSync(file, gzipSync(lines.join('\n') + '\n'));
    const buckets = await readTraceBuckets(file, 180);
    expect(buckets.reduce((a, b) => a + b.request_count, 0)).toBe(n);
    // 86,399.8 s at 180 s: intervals 0..479
    expect(buckets.length).toBe(480);
    expect(buckets[0].request_count).toBe(834);
  }, 60_000);
});
