// Reader and writer for NumPy `.npz` archives (a ZIP of `.npy` files), without Python.
//
// Read: STORED and DEFLATE entries (np.savez and np.savez_compressed), ZIP64 extra fields,
// `.npy` format 1.0/2.0/3.0, little-endian dtypes <f8 <f4 <i8 <i4 <U*, C order, any shape.
// Write: like np.savez (STORED entries, `.npy` 1.0), for <f8 and <i8 arrays.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { InputError } from '../util/errors.js';

export type NpyDtype = '<f8' | '<f4' | '<i8' | '<i4' | `<U${number}`;

/** One array from an `.npy` file, flattened in C order. Strings for `<U*`, numbers otherwise. */
export interface NpyArray {
  dtype: string;
  shape: number[];
  data: number[] | string[];
}

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

/**
 * Limits that keep a hostile or corrupt archive from exhausting memory. Profile arrays hold
 * hundreds to thousands of points; these are three orders of magnitude above that.
 */
export const NPZ_LIMITS = {
  /** Size of the .npz file itself. */
  fileBytes: 256 * 1024 * 1024,
  /** One entry after decompression (a deflate bomb stops here). */
  entryBytes: 64 * 1024 * 1024,
  /** Values in one array. */
  elements: 4 * 1024 * 1024,
  /** The .npy header (numpy's own reader stops at 10,000 bytes). */
  headerBytes: 64 * 1024,
};

const DTYPE_SIZE: Record<string, number> = { '<f8': 8, '|f8': 8, '<f4': 4, '<i8': 8, '<i4': 4 };

function fail(file: string, what: string): never {
  throw new InputError(`${file}: ${what}`);
}

/** Parse one `.npy` payload. `where` names it in errors (e.g. "raw_data.npz/x_kv_usage.npy"). */
export function parseNpy(buf: Buffer, where: string): NpyArray {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(NPY_MAGIC)) {
    fail(where, 'not a .npy array (bad magic bytes); expected a file written by numpy.save/savez.');
  }
  const major = buf[6];
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) fail(where, 'truncated .npy header.');
    headerLen = buf.readUInt32LE(8);
    headerStart = 12;
  } else {
    fail(where, `unsupported .npy format version ${major}.${buf[7]}; expected 1.0, 2.0 or 3.0.`);
  }
  if (headerLen > NPZ_LIMITS.headerBytes || headerStart + headerLen > buf.length) {
    fail(where, `corrupt .npy header: it declares ${headerLen} bytes${headerStart + headerLen > buf.length ? `, past the end of the ${buf.length}-byte array` : `, over the ${NPZ_LIMITS.headerBytes}-byte limit`}.`);
  }
  const header = buf.subarray(headerStart, headerStart + headerLen).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    fail(where, `cannot parse the .npy header ${JSON.stringify(header.trim())}; expected descr, fortran_order and shape.`);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (shape.some((n) => !Number.isSafeInteger(n) || n < 0)) fail(where, `bad shape (${shapeText}) in the .npy header.`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count > NPZ_LIMITS.elements) {
    fail(where, `shape (${shape.join(', ')}) declares ${count} values, more than the ${NPZ_LIMITS.elements} a profile array may hold.`);
  }
  const body = buf.subarray(headerStart + headerLen);
  const uni = /^[<|]U(\d+)$/.exec(descr);
  const itemSize = DTYPE_SIZE[descr] ?? (uni ? Number(uni[1]) * 4 : undefined);
  if (itemSize === 0) fail(where, `dtype '${descr}' has zero width; profile arrays are numbers (or non-empty strings).`);
  // Checked before any value is read: element count x item size must fit in what the entry holds.
  if (itemSize !== undefined && count * itemSize > body.length) {
    fail(where, `truncated data: shape (${shape.join(', ')}) of ${descr} needs ${count * itemSize} bytes, found ${body.length}.`);
  }
  // A Fortran-ordered array with more than one non-trivial axis would need transposing; the
  // profiler never writes one, so refuse instead of returning a silently permuted array.
  if (fortran === 'True' && shape.filter((n) => n > 1).length > 1) {
    fail(where, 'Fortran-ordered multi-dimensional arrays are not supported; save it in C order (np.ascontiguousarray).');
  }
  const data: number[] = [];
  switch (descr) {
    case '<f8':
    case '|f8':
      for (let i = 0; i < count; i++) data.push(body.readDoubleLE(i * 8));
      return { dtype: '<f8', shape, data };
    case '<f4':
      for (let i = 0; i < count; i++) data.push(body.readFloatLE(i * 4));
      return { dtype: descr, shape, data };
    case '<i8':
      for (let i = 0; i < count; i++) {
        const v = body.readBigInt64LE(i * 8);
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
          fail(where, `int64 value ${v} at index ${i} does not fit a double exactly.`);
        }
        data.push(Number(v));
      }
      return { dtype: descr, shape, data };
    case '<i4':
      for (let i = 0; i < count; i++) data.push(body.readInt32LE(i * 4));
      return { dtype: descr, shape, data };
    default: {
      if (uni) {
        // numpy unicode: fixed-width UTF-32LE code points, NUL-padded.
        const width = Number(uni[1]);
        const strings: string[] = [];
        for (let i = 0; i < count; i++) {
          let s = '';
          for (let c = 0; c < width; c++) {
            const cp = body.readUInt32LE((i * width + c) * 4);
            if (cp === 0) break;
            if (cp > 0x10ffff) fail(where, `string ${i} holds ${cp}, which is not a Unicode code point.`);
            s += String.fromCodePoint(cp);
          }
          strings.push(s);
        }
        return { dtype: `<U${width}`, shape, data: strings };
      }
      fail(where, `unsupported dtype '${descr}'; supported: <f8, <f4, <i8, <i4, <U*.`);
    }
  }
}

/** A name from the file, safe for a one-line message: escaped controls, at most 120 characters. */
function printable(name: string): string {
  const escaped = JSON.stringify(name).slice(1, -1);
  return escaped.length > 120 ? `${escaped.slice(0, 117)}...` : escaped;
}

interface ZipEntry {
  name: string;
  crc: number;
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

/** Central-directory listing of a ZIP file (handles ZIP64 size/offset fields). */
function zipEntries(zip: Buffer, file: string): ZipEntry[] {
  // End of central directory: last 0x06054b50 within the final 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail(file, 'not a ZIP/npz archive (no end-of-central-directory record).');
  let entryCount = zip.readUInt16LE(eocd + 10);
  let cdOffset = zip.readUInt32LE(eocd + 16);
  // ZIP64 end-of-central-directory locator sits just before the classic record.
  if ((entryCount === 0xffff || cdOffset === 0xffffffff) && eocd >= 20 && zip.readUInt32LE(eocd - 20) === 0x07064b50) {
    const z64 = Number(zip.readBigUInt64LE(eocd - 20 + 8));
    entryCount = Number(zip.readBigUInt64LE(z64 + 32));
    cdOffset = Number(zip.readBigUInt64LE(z64 + 48));
  }
  const entries: ZipEntry[] = [];
  let p = cdOffset;
  for (let n = 0; n < entryCount; n++) {
    if (p + 46 > zip.length || zip.readUInt32LE(p) !== 0x02014b50) fail(file, 'corrupt ZIP central directory.');
    const method = zip.readUInt16LE(p + 10);
    const crc = zip.readUInt32LE(p + 16);
    let compressedSize = zip.readUInt32LE(p + 20);
    let uncompressedSize = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    let localHeaderOffset = zip.readUInt32LE(p + 42);
    // Names come from the file: control characters are escaped so a message stays one line.
    const name = printable(zip.subarray(p + 46, p + 46 + nameLen).toString('utf8'));
    // ZIP64 extended information: present values replace the 0xffffffff placeholders, in order.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = zip.readUInt16LE(e);
      const size = zip.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (uncompressedSize === 0xffffffff) {
          uncompressedSize = Number(zip.readBigUInt64LE(q));
          q += 8;
        }
        if (compressedSize === 0xffffffff) {
          compressedSize = Number(zip.readBigUInt64LE(q));
          q += 8;
        }
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = Number(zip.readBigUInt64LE(q));
      }
      e += 4 + size;
    }
    entries.push({ name, crc, method, compressedSize, uncompressedSize, localHeaderOffset });
    p = extraEnd + commentLen;
  }
  return entries;
}

/** Read every array of an `.npz` file, keyed by name without the `.npy` suffix. */
export function readNpz(path: string): Record<string, NpyArray> {
  let zip: Buffer;
  try {
    const size = statSync(path).size;
    if (size > NPZ_LIMITS.fileBytes) {
      throw new InputError(`${path}: ${size} bytes, over the ${NPZ_LIMITS.fileBytes}-byte limit for profile data; this is not a profiler output file.`);
    }
    zip = readFileSync(path);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${path}: cannot read the npz file (${(err as NodeJS.ErrnoException).code ?? String(err)}).`);
  }
  return parseNpz(zip, path);
}

/** Parse an in-memory `.npz` archive; `file` names it in errors. */
export function parseNpz(zip: Buffer, file: string): Record<string, NpyArray> {
  try {
    return parseNpzUnchecked(zip, file);
  } catch (err) {
    if (err instanceof InputError) throw err;
    // An offset or length that points outside the buffer (a corrupt or truncated archive).
    throw new InputError(`${file}: corrupt npz archive (${(err as Error).message}); expected a file written by numpy.savez.`);
  }
}

function parseNpzUnchecked(zip: Buffer, file: string): Record<string, NpyArray> {
  const out: Record<string, NpyArray> = Object.create(null);
  for (const entry of zipEntries(zip, file)) {
    const lh = entry.localHeaderOffset;
    if (lh + 30 > zip.length || zip.readUInt32LE(lh) !== 0x04034b50) fail(file, `corrupt local header for entry '${entry.name}'.`);
    const dataStart = lh + 30 + zip.readUInt16LE(lh + 26) + zip.readUInt16LE(lh + 28);
    const raw = zip.subarray(dataStart, dataStart + entry.compressedSize);
    let payload: Buffer;
    const limit = NPZ_LIMITS.entryBytes;
    if (entry.uncompressedSize > limit) fail(file, `entry '${entry.name}' declares ${entry.uncompressedSize} bytes, over the ${limit}-byte limit for one profile array.`);
    if (entry.method === 0) payload = raw;
    else if (entry.method === 8) {
      try {
        // The declared size can lie: the inflater itself stops at the limit.
        payload = inflateRawSync(raw, { maxOutputLength: limit });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ERR_BUFFER_TOO_LARGE') fail(file, `entry '${entry.name}' inflates to more than ${limit} bytes (a compression bomb or not profile data).`);
        fail(file, `entry '${entry.name}' does not inflate (${code ?? (err as Error).message}).`);
      }
    } else fail(file, `entry '${entry.name}' uses ZIP compression method ${entry.method}; only STORED (0) and DEFLATE (8) are supported.`);
    const key = entry.name.endsWith('.npy') ? entry.name.slice(0, -4) : entry.name;
    out[key] = parseNpy(payload, `${file}/${entry.name}`);
    // An entry that parses can still hold a flipped byte, which would read as a wrong but plausible number.
    if ((crc32(payload) >>> 0) !== entry.crc) fail(file, `entry '${entry.name}' fails its CRC-32 check (the file is corrupt); regenerate or copy it again.`);
  }
  return out;
}

export interface NpzWriteArray {
  dtype: '<f8' | '<i8';
  data: number[];
  /** Defaults to [data.length]. */
  shape?: number[];
}

/** Encode one array as `.npy` format 1.0 (header padded to a multiple of 64 bytes, like numpy). */
export function encodeNpy(arr: NpzWriteArray, name = 'array'): Buffer {
  const shape = arr.shape ?? [arr.data.length];
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== arr.data.length) {
    throw new Error(`encodeNpy(${name}): shape (${shape.join(', ')}) holds ${count} values but data has ${arr.data.length}.`);
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${arr.dtype}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  NPY_MAGIC.copy(head, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(count * 8);
  arr.data.forEach((v, i) => {
    if (arr.dtype === '<f8') body.writeDoubleLE(v, i * 8);
    else {
      if (!Number.isSafeInteger(v)) throw new Error(`encodeNpy(${name}): '<i8' needs integers, got ${v} at index ${i}.`);
      body.writeBigInt64LE(BigInt(v), i * 8);
    }
  });
  return Buffer.concat([head, Buffer.from(header, 'latin1'), body]);
}

/** Build an `.npz` archive in memory. STORED entries (like np.savez), or DEFLATE when `compress`. */
export function encodeNpz(arrays: Record<string, NpzWriteArray>, opts: { compress?: boolean } = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  // 1980-01-01 00:00 in DOS format, as Python's zipfile writes for a fixed date_time.
  const dosTime = 0;
  const dosDate = (0 << 9) | (1 << 5) | 1;
  for (const [key, arr] of Object.entries(arrays)) {
    const name = Buffer.from(`${key}.npy`, 'utf8');
    const npy = encodeNpy(arr, key);
    const method = opts.compress ? 8 : 0;
    const stored = opts.compress ? deflateRawSync(npy) : npy;
    const crc = crc32(npy) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(npy.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4); // version made by
    central.writeUInt16LE(20, 6); // version needed
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(dosTime, 12);
    central.writeUInt16LE(dosDate, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(stored.length, 20);
    central.writeUInt32LE(npy.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(0o600 << 16, 38); // external attributes: rw-------
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, stored);
    centrals.push(central, name);
    offset += local.length + name.length + stored.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  const n = Object.keys(arrays).length;
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(n, 8);
  eocd.writeUInt16LE(n, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/** Write an `.npz` file like `np.savez` (STORED entries). The parent directory must exist. */
export function writeNpz(path: string, arrays: Record<string, NpzWriteArray>, opts: { compress?: boolean } = {}): void {
  writeFileSync(path, encodeNpz(arrays, opts));
}
