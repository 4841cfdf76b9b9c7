// The loops that dominate building the decode grid (the gradient fit's Gauss-Seidel sweeps, the
// triangles' control nets, the pass that locates and evaluates every grid cell, and the
// nearest-point fill outside the hull), as a small WebAssembly module.
//
// Why: the grid is built once, at start-up, so these loops run cold. As ordinary JavaScript they
// spend most of their time in the interpreter and the JIT compiler; as asm.js, V8 compiles them
// with its optimising compiler before the first iteration (about 10 ms of a cold build). A
// WebAssembly module of this size compiles with V8's baseline compiler in well under a
// millisecond and still runs at native speed. Its source is wasm-kernels-source.ts: each kernel
// written as nested expressions (f64/i32 arithmetic, loads and stores into one imported memory,
// structured loops) that a small emitter there turns into the binary format; the bytes are
// embedded in wasm-kernels-module.ts (emitting them at start-up would cost more than the rest of
// the build), and a test checks they are what the source emits. (V8 still moves the hottest
// kernels to its optimising compiler while they run, on a background thread.)
// WebAssembly's f64 arithmetic is IEEE 754 with the same rounding as JavaScript's, and the
// kernels compute operation for operation what scipy's Clough-Tocher code computes (see
// clough-tocher.ts), so every value is bit for bit what a plain loop gives
// (test/profile-data/interpolation.test.ts compares against one).

import { KERNEL_MODULE_BASE64 } from './wasm-kernels-module.js';

/** The kernels of one heap (see wasmKernels). */
export interface GridKernels {
  /**
   * Gauss-Seidel sweeps for the vertex gradients (gx, gy, updated in place from their values);
   * stops when a sweep changes no gradient by `tol` relative, after at most `maxSweeps`. Edges of
   * vertex i are start[i] .. start[i + 1] - 1; returns the sweeps made.
   */
  gaussSeidel(n: number, maxSweeps: number, tol: number, start: number, to: number, ex: number, ey: number, len3: number, q00: number, q01: number, q11: number, det: number, isVertex: number, values: number, gx: number, gy: number): number;
  /**
   * The Clough-Tocher control net of each triangle t (vertices tri[3t .. 3t + 2]) from the point
   * values, the vertex gradients (gx, gy) and the edge parameters gammas[3t .. 3t + 2], as
   * nets[NET_SIZE * t ..]: the ten Bezier ordinates of the micro-triangle facing vertex 0, then
   * vertex 1, then vertex 2. scratch: 256 doubles of working space.
   */
  controlNets(nTri: number, tri: number, xs: number, ys: number, values: number, gx: number, gy: number, gammas: number, scratch: number, nets: number): void;
  /**
   * For each triangle t in index order, each still unclaimed cell of its candidate box
   * (box[4t .. 4t + 3] = ixStart, ixEnd, iyStart, iyEnd) with okX[ix] and okY[iy] whose
   * barycentric coordinates are all >= negEps is claimed (claimed[cell] = 1) and evaluated:
   * out[f * outStride + cell] for each field f from its control nets (nets[f * netStride + 30t ..]).
   */
  claimGrid(nTri: number, nx: number, nFields: number, geometry: number, box: number, gx: number, gy: number, okX: number, okY: number, nets: number, netStride: number, out: number, outStride: number, claimed: number, col0: number, col1: number, negEps: number): void;
  /**
   * Every cell of the grid gx x gy where a field (out[f * outStride + cell]) is NaN takes, in
   * each NaN field, that field's value (values[f * n + i]) at the point i nearest the cell:
   * Euclidean in raw units over the points (px, py), the highest index among ties. dyy (n doubles)
   * and cand (n i32) are working space.
   */
  fillNearest(nx: number, ny: number, gx: number, gy: number, n: number, px: number, py: number, nFields: number, values: number, out: number, outStride: number, dyy: number, cand: number): void;
}

/**
 * Fill the cells outside the hull (NaN) of `fields`, each a grid over gx x gy of the values at the
 * points (xs, ys), with the value of the nearest point (see GridKernels.fillNearest), in place.
 */
export function fillNearestPoint(gx: readonly number[], gy: readonly number[], xs: readonly number[], ys: readonly number[], fields: ReadonlyArray<{ grid: Float64Array; values: readonly number[] }>): void {
  const n = xs.length;
  const cells = gx.length * gy.length;
  if (cells === 0) return;
  const { f64, at, kernels } = new KernelHeap().f64('gx', gx.length).f64('gy', gy.length).f64('xs', n).f64('ys', n).f64('values', fields.length * n).f64('out', fields.length * cells).f64('dyy', n).i32('cand', n).build();
  f64.set(gx, at.gx);
  f64.set(gy, at.gy);
  f64.set(xs, at.xs);
  f64.set(ys, at.ys);
  for (let f = 0; f < fields.length; f++) {
    f64.set(fields[f]!.values, at.values! + f * n);
    f64.set(fields[f]!.grid, at.out! + f * cells);
  }
  kernels.fillNearest(gx.length, gy.length, at.gx!, at.gy!, n, at.xs!, at.ys!, fields.length, at.values!, at.out!, cells, at.dyy!, at.cand!);
  for (let f = 0; f < fields.length; f++) fields[f]!.grid.set(f64.subarray(at.out! + f * cells, at.out! + (f + 1) * cells));
}

/** The part of the WebAssembly API used here (the project's TypeScript libs carry no such types). */
declare namespace WebAssembly {
  class Memory {
    constructor(descriptor: { initial: number });
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports: object);
    readonly exports: object;
  }
}

/** Ordinates per triangle's control net (three micro-triangles of ten). */
export const NET_SIZE = 30;

const PAGE_BYTES = 65536;
/** Bytes per element of the f64, i32 and u8 regions. */
const WIDTHS = [8, 4, 1] as const;

/**
 * The process's one kernel instance and its memory, made on first use and grown as needed: every
 * build lays out its regions from the start of the memory afresh (the kernels run synchronously,
 * so builds never overlap), which saves allocating a WebAssembly memory per build.
 */
let shared: { memory: WebAssembly.Memory; kernels: GridKernels; f64: Float64Array; i32: Int32Array; u8: Uint8Array } | undefined;

function sharedHeap(bytes: number): NonNullable<typeof shared> {
  const pages = Math.max(1, Math.ceil(bytes / PAGE_BYTES));
  if (!shared) {
    const memory = new WebAssembly.Memory({ initial: pages });
    const module = new WebAssembly.Module(Buffer.from(KERNEL_MODULE_BASE64, 'base64'));
    const kernels = new WebAssembly.Instance(module, { k: { m: memory } }).exports as unknown as GridKernels;
    shared = { memory, kernels, f64: new Float64Array(memory.buffer), i32: new Int32Array(memory.buffer), u8: new Uint8Array(memory.buffer) };
  } else if (shared.memory.buffer.byteLength < pages * PAGE_BYTES) {
    const { memory } = shared;
    memory.grow(pages - memory.buffer.byteLength / PAGE_BYTES);
    Object.assign(shared, { f64: new Float64Array(memory.buffer), i32: new Int32Array(memory.buffer), u8: new Uint8Array(memory.buffer) });
  }
  return shared;
}

/**
 * Typed regions of the kernels' memory, for their arguments. Declare every region, then build():
 * each region's start is an index into the view of its type. Regions start out holding whatever
 * the previous build left: write every one before a kernel reads it.
 */
export class KernelHeap {
  /** Per element width (8, 4, 1 bytes): the regions' names and lengths, in declaration order. */
  private readonly names: string[][] = [[], [], []];
  private readonly lengths: number[][] = [[], [], []];

  private region(kind: number, name: string, length: number): this {
    this.names[kind]!.push(name);
    this.lengths[kind]!.push(length);
    return this;
  }

  f64(name: string, length: number): this {
    return this.region(0, name, length);
  }

  i32(name: string, length: number): this {
    return this.region(1, name, length);
  }

  u8(name: string, length: number): this {
    return this.region(2, name, length);
  }

  build(): { kernels: GridKernels; f64: Float64Array; i32: Int32Array; u8: Uint8Array; at: Record<string, number> } {
    const at: Record<string, number> = {};
    let bytes = 0;
    for (let kind = 0; kind < 3; kind++) {
      const width = WIDTHS[kind]!;
      const names = this.names[kind]!, lengths = this.lengths[kind]!;
      for (let r = 0; r < names.length; r++) {
        at[names[r]!] = bytes / width;
        bytes += lengths[r]! * width;
      }
      bytes = Math.ceil(bytes / 8) * 8;
    }
    const { kernels, f64, i32, u8 } = sharedHeap(bytes);
    return { kernels, f64, i32, u8, at };
  }
}
