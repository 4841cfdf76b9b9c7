// Fuzz: profile data in both layouts. npz archives with flipped bytes, cut files, forged headers,
// lying sizes and compression bombs; ConfigMap JSON with hostile values and noisy sweeps. Every
// case is profile data whose interpolated TTFT and ITL stay physical, or one sentence naming the
// file; a process reading the worst of them stays under a stated memory cap.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { buildInterpolators, parseNpz } from '../../src/profile-data/index.js';
import { validateDecode, validatePrefill } from '../../src/profile-data/load.js';
import type { DecodeProfile, PrefillProfile } from '../../src/profile-data/types.js';
import { SEED, expectOneSentence, limitMs, runs, tally } from './tally.js';

// Scaled with FUZZ_RUNS: the default budget fits vitest's 60 s.
vi.setConfig({ testTimeout: limitMs(), hookTimeout: limitMs() });

const NPZ_DIR = 'test/fixtures/h100/llama-3.1-8b/npz';
const JSON_DIR = 'test/fixtures/h100/llama-3.1-8b/configmap';
const PREFILL_NPZ = readFileSync(join(NPZ_DIR, 'selected_prefill_interpolation/raw_data.npz'));
const DECODE_NPZ = readFileSync(join(NPZ_DIR, 'selected_decode_interpolation/raw_data.npz'));
const PREFILL_JSON = JSON.parse(readFileSync(join(JSON_DIR, 'prefill_raw_data.json'), 'utf8')) as Record<string, number[]>;
const DECODE_JSON = JSON.parse(readFileSync(join(JSON_DIR, 'decode_raw_data.json'), 'utf8')) as Record<string, number[] | number>;
const GOOD_PREFILL = validatePrefill(PREFILL_JSON, { label: 'good' });
const GOOD_DECODE = validateDecode(DECODE_JSON, { label: 'good' });

/** Accepted profile data must interpolate to physical values wherever the planner looks. */
function checkPhysical(prefill: PrefillProfile, decode: DecodeProfile, origin: string): void {
  let it: ReturnType<typeof buildInterpolators>;
  try {
    it = buildInterpolators({ prefill, decode, source: { prefill: origin, decode: origin } });
  } catch (err) {
    expectOneSentence(err, origin);
    return;
  }
  for (const isl of [1, prefill.isl[0]!, 500, 3000, 1e5, 1e9]) {
    expect(it.prefill.ttftMs(isl)).toBeGreaterThan(0);
    expect(it.prefill.thptPerGpu(isl)).toBeGreaterThan(0);
    expect(Number.isFinite(it.prefill.ttftMs(isl))).toBe(true);
  }
  for (const ctx of [1, 1000, 8000, 1e7]) {
    for (const itl of [1, 20, 500]) {
      const best = it.decode.findBestThroughputPerGpu(itl, ctx);
      expect(best.itlMs).toBeGreaterThan(0);
      expect(Number.isFinite(best.thptPerGpu) && Number.isFinite(best.itlMs)).toBe(true);
    }
  }
}

function npzOrSentence(buf: Buffer, name: string, part: 'prefill' | 'decode'): void {
  let arrays: ReturnType<typeof parseNpz>;
  try {
    arrays = parseNpz(buf, name);
  } catch (err) {
    expectOneSentence(err, name);
    return;
  }
  const raw = Object.fromEntries(Object.entries(arrays).map(([k, a]) => [k, a.data]));
  let prefill = GOOD_PREFILL;
  let decode = GOOD_DECODE;
  try {
    if (part === 'prefill') prefill = validatePrefill(raw, { label: name });
    else decode = validateDecode(raw, { label: name });
  } catch (err) {
    expectOneSentence(err, name);
    return;
  }
  checkPhysical(prefill, decode, name);
}

// ---- npz builders ----
function npy(header: string, body: Buffer): Buffer {
  let h = header;
  h += ' '.repeat((64 - ((10 + h.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  head.writeUInt16LE(h.length, 8);
  return Buffer.concat([head, Buffer.from(h, 'latin1'), body]);
}

function zip(entries: { name: string; payload: Buffer; method?: number; declared?: number; storedOverride?: Buffer }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const method = e.method ?? 0;
    const stored = e.storedOverride ?? (method === 8 ? deflateRawSync(e.payload) : e.payload);
    const name = Buffer.from(e.name);
    const crc = crc32(e.payload) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(method, 8); local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18); local.writeUInt32LE(e.declared ?? e.payload.length, 22); local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6); central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16); central.writeUInt32LE(stored.length, 20); central.writeUInt32LE(e.declared ?? e.payload.length, 24);
    central.writeUInt16LE(name.length, 28); central.writeUInt32LE(offset, 42);
    locals.push(local, name, stored);
    centrals.push(central, name);
    offset += 30 + name.length + stored.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0); eocd.writeUInt16LE(entries.length, 8); eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12); eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

const f8 = (values: number[]) => {
  const b = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => b.writeDoubleLE(v, i * 8));
  return b;
};

describe('fuzz: npz archives', () => {
  const t = tally('profile data: npz');

  it('flipped bytes anywhere (headers, directory, data) and cut-off files', () => {
    const base = fc.constantFrom<['prefill' | 'decode', Buffer]>(['prefill', PREFILL_NPZ], ['decode', DECODE_NPZ]);
    const flips = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 });
    fc.assert(fc.property(base, flips, fc.option(fc.nat()), ([part, original], edits, cut) => t.case(() => {
      const buf = Buffer.from(original);
      for (const [at, byte] of edits) buf[at % buf.length] = byte;
      npzOrSentence(cut === null ? buf : buf.subarray(0, cut % (buf.length + 1)), 'fuzz.npz', part);
    })), { numRuns: runs(600), seed: SEED });
  });

  it('forged .npy headers: any dtype, order and shape, with or without enough data', () => {
    const descr = fc.oneof(fc.constantFrom('<f8', '<f4', '<i8', '<i4', '|f8', '<U0', '<U1', '<U7', '<U4000000000', '>f8', '<c16', '|b1', '<f2', 'O', '<M8'), fc.string({ maxLength: 8 }));
    const dim = fc.oneof(fc.nat({ max: 40 }), fc.constantFrom(0, 3_000_000_000, 2 ** 53, 1e20, -1));
    const shape = fc.array(dim, { maxLength: 4 });
    const header = fc.tuple(descr, fc.boolean(), shape).map(([d, fo, s]) => `{'descr': '${d}', 'fortran_order': ${fo ? 'True' : 'False'}, 'shape': (${s.join(', ')}${s.length === 1 ? ',' : ''}), }`);
    const headerText = fc.oneof({ weight: 4, arbitrary: header }, { weight: 1, arbitrary: fc.string({ maxLength: 200 }) });
    fc.assert(fc.property(headerText, fc.nat({ max: 2048 }), fc.boolean(), (h, bodyLen, deflate) => t.case(() => {
      const body = f8(Array.from({ length: Math.ceil(bodyLen / 8) }, (_, i) => 100 + i * 7));
      const buf = zip([{ name: 'prefill_isl.npy', payload: npy(h, body.subarray(0, bodyLen)), method: deflate ? 8 : 0 }]);
      npzOrSentence(buf, 'fuzz.npz', 'prefill');
    })), { numRuns: runs(600), seed: SEED });
  });

  it('lying sizes, unknown compression, bombs: rejected before the memory is spent', () => {
    const bomb = deflateRawSync(Buffer.alloc(80 * 1024 * 1024));
    const cases: Buffer[] = [
      zip([{ name: 'prefill_isl.npy', payload: npy("{'descr': '<f8', 'fortran_order': False, 'shape': (10000000,), }", Buffer.alloc(0)), method: 8, declared: 100, storedOverride: bomb }]),
      zip([{ name: 'prefill_isl.npy', payload: npy("{'descr': '<U0', 'fortran_order': False, 'shape': (3000000000,), }", Buffer.alloc(0)) }]),
      zip([{ name: 'prefill_isl.npy', payload: Buffer.alloc(10), declared: 0xfffffff0 }]),
      zip([{ name: 'prefill_isl.npy', payload: npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", f8([1, 2, 3, 4])), method: 12 }]),
      zip([{ name: 'x.npy', payload: npy("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0])) }]),
      Buffer.from('PK\u0005\u0006' + '\u0000'.repeat(18), 'latin1'),
      Buffer.alloc(0),
    ];
    for (const buf of cases) t.case(() => npzOrSentence(buf, 'fuzz.npz', 'prefill'));
  });
});

describe('fuzz: ConfigMap JSON values', () => {
  const t = tally('profile data: ConfigMap JSON');
  const hostile = fc.oneof(
    fc.constantFrom(0, -1, -0, 1e-300, 1e300, Number.MAX_VALUE, 1e12, 2 ** 53, 0.001),
    fc.double(),
    fc.constantFrom(null, '12', true, [], {}, [1, 2], 'NaN'),
    fc.jsonValue({ maxDepth: 2 }),
  );
  const prefillKeys = ['prefill_isl', 'prefill_ttft', 'prefill_thpt_per_gpu'];
  const decodeKeys = ['x_kv_usage', 'y_context_length', 'z_itl', 'z_thpt_per_gpu', 'max_kv_tokens'];
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), key: fc.constantFrom(...prefillKeys, ...decodeKeys), index: fc.nat(), value: hostile }),
    fc.record({ kind: fc.constant('scale' as const), key: fc.constantFrom(...prefillKeys, ...decodeKeys), factor: fc.constantFrom(0, -1, 1e-9, 1e9, 1e300) }),
    fc.record({ kind: fc.constant('noise' as const), key: fc.constantFrom('z_itl', 'z_thpt_per_gpu', 'prefill_ttft', 'prefill_thpt_per_gpu'), amplitude: fc.double({ min: 0, max: 3, noNaN: true }), seed: fc.nat() }),
    fc.record({ kind: fc.constant('drop' as const), key: fc.constantFrom(...prefillKeys, ...decodeKeys) }),
    fc.record({ kind: fc.constant('truncate' as const), key: fc.constantFrom(...prefillKeys, ...decodeKeys), length: fc.nat({ max: 60 }) }),
  );
  it('hostile values, scaled and noisy sweeps, missing and short keys', () => {
    fc.assert(fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => t.case(() => {
      const p: Record<string, unknown> = structuredClone(PREFILL_JSON);
      const d: Record<string, unknown> = structuredClone(DECODE_JSON);
      for (const e of edits) {
        const target = prefillKeys.includes(e.key) ? p : d;
        const arr = target[e.key];
        if (e.kind === 'drop') delete target[e.key];
        else if (!Array.isArray(arr)) { if (e.kind === 'set') target[e.key] = e.value; else if (e.kind === 'scale' && typeof arr === 'number') target[e.key] = arr * e.factor; }
        else if (e.kind === 'set') arr[e.index % (arr.length + 1)] = e.value;
        else if (e.kind === 'scale') target[e.key] = arr.map((v) => (typeof v === 'number' ? v * e.factor : v));
        else if (e.kind === 'truncate') target[e.key] = arr.slice(0, e.length);
        else if (e.kind === 'noise') {
          let s = (e.seed % 2147483646) + 1;
          const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647) - 0.5;
          target[e.key] = arr.map((v) => (typeof v === 'number' ? v * (1 + e.amplitude * 2 * rnd()) : v));
        }
      }
      let prefill: PrefillProfile;
      let decode: DecodeProfile;
      try {
        prefill = validatePrefill(p, { label: 'fuzz/prefill_raw_data.json' });
        decode = validateDecode(d, { label: 'fuzz/decode_raw_data.json' });
      } catch (err) {
        expectOneSentence(err, /fuzz\/(prefill|decode)_raw_data\.json/);
        return;
      }
      checkPhysical(prefill, decode, 'fuzz/raw_data.json');
    })), { numRuns: runs(250), seed: SEED });
  });

  it('noisy decode sweeps of many points never promise an ITL below what was measured', () => {
    // The case at a size the suite can afford: a dense noisy sweep whose cubic fit dips below zero.
    fc.assert(fc.property(fc.integer({ min: 100, max: 600 }), fc.nat(), fc.double({ min: 0.2, max: 2, noNaN: true }), (n, seed, noise) => t.case(() => {
      let s = (seed % 2147483646) + 1;
      const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
      const kv: number[] = [];
      const ctx: number[] = [];
      const itl: number[] = [];
      const thpt: number[] = [];
      for (let i = 0; i < n; i++) {
        const x = rnd();
        kv.push(x);
        ctx.push(256 + rnd() * 16000);
        itl.push(Math.max(1, 10 + 30 * x + (rnd() - 0.5) * 40 * noise));
        thpt.push(Math.max(1, 1000 * x * (1 + (rnd() - 0.5) * noise)));
      }
      let decode: DecodeProfile;
      try {
        decode = validateDecode({ x_kv_usage: kv, y_context_length: ctx, z_itl: itl, z_thpt_per_gpu: thpt, max_kv_tokens: 400_000 }, { label: 'noisy.json' });
      } catch (err) {
        expectOneSentence(err, 'noisy.json');
        return;
      }
      checkPhysical(GOOD_PREFILL, decode, 'noisy.json');
    })), { numRuns: runs(8), seed: SEED });
  });
});

/** The stated cap for one command on hostile profile data (the issue saw 2.5-5.5 GB). */
const MEMORY_CAP_MB = 256;

/** Run the CLI in a child and report its peak resident memory (Buffers included, not just the heap). */
function cliWithPeakRss(args: string[]): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; peakRssMb: number } {
  const main = resolve('dist/src/main.js');
  const code = `import(${JSON.stringify(main)}).then(async (m) => { const c = await m.main(process.argv.slice(1)); process.stderr.write('\\nPEAK_RSS_KB ' + process.resourceUsage().maxRSS + '\\n'); process.exitCode = c; });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code, ...args], { encoding: 'utf8', timeout: 60_000 });
  const m = /\nPEAK_RSS_KB (\d+)\n/.exec(r.stderr);
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr.replace(/\n?PEAK_RSS_KB \d+\n/, ''), peakRssMb: m ? Number(m[1]) / 1024 : Number.POSITIVE_INFINITY };
}

describe('fuzz: hostile profile dirs through `sla-planner validate` under a memory cap (process)', () => {
  const t = tally(`profile data: dirs via validate (process, peak RSS < ${MEMORY_CAP_MB} MB)`);
  const root = mkdtempSync(join(tmpdir(), 'sla-fuzz-profile-'));
  const dir = (name: string, prefill?: Buffer, decodeJson?: string) => {
    const d = join(root, name);
    cpSync(NPZ_DIR, d, { recursive: true });
    if (prefill) writeFileSync(join(d, 'selected_prefill_interpolation/raw_data.npz'), prefill);
    if (decodeJson) {
      mkdirSync(d, { recursive: true });
      cpSync(join(NPZ_DIR, 'selected_prefill_interpolation'), join(d, 'selected_prefill_interpolation'), { recursive: true });
    }
    return d;
  };
  const bomb = deflateRawSync(Buffer.alloc(300 * 1024 * 1024));
  const dirs = [
    dir('u0-3e9', zip([{ name: 'prefill_isl.npy', payload: npy("{'descr': '<U0', 'fortran_order': False, 'shape': (3000000000,), }", Buffer.alloc(0)) }])),
    dir('deflate-bomb', zip([{ name: 'prefill_isl.npy', payload: Buffer.alloc(8), method: 8, declared: 1000, storedOverride: bomb }])),
    dir('corrupt-header', Buffer.concat([PREFILL_NPZ.subarray(0, 60), Buffer.from('garbage'), PREFILL_NPZ.subarray(67)])),
    dir('all-zero-thpt', zip([
      { name: 'prefill_isl.npy', payload: npy("{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }", f8([100, 200, 400, 800, 1600])) },
      { name: 'prefill_ttft.npy', payload: npy("{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }", f8([10, 12, 15, 22, 40])) },
      { name: 'prefill_thpt_per_gpu.npy', payload: npy("{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }", f8([0, 0, 0, 0, 0])) },
    ])),
    dir('isl-1e300', zip([
      { name: 'prefill_isl.npy', payload: npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", f8([1e300, 2e300, 3e300, 4e300])) },
      { name: 'prefill_ttft.npy', payload: npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", f8([10, 12, 15, 22])) },
      { name: 'prefill_thpt_per_gpu.npy', payload: npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", f8([1000, 1100, 1200, 1300])) },
    ])),
  ];
  const cfg = JSON.stringify({ environment: 'virtual', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1 });

  it.each(dirs.map((d) => [d.split('/').pop()!, d]))('%s: exit 2, one line naming the file, peak RSS under 256 MB', (_name, d) => t.case(() => {
    const r = cliWithPeakRss(['validate', '--config', cfg, '--profile-dir', d]);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(2);
    expect(r.peakRssMb).toBeLessThan(MEMORY_CAP_MB);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(join(d, 'selected_prefill_interpolation'));
  }));

  it('interpolate on the same dirs: exit 2 (was exit 0 with null for ISLs of 1e300)', () => t.case(() => {
    const r = spawnSync(process.execPath, ['dist/src/cli.js', 'interpolate', '--profile-dir', join(root, 'isl-1e300'), '--isl', '3000'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/prefill_isl' is 1e\+300 at index 0, beyond any engine/);
  }));
});
