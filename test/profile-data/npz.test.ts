// The .npz/.npy reader and writer: real profiler files (STORED), the planner's pre-swept tables
// (DEFLATE, 2-D, numpy unicode), and write-then-read round trips.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeNpz, parseNpz, readNpz, writeNpz } from '../../src/profile-data/npz.js';
import { InputError } from '../../src/util/errors.js';

const FIX = 'test/fixtures';
const H200 = `${FIX}/dynamo/profiling_results/H200_TP1P_TP1D`;
const PRE_70B = `${FIX}/dynamo/pre_swept_results/h100_sxm/vllm/nvidia/Llama-3.3-70B-Instruct-FP8`;
const PRE_8B = `${FIX}/dynamo/pre_swept_results/h200_sxm/vllm/nvidia/Llama-3.1-8B-Instruct-FP8`;

const tmp = () => mkdtempSync(join(tmpdir(), 'sla-planner-npz-'));
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('readNpz on profiler output (np.savez, STORED)', () => {
  it('reads the H200 decode arrays with their dtypes and shapes, equal to the ConfigMap JSON', () => {
    const npz = readNpz(`${H200}/npz/selected_decode_interpolation/raw_data.npz`);
    const cm = json(`${H200}/configmap/decode_raw_data.json`);
    expect(Object.keys(npz).sort()).toEqual(['max_kv_tokens', 'x_kv_usage', 'y_context_length', 'z_itl', 'z_thpt_per_gpu']);
    expect(npz.x_kv_usage!.dtype).toBe('<f8');
    expect(npz.x_kv_usage!.shape).toEqual([41]);
    expect(npz.max_kv_tokens!.dtype).toBe('<i8');
    expect(npz.max_kv_tokens!.shape).toEqual([1]);
    expect(npz.max_kv_tokens!.data).toEqual([945029]);
    for (const key of ['x_kv_usage', 'y_context_length', 'z_itl', 'z_thpt_per_gpu']) expect(npz[key]!.data).toEqual(cm[key]);
  });

  it('reads int64 ISLs of the prefill file', () => {
    const npz = readNpz(`${H200}/npz/selected_prefill_interpolation/raw_data.npz`);
    const cm = json(`${H200}/configmap/prefill_raw_data.json`);
    expect(npz.prefill_isl!.dtype).toBe('<i8');
    expect(npz.prefill_isl!.data).toEqual(cm.prefill_isl);
    expect(npz.prefill_isl!.data).toHaveLength(17);
  });
});

describe('readNpz on pre-swept tables (np.savez_compressed, DEFLATE, 2-D, <U strings)', () => {
  it('reads every row of the 70B table equal to its per-TP ConfigMap export', () => {
    const npz = readNpz(`${PRE_70B}/decode.npz`);
    const x = npz.x_kv_usage!;
    expect(x.shape).toEqual([3, 39]);
    expect(npz.model!.dtype).toBe('<U33');
    expect(npz.model!.data).toEqual(Array(3).fill('nvidia/Llama-3.3-70B-Instruct-FP8'));
    expect(npz.gpu_type!.data).toEqual(['h100_sxm', 'h100_sxm', 'h100_sxm']);
    const tps = npz.tp!.data as number[];
    expect(tps).toEqual([8, 4, 2]);
    tps.forEach((tp, row) => {
      const cm = json(`${PRE_70B}/as_configmap/tp${tp}/decode_raw_data.json`);
      const cols = x.shape[1]!;
      expect((x.data as number[]).slice(row * cols, (row + 1) * cols)).toEqual(cm.x_kv_usage);
      expect((npz.z_itl!.data as number[]).slice(row * cols, (row + 1) * cols)).toEqual(cm.z_itl);
      expect((npz.max_kv_tokens!.data as number[])[row]).toBe(cm.max_kv_tokens);
    });
  });

  it('reads the 8B prefill table with its metadata', () => {
    const npz = readNpz(`${PRE_8B}/prefill.npz`);
    const meta = json(`${PRE_8B}/as_configmap/tp1/meta.json`);
    expect(npz.prefill_isl!.shape).toEqual([1, 17]);
    expect(npz.framework_version!.data).toEqual([meta.framework_version]);
    expect(npz.block_size!.data).toEqual([meta.block_size]);
    expect(npz.prefill_ttft!.data).toEqual(json(`${PRE_8B}/as_configmap/tp1/prefill_raw_data.json`).prefill_ttft);
  });
});

describe('writeNpz', () => {
  it('writes STORED entries like np.savez, readable back with shapes (n,), (1,) and 2-D', () => {
    const path = join(tmp(), 'raw_data.npz');
    writeNpz(path, {
      x_kv_usage: { dtype: '<f8', data: [0.25, 0.5, 1e-300, 123456.789] },
      max_kv_tokens: { dtype: '<i8', data: [945029] },
      grid: { dtype: '<f8', data: [1, 2, 3, 4, 5, 6], shape: [2, 3] },
      big: { dtype: '<i8', data: [Number.MAX_SAFE_INTEGER, -7] },
    });
    const zip = readFileSync(path);
    // STORED: the .npy payload appears verbatim; method field (offset 8 of the local header) is 0.
    expect(zip.readUInt16LE(8)).toBe(0);
    expect(zip.includes(Buffer.from("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }"))).toBe(true);
    const back = readNpz(path);
    expect(back.x_kv_usage).toEqual({ dtype: '<f8', shape: [4], data: [0.25, 0.5, 1e-300, 123456.789] });
    expect(back.max_kv_tokens).toEqual({ dtype: '<i8', shape: [1], data: [945029] });
    expect(back.grid).toEqual({ dtype: '<f8', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] });
    expect(back.big!.data).toEqual([Number.MAX_SAFE_INTEGER, -7]);
  });

  it('pads the .npy header to a 64-byte boundary ending in a newline, as numpy does', () => {
    const zip = encodeNpz({ a: { dtype: '<f8', data: [1] } });
    const npy = zip.subarray(30 + 'a.npy'.length);
    const headerLen = npy.readUInt16LE(8);
    expect((10 + headerLen) % 64).toBe(0);
    expect(npy[10 + headerLen - 1]).toBe(0x0a);
  });

  it('round-trips any finite doubles and safe integers, STORED or DEFLATE', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 0, maxLength: 40 }),
        fc.array(fc.maxSafeInteger(), { minLength: 1, maxLength: 10 }),
        fc.boolean(),
        (doubles, ints, compress) => {
          const zip = encodeNpz({ d: { dtype: '<f8', data: doubles }, i: { dtype: '<i8', data: ints } }, { compress });
          const back = parseNpz(zip, 'mem.npz');
          expect(back.d!.data).toEqual(doubles);
          expect(back.i!.data).toEqual(ints);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('DEFLATE entries inflate to the same bytes as STORED ones', () => {
    const arrays = { v: { dtype: '<f8' as const, data: [3.5, 2.25, 0] } };
    const stored = encodeNpz(arrays);
    const deflated = encodeNpz(arrays, { compress: true });
    expect(deflated.readUInt16LE(8)).toBe(8);
    const nameLen = 'v.npy'.length;
    const storedNpy = stored.subarray(30 + nameLen, 30 + nameLen + stored.readUInt32LE(18));
    const inflated = inflateRawSync(deflated.subarray(30 + nameLen, 30 + nameLen + deflated.readUInt32LE(18)));
    expect(inflated.equals(storedNpy)).toBe(true);
  });

  it('refuses a shape that does not match the data', () => {
    expect(() => encodeNpz({ a: { dtype: '<f8', data: [1, 2, 3], shape: [2, 2] } })).toThrow(/shape \(2, 2\) holds 4 values but data has 3/);
  });
});

describe('bad npz input', () => {
  it('names the file when it is not a ZIP', () => {
    const path = join(tmp(), 'raw_data.npz');
    writeFileSync(path, 'not a zip at all, just text that is long enough');
    expect(() => readNpz(path)).toThrow(InputError);
    expect(() => readNpz(path)).toThrow(`${path}: not a ZIP/npz archive`);
  });

  it('names the entry when a member is not a .npy array', () => {
    const zip = encodeNpz({ a: { dtype: '<f8', data: [1, 2] } });
    const magicAt = zip.indexOf(Buffer.from('NUMPY')) - 1;
    zip[magicAt] = 0x00;
    expect(() => parseNpz(zip, 'x.npz')).toThrow('x.npz/a.npy: not a .npy array');
  });

  it('rejects an unsupported dtype with the supported list', () => {
    const zip = encodeNpz({ a: { dtype: '<f8', data: [1, 2] } });
    const at = zip.indexOf(Buffer.from("'<f8'"));
    zip.write("'>f8'", at, 'latin1');
    expect(() => parseNpz(zip, 'x.npz')).toThrow("unsupported dtype '>f8'; supported: <f8, <f4, <i8, <i4, <U*.");
  });

  it('a flipped data byte fails the CRC-32 check instead of reading as a plausible number', () => {
    const zip = encodeNpz({ a: { dtype: '<f8', data: [1, 2] } });
    const dataAt = zip.indexOf(Buffer.from('NUMPY')) - 1 + 128;
    zip[dataAt + 3] ^= 0x40;
    expect(() => parseNpz(zip, 'x.npz')).toThrow("x.npz: entry 'a.npy' fails its CRC-32 check");
  });

  it('a shape too large for profile data is refused before any value is read', () => {
    const zip = encodeNpz({ a: { dtype: '<f8', data: [1, 2] } });
    const at = zip.indexOf(Buffer.from('(2,)'));
    zip.write('(9,)', at, 'latin1');
    expect(() => parseNpz(zip, 'x.npz')).toThrow('x.npz/a.npy: truncated data: shape (9) of <f8 needs 72 bytes, found 16.');
    const big = encodeNpz({ a: { dtype: '<f8', data: [1, 2] } });
    big.write("'shape': (5000000,),", big.indexOf(Buffer.from("'shape': (2,),")), 'latin1');
    expect(() => parseNpz(big, 'x.npz')).toThrow('declares 5000000 values, more than the 4194304 a profile array may hold');
  });

  it('a deflate entry that inflates past 64 MiB stops there (a compression bomb)', () => {
    const zip = encodeNpz({ a: { dtype: '<f8', data: Array.from({ length: 9 * 1024 * 1024 }, () => 0) } }, { compress: true });
    expect(zip.length).toBeLessThan(1024 * 1024);
    expect(() => parseNpz(zip, 'bomb.npz')).toThrow(/bomb\.npz: entry 'a\.npy' (declares \d+ bytes, over|inflates to more than) the? ?67108864/);
  });

  it('an entry name with control characters is escaped, so the message stays one line (found by the fuzz suite)', () => {
    const zip = encodeNpz({ ab: { dtype: '<f8', data: [1, 2] } });
    // Both copies of the name (local header and central directory) become "a\n".
    for (let at = zip.indexOf('ab.npy'); at >= 0; at = zip.indexOf('ab.npy', at + 1)) zip[at + 1] = 0x0a;
    zip[0] = 0x00; // break the local header so the entry name is reported
    let message = '';
    try {
      parseNpz(zip, 'x.npz');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe("x.npz: corrupt local header for entry 'a\\n.npy'.");
  });

  it('reports a missing file as InputError', () => {
    expect(() => readNpz('/nonexistent/raw_data.npz')).toThrow('/nonexistent/raw_data.npz: cannot read the npz file (ENOENT)');
  });
});
