// Hostile and odd trace files, every format, plain and gzip: each read ends with sorted, finite,
// non-negative requests or one InputError sentence naming the file; never a stack, a hang or
// unbounded memory. And the fast JSON path reads exactly what JSON.parse reads.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_TRACE_LINE_BYTES, MAX_TRACE_TIME_S, readTrace, type TraceRequest } from '../../src/trace/read.js';
import { InputError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'trace-fuzz-'));
let fileNo = 0;
function write(content: string | Buffer, gzip: boolean): string {
  const path = join(dir, `t${fileNo++}.trace`);
  writeFileSync(path, gzip ? gzipSync(content) : content);
  return path;
}

async function readAll(path: string): Promise<{ rows: TraceRequest[] } | { error: string }> {
  const rows: TraceRequest[] = [];
  try {
    for await (const r of readTrace(path)) rows.push(r);
    return { rows };
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    const msg = (err as Error).message;
    expect(msg).not.toMatch(/\n/);
    expect(msg).toContain(path);
    return { error: msg };
  }
}

function valid(rows: TraceRequest[]): void {
  let prev = 0;
  for (const r of rows) {
    for (const v of [r.t, r.isl, r.osl]) expect(Number.isFinite(v) && v >= 0).toBe(true);
    expect(r.t).toBeGreaterThanOrEqual(prev);
    expect(r.t).toBeLessThanOrEqual(MAX_TRACE_TIME_S);
    prev = r.t;
  }
}

/** A JSON number text in any of the grammar's shapes. */
const numberText = fc.oneof(
  fc.nat({ max: 10_000_000 }).map(String),
  fc.double({ min: 0, max: 1e6, noNaN: true }).map((v) => JSON.stringify(v)),
  fc.tuple(fc.nat({ max: 99999 }), fc.integer({ min: -12, max: 8 })).map(([m, e]) => `${m}e${e}`),
  fc.tuple(fc.nat({ max: 999 }), fc.stringMatching(/^[0-9]{1,25}$/)).map(([a, b]) => `${a}.${b}`),
  fc.stringMatching(/^[1-9][0-9]{15,25}$/),
);
const ws = fc.constantFrom('', ' ', '  ', '\t');

describe('fast JSON path (property)', () => {
  it('reads every well-formed line exactly as JSON.parse does, whatever the number spelling, spacing, key order or extra keys', async () => {
    let tried = 0;
    let clean = 0;
    const line = fc.record({
      t: numberText,
      isl: numberText,
      osl: numberText,
      extra: fc.array(fc.tuple(fc.constantFrom('hash_ids', 'id', 'x', 'isl2', 'tt'), fc.oneof(numberText, fc.constant('[1, 2, 3]'), fc.constant('"text"'), fc.constant('{"t": 5}'), fc.constant('null'))), { maxLength: 3 }),
      order: fc.constantFrom(0, 1, 2),
      pad: ws,
    });
    await fc.assert(
      fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 20 }), fc.boolean(), fc.boolean(), async (lines, gzip, crlf) => {
        tried++;
        const texts = lines.map((l) => {
          const pairs = [[`"t"`, l.t], [`"isl"`, l.isl], [`"osl"`, l.osl], ...l.extra.map(([k, v]) => [`"${k}"`, v])];
          const ordered = l.order === 0 ? pairs : l.order === 1 ? [...pairs].reverse() : [...pairs.slice(1), pairs[0]];
          return `${l.pad}{${ordered.map(([k, v]) => `${k}${l.pad}:${l.pad}${v}`).join(`,${l.pad}`)}}${l.pad}`;
        });
        // What JSON.parse makes of each line; sorted by t, as a trace must be.
        const parsed = texts.map((t) => JSON.parse(t) as { t: number; isl: number; osl: number }).map((o, i) => ({ o, i }));
        parsed.sort((a, b) => a.o.t - b.o.t || a.i - b.i);
        const body = parsed.map((p) => texts[p.i]).join(crlf ? '\r\n' : '\n') + '\n';
        const out = await readAll(write(body, gzip));
        const expected = parsed.map(({ o }) => ({ t: o.t, isl: o.isl, osl: o.osl }));
        if (expected.some((r) => r.t > MAX_TRACE_TIME_S)) expect('error' in out).toBe(true);
        else expect(out).toEqual({ rows: expected });
        clean++;
      }),
      { numRuns: 300, seed: 23 },
    );
    expect(clean).toBe(tried);
  });
});

describe('hostile trace files (property)', () => {
  const jsonLine = fc.oneof(
    fc.record({ t: fc.oneof(fc.double({ noNaN: false }), fc.integer(), fc.string(), fc.constant(null)), isl: fc.oneof(fc.integer({ min: -5, max: 1e6 }), fc.double(), fc.string()), osl: fc.oneof(fc.integer({ min: -5, max: 1e6 }), fc.constant('7')) }).map((o) => JSON.stringify(o)),
    fc.record({ timestamp: fc.oneof(fc.integer({ min: -1000, max: 4e10 }), fc.double()), input_length: fc.nat(), output_length: fc.nat(), hash_ids: fc.array(fc.nat(), { maxLength: 5 }) }).map((o) => JSON.stringify(o)),
    fc.string({ maxLength: 60 }),
    fc.constantFrom('', '{}', '[]', 'null', '{"t": 1, "isl": 2}', '{"t": 1e999, "isl": 2, "osl": 3}', '\uFEFF{"t":0,"isl":1,"osl":1}', '{"t":-0,"isl":0,"osl":0}'),
  );
  const datetime = fc
    .tuple(fc.integer({ min: 1990, max: 2100 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 }), fc.integer({ min: 0, max: 61 }), fc.constantFrom('', '.3180000', '.5', '+02:00', 'Z', '-14:30', '+25:00'))
    .map(([y, mo, d, h, mi, s, tail]) => `${y}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')} ${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:${String(s).padStart(2, '0')}${tail}`);
  const csvLine = fc.oneof(
    fc.tuple(datetime, fc.oneof(fc.nat().map(String), fc.constantFrom('-1', 'abc', '', '1e3')), fc.nat().map(String)).map((c) => c.join(',')),
    fc.string({ maxLength: 40 }),
  );
  const file = fc.oneof(
    fc.array(jsonLine, { maxLength: 15 }).map((l) => l.join('\n')),
    fc.array(csvLine, { maxLength: 15 }).map((l) => ['TIMESTAMP,ContextTokens,GeneratedTokens', ...l].join('\r\n')),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  );

  it('end in valid requests or one sentence naming the file, plain, gzip or truncated gzip', async () => {
    let tried = 0;
    let clean = 0;
    await fc.assert(
      fc.asyncProperty(file, fc.constantFrom('plain', 'gzip', 'truncated'), async (content, how) => {
        tried++;
        const buf = typeof content === 'string' ? Buffer.from(content) : content;
        const path = how === 'plain' ? write(buf, false) : write(how === 'gzip' ? gzipSync(buf) : gzipSync(buf).subarray(0, Math.max(2, gzipSync(buf).length >> 1)), false);
        const out = await readAll(path);
        if ('rows' in out) valid(out.rows);
        clean++;
      }),
      { numRuns: 600, seed: 29 },
    );
    expect(clean).toBe(tried);
  });

  it('an impossible Azure date is refused, not rolled over to a real one', async () => {
    const out = await readAll(write('TIMESTAMP,ContextTokens,GeneratedTokens\n2023-02-30 10:00:00,10,1\n', false));
    expect(out).toEqual({ error: expect.stringMatching(/line 2: TIMESTAMP '2023-02-30 10:00:00' is not a valid datetime/) });
  });

  it('negative times are refused in every format', async () => {
    expect(await readAll(write('{"t": -3, "isl": 1, "osl": 1}\n', false))).toEqual({ error: expect.stringMatching(/line 1: "t" must be a finite number >= 0/) });
    expect(await readAll(write('{"timestamp": -1, "input_length": 1, "output_length": 1}\n', true))).toEqual({ error: expect.stringMatching(/line 1: "timestamp" must be a finite number >= 0/) });
  });

  it('a line longer than the limit is one sentence, not a crash building a giant string', async () => {
    const big = Buffer.alloc(MAX_TRACE_LINE_BYTES + 1024, 0x20);
    big.write('{"t": 0, "isl": 1, "osl": 1}\n', 0);
    const out = await readAll(write(big, false));
    expect(out).toEqual({ error: expect.stringMatching(/line 2 is longer than 16 MB/) });
  });
});
