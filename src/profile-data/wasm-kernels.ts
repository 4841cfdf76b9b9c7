// The loops that dominate building the decode grid (the gradient fit's Gauss-Seidel sweeps, the
// pass that locates and evaluates every grid cell, and the nearest-point fill outside the hull),
// as a small WebAssembly module.
//
// Why: the grid is built once, at start-up, so these loops run cold. As ordinary JavaScript they
// spend most of their time in the interpreter and the JIT compiler; as asm.js, V8 compiles them
// with its optimising compiler before the first iteration (about 10 ms of a cold build). A
// WebAssembly module of this size compiles with V8's baseline compiler in well under a
// millisecond and still runs at native speed. Its source is wasm-kernels-source.ts: each kernel
// written as nested expressions (f64/i32 arithmetic, loads and stores into one imported memory,
// structured loops) that a small emitter there turns into the binary format; the bytes are
// embedded in wasm-kernels-module.ts (emitting them at start-up would cost more than the rest of
// the build), and a test checks they are what the source emits.
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
  gaussSeidel(n: number, maxSweeps: number, tol: number, start: number, to: number, ex: number, ey: number, len3: number, q00: number, q01: number, q11: number, det: number, isVertex: number, rise6: number, gx: number, gy: number): number;
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
   * Euclidean in raw units over the points (px, py), the highest index among ties.
   */
  fillNearest(nx: number, ny: number, gx: number, gy: number, n: number, px: number, py: number, nFields: number, values: number, out: number, outStride: number): void;
}

/**
 * Fill the cells outside the hull (NaN) of `fields`, each a grid over gx x gy of the values at the
 * points (xs, ys), with the value of the nearest point (see GridKernels.fillNearest), in place.
 */
export function fillNearestPoint(gx: readonly number[], gy: readonly number[], xs: readonly number[], ys: readonly number[], fields: ReadonlyArray<{ grid: Float64Array; values: readonly number[] }>): void {
  const n = xs.length;
  const cells = gx.length * gy.length;
  const heap = new KernelHeap().f64('gx', gx.length).f64('gy', gy.length).f64('xs', n).f64('ys', n).f64('values', fields.length * n).f64('out', fields.length * cells).build();
  const { f64, at } = heap;
  f64.set(gx, at.gx);
  f64.set(gy, at.gy);
  f64.set(xs, at.xs);
  f64.set(ys, at.ys);
  for (let f = 0; f < fields.length; f++) {
    f64.set(fields[f]!.values, at.values! + f * n);
    f64.set(fields[f]!.grid, at.out! + f * cells);
  }
  wasmKernels(heap.memory).fillNearest(gx.length, gy.length, at.gx!, at.gy!, n, at.xs!, at.ys!, fields.length, at.values!, at.out!, cells);
  for (let f = 0; f < fields.length; f++) fields[f]!.grid.set(f64.subarray(at.out! + f * cells, at.out! + (f + 1) * cells));
}

/** The part of the WebAssembly API used here (the project's TypeScript libs carry no such types). */
declare namespace WebAssembly {
  class Memory {
    constructor(descriptor: { initial: number });
    readonly buffer: ArrayBuffer;
  }
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports: object);
    readonly exports: object;
  }
}

let compiled: WebAssembly.Module | undefined;

/** The kernels over `memory` (compiled once per process; an instance per heap is cheap). */
export function wasmKernels(memory: WebAssembly.Memory): GridKernels {
  compiled ??= new WebAssembly.Module(Buffer.from(KERNEL_MODULE_BASE64, 'base64'));
  return new WebAssembly.Instance(compiled, { k: { m: memory } }).exports as unknown as GridKernels;
}

/**
 * Typed regions of one WebAssembly memory, for the kernels' arguments. Declare every region, then
 * build(); each region's start is an index into the view of its type.
 */
export class KernelHeap {
  private readonly sizes = { f64: new Map<string, number>(), i32: new Map<string, number>(), u8: new Map<string, number>() };

  f64(name: string, length: number): this {
    this.sizes.f64.set(name, length);
    return this;
  }

  i32(name: string, length: number): this {
    this.sizes.i32.set(name, length);
    return this;
  }

  u8(name: string, length: number): this {
    this.sizes.u8.set(name, length);
    return this;
  }

  build(): { memory: WebAssembly.Memory; f64: Float64Array; i32: Int32Array; u8: Uint8Array; at: Record<string, number> } {
    const at: Record<string, number> = {};
    let bytes = 0;
    for (const [kind, width] of [['f64', 8], ['i32', 4], ['u8', 1]] as const) {
      for (const [name, length] of this.sizes[kind]) {
        at[name] = bytes / width;
        bytes += length * width;
      }
      bytes = Math.ceil(bytes / 8) * 8;
    }
    const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(bytes / PAGE_BYTES)) });
    const buffer = memory.buffer;
    return { memory, f64: new Float64Array(buffer), i32: new Int32Array(buffer), u8: new Uint8Array(buffer), at };
  }
}

const PAGE_BYTES = 65536;
